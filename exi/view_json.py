"""The JSON view of binding objects, lossless.

It follows the convention of Josev and the shared test vectors: element and attribute local names as keys in schema
order, repeated elements as arrays, absent optional items omitted, hexBinary as upper-case hex, base64Binary as
base64, enumerations as their string value, simple content under ``"value"``. Generic content (mixed / wildcard
types, xmldsig only) is a ``"content"`` array of strings and single-key objects: a declared child under its local
name, an element matched by a wildcard under its ``{namespace}local`` name. A cast adds ``"@type":
"{namespace}Type"`` to the object (a simple value then sits under ``"value"``); undeclared content is
``{"@attributes": {...}, "content": [...]}``. Reading casts and wildcard content needs a
:class:`~exi.viewbase.ViewContext`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from exi.model import QName
from exi.values import AnyContent, TypeCast, Wild
from exi.viewbase import (
    ANY_TYPE,
    Field,
    ViewContext,
    ViewError,
    fields_of,
    lexical_in,
    lexical_out,
    resolve,
    same_type,
)

__all__ = ["from_json", "to_json"]

Decl = tuple[Any, ...] | None
"""("c", class), ("s", lexical, enum ref), ("d", datatype row), or None for an undeclared element."""


def _clark(q: QName) -> str:
    return f"{{{q[0]}}}{q[1]}"


def _unclark(key: str) -> QName:
    if not key.startswith("{") or "}" not in key:
        raise ViewError(f"expected a {{namespace}}name, got {key!r}")
    ns, _, local = key[1:].partition("}")
    return (ns, local)


def _field_decl(f: Field) -> Decl:
    return ("c", resolve(f.type)) if f.lexical == "complex" else ("s", f.lexical, f.type)


def _child_decl(lex: str) -> Decl:
    if ":" in lex:
        target = resolve(lex)
        return ("c", target) if dataclasses.is_dataclass(target) else ("s", "enum", lex)
    return ("s", lex, "")


def _element_decl(ctx: ViewContext | None, name: QName) -> Decl:
    found = ctx.elements.get(name) if ctx is not None else None
    if found is None:
        return None
    return ("c", found) if isinstance(found, type) else ("d", found)


# ---- writing ---------------------------------------------------------------------------------------------------


def to_json(
    value: Any, root: str | None = None, context: ViewContext | None = None, declared: type | None = None
) -> Any:
    """The JSON-able view of a binding object (``{root: ...}`` when ``root`` is given).

    ``context`` makes casts exact: without it, a simple value's cast is written with its Python form.
    ``declared`` is the class the root element is declared with, when the value may be of a derived type.
    """
    decl: Decl = ("c", declared or type(value)) if dataclasses.is_dataclass(value) else None
    if decl is None and not isinstance(value, (TypeCast, AnyContent)):
        return {root: value} if root is not None else value
    body = _Writer(context).value(value, decl)
    return {root: body} if root is not None else body


class _Writer:
    def __init__(self, ctx: ViewContext | None) -> None:
        self.ctx = ctx

    def value(self, value: Any, decl: Decl) -> Any:
        if isinstance(value, TypeCast):
            inner = value.value
            if isinstance(inner, AnyContent):
                return {"@type": _clark(value.type), **self.any(inner)}
            if dataclasses.is_dataclass(inner):
                return {"@type": _clark(value.type), **self.obj(inner)}
            dt = self.ctx.simple.get(value.type) if self.ctx is not None else None
            lexical = dt[9] if dt is not None else ("hex" if isinstance(inner, (bytes, bytearray)) else "string")
            return {"@type": _clark(value.type), "value": lexical_out(inner, lexical)}
        if isinstance(value, AnyContent):
            return self.any(value)
        if dataclasses.is_dataclass(value):
            out = self.obj(value)
            if decl is None or (decl[0] == "c" and not same_type(value, decl[1])):
                return {"@type": _clark(getattr(type(value), "__exi_type__", ("", ""))), **out}
            return out
        if decl is not None and decl[0] == "d":
            return lexical_out(value, decl[1][9])
        if decl is not None and decl[0] == "s":
            return lexical_out(value, decl[1])
        raise ViewError(f"the value of an undeclared element needs a TypeCast: {value!r}")

    def any(self, value: AnyContent) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if value.attributes:
            out["@attributes"] = {_clark(name): text for name, text in value.attributes}
        items = self.items(value.content, {})
        if items:
            out["content"] = items
        return out

    def items(self, items: Any, children: dict[str, str]) -> list[Any]:
        out: list[Any] = []
        for item in items:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, Wild):
                out.append({_clark(item.name): self.value(item.value, _element_decl(self.ctx, item.name))})
            else:
                name, child = item
                out.append({name: self.value(child, _child_decl(children.get(name, "string")))})
        return out

    def obj(self, obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields_of(type(obj)):
            v = getattr(obj, f.name)
            if v is None:
                continue
            if f.kind == "content":
                items = self.items(v, f.children)
                if items:
                    out["content"] = items
            elif f.kind in ("attribute", "value"):
                out[f.xsd] = lexical_out(v, f.lexical)
            elif f.repeated:
                if v:
                    out[f.xsd] = [self.value(x, _field_decl(f)) for x in v]
            else:
                out[f.xsd] = self.value(v, _field_decl(f))
        return out


# ---- reading ---------------------------------------------------------------------------------------------------


def from_json(cls: type, data: Any, context: ViewContext | None = None) -> Any:
    """Build a binding object of class ``cls`` from its JSON view (raises :class:`ViewError`).

    ``context`` resolves ``"@type"`` casts and wildcard content; without it they are refused.
    """
    return _value_in(data, ("c", cls), context)


def _value_in(raw: Any, decl: Decl, ctx: ViewContext | None) -> Any:
    if isinstance(raw, dict) and "@type" in raw:
        if ctx is None:
            raise ViewError("@type needs the schema set's view context")
        q = _unclark(str(raw["@type"]))
        rest = {k: v for k, v in raw.items() if k != "@type"}
        cls = ctx.types.get(q)
        if cls is not None:
            obj = _obj_in(cls, rest, ctx)
            return TypeCast(q, obj) if decl is not None and decl[0] == "c" and same_type(obj, decl[1]) else obj
        dt = ctx.simple.get(q)
        if dt is not None:
            return TypeCast(q, lexical_in(rest.get("value"), dt[9], dt[8] or ""))
        if q == ANY_TYPE:
            content = _any_in(rest, ctx)
            return content if decl is None else TypeCast(q, content)
        raise ViewError(f"@type {raw['@type']} names no type of the schema set")
    if decl is None:
        return _any_in(raw, ctx)
    if decl[0] == "c":
        return _obj_in(decl[1], raw, ctx)
    if decl[0] == "d":
        return lexical_in(raw, decl[1][9], decl[1][8] or "")
    return lexical_in(raw, decl[1], decl[2])


def _any_in(raw: Any, ctx: ViewContext | None) -> AnyContent:
    if not isinstance(raw, dict) or set(raw) - {"@attributes", "content"}:
        raise ViewError("undeclared content is an object with @attributes and content")
    attributes = raw.get("@attributes", {})
    if not isinstance(attributes, dict):
        raise ViewError("@attributes must be an object")
    attrs = tuple((_unclark(k), str(v)) for k, v in attributes.items())
    return AnyContent(attrs, tuple(_items_in(raw.get("content", []), {}, True, ctx)))


def _items_in(raw: Any, children: dict[str, str], wildcard: bool, ctx: ViewContext | None) -> list[Any]:
    if not isinstance(raw, list):
        raise ViewError("content must be an array")
    out: list[Any] = []
    for item in raw:
        if isinstance(item, str):
            out.append(item)
            continue
        if not isinstance(item, dict) or len(item) != 1:
            raise ViewError("each content item must be a string or an object with one member")
        ((name, value),) = item.items()
        try:
            if name.startswith("{"):
                if not wildcard:
                    raise ViewError(f"element {name} is not allowed in this content (no wildcard)")
                q = _unclark(name)
                out.append(Wild(q, _value_in(value, _element_decl(ctx, q), ctx)))
                continue
            lex = children.get(name)
            if lex is None:
                raise ViewError(f"element {name} is not allowed in this content")
            out.append((name, _value_in(value, _child_decl(lex), ctx)))
        except ViewError as exc:
            raise exc.within(name) from None
    return out


def _obj_in(cls: type, data: Any, ctx: ViewContext | None) -> Any:
    if not isinstance(data, dict):
        raise ViewError(f"expected an object for {cls.__name__}, got {type(data).__name__}")
    kwargs: dict[str, Any] = {}
    known = set()
    for f in fields_of(cls):
        if f.kind == "content":
            known.add("content")
            kwargs[f.name] = tuple(_items_in(data.get("content", []), f.children, f.wildcard, ctx))
            continue
        known.add(f.xsd)
        if f.xsd not in data:
            if f.repeated:
                kwargs[f.name] = ()
            elif f.optional:
                kwargs[f.name] = None
            continue
        raw = data[f.xsd]
        try:
            if f.kind in ("attribute", "value"):
                kwargs[f.name] = lexical_in(raw, f.lexical, f.type)
            elif f.repeated:
                raw_items = raw if isinstance(raw, list) else [raw]
                kwargs[f.name] = tuple(_value_in(x, _field_decl(f), ctx) for x in raw_items)
            else:
                kwargs[f.name] = _value_in(raw, _field_decl(f), ctx)
        except ViewError as exc:
            raise exc.within(f.xsd) from None
    extra = set(data) - known
    if extra:
        raise ViewError(f"unknown member(s) {', '.join(sorted(extra))} for {cls.__name__}")
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ViewError(f"{cls.__name__}: {exc}") from None
