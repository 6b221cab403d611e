"""Message encoding and decoding: the V2GTP payload type chooses the schema set and its grammar.

::

    data = encode_message(SessionSetupReq(header=..., evcc_id="..."))     # EXI bytes (0x80 ...)
    msg = decode_message(data, PayloadType.ISO20_COMMON)                 # -> SessionSetupReq
    payload_type_of(msg)                                                 # -> PayloadType.ISO20_COMMON

Codecs are generated Python (see :mod:`exi.codegen_codec`), imported on first use and cached. Every
failure is a :class:`~iso15118.errors.MessageEncodeError` / :class:`~iso15118.errors.MessageDecodeError`
that names the element path and the bit offset (decoding) or the offending value (encoding).
The XML and JSON views (:func:`to_xml`, :func:`from_xml`, :func:`to_json`, :func:`from_json`) are lossless.
"""

from __future__ import annotations

import importlib
import json
from functools import cache
from typing import Any

from lxml import etree

from exi.deviations import Deviation as SchemaDeviation
from exi.document import Codec, Document
from exi.errors import DecodeError, EncodeError
from exi.views import ViewError
from exi.views import from_json as _from_json
from exi.views import from_xml as _from_xml
from exi.views import to_json as _to_json
from exi.views import to_xml as _to_xml
from iso15118.codec.schemasets import PAYLOAD_SETS, SCHEMA_ALIASES, SET_NAMES
from iso15118.constants import PayloadType
from iso15118.errors import CodecError, MessageDecodeError, MessageEncodeError

__all__ = [
    "SchemaDeviation",
    "SchemaDeviationError",
    "codec_for",
    "decode_as",
    "decode_document",
    "decode_message",
    "encode_fragment",
    "encode_message",
    "from_json",
    "from_xml",
    "payload_type_of",
    "schema_for_namespace",
    "schema_of",
    "to_json",
    "to_xml",
]

_NS_SET = {
    "urn:iso:15118:2:2010:AppProtocol": "appprotocol",
    "urn:iso:std:iso:15118:-20:CommonMessages": "iso20_common",
    "urn:iso:std:iso:15118:-20:CommonTypes": "iso20_common",
    "urn:iso:std:iso:15118:-20:AC": "iso20_ac",
    "urn:iso:std:iso:15118:-20:DC": "iso20_dc",
    "urn:iso:std:iso:15118:-20:WPT": "iso20_wpt",
    "urn:iso:std:iso:15118:-20:ACDP": "iso20_acdp",
    "http://www.w3.org/2000/09/xmldsig#": "xmldsig",
    "urn:din:70121:2012:MsgDef": "din",
    "urn:iso:15118:2:2013:MsgDef": "iso2",
}
_SET_PAYLOAD = {
    "appprotocol": PayloadType.SAP,
    "iso20_common": PayloadType.ISO20_COMMON,
    "iso20_ac": PayloadType.ISO20_AC,
    "iso20_dc": PayloadType.ISO20_DC,
    "iso20_wpt": PayloadType.ISO20_WPT,
    "iso20_acdp": PayloadType.ISO20_ACDP,
    "din": PayloadType.SAP,
    "iso2": PayloadType.SAP,
}


def _set_name(schema: str) -> str:
    name = SCHEMA_ALIASES.get(schema, schema)
    if name not in SET_NAMES:
        choices = ", ".join(SCHEMA_ALIASES)
        raise CodecError(f"unknown schema {schema!r} (one of: {choices})")
    return name


@cache
def codec_for(schema: str) -> Codec:
    """The codec of a schema set, by set name (``iso20_ac``) or CLI alias (``iso20-ac``)."""
    name = _set_name(schema)
    return Codec(importlib.import_module(f"iso15118.codec.generated.{name}"))


def schema_of(msg: object) -> str:
    """The schema set a message class belongs to (from its XSD namespace)."""
    ns = getattr(type(msg), "__exi_type__", ("", ""))[0]
    name = _NS_SET.get(ns)
    if name is None:
        raise MessageEncodeError(f"{type(msg).__name__} is not a message class of a known schema set", value=msg)
    return name


def payload_type_of(msg: object) -> PayloadType:
    """The V2GTP payload type that carries a message (0x8001 SAP ... 0x8006 WPT)."""
    name = schema_of(msg)
    if name not in _SET_PAYLOAD:
        raise MessageEncodeError(f"{type(msg).__name__} is not carried in a V2GTP payload of its own", value=msg)
    return _SET_PAYLOAD[name]


def _encode_error(exc: EncodeError) -> MessageEncodeError:
    return MessageEncodeError(exc.reason, path=exc.path, value=exc.value, detail=str(exc))


class SchemaDeviationError(MessageDecodeError):
    """A stream that deviates from its schema in a way EXIficient writes: refused in strict mode, readable tolerantly.

    The non-strict EXI profile reserves undeclared productions (:mod:`exi.deviations`), and EXIficient codes
    schema-invalid content with them, e.g. Josev's FAILED responses with an empty list where one element is
    required. ``message`` is the tolerant reading and ``deviations`` what deviates (element path, bit offset);
    ``path`` and ``bit_offset`` name the first deviation.
    """

    def __init__(self, reason: str, *, message: Any, deviations: tuple[SchemaDeviation, ...], **kw: Any) -> None:
        super().__init__(reason, **kw)
        self.message = message
        self.deviations = deviations


