"""XML signatures of ISO 15118-20: sign/verify every signed element with both algorithms, byte-flip sweeps, wire
round trips, and which element CertificateInstallationReq signs."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exi.errors import ExiError
from iso15118.codec import codec_for, decode_message, encode_fragment, encode_message
from iso15118.constants import PayloadType
from iso15118.messages import iso20
from iso15118.messages import xmldsig as ds
from iso15118.security.issuing import KeyAlgorithm
from iso15118.security.pki import Pki
from iso15118.security.profiles import Entity
from iso15118.security.signatures import (
    C14N_EXI,
    ECDSA_P521_SHA512,
    SignatureDefect,
    encode_signed_info,
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
)

# --- sign, then verify --------------------------------------------------------------------------------------
from tests.security.sigsupport import (
    SUITES,
    independent_signature_check,
    now_utc,
    pnc_mode,
    refused,
    sig_of,
    signed,
    verify_chain,
)


def test_sign_then_verify_each_signed_element(kind: Kind, pki: Pki) -> None:
    msg = signed(kind, pki)
    signature = sig_of(msg)
    suite = SUITES[pki.algorithm.value]
    validated = verify_chain(kind, pki, msg)
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
    independent_signature_check(signature, pki[kind.signer].key.public_key(), pki.algorithm.value)


def test_fragments_use_the_right_grammars(pki: Pki) -> None:
    msg = signed(KINDS[0], pki)
    element_fragment = encode_fragment(pnc_mode(msg), "iso20_common", "PnC_AReqAuthorizationMode")
    # EXI header 0x80, then the 9-bit CommonMessages fragment code of PnC_AReqAuthorizationMode: 151
    assert element_fragment[0] == 0x80 and (element_fragment[1] << 1 | element_fragment[2] >> 7) == 151
    signed_info = encode_signed_info(sig_of(msg).signed_info)
    # xmldsig-only set: 6-bit code 32 for SignedInfo [V2G20-1449], not CommonMessages' 9-bit 230
    assert signed_info[0] == 0x80 and signed_info[1] >> 2 == 32
    assert signed_info == encode_fragment(sig_of(msg).signed_info, "xmldsig", "SignedInfo")


@pytest.mark.parametrize(("root", "code"), [("SignedInstallationData", 231), ("CertificateInstallationReq", 27)])
def test_other_element_fragment_codes(pki: Pki, root: str, code: int) -> None:
    obj: object = certificate_installation_req(pki)
    if root == "SignedInstallationData":
        obj = certificate_installation_res(pki).signed_installation_data
    data = encode_fragment(obj, "iso20_common", root)
    assert data[0] == 0x80 and (data[1] << 1 | data[2] >> 7) == code


def test_signed_message_survives_the_wire(kind: Kind, pki: Pki) -> None:
    msg = signed(kind, pki)
    payload_type = (
        PayloadType.METERING_CONFIRMATION if kind.name == "MeteringConfirmationReq" else PayloadType.ISO20_COMMON
    )
    received = decode_message(encode_message(msg), payload_type)
    assert received == msg
    verify_chain(kind, pki, received)


def test_signature_value_is_fresh_but_signed_info_deterministic(pki: Pki) -> None:
    msg = authorization_req(pki)
    first = sig_of(sign_message(msg, pki[Entity.CONTRACT_LEAF].key))
    second = sig_of(sign_message(msg, pki[Entity.CONTRACT_LEAF].key))
    assert first.signed_info == second.signed_info
    if pki.algorithm is KeyAlgorithm.ED448:  # EdDSA is deterministic, ECDSA draws a nonce
        assert first.signature_value == second.signature_value
    else:
        assert first.signature_value != second.signature_value


# --- single-byte flips --------------------------------------------------------------------------------------


def test_every_flipped_signature_value_byte_is_refused(kind: Kind, pki: Pki) -> None:
    msg = signed(kind, pki)
    value = sig_of(msg).signature_value.value
    cert = pki[kind.signer].certificate
    for position in range(len(value)):
        for mask in (0x01, 0xFF):
            flipped = bytearray(value)
            flipped[position] ^= mask
            signature = dataclasses.replace(sig_of(msg), signature_value=ds.SignatureValue(value=bytes(flipped)))
            error = refused(SignatureDefect.BAD_SIGNATURE_VALUE, verify_message, attach_signature(msg, signature), cert)
            assert error.reference is None


def test_every_flipped_fragment_byte_is_refused(kind: Kind, pki: Pki) -> None:
    """Flip each byte of the signed element's fragment; wherever it still decodes, put the decoded element
    into the message: verification must fail with a digest mismatch naming the reference (or, if the flip
    hit the Id, with the reference pointing nowhere), unless the flip only touched padding."""
    msg = signed(kind, pki)
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
                error = refused(SignatureDefect.UNKNOWN_REFERENCE, verify_message, tampered, cert)
                assert error.reference == uri
                outcomes["id"] += 1
            else:
                error = refused(SignatureDefect.DIGEST_MISMATCH, verify_message, tampered, cert)
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
    # one bit of the key flipped (overwriting the last byte with a constant left it unchanged 1 time in 256)
    "CertificateInstallationRes": lambda e: dataclasses.replace(
        e, dh_public_key=e.dh_public_key[:-1] + bytes([e.dh_public_key[-1] ^ 1])
    ),
}


def test_changed_field_value_is_a_digest_mismatch(kind: Kind, pki: Pki) -> None:
    msg = signed(kind, pki)
    tampered = kind.with_element(msg, FIELD_CHANGES[kind.name](getattr(msg, kind.field)))
    error = refused(SignatureDefect.DIGEST_MISMATCH, verify_chain, kind, pki, tampered)
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
    mode = dataclasses.replace(pnc_mode(base), id=ident, gen_challenge=challenge)
    msg = sign_message(dataclasses.replace(base, pnc_a_req_authorization_mode=mode), pki[Entity.CONTRACT_LEAF].key)
    cert = pki[Entity.CONTRACT_LEAF].certificate
    verify_message(decode_message(encode_message(msg), PayloadType.ISO20_COMMON), cert)
    if other != challenge:
        swapped = dataclasses.replace(msg, pnc_a_req_authorization_mode=dataclasses.replace(mode, gen_challenge=other))
        refused(SignatureDefect.DIGEST_MISMATCH, verify_message, swapped, cert)


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
        now=now_utc(),
        installation_target=whole,
    )
    # a peer that digests the other element fails with a clear digest mismatch on the same reference
    error = refused(SignatureDefect.DIGEST_MISMATCH, verify_message, msg, cert)
    assert error.reference == "#OEMProvChain" and "OEMProvisioningCertificateChain" in str(error)
    # what each variant covers: MaximumContractCertificateChains only in the whole request
    changed = dataclasses.replace(msg, maximum_contract_certificate_chains=3)
    refused(SignatureDefect.DIGEST_MISMATCH, verify_message, changed, cert, installation_target=whole)
    chain_only = sign_message(req, key)
    verify_message(dataclasses.replace(chain_only, maximum_contract_certificate_chains=3), cert)
