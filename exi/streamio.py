"""Bit reader and writer of the general coder: windowed reads, spilled writes, typed values and qualified names.

They wrap the representation of :mod:`exi.runtime` / :mod:`exi.bitstream` (a window ``D`` of the stream ``R``
ending at bit ``T``, position ``p``, limit ``L``; an accumulator ``acc`` of ``n`` bits), so that the general coder
can continue where a specialised function stopped and hand the state back. Every read first moves the window on
when ``p`` passed its limit, every write spills the accumulator when it grew large: linear in the stream's length.

A *datatype row* is what :mod:`exi.codegen_codec` emits for a simple type: ``(kind, lo, hi, bits, length,
min_length, max_length, enum index, enum values, lexical form)``.
"""

from __future__ import annotations

from typing import Any

from exi import runtime as rt
from exi.bitstream import SPILL_LIMIT, read_bits, spill, unspill, window
from exi.errors import DecodeError, EncodeError, SlowPath
from exi.model import QName
from exi.strings import Strings

__all__ = ["Reader", "Writer", "check_value"]

DatatypeRow = tuple[Any, ...]


class Reader:
    """Reads bits, typed values and qualified names; ``p`` is the current bit offset."""

    __slots__ = ("D", "L", "R", "T", "p", "strings")

    def __init__(self, D: int, T: int, p: int, L: int, R: bytes, strings: Strings | None) -> None:
        self.D, self.T, self.p, self.L, self.R = D, T, p, L, R
        self.strings = strings

    def check(self) -> None:
        """Move the window on when the position passed its limit."""
        if self.p > self.L:
            self.D, self.T, self.L = window(self.R, self.p)

    def bits(self, w: int) -> int:
        """An n-bit unsigned integer."""
        if not w:
            return 0
        if self.p > self.L:
            self.D, self.T, self.L = window(self.R, self.p)
        if self.p + w > self.T:
            if self.p + w > len(self.R) << 3:
                raise DecodeError(f"unexpected end of stream ({len(self.R) << 3} bits in all)", bit_offset=self.p)
            v = read_bits(self.R, self.p, w)
        else:
            v = (self.D >> (self.T - self.p - w)) & ((1 << w) - 1)
        self.p += w
        return v

    def uint(self) -> int:
        """An Unsigned Integer."""
        self.check()
        v, self.p = rt.r_uint(self.D, self.T, self.p, self.R)
        return v

    def string(self) -> str:
        """A String value (a value-table miss, the only form the ISO profile writes)."""
        self.check()
        v, self.p = rt.r_str(self.D, self.T, self.p, self.R)
        return v

    def chars(self, length: int) -> str:
        """``length`` code points (a literal of the URI or local-name partitions)."""
        out = []
        left = (len(self.R) << 3) - self.p
        if length * 8 > left:
            octets = max(left, 0) // 8
            raise DecodeError(f"declared length {length} exceeds the {octets} octets left", bit_offset=self.p)
        for _ in range(length):
            cp = self.uint()
            if cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
                raise DecodeError(f"invalid character code point {cp:#x}", bit_offset=self.p)
            out.append(chr(cp))
        return "".join(out)

    def value(self, dt: DatatypeRow, facets: list[DecodeError] | None = None) -> Any:
        """A typed value (no event codes around it).

        A value that breaks its type's range or length facets raises, or with ``facets`` is returned and the
        error appended there (a tolerant reading: EXIficient does not check facets).
        """
        kind, lo, hi, bits, length, min_len, max_len, _index, values, _lexical = dt
        self.check()
        start = self.p
        v: Any = None
        try:
            if kind in ("uint", "int"):
                v, self.p = (rt.r_uint if kind == "uint" else rt.r_int)(self.D, self.T, self.p, self.R)
                rt.check_range(v, lo, hi, start)
                return v
            if kind == "nbit":
                v = self.bits(bits) + lo
                rt.check_range(v, lo, hi, start)
                return v
            if kind == "boolean":
                return bool(self.bits(1))
            if kind == "enum":
                v, self.p = rt.r_enum(self.D, self.T, self.p, values, bits)
                return v
            s, self.p = (rt.r_str if kind == "string" else rt.r_bin)(self.D, self.T, self.p, self.R)
            v = s
            if length is not None or min_len is not None or max_len is not None:
                rt.check_length(s, length, min_len, max_len, start)
            return s
        except rt.FacetError as exc:
            if facets is None:
                raise
            facets.append(exc)
            return v

    def qname(self) -> QName:
        """A qualified name through the URI and local-name partitions."""
        strings = self.strings
        start = self.p
        if strings is None:  # a specialised decoder: the general one keeps the string table
            raise DecodeError("a qualified name (xsi:type or wildcard content) follows", bit_offset=start, escape=True)
        code = self.bits(strings.uri_width())
        if code == 0:
            uri = self.chars(self.uint())
            ui = strings.find_uri(uri)
            if ui is None:
                ui = strings.add_uri(uri)
        elif code - 1 < strings.uri_count:
            ui = code - 1
        else:
            raise DecodeError(f"URI id {code - 1} is not in the string table", bit_offset=start)
        length = self.uint()
        if length == 0:
            at = self.p
            index = self.bits(strings.name_width(ui))
            local = strings.name(ui, index)
            if local is None:
                raise DecodeError(f"local-name id {index} is not in the string table", bit_offset=at)
            return (strings.uri(ui), local)
        local = self.chars(length - 1)
        if strings.find_name(ui, local) is None:
            strings.add_name(ui, local)
        return (strings.uri(ui), local)