def _decode_error(exc: DecodeError, data: bytes, codec: Codec | None = None) -> MessageDecodeError:
    tolerated = exc.tolerated
    if tolerated is None and codec is not None:
        # Refused by the specialised decoder (a facet): the tolerant reading, if there is one, goes with the error.
        try:
            tolerated = codec.decode_document(data, tolerant=True)
        except DecodeError:
            tolerated = None
    if isinstance(tolerated, Document) and tolerated.deviations:
        return SchemaDeviationError(
            exc.reason,
            path=exc.path,
            bit_offset=exc.bit_offset,
            detail=str(exc),
            message=tolerated.value,
            deviations=tolerated.deviations,
        )
    return MessageDecodeError(exc.reason, path=exc.path, bit_offset=exc.bit_offset, detail=str(exc))


def encode_message(msg: object, *, schema: str | None = None, root: str | None = None) -> bytes:
    """Encode a message as an EXI document of its schema set (or ``schema``)."""
    codec = codec_for(schema or schema_of(msg))
    try:
        return codec.encode(msg, root)
    except EncodeError as exc:
        raise _encode_error(exc) from None


def encode_fragment(obj: object, schema: str, root: str | None = None) -> bytes:
    """Encode an element as an EXI fragment of a schema set (what XML signature digests are taken over)."""
    try:
        return codec_for(schema).encode_fragment(obj, root)
    except EncodeError as exc:
        raise _encode_error(exc) from None


def decode_document(data: bytes, schema: str, *, tolerant: bool = False) -> Document:
    """Decode an EXI document of a schema set: its root element name and value.

    Strict (the default) raises :class:`SchemaDeviationError` for a schema deviation; ``tolerant`` returns the
    document with the deviations in :attr:`Document.deviations`.
    """
    codec = codec_for(schema)
    try:
        return codec.decode_document(data, tolerant=tolerant)
    except DecodeError as exc:
        raise _decode_error(exc, data, codec) from None


def decode_message(data: bytes, payload_type: int) -> Any:
    """Decode a V2GTP payload: the payload type chooses the grammar (0x8001 SAP, 0x8002 common, ...).

    A schema deviation raises :class:`SchemaDeviationError`, which carries the tolerant reading.
    """
    try:
        schema = PAYLOAD_SETS[PayloadType(payload_type)]
    except (ValueError, KeyError):
        raise MessageDecodeError(f"payload type 0x{payload_type:04x} does not carry an EXI message") from None
    codec = codec_for(schema)
    try:
        return codec.decode(data)  # the value only: no Document to build
    except DecodeError as exc:
        raise _decode_error(exc, data, codec) from None


def decode_as(data: bytes, schema: str) -> Any:
    """Decode an EXI document of a schema set, the value only (DIN 70121 and ISO 15118-2 share payload type
    0x8001 with SupportedAppProtocol: the negotiated protocol, not the payload type, chooses the grammar)."""
    try:
        return codec_for(schema).decode(data)
    except DecodeError as exc:
        raise _decode_error(exc, data) from None


def to_json(msg: object, *, schema: str | None = None) -> dict[str, Any]:
    """The JSON view ``{root element: {...}}`` of a message (Josev-style conventions)."""
    codec = codec_for(schema or schema_of(msg))
    root = codec.root_for(msg)
    result: dict[str, Any] = _to_json(msg, root[1], codec.view_context())
    return result


def from_json(data: dict[str, Any] | str, schema: str) -> Any:
    """Build a message from its JSON view (a dict or JSON text) ``{root element: {...}}``."""
    try:
        doc = json.loads(data) if isinstance(data, str) else data
    except json.JSONDecodeError as exc:
        raise CodecError(f"invalid JSON: {exc}") from None
    if not isinstance(doc, dict) or len(doc) != 1:
        raise CodecError("the JSON view is an object with exactly one member: the root element")
    ((root, body),) = doc.items()
    codec = codec_for(schema)
    cls = _class_of_root(codec, root)
    try:
        return _from_json(cls, body, codec.view_context())
    except ViewError as exc:
        raise CodecError(str(exc.within(root))) from None


def _class_of_root(codec: Codec, root: str) -> type:
    for row in codec.module.DOCUMENT:
        if row[1] == root and isinstance(row[4], type):
            cls: type = row[4]
            return cls
    raise CodecError(f"{root} is not a global element with a complex type in schema set {codec.name}")


def to_xml(msg: object, *, schema: str | None = None, pretty: bool = True) -> str:
    """The XML view of a message (valid against the XSDs)."""
    codec = codec_for(schema or schema_of(msg))
    el = _to_xml(msg, codec.root_for(msg), codec.view_context())
    return etree.tostring(el, pretty_print=pretty, encoding="unicode")


def from_xml(text: str | bytes, schema: str | None = None) -> Any:
    """Build a message from its XML view; ``schema`` may be omitted when the root's namespace says it."""
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        root = etree.fromstring(text.encode() if isinstance(text, str) else text, parser)
    except etree.XMLSyntaxError as exc:
        raise CodecError(f"invalid XML: {exc}") from None
    q = etree.QName(root)
    name = schema or _NS_SET.get(q.namespace or "")
    if name is None:
        raise CodecError(f"cannot tell the schema set from namespace {q.namespace!r}; give --schema")
    codec = codec_for(name)
    cls = _class_of_root(codec, q.localname)
    try:
        return _from_xml(cls, root, codec.view_context())
    except ViewError as exc:
        raise CodecError(str(exc.within(q.localname))) from None


def schema_for_namespace(namespace: str) -> str | None:
    """The schema set whose documents have a root element in ``namespace`` (None if unknown)."""
    return _NS_SET.get(namespace)
