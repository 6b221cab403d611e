"""Read a set of XSD documents (lxml) into the schema model of :mod:`exi.model`.

Imports are resolved by **namespace**, not by ``schemaLocation``: a document is looked up first next to
the importing file, then among the files given as ``search`` (the ISO 15118 XSDs point at xmldsig with
paths that do not match how the files are published). Includes are resolved by location.

Supported: global and local elements (``ref``, ``type``, anonymous types, ``substitutionGroup``,
``abstract``, ``nillable``, ``form``), named and anonymous complex types (``complexContent`` /
``simpleContent`` extension, ``mixed``, ``abstract``), ``sequence`` / ``choice`` / ``any`` with occurrence
bounds, attributes (``use``, ``form``), and simple types by restriction of a built-in with the facets
``enumeration``, ``min/maxInclusive``, ``min/maxExclusive``, ``length``, ``min/maxLength`` (others are
accepted and ignored because EXI does not use them). Anything else raises :class:`SchemaError` naming the
file, line and construct.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from lxml import etree

from exi.builtins import BUILTIN_BASES, BUILTINS
from exi.errors import SchemaError
from exi.model import (
    UNBOUNDED,
    XS,
    AttributeUse,
    ComplexType,
    ElementDecl,
    ElementParticle,
    Group,
    Particle,
    QName,
    Schema,
    SimpleType,
    Wildcard,
)

__all__ = ["read_schema"]

_IGNORED_FACETS = {"whiteSpace", "totalDigits", "fractionDigits", "annotation", "pattern"}


def _tag(el: etree._Element) -> str:
    return etree.QName(el).localname if etree.QName(el).namespace == XS else ""


def _children(el: etree._Element) -> list[etree._Element]:
    return [c for c in el if isinstance(c.tag, str) and _tag(c) not in ("annotation", "")]


def _occurs(el: etree._Element) -> tuple[int, int]:
    lo = int(el.get("minOccurs", "1"))
    hi_text = el.get("maxOccurs", "1")
    hi = UNBOUNDED if hi_text == "unbounded" else int(hi_text)
    return lo, hi


class _Doc:
    """One XSD document being read."""

    def __init__(self, path: Path, root: etree._Element) -> None:
        self.path = path
        self.root = root
        self.tns = root.get("targetNamespace", "")
        self.element_qualified = root.get("elementFormDefault", "unqualified") == "qualified"
        self.attribute_qualified = root.get("attributeFormDefault", "unqualified") == "qualified"

    def where(self, el: etree._Element) -> str:
        return f"{self.path.name}:{el.sourceline}"

    def resolve(self, el: etree._Element, text: str) -> QName:
        prefix, _, local = text.rpartition(":")
        ns = el.nsmap.get(prefix or None)
        if ns is None:
            if prefix:
                raise SchemaError(f"{self.where(el)}: unknown namespace prefix {prefix!r} in {text!r}")
            ns = ""
        return (ns, local)


class _Reader:
    def __init__(self, search: Iterable[Path]) -> None:
        self.schema = Schema()
        self.docs: list[_Doc] = []
        self.loaded: set[Path] = set()
        self.by_namespace: dict[str, list[Path]] = {}
        for p in search:
            ns = _peek_namespace(p)
            self.by_namespace.setdefault(ns, []).append(p.resolve())
        self.raw_simple: dict[QName, tuple[_Doc, etree._Element]] = {}
        self.raw_complex: dict[QName, tuple[_Doc, etree._Element]] = {}
        self.raw_elements: dict[QName, tuple[_Doc, etree._Element]] = {}
        self.local_counter: dict[QName, int] = {}

    # ---- loading documents -------------------------------------------------------------------------
    def load(self, path: Path) -> None:
        path = path.resolve()
        if path in self.loaded:
            return
        self.loaded.add(path)
        parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, remove_comments=True)
        try:
            root = etree.parse(str(path), parser).getroot()
        except (OSError, etree.XMLSyntaxError) as exc:
            raise SchemaError(f"cannot read XSD {path}: {exc}") from exc
        if _tag(root) != "schema":
            raise SchemaError(f"{path}: root element is not xs:schema")
        doc = _Doc(path, root)
        self.docs.append(doc)
        self.schema.sources.append((str(path), doc.tns))
        for prefix, uri in root.nsmap.items():
            known = uri in self.schema.prefixes
            if prefix is not None and uri != XS and prefix != "xml" and (uri == doc.tns or not known):
                self.schema.prefixes[uri] = prefix
        if doc.tns not in self.schema.target_namespaces:
            self.schema.target_namespaces.append(doc.tns)
        for child in _children(root):
            kind = _tag(child)
            if kind == "import":
                self._import(doc, child)
            elif kind == "include":
                loc = child.get("schemaLocation")
                if loc is None:
                    raise SchemaError(f"{doc.where(child)}: xs:include without schemaLocation")
                self.load(path.parent / loc)
            elif kind in ("element", "complexType", "simpleType"):
                name = child.get("name")
                if name is None:
                    raise SchemaError(f"{doc.where(child)}: global xs:{kind} without a name")
                table = {
                    "element": self.raw_elements,
                    "complexType": self.raw_complex,
                    "simpleType": self.raw_simple,
                }[kind]
                q = (doc.tns, name)
                if q in table and table[q][1] is not child:
                    raise SchemaError(f"{doc.where(child)}: {kind} {name!r} is declared twice")
                table[q] = (doc, child)
            elif kind in ("attribute", "attributeGroup", "group", "notation", "redefine"):
                raise SchemaError(f"{doc.where(child)}: global xs:{kind} is not supported")

    def _import(self, doc: _Doc, el: etree._Element) -> None:
        ns = el.get("namespace", "")
        candidates: list[Path] = []
        loc = el.get("schemaLocation")
        if loc:
            candidates.append((doc.path.parent / loc).resolve())
        candidates.extend(self.by_namespace.get(ns, []))
        for c in candidates:
            if c.exists() and _peek_namespace(c) == ns:
                self.load(c)
                return
        if any(d.tns == ns for d in self.docs):
            return
        raise SchemaError(f"{doc.where(el)}: cannot find a schema document for imported namespace {ns!r}")

    # ---- simple types ------------------------------------------------------------------------------
    def simple_type(self, q: QName) -> SimpleType:
        if q in self.schema.simple_types:
            return self.schema.simple_types[q]
        if q[0] == XS:
            if q[1] not in BUILTINS:
                raise SchemaError(f"built-in type xs:{q[1]} is not supported")
            prim, lo, hi = BUILTINS[q[1]]
            parent = BUILTIN_BASES.get(q[1])
            st = SimpleType(
                name=q,
                builtin=q[1],
                primitive=prim,
                min_inclusive=lo,
                max_inclusive=hi,
                base=(XS, parent) if parent else None,
            )
        elif q in self.raw_simple:
            doc, el = self.raw_simple[q]
            st = self._simple_from(doc, el, q)
        else:
            raise SchemaError(f"unknown simple type {q[1]!r} in namespace {q[0]!r}")
        self.schema.simple_types[q] = st
        return st

    def _simple_from(self, doc: _Doc, el: etree._Element, name: QName | None) -> SimpleType:
        kids = _children(el)
        if len(kids) != 1 or _tag(kids[0]) != "restriction":
            what = _tag(kids[0]) if kids else "nothing"
            raise SchemaError(f"{doc.where(el)}: simple type by xs:{what} is not supported (only restriction)")
        return self._restrict(doc, kids[0], name)

    def _restrict(self, doc: _Doc, r: etree._Element, name: QName | None) -> SimpleType:
        base_text = r.get("base")
        if base_text is None:
            inner = [c for c in _children(r) if _tag(c) == "simpleType"]
            if not inner:
                raise SchemaError(f"{doc.where(r)}: restriction without a base")
            base = self._simple_from(doc, inner[0], None)
            base_name: QName | None = None
        else:
            base_name = doc.resolve(r, base_text)
            base = self.simple_type(base_name)
        enum: list[str] = []
        lo, hi = base.min_inclusive, base.max_inclusive
        length, min_len, max_len = base.length, base.min_length, base.max_length
        for f in _children(r):
            kind, value = _tag(f), f.get("value", "")
            if kind == "simpleType":
                continue
            if kind == "enumeration":
                enum.append(value)
            elif kind in ("minInclusive", "minExclusive", "maxInclusive", "maxExclusive"):
                if base.primitive != "integer":
                    raise SchemaError(f"{doc.where(f)}: xs:{kind} on a non-integer type is not supported")
                v = int(value)
                if kind == "minExclusive":
                    v += 1
                elif kind == "maxExclusive":
                    v -= 1
                if kind.startswith("min"):
                    lo = v if lo is None else max(lo, v)
                else:
                    hi = v if hi is None else min(hi, v)
            elif kind == "length":
                length = int(value)
            elif kind == "minLength":
                min_len = int(value)
            elif kind == "maxLength":
                max_len = int(value)
            elif kind not in _IGNORED_FACETS:
                raise SchemaError(f"{doc.where(f)}: facet xs:{kind} is not supported")
        return SimpleType(
            name=name,
            builtin=base.builtin,
            primitive=base.primitive,
            enumeration=tuple(enum) if enum else base.enumeration,
            min_inclusive=lo,
            max_inclusive=hi,
            length=length,
            min_length=min_len,
            max_length=max_len,
            base=base_name,
        )

    def type_ref(self, doc: _Doc, el: etree._Element, text: str) -> tuple[QName | None, SimpleType | None]:
        """Resolve a ``type=`` reference to (complex type key, None) or (None, simple type)."""
        q = doc.resolve(el, text)
        if q[0] == XS and q[1] == "anyType":
            raise SchemaError(f"{doc.where(el)}: xs:anyType is not supported")
        if q in self.raw_complex:
            self.complex_type(q)
            return q, None
        return None, self.simple_type(q)

    # ---- complex types -----------------------------------------------------------------------------
    def complex_type(self, q: QName) -> ComplexType:
        if q in self.schema.complex_types:
            return self.schema.complex_types[q]
        doc, el = self.raw_complex[q]
        return self._complex_from(doc, el, q, anonymous=False)

    def _complex_from(self, doc: _Doc, el: etree._Element, key: QName, *, anonymous: bool) -> ComplexType:
        # Register a placeholder first so recursive types terminate.
        self.schema.complex_types[key] = ComplexType(key=key, anonymous=anonymous)
        mixed = el.get("mixed", "false") == "true"
        abstract = el.get("abstract", "false") == "true"
        base: QName | None = None
        attrs: list[AttributeUse] = []
        particle: Particle | None = None
        simple: SimpleType | None = None
        body = _children(el)
        for child in body:
            kind = _tag(child)
            if kind in ("sequence", "choice"):
                particle = self._group(doc, child, key)
            elif kind == "attribute":
                attrs.append(self._attribute(doc, child))
            elif kind == "complexContent":
                mixed = mixed or child.get("mixed", "false") == "true"
                base, more_attrs, particle = self._complex_content(doc, child, key)
                attrs.extend(more_attrs)
            elif kind == "simpleContent":
                base, more_attrs, simple = self._simple_content(doc, child)
                attrs.extend(more_attrs)
            elif kind in ("all", "group", "attributeGroup", "anyAttribute"):
                raise SchemaError(f"{doc.where(child)}: xs:{kind} is not supported")
        ct = ComplexType(
            key=key,
            anonymous=anonymous,
            abstract=abstract,
            mixed=mixed,
            base=base,
            attributes=tuple(attrs),
            particle=particle,
            simple_content=simple,
        )
        self.schema.complex_types[key] = ct
        return ct

    def _complex_content(
        self, doc: _Doc, cc: etree._Element, owner: QName
    ) -> tuple[QName, list[AttributeUse], Particle | None]:
        kids = _children(cc)
        if len(kids) != 1 or _tag(kids[0]) != "extension":
            raise SchemaError(f"{doc.where(cc)}: complexContent other than extension is not supported")
        ext = kids[0]
        base = doc.resolve(ext, ext.get("base", ""))
        if base not in self.raw_complex:
            raise SchemaError(f"{doc.where(ext)}: extension base {base[1]!r} is not a known complex type")
        self.complex_type(base)
        attrs: list[AttributeUse] = []
        particle: Particle | None = None
        for child in _children(ext):
            kind = _tag(child)
            if kind in ("sequence", "choice"):
                particle = self._group(doc, child, owner)
            elif kind == "attribute":
                attrs.append(self._attribute(doc, child))
            else:
                raise SchemaError(f"{doc.where(child)}: xs:{kind} inside an extension is not supported")
        return base, attrs, particle

    def _simple_content(self, doc: _Doc, sc: etree._Element) -> tuple[QName | None, list[AttributeUse], SimpleType]:
        kids = _children(sc)
        if len(kids) != 1 or _tag(kids[0]) != "extension":
            raise SchemaError(f"{doc.where(sc)}: simpleContent other than extension is not supported")
        ext = kids[0]
        base_q = doc.resolve(ext, ext.get("base", ""))
        attrs = [self._attribute(doc, c) for c in _children(ext) if _tag(c) == "attribute"]
        if base_q in self.raw_complex:
            base_ct = self.complex_type(base_q)
            if base_ct.simple_content is None:
                raise SchemaError(f"{doc.where(ext)}: simpleContent extension of a complex-content type")
            return base_q, attrs, base_ct.simple_content
        return None, attrs, self.simple_type(base_q)

    def _attribute(self, doc: _Doc, el: etree._Element) -> AttributeUse:
        if el.get("ref") is not None:
            raise SchemaError(f"{doc.where(el)}: attribute references are not supported")
        name = el.get("name")
        if name is None:
            raise SchemaError(f"{doc.where(el)}: attribute without a name")
        form = el.get("form")
        qualified = (form == "qualified") if form else doc.attribute_qualified
        q = (doc.tns if qualified else "", name)
        t = el.get("type")
        if t is not None:
            st = self.simple_type(doc.resolve(el, t))
        else:
            inner = [c for c in _children(el) if _tag(c) == "simpleType"]
            st = self._simple_from(doc, inner[0], None) if inner else self.simple_type((XS, "string"))
        use = el.get("use", "optional")
        if use == "prohibited":
            raise SchemaError(f"{doc.where(el)}: prohibited attributes are not supported")
        return AttributeUse(qname=q, type=st, required=use == "required")

    # ---- particles ---------------------------------------------------------------------------------
    def _group(self, doc: _Doc, el: etree._Element, owner: QName) -> Particle | None:
        kind = _tag(el)
        lo, hi = _occurs(el)
        children: list[Particle] = []
        for child in _children(el):
            ck = _tag(child)
            if ck in ("sequence", "choice"):
                p = self._group(doc, child, owner)
                if p is not None:
                    children.append(p)
            elif ck == "element":
                children.append(self._element_particle(doc, child, owner))
            elif ck == "any":
                alo, ahi = _occurs(child)
                ns = tuple(child.get("namespace", "##any").split())
                children.append(Wildcard(ns, doc.tns, alo, ahi, child.get("processContents", "strict")))
            else:
                raise SchemaError(f"{doc.where(child)}: xs:{ck} inside a model group is not supported")
        if not children:
            return None
        if kind not in ("sequence", "choice"):
            raise SchemaError(f"{doc.where(el)}: model group xs:{kind} is not supported")
        return Group(kind, tuple(children), lo, hi)  # type: ignore[arg-type]

    def _element_particle(self, doc: _Doc, el: etree._Element, owner: QName) -> ElementParticle:
        lo, hi = _occurs(el)
        ref = el.get("ref")
        if ref is not None:
            q = doc.resolve(el, ref)
            self.global_element(q, doc, el)
            return ElementParticle(q, True, lo, hi)
        name = el.get("name")
        if name is None:
            raise SchemaError(f"{doc.where(el)}: local element without name or ref")
        form = el.get("form")
        qualified = (form == "qualified") if form else doc.element_qualified
        q = (doc.tns if qualified else "", name)
        # Local declarations are keyed by owner type and name (unique within a content model).
        key = (q[0], f"{owner[1]}/{name}@{owner[0]}")
        if key in self.schema.local_elements:
            n = self.local_counter.get(key, 1) + 1
            self.local_counter[key] = n
            key = (key[0], f"{key[1]}#{n}")
        type_key, simple = self._decl_type(doc, el, anon_name=name)
        self.schema.local_elements[key] = ElementDecl(
            qname=q,
            type_key=type_key,
            simple_type=simple,
            is_global=False,
            nillable=el.get("nillable", "false") == "true",
        )
        return ElementParticle(key, False, lo, hi)

    def _decl_type(self, doc: _Doc, el: etree._Element, *, anon_name: str) -> tuple[QName | None, SimpleType | None]:
        t = el.get("type")
        if t is not None:
            return self.type_ref(doc, el, t)
        for child in _children(el):
            if _tag(child) == "complexType":
                key = self._anonymous_key(doc.tns, anon_name)
                self._complex_from(doc, child, key, anonymous=True)
                return key, None
            if _tag(child) == "simpleType":
                return None, self._simple_from(doc, child, None)
        raise SchemaError(f"{doc.where(el)}: element {anon_name!r} has no type (xs:anyType is not supported)")

    def _anonymous_key(self, ns: str, name: str) -> QName:
        key = (ns, f"{name}@anonymous")
        n = 1
        while key in self.schema.complex_types or key in self.raw_complex:
            n += 1
            key = (ns, f"{name}@anonymous{n}")
        return key

    def global_element(self, q: QName, doc: _Doc | None = None, at: etree._Element | None = None) -> ElementDecl:
        if q in self.schema.elements:
            return self.schema.elements[q]
        if q not in self.raw_elements:
            where = f"{doc.where(at)}: " if doc is not None and at is not None else ""
            raise SchemaError(f"{where}unknown global element {q[1]!r} in namespace {q[0]!r}")
        edoc, el = self.raw_elements[q]
        head_text = el.get("substitutionGroup")
        head = edoc.resolve(el, head_text) if head_text else None
        # Placeholder against recursion through element references.
        self.schema.elements[q] = ElementDecl(q, None, None, True)
        type_key, simple = self._decl_type(edoc, el, anon_name=q[1])
        decl = ElementDecl(
            qname=q,
            type_key=type_key,
            simple_type=simple,
            is_global=True,
            abstract=el.get("abstract", "false") == "true",
            nillable=el.get("nillable", "false") == "true",
            substitution_group=head,
        )
        self.schema.elements[q] = decl
        if head is not None:
            self.global_element(head, edoc, el)
        return decl


def _peek_namespace(path: Path) -> str:
    try:
        for _event, el in etree.iterparse(str(path), events=("start",), resolve_entities=False, load_dtd=False):
            return str(el.get("targetNamespace", ""))
    except (OSError, etree.XMLSyntaxError) as exc:
        raise SchemaError(f"cannot read XSD {path}: {exc}") from exc
    return ""


def read_schema(entry: Iterable[Path], search: Iterable[Path] = ()) -> Schema:
    """Read the schema set made of ``entry`` documents and everything they import.

    ``search`` lists further XSD files consulted when an import's ``schemaLocation`` does not lead to a
    document of the imported namespace.
    """
    reader = _Reader(search)
    for path in entry:
        reader.load(Path(path))
    for q in list(reader.raw_simple):
        reader.simple_type(q)
    for q in list(reader.raw_complex):
        reader.complex_type(q)
    for q in list(reader.raw_elements):
        reader.global_element(q)
    return reader.schema
