"""What the ISO 15118-20 signature tests share: one PKI per algorithm, the signed kinds, and small checks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from iso15118.codec import encode_fragment
from iso15118.messages import iso20
from iso15118.messages import xmldsig as ds
from iso15118.security.pki import Pki
from iso15118.security.signatures import (
    ECDSA_P521_SHA512,
    ED448_SHAKE256,
    SignatureDefect,
    SignatureVerificationError,
)
from iso15118.security.signed_messages import (
    sign_message,
    verify_message_chain,
)
from tests.security.sigmessages import (
    KINDS,
    Kind,
)

SUITES = {"secp521r1": ECDSA_P521_SHA512, "ed448": ED448_SHAKE256}
KIND_IDS = [k.name for k in KINDS]


def sig_of(msg: iso20.V2GMessage) -> ds.Signature:
    """The header signature of a message that must have one."""
    assert msg.header.signature is not None
    return msg.header.signature


def pnc_mode(msg: iso20.AuthorizationReq) -> iso20.PnC_AReqAuthorizationMode:
    """The PnC authorization of a PnC AuthorizationReq."""
    assert msg.pnc_a_req_authorization_mode is not None
    return msg.pnc_a_req_authorization_mode


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def signed(kind: Kind, pki: Pki) -> Any:
    return sign_message(kind.build(pki), kind.key(pki))


def verify_chain(kind: Kind, pki: Pki, msg: Any, **kwargs: Any) -> Any:
    chain = kind.signer_chain(pki) if kind.name == "MeteringConfirmationReq" else None
    return verify_message_chain(msg, [pki[kind.root].certificate], now=now_utc(), chain=chain, **kwargs)


def refused(defect: SignatureDefect, func: Any, *args: Any, **kwargs: Any) -> SignatureVerificationError:
    with pytest.raises(SignatureVerificationError) as info:
        func(*args, **kwargs)
    assert info.value.defect is defect, str(info.value)
    return info.value


def independent_signature_check(signature: ds.Signature, public_key: Any, suite_name: str) -> None:
    """Check the SignatureValue with cryptography directly over our SignedInfo fragment (not via verify())."""
    data = encode_fragment(signature.signed_info, "xmldsig", "SignedInfo")
    value = signature.signature_value.value
    if suite_name == "ed448":
        public_key.verify(value, data)
    else:
        r, s = int.from_bytes(value[:66], "big"), int.from_bytes(value[66:], "big")
        public_key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA512()))
