"""Helpers of the differential tests: XML for the oracle, and parsing its answers back into objects."""

from __future__ import annotations

from typing import Any

from lxml import etree

from exi.grammar import Member
from exi.model import QName
from exi.views import from_xml, text_of, to_xml, value_of_text

__all__ = ["object_from_xml", "xml_bytes"]


def xml_bytes(value: Any, root: QName, member: Member) -> bytes:
    """The XML document of a value (complex or simple-typed root)."""
    if member.type_key is not None:
        el = to_xml(value, root)
    else:
        assert member.datatype is not None
        el = etree.Element(f"{{{root[0]}}}{root[1]}" if root[0] else root[1])
        el.text = text_of(value, member.datatype.lexical)
    return etree.tostring(el)


def object_from_xml(xml: bytes, cls: Any, member: Member) -> Any:
    """Parse the oracle's XML back into a value of the same kind."""
    el = etree.fromstring(xml)
    if member.type_key is not None:
        return from_xml(cls, el)
    assert member.datatype is not None
    return value_of_text(el.text or "", member.datatype.lexical)
