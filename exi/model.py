"""The schema model: what :mod:`exi.xsd` reads out of a set of XSD documents.

Plain frozen dataclasses; nothing here knows about EXI. Qualified names are ``(namespace, local)``
tuples; ``""`` is the absent namespace. Everything the grammar compiler needs is resolved here: types are
referenced by name (or carried inline when anonymous), element references point at their global
declaration, and substitution groups are recorded per head.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "XS",
    "AttributeUse",
    "ComplexType",
    "ElementDecl",
    "ElementParticle",
    "Group",
    "Particle",
    "QName",
    "Schema",
    "SimpleType",
    "Wildcard",
    "clark",
    "qname_sort_key",
]

XS = "http://www.w3.org/2001/XMLSchema"

QName = tuple[str, str]
"""A qualified name as ``(namespace URI, local name)``."""

UNBOUNDED = -1
"""``max_occurs`` of an unbounded particle."""


def clark(q: QName) -> str:
    """``{ns}local`` (or ``local`` without a namespace)."""
    return f"{{{q[0]}}}{q[1]}" if q[0] else q[1]


def qname_sort_key(q: QName) -> tuple[str, str]:
    """EXI orders qualified names by local name, then namespace URI, in code-point order."""
    return (q[1], q[0])


@dataclass(frozen=True)
class SimpleType:
    """A simple type: a restriction chain collapsed onto its built-in primitive, with merged facets.

    ``builtin`` is the XSD built-in the chain ends in (e.g. ``"unsignedShort"``); ``primitive`` the XSD
    primitive family (``"string"``, ``"boolean"``, ``"decimal"``, ``"hexBinary"``, ``"base64Binary"``,
    ``"anyURI"``...). Facets are the effective ones after the whole chain.
    """

    name: QName | None
    builtin: str
    primitive: str
    enumeration: tuple[str, ...] = ()
    min_inclusive: int | None = None
    max_inclusive: int | None = None
    length: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    base: QName | None = None
    """The type this one restricts (for a built-in, its base in the XSD type hierarchy); None at the root or for
    an anonymous base. ``xsi:type`` may name a type only if it derives from the declared one."""


@dataclass(frozen=True)
class AttributeUse:
    """An attribute of a complex type."""

    qname: QName
    type: SimpleType
    required: bool


@dataclass(frozen=True)
class Wildcard:
    """An ``xs:any`` particle. ``namespaces`` is ``("##any",)``, ``("##other",)`` or a URI list."""

    namespaces: tuple[str, ...]
    target_namespace: str
    min_occurs: int = 1
    max_occurs: int = 1
    process: str = "strict"
    """``processContents``: strict (a global declaration must exist), lax or skip."""


@dataclass(frozen=True)
class ElementParticle:
    """An element occurring in a content model (a local declaration or a reference to a global one)."""

    element: QName
    """The key of the declaration in :attr:`Schema.elements` (global) or :attr:`Schema.local_elements`."""
    is_global: bool
    min_occurs: int = 1
    max_occurs: int = 1


@dataclass(frozen=True)
class Group:
    """An ``xs:sequence`` or ``xs:choice``."""

    kind: Literal["sequence", "choice"]
    children: tuple[Particle, ...]
    min_occurs: int = 1
    max_occurs: int = 1


Particle = ElementParticle | Wildcard | Group


@dataclass(frozen=True)
class ComplexType:
    """A complex type with its *own* declarations (the base's are merged by :meth:`Schema.effective`).

    ``key`` identifies the type: its qualified name, or for an anonymous type a synthetic name derived
    from the element that declares it.
    """

    key: QName
    anonymous: bool
    abstract: bool = False
    mixed: bool = False
    base: QName | None = None
    attributes: tuple[AttributeUse, ...] = ()
    particle: Particle | None = None
    simple_content: SimpleType | None = None
    """For simpleContent: the type of the character content (after extension/restriction)."""


@dataclass(frozen=True)
class ElementDecl:
    """An element declaration."""

    qname: QName
    type_key: QName | None
    """Key of a complex type in :attr:`Schema.complex_types`, or ``None`` when simple-typed."""
    simple_type: SimpleType | None
    is_global: bool
    abstract: bool = False
    nillable: bool = False
    substitution_group: QName | None = None


@dataclass
class Schema:
    """A schema set: every declaration reachable from its entry documents through imports/includes."""

    target_namespaces: list[str] = field(default_factory=list)
    elements: dict[QName, ElementDecl] = field(default_factory=dict)
    """Global element declarations."""
    local_elements: dict[QName, ElementDecl] = field(default_factory=dict)
    """Local element declarations, keyed by a synthetic unique key (see :mod:`exi.xsd`)."""
    complex_types: dict[QName, ComplexType] = field(default_factory=dict)
    simple_types: dict[QName, SimpleType] = field(default_factory=dict)
    sources: list[tuple[str, str]] = field(default_factory=list)
    prefixes: dict[str, str] = field(default_factory=dict)
    """Namespace -> the prefix the documents declare for it (a document's prefix for its own target namespace
    first, else the first declaration met): what an XML view of the set's documents calls it."""
    """``(file path, target namespace)`` of every document read, in reading order."""

    def decl(self, particle: ElementParticle) -> ElementDecl:
        """The declaration an element particle refers to."""
        table = self.elements if particle.is_global else self.local_elements
        return table[particle.element]

    def substitutes(self, head: QName) -> list[QName]:
        """The head itself plus every global element that substitutes for it, transitively, sorted."""
        found = {head}
        changed = True
        while changed:
            changed = False
            for q, d in self.elements.items():
                if d.substitution_group in found and q not in found:
                    found.add(q)
                    changed = True
        return sorted(found, key=qname_sort_key)

    def effective(self, key: QName) -> tuple[tuple[AttributeUse, ...], Particle | None, SimpleType | None, bool]:
        """Attributes (sorted), content particle, simple content and mixedness of a type, with its bases.

        complexContent extension is ``sequence(base content, own content)`` with an absent side dropped
        (EXI 1.0 §8.5.4.1.3 relies on the XSD component model, which builds exactly this).
        """
        ct = self.complex_types[key]
        attrs: dict[QName, AttributeUse] = {}
        particle: Particle | None = None
        simple: SimpleType | None = ct.simple_content
        mixed = ct.mixed
        if ct.base is not None and ct.base in self.complex_types:
            b_attrs, b_particle, b_simple, _ = self.effective(ct.base)
            attrs.update({a.qname: a for a in b_attrs})
            particle = b_particle
            if simple is None:
                simple = b_simple
        for a in ct.attributes:
            attrs[a.qname] = a
        own = ct.particle
        if particle is None:
            particle = own
        elif own is not None:
            particle = Group("sequence", (particle, own))
        ordered = tuple(sorted(attrs.values(), key=lambda a: qname_sort_key(a.qname)))
        return ordered, particle, simple, mixed
