"""Source snippets that code one typed value, for :mod:`exi.codegen_codec`.

Each function returns lines of Python (without indentation) operating on the generated functions'
locals: ``acc``/``n`` (encoder), ``D``/``T``/``p``/``L``/``R`` (decoder) and ``v`` (the value).

For the hot path, constant event-code bits that precede a simple element's content (its SE code, or
the "must be 0" codes of states with a single production) are *fused* with the content into one
shift/or on encoding and one read on decoding: a RationalNumber's exponent is one 11-bit read. Values
that do not fit the fast path (long integers, strings, binary) fall back to the helpers of
:mod:`exi.runtime`.
"""

from __future__ import annotations

from exi.datatypes import Datatype

CHECKPOINT = "if p > L: D, T, L = window(R, p)"
"""After anything that may advance far (see :mod:`exi.bitstream`): move the window on when ``p`` passed its limit."""

__all__ = [
    "CHECKPOINT",
    "decode_element_value",
    "decode_plain_value",
    "encode_element_value",
    "encode_plain_value",
    "prefix_check",
]


def _facets(dt: Datatype) -> str:
    return f"{dt.length!r}, {dt.min_length!r}, {dt.max_length!r}"


def _has_len(dt: Datatype) -> bool:
    return dt.length is not None or dt.min_length is not None or dt.max_length is not None


def _range_test(dt: Datatype) -> str:
    parts = []
    if dt.lo is not None:
        parts.append(f"v < {dt.lo}")
    if dt.hi is not None:
        parts.append(f"v > {dt.hi}")
    return " or ".join(parts)


def _write(code: int, width: int, extra: str, extra_width: int) -> list[str]:
    """acc/n update writing ``code`` (``width`` bits) then ``extra`` (``extra_width`` bits)."""
    total = width + extra_width
    head = f"({code} << {extra_width}) | " if code else ""
    return [f"acc = (acc << {total}) | {head}{extra}", f"n += {total}"]


def _flush(code: int, width: int) -> list[str]:
    if not width:
        return []
    if code:
        return [f"acc = (acc << {width}) | {code}", f"n += {width}"]
    return [f"acc <<= {width}", f"n += {width}"]


def encode_element_value(dt: Datatype, enum_index: str, code: int, width: int) -> list[str]:
    """Write ``code``/``width`` (pending event bits), then a simple element's content: CH, value, EE."""
    name = repr(dt.describe())
    if dt.kind == "nbit":
        return [
            f"if v.__class__ is not int or {_range_test(dt)}: raise bad_value(v, {name})",
            *_write(code, width, f"((v - {dt.lo}) << 1)", dt.bits + 2),
        ]
    if dt.kind == "boolean":
        return _write(code, width, "(w_bool(v) << 1)", 3)
    if dt.kind == "enum":
        return [f"i = enum_index(v, {enum_index})", *_write(code, width, "(i << 1)", dt.bits + 2)]
    if dt.kind == "uint":
        test = _range_test(dt)
        return [
            f"if v.__class__ is not int{' or ' + test if test else ''}: raise bad_value(v, {name})",
            "if v < 128:",
            *("    " + line for line in _write(code, width, "(v << 1)", 10)),
            "else:",
            *("    " + line for line in _flush(code, width)),
            "    acc, n = w_el_uint_raw(acc, n, v)",
        ]
    if dt.kind == "int":
        test = _range_test(dt)
        return [
            f"if v.__class__ is not int{' or ' + test if test else ''}: raise bad_value(v, {name})",
            "if 0 <= v < 128:",
            *("    " + line for line in _write(code, width, "(v << 1)", 11)),
            "elif -128 <= v < 0:",
            *("    " + line for line in _write(code, width, "((256 - v - 1) << 1)", 11)),
            "else:",
            *("    " + line for line in _flush(code, width)),
            "    acc, n = w_el_int_raw(acc, n, v)",
        ]
    fn = "w_el_str" if dt.kind == "string" else "w_el_bin"
    # The empty value: escape (1) + second-level EE (000) of the simple type grammar's first state.
    return [*_flush(code, width), f"acc, n = {fn}(acc, n, v, {_facets(dt)}, 4, 8)"]


def prefix_check(zeros: int, what: str) -> list[str]:
    """Check and skip ``zeros`` bits that must all be 0 (codes of single-production states)."""
    if not zeros:
        return []
    return [
        f"if (D >> (T - p - {zeros})) & {(1 << zeros) - 1}: raise undeclared(D, T, p, {zeros}, {what!r})",
        f"p += {zeros}",
    ]


