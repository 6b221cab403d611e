"""The XML view of binding objects (lxml), valid against the XSDs and lossless.

Elements and attributes are qualified as the schemas declare them; with a :class:`~exi.viewbase.ViewContext`
every namespace of the schema set gets its conventional prefix (``v2gci_ct``, ``ds``, ``app``...), declared once
on the root, so a document reads like the standards' own examples. A cast writes ``xsi:type``: an object of a
derived type in a field, or a :class:`~exi.values.TypeCast`; an element matched by a wildcard is a
:class:`~exi.values.Wild`, whose undeclared content (:class:`~exi.values.AnyContent`) keeps its attributes, text and
children in order. Reading needs the context for ``xsi:type`` and wildcard content.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from exi.model import XS, QName
from exi.values import AnyContent, TypeCast, Wild
from exi.viewbase import (
    ANY_TYPE,
    XSI,
    XSI_TYPE,
    Field,
    ViewContext,
    ViewError,
    dt_text,
    dt_value,
    fields_of,
    resolve,
    same_type,
    text_of,
    value_of_text,
)

__all__ = ["from_xml", "to_xml"]

# What may stand at an element: ("c", class), ("s", lexical, enum ref), ("d", datatype row), or None (undeclared).
Decl = tuple[Any, ...] | None


def _tag(q: tuple[str, str]) -> str:
    return f"{{{q[0]}}}{q[1]}" if q[0] else q[1]


class _Writer:
    def __init__(self, ctx: ViewContext | None) -> None:
        self.ctx = ctx
        self.used: set[str] = set()

    def qtext(self, q: QName) -> str:
        prefix = self.ctx.prefix(q[0]) if self.ctx is not None else ("xs" if q[0] == XS else None)
        if prefix is None:
            raise ViewError(f"no prefix for namespace {q[0]!r} of xsi:type {q[1]}")
        self.used.add(prefix)
        return f"{prefix}:{q[1]}"

    def put(self, el: etree._Element, value: Any, decl: Decl) -> None:
        """The content of element ``el`` holding ``value``, declared as ``decl``."""
        if isinstance(value, TypeCast):
            el.set(XSI_TYPE, self.qtext(value.type))
            inner = value.value
            if isinstance(inner, AnyContent):
                self.any_content(el, inner)
            elif hasattr(inner, "__dataclass_fields__"):
                self.fill(el, inner)
            else:
                dt = self.ctx.simple.get(value.type) if self.ctx is not None else None
                if dt is None:
                    raise ViewError(f"xsi:type {value.type[1]} is not a simple type of the schema set")
                el.text = dt_text(inner, dt)
        elif isinstance(value, AnyContent):
            self.any_content(el, value)
        elif hasattr(value, "__dataclass_fields__"):
            if decl is None or (decl[0] == "c" and not same_type(value, decl[1])):
                name = getattr(type(value), "__exi_type__", None)
                if name is None:
                    raise ViewError(f"{type(value).__name__} is not a binding class")
                el.set(XSI_TYPE, self.qtext(name))
            self.fill(el, value)
        elif decl is not None and decl[0] == "d":
            el.text = dt_text(value, decl[1])
        elif decl is not None and decl[0] == "s":
            el.text = text_of(value, decl[1] if ":" not in decl[1] else "enum")
        else:
            raise ViewError(f"the value of an undeclared element needs a TypeCast: {value!r}")

    def fill(self, el: etree._Element, value: Any) -> None:
        """Attributes and children of a binding object."""
        for f in fields_of(type(value)):
            v = getattr(value, f.name)
            if v is None:
                continue
            if f.kind == "attribute":
                el.set(_tag((f.ns, f.xsd)), text_of(v, f.lexical))
            elif f.kind == "value":
                el.text = text_of(v, f.lexical)
            elif f.kind == "content":
                self.content(el, v, f.children, getattr(type(value), "__exi_type__", ("", ""))[0])
            else:
                decl: Decl = ("c", resolve(f.type)) if f.lexical == "complex" else ("s", f.lexical, f.type)
                for x in v if f.repeated else (v,):
                    self.put(etree.SubElement(el, _tag((f.ns, f.xsd))), x, decl)

    def content(self, el: etree._Element, items: Any, children: dict[str, str], ns: str) -> None:
        last: etree._Element | None = None
        for item in items:
            if isinstance(item, str):
                if last is None:
                    el.text = (el.text or "") + item
                else:
                    last.tail = (last.tail or "") + item
                continue
            if isinstance(item, Wild):
                last = etree.SubElement(el, _tag(item.name))
                self.put(last, item.value, self.element_decl(item.name))
                continue
            name, child = item
            lex = children.get(name, "string")
            last = etree.SubElement(el, _tag((ns, name)))
            decl: Decl = ("c", resolve(lex)) if ":" in lex and hasattr(child, "__dataclass_fields__") else None
            if decl is None:
                decl = ("s", lex if ":" not in lex else "enum", lex)
            self.put(last, child, decl)

    def element_decl(self, name: QName) -> Decl:
        found = self.ctx.elements.get(name) if self.ctx is not None else None
        if found is None:
            return None
        return ("c", found) if isinstance(found, type) else ("d", found)

    def any_content(self, el: etree._Element, value: AnyContent) -> None:
        for name, text in value.attributes:
            el.set(_tag(name), text)
        self.content(el, value.content, {}, "")


def to_xml(value: Any, root: tuple[str, str], context: ViewContext | None = None) -> etree._Element:
    """The XML element of a binding object, named ``root`` (``(namespace, local name)``).

    With ``context`` the schema set's prefixes are declared on the root (those the document uses).
    """
    nsmap: dict[str | None, str] | None = None
    if context is not None:
        nsmap = {prefix: ns for ns, prefix in context.prefixes.items()}
        nsmap.update({"xsi": XSI, "xs": XS})
    el = etree.Element(_tag(root), nsmap=nsmap)
    w = _Writer(context)
    decl = w.element_decl(root) if context is not None else None
    if decl is None and hasattr(value, "__dataclass_fields__"):
        decl = ("c", type(value))
    w.put(el, value, decl)
    if context is not None:
        etree.cleanup_namespaces(el, keep_ns_prefixes=sorted(w.used))
    return el


# ---- reading ---------------------------------------------------------------------------------------------------


def _qname_of(el: etree._Element, text: str) -> QName:
    prefix, _, local = text.strip().rpartition(":")
    ns = el.nsmap.get(prefix or None)
    if ns is None:
        if prefix:
            raise ViewError(f"xsi:type {text!r}: prefix {prefix!r} is not declared")
        ns = ""
    return (ns, local)


class _Reader:
    def __init__(self, ctx: ViewContext | None) -> None:
        self.ctx = ctx

    def read(self, el: etree._Element, decl: Decl) -> Any:
        """The value of element ``el`` declared as ``decl`` (None: not declared in the schema set)."""
        xt = el.get(XSI_TYPE)
        if xt is not None:
            if self.ctx is None:
                raise ViewError("xsi:type needs the schema set's view context")
            q = _qname_of(el, xt)
            cls = self.ctx.types.get(q)
            if cls is not None:
                obj = self.obj(cls, el)
                return TypeCast(q, obj) if decl is not None and decl[0] == "c" and same_type(obj, decl[1]) else obj
            dt = self.ctx.simple.get(q)
            if dt is not None:
                return TypeCast(q, dt_value(el.text or "", dt))
            if q == ANY_TYPE:
                content = self.any_content(el)
                return content if decl is None else TypeCast(q, content)
            raise ViewError(f"xsi:type {xt} names no type of the schema set")
        if decl is None:
            return self.any_content(el)
        if decl[0] == "c":
            return self.obj(decl[1], el)
        if decl[0] == "d":
            return dt_value(el.text or "", decl[1])
        return value_of_text(el.text or "", decl[1], decl[2])

    def element_decl(self, name: QName) -> Decl:
        found = self.ctx.elements.get(name) if self.ctx is not None else None
        if found is None:
            return None
        return ("c", found) if isinstance(found, type) else ("d", found)

    def any_content(self, el: etree._Element) -> AnyContent:
        attributes = []
        for key, value in el.attrib.items():
            if key == XSI_TYPE:
                continue
            q = etree.QName(key)
            attributes.append(((q.namespace or "", q.localname), str(value)))
        items: list[Any] = []
        if el.text and el.text.strip():
            items.append(el.text)
        for child in el:
            if not isinstance(child.tag, str):
                continue
            q = etree.QName(child)
            name = (q.namespace or "", q.localname)
            items.append(Wild(name, self.read(child, self.element_decl(name))))
            if child.tail and child.tail.strip():
                items.append(child.tail)
        return AnyContent(tuple(attributes), tuple(items))

    def obj(self, cls: type, el: etree._Element) -> Any:
        fields = fields_of(cls)
        kwargs: dict[str, Any] = {}
        by_child: dict[tuple[str, str], Field] = {}
        content_field = None
        for f in fields:
            if f.kind == "attribute":
                raw = el.get(_tag((f.ns, f.xsd)))
                if raw is None and f.ns:
                    raw = el.get(f.xsd)
                try:
                    kwargs[f.name] = None if raw is None else value_of_text(raw, f.lexical, f.type)
                except ViewError as exc:
                    raise exc.within("@" + f.xsd) from None
            elif f.kind == "value":
                kwargs[f.name] = value_of_text(el.text or "", f.lexical, f.type)
            elif f.kind == "content":
                content_field = f
            else:
                by_child[(f.ns, f.xsd)] = f
                kwargs[f.name] = [] if f.repeated else None
        items: list[Any] = []
        if content_field is not None and el.text and el.text.strip():
            items.append(el.text)
        own_ns = getattr(cls, "__exi_type__", ("", ""))[0]
        for child in el:
            if not isinstance(child.tag, str):
                continue
            q = etree.QName(child)
            key = (q.namespace or "", q.localname)
            if content_field is not None:
                lex = content_field.children.get(key[1]) if key[0] == own_ns else None
                try:
                    if lex is not None:
                        items.append((key[1], self.read(child, _child_decl(lex))))
                    elif content_field.wildcard:
                        items.append(Wild(key, self.read(child, self.element_decl(key))))
                    else:
                        raise ViewError(f"element {key[1]} is not allowed in {cls.__name__}")
                except ViewError as exc:
                    raise exc.within(key[1]) from None
                if child.tail and child.tail.strip():
                    items.append(child.tail)
                continue
            found = by_child.get(key)
            if found is None:
                raise ViewError(f"unexpected element {{{key[0]}}}{key[1]} in {cls.__name__}")
            try:
                lexical = found.lexical
                fdecl: Decl = ("c", resolve(found.type)) if lexical == "complex" else ("s", lexical, found.type)
                value = self.read(child, fdecl)
            except ViewError as exc:
                raise exc.within(key[1]) from None
            if found.repeated:
                kwargs[found.name].append(value)
            elif kwargs[found.name] is not None:
                raise ViewError(f"element {key[1]} occurs more than once")
            else:
                kwargs[found.name] = value
        if content_field is not None:
            kwargs[content_field.name] = tuple(items)
        for f in fields:
            if f.repeated and f.kind != "content":
                kwargs[f.name] = tuple(kwargs[f.name])
        missing = [f.xsd for f in fields if kwargs.get(f.name) is None and not f.optional and f.kind != "content"]
        if missing:
            raise ViewError(f"{cls.__name__}: missing required {', '.join(missing)}")
        return cls(**kwargs)


def _child_decl(lex: str) -> Decl:
    """A generic type's declared child: its lexical form or ``module:Class`` (a class or an enum)."""
    if ":" in lex:
        target = resolve(lex)
        return ("c", target) if hasattr(target, "__dataclass_fields__") else ("s", "enum", lex)
    return ("s", lex, "")


def from_xml(cls: type, el: etree._Element, context: ViewContext | None = None) -> Any:
    """Build a binding object of class ``cls`` from an XML element (raises :class:`ViewError`).

    ``context`` resolves ``xsi:type`` and wildcard content; without it they are refused.
    """
    return _Reader(context).read(el, ("c", cls))
