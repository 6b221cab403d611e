"""Source snippets that code one typed value, for :mod:`exi.codegen_codec`.

Each function returns lines of Python (without indentation) operating on the generated functions'
locals: ``acc``/``n`` (encoder), ``D``/``T``/``p`` (decoder) and ``v`` (the value).
"""

from __future__ import annotations

from exi.datatypes import Datatype

__all__ = ["decode_element_value", "decode_plain_value", "encode_element_value", "encode_plain_value"]


def _facets(dt: Datatype) -> str:
    return f"{dt.length!r}, {dt.min_length!r}, {dt.max_length!r}"


def _has_len(dt: Datatype) -> bool:
    return dt.length is not None or dt.min_length is not None or dt.max_length is not None


def encode_element_value(dt: Datatype, enum_index: str) -> list[str]:
    """A simple-typed element's content (CH, value, EE) after its SE code."""
    if dt.kind == "uint":
        return [f"acc, n = w_el_uint(acc, n, v, {dt.lo!r}, {dt.hi!r})"]
    if dt.kind == "int":
        return [f"acc, n = w_el_int(acc, n, v, {dt.lo!r}, {dt.hi!r})"]
    if dt.kind == "nbit":
        return [f"acc, n = w_el_nbit(acc, n, v, {dt.lo!r}, {dt.hi!r}, {dt.bits})"]
    if dt.kind == "boolean":
        return ["acc, n = w_el_bool(acc, n, v)"]
    if dt.kind == "string":
        # The empty value: escape (1) + second-level EE (000) of the simple type grammar's first state.
        return [f"acc, n = w_el_str(acc, n, v, {_facets(dt)}, 4, 8)"]
    if dt.kind == "binary":
        return [f"acc, n = w_el_bin(acc, n, v, {_facets(dt)}, 4, 8)"]
    return [f"acc, n = w_el_enum(acc, n, v, {enum_index}, {dt.bits})"]


def decode_element_value(dt: Datatype, enum_values: str) -> list[str]:
    """Decode a simple-typed element's content (CH, value, EE) into ``v``."""
    if dt.kind == "uint":
        return [f"v, p = r_el_uint(D, T, p, {dt.lo!r}, {dt.hi!r})"]
    if dt.kind == "int":
        return [f"v, p = r_el_int(D, T, p, {dt.lo!r}, {dt.hi!r})"]
    if dt.kind == "nbit":
        return [f"v, p = r_el_nbit(D, T, p, {dt.lo!r}, {dt.hi!r}, {dt.bits})"]
    if dt.kind == "boolean":
        return ["v, p = r_el_bool(D, T, p)"]
    if dt.kind == "string":
        return [f"v, p = r_el_str(D, T, p, {_facets(dt)}, 4)"]
    if dt.kind == "binary":
        return [f"v, p = r_el_bin(D, T, p, {_facets(dt)}, 4)"]
    return [f"v, p = r_el_enum(D, T, p, {enum_values}, {dt.bits})"]


def encode_plain_value(dt: Datatype, enum_index: str) -> list[str]:
    """A typed value with no event codes around it (attribute values, simple content)."""
    if dt.kind == "uint":
        return [f"check_int(v, {dt.lo!r}, {dt.hi!r})", "acc, n = w_uint(acc, n, v)"]
    if dt.kind == "int":
        return [f"check_int(v, {dt.lo!r}, {dt.hi!r})", "acc, n = w_int(acc, n, v)"]
    if dt.kind == "nbit":
        return [f"check_int(v, {dt.lo!r}, {dt.hi!r})", f"acc = (acc << {dt.bits}) | (v - {dt.lo!r})", f"n += {dt.bits}"]
    if dt.kind == "boolean":
        return ["acc = (acc << 1) | w_bool(v)", "n += 1"]
    if dt.kind == "string":
        lines = [f"check_len(v, {_facets(dt)})"] if _has_len(dt) else []
        return [*lines, "acc, n = w_str(acc, n, v)"]
    if dt.kind == "binary":
        lines = [f"check_len(v, {_facets(dt)})"] if _has_len(dt) else []
        return [*lines, "acc, n = w_bin(acc, n, v)"]
    return [f"acc = (acc << {dt.bits}) | enum_index(v, {enum_index})", f"n += {dt.bits}"]


def decode_plain_value(dt: Datatype, enum_values: str) -> list[str]:
    """Decode a typed value with no event codes around it into ``v``."""
    if dt.kind in ("uint", "int"):
        fn = "r_uint" if dt.kind == "uint" else "r_int"
        return [f"v, p = {fn}(D, T, p)", f"check_range(v, {dt.lo!r}, {dt.hi!r}, p)"]
    if dt.kind == "nbit":
        return [f"v, p = r_nbit_value(D, T, p, {dt.lo!r}, {dt.hi!r}, {dt.bits})"]
    if dt.kind == "boolean":
        return ["v = bool((D >> (T - p - 1)) & 1)", "p += 1"]
    if dt.kind in ("string", "binary"):
        fn = "r_str" if dt.kind == "string" else "r_bin"
        lines = [f"v, p = {fn}(D, T, p)"]
        if _has_len(dt):
            lines.append(f"check_length(v, {_facets(dt)}, p)")
        return lines
    return [f"v, p = r_enum(D, T, p, {enum_values}, {dt.bits})"]
