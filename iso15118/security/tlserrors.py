"""What a failed TLS handshake means, in words: :func:`tls_failure` turns an :class:`ssl.SSLError` into a
:class:`~iso15118.errors.SecurityError` that says why, and whose certificate was refused.

OpenSSL's verification codes map to our :class:`~iso15118.security.certs.Defect`; alerts from the peer name
what it disliked about our side. Python does not say whose certificate failed verification, so with the
failed connection at hand the refused chain kept by :func:`~iso15118.security.libssl.watch_verification`
supplies the peer's subject and, for a certificate of another role, the role its markers name
(:mod:`iso15118.security.roles`) -- a charger's SECC leaf offered as a car's is "not a vehicle certificate",
not just "unable to get local issuer certificate".
"""

from __future__ import annotations

import ssl

from cryptography import x509

from iso15118.errors import CertificateError, SecurityError
from iso15118.security import libssl
from iso15118.security.certs import ChainValidationError, Defect, Purpose, subject_of
from iso15118.security.roles import ROLE_NAMES, role_problems

__all__ = ["tls_failure"]

# OpenSSL X509_V_ERR_* codes -> our defects.
_VERIFY_DEFECTS: dict[int, Defect] = {
    2: Defect.UNKNOWN_ISSUER,  # unable to get issuer certificate
    4: Defect.BAD_SIGNATURE,  # unable to decrypt certificate's signature
    7: Defect.BAD_SIGNATURE,  # certificate signature failure
    9: Defect.NOT_YET_VALID,
    10: Defect.EXPIRED,
    18: Defect.UNKNOWN_ISSUER,  # self-signed leaf
    19: Defect.UNKNOWN_ISSUER,  # self-signed certificate in chain
    20: Defect.UNKNOWN_ISSUER,  # unable to get local issuer certificate
    21: Defect.UNKNOWN_ISSUER,  # unable to verify the first certificate
    25: Defect.PATH_TOO_LONG,  # path length constraint exceeded
    26: Defect.WRONG_KEY_USAGE,  # unsupported certificate purpose
    32: Defect.WRONG_KEY_USAGE,  # key usage does not include certificate signing
    34: Defect.UNSUPPORTED_EXTENSION,  # unhandled critical extension
    39: Defect.WRONG_KEY_USAGE,  # key usage does not include digital signature
    76: Defect.WRONG_ALGORITHM,  # unsupported signature algorithm
    77: Defect.WRONG_ALGORITHM,  # signature algorithm mismatch
    78: Defect.WRONG_ALGORITHM,  # signature algorithm inconsistency
    79: Defect.NOT_A_CA,  # invalid CA certificate (OpenSSL 3.0)
    92: Defect.WRONG_KEY_USAGE,  # CA certificate without keyUsage (strict)
}

# SSLError.reason -> (defect or None, sentence). Alerts name what the peer disliked about *our* side.
_REASONS: dict[str, tuple[Defect | None, str]] = {
    "UNSUPPORTED_PROTOCOL": (None, "the peer offered no TLS version we accept (-20 needs TLS 1.3)"),
    "TLSV1_ALERT_PROTOCOL_VERSION": (None, "the peer refused our TLS version (-20 needs TLS 1.3)"),
    "WRONG_SSL_VERSION": (None, "the peer offered no TLS version we accept (-20 needs TLS 1.3)"),
    "NO_SHARED_CIPHER": (None, "no cipher suite in common (-20: AES-256-GCM-SHA384, CHACHA20-POLY1305)"),
    "NO_SUITABLE_KEY_SHARE": (None, "no key-exchange group in common (-20: secp521r1, x448)"),
    "NO_SHARED_GROUPS": (None, "no key-exchange group in common (-20: secp521r1, x448)"),
    "NO_SUITABLE_SIGNATURE_ALGORITHM": (
        Defect.WRONG_ALGORITHM,
        "no signature algorithm in common (-20: ecdsa_secp521r1_sha512, ed448)",
    ),
    "NO_SHARED_SIGNATURE_ALGORITHMS": (
        Defect.WRONG_ALGORITHM,
        "no signature algorithm in common (-20: ecdsa_secp521r1_sha512, ed448)",
    ),
    "WRONG_SIGNATURE_TYPE": (Defect.WRONG_ALGORITHM, "the peer signed with an algorithm we do not accept"),
    "PEER_DID_NOT_RETURN_A_CERTIFICATE": (
        None,
        "the vehicle sent no certificate, but mutual authentication is required [V2G20-1264]",
    ),
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": (
        None,
        "the SECC requires a vehicle certificate and we sent none [V2G20-1264]",
    ),
    "TLSV1_ALERT_UNKNOWN_CA": (Defect.UNKNOWN_ISSUER, "the peer does not trust our certificate's issuer"),
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": (Defect.EXPIRED, "the peer says our certificate has expired"),
    "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE": (Defect.WRONG_KEY_USAGE, "the peer refused our key usage"),
    "SSLV3_ALERT_BAD_CERTIFICATE": (None, "the peer refused our certificate"),
    "SSLV3_ALERT_HANDSHAKE_FAILURE": (None, "the peer aborted the handshake (no acceptable parameters)"),
}


