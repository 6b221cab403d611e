"""A table-driven coder for *generic* types: mixed content, wildcards and repeated model groups.

Only xmldsig uses such types in the ISO 15118 schema sets (``KeyInfo``, ``Transform``, ``X509Data``...),
and never on a hot path, so they are interpreted from tables that :mod:`exi.codegen_codec` emits
instead of being compiled into straight-line code. Their objects keep attributes as fields and the
children in order in ``content``: ``str`` items are character data (mixed content), ``(local name,
value)`` items are child elements. Wildcard (``xs:any``) content is reported as unsupported: the ISO
15118 profile builds no grammars for undeclared elements.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exi import runtime as rt
from exi.errors import DecodeError, EncodeError

__all__ = ["RUN_BITS", "GenericTable", "dec_generic", "enc_generic"]

RUN_BITS = 256
"""Bits :func:`dec_generic` reads between two window checkpoints (an event code, a value's unchecked part, EE),
not counting what the decoder of a child element reads before its own first checkpoint."""

# (kind, lo, hi, bits, length, min_length, max_length, enum index, enum values)
DatatypeRow = tuple[str, Any, Any, int, Any, Any, Any, Any, Any]
# (local name, encoder, decoder, datatype row)
MemberRow = tuple[str, Callable[..., Any] | None, Callable[..., Any] | None, DatatypeRow | None]


@dataclass(frozen=True)
class GenericTable:
    """The grammar of one generic type, as emitted into a codec module."""

    states: tuple[tuple[int, tuple[tuple[str, int, int], ...], tuple[int, int]], ...]
    """Per state: (width, productions as (event, position, member), second-level EE (bits, code))."""
    positions: tuple[tuple[str, str | None, tuple[MemberRow, ...], int], ...]
    """Per position: (kind, attribute field name, members, state after it)."""
    content: str = "content"


def _code(table: GenericTable, s: int, event: str, position: int, member: int = 0) -> tuple[int, int] | None:
    width, prods, _ = table.states[s]
    for code, (ev, pos, mem) in enumerate(prods):
        if ev == event and pos == position and mem == member:
            return code, width
    return None


def _enc_value(acc: int, n: int, v: Any, dt: DatatypeRow) -> tuple[int, int]:
    kind, lo, hi, bits, length, min_len, max_len, index, _values = dt
    if kind == "uint":
        rt.check_int(v, lo, hi)
        return rt.w_uint(acc, n, v)
    if kind == "int":
        rt.check_int(v, lo, hi)
        return rt.w_int(acc, n, v)
    if kind == "nbit":
        rt.check_int(v, lo, hi)
        return (acc << bits) | (v - lo), n + bits
    if kind == "boolean":
        return (acc << 1) | rt.w_bool(v), n + 1
    if kind == "enum":
        return (acc << bits) | rt.enum_index(v, index), n + bits
    if length is not None or min_len is not None or max_len is not None:
        rt.check_len(v, length, min_len, max_len)
    return rt.w_str(acc, n, v) if kind == "string" else rt.w_bin(acc, n, v)


def _dec_value(D: int, T: int, p: int, R: bytes, dt: DatatypeRow) -> tuple[Any, int]:
    kind, lo, hi, bits, length, min_len, max_len, _index, values = dt
    if kind in ("uint", "int"):
        v, q = (rt.r_uint if kind == "uint" else rt.r_int)(D, T, p, R)
        rt.check_range(v, lo, hi, p)
        return v, q
    if kind == "nbit":
        return rt.r_nbit_value(D, T, p, lo, hi, bits)
    if kind == "boolean":
        return bool((D >> (T - p - 1)) & 1), p + 1
    if kind == "enum":
        return rt.r_enum(D, T, p, values, bits)
    s, q = (rt.r_str if kind == "string" else rt.r_bin)(D, T, p, R)
    if length is not None or min_len is not None or max_len is not None:
        rt.check_length(s, length, min_len, max_len, p)
    return s, q


def _enc_element(acc: int, n: int, v: Any, member: MemberRow) -> tuple[int, int]:
    _name, enc, _dec, dt = member
    if enc is not None:
        result: tuple[int, int] = enc(acc, n, v)
        return result
    assert dt is not None
    if dt[0] in ("string", "binary") and len(v) == 0:
        return (acc << 4) | 0b1000, n + 4
    acc, n = _enc_value(acc << 1, n + 1, v, dt)
    return acc << 1, n + 1


def _dec_element(D: int, T: int, p: int, L: int, R: bytes, member: MemberRow) -> tuple[Any, int]:
    _name, _enc, dec, dt = member
    if dec is not None:
        result: tuple[Any, int] = dec(D, T, p, L, R)
        return result
    assert dt is not None
    if (D >> (T - p - 1)) & 1:
        if dt[0] not in ("string", "binary") or (D >> (T - p - 4)) & 0b111:
            raise DecodeError("undeclared production in a simple element", bit_offset=p)
        empty: str | bytes = "" if dt[0] == "string" else b""
        if dt[4] is not None or dt[5] is not None:
            rt.check_length(empty, dt[4], dt[5], dt[6], p)
        return empty, p + 4
    v, p = _dec_value(D, T, p + 1, R, dt)
    if p > L:
        D, T, L = rt.window(R, p)
    if (D >> (T - p - 1)) & 1:
        raise DecodeError("expected the end of a simple element (EE)", bit_offset=p)
    return v, p + 1


def enc_generic(acc: int, n: int, obj: Any, table: GenericTable) -> tuple[int, int]:
    """Encode a generic-typed object: attributes from fields, then ``content`` items in order."""
    s = 0
    for index, (kind, fname, members, after) in enumerate(table.positions):
        if kind != "AT":
            continue
        assert fname is not None
        v = getattr(obj, fname)
        if v is None:
            continue
        found = _code(table, s, "AT", index)
        if found is None:
            raise EncodeError(f"attribute {members[0][0]} is not allowed here")
        acc, n = (acc << found[1]) | found[0], n + found[1]
        dt = members[0][3]
        assert dt is not None
        acc, n = _enc_value(acc, n, v, dt)
        s = after
    sp = None
    for item in getattr(obj, table.content):
        if acc >= rt.SPILL_LIMIT:
            acc, sp = rt.spill(acc, n, sp)
        if isinstance(item, str):
            if not item:
                continue
            found = _code(table, s, "CH", -1)
            if found is None:
                raise EncodeError("character data is not allowed here", value=item)
            acc, n = rt.w_str((acc << found[1]) | found[0], n + found[1], item)
            continue
        name, value = item
        width, prods, _ = table.states[s]
        for code, (ev, pos, mem) in enumerate(prods):
            if ev == "SE" and table.positions[pos][2][mem][0] == name:
                acc, n = (acc << width) | code, n + width
                try:
                    acc, n = _enc_element(acc, n, value, table.positions[pos][2][mem])
                except EncodeError as exc:
                    raise exc.within(name) from None
                s = table.positions[pos][3]
                break
        else:
            raise EncodeError(f"element {name} is not allowed here (wildcard content is not supported)")
    if sp is not None:
        acc = rt.unspill(acc, n, sp)
    found = _code(table, s, "EE", -1)
    if found is None:
        raise EncodeError("element content is incomplete (a required child is missing)")
    return (acc << found[1]) | found[0], n + found[1]


def dec_generic(
    D: int, T: int, p: int, L: int, R: bytes, table: GenericTable, cls: Callable[..., Any]
) -> tuple[Any, int]:
    """Decode a generic-typed object (one window checkpoint per event: at most :data:`RUN_BITS` between two)."""
    s = 0
    fields: dict[str, Any] = {}
    content: list[Any] = []
    while True:
        if p > L:
            D, T, L = rt.window(R, p)
        width, prods, _ = table.states[s]
        code = (D >> (T - p - width)) & ((1 << width) - 1)
        if code >= len(prods):
            raise rt.bad_event(code, width, p, f"{len(prods)} declared productions")
        p += width
        event, pos, mem = prods[code]
        if event == "EE":
            break
        if event == "CH":
            text, p = rt.r_str(D, T, p, R)
            content.append(text)
            continue
        if event == "SE*":
            raise DecodeError("wildcard (SE(*)) content is not supported", bit_offset=p - width)
        _kind, fname, members, after = table.positions[pos]
        if event == "AT":
            dt = members[0][3]
            assert fname is not None and dt is not None
            fields[fname], p = _dec_value(D, T, p, R, dt)
        else:
            try:
                value, p = _dec_element(D, T, p, L, R, members[mem])
            except DecodeError as exc:
                raise exc.within(members[mem][0]) from None
            content.append((members[mem][0], value))
        s = after
    fields[table.content] = tuple(content)
    return cls(**fields), p
