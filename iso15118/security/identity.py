"""Who a certificate names: :func:`certificate_identity` gives its common name and the SHA-256 of its DER.

The vehicle certificate's CN is the EVCCID `[V2G20-2598]`, and the certificate itself is what a resumed
session must come back with `[V2G20-2545]`; the fingerprint lets a caller remember "this vehicle
certificate" without keeping the certificate. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from iso15118.security.certs import ChainValidationError, Defect, subject_of

__all__ = ["CertificateIdentity", "certificate_identity"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateIdentity:
    """A certificate's common name (None when it has none), RFC 4514 subject and SHA-256 of its DER."""

    common_name: str | None
    subject: str
    sha256: bytes

    @property
    def fingerprint(self) -> str:
        """``sha256`` as lowercase hex (64 characters)."""
        return self.sha256.hex()


def certificate_identity(certificate: x509.Certificate | bytes) -> CertificateIdentity:
    """The identity of ``certificate``, given parsed or as DER bytes (e.g. ``HandshakeInfo.peer_certificate``).

    The fingerprint is over the DER encoding, so it is the same for the parsed and the raw form. Raises
    :class:`~iso15118.security.certs.ChainValidationError` (malformed) for bytes that are no DER certificate.
    """
    if isinstance(certificate, bytes):
        der = certificate
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError as exc:
            raise ChainValidationError(Defect.MALFORMED, f"not a DER certificate ({exc})") from None
    else:
        cert = certificate
        der = cert.public_bytes(serialization.Encoding.DER)
    try:
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError as exc:
        raise ChainValidationError(Defect.MALFORMED, f"unreadable subject ({exc})") from None
    return CertificateIdentity(
        common_name=str(names[0].value) if names else None,
        subject=subject_of(cert),
        sha256=hashlib.sha256(der).digest(),
    )
