"""A generic, schema-informed EXI 1.0 codec (W3C EXI 1.0 Second Edition), pure Python.

It knows nothing about ISO 15118: it reads XSDs (:mod:`exi.xsd`), compiles them into EXI grammars
(:mod:`exi.grammar`), and generates Python bindings and specialised encoders/decoders from those
grammars (:mod:`exi.codegen`).
"""

from __future__ import annotations

from exi.errors import DecodeError, EncodeError, ExiError, SchemaError

__all__ = ["DecodeError", "EncodeError", "ExiError", "SchemaError"]
