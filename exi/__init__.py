"""A generic, schema-informed EXI 1.0 codec (W3C EXI 1.0 Second Edition), pure Python.

It knows nothing about ISO 15118: it reads XSDs (:mod:`exi.xsd`), compiles them into EXI grammars
(:mod:`exi.grammar`), and generates Python bindings and specialised encoders/decoders from those grammars
(:mod:`exi.codegen_codec`), with a general coder for what they hand over (:mod:`exi.interp_decode`,
:mod:`exi.interp_encode`): ``xsi:type`` casts, wildcard and mixed content, and the schema deviations a tolerant
decoder accepts (:mod:`exi.deviations`).
"""

from __future__ import annotations

from exi.deviations import Deviation, DeviationKind
from exi.errors import DecodeError, EncodeError, ExiError, SchemaError
from exi.values import AnyContent, TypeCast, Wild

__all__ = [
    "AnyContent",
    "DecodeError",
    "Deviation",
    "DeviationKind",
    "EncodeError",
    "ExiError",
    "SchemaError",
    "TypeCast",
    "Wild",
]
