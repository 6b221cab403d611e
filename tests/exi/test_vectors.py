"""Every stream from the independent implementations decodes to the recorded content and re-encodes bit-exactly.

Vectors: ../shared/vectors/everest_test_vectors.json (EVerest libiso15118 / libcbv2g unit tests, content as
decoded by EXIficient), cbv2g_generated.json (libcbv2g-encoded from exactly the listed fields) and
josev_session_vectors.json (live Josev sessions).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from exi.views import to_json
from iso15118.codec import codec_for, encode_message
from tests.support.shared import SHARED, shared_path

NAMESPACE_SET = {
    "urn:iso:15118:2:2010:AppProtocol": "appprotocol",
    "urn:iso:std:iso:15118:-20:CommonMessages": "iso20_common",
    "urn:iso:std:iso:15118:-20:AC": "iso20_ac",
    "urn:iso:std:iso:15118:-20:DC": "iso20_dc",
    "urn:din:70121:2012:MsgDef": "din",
    "urn:iso:15118:2:2013:MsgDef": "iso2",
    "http://www.w3.org/2000/09/xmldsig#": "xmldsig",
}


def _load(name: str) -> list[dict[str, Any]]:
    path = SHARED / "vectors" / name
    if not path.exists():
        return []
    vectors: list[dict[str, Any]] = json.loads(path.read_text())["vectors"]
    return vectors


def _ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [f"{i}-{v['name'][:60]}" for i, v in enumerate(vectors)]


EVEREST = _load("everest_test_vectors.json")
CBV2G = _load("cbv2g_generated.json")
JOSEV = _load("josev_session_vectors.json")


def test_vector_files_present() -> None:
    shared_path("vectors", "everest_test_vectors.json")
    assert len(EVEREST) == 53
    assert len(CBV2G) == 14


@pytest.mark.parametrize("vector", EVEREST, ids=_ids(EVEREST))
def test_everest_vector(vector: dict[str, Any]) -> None:
    data = bytes.fromhex(vector["hex"])
    codec = codec_for(NAMESPACE_SET[vector["namespace"]])
    doc = codec.decode_document(data)
    assert doc.root[1] == vector["root_element"]
    assert to_json(doc.value, doc.root[1]) == vector["decoded_exificient_json"]
    assert codec.encode(doc.value, doc.root) == data


@pytest.mark.parametrize("vector", CBV2G, ids=_ids(CBV2G))
def test_cbv2g_generated_vector(vector: dict[str, Any]) -> None:
    data = bytes.fromhex(vector["hex"])
    codec = codec_for(NAMESPACE_SET[vector["namespace"]])
    doc = codec.decode_document(data)
    assert to_json(doc.value, doc.root[1]) == vector["fields"]
    assert codec.encode(doc.value, doc.root) == data


# The two signature inputs recorded from Josev's PnC session are EXI fragments, not documents.
FRAGMENTS = {"SignedInfo", "PnC_AReqAuthorizationMode"}


@pytest.mark.parametrize("vector", JOSEV, ids=_ids(JOSEV))
def test_josev_session_vector(vector: dict[str, Any]) -> None:
    """Josev's recorded traffic decodes, re-encodes bit-exactly, and matches Josev's own JSON view."""
    data = bytes.fromhex(vector["exi_hex"])
    codec = codec_for(NAMESPACE_SET[vector["namespace"]])
    fragment = vector["name"] in FRAGMENTS
    doc = codec.decode_fragment(data) if fragment else codec.decode_document(data)
    assert doc.root[1] == vector["name"]
    if fragment:
        assert codec.encode_fragment(doc.value, doc.root) == data
    else:
        assert codec.encode(doc.value, doc.root) == data
        assert encode_message(doc.value, schema=codec.name) == data
    assert to_json(doc.value, doc.root[1]) == vector["josev_json"]
