"""Generic types on the fast path: a lean loop over the general coder's tables.

Only xmldsig has *generic* types in the ISO 15118 schema sets (mixed content, wildcards, repeated groups:
``KeyInfo``, ``Transform``, ``X509Data``...): their objects keep the children in order in ``content``. The
specialised encoders and decoders of a codec module call :func:`enc_generic` / :func:`dec_generic` for them: one
state machine over :mod:`exi.tables`, children through their own specialised functions. What needs more — wildcard
content, ``xsi:type``, a second-level production — is handed to the general coder (:mod:`exi.interp_encode`,
:mod:`exi.interp_decode`) for the whole message: :class:`~exi.errors.SlowPath` when encoding, an escape
:class:`~exi.errors.DecodeError` when decoding.
"""

from __future__ import annotations

from typing import Any

from exi import runtime as rt
from exi.bitstream import SPILL_LIMIT, spill, unspill, window
from exi.errors import DecodeError, EncodeError, SlowPath
from exi.streamio import check_value
from exi.tables import CONTENT, SchemaTables

__all__ = ["RUN_BITS", "dec_generic", "enc_generic"]

RUN_BITS = 256
"""Bits :func:`dec_generic` reads between two window checkpoints (an event code, a value's unchecked part, EE),
not counting what the decoder of a child element reads before its own first checkpoint."""


def _dec_value(D: int, T: int, p: int, R: bytes, dt: tuple[Any, ...]) -> tuple[Any, int]:
    kind, lo, hi, bits, length, min_len, max_len, _index, values, _lexical = dt
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


def _dec_simple(D: int, T: int, p: int, L: int, R: bytes, dt: tuple[Any, ...]) -> tuple[Any, int]:
    """A simple-typed child: CH, value, EE (or the escape and second-level EE of an empty string/binary)."""
    if (D >> (T - p - 1)) & 1:
        if dt[0] not in ("string", "binary") or (D >> (T - p - 4)) & 0b111:
            raise DecodeError("undeclared production in a simple element", bit_offset=p, escape=True)
        empty: str | bytes = "" if dt[0] == "string" else b""
        if dt[4] is not None or dt[5] is not None:
            rt.check_length(empty, dt[4], dt[5], dt[6], p)
        return empty, p + 4
    v, p = _dec_value(D, T, p + 1, R, dt)
    if p > L:
        D, T, L = window(R, p)
    if (D >> (T - p - 1)) & 1:
        raise DecodeError("expected the end of a simple element (EE)", bit_offset=p, escape=True)
    return v, p + 1


def dec_generic(D: int, T: int, p: int, L: int, R: bytes, schema: SchemaTables, index: int) -> tuple[Any, int]:
    """Decode an object of generic type ``index`` at bit ``p``; returns it and the new position."""
    tables = schema if schema._built else schema.ready()
    t = tables.types[index]
    values: list[Any] = [None] * len(t.fields)
    content: list[Any] = []
    s, last, count = 0, -1, 0
    while True:
        if p > L:
            D, T, L = window(R, p)
        st = t.states[s]
        width, prods = st.width, st.prods
        code = (D >> (T - p - width)) & ((1 << width) - 1)
        if code >= len(prods):
            raise rt.bad_event(code, width, p, f"{len(prods)} declared productions", len(prods))
        p += width
        event, pi, mi = prods[code]
        if event == "EE":
            break
        if pi == -1:  # mixed content: text, then the content grammar
            text, p = rt.r_str(D, T, p, R)
            if text:
                content.append(text)
            s = s if st.kind == CONTENT else t.content
            continue
        if event == "SE*":
            raise DecodeError("wildcard content follows", bit_offset=p - width, escape=True)
        count = count + 1 if pi == last else 1
        last = pi
        pos = t.positions[pi]
        if event == "AT":
            values[pos.fields[0]], p = _dec_value(D, T, p, R, pos.members[0].ref[0])
        else:
            m = pos.members[mi]
            ref = m.ref
            try:
                if ref.__class__ is not int:
                    value, p = _dec_simple(D, T, p, L, R, ref[0])
                elif tables.types[ref].dec is not None:
                    value, p = tables.types[ref].dec(D, T, p, L, R)
                elif tables.types[ref].generic:
                    value, p = dec_generic(D, T, p, L, R, schema, ref)
                else:
                    raise DecodeError("an element of an abstract type", bit_offset=p, escape=True)
            except DecodeError as exc:
                raise exc.within(m.name[1]) from None
            content.append((m.name[1], value))
        s = t.next_state(pi, count)
    obj: Any = object.__new__(t.cls)
    for i, (name, _rep) in enumerate(t.fields):
        object.__setattr__(obj, name, tuple(content) if i == t.content_field else values[i])
    return obj, p


