"""EXI datatype representations (W3C EXI 1.0 §7) chosen for XSD simple types.

A :class:`Datatype` says how one typed value (a CH or AT value) is written: n-bit unsigned integer
(bounded integer ranges of at most 4096 values, and enumerations by index), Unsigned Integer, Integer,
Boolean, Binary (hexBinary, base64Binary) or String. The XSD types of the ISO 15118 schemas need nothing
else (no decimal, float, date-time, list or pattern-restricted string), and :func:`datatype_for`
refuses what it does not implement rather than guessing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from exi.errors import SchemaError
from exi.model import SimpleType

__all__ = ["Datatype", "bits_for", "datatype_for"]

Kind = Literal["boolean", "nbit", "uint", "int", "string", "binary", "enum"]
Lexical = Literal["boolean", "integer", "string", "hex", "base64", "enum"]

#: EXI §7.1.5: bounded integer ranges of at most this many values use an n-bit unsigned integer.
MAX_NBIT_RANGE = 4096


def bits_for(count: int) -> int:
    """ceil(log2(count)) for count >= 1 (0 for a single value)."""
    return (count - 1).bit_length() if count > 1 else 0


@dataclass(frozen=True)
class Datatype:
    """How a typed value is represented, with the facets needed to validate it."""

    kind: Kind
    lexical: Lexical
    builtin: str
    bits: int = 0
    """Width of an n-bit representation (``nbit``, ``enum``)."""
    lo: int | None = None
    """Smallest allowed integer (also the offset of an ``nbit`` integer)."""
    hi: int | None = None
    values: tuple[str, ...] = ()
    """Enumerated values in schema order (the index is what EXI writes)."""
    length: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    name: str = ""
    """The simple type's name (local part), or the built-in's, for messages and generated code."""
    type_ns: str = ""
    """Namespace of a named simple type ("" for built-ins and anonymous types)."""

    def describe(self) -> str:
        """A short human description, used in error messages."""
        if self.kind == "enum":
            return f"{self.name or self.builtin} (one of {len(self.values)} values)"
        if self.lexical == "integer":
            return f"{self.name or self.builtin} [{self.lo}..{self.hi}]"
        return self.name or self.builtin

    def to_json(self) -> dict[str, object]:
        """A JSON-able description (for the compiled grammar files)."""
        out: dict[str, object] = {"kind": self.kind, "lexical": self.lexical, "builtin": self.builtin}
        for key in ("bits", "lo", "hi", "length", "min_length", "max_length"):
            value = getattr(self, key)
            if value not in (None, 0) or (key == "lo" and value == 0):
                out[key] = value
        if self.values:
            out["values"] = list(self.values)
        if self.name:
            out["name"] = self.name
        return out


def datatype_for(st: SimpleType) -> Datatype:
    """Choose the EXI representation of a simple type (EXI 1.0 §7.1, "Built-in EXI Datatype Representations")."""
    name = st.name[1] if st.name else ""
    base = Datatype(
        kind="string",
        lexical="string",
        builtin=st.builtin,
        length=st.length,
        min_length=st.min_length,
        max_length=st.max_length,
        name=name,
        type_ns=st.name[0] if st.name else "",
    )
    if st.enumeration:
        # EXI §7.2: enumerated values are coded as their index in schema order, never sorted.
        return replace(base, kind="enum", lexical="enum", bits=bits_for(len(st.enumeration)), values=st.enumeration)
    if st.primitive == "boolean":
        return replace(base, kind="boolean", lexical="boolean")
    if st.primitive in ("hexBinary", "base64Binary"):
        return replace(base, kind="binary", lexical="hex" if st.primitive == "hexBinary" else "base64")
    if st.primitive == "string":
        return base
    if st.primitive == "integer":
        lo, hi = st.min_inclusive, st.max_inclusive
        if lo is not None and hi is not None:
            if hi < lo:
                raise SchemaError(f"simple type {name or st.builtin}: empty value range {lo}..{hi}")
            if hi - lo + 1 <= MAX_NBIT_RANGE:
                return replace(base, kind="nbit", lexical="integer", bits=bits_for(hi - lo + 1), lo=lo, hi=hi)
        if lo is not None and lo >= 0:
            return replace(base, kind="uint", lexical="integer", lo=lo, hi=hi)
        return replace(base, kind="int", lexical="integer", lo=lo, hi=hi)
    raise SchemaError(f"simple type {name or st.builtin}: XSD primitive {st.primitive!r} is not supported")
