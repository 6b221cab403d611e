"""ISO 15118-2 XML signatures: fragments (eMAID's element fragment grammar), signing, verifying, tampering."""

from __future__ import annotations

import dataclasses
import json

import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree

from exi.model import qname_sort_key
from exi.views import to_xml
from exi.xsd import read_schema
from iso15118.codec import decode_as, encode_message
from iso15118.errors import SignatureError
from iso15118.messages.generated.iso2 import (
    EMAID,
    AuthorizationReq,
    Body,
    CertificateChain,
    DiffieHellmanPublickey,
    MessageHeader,
    MeterInfo,
    MeteringReceiptReq,
    SessionStopReq,
    V2G_Message,
)
from iso15118.security.iso2_fragments import ISO2_ATTRIBUTES, encode_iso2_fragment, encode_iso2_signed_info
from iso15118.security.iso2_signatures import (
    Iso2SignatureMode,
    SignedInfoGrammar,
    sign_message,
    signed_elements,
    verify_message,
)
from iso15118.security.profiles import Entity
from iso15118.security.signatures import SignatureDefect, SignatureVerificationError, encode_signed_info
from tests.support.oracle import ExiOracle
from tests.support.shared import shared_available, shared_path

from .conftest import PkiFixture

_BODY = "urn:iso:15118:2:2013:MsgBody"
# EXIficient 0.9.6 (the exi-oracle) codes <eMAID Id="id4">DEABCC123ABC56</eMAID> as this -2 fragment.
_EMAID_VECTOR = "80ec0202b4b21a40041111505090d0cc4c8cd05090cd4dbd3d00"


def _message(body: Body) -> V2G_Message:
    return V2G_Message(header=MessageHeader(session_id=bytes.fromhex("0102030405060708")), body=body)


def _authorization() -> V2G_Message:
    return _message(Body(authorization_req=AuthorizationReq(id="ID1", gen_challenge=bytes(range(16)))))


def _metering() -> V2G_Message:
    info = MeterInfo(meter_id="METER-1", meter_reading=12345)
    return _message(Body(metering_receipt_req=MeteringReceiptReq(id="ID1", session_id=bytes(8), meter_info=info)))


def _wire(msg: V2G_Message) -> V2G_Message:
    decoded: V2G_Message = decode_as(encode_message(msg), "iso2")
    return decoded


def test_the_emaid_fragment_uses_the_element_fragment_grammar() -> None:
    fragment = encode_iso2_fragment(EMAID(id="id4", value="DEABCC123ABC56"), "iso2", "eMAID")
    assert fragment.hex() == _EMAID_VECTOR


@pytest.mark.skipif(not shared_available("schemas"), reason="the shared XSDs are absent")
def test_the_attribute_list_is_the_schemas() -> None:
    root = shared_path("schemas")
    schema = read_schema([root / "iso15118_2" / "V2G_CI_MsgDef.xsd"], sorted(root.rglob("*.xsd")))
    declared = {a.qname for t in schema.complex_types.values() for a in t.attributes}
    assert tuple(sorted(declared, key=qname_sort_key)) == ISO2_ATTRIBUTES


def test_fragments_and_signed_info_agree_with_exificient(exi_oracle: ExiOracle, iso2_pki: PkiFixture) -> None:
    signed = sign_message(_authorization(), iso2_pki.pki[Entity.CONTRACT_LEAF].key)
    assert signed.header.signature is not None
    info = signed.header.signature.signed_info
    der = iso2_pki.pki[Entity.CONTRACT_LEAF].certificate.public_bytes(serialization.Encoding.DER)
    cases: list[tuple[object, tuple[str, str], str, bytes]] = [
        (
            signed.body.authorization_req,
            (_BODY, "AuthorizationReq"),
            "iso2",
            encode_iso2_fragment(signed.body.authorization_req, "iso2", "AuthorizationReq"),
        ),
        (
            EMAID(id="id4", value="DEABCC123ABC560"),
            (_BODY, "eMAID"),
            "iso2",
            encode_iso2_fragment(EMAID(id="id4", value="DEABCC123ABC560"), "iso2", "eMAID"),
        ),
        (
            DiffieHellmanPublickey(id="id3", value=b"\x04" + bytes(64)),
            (_BODY, "DHpublickey"),
            "iso2",
            encode_iso2_fragment(DiffieHellmanPublickey(id="id3", value=b"\x04" + bytes(64)), "iso2", "DHpublickey"),
        ),
        (
            CertificateChain(id="id1", certificate=der),
            (_BODY, "ContractSignatureCertChain"),
            "iso2",
            encode_iso2_fragment(CertificateChain(id="id1", certificate=der), "iso2", "ContractSignatureCertChain"),
        ),
        (info, ("http://www.w3.org/2000/09/xmldsig#", "SignedInfo"), "xmldsig", encode_signed_info(info)),
        (info, ("http://www.w3.org/2000/09/xmldsig#", "SignedInfo"), "iso2", encode_iso2_signed_info(info)),
    ]
    for obj, root, schema, ours in cases:
        xml = etree.tostring(to_xml(obj, root))
        assert exi_oracle.encode(schema, xml, fragment=True) == ours, (root, schema)


