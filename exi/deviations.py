"""Schema deviations a tolerant decoder accepts: the non-strict EXI productions that carry schema-invalid content.

ISO 15118 streams are coded non-strict (exi-codec-guide §2), so every grammar state reserves an escape to
*undeclared* productions (EXI 1.0 §8.5.4.4.1): an end of element where the schema requires more, an element or
attribute the schema does not declare there, a value that does not fit its datatype (untyped CH / AT), ``xsi:nil``
on an element that is not nillable, an ``xsi:type`` that names no type derived from the declared one. EXIficient
writes them for such content (Josev's FAILED responses with an empty list where one element is required). A strict
decoder refuses them; a tolerant one decodes the message and reports each as a :class:`Deviation`: what, where in
the element tree, and at which bit of the stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Deviation", "DeviationKind"]


class DeviationKind(StrEnum):
    """The kinds of schema deviation a tolerant decoder reports."""

    MISSING_CONTENT = "missing-content"
    """Undeclared EE: the element ends where the schema requires more (a required child, attribute or value)."""
    UNDECLARED_ELEMENT = "undeclared-element"
    """Undeclared SE(*): an element the schema does not allow at this point (its content is skipped)."""
    UNDECLARED_ATTRIBUTE = "undeclared-attribute"
    """Undeclared AT(*): an attribute the schema does not declare here."""
    UNTYPED_VALUE = "untyped-value"
    """A value coded as a string because it does not fit its datatype (the field holds the string)."""
    UNDECLARED_CHARACTERS = "undeclared-characters"
    """Character data in element-only content."""
    NIL = "xsi-nil"
    """``xsi:nil`` on an element that is not nillable."""
    INVALID_TYPE_CAST = "invalid-xsi-type"
    """``xsi:type`` naming a type that is unknown, abstract, or not derived from the declared type."""
    ABSTRACT_TYPE = "abstract-type"
    """An element of an abstract type without an ``xsi:type`` naming a concrete one."""
    WILDCARD_NAMESPACE = "wildcard"
    """An element matched by a wildcard that excludes its namespace, or an undeclared one under a strict wildcard."""
    FACET = "facet"
    """A value outside its type's range or length facets (EXI codes it all the same; the field keeps it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Deviation:
    """One schema deviation: its kind, the element path (outermost first), the bit offset and a description."""

    kind: DeviationKind
    path: tuple[str, ...]
    bit_offset: int
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} at bit {self.bit_offset}, element /{'/'.join(self.path)}: {self.detail}"
