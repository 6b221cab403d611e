"""The general coder against recorded EXIficient streams: casts, wildcards, and every kind of schema deviation.

* ``casts_and_wildcards.json``: the messages of :mod:`tests.exi.general_shapes` encode to EXIficient's bytes and
  decode back, and their XML view is what the oracle read (``xsi:type`` with the conventional prefixes);
* ``exificient_deviations.json``: SupportedAppProtocol streams EXIficient wrote for schema-invalid XML (an untyped
  value, an empty integer, an undeclared element, attribute or text, an unknown ``xsi:type``, ``xsi:nil``, a missing
  element): strict decoding refuses each naming the element path and bit, tolerant decoding reports the same.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from exi.errors import DecodeError, EncodeError
from exi.values import AnyContent, TypeCast, Wild
from exi.views import from_xml, to_xml
from iso15118.codec import codec_for
from iso15118.messages.generated import app_protocol as sap
from iso15118.messages.generated import xmldsig as ds
from tests.exi.general_shapes import shapes

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "exi"


def _json(name: str) -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads((VECTORS / name).read_text())["vectors"]
    return vectors


@pytest.mark.parametrize(("shape", "vector"), list(zip(shapes(), _json("casts_and_wildcards.json"), strict=True)),
                         ids=lambda x: x[0] if isinstance(x, tuple) else "")  # fmt: skip
def test_casts_and_wildcards_encode_to_exificient_bytes(shape: tuple[Any, ...], vector: dict[str, Any]) -> None:
    label, schema, _oracle, root, value = shape
    assert vector["name"] == label
    codec = codec_for(schema)
    data = bytes.fromhex(vector["hex"])
    assert codec.encode(value, root) == data
    assert codec.decode(data) == value
    xml = etree.tostring(to_xml(value, root, codec.view_context())).decode()
    assert xml == vector["xml"]
    assert from_xml(type(value), etree.fromstring(xml), codec.view_context()) == value


def test_the_xml_view_of_a_cast_uses_the_schemas_prefixes() -> None:
    label, schema, _oracle, root, value = shapes()[0]
    xml = etree.tostring(to_xml(value, root, codec_for(schema).view_context())).decode()
    assert '<v2gci_t:EVChargeParameter xsi:type="v2gci_t:DC_EVChargeParameterType">' in xml, label
    assert xml.startswith("<v2gci_d:V2G_Message ")


@pytest.mark.parametrize("vector", _json("exificient_deviations.json"), ids=lambda v: str(v["name"]))
def test_exificient_deviations_strict_and_tolerant(vector: dict[str, Any]) -> None:
    codec = codec_for("appprotocol")
    data = bytes.fromhex(vector["hex"])
    first = vector["deviations"][0]
    with pytest.raises(DecodeError) as info:
        codec.decode_document(data)
    assert "/" + "/".join(info.value.path) == first["path"] and info.value.bit_offset == first["bit_offset"]
    assert first["kind"] in str(info.value)
    assert info.value.tolerated is not None
    doc = codec.decode_document(data, tolerant=True)
    got = [{"path": "/" + "/".join(d.path), "bit_offset": d.bit_offset, "kind": str(d.kind)} for d in doc.deviations]
    assert got == vector["deviations"]


def test_tolerant_readings_keep_what_the_message_says() -> None:
    codec = codec_for("appprotocol")
    by_name = {v["name"]: bytes.fromhex(v["hex"]) for v in _json("exificient_deviations.json")}
    untyped = codec.decode_document(by_name["untyped value (VersionNumberMajor 'abc')"], tolerant=True).value
    assert untyped.app_protocol[0].version_number_major == "abc"  # the string, as the deviation says
    missing = codec.decode_document(by_name["missing required element (no Priority)"], tolerant=True).value
    assert missing.app_protocol[0].priority is None and missing.app_protocol[0].schema_id == 1
    extra = codec.decode_document(by_name["undeclared element x:foo in AppProtocol"], tolerant=True).value
    assert isinstance(extra, sap.supportedAppProtocolReq) and extra.app_protocol[0].protocol_namespace == "a"


def test_the_encoder_refuses_what_the_schema_does_not_allow() -> None:
    codec = codec_for("xmldsig")
    strict = ds.SignatureMethod(algorithm="a", content=(Wild(("urn:x", "undeclared"), AnyContent()),))
    with pytest.raises(EncodeError, match="strict"):
        codec.encode(strict)
    other = ds.Transform(algorithm="a", content=(Wild(("http://www.w3.org/2000/09/xmldsig#", "Foo"), AnyContent()),))
    with pytest.raises(EncodeError, match="does not admit namespace"):
        codec.encode(other)
    not_derived = ds.Signature(
        signed_info=TypeCast(("http://www.w3.org/2000/09/xmldsig#", "KeyInfoType"), ds.KeyInfo(content=("x",))),
        signature_value=ds.SignatureValue(value=b""),
    )
    with pytest.raises(EncodeError, match="not derived"):
        codec.encode(not_derived)