def _enc_simple(acc: int, n: int, value: Any, dt: tuple[Any, ...]) -> tuple[int, int]:
    check_value(value, dt)
    if dt[0] in ("string", "binary") and len(value) == 0:
        return (acc << 4) | 0b1000, n + 4
    acc, n = _enc_value(acc << 1, n + 1, value, dt)
    return acc << 1, n + 1


def _enc_value(acc: int, n: int, v: Any, dt: tuple[Any, ...]) -> tuple[int, int]:
    kind, lo, _hi, bits, _length, _min_len, _max_len, index, _values, _lexical = dt
    check_value(v, dt)
    if kind == "uint":
        return rt.w_uint(acc, n, v)
    if kind == "int":
        return rt.w_int(acc, n, v)
    if kind == "nbit":
        return (acc << bits) | (v - lo), n + bits
    if kind == "boolean":
        return (acc << 1) | rt.w_bool(v), n + 1
    if kind == "enum":
        return (acc << bits) | rt.enum_index(v, index), n + bits
    return rt.w_str(acc, n, v) if kind == "string" else rt.w_bin(acc, n, v)


def enc_generic(acc: int, n: int, obj: Any, schema: SchemaTables, index: int) -> tuple[int, int]:
    """Encode an object of generic type ``index`` onto ``(acc, n)``."""
    tables = schema if schema._built else schema.ready()
    t = tables.types[index]
    if type(obj) is not t.cls:
        raise SlowPath  # a cast: the general encoder writes xsi:type
    s = 0
    for pi, pos in enumerate(t.positions):
        if pos.kind != "AT":
            continue
        name = pos.members[0].name[1]
        v = getattr(obj, t.fields[pos.fields[0]][0])
        if v is None:
            if pos.min:
                raise EncodeError(f"required attribute {name} is missing")
            continue
        code = t.states[s].codes.get(("AT", pi, 0))
        if code is None:
            raise EncodeError(f"attribute {name} is not allowed here")
        acc, n = (acc << t.states[s].width) | code, n + t.states[s].width
        try:
            acc, n = _enc_value(acc, n, v, pos.members[0].ref[0])
        except EncodeError as exc:
            raise exc.within("@" + name) from None
        s = t.next_state(pi, 1)
    sp = None
    last, count = -1, 0
    for item in getattr(obj, t.fields[t.content_field][0]):
        if acc >= SPILL_LIMIT:
            acc, sp = spill(acc, n, sp)
        st = t.states[s]
        if isinstance(item, str):
            if item:
                code = st.codes.get(("CH", -1, 0))
                if code is None:
                    raise EncodeError("character data is not allowed here", value=item)
                acc, n = rt.w_str((acc << st.width) | code, n + st.width, item)
                s = s if st.kind == CONTENT else t.content
            continue
        if not isinstance(item, tuple):
            raise SlowPath  # wildcard content: the general encoder keeps the string table
        local, value = item
        found = [(code, p, m) for code, (ev, p, m) in enumerate(st.prods) if ev == "SE"
                 and t.positions[p].members[m].name[1] == local]  # fmt: skip
        if not found:
            raise EncodeError(f"element {local} is not allowed here")
        code, pi, mi = found[0]
        acc, n = (acc << st.width) | code, n + st.width
        ref = t.positions[pi].members[mi].ref
        try:
            if ref.__class__ is not int:
                acc, n = _enc_simple(acc, n, value, ref[0])
            elif tables.types[ref].enc is not None:
                acc, n = tables.types[ref].enc(acc, n, value)
            elif tables.types[ref].generic:
                acc, n = enc_generic(acc, n, value, schema, ref)
            else:
                raise SlowPath
        except EncodeError as exc:
            raise exc.within(local) from None
        count = count + 1 if pi == last else 1
        last = pi
        s = t.next_state(pi, count)
    if sp is not None:
        acc = unspill(acc, n, sp)
    code = t.states[s].codes.get(("EE", -1, 0))
    if code is None:
        raise EncodeError("element content is incomplete (a required child is missing)")
    return (acc << t.states[s].width) | code, n + t.states[s].width
