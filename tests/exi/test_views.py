"""Round-trip properties of the XML and JSON views, and validity of the XML view against the official XSDs.

The random messages carry what the schemas allow beyond plain fields (casts, wildcard and mixed content, every
schema set); the views get the schema set's context, whose prefixes they declare on the root.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from exi.views import ViewError, from_json, from_xml, to_json, to_xml
from iso15118 import codec
from iso15118.errors import CodecError
from iso15118.messages.iso20 import MessageHeader, SessionSetupReq
from tests.support.exidrive import HypothesisDrive
from tests.support.exigen import Walker

SETS = ["appprotocol", "iso20_common", "iso20_ac", "iso20_dc", "iso20_wpt", "iso20_acdp", "xmldsig", "din", "iso2"]
ENTRY = {
    "appprotocol": "V2G_CI_AppProtocol.xsd",
    "iso20_common": "iso15118_20/V2G_CI_CommonMessages.xsd",
    "iso20_ac": "iso15118_20/V2G_CI_AC.xsd",
    "iso20_dc": "iso15118_20/V2G_CI_DC.xsd",
    "iso20_wpt": "iso15118_20/V2G_CI_WPT.xsd",
    "iso20_acdp": "iso15118_20/V2G_CI_ACDP.xsd",
    "xmldsig": "xmldsig-core-schema.xsd",
    "din": "din_spec/V2G_CI_MsgDef.xsd",
    "iso2": "iso15118_2/V2G_CI_MsgDef.xsd",
}


class _ByName(etree.Resolver):  # type: ignore[misc]
    """Resolve schema imports by file name within the XSD folder (the ISO files point at xmldsig wrongly)."""

    def __init__(self, root: Path, folder: Path) -> None:
        super().__init__()
        # DIN and -2 have files of the same names: the entry's own folder wins.
        self.files = {p.name: p for p in root.glob("*.xsd")} | {p.name: p for p in folder.glob("*.xsd")}

    def resolve(self, url: str, pubid: str, context: Any) -> Any:
        name = Path(url).name
        if name in self.files:
            return self.resolve_filename(str(self.files[name]), context)
        return None


@cache
def _schema(xsd_dir: Path, name: str) -> etree.XMLSchema:
    parser = etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False)
    entry = xsd_dir / ENTRY[name]
    parser.resolvers.add(_ByName(xsd_dir, entry.parent))
    return etree.XMLSchema(etree.parse(str(entry), parser))


def test_views_round_trip_and_xml_is_valid(walkers: dict[str, Walker], xsd_dir: Path) -> None:
    roots = [(n, r, m) for n in SETS for r, m in walkers[n].roots() if m.type_key is not None]
    contexts = {n: codec.codec_for(n).view_context() for n in SETS}

    @settings(
        max_examples=600,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.data())
    def check(data: st.DataObject) -> None:
        name, root, member = data.draw(st.sampled_from(roots))
        walker, ctx = walkers[name], contexts[name]
        value = walker.element_value(member, HypothesisDrive(data))
        cls = walker.cls(member.type_key)
        as_json = json.loads(json.dumps(to_json(value, None, ctx, cls)))  # through real JSON text
        assert from_json(cls, as_json, ctx) == value
        element = to_xml(value, root, ctx)
        text = etree.tostring(element)
        assert b"ns0:" not in text or b"urn:v2gstack:test" in text  # conventional prefixes for the set's namespaces
        assert from_xml(cls, etree.fromstring(text), ctx) == value
        schema = _schema(xsd_dir, name)
        assert schema.validate(etree.fromstring(text)), schema.error_log.last_error

    check()


def test_message_level_views() -> None:
    msg = SessionSetupReq(
        header=MessageHeader(session_id=bytes(8), time_stamp=1700000000), evcc_id="WMIV1234567890ABCDEX"
    )
    assert codec.to_json(msg) == {
        "SessionSetupReq": {
            "Header": {"SessionID": "0000000000000000", "TimeStamp": 1700000000},
            "EVCCID": "WMIV1234567890ABCDEX",
        }
    }
    assert codec.from_json(codec.to_json(msg), "iso20_common") == msg
    assert codec.from_xml(codec.to_xml(msg)) == msg  # schema from the root's namespace
    # The bit-exact encoding of exi-codec-guide §6.1 (identical from EXIficient and libcbv2g).
    assert (
        codec.encode_message(msg).hex()
        == "808c040000000000000000080e2cfaa0620b2ba6a4ab1899199a1a9b1b9c1c9820a121a222ac00"
    )


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"SessionSetupReq": {"Header": {"SessionID": "zz", "TimeStamp": 1}, "EVCCID": "x"}}, "invalid hexBinary"),
        ({"SessionSetupReq": {"Header": {"SessionID": "00", "TimeStamp": "1"}, "EVCCID": "x"}}, "expected an integer"),
        ({"SessionSetupReq": {"Header": {"SessionID": "00", "TimeStamp": 1}, "Bogus": 1}}, "unknown member"),
        ({"NoSuchElement": {}}, "not a global element"),
    ],
)
def test_bad_json_is_named(document: dict[str, Any], problem: str) -> None:
    with pytest.raises(CodecError, match=problem):
        codec.from_json(document, "iso20_common")


def test_bad_xml_is_named() -> None:
    with pytest.raises(CodecError, match="invalid XML"):
        codec.from_xml("<not-closed")
    with pytest.raises(CodecError, match="cannot tell the schema set"):
        codec.from_xml("<x xmlns='urn:nothing'/>")
    xml = (
        '<SessionSetupReq xmlns="urn:iso:std:iso:15118:-20:CommonMessages" '
        'xmlns:ct="urn:iso:std:iso:15118:-20:CommonTypes"><ct:Header><ct:SessionID>00</ct:SessionID>'
        "<ct:TimeStamp>x</ct:TimeStamp></ct:Header><EVCCID>a</EVCCID></SessionSetupReq>"
    )
    with pytest.raises(CodecError, match=r"TimeStamp.*invalid integer"):
        codec.from_xml(xml)
    assert issubclass(ViewError, Exception)
