"""Helpers of the differential tests: the comparison with EXIficient, the XML it reads, and what a batch covered.

:func:`compare` sends a batch of messages of one schema set to the oracle and checks, for every message, the
encoder/decoder agreement property: our bytes equal the oracle's; our decoder reads our bytes and the oracle's bytes
as the same message, the one we started from; and the oracle reads our bytes as that message too.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from lxml import etree

from exi.grammar import Member
from exi.model import QName
from exi.values import AnyContent, TypeCast, Wild
from exi.viewbase import ViewContext, fields_of, resolve, same_type, text_of, value_of_text
from exi.views import from_xml, to_xml
from iso15118.codec import codec_for
from tests.exi.boundaries import Item
from tests.support.exigen import Walker
from tests.support.oracle import ExiOracle, Op, OracleRequest

__all__ = ["ORACLE_SCHEMA", "compare", "features", "object_from_xml", "xml_bytes"]

#: Our schema-set names -> the oracle's.
ORACLE_SCHEMA = {
    "appprotocol": "appprotocol",
    "iso20_common": "iso20-common",
    "iso20_ac": "iso20-ac",
    "iso20_dc": "iso20-dc",
    "iso20_wpt": "iso20-wpt",
    "iso20_acdp": "iso20-acdp",
    "xmldsig": "xmldsig",
    "din": "din",
    "iso2": "iso2",
}


def xml_bytes(value: Any, root: QName, member: Member, ctx: ViewContext | None = None) -> bytes:
    """The XML document of a value (complex or simple-typed root)."""
    if member.type_key is not None or isinstance(value, TypeCast):
        return etree.tostring(to_xml(value, root, ctx))
    assert member.datatype is not None
    el = etree.Element(f"{{{root[0]}}}{root[1]}" if root[0] else root[1])
    el.text = text_of(value, member.datatype.lexical)
    return etree.tostring(el)


def object_from_xml(xml: bytes, cls: Any, member: Member, ctx: ViewContext | None = None) -> Any:
    """Parse the oracle's XML back into a value of the same kind."""
    el = etree.fromstring(xml)
    if member.type_key is not None:
        return from_xml(cls, el, ctx)
    assert member.datatype is not None
    if el.get("{http://www.w3.org/2001/XMLSchema-instance}type") is not None:
        return from_xml(type("Root", (), {}), el, ctx)  # a cast root: the reader resolves xsi:type
    return value_of_text(el.text or "", member.datatype.lexical)


def _root_class(item: Item, codec: Any) -> type | None:
    rows = codec.module.FRAGMENT if item.fragment else codec.module.DOCUMENT
    return next((r[4] for r in rows if (r[0], r[1]) == item.root and isinstance(r[4], type)), None)


def _as_root(item: Item, codec: Any) -> Item:
    """The item with its value of the root element's own class: a global element sharing its type with another
    one has an element-named subclass, which is what decoding it yields."""
    cls = _root_class(item, codec)
    value = item.value
    if cls is None or type(value) is cls or type(value) not in cls.__mro__:
        return item
    fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return dataclasses.replace(item, value=cls(**fields))


def compare(name: str, items: list[Item], oracle: ExiOracle, walker: Walker) -> list[str]:
    """Every item through both codecs; returns a description of each disagreement."""
    codec = codec_for(name)
    items = [_as_root(i, codec) for i in items]
    ctx = codec.view_context()
    schema = ORACLE_SCHEMA[name]
    ours = [codec.encode_fragment(i.value, i.root) if i.fragment else codec.encode(i.value, i.root) for i in items]
    xmls = [xml_bytes(i.value, i.root, i.member, ctx) for i in items]
    theirs = oracle.batch(
        [
            OracleRequest(op=Op.ENCODE, schema=schema, data=x, fragment=i.fragment)
            for x, i in zip(xmls, items, strict=True)
        ]
    )
    back = oracle.batch(
        [
            OracleRequest(op=Op.DECODE, schema=schema, data=b, fragment=i.fragment)
            for b, i in zip(ours, items, strict=True)
        ]
    )
    problems = []
    for item, mine, enc, dec in zip(items, ours, theirs, back, strict=True):
        label = item.label
        if not enc.ok or enc.data != mine:
            problems.append(f"{label}: ours {mine.hex()} oracle {enc.data.hex() if enc.data else enc.error}")
            continue
        read = codec.decode_fragment if item.fragment else codec.decode_document
        if read(mine).value != item.value or read(enc.unwrap()).value != item.value:
            problems.append(f"{label}: our decoder reads ours and the oracle's bytes differently from the message")
            continue
        if not dec.ok:
            problems.append(f"{label}: oracle cannot decode ours: {dec.error}")
            continue
        cls = _root_class(item, codec) or (walker.cls(item.member.type_key) if item.member.type_key else None)
        if object_from_xml(dec.unwrap(), cls, item.member, ctx) != item.value:
            problems.append(f"{label}: oracle decodes ours to a different message")
    return problems


def features(value: Any, declared: Any = None) -> Counter[str]:
    """What a message holds beyond plain fields: casts (``xsi:type``), wildcard elements, mixed text."""
    found: Counter[str] = Counter()
    if isinstance(value, TypeCast):
        found["xsi:type"] += 1
        return found + features(value.value)
    if isinstance(value, Wild):
        found["wildcard"] += 1
        return found + features(value.value)
    if isinstance(value, AnyContent):
        for item in value.content:
            found += features(item) if not isinstance(item, str) else Counter({"mixed text": 1})
        return found
    if not dataclasses.is_dataclass(value):
        return found
    if declared is not None and not same_type(value, declared):
        found["xsi:type"] += 1
    for f in fields_of(type(value)):
        v = getattr(value, f.name)
        if v is None or f.kind in ("attribute", "value"):
            continue
        if f.kind == "content":
            for item in v:
                if isinstance(item, str):
                    found["mixed text"] += 1
                else:
                    found += features(item[1] if isinstance(item, tuple) else item)
            continue
        decl = resolve(f.type) if f.lexical == "complex" else None
        for x in v if f.repeated else (v,):
            found += features(x, decl)
    return found
