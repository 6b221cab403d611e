"""The reference CSMS's OCSP answers for contract certificates: good unless the operator revoked them.

A real CSMS forwards an ``OCSPRequestData`` to the responder named in it. The reference CSMS is the responder
itself for the PKIs it is given: it finds the issuing CA by the SHA-256 hashes of its name and key, and signs a
DER OCSPResponse (RFC 6960) with that CA's key -- ``good``, or ``revoked`` for the serial numbers in
:attr:`OcspResponder.revoked`. Requests for a CA it does not hold get no answer (``None``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from iso15118.security.issuing import Issued

__all__ = ["OcspResponder"]


def _hashes(issuer: Issued) -> tuple[str, str]:
    """(issuerNameHash, issuerKeyHash) that name ``issuer`` as the issuer of a certificate (SHA-256, RFC 6960)."""
    # The key hash as cryptography computes it for a request naming this issuer (the name hash of such a probe
    # would be the name of the issuer's own issuer, hence computed here).
    probe = ocsp.OCSPRequestBuilder().add_certificate(issuer.certificate, issuer.certificate, hashes.SHA256()).build()
    return hashlib.sha256(issuer.certificate.subject.public_bytes()).hexdigest(), probe.issuer_key_hash.hex()


class OcspResponder:
    """Signs OCSP answers as the CAs it holds (``issuers``); ``revoked`` holds revoked serial numbers."""

    def __init__(self, issuers: Iterable[Issued], revoked: Iterable[int] = ()) -> None:
        self._issuers = {_hashes(i): i for i in issuers}
        self.revoked: set[int] = set(revoked)

    def status(self, request: dict[str, Any], now: dt.datetime | None = None) -> str | None:
        """The base64 DER OCSPResponse for an ``OCSPRequestDataType`` (camelCase), None for an unknown CA."""
        issuer = self._issuers.get((str(request["issuerNameHash"]).lower(), str(request["issuerKeyHash"]).lower()))
        if issuer is None or request.get("hashAlgorithm") != "SHA256":
            return None
        when = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
        serial = int(str(request["serialNumber"]), 16)
        revoked = serial in self.revoked
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=bytes.fromhex(str(request["issuerNameHash"])),
            issuer_key_hash=bytes.fromhex(str(request["issuerKeyHash"])),
            serial_number=serial,
            algorithm=hashes.SHA256(),
            cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
            this_update=when,
            next_update=when + dt.timedelta(hours=1),
            revocation_time=when - dt.timedelta(minutes=1) if revoked else None,
            revocation_reason=None,
        )
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, issuer.certificate)
        algorithm = hashes.SHA512() if isinstance(issuer.key, ec.EllipticCurvePrivateKey) else None
        response = builder.sign(issuer.key, algorithm)
        return base64.b64encode(response.public_bytes(serialization.Encoding.DER)).decode("ascii")