def _refused_peer(
    connection: ssl.SSLObject | ssl.SSLSocket | None, code: int
) -> tuple[list[x509.Certificate], Purpose] | None:
    """The chain ``connection``'s peer sent and we refused, and the role we expected of it."""
    if connection is None or not libssl.available()[0]:
        return None
    refused = libssl.refused_chain(connection)
    if refused is None or refused.error != code or not refused.certificates:
        return None
    try:
        chain = [x509.load_der_x509_certificate(der) for der in refused.certificates]
    except ValueError:
        return None
    return chain, Purpose.VEHICLE_TLS if connection.server_side else Purpose.SECC_TLS


def _verify_failure(
    exc: ssl.SSLCertVerificationError, connection: ssl.SSLObject | ssl.SSLSocket | None
) -> SecurityError:
    code = int(exc.verify_code or 0)
    message = str(exc.verify_message or exc.reason or exc)
    detail = f"peer certificate refused: {message} (X509 error {code})"
    defect = _VERIFY_DEFECTS.get(code)
    peer = _refused_peer(connection, code)
    if peer is None:
        if defect is not None:
            return ChainValidationError(defect, detail)
        return SecurityError(detail)
    chain, purpose = peer
    if defect is Defect.UNKNOWN_ISSUER:
        anchors = "vehicle trust anchors" if purpose is Purpose.VEHICLE_TLS else "trusted V2G roots"
        detail += f"; the chain it sent leads to {chain[-1].issuer.rfc4514_string()}, which is not one of our {anchors}"
    problems = role_problems(chain, purpose)
    if problems:
        # The refusal names the role the certificate belongs to, not only OpenSSL's symptom.
        detail = f"not {ROLE_NAMES[purpose]}: {'; '.join(problems)}; {detail}"
        defect = Defect.WRONG_ROLE
    if defect is None:
        return CertificateError(detail, subject=subject_of(chain[0]))
    return ChainValidationError(defect, detail, subject=subject_of(chain[0]))


def tls_failure(exc: ssl.SSLError, connection: ssl.SSLObject | ssl.SSLSocket | None = None) -> SecurityError:
    """Translate an :class:`ssl.SSLError` from a handshake into a clear :class:`SecurityError`.

    Certificate problems become :class:`ChainValidationError` with the matching :class:`Defect`. With the
    ``connection`` whose handshake failed, a peer certificate we refused is named: the error's ``subject`` is
    the peer leaf's, and a certificate of another role (an SECC leaf offered as a vehicle's) is
    :attr:`Defect.WRONG_ROLE` with the reasons.
    """
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _verify_failure(exc, connection)
    reason = str(getattr(exc, "reason", "") or "")
    known = _REASONS.get(reason)
    if known is None:
        return SecurityError(f"TLS handshake failed: {reason or exc}")
    defect, sentence = known
    if defect is not None:
        return ChainValidationError(defect, f"{sentence} ({reason})")
    return SecurityError(f"TLS handshake refused: {sentence} ({reason})")