@pytest.mark.parametrize("make", [_authorization, _metering], ids=["AuthorizationReq", "MeteringReceiptReq"])
def test_contract_signed_requests_verify_after_the_wire(iso2_pki: PkiFixture, make: object) -> None:
    contract = iso2_pki.pki[Entity.CONTRACT_LEAF]
    signed = _wire(sign_message(make(), contract.key))  # type: ignore[operator]
    check = verify_message(signed, contract.certificate)
    assert check.grammar is SignedInfoGrammar.XMLDSIG and check.deviation is None
    assert signed.header.signature is not None
    (reference,) = signed.header.signature.signed_info.reference
    assert reference.uri == "#ID1" and len(reference.digest_value) == 32
    assert len(signed.header.signature.signature_value.value) == 64  # raw r||s


def test_a_changed_body_is_a_digest_mismatch(iso2_pki: PkiFixture) -> None:
    contract = iso2_pki.pki[Entity.CONTRACT_LEAF]
    signed = sign_message(_authorization(), contract.key)
    assert signed.body.authorization_req is not None
    forged = dataclasses.replace(
        signed,
        body=Body(authorization_req=dataclasses.replace(signed.body.authorization_req, gen_challenge=bytes(16))),
    )
    with pytest.raises(SignatureVerificationError, match="digest mismatch") as refused:
        verify_message(forged, contract.certificate)
    assert refused.value.defect is SignatureDefect.DIGEST_MISMATCH and refused.value.reference == "#ID1"


def test_another_key_or_no_signature_is_refused(iso2_pki: PkiFixture) -> None:
    pki = iso2_pki.pki
    signed = sign_message(_authorization(), pki[Entity.OEM_PROV_LEAF].key)
    with pytest.raises(SignatureVerificationError, match="does not verify over SignedInfo") as refused:
        verify_message(signed, pki[Entity.CONTRACT_LEAF].certificate)
    assert refused.value.defect is SignatureDefect.BAD_SIGNATURE_VALUE
    with pytest.raises(SignatureVerificationError, match="AuthorizationReq header carries no Signature"):
        verify_message(_authorization(), pki[Entity.CONTRACT_LEAF].certificate)


def test_a_20_key_cannot_sign_or_verify_a_2_message(iso2_pki: PkiFixture, test_pkis: dict[str, PkiFixture]) -> None:
    p521 = test_pkis["secp521r1"].pki[Entity.CONTRACT_LEAF]
    with pytest.raises(SignatureError, match="cannot sign with a secp521r1 key under profile iso15118-2"):
        sign_message(_authorization(), p521.key)
    signed = sign_message(_authorization(), iso2_pki.pki[Entity.CONTRACT_LEAF].key)
    with pytest.raises(SignatureVerificationError, match="needs a secp256r1 public key; the signer has secp521r1"):
        verify_message(signed, p521.certificate)


def test_signed_info_in_the_message_grammar_is_tolerated_only_on_request(iso2_pki: PkiFixture) -> None:
    contract = iso2_pki.pki[Entity.CONTRACT_LEAF]
    deviating = _wire(sign_message(_authorization(), contract.key, grammar=SignedInfoGrammar.ISO2))
    with pytest.raises(SignatureVerificationError) as refused:
        verify_message(deviating, contract.certificate)
    assert refused.value.defect is SignatureDefect.BAD_SIGNATURE_VALUE
    check = verify_message(deviating, contract.certificate, mode=Iso2SignatureMode.TOLERANT)
    assert check.grammar is SignedInfoGrammar.ISO2
    assert check.deviation is not None and "Annex J.4" in check.deviation
    forged = sign_message(_authorization(), iso2_pki.pki[Entity.OEM_PROV_LEAF].key, grammar=SignedInfoGrammar.ISO2)
    with pytest.raises(SignatureVerificationError, match="verifies neither"):
        verify_message(forged, contract.certificate, mode=Iso2SignatureMode.TOLERANT)


def test_unsigned_kinds_and_missing_ids_are_named(iso2_pki: PkiFixture) -> None:
    stop = _message(Body(session_stop_req=SessionStopReq(charging_session="Terminate")))  # type: ignore[arg-type]
    with pytest.raises(SignatureError, match="SessionStopReq carries no ISO 15118-2 signature"):
        signed_elements(stop)
    no_id = _message(Body(authorization_req=AuthorizationReq(gen_challenge=bytes(16))))
    with pytest.raises(SignatureError, match="AuthorizationReq has no Id attribute"):
        sign_message(no_id, iso2_pki.pki[Entity.CONTRACT_LEAF].key)


def _iso2_streams() -> list[tuple[str, str]]:
    found = []
    for path in sorted(shared_path("vectors").glob("*.json")):
        data = json.loads(path.read_text())
        rows = data.get("vectors", []) if isinstance(data, dict) else data
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, dict) and row.get("namespace") == "urn:iso:15118:2:2013:MsgDef":
                found.append((f"{path.name}:{row.get('name')}", str(row.get("hex") or row.get("exi_hex"))))
    return found


@pytest.mark.skipif(not shared_available("vectors"), reason="the shared vectors are absent")
def test_every_signed_2_vector_in_the_shared_folder_verifies(iso2_pki: PkiFixture) -> None:
    signed = []
    for name, stream in _iso2_streams():
        msg = decode_as(bytes.fromhex(stream), "iso2")
        if msg.header.signature is not None:
            signed.append((name, msg))
    if not signed:
        pytest.skip("the shared vectors hold no ISO 15118-2 message with a signature (none to verify)")
    names = ", ".join(name for name, _ in signed)
    pytest.fail(f"signed -2 vectors appeared ({names}): add their signer certificates and verify them here")
