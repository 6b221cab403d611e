"""Lossless JSON and XML views of binding objects, driven by the field metadata of the generated classes.

JSON follows the convention of Josev and the shared test vectors: element and attribute local names as
keys in schema order, repeated elements as arrays, absent optional items omitted, hexBinary as
upper-case hex, base64Binary as base64, enumerations as their string value, simple content under
``"value"``. Generic content (mixed / wildcard types, xmldsig only) is a ``"content"`` array of strings
and single-key objects.

XML uses lxml; element and attribute names are qualified as the schema declares them.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import importlib
from functools import cache
from typing import Any

from lxml import etree

from exi.errors import ExiError

__all__ = ["ViewError", "from_json", "from_xml", "text_of", "to_json", "to_xml", "value_of_text"]


class ViewError(ExiError):
    """A JSON or XML document does not match the binding classes (names the path and the problem)."""

    def __init__(self, reason: str, path: list[str] | None = None) -> None:
        self.reason = reason
        self.path = list(path or [])
        super().__init__(reason)

    def within(self, name: str) -> ViewError:
        self.path.insert(0, name)
        return self

    def __str__(self) -> str:
        return f"/{'/'.join(self.path)}: {self.reason}"


@dataclasses.dataclass(frozen=True)
class _Field:
    name: str
    xsd: str
    ns: str
    kind: str
    lexical: str
    type: str
    repeated: bool
    optional: bool
    children: dict[str, str]


_FIELD_CACHE: dict[type, tuple[_Field, ...]] = {}


def _fields(cls: type) -> tuple[_Field, ...]:
    cached = _FIELD_CACHE.get(cls)
    if cached is not None:
        return cached
    out = []
    for f in dataclasses.fields(cls):
        m = f.metadata
        if "xsd" not in m:
            continue
        out.append(
            _Field(
                f.name,
                m["xsd"],
                m["ns"],
                m["kind"],
                m["lexical"],
                m.get("type", ""),
                bool(m.get("repeated")),
                bool(m.get("optional")),
                dict(m.get("children", {})),
            )
        )
    result = _FIELD_CACHE[cls] = tuple(out)
    return result


@cache
def _resolve(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


# ---- simple values ------------------------------------------------------------------------------------


def _lexical_out(value: Any, lexical: str) -> Any:
    """Python value -> JSON value."""
    if lexical == "hex":
        return bytes(value).hex().upper()
    if lexical == "base64":
        return base64.b64encode(bytes(value)).decode("ascii")
    if lexical == "enum":
        return str(value)
    return value


def _lexical_in(value: Any, lexical: str, ref: str) -> Any:
    """JSON value -> Python value."""
    if lexical == "hex":
        if not isinstance(value, str):
            raise ViewError(f"expected a hex string, got {value!r}")
        try:
            return bytes.fromhex(value)
        except ValueError:
            raise ViewError(f"invalid hexBinary {value!r}") from None
    if lexical == "base64":
        if not isinstance(value, str):
            raise ViewError(f"expected a base64 string, got {value!r}")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ViewError(f"invalid base64Binary {value!r}") from None
    if lexical == "enum":
        try:
            return _resolve(ref)(value)
        except ValueError:
            raise ViewError(f"{value!r} is not an allowed value") from None
    if lexical == "boolean":
        if not isinstance(value, bool):
            raise ViewError(f"expected true or false, got {value!r}")
        return value
    if lexical == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ViewError(f"expected an integer, got {value!r}")
        return value
    if not isinstance(value, str):
        raise ViewError(f"expected a string, got {value!r}")
    return value


def text_of(value: Any, lexical: str) -> str:
    """The XML lexical form of a simple value (``lexical``: boolean, integer, string, hex, base64, enum)."""
    if lexical == "boolean":
        return "true" if value else "false"
    if lexical == "hex":
        return bytes(value).hex().upper()
    if lexical == "base64":
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)


def value_of_text(text: str, lexical: str, ref: str = "") -> Any:
    """Parse the XML lexical form of a simple value (``ref`` names the enum class of an enumeration)."""
    if lexical == "boolean":
        t = text.strip()
        if t in ("true", "1"):
            return True
        if t in ("false", "0"):
            return False
        raise ViewError(f"invalid boolean {text!r}")
    if lexical == "integer":
        try:
            return int(text.strip())
        except ValueError:
            raise ViewError(f"invalid integer {text!r}") from None
    if lexical == "base64":
        return _lexical_in("".join(text.split()), lexical, ref)
    if lexical in ("hex", "enum"):
        return _lexical_in(text.strip(), lexical, ref)
    return text


# ---- JSON ---------------------------------------------------------------------------------------------


def to_json(value: Any, root: str | None = None) -> Any:
    """The JSON-able view of a binding object (``{root: ...}`` when ``root`` is given)."""
    body = _obj_to_json(value) if dataclasses.is_dataclass(value) else value
    return {root: body} if root is not None else body


def _obj_to_json(obj: Any) -> Any:
    out: dict[str, Any] = {}
    for f in _fields(type(obj)):
        v = getattr(obj, f.name)
        if v is None:
            continue
        if f.kind == "content":
            items: list[Any] = []
            for item in v:
                if isinstance(item, str):
                    items.append(item)
                else:
                    name, child = item
                    lex = f.children.get(name, "string")
                    items.append(
                        {
                            name: _obj_to_json(child)
                            if ":" in lex and dataclasses.is_dataclass(child)
                            else _lexical_out(child, lex)
                        }
                    )
            if items:
                out["content"] = items
            continue
        if f.repeated:
            if not v:
                continue
            out[f.xsd] = [_value_to_json(x, f) for x in v]
        else:
            out[f.xsd] = _value_to_json(v, f)
    return out


def _value_to_json(v: Any, f: _Field) -> Any:
    return _obj_to_json(v) if f.lexical == "complex" else _lexical_out(v, f.lexical)


def from_json(cls: type, data: Any) -> Any:
    """Build a binding object of class ``cls`` from its JSON view (raises :class:`ViewError`)."""
    if not isinstance(data, dict):
        raise ViewError(f"expected an object for {cls.__name__}, got {type(data).__name__}")
    kwargs: dict[str, Any] = {}
    known = set()
    for f in _fields(cls):
        if f.kind == "content":
            known.add("content")
            kwargs[f.name] = tuple(_content_from_json(data.get("content", []), f))
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
            if f.repeated:
                if not isinstance(raw, list):
                    raw = [raw]
                kwargs[f.name] = tuple(_value_from_json(x, f) for x in raw)
            else:
                kwargs[f.name] = _value_from_json(raw, f)
        except ViewError as exc:
            raise exc.within(f.xsd) from None
    extra = set(data) - known
    if extra:
        raise ViewError(f"unknown member(s) {', '.join(sorted(extra))} for {cls.__name__}")
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ViewError(f"{cls.__name__}: {exc}") from None


def _value_from_json(raw: Any, f: _Field) -> Any:
    if f.lexical == "complex":
        return from_json(_resolve(f.type), raw)
    return _lexical_in(raw, f.lexical, f.type)


def _content_from_json(raw: Any, f: _Field) -> list[Any]:
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
        lex = f.children.get(name)
        if lex is None:
            raise ViewError(f"element {name} is not allowed in this content")
        out.append(
            (
                name,
                from_json(_resolve(lex), value)
                if ":" in lex and lex not in ("enum",) and _is_class_ref(lex)
                else _lexical_in(value, lex, ""),
            )
        )
    return out


def _is_class_ref(lex: str) -> bool:
    return ":" in lex and dataclasses.is_dataclass(_resolve(lex))


# ---- XML ----------------------------------------------------------------------------------------------


def to_xml(value: Any, root: tuple[str, str]) -> etree._Element:
    """The XML element of a binding object, named ``root`` (``(namespace, local name)``)."""
    el = etree.Element(_tag(root))
    _fill(el, value)
    return el


def _tag(q: tuple[str, str]) -> str:
    return f"{{{q[0]}}}{q[1]}" if q[0] else q[1]


def _fill(el: etree._Element, value: Any) -> None:
    if not dataclasses.is_dataclass(value):
        raise ViewError(f"{type(value).__name__} is not a binding object")
    for f in _fields(type(value)):
        v = getattr(value, f.name)
        if v is None:
            continue
        if f.kind == "attribute":
            el.set(_tag((f.ns, f.xsd)), text_of(v, f.lexical))
        elif f.kind == "value":
            el.text = text_of(v, f.lexical)
        elif f.kind == "content":
            last: etree._Element | None = None
            for item in v:
                if isinstance(item, str):
                    if last is None:
                        el.text = (el.text or "") + item
                    else:
                        last.tail = (last.tail or "") + item
                    continue
                name, child = item
                lex = f.children.get(name, "string")
                ns = f.ns or _child_ns(type(value), name)
                last = etree.SubElement(el, _tag((ns, name)))
                _put(last, child, lex)
        else:
            for x in v if f.repeated else (v,):
                child_el = etree.SubElement(el, _tag((f.ns, f.xsd)))
                _put(child_el, x, "complex" if f.lexical == "complex" else f.lexical)


def _child_ns(cls: type, name: str) -> str:
    return str(getattr(cls, "__exi_type__", ("", ""))[0])


def _put(el: etree._Element, value: Any, lexical: str) -> None:
    if dataclasses.is_dataclass(value):
        _fill(el, value)
    else:
        el.text = text_of(value, lexical if ":" not in lexical else "enum")


def from_xml(cls: type, el: etree._Element) -> Any:
    """Build a binding object of class ``cls`` from an XML element (raises :class:`ViewError`)."""
    fields = _fields(cls)
    kwargs: dict[str, Any] = {}
    by_child: dict[tuple[str, str], _Field] = {}
    content_field: _Field | None = None
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
    for child in el:
        if not isinstance(child.tag, str):
            continue
        q = etree.QName(child)
        key = (q.namespace or "", q.localname)
        if content_field is not None:
            lex = content_field.children.get(key[1])
            if lex is None:
                raise ViewError(f"element {key[1]} is not allowed in {cls.__name__}")
            value = from_xml(_resolve(lex), child) if _is_class_ref(lex) else value_of_text(child.text or "", lex, "")
            items.append((key[1], value))
            if child.tail and child.tail.strip():
                items.append(child.tail)
            continue
        found = by_child.get(key)
        if found is None:
            raise ViewError(f"unexpected element {{{key[0]}}}{key[1]} in {cls.__name__}")
        f = found
        try:
            value = (
                from_xml(_resolve(f.type), child)
                if f.lexical == "complex"
                else value_of_text(child.text or "", f.lexical, f.type)
            )
        except ViewError as exc:
            raise exc.within(key[1]) from None
        if f.repeated:
            kwargs[f.name].append(value)
        elif kwargs[f.name] is not None:
            raise ViewError(f"element {key[1]} occurs more than once")
        else:
            kwargs[f.name] = value
    if content_field is not None:
        kwargs[content_field.name] = tuple(items)
    for f in fields:
        if f.repeated and f.kind != "content":
            kwargs[f.name] = tuple(kwargs[f.name])
    missing = [f.xsd for f in fields if kwargs.get(f.name) is None and not f.optional and f.kind != "content"]
    if missing:
        raise ViewError(f"{cls.__name__}: missing required {', '.join(missing)}")
    return cls(**kwargs)
