"""Authorization and certificate status through the CSMS: Authorize, GetCertificateStatus (OCSP). Pure.

* **EIM** -- the idToken is the station's own (a card it read, ``eim_id_token``) or else the EV's EVCCID as a
  ``MacAddress`` token.
* **Plug & Charge** -- the idToken is the contract's eMAID (type ``eMAID``); the request carries, for the
  contract certificate and each Sub-CA, the ``OCSPRequestData`` that names it (issuer name and key hashes,
  serial number, OCSP responder URL from its Authority Information Access), so the CSMS can check revocation
  (OCPP 2.0.1 use case C07). The SECC has validated the chain itself already.
* **OCSP** -- the station asks the CSMS for the contract certificate's status (``GetCertificateStatus``); the
  answer is a DER OCSPResponse (RFC 6960, base64), accepted only when it is signed by the certificate's
  issuer and names that certificate. Its verdict: good, revoked, or unknown.

:func:`decision_of` turns an AuthorizeResponse into the SECC's :class:`~iso15118.controller.AuthorizationDecision`.
"""

from __future__ import annotations

import base64
import itertools
from enum import StrEnum
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

from iso15118.controller import AuthorizationDecision
from iso15118.errors import BackendError

__all__ = [
    "OcspVerdict",
    "authorize_request",
    "decision_of",
    "eim_token",
    "ocsp_request_data",
    "ocsp_verdict",
]


def eim_token(evcc_id: str, card: str | None = None) -> dict[str, Any]:
    """The idToken of an EIM authorization: the station's card if it read one, else the EVCCID."""
    if card is not None:
        return {"idToken": card[:36], "type": "ISO14443"}
    return {"idToken": evcc_id[:36], "type": "MacAddress"}


def _responder_url(cert: x509.Certificate) -> str:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return ""
    for access in aia:
        if access.access_method == AuthorityInformationAccessOID.OCSP:
            return str(access.access_location.value)[:512]
    return ""


def ocsp_request_data(cert: x509.Certificate, issuer: x509.Certificate) -> dict[str, Any]:
    """OCPP ``OCSPRequestDataType`` naming ``cert`` (SHA-256 hashes of its issuer's name and key, RFC 6960)."""
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
    return {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": request.issuer_name_hash.hex(),
        "issuerKeyHash": request.issuer_key_hash.hex(),
        "serialNumber": format(cert.serial_number, "x"),
        "responderURL": _responder_url(cert),
    }


def authorize_request(
    id_token: dict[str, Any], contract: tuple[x509.Certificate, ...] = (), *, send_certificate: bool = False
) -> dict[str, Any]:
    """The AuthorizeRequest payload: EIM (no contract) or PnC (the contract chain, leaf first)."""
    payload: dict[str, Any] = {"idToken": id_token}
    hashed = [ocsp_request_data(cert, issuer) for cert, issuer in itertools.pairwise(contract)]
    if hashed:
        payload["iso15118CertificateHashData"] = hashed[:4]
    if send_certificate and contract:
        pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in contract).decode()
        payload["certificate"] = pem
    return payload


def decision_of(response: dict[str, Any]) -> AuthorizationDecision:
    """What an AuthorizeResponse means for the session."""
    if response.get("certificateStatus") == "CertificateRevoked":
        return AuthorizationDecision.REVOKED
    if response.get("certificateStatus") not in (None, "Accepted"):
        return AuthorizationDecision.REJECTED
    status = response.get("idTokenInfo", {}).get("status")
    return AuthorizationDecision.ACCEPTED if status == "Accepted" else AuthorizationDecision.REJECTED


class OcspVerdict(StrEnum):
    """A certificate's revocation status as an OCSP answer gives it."""

    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


def _verify(issuer: x509.Certificate, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm | None) -> None:
    key = issuer.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
        key.verify(signature, data, ec.ECDSA(algorithm))
    elif isinstance(key, ed448.Ed448PublicKey | ed25519.Ed25519PublicKey):
        key.verify(signature, data)
    elif isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
        key.verify(signature, data, PKCS1v15(), algorithm)
    else:
        raise InvalidSignature


def ocsp_verdict(ocsp_result: str, cert: x509.Certificate, issuer: x509.Certificate) -> OcspVerdict:
    """The status of ``cert`` in a base64 DER OCSPResponse; BackendError if the answer cannot be trusted."""
    try:
        response = ocsp.load_der_ocsp_response(base64.b64decode(ocsp_result, validate=True))
    except ValueError as exc:
        raise BackendError(f"the OCSP answer is no DER OCSPResponse: {exc}") from None
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise BackendError(f"the OCSP responder answered {response.response_status.name}")
    try:
        _verify(issuer, response.signature, response.tbs_response_bytes, response.signature_hash_algorithm)
    except InvalidSignature:
        raise BackendError("the OCSP answer is not signed by the certificate's issuer") from None
    for single in response.responses:
        if single.serial_number != cert.serial_number:
            continue
        if single.certificate_status is ocsp.OCSPCertStatus.REVOKED:
            return OcspVerdict.REVOKED
        if single.certificate_status is ocsp.OCSPCertStatus.GOOD:
            return OcspVerdict.GOOD
    return OcspVerdict.UNKNOWN
