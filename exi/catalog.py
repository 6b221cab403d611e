"""What the general coder needs beyond the grammars: the initial string tables and the named simple types.

Qualified names appear in an EXI stream itself only where the grammar cannot imply them: an ``xsi:type`` value,
an element matched by a wildcard or an undeclared SE(*), an undeclared attribute. They are coded through the
URI and local-name partitions of the string table, whose initial contents EXI 1.0 §7.3.1 and Appendix D define:

* URIs: ``""``, the XML namespace, XML Schema instance, XML Schema, then every target namespace of the schema
  set in code-point order;
* local names per URI: ``base id lang space`` (XML), ``nil type`` (XSI), the 46 built-in type names (XML
  Schema), and for every other URI the local names of all element, attribute and named type declarations in
  that namespace, in code-point order (unqualified local elements and attributes under ``""``).

``xsi:type`` may name a simple type too; :func:`simple_types` lists every named simple type the casts can reach
(the set's own and the representable built-ins) with its base, so that a cast's derivation can be checked.
"""

from __future__ import annotations

from exi.builtins import BUILTIN_BASES, BUILTINS
from exi.datatypes import Datatype, datatype_for
from exi.errors import SchemaError
from exi.model import XS, QName, Schema, SimpleType

__all__ = ["XML_NS", "XSD_BUILTIN_NAMES", "XSI", "initial_strings", "simple_types"]

XML_NS = "http://www.w3.org/XML/1998/namespace"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

XSD_BUILTIN_NAMES = (
    "ENTITIES", "ENTITY", "ID", "IDREF", "IDREFS", "NCName", "NMTOKEN", "NMTOKENS", "NOTATION", "Name", "QName",
    "anySimpleType", "anyType", "anyURI", "base64Binary", "boolean", "byte", "date", "dateTime", "decimal",
    "double", "duration", "float", "gDay", "gMonth", "gMonthDay", "gYear", "gYearMonth", "hexBinary", "int",
    "integer", "language", "long", "negativeInteger", "nonNegativeInteger", "nonPositiveInteger",
    "normalizedString", "positiveInteger", "short", "string", "time", "token", "unsignedByte", "unsignedInt",
    "unsignedLong", "unsignedShort",
)  # fmt: skip
"""The local-name partition of the XML Schema namespace (EXI 1.0 Appendix D.3): 46 names in code-point order."""


def initial_strings(schema: Schema) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """The initial URI partition and, parallel to it, each URI's initial local-name partition."""
    names: dict[str, set[str]] = {"": set()}

    def add(q: QName) -> None:
        names.setdefault(q[0], set()).add(q[1])

    for decl in [*schema.elements.values(), *schema.local_elements.values()]:
        add(decl.qname)
    for key, ct in schema.complex_types.items():
        if not ct.anonymous:
            add(key)
        for attr in ct.attributes:
            add(attr.qname)
    for key in schema.simple_types:
        if key[0] != XS:
            add(key)
    fixed = {XML_NS: ("base", "id", "lang", "space"), XSI: ("nil", "type"), XS: XSD_BUILTIN_NAMES}
    for uri in fixed:
        if uri in names:
            raise SchemaError(f"a schema of the set declares names in the reserved namespace {uri}")
    targets = sorted({*schema.target_namespaces, *names} - {""})
    uris = ("", XML_NS, XSI, XS, *targets)
    partitions = tuple(fixed.get(uri) or tuple(sorted(names.get(uri, ()))) for uri in uris)
    return uris, partitions


def simple_types(schema: Schema) -> tuple[tuple[QName, QName | None, Datatype], ...]:
    """(name, base name, datatype) of every named simple type of the set and every representable built-in."""
    out: dict[QName, tuple[QName, QName | None, Datatype]] = {}
    for name, (primitive, lo, hi) in BUILTINS.items():
        parent = BUILTIN_BASES.get(name)
        st = SimpleType(name=(XS, name), builtin=name, primitive=primitive, min_inclusive=lo, max_inclusive=hi)
        out[(XS, name)] = ((XS, name), (XS, parent) if parent else None, datatype_for(st))
    for key, st in schema.simple_types.items():
        if key[0] != XS:
            out[key] = (key, st.base, datatype_for(st))
    return tuple(out[k] for k in sorted(out))