def decode_element_value(dt: Datatype, enum_values: str, zeros: int, what: str) -> list[str]:
    """Check ``zeros`` pending zero bits, then decode a simple element's content (CH, value, EE) into ``v``."""
    k = zeros
    if dt.kind == "nbit":
        w = k + dt.bits + 2
        bad = (((1 << k) - 1) << (dt.bits + 2)) | (1 << (dt.bits + 1)) | 1
        lines = [
            f"x = (D >> (T - p - {w})) & {(1 << w) - 1}",
            f"if x & {bad}: raise fused_error(x, {bad}, {w}, p, {what!r})",
            f"v = ((x >> 1) & {(1 << dt.bits) - 1}) + {dt.lo}" if dt.lo else f"v = (x >> 1) & {(1 << dt.bits) - 1}",
        ]
        assert dt.lo is not None and dt.hi is not None
        if dt.hi < dt.lo + (1 << dt.bits) - 1:
            lines.append(f"if v > {dt.hi}: raise out_of_range(v, {dt.lo}, {dt.hi}, p)")
        return [*lines, f"p += {w}"]
    if dt.kind == "boolean":
        w = k + 3
        bad = (((1 << k) - 1) << 3) | 0b101
        return [
            f"x = (D >> (T - p - {w})) & {(1 << w) - 1}",
            f"if x & {bad}: raise fused_error(x, {bad}, {w}, p, {what!r})",
            "v = (x & 2) == 2",
            f"p += {w}",
        ]
    if dt.kind == "enum":
        w = k + dt.bits + 2
        bad = (((1 << k) - 1) << (dt.bits + 2)) | (1 << (dt.bits + 1)) | 1
        return [
            f"x = (D >> (T - p - {w})) & {(1 << w) - 1}",
            f"if x & {bad}: raise fused_error(x, {bad}, {w}, p, {what!r})",
            f"v = {enum_values}[(x >> 1) & {(1 << dt.bits) - 1}]",
            f"p += {w}",
        ]
    if dt.kind in ("uint", "int"):
        signed = dt.kind == "int"
        w = k + (11 if signed else 10)
        prefix_bad = ((1 << k) - 1) << (w - k)
        bad = prefix_bad | (1 << (w - k - 1)) | (1 << 8) | 1
        slow = "r_el_int" if signed else "r_el_uint"
        fast = ["v = (x >> 1) & 127"]
        if signed:
            fast.append("if x & 512: v = -v - 1")
        test = _range_test(dt)
        if (
            test
            and not (signed and (dt.lo or 0) <= -128 and (dt.hi or 0) >= 127)
            and not (not signed and (dt.lo or 0) <= 0 and (dt.hi is None or dt.hi >= 127))
        ):
            fast.append(f"if {test}: raise out_of_range(v, {dt.lo}, {dt.hi}, p)")
        # Two-octet values (128..16383, e.g. watts) get a fused path of their own: in the else branch the
        # first octet's continuation bit is set, so the element spans at least w + 8 bits of the stream.
        w2 = w + 8
        cont1 = 1 << 16
        bad2 = (((1 << k) - 1) << (w2 - k)) | (1 << (w2 - k - 1)) | cont1 | (1 << 8) | 1
        fast2 = ["v = ((x >> 9) & 127) | (((x >> 1) & 127) << 7)"]
        if signed:
            fast2.append("if x & 131072: v = -v - 1")
        # Two-octet magnitudes are 128..16383: check the range unless the type admits all of them.
        admits_all = (
            (dt.lo is None or dt.lo <= -16384) and (dt.hi is None or dt.hi >= 16383)
            if signed
            else (dt.lo or 0) <= 128 and (dt.hi is None or dt.hi >= 16383)
        )
        if test and not admits_all:
            fast2.append(f"if {test}: raise out_of_range(v, {dt.lo}, {dt.hi}, p)")
        slow_lines = [
            *([f"    p += {k}"] if k else []),
            f"    v, p = {slow}(D, T, p, R, {dt.lo!r}, {dt.hi!r})",
            f"    {CHECKPOINT}",
        ]
        return [
            f"x = (D >> (T - p - {w})) & {(1 << w) - 1}",
            f"if not x & {bad}:",
            *("    " + line for line in fast),
            f"    p += {w}",
            *([f"elif x & {prefix_bad}: raise fused_error(x, {prefix_bad}, {w}, p, {what!r})"] if k else []),
            "else:",
            f"    x = (D >> (T - p - {w2})) & {(1 << w2) - 1}",
            f"    if x & {bad2} == {cont1}:",
            *("        " + line for line in fast2),
            f"        p += {w2}",
            "    else:",
            *("    " + line for line in slow_lines),
        ]
    fn = "r_el_str" if dt.kind == "string" else "r_el_bin"
    return [*prefix_check(k, what), f"v, p = {fn}(D, T, p, R, {_facets(dt)}, 4)", CHECKPOINT]


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
        return [f"v, p = {fn}(D, T, p, R)", f"check_range(v, {dt.lo!r}, {dt.hi!r}, p)", CHECKPOINT]
    if dt.kind == "nbit":
        return [f"v, p = r_nbit_value(D, T, p, {dt.lo!r}, {dt.hi!r}, {dt.bits})"]
    if dt.kind == "boolean":
        return ["v = bool((D >> (T - p - 1)) & 1)", "p += 1"]
    if dt.kind in ("string", "binary"):
        fn = "r_str" if dt.kind == "string" else "r_bin"
        lines = [f"v, p = {fn}(D, T, p, R)"]
        if _has_len(dt):
            lines.append(f"check_length(v, {_facets(dt)}, p)")
        return [*lines, CHECKPOINT]
    return [f"v, p = r_enum(D, T, p, {enum_values}, {dt.bits})"]
