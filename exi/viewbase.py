"""What the JSON and XML views share: field metadata, simple values' lexical forms, the schema set's context.

A binding class's fields carry their XSD identity in ``dataclasses.field(metadata=...)`` (see
:mod:`exi.codegen_classes`); :func:`fields_of` reads it once per class. :class:`ViewContext` adds what the class
metadata cannot say: the prefixes of the set's namespaces, and which class or simple type a qualified type or
element name stands for — what an ``xsi:type`` attribute or a wildcard's element resolves to.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import importlib
from collections.abc import Mapping
from functools import cache
from typing import Any

from exi.errors import ExiError
from exi.model import XS, QName
from exi.tables import ANY_TYPE, SchemaTables

__all__ = [
    "ANY_TYPE",
    "XSI_TYPE",
    "Field",
    "ViewContext",
    "ViewError",
    "fields_of",
    "lexical_in",
    "lexical_out",
    "resolve",
    "same_type",
    "text_of",
    "value_of_text",
]

XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSI_TYPE = f"{{{XSI}}}type"


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
class Field:
    name: str
    xsd: str
    ns: str
    kind: str
    lexical: str
    type: str
    repeated: bool
    optional: bool
    children: dict[str, str]
    wildcard: bool


_FIELD_CACHE: dict[type, tuple[Field, ...]] = {}


def fields_of(cls: type) -> tuple[Field, ...]:
    cached = _FIELD_CACHE.get(cls)
    if cached is not None:
        return cached
    out = []
    for f in dataclasses.fields(cls):
        m = f.metadata
        if "xsd" not in m:
            continue
        out.append(
            Field(
                f.name,
                m["xsd"],
                m["ns"],
                m["kind"],
                m["lexical"],
                m.get("type", ""),
                bool(m.get("repeated")),
                bool(m.get("optional")),
                dict(m.get("children", {})),
                bool(m.get("wildcard")),
            )
        )
    result = _FIELD_CACHE[cls] = tuple(out)
    return result


@cache
def resolve(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


# ---- simple values ------------------------------------------------------------------------------------


def lexical_out(value: Any, lexical: str) -> Any:
    """Python value -> JSON value."""
    if lexical == "hex":
        return bytes(value).hex().upper()
    if lexical == "base64":
        return base64.b64encode(bytes(value)).decode("ascii")
    if lexical == "enum":
        return str(value)
    return value


def lexical_in(value: Any, lexical: str, ref: str | tuple[Any, ...]) -> Any:
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
        members = ref if isinstance(ref, tuple) else tuple(resolve(ref))
        for member in members:
            if member == value:
                return member
        raise ViewError(f"{value!r} is not an allowed value")
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


def value_of_text(text: str, lexical: str, ref: str | tuple[Any, ...] = "") -> Any:
    """Parse the XML lexical form of a simple value (``ref`` names the enum class of an enumeration, or lists
    its members)."""
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
        return lexical_in("".join(text.split()), lexical, ref)
    if lexical in ("hex", "enum"):
        return lexical_in(text.strip(), lexical, ref)
    return text


# ---- the schema set's context -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ViewContext:
    """What a view needs to know about a schema set beyond the classes: prefixes, types and global elements.

    ``types`` maps a named complex type to its class, ``simple`` a named simple type to its datatype row (see
    :mod:`exi.streamio`; the lexical form is its last item), ``elements`` a global element to its class or datatype
    row.
    """

    prefixes: Mapping[str, str]
    types: Mapping[QName, type]
    simple: Mapping[QName, tuple[Any, ...]]
    elements: Mapping[QName, Any]

    @classmethod
    def of(cls, tables: SchemaTables, prefixes: Mapping[str, str]) -> ViewContext:
        """The context of a codec module's tables and prefixes."""
        t = tables.ready()
        types = {tt.name: tt.cls for tt in t.types if tt.named}
        simple = {name: entry[1] for name, entry in t.simple.items()}
        elements = {name: (t.types[ref].cls if isinstance(ref, int) else ref[0]) for name, ref in t.document}
        return cls(dict(prefixes), types, simple, elements)

    def prefix(self, namespace: str) -> str | None:
        """The prefix of a namespace in the view (``xs`` for XML Schema's built-ins)."""
        if namespace == XS:
            return "xs"
        return self.prefixes.get(namespace)


def same_type(value: Any, cls: type) -> bool:
    """True when ``value`` is an object of ``cls``'s type (its class, or an element-named subclass of it)."""
    return type(value) is cls or getattr(type(value), "__exi_type__", None) == getattr(cls, "__exi_type__", ())


def dt_text(value: Any, dt: tuple[Any, ...]) -> str:
    """The lexical form of a value of a datatype row."""
    return text_of(value, dt[9])


def dt_value(text: str, dt: tuple[Any, ...]) -> Any:
    """Parse a value of a datatype row from its lexical form."""
    return value_of_text(text, dt[9], dt[8] or "")
