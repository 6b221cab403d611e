"""ISO 15118-20 signature profile violations, wrong keys, wrong and expired chains, each refused with its reason."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import pytest

from iso15118.errors import SignatureError
from iso15118.messages import iso20
from iso15118.messages import xmldsig as ds
from iso15118.security.badcerts import defective_leaf
from iso15118.security.certs import TOLERANT, ChainValidationError, Defect
from iso15118.security.issuing import KeyAlgorithm, generate_key
from iso15118.security.pki import Pki
from iso15118.security.profiles import Entity
from iso15118.security.signatures import (
    C14N_EXI,
    ECDSA_P256_SHA256,
    ECDSA_P521_SHA512,
    ED448_SHAKE256,
    INTEROP_PROFILE,
    ISO20_PROFILE,
    SignatureDefect,
    SignedElement,
    sign,
    verify,
)
from iso15118.security.signed_messages import (
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
    der,
    header,
)

# --- profile violations -------------------------------------------------------------------------------------
from tests.security.sigsupport import (
    now_utc,
    pnc_mode,
    refused,
    sig_of,
    signed,
)


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
    broken = attach_signature(msg, change(sig_of(msg)))
    error = refused(SignatureDefect.PROFILE_VIOLATION, verify_message, broken, pki[Entity.CONTRACT_LEAF].certificate)
    assert words in str(error) and error.requirement == requirement


def test_mismatched_digest_method_for_ed448(pkis: dict[str, Pki]) -> None:
    pki = pkis["ed448"]
    msg = sign_message(authorization_req(pki), pki[Entity.CONTRACT_LEAF].key)
    broken = attach_signature(
        msg, _ref_change(digest_method=ds.DigestMethod(algorithm=ECDSA_P521_SHA512.digest_method))(sig_of(msg))
    )
    error = refused(SignatureDefect.PROFILE_VIOLATION, verify_message, broken, pki[Entity.CONTRACT_LEAF].certificate)
    assert "SHAKE256" in str(error)


def test_references_must_be_exactly_the_signed_elements(pki: Pki) -> None:
    msg = sign_message(authorization_req(pki), pki[Entity.CONTRACT_LEAF].key)
    signature, cert = sig_of(msg), pki[Entity.CONTRACT_LEAF].certificate
    extra = dataclasses.replace(signature.signed_info.reference[0], uri="#Other")
    more = attach_signature(msg, _info_change(reference=(*signature.signed_info.reference, extra))(signature))
    error = refused(SignatureDefect.UNKNOWN_REFERENCE, verify_message, more, cert)
    assert error.reference == "#Other" and "2 reference(s)" in str(error)
    (element,) = signed_elements(msg)
    second = SignedElement(
        element=pnc_mode(msg).contract_certificate_chain, root="ContractCertificateChain", id="Chain"
    )
    error = refused(SignatureDefect.MISSING_REFERENCE, verify, signature, [element, second], cert)
    assert error.reference == "#Chain"


def test_missing_signature_and_unsigned_messages(pki: Pki) -> None:
    cert = pki[Entity.CONTRACT_LEAF].certificate
    refused(SignatureDefect.MISSING_SIGNATURE, verify_message, authorization_req(pki), cert)
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
    mode = pnc_mode(authorization_req(pki))
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
    bad = dataclasses.replace(pnc_mode(msg), gen_challenge=bytes(17))
    error = refused(
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
    error = refused(SignatureDefect.WRONG_KEY, verify_message, signed, p448[Entity.CONTRACT_LEAF].certificate)
    assert "needs a secp521r1 public key; the signer has ed448" in str(error)
    refused(SignatureDefect.WRONG_KEY, verify_message, signed, generate_key(KeyAlgorithm.SECP256R1).public_key())
    error = refused(SignatureDefect.WRONG_KEY, verify_message, signed, p521[Entity.CONTRACT_LEAF].key)
    assert "private key" in str(error)
    # right type, other key pair: the signature value fails
    refused(SignatureDefect.BAD_SIGNATURE_VALUE, verify_message, signed, p521[Entity.CPS_LEAF].certificate)
    ed_signed = sign_message(authorization_req(p448), p448[Entity.CONTRACT_LEAF].key)
    refused(SignatureDefect.WRONG_KEY, verify_message, ed_signed, p521[Entity.CONTRACT_LEAF].certificate)


def test_interop_profile_signs_and_verifies_p256(pkis: dict[str, Pki]) -> None:
    key = generate_key(KeyAlgorithm.SECP256R1)
    mode = pnc_mode(authorization_req(pkis["secp521r1"]))
    element = SignedElement(element=mode, root="PnC_AReqAuthorizationMode")
    signature = sign([element], key, profile=INTEROP_PROFILE)
    assert len(signature.signature_value.value) == 64
    assert signature.signed_info.reference[0].digest_value == hashlib.sha256(element.fragment()).digest()
    assert verify(signature, [element], key.public_key(), profile=INTEROP_PROFILE) is ECDSA_P256_SHA256
    error = refused(SignatureDefect.PROFILE_VIOLATION, verify, signature, [element], key.public_key())
    assert "ecdsa-sha256" in str(error)
    ed = generate_key(KeyAlgorithm.ED448)
    assert (
        verify(sign([element], ed, profile=INTEROP_PROFILE), [element], ed.public_key(), profile=INTEROP_PROFILE)
        is ED448_SHAKE256
    )
    assert ISO20_PROFILE.suite_for_key(key) is None


def test_chain_is_checked_before_the_signature(kind: Kind, pkis: dict[str, Pki]) -> None:
    pki, other = pkis["secp521r1"], pkis["ed448"]
    msg = signed(kind, pki)
    # a valid signature, but the trusted root is another PKI's of the same name: its key did not sign Sub-CA 1
    with pytest.raises(ChainValidationError) as info:
        verify_message_chain(
            msg, [other[kind.root].certificate], now=now_utc(), chain=kind.signer_chain(pki), policy=TOLERANT
        )
    assert info.value.defect is Defect.BAD_SIGNATURE
    with pytest.raises(ChainValidationError) as info:  # roots of the wrong hierarchy
        verify_message_chain(
            msg,
            [pki[Entity.V2G_ROOT if kind.root != Entity.V2G_ROOT else Entity.MO_ROOT].certificate],
            now=now_utc(),
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
            pnc_a_req_authorization_mode=dataclasses.replace(pnc_mode(base), contract_certificate_chain=chain),
        ),
        bad.issued.key,
    )
    verify_message(msg, bad.issued.certificate)  # the signature itself is fine
    with pytest.raises(ChainValidationError) as info:
        verify_message_chain(msg, [pki[Entity.MO_ROOT].certificate], now=now_utc())
    assert info.value.defect is Defect.EXPIRED


def test_signature_by_another_key_than_the_carried_leaf(pki: Pki) -> None:
    msg = sign_message(authorization_req(pki), pki[Entity.OEM_PROV_LEAF].key)  # chain says: contract leaf
    refused(
        SignatureDefect.BAD_SIGNATURE_VALUE,
        verify_message_chain,
        msg,
        [pki[Entity.MO_ROOT].certificate],
        now=now_utc(),
    )


def test_metering_confirmation_needs_the_known_contract_chain(pki: Pki) -> None:
    msg = signed(KINDS[1], pki)
    with pytest.raises(SignatureError, match="pass the signer's chain"):
        verify_message_chain(msg, [pki[Entity.MO_ROOT].certificate], now=now_utc())
    with pytest.raises(SignatureError, match="empty"):
        verify_message_chain(msg, [pki[Entity.MO_ROOT].certificate], now=now_utc(), chain=[])