class Writer:
    """Writes bits, typed values and qualified names onto an accumulator (spilled when it grows)."""

    __slots__ = ("acc", "n", "sp", "strings")

    def __init__(self, acc: int, n: int, strings: Strings | None) -> None:
        self.acc, self.n = acc, n
        self.sp: list[Any] | None = None
        self.strings = strings

    def room(self) -> None:
        """Spill the accumulator's older octets when it has grown large."""
        if self.acc >= SPILL_LIMIT:
            self.acc, self.sp = spill(self.acc, self.n, self.sp)

    def bits(self, v: int, w: int) -> None:
        """An n-bit unsigned integer."""
        if self.acc >= SPILL_LIMIT:
            self.acc, self.sp = spill(self.acc, self.n, self.sp)
        self.acc = (self.acc << w) | v
        self.n += w

    def finish(self) -> tuple[int, int]:
        """The accumulator and bit count (the spilled octets put back)."""
        if self.sp is not None:
            self.acc = unspill(self.acc, self.n, self.sp)
            self.sp = None
        return self.acc, self.n

    def uint(self, v: int) -> None:
        """An Unsigned Integer."""
        self.room()
        self.acc, self.n = rt.w_uint(self.acc, self.n, v)

    def string(self, s: str) -> None:
        """A String value, as a value-table miss."""
        self.room()
        self.acc, self.n = rt.w_str(self.acc, self.n, s)

    def chars(self, s: str) -> None:
        """Code points of a URI or local-name literal (without a length)."""
        for ch in s:
            self.uint(ord(ch))

    def value(self, v: Any, dt: DatatypeRow) -> None:
        """A typed value (no event codes around it)."""
        kind, lo, _hi, bits, _length, _min_len, _max_len, index, _values, _lexical = dt
        check_value(v, dt)
        self.room()
        if kind == "uint":
            self.acc, self.n = rt.w_uint(self.acc, self.n, v)
        elif kind == "int":
            self.acc, self.n = rt.w_int(self.acc, self.n, v)
        elif kind == "nbit":
            self.bits(v - lo, bits)
        elif kind == "boolean":
            self.bits(rt.w_bool(v), 1)
        elif kind == "enum":
            self.bits(rt.enum_index(v, index), bits)
        elif kind == "string":
            self.acc, self.n = rt.w_str(self.acc, self.n, v)
        else:
            self.acc, self.n = rt.w_bin(self.acc, self.n, v)

    def qname(self, name: QName) -> None:
        """A qualified name through the URI and local-name partitions."""
        strings = self.strings
        if strings is None:  # a specialised encoder: the general one keeps the string table
            raise SlowPath
        uri, local = name
        ui = strings.find_uri(uri)
        width = strings.uri_width()
        if ui is None:
            self.bits(0, width)
            self.uint(len(uri))
            self.chars(uri)
            ui = strings.add_uri(uri)
        else:
            self.bits(ui + 1, width)
        index = strings.find_name(ui, local)
        if index is None:
            self.uint(len(local) + 1)
            self.chars(local)
            strings.add_name(ui, local)
        else:
            self.uint(0)
            self.bits(index, strings.name_width(ui))


def check_value(v: Any, dt: DatatypeRow) -> None:
    """Refuse a value its datatype cannot represent (type, range, length facets, enumeration)."""
    kind, lo, hi, _bits, length, min_len, max_len, index, _values, _lexical = dt
    if kind in ("uint", "int", "nbit"):
        rt.check_int(v, lo, hi)
    elif kind == "boolean":
        rt.w_bool(v)
    elif kind == "enum":
        rt.enum_index(v, index)
    elif kind == "string":
        if not isinstance(v, str):
            raise EncodeError("expected a str", value=v)
    elif not isinstance(v, (bytes, bytearray)):
        raise EncodeError("expected bytes", value=v)
    if kind in ("string", "binary") and (length is not None or min_len is not None or max_len is not None):
        rt.check_len(v, length, min_len, max_len)
