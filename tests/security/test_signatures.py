"""XML signatures of ISO 15118-20: sign/verify every signed element with both algorithms, byte-flip
sweeps, wire round trips, profile violations, wrong keys and chains, and a cross-check against a live Josev
session."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import os
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from exi.errors import ExiError
from iso15118.codec import codec_for, decode_message, encode_fragment, encode_message, from_json
from iso15118.constants import PayloadType
from iso15118.errors import SignatureError
from iso15118.messages import iso20
from iso15118.messages import xmldsig as ds
from iso15118.security.badcerts import defective_leaf
from iso15118.security.certs import TOLERANT, ChainValidationError, Defect
from iso15118.security.issuing import KeyAlgorithm, generate_key
from iso15118.security.pki import Pki, build_pki
from iso15118.security.profiles import Entity
from iso15118.security.signatures import (
    C14N_EXI,
    ECDSA_P256_SHA256,
    ECDSA_P521_SHA512,
    ED448_SHAKE256,
    INTEROP_PROFILE,
    ISO20_PROFILE,
    SignatureDefect,
    SignatureVerificationError,
    SignedElement,
    encode_signed_info,
    sign,
    verify,
)
from iso15118.security.signed_messages import (
    InstallationTarget,
    attach_signature,
    sign_message,
    signed_elements,
    verify_message,
    verify_message_chain,
)
from tests.security.sigmessages import (
    KINDS,
    Kind,
    authorization_req,
    certificate_installation_req,
    certificate_installation_res,
    der,
    header,
)
from tests.support.shared import shared_path

SUITES = {"secp521r1": ECDSA_P521_SHA512, "ed448": ED448_SHAKE256}
KIND_IDS = [k.name for k in KINDS]


@pytest.fixture(scope="module")
def pkis() -> dict[str, Pki]:
    """One in-memory -20 PKI per algorithm (issued a minute ago, so valid now)."""
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    return {algo: build_pki(algorithm=algo, now=now) for algo in SUITES}


@pytest.fixture(params=list(SUITES))
def pki(request: pytest.FixtureRequest, pkis: dict[str, Pki]) -> Pki:
    return pkis[request.param]


@pytest.fixture(params=KINDS, ids=KIND_IDS)
def kind(request: pytest.FixtureRequest) -> Kind:
    return request.param  # type: ignore[no-any-return]


def _sig(msg: iso20.V2GMessage) -> ds.Signature:
    """The header signature of a message that must have one."""
    assert msg.header.signature is not None
    return msg.header.signature


def _mode(msg: iso20.AuthorizationReq) -> iso20.PnC_AReqAuthorizationMode:
    """The PnC authorization of a PnC AuthorizationReq."""
    assert msg.pnc_a_req_authorization_mode is not None
    return msg.pnc_a_req_authorization_mode


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _signed(kind: Kind, pki: Pki) -> Any:
    return sign_message(kind.build(pki), kind.key(pki))


def _verify_chain(kind: Kind, pki: Pki, msg: Any, **kwargs: Any) -> Any:
    chain = kind.signer_chain(pki) if kind.name == "MeteringConfirmationReq" else None
    return verify_message_chain(msg, [pki[kind.root].certificate], now=_now(), chain=chain, **kwargs)


def _refused(defect: SignatureDefect, func: Any, *args: Any, **kwargs: Any) -> SignatureVerificationError:
    with pytest.raises(SignatureVerificationError) as info:
        func(*args, **kwargs)
    assert info.value.defect is defect, str(info.value)
    return info.value


def _independent_signature_check(signature: ds.Signature, public_key: Any, suite_name: str) -> None:
    """Check the SignatureValue with cryptography directly over our SignedInfo fragment (not via verify())."""
    data = encode_fragment(signature.signed_info, "xmldsig", "SignedInfo")
    value = signature.signature_value.value
    if suite_name == "ed448":
        public_key.verify(value, data)
    else:
        r, s = int.from_bytes(value[:66], "big"), int.from_bytes(value[66:], "big")
        public_key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA512()))


# --- sign, then verify --------------------------------------------------------------------------------------


def test_sign_then_verify_each_signed_element(kind: Kind, pki: Pki) -> None:
    msg = _signed(kind, pki)
    signature = _sig(msg)
    suite = SUITES[pki.algorithm.value]
    validated = _verify_chain(kind, pki, msg)
    assert validated.leaf == pki[kind.signer].certificate
    assert verify_message(msg, pki[kind.signer].certificate) is suite

    info = signature.signed_info
    assert info.signature_method.algorithm == suite.signature_method
    assert info.canonicalization_method == ds.CanonicalizationMethod(algorithm=C14N_EXI, content=())
    assert info.id is None and signature.key_info is None and signature.object == ()
    (ref,) = info.reference
    element = getattr(msg, kind.field)
    assert ref.uri == f"#{element.id}" and ref.type is None and ref.id is None
    assert ref.transforms == ds.Transforms(transform=(ds.Transform(algorithm=C14N_EXI),))
    assert ref.digest_method.algorithm == suite.digest_method
    fragment = encode_fragment(element, "iso20_common", kind.element)
    expected = (
        hashlib.sha512(fragment).digest() if suite is ECDSA_P521_SHA512 else hashlib.shake_256(fragment).digest(64)
    )
    assert ref.digest_value == expected
    assert len(signature.signature_value.value) == {"secp521r1": 132, "ed448": 114}[pki.algorithm.value]
    _independent_signature_check(signature, pki[kind.signer].key.public_key(), pki.algorithm.value)


def test_fragments_use_the_right_grammars(pki: Pki) -> None:
    msg = _signed(KINDS[0], pki)
    element_fragment = encode_fragment(_mode(msg), "iso20_common", "PnC_AReqAuthorizationMode")
    # EXI header 0x80, then the 9-bit CommonMessages fragment code of PnC_AReqAuthorizationMode: 151
    assert element_fragment[0] == 0x80 and (element_fragment[1] << 1 | element_fragment[2] >> 7) == 151
    signed_info = encode_signed_info(_sig(msg).signed_info)
    # xmldsig-only set: 6-bit code 32 for SignedInfo [V2G20-1449], not CommonMessages' 9-bit 230
    assert signed_info[0] == 0x80 and signed_info[1] >> 2 == 32
    assert signed_info == encode_fragment(_sig(msg).signed_info, "xmldsig", "SignedInfo")


@pytest.mark.parametrize(("root", "code"), [("SignedInstallationData", 231), ("CertificateInstallationReq", 27)])
def test_other_element_fragment_codes(pki: Pki, root: str, code: int) -> None:
    obj: object = certificate_installation_req(pki)
    if root == "SignedInstallationData":
        obj = certificate_installation_res(pki).signed_installation_data
    data = encode_fragment(obj, "iso20_common", root)
    assert data[0] == 0x80 and (data[1] << 1 | data[2] >> 7) == code


def test_signed_message_survives_the_wire(kind: Kind, pki: Pki) -> None:
    msg = _signed(kind, pki)
    payload_type = (
        PayloadType.METERING_CONFIRMATION if kind.name == "MeteringConfirmationReq" else PayloadType.ISO20_COMMON
    )
    received = decode_message(encode_message(msg), payload_type)
    assert received == msg
    _verify_chain(kind, pki, received)


def test_signature_value_is_fresh_but_signed_info_deterministic(pki: Pki) -> None:
    msg = authorization_req(pki)
    first = _sig(sign_message(msg, pki[Entity.CONTRACT_LEAF].key))
    second = _sig(sign_message(msg, pki[Entity.CONTRACT_LEAF].key))
    assert first.signed_info == second.signed_info
    if pki.algorithm is KeyAlgorithm.ED448:  # EdDSA is deterministic, ECDSA draws a nonce
        assert first.signature_value == second.signature_value
    else:
        assert first.signature_value != second.signature_value


# --- single-byte flips --------------------------------------------------------------------------------------


def test_every_flipped_signature_value_byte_is_refused(kind: Kind, pki: Pki) -> None:
    msg = _signed(kind, pki)
    value = _sig(msg).signature_value.value
    cert = pki[kind.signer].certificate
    for position in range(len(value)):
        for mask in (0x01, 0xFF):
            flipped = bytearray(value)
            flipped[position] ^= mask
            signature = dataclasses.replace(_sig(msg), signature_value=ds.SignatureValue(value=bytes(flipped)))
            error = _refused(
                SignatureDefect.BAD_SIGNATURE_VALUE, verify_message, attach_signature(msg, signature), cert
            )
            assert error.reference is None


def test_every_flipped_fragment_byte_is_refused(kind: Kind, pki: Pki) -> None:
    """Flip each byte of the signed element's fragment; wherever it still decodes, put the decoded element
    into the message: verification must fail with a digest mismatch naming the reference (or, if the flip
    hit the Id, with the reference pointing nowhere), unless the flip only touched padding."""
    msg = _signed(kind, pki)
    cert = pki[kind.signer].certificate
    element = getattr(msg, kind.field)
    uri = f"#{element.id}"
    fragment = encode_fragment(element, "iso20_common", kind.element)
    codec = codec_for("iso20_common")
    outcomes = {"digest": 0, "id": 0, "same": 0, "undecodable": 0, "other element": 0}
    for position in range(len(fragment)):
        for mask in (0x01, 0xFF):
            flipped = bytearray(fragment)
            flipped[position] ^= mask
            try:
                doc = codec.decode_fragment(bytes(flipped))
            except ExiError:
                outcomes["undecodable"] += 1
                continue
            if doc.root[1] != kind.element:
                outcomes["other element"] += 1
                continue
            tampered = kind.with_element(msg, doc.value)
            if doc.value == element:  # only the zero padding after ED may be ignored by the decoder
                assert position == len(fragment) - 1, (position, mask)
                assert encode_fragment(doc.value, "iso20_common", kind.element) == fragment
                verify_message(tampered, cert)
                outcomes["same"] += 1
            elif doc.value.id != element.id:
                error = _refused(SignatureDefect.UNKNOWN_REFERENCE, verify_message, tampered, cert)
                assert error.reference == uri
                outcomes["id"] += 1
            else:
                error = _refused(SignatureDefect.DIGEST_MISMATCH, verify_message, tampered, cert)
                assert error.reference == uri and uri in str(error)
                outcomes["digest"] += 1
    # the certificates dominate each fragment, and a flipped certificate byte still decodes
    assert outcomes["digest"] > len(fragment), outcomes


FIELD_CHANGES = {
    "AuthorizationReq": lambda e: dataclasses.replace(
        e, gen_challenge=bytes([e.gen_challenge[0] ^ 1]) + e.gen_challenge[1:]
    ),
    "MeteringConfirmationReq": lambda e: dataclasses.replace(
        e,
        meter_info=dataclasses.replace(
            e.meter_info, charged_energy_reading_wh=e.meter_info.charged_energy_reading_wh + 1
        ),
    ),
    # the Sub-CAs in the other order: the chain still validates (paths are built by name), the digest not
    "CertificateInstallationReq": lambda e: dataclasses.replace(
        e, sub_certificates=iso20.SubCertificates(certificate=e.sub_certificates.certificate[::-1])
    ),
    "CertificateInstallationRes": lambda e: dataclasses.replace(e, dh_public_key=e.dh_public_key[:-1] + b"\x01"),
}


def test_changed_field_value_is_a_digest_mismatch(kind: Kind, pki: Pki) -> None:
    msg = _signed(kind, pki)
    tampered = kind.with_element(msg, FIELD_CHANGES[kind.name](getattr(msg, kind.field)))
    error = _refused(SignatureDefect.DIGEST_MISMATCH, _verify_chain, kind, pki, tampered)
    assert error.reference == f"#{getattr(msg, kind.field).id}"


def test_unsigned_parts_of_the_message_are_not_covered(pki: Pki) -> None:
    msg = sign_message(authorization_req(pki), pki[Entity.CONTRACT_LEAF].key)
    moved = dataclasses.replace(msg, header=dataclasses.replace(msg.header, time_stamp=msg.header.time_stamp + 1))
    verify_message(moved, pki[Entity.CONTRACT_LEAF].certificate)


@settings(max_examples=20, deadline=None)
@given(
    challenge=st.binary(min_size=16, max_size=16),
    ident=st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,20}", fullmatch=True),
    other=st.binary(min_size=16, max_size=16),
)
def test_any_challenge_and_id_sign_and_only_that_challenge_verifies(
    pkis: dict[str, Pki], challenge: bytes, ident: str, other: bytes
) -> None:
    pki = pkis["secp521r1"]
    base = authorization_req(pki)
    mode = dataclasses.replace(_mode(base), id=ident, gen_challenge=challenge)
    msg = sign_message(dataclasses.replace(base, pnc_a_req_authorization_mode=mode), pki[Entity.CONTRACT_LEAF].key)
    cert = pki[Entity.CONTRACT_LEAF].certificate
    verify_message(decode_message(encode_message(msg), PayloadType.ISO20_COMMON), cert)
    if other != challenge:
        swapped = dataclasses.replace(msg, pnc_a_req_authorization_mode=dataclasses.replace(mode, gen_challenge=other))
        _refused(SignatureDefect.DIGEST_MISMATCH, verify_message, swapped, cert)


# --- CertificateInstallationReq: which element is signed ----------------------------------------------------


def test_installation_target_whole_request(pki: Pki) -> None:
    key, cert = pki[Entity.OEM_PROV_LEAF].key, pki[Entity.OEM_PROV_LEAF].certificate
    req = certificate_installation_req(pki)
    whole = InstallationTarget.WHOLE_REQUEST
    msg = sign_message(req, key, installation_target=whole)
    (element,) = signed_elements(msg, installation_target=whole)
    assert element.root == "CertificateInstallationReq" and element.uri == "#OEMProvChain"
    assert isinstance(element.element, iso20.CertificateInstallationReq)
    assert element.element.header.signature is None  # the digest cannot cover the signature itself
    verify_message(msg, cert, installation_target=whole)
    roots = [pki[Entity.OEM_ROOT].certificate]
    verify_message_chain(
        decode_message(encode_message(msg), PayloadType.ISO20_COMMON),
        roots,
        now=_now(),
        installation_target=whole,
    )
    # a peer that digests the other element fails with a clear digest mismatch on the same reference
    error = _refused(SignatureDefect.DIGEST_MISMATCH, verify_message, msg, cert)
    assert error.reference == "#OEMProvChain" and "OEMProvisioningCertificateChain" in str(error)
    # what each variant covers: MaximumContractCertificateChains only in the whole request
    changed = dataclasses.replace(msg, maximum_contract_certificate_chains=3)
    _refused(SignatureDefect.DIGEST_MISMATCH, verify_message, changed, cert, installation_target=whole)
    chain_only = sign_message(req, key)
    verify_message(dataclasses.replace(chain_only, maximum_contract_certificate_chains=3), cert)


# --- profile violations -------------------------------------------------------------------------------------


def _ref_change(**changes: Any) -> Any:
    return lambda s: dataclasses.replace(
        s,
        signed_info=dataclasses.replace(
            s.signed_info, reference=(dataclasses.replace(s.signed_info.reference[0], **changes),)
        ),
    )


def _info_change(**changes: Any) -> Any:
    return lambda s: dataclasses.replace(s, signed_info=dataclasses.replace(s.signed_info, **changes))


C14N_OTHER = "http://www.w3.org/2001/10/xml-exc-c14n#"
VIOLATIONS: dict[str, tuple[Any, str, str]] = {
    "Id on SignedInfo": (_info_change(id="SI1"), "SignedInfo carries an Id", "V2G20-771"),
    "KeyInfo": (
        lambda s: dataclasses.replace(s, key_info=ds.KeyInfo(content=(("KeyName", "contract"),))),
        "KeyInfo",
        "V2G20-771",
    ),
    "Object": (lambda s: dataclasses.replace(s, object=(ds.Object(id="o1"),)), "Object", "V2G20-771"),
    "Id on SignatureValue": (
        lambda s: dataclasses.replace(s, signature_value=dataclasses.replace(s.signature_value, id="SV1")),
        "SignatureValue carries an Id",
        "V2G20-771",
    ),
    "canonicalization": (
        _info_change(canonicalization_method=ds.CanonicalizationMethod(algorithm=C14N_OTHER)),
        "CanonicalizationMethod",
        "V2G20-764…767",
    ),
    "RSA signature method": (
        _info_change(
            signature_method=ds.SignatureMethod(algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
        ),
        "rsa-sha256",
        "V2G20-2473…2476",
    ),
    "-2 signature method": (
        _info_change(signature_method=ds.SignatureMethod(algorithm=ECDSA_P256_SHA256.signature_method)),
        "not allowed by profile iso15118-20",
        "V2G20-2473…2476",
    ),
    "HMACOutputLength": (
        lambda s: _info_change(
            signature_method=dataclasses.replace(s.signed_info.signature_method, content=(("HMACOutputLength", 128),))
        )(s),
        "HMACOutputLength",
        "V2G20-771",
    ),
    "Type on Reference": (_ref_change(type="http://www.w3.org/2000/09/xmldsig#Object"), "Type", "V2G20-771"),
    "URI not an Id": (_ref_change(uri="http://example.com/x"), "URI", "V2G20-117"),
    "no URI": (_ref_change(uri=None), "URI", "V2G20-117"),
    "no Transforms": (_ref_change(transforms=None), "0 Transforms", "V2G20-764…767"),
    "two Transforms": (
        _ref_change(transforms=ds.Transforms(transform=(ds.Transform(algorithm=C14N_EXI),) * 2)),
        "2 Transforms",
        "V2G20-764…767",
    ),
    "other Transform": (
        _ref_change(transforms=ds.Transforms(transform=(ds.Transform(algorithm=C14N_OTHER),))),
        "xml-exc-c14n",
        "V2G20-764…767",
    ),
    "XPath Transform": (
        _ref_change(transforms=ds.Transforms(transform=(ds.Transform(algorithm=C14N_EXI, content=(("XPath", "/"),)),))),
        "XPath",
        "V2G20-771",
    ),
    "digest of the -2 profile": (
        _ref_change(digest_method=ds.DigestMethod(algorithm=ECDSA_P256_SHA256.digest_method)),
        "does not go with",
        "V2G20-2473…2476",
    ),
    "short DigestValue": (
        lambda s: _ref_change(digest_value=s.signed_info.reference[0].digest_value[:32])(s),
        "DigestValue has 32 bytes",
        "V2G20-2473…2476",
    ),
    "twice the same reference": (
        lambda s: _info_change(reference=s.signed_info.reference * 2)(s),
        "referenced twice",
        "V2G20-771",
    ),
}


@pytest.mark.parametrize("name", list(VIOLATIONS))
def test_profile_violations_are_refused_with_their_reason(pkis: dict[str, Pki], name: str) -> None:
    pki = pkis["secp521r1"]
    msg = sign_message(authorization_req(pki), pki[Entity.CONTRACT_LEAF].key)
    change, words, requirement = VIOLATIONS[name]
    broken = attach_signature(msg, change(_sig(msg)))
    error = _refused(SignatureDefect.PROFILE_VIOLATION, verify_message, broken, pki[Entity.CONTRACT_LEAF].certificate)
    assert words in str(error) and error.requirement == requirement


def test_mismatched_digest_method_for_ed448(pkis: dict[str, Pki]) -> None:
    pki = pkis["ed448"]
    msg = sign_message(authorization_req(pki), pki[Entity.CONTRACT_LEAF].key)
    broken = attach_signature(
        msg, _ref_change(digest_method=ds.DigestMethod(algorithm=ECDSA_P521_SHA512.digest_method))(_sig(msg))
    )
    error = _refused(SignatureDefect.PROFILE_VIOLATION, verify_message, broken, pki[Entity.CONTRACT_LEAF].certificate)
    assert "SHAKE256" in str(error)


def test_references_must_be_exactly_the_signed_elements(pki: Pki) -> None:
    msg = sign_message(authorization_req(pki), pki[Entity.CONTRACT_LEAF].key)
    signature, cert = _sig(msg), pki[Entity.CONTRACT_LEAF].certificate
    extra = dataclasses.replace(signature.signed_info.reference[0], uri="#Other")
    more = attach_signature(msg, _info_change(reference=(*signature.signed_info.reference, extra))(signature))
    error = _refused(SignatureDefect.UNKNOWN_REFERENCE, verify_message, more, cert)
    assert error.reference == "#Other" and "2 reference(s)" in str(error)
    (element,) = signed_elements(msg)
    second = SignedElement(element=_mode(msg).contract_certificate_chain, root="ContractCertificateChain", id="Chain")
    error = _refused(SignatureDefect.MISSING_REFERENCE, verify, signature, [element, second], cert)
    assert error.reference == "#Chain"


def test_missing_signature_and_unsigned_messages(pki: Pki) -> None:
    cert = pki[Entity.CONTRACT_LEAF].certificate
    _refused(SignatureDefect.MISSING_SIGNATURE, verify_message, authorization_req(pki), cert)
    eim = iso20.AuthorizationReq(
        header=header(),
        selected_authorization_service=iso20.Authorization.EIM,
        eim_a_req_authorization_mode=iso20.EIM_AReqAuthorizationMode(),
    )
    with pytest.raises(SignatureError, match="EIM"):
        sign_message(eim, pki[Entity.CONTRACT_LEAF].key)
    with pytest.raises(SignatureError, match="SessionSetupReq carries no"):
        signed_elements(iso20.SessionSetupReq(header=header(), evcc_id="WMIV1234567890ABCDEX"))


def test_sign_refuses_bad_input(pki: Pki) -> None:
    key = pki[Entity.CONTRACT_LEAF].key
    mode = _mode(authorization_req(pki))
    with pytest.raises(SignatureError, match="nothing to sign"):
        sign([], key)
    element = SignedElement(element=mode, root="PnC_AReqAuthorizationMode")
    with pytest.raises(SignatureError, match="share one Id"):
        sign([element, element], key)
    with pytest.raises(SignatureError, match="has no Id attribute"):
        sign([SignedElement(element=mode.contract_certificate_chain, root="ContractCertificateChain")], key)
    short = SignedElement(element=dataclasses.replace(mode, gen_challenge=bytes(15)), root="PnC_AReqAuthorizationMode")
    with pytest.raises(SignatureError, match="GenChallenge"):
        sign([short], key)


def test_unencodable_received_element(pki: Pki) -> None:
    msg = sign_message(authorization_req(pki), pki[Entity.CONTRACT_LEAF].key)
    bad = dataclasses.replace(_mode(msg), gen_challenge=bytes(17))
    error = _refused(
        SignatureDefect.UNENCODABLE,
        verify_message,
        dataclasses.replace(msg, pnc_a_req_authorization_mode=bad),
        pki[Entity.CONTRACT_LEAF].certificate,
    )
    assert error.reference == "#ID1" and "GenChallenge" in str(error)


# --- keys and chains ----------------------------------------------------------------------------------------


def test_keys_of_the_wrong_type_are_refused(pkis: dict[str, Pki]) -> None:
    p521, p448 = pkis["secp521r1"], pkis["ed448"]
    msg = authorization_req(p521)
    for algorithm in (KeyAlgorithm.SECP384R1, KeyAlgorithm.SECP256R1):
        with pytest.raises(SignatureError, match=f"cannot sign with a {algorithm.value} key under profile iso15118-20"):
            sign_message(msg, generate_key(algorithm))
    signed = sign_message(msg, p521[Entity.CONTRACT_LEAF].key)
    error = _refused(SignatureDefect.WRONG_KEY, verify_message, signed, p448[Entity.CONTRACT_LEAF].certificate)
    assert "needs a secp521r1 public key; the signer has ed448" in str(error)
    _refused(SignatureDefect.WRONG_KEY, verify_message, signed, generate_key(KeyAlgorithm.SECP256R1).public_key())
    error = _refused(SignatureDefect.WRONG_KEY, verify_message, signed, p521[Entity.CONTRACT_LEAF].key)
    assert "private key" in str(error)
    # right type, other key pair: the signature value fails
    _refused(SignatureDefect.BAD_SIGNATURE_VALUE, verify_message, signed, p521[Entity.CPS_LEAF].certificate)
    ed_signed = sign_message(authorization_req(p448), p448[Entity.CONTRACT_LEAF].key)
    _refused(SignatureDefect.WRONG_KEY, verify_message, ed_signed, p521[Entity.CONTRACT_LEAF].certificate)


def test_interop_profile_signs_and_verifies_p256(pkis: dict[str, Pki]) -> None:
    key = generate_key(KeyAlgorithm.SECP256R1)
    mode = _mode(authorization_req(pkis["secp521r1"]))
    element = SignedElement(element=mode, root="PnC_AReqAuthorizationMode")
    signature = sign([element], key, profile=INTEROP_PROFILE)
    assert len(signature.signature_value.value) == 64
    assert signature.signed_info.reference[0].digest_value == hashlib.sha256(element.fragment()).digest()
    assert verify(signature, [element], key.public_key(), profile=INTEROP_PROFILE) is ECDSA_P256_SHA256
    error = _refused(SignatureDefect.PROFILE_VIOLATION, verify, signature, [element], key.public_key())
    assert "ecdsa-sha256" in str(error)
    ed = generate_key(KeyAlgorithm.ED448)
    assert (
        verify(sign([element], ed, profile=INTEROP_PROFILE), [element], ed.public_key(), profile=INTEROP_PROFILE)
        is ED448_SHAKE256
    )
    assert ISO20_PROFILE.suite_for_key(key) is None


def test_chain_is_checked_before_the_signature(kind: Kind, pkis: dict[str, Pki]) -> None:
    pki, other = pkis["secp521r1"], pkis["ed448"]
    msg = _signed(kind, pki)
    # a valid signature, but the trusted root is another PKI's of the same name: its key did not sign Sub-CA 1
    with pytest.raises(ChainValidationError) as info:
        verify_message_chain(
            msg, [other[kind.root].certificate], now=_now(), chain=kind.signer_chain(pki), policy=TOLERANT
        )
    assert info.value.defect is Defect.BAD_SIGNATURE
    with pytest.raises(ChainValidationError) as info:  # roots of the wrong hierarchy
        verify_message_chain(
            msg,
            [pki[Entity.V2G_ROOT if kind.root != Entity.V2G_ROOT else Entity.MO_ROOT].certificate],
            now=_now(),
            chain=kind.signer_chain(pki),
        )
    assert info.value.defect is Defect.UNKNOWN_ISSUER


def test_expired_contract_certificate_is_refused(pkis: dict[str, Pki]) -> None:
    pki = pkis["secp521r1"]
    bad = defective_leaf(pki, Defect.EXPIRED, entity=Entity.CONTRACT_LEAF)
    base = authorization_req(pki)
    chain = iso20.ContractCertificateChain(
        certificate=der(bad.issued.certificate),
        sub_certificates=iso20.SubCertificates(certificate=tuple(der(c) for c in bad.intermediates)),
    )
    msg = sign_message(
        dataclasses.replace(
            base,
            pnc_a_req_authorization_mode=dataclasses.replace(_mode(base), contract_certificate_chain=chain),
        ),
        bad.issued.key,
    )
    verify_message(msg, bad.issued.certificate)  # the signature itself is fine
    with pytest.raises(ChainValidationError) as info:
        verify_message_chain(msg, [pki[Entity.MO_ROOT].certificate], now=_now())
    assert info.value.defect is Defect.EXPIRED


def test_signature_by_another_key_than_the_carried_leaf(pki: Pki) -> None:
    msg = sign_message(authorization_req(pki), pki[Entity.OEM_PROV_LEAF].key)  # chain says: contract leaf
    _refused(
        SignatureDefect.BAD_SIGNATURE_VALUE,
        verify_message_chain,
        msg,
        [pki[Entity.MO_ROOT].certificate],
        now=_now(),
    )


def test_metering_confirmation_needs_the_known_contract_chain(pki: Pki) -> None:
    msg = _signed(KINDS[1], pki)
    with pytest.raises(SignatureError, match="pass the signer's chain"):
        verify_message_chain(msg, [pki[Entity.MO_ROOT].certificate], now=_now())
    with pytest.raises(SignatureError, match="empty"):
        verify_message_chain(msg, [pki[Entity.MO_ROOT].certificate], now=_now(), chain=[])


# --- cross-check against a live Josev session (ISO 15118-2 profile) -----------------------------------------


@pytest.fixture(scope="module")
def josev() -> dict[str, dict[str, Any]]:
    path = shared_path("vectors", "josev_session_vectors.json")
    vectors = json.loads(path.read_text())["vectors"]
    found = {v["name"]: v for v in vectors if v.get("run") == "warm_sched_tls13_pnc"}
    missing = {"PnC_AReqAuthorizationMode", "SignedInfo", "AuthorizationReq"} - set(found)
    if missing:
        pytest.skip(f"{path} lacks the PnC vectors {sorted(missing)}")
    return found


def test_josev_digest_matches_our_fragment(josev: dict[str, dict[str, Any]]) -> None:
    req = from_json(josev["AuthorizationReq"]["josev_json"], "iso20_common")
    ours = encode_fragment(_mode(req), "iso20_common", "PnC_AReqAuthorizationMode")
    assert ours.hex() == josev["PnC_AReqAuthorizationMode"]["exi_hex"]
    digest = josev["SignedInfo"]["josev_json"]["SignedInfo"]["Reference"][0]["DigestValue"]
    assert hashlib.sha256(ours).digest() == base64.b64decode(digest)


def test_josev_signed_info_bytes_equal_ours(josev: dict[str, dict[str, Any]]) -> None:
    signed_info = from_json(josev["SignedInfo"]["josev_json"], "xmldsig")
    assert encode_signed_info(signed_info).hex() == josev["SignedInfo"]["exi_hex"]
    # the SignedInfo our signer builds over Josev's element (interop profile, P-256) is Josev's, byte for byte
    req = from_json(josev["AuthorizationReq"]["josev_json"], "iso20_common")
    ours = sign(signed_elements(req), generate_key(KeyAlgorithm.SECP256R1), profile=INTEROP_PROFILE)
    assert ours.signed_info == signed_info
    assert encode_signed_info(ours.signed_info).hex() == josev["SignedInfo"]["exi_hex"]


def test_josev_signature_value_verifies(josev: dict[str, dict[str, Any]]) -> None:
    data = bytes.fromhex(josev["AuthorizationReq"]["exi_hex"])
    req = decode_message(data, PayloadType.ISO20_COMMON)
    assert encode_message(req) == data
    leaf_der = _mode(req).contract_certificate_chain.certificate
    from cryptography import x509

    leaf = x509.load_der_x509_certificate(leaf_der)
    assert verify_message(req, leaf, profile=INTEROP_PROFILE) is ECDSA_P256_SHA256
    value = _sig(req).signature_value.value
    assert len(value) == 64  # raw r‖s on P-256
    error = _refused(SignatureDefect.PROFILE_VIOLATION, verify_message, req, leaf)
    assert "ecdsa-sha256" in str(error)
    for position in range(len(value)):
        flipped = bytearray(value)
        flipped[position] ^= 0x01
        tampered = attach_signature(
            req, dataclasses.replace(_sig(req), signature_value=ds.SignatureValue(value=bytes(flipped)))
        )
        _refused(SignatureDefect.BAD_SIGNATURE_VALUE, verify_message, tampered, leaf, profile=INTEROP_PROFILE)
    # independent check with cryptography alone
    public_key = leaf.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    der_sig = encode_dss_signature(int.from_bytes(value[:32], "big"), int.from_bytes(value[32:], "big"))
    public_key.verify(der_sig, bytes.fromhex(josev["SignedInfo"]["exi_hex"]), ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        public_key.verify(der_sig, bytes.fromhex(josev["SignedInfo"]["exi_hex"]) + b"\0", ec.ECDSA(hashes.SHA256()))


def test_ed448_is_pure_eddsa_over_the_signed_info(pkis: dict[str, Pki]) -> None:
    pki = pkis["ed448"]
    msg = sign_message(authorization_req(pki), pki[Entity.CONTRACT_LEAF].key)
    public = pki[Entity.CONTRACT_LEAF].key.public_key()
    assert isinstance(public, ed448.Ed448PublicKey)
    data = encode_signed_info(_sig(msg).signed_info)
    public.verify(_sig(msg).signature_value.value, data)  # no pre-hash
    with pytest.raises(InvalidSignature):
        public.verify(_sig(msg).signature_value.value, hashlib.shake_256(data).digest(64))


def test_random_bytes_are_not_a_signature(pki: Pki) -> None:
    msg = sign_message(authorization_req(pki), pki[Entity.CONTRACT_LEAF].key)
    size = len(_sig(msg).signature_value.value)
    cert = pki[Entity.CONTRACT_LEAF].certificate
    for value in (os.urandom(size), bytes(size), b"\xff" * size):
        forged = attach_signature(msg, dataclasses.replace(_sig(msg), signature_value=ds.SignatureValue(value=value)))
        _refused(SignatureDefect.BAD_SIGNATURE_VALUE, verify_message, forged, cert)
    shorter = attach_signature(
        msg, dataclasses.replace(_sig(msg), signature_value=ds.SignatureValue(value=bytes(size - 1)))
    )
    error = _refused(SignatureDefect.BAD_SIGNATURE_VALUE, verify_message, shorter, cert)
    assert f"has {size - 1} bytes" in str(error)
