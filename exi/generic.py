"""Generic types on the fast path: the specialised codec hands them to the general coder's interpreter.

Only xmldsig has *generic* types in the ISO 15118 schema sets (mixed content, wildcards, repeated groups:
``KeyInfo``, ``Transform``, ``X509Data``...): their objects keep the children in order in ``content``. The
specialised encoders and decoders of a codec module call :func:`enc_generic` / :func:`dec_generic` for them, which
run the table interpreter of :mod:`exi.interp_encode` / :mod:`exi.interp_decode` without a string table: what needs
qualified names (wildcard content, ``xsi:type``) or a deviation sends the whole message to the general coder
(:class:`~exi.runtime.SlowPath` when encoding, an escape :class:`~exi.errors.DecodeError` when decoding).
"""

from __future__ import annotations

from typing import Any

from exi.interp_decode import Decoder
from exi.interp_encode import Encoder
from exi.streamio import Reader, Writer
from exi.tables import SchemaTables

__all__ = ["RUN_BITS", "dec_generic", "enc_generic"]

RUN_BITS = 256
"""Bits the interpreter reads between two window checkpoints (every read checks: an event code, a value's unchecked
part, EE)."""


def enc_generic(acc: int, n: int, obj: Any, schema: SchemaTables, index: int) -> tuple[int, int]:
    """Encode an object of generic type ``index`` onto ``(acc, n)``."""
    w = Writer(acc, n, None)
    Encoder(schema, w).complex(index, obj)
    return w.finish()


def dec_generic(D: int, T: int, p: int, L: int, R: bytes, schema: SchemaTables, index: int) -> tuple[Any, int]:
    """Decode an object of generic type ``index`` at bit ``p``; returns it and the new position."""
    r = Reader(D, T, p, L, R, None)
    value = Decoder(schema, r, fast=True).complex(index, index)
    return value, r.p
