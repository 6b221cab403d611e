"""Our ISO 15118-20 signatures cross-checked against a live Josev PnC session's vectors, and the raw algorithms."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from iso15118.codec import decode_message, encode_fragment, encode_message, from_json
from iso15118.constants import PayloadType
from iso15118.messages import xmldsig as ds
from iso15118.security.issuing import KeyAlgorithm, generate_key
from iso15118.security.pki import Pki
from iso15118.security.profiles import Entity
from iso15118.security.signatures import (
    ECDSA_P256_SHA256,
    INTEROP_PROFILE,
    SignatureDefect,
    encode_signed_info,
    sign,
)
from iso15118.security.signed_messages import (
    attach_signature,
    sign_message,
    signed_elements,
    verify_message,
)
from tests.security.sigmessages import (
    authorization_req,
)
from tests.security.sigsupport import (
    pnc_mode,
    refused,
    sig_of,
)
from tests.support.shared import shared_path

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
    ours = encode_fragment(pnc_mode(req), "iso20_common", "PnC_AReqAuthorizationMode")
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
    leaf_der = pnc_mode(req).contract_certificate_chain.certificate
    from cryptography import x509

    leaf = x509.load_der_x509_certificate(leaf_der)
    assert verify_message(req, leaf, profile=INTEROP_PROFILE) is ECDSA_P256_SHA256
    value = sig_of(req).signature_value.value
    assert len(value) == 64  # raw r‖s on P-256
    error = refused(SignatureDefect.PROFILE_VIOLATION, verify_message, req, leaf)
    assert "ecdsa-sha256" in str(error)
    for position in range(len(value)):
        flipped = bytearray(value)
        flipped[position] ^= 0x01
        tampered = attach_signature(
            req, dataclasses.replace(sig_of(req), signature_value=ds.SignatureValue(value=bytes(flipped)))
        )
        refused(SignatureDefect.BAD_SIGNATURE_VALUE, verify_message, tampered, leaf, profile=INTEROP_PROFILE)
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
    data = encode_signed_info(sig_of(msg).signed_info)
    public.verify(sig_of(msg).signature_value.value, data)  # no pre-hash
    with pytest.raises(InvalidSignature):
        public.verify(sig_of(msg).signature_value.value, hashlib.shake_256(data).digest(64))


def test_random_bytes_are_not_a_signature(pki: Pki) -> None:
    msg = sign_message(authorization_req(pki), pki[Entity.CONTRACT_LEAF].key)
    size = len(sig_of(msg).signature_value.value)
    cert = pki[Entity.CONTRACT_LEAF].certificate
    for value in (os.urandom(size), bytes(size), b"\xff" * size):
        forged = attach_signature(msg, dataclasses.replace(sig_of(msg), signature_value=ds.SignatureValue(value=value)))
        refused(SignatureDefect.BAD_SIGNATURE_VALUE, verify_message, forged, cert)
    shorter = attach_signature(
        msg, dataclasses.replace(sig_of(msg), signature_value=ds.SignatureValue(value=bytes(size - 1)))
    )
    error = refused(SignatureDefect.BAD_SIGNATURE_VALUE, verify_message, shorter, cert)
    assert f"has {size - 1} bytes" in str(error)
