"""Values the binding classes cannot express by their fields alone: wildcard content and explicit type casts.

* :class:`Wild` — an element matched by a wildcard (``xs:any``, xmldsig only), or one a tolerant decoder met where
  the schema declares none. Its value is a binding object (or simple value) when the schema set declares a global
  element of that name or the element carries ``xsi:type``; otherwise :class:`AnyContent`.
* :class:`AnyContent` — the content of an element the schema set does not declare: attributes and children in
  order, text as ``str`` (EXI codes it with the ``xs:anyType`` grammar, EXI 1.0 §8.5.4.1.3 / the ISO profile's
  ``xsi:type`` insertion).
* :class:`TypeCast` — ``xsi:type`` that a value's class cannot show: a cast to the declared type itself, to a
  simple type, or to a type whose class is the declared one. A cast to a *derived* complex type needs no wrapper:
  an instance of the derived type's class in the field is that cast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exi.model import QName

__all__ = ["AnyContent", "TypeCast", "Wild"]


@dataclass(frozen=True, slots=True)
class Wild:
    """An element matched by a wildcard: its qualified name ``(namespace, local name)`` and its value."""

    name: QName
    value: Any


@dataclass(frozen=True, slots=True)
class AnyContent:
    """Content of an undeclared element: attributes ``((namespace, local), text)`` and items (text or Wild).

    EXI codes the attributes in qname order (local name, then namespace), so they decode in that order.
    """

    attributes: tuple[tuple[QName, str], ...] = ()
    content: tuple[str | Wild, ...] = ()


@dataclass(frozen=True, slots=True)
class TypeCast:
    """A value written with ``xsi:type`` naming ``type`` (a qualified type name)."""

    type: QName
    value: Any
