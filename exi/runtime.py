"""Primitive EXI value coding used by the generated encoders and decoders (bit-packed, MSB first).

Speed matters here more than anywhere else, so the representation is deliberately plain:

* the **encoder** threads ``(acc, n)`` through every call: ``acc`` is a Python int holding the ``n``
  bits written so far (the newest bit is the least significant); writing ``w`` bits of ``v`` is
  ``acc = (acc << w) | v``;
* the **decoder** threads ``(D, T, p, L, R)``: a window ``D`` of the stream ``R`` ending at bit ``T``, the read
  position ``p`` and the window's limit ``L``; reading ``w`` bits is ``(D >> (T - p - w)) & mask``. A small
  stream is one window. Reading past the end makes the shift count negative, which Python reports as
  ``ValueError``; generated code turns that into a :class:`~exi.errors.DecodeError` at the right bit offset.

:mod:`exi.bitstream` keeps both linear in the stream's length (windows, spilling). Helpers here that read a
value of variable length take ``R`` and may leave ``p`` beyond the window: the caller then checks ``p > L``.

Helpers named ``w_el_*`` / ``r_el_*`` code a whole simple-typed element's content after its SE code:
the CH event (1 bit, code 0), the value, and the EE event (1 bit, code 0). An empty string or binary
value is written the way EXIficient writes ``<X/>``: the escape (code 1) and the second-level EE
(``000``), and both forms are accepted when decoding (EXI §8.5.4.4.1; exi-codec-guide pitfall 9).

Strings are always coded as string-table misses (``valuePartitionCapacity = 0``, the ISO 15118 profile):
length + 2, then each code point. A decoder meeting a table hit (length prefix 0 or 1) reports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exi.bitstream import SPILL_LIMIT, EndOfStream, read_bits, read_uint_tail, spill, unspill, window
from exi.errors import DecodeError, EncodeError, SlowPath

__all__ = [
    "SPILL_LIMIT",
    "DecodeError",
    "EncodeError",
    "FacetError",
    "SlowPath",
    "spill",
    "unspill",
    "window",
]

# ---------------------------------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------------------------------


def w_uint(acc: int, n: int, v: int) -> tuple[int, int]:
    """Unsigned Integer (EXI §7.1.6): little-endian base-128 groups, continuation bit 0x80."""
    if v.__class__ is not int and not isinstance(v, int):
        raise EncodeError("an unsigned integer must be an int", value=v)
    if v < 128:
        if v < 0:
            raise EncodeError("an unsigned integer must be >= 0", value=v)
        return (acc << 8) | v, n + 8
    while v >= 128:
        acc = (acc << 8) | 0x80 | (v & 0x7F)
        n += 8
        v >>= 7
    return (acc << 8) | v, n + 8


def w_int(acc: int, n: int, v: int) -> tuple[int, int]:
    """Integer (EXI §7.1.5): sign bit, then the magnitude (or -v-1 for negatives) as Unsigned Integer."""
    if not isinstance(v, int):
        raise EncodeError("an integer must be an int", value=v)
    if v >= 0:
        if v < 128:
            return (acc << 9) | v, n + 9
        return w_uint(acc << 1, n + 1, v)
    v = -v - 1
    if v < 128:
        return (acc << 9) | 256 | v, n + 9
    return w_uint((acc << 1) | 1, n + 1, v)


def w_str(acc: int, n: int, s: str) -> tuple[int, int]:
    """String value as a string-table miss: Unsigned Integer (length + 2), then each code point."""
    if s.__class__ is not str and not isinstance(s, str):
        raise EncodeError("a string value must be a str", value=s)
    length = len(s)
    if s.isascii():
        acc, n = w_uint(acc, n, length + 2)
        if length:
            acc = (acc << (length << 3)) | int.from_bytes(s.encode("ascii"), "big")
            n += length << 3
        return acc, n
    acc, n = w_uint(acc, n, length + 2)
    for ch in s:
        acc, n = w_uint(acc, n, ord(ch))
    return acc, n


def w_bin(acc: int, n: int, b: bytes) -> tuple[int, int]:
    """Binary (EXI §7.1.1): length as Unsigned Integer, then the octets."""
    if not isinstance(b, (bytes, bytearray, memoryview)):
        raise EncodeError("a binary value must be bytes", value=b)
    length = len(b)
    acc, n = w_uint(acc, n, length)
    if length:
        acc = (acc << (length << 3)) | int.from_bytes(b, "big")
        n += length << 3
    return acc, n


def check_int(v: int, lo: int | None, hi: int | None) -> None:
    """Reject a value outside [lo, hi] (the type's effective range)."""
    if v.__class__ is not int and (not isinstance(v, int) or isinstance(v, bool)):
        raise EncodeError("expected an int", value=v)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise EncodeError(f"value outside the type's range [{lo}..{hi}]", value=v)


def check_len(v: str | bytes, exact: int | None, lo: int | None, hi: int | None) -> None:
    """Reject a value whose length violates the type's length facets."""
    size = len(v)
    if exact is not None and size != exact:
        raise EncodeError(f"length must be exactly {exact} (is {size})", value=v)
    if lo is not None and size < lo:
        raise EncodeError(f"length must be at least {lo} (is {size})", value=v)
    if hi is not None and size > hi:
        raise EncodeError(f"length must be at most {hi} (is {size})", value=v)


def w_el_str(
    acc: int, n: int, v: str, exact: int | None, lo: int | None, hi: int | None, empty_bits: int, empty_code: int
) -> tuple[int, int]:
    """A simple string element: CH, value, EE — or, for "", the escape and second-level EE."""
    if v.__class__ is not str and not isinstance(v, str):
        raise EncodeError("expected a str", value=v)
    if exact is not None or lo is not None or hi is not None:
        check_len(v, exact, lo, hi)
    if not v:
        return (acc << empty_bits) | empty_code, n + empty_bits
    acc, n = w_str(acc << 1, n + 1, v)
    return acc << 1, n + 1


def w_el_bin(
    acc: int, n: int, v: bytes, exact: int | None, lo: int | None, hi: int | None, empty_bits: int, empty_code: int
) -> tuple[int, int]:
    """A simple binary element: CH, value, EE — or, for b"", the escape and second-level EE."""
    if not isinstance(v, (bytes, bytearray)):
        raise EncodeError("expected bytes", value=v)
    if exact is not None or lo is not None or hi is not None:
        check_len(v, exact, lo, hi)
    if not v:
        return (acc << empty_bits) | empty_code, n + empty_bits
    acc, n = w_bin(acc << 1, n + 1, v)
    return acc << 1, n + 1


# ---------------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------------


_SHIFTS = (7, 14, 21, 28, 35, 42, 49, 56, 63)


def r_uint(D: int, T: int, p: int, R: bytes) -> tuple[int, int]:
    """Read an Unsigned Integer: up to 10 groups from the window, any further ones from the octets."""
    b = (D >> (T - p - 8)) & 0xFF
    p += 8
    if b < 128:
        return b, p
    v = b & 0x7F
    for shift in _SHIFTS:
        b = (D >> (T - p - 8)) & 0xFF
        p += 8
        v |= (b & 0x7F) << shift
        if b < 128:
            return v, p
    return read_uint_tail(R, p, v, 70)


def r_int(D: int, T: int, p: int, R: bytes) -> tuple[int, int]:
    """Read an Integer (sign bit + Unsigned Integer)."""
    negative = (D >> (T - p - 1)) & 1
    v, p = r_uint(D, T, p + 1, R)
    return (-v - 1 if negative else v), p


def r_str(D: int, T: int, p: int, R: bytes) -> tuple[str, int]:
    """Read a String value (always a string-table miss under the ISO 15118 options)."""
    start = p
    length = (D >> (T - p - 8)) & 0xFF
    if length < 128:
        p += 8
    else:
        length, p = r_uint(D, T, p, R)
    if length < 2:
        raise DecodeError(
            "string-table hit, but the value partition capacity is 0 (ISO 15118 EXI profile)", bit_offset=start
        )
    length -= 2
    if not length:
        return "", p
    nbits = length << 3
    left = (len(R) << 3) - p
    if nbits > left:  # each code point takes at least one octet: refuse impossible lengths before allocating
        raise DecodeError(f"declared length {length} exceeds the {max(left, 0) // 8} octets left", bit_offset=p)
    x = (D >> (T - p - nbits)) & ((1 << nbits) - 1) if p + nbits <= T else read_bits(R, p, nbits)
    raw = x.to_bytes(length, "big")
    if raw.isascii():
        return raw.decode("ascii"), p + nbits
    out = []
    end = len(R) << 3
    for _ in range(length):
        if T - p < 128 and end > T:  # keep a code point's first groups inside the window
            D, T, _ = window(R, p)
        cp, p = r_uint(D, T, p, R)
        if cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
            raise DecodeError(f"invalid character code point {cp:#x}", bit_offset=p)
        out.append(chr(cp))
    return "".join(out), p


def r_bin(D: int, T: int, p: int, R: bytes) -> tuple[bytes, int]:
    """Read a Binary value (length-prefixed octets); the length is checked against what is left first."""
    start = p
    length = (D >> (T - p - 8)) & 0xFF
    if length < 128:
        p += 8
    else:
        length, p = r_uint(D, T, p, R)
    if not length:
        return b"", p
    nbits = length << 3
    left = (len(R) << 3) - p
    if nbits > left:
        raise DecodeError(f"declared length {length} exceeds the {max(left, 0) // 8} octets left", bit_offset=start)
    x = (D >> (T - p - nbits)) & ((1 << nbits) - 1) if p + nbits <= T else read_bits(R, p, nbits)
    return x.to_bytes(length, "big"), p + nbits


def _ee(D: int, T: int, p: int, R: bytes) -> int:
    if T - p < 8 and (len(R) << 3) > T:  # the value before may have crossed the window's end
        D, T, _ = window(R, p)
    if (D >> (T - p - 1)) & 1:
        raise _ee_error(p)
    return p + 1


def _ee_error(p: int) -> DecodeError:
    return DecodeError(
        "expected the end of a simple element (EE); found an undeclared production", bit_offset=p, escape=True
    )


class FacetError(DecodeError):
    """A decoded value breaks its type's range or length facets (a tolerant decoder may keep it)."""


def check_range(v: int, lo: int | None, hi: int | None, p: int) -> None:
    """Decoder side: reject a value outside the type's range."""
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise FacetError(f"value {v} outside the type's range [{lo}..{hi}]", bit_offset=p)


def _simple_escape(D: int, T: int, p: int, empty_bits: int, what: str) -> int:
    """After the escape bit of a simple element's CH state: accept only second-level EE (empty value)."""
    width = empty_bits - 1
    code = (D >> (T - p - width)) & ((1 << width) - 1)
    if code != 0:
        raise DecodeError(
            f"undeclared production (second-level code {code}) in a {what} element", bit_offset=p, escape=True
        )
    return p + width


def r_el_uint(D: int, T: int, p: int, R: bytes, lo: int | None, hi: int | None) -> tuple[int, int]:
    """Simple element content: CH, Unsigned Integer, EE."""
    if (D >> (T - p - 1)) & 1:
        raise DecodeError(
            "expected the value of an integer element; found an undeclared production", bit_offset=p, escape=True
        )
    start = p + 1
    v, p = r_uint(D, T, start, R)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise out_of_range(v, lo, hi, start)
    if T - p < 8 and (len(R) << 3) > T:  # a long value may have crossed the window's end
        D, T, _ = window(R, p)
    if (D >> (T - p - 1)) & 1:
        raise _ee_error(p)
    return v, p + 1


def r_el_int(D: int, T: int, p: int, R: bytes, lo: int | None, hi: int | None) -> tuple[int, int]:
    """Simple element content: CH, Integer, EE."""
    if (D >> (T - p - 1)) & 1:
        raise DecodeError(
            "expected the value of an integer element; found an undeclared production", bit_offset=p, escape=True
        )
    start = p + 1
    v, p = r_int(D, T, start, R)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise out_of_range(v, lo, hi, start)
    if T - p < 8 and (len(R) << 3) > T:
        D, T, _ = window(R, p)
    if (D >> (T - p - 1)) & 1:
        raise _ee_error(p)
    return v, p + 1


def r_el_str(
    D: int, T: int, p: int, R: bytes, exact: int | None, lo: int | None, hi: int | None, empty_bits: int
) -> tuple[str, int]:
    """Simple element content: CH, String, EE (or the escape + second-level EE of an empty value)."""
    if (D >> (T - p - 1)) & 1:
        p = _simple_escape(D, T, p + 1, empty_bits, "string")
        if exact is not None or lo is not None:
            check_length("", exact, lo, hi, p)
        return "", p
    start = p + 1
    v, p = r_str(D, T, start, R)
    if exact is not None or lo is not None or hi is not None:
        check_length(v, exact, lo, hi, start)
    return v, _ee(D, T, p, R)


def r_el_bin(
    D: int, T: int, p: int, R: bytes, exact: int | None, lo: int | None, hi: int | None, empty_bits: int
) -> tuple[bytes, int]:
    """Simple element content: CH, Binary, EE (or the escape + second-level EE of an empty value)."""
    if (D >> (T - p - 1)) & 1:
        p = _simple_escape(D, T, p + 1, empty_bits, "binary")
        if exact is not None or lo is not None:
            check_length(b"", exact, lo, hi, p)
        return b"", p
    start = p + 1
    v, p = r_bin(D, T, start, R)
    if exact is not None or lo is not None or hi is not None:
        check_length(v, exact, lo, hi, start)
    return v, _ee(D, T, p, R)


def check_length(v: str | bytes, exact: int | None, lo: int | None, hi: int | None, p: int) -> None:
    """Decoder side: reject a value whose length violates the type's length facets."""
    size = len(v)
    if (exact is not None and size != exact) or (lo is not None and size < lo) or (hi is not None and size > hi):
        want = f"exactly {exact}" if exact is not None else f"{lo or 0}..{hi if hi is not None else 'unbounded'}"
        raise FacetError(f"value length {size} violates the type's length facet ({want})", bit_offset=p)


def r_nbit_value(D: int, T: int, p: int, lo: int, hi: int, bits: int) -> tuple[int, int]:
    """An n-bit bounded integer value without event codes (attribute values)."""
    v = ((D >> (T - p - bits)) & ((1 << bits) - 1)) + lo if bits else lo
    if v > hi:
        raise FacetError(f"value {v} outside the type's range [{lo}..{hi}]", bit_offset=p)
    return v, p + bits


def bad_event(code: int, width: int, p: int, offered: str, declared: int) -> DecodeError:
    """The error for an event code that is an escape to undeclared productions (``code == declared``, which the
    general decoder reads) or out of range."""
    return DecodeError(
        f"event code {code} ({width} bits) is not a declared production here; expected one of: {offered}",
        bit_offset=p,
        escape=code == declared,
    )


def premature(exc: Exception, R: bytes, p: int) -> DecodeError:
    """Turn a low-level failure of the decoder into a DecodeError at bit ``p`` (``R`` is the stream)."""
    if isinstance(exc, EndOfStream) or (isinstance(exc, ValueError) and "negative shift count" in str(exc)):
        return DecodeError(f"unexpected end of stream ({len(R) << 3} bits in all)", bit_offset=p)
    return DecodeError(f"malformed stream: {exc}", bit_offset=p)


def r_enum(D: int, T: int, p: int, values: tuple[Any, ...], bits: int) -> tuple[Any, int]:
    """An enumeration index without event codes (attribute values)."""
    i = (D >> (T - p - bits)) & ((1 << bits) - 1) if bits else 0
    if i >= len(values):
        raise DecodeError(f"enumeration index {i} out of range (type has {len(values)} values)", bit_offset=p)
    return values[i], p + bits


def w_bool(v: bool) -> int:
    """The bit of a boolean value."""
    if v is True:
        return 1
    if v is False:
        return 0
    raise EncodeError("expected a bool", value=v)


def enum_index(v: str, index: Mapping[str, int]) -> int:
    """The schema-order index of an enumerated value."""
    i = index.get(v)
    if i is None:
        raise EncodeError(f"not one of the enumerated values ({', '.join(index)})", value=v)
    return i


def missing(name: str) -> EncodeError:
    """The error for an absent required element or attribute."""
    return EncodeError(f"required {'attribute' if name.startswith('@') else 'element'} {name.lstrip('@')} is missing")


def not_allowed(name: str, offered: str, state: int | None = None) -> EncodeError:
    """The error for an element the grammar does not allow at this point."""
    return EncodeError(f"{name} is not allowed here (the schema allows: {offered})")


def abstract(name: str) -> EncodeError:
    """The error for an abstract element (it may not occur in a document at all)."""
    return EncodeError(f"element {name} is abstract: give one of its substitution group's members")


# ---------------------------------------------------------------------------------------------------
# Helpers of the fused fast paths (see exi.codegen_values)
# ---------------------------------------------------------------------------------------------------


def bad_value(v: object, what: str) -> EncodeError:
    """The error for a value of the wrong type or outside its type's range."""
    if not isinstance(v, int) or isinstance(v, bool):
        return EncodeError(f"expected an int for {what}", value=v)
    return EncodeError(f"value outside {what}", value=v)


def w_el_uint_raw(acc: int, n: int, v: int) -> tuple[int, int]:
    """CH, Unsigned Integer, EE for an already-checked value."""
    acc, n = w_uint(acc << 1, n + 1, v)
    return acc << 1, n + 1


def w_el_int_raw(acc: int, n: int, v: int) -> tuple[int, int]:
    """CH, Integer, EE for an already-checked value."""
    acc, n = w_int(acc << 1, n + 1, v)
    return acc << 1, n + 1


def fused_error(x: int, bad: int, width: int, p: int, what: str) -> DecodeError:
    """The error for a fused read in which a bit that must be 0 (an event code) is 1."""
    first = width - (x & bad).bit_length()
    return DecodeError(
        f"undeclared production (escape to second-level events) at {what}", bit_offset=p + first, escape=True
    )


def undeclared(D: int, T: int, p: int, zeros: int, what: str) -> DecodeError:
    """The error for event-code bits that must be 0 but are not."""
    x = (D >> (T - p - zeros)) & ((1 << zeros) - 1)
    return fused_error(x, (1 << zeros) - 1, zeros, p, what)


def out_of_range(v: int, lo: int | None, hi: int | None, p: int) -> DecodeError:
    """The error for a decoded value outside its type's range."""
    return FacetError(f"value {v} outside the type's range [{lo}..{hi}]", bit_offset=p)


def only_one(names: str) -> EncodeError:
    """The error for two alternatives of one choice / substitution group being present."""
    return EncodeError(f"only one of {names} may be present")


def too_many(name: str, most: int, count: int) -> EncodeError:
    """The error for a list longer than maxOccurs."""
    return EncodeError(f"at most {most} {name} allowed", value=count).within(name)


def too_few(name: str, least: int, count: int) -> EncodeError:
    """The error for a non-empty list shorter than minOccurs."""
    return EncodeError(f"at least {least} {name} required", value=count).within(name)
