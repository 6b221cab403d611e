"""Plug & Charge checks of the SECC: the contract chain, the header signature, and their response codes.

Chain problems answer with a WARNING (the EV may try another contract) [V2G20 §8.3 response codes]; a
signature that does not verify answers ``FAILED_SignatureError``; a MeteringConfirmation signature that does
not verify answers ``FAILED_MeteringSignatureNotValid``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from iso15118.errors import SecurityError
from iso15118.messages.iso20 import ResponseCode
from iso15118.security.certs import STRICT, ChainValidationError, Defect
from iso15118.security.signed_messages import verify_message_chain
from iso15118.security.sigprofile import ISO20_PROFILE, SignatureProfile

__all__ = ["PncOutcome", "PncVerifier"]

_CHAIN_CODES = {
    Defect.EXPIRED: ResponseCode.WARNING_CertificateExpired,
    Defect.NOT_YET_VALID: ResponseCode.WARNING_CertificateNotYetValid,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class PncOutcome:
    """Result of a PnC check: ``code`` is None when everything verified."""

    code: ResponseCode | None
    detail: str = ""
    emaid: str | None = None
    chain: tuple[x509.Certificate, ...] = ()


class PncVerifier:
    """Verifies contract chains against the trusted MO (or V2G) roots, and the signatures they make."""

    def __init__(
        self,
        roots: list[x509.Certificate],
        *,
        profile: SignatureProfile = ISO20_PROFILE,
        policy: Any = STRICT,
        cps_roots: list[x509.Certificate] | None = None,
    ) -> None:
        self.roots = roots
        self.profile = profile
        self.policy = policy
        self.cps_roots = cps_roots or []
        """The V2G roots a relayed CertificateInstallationRes's CPS chain must lead to (none: not checked here)."""

    def _when(self, now: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(now, tz=dt.UTC)

    def verify_authorization(self, request: Any, now: float) -> PncOutcome:
        """Check a PnC AuthorizationReq: contract chain first, then the signature over the authorization."""
        try:
            validated = verify_message_chain(
                request, self.roots, now=self._when(now), profile=self.profile, policy=self.policy
            )
        except ChainValidationError as exc:
            return PncOutcome(
                code=_CHAIN_CODES.get(exc.defect, ResponseCode.WARNING_CertificateValidationError), detail=str(exc)
            )
        except SecurityError as exc:
            return PncOutcome(code=ResponseCode.FAILED_SignatureError, detail=str(exc))
        emaid = _common_name(validated.leaf)
        return PncOutcome(code=None, emaid=emaid, chain=tuple(validated.certificates))

    def verify_installation(self, response: Any, now: float) -> PncOutcome:
        """Check the CPS chain and signature of a CertificateInstallationRes before it is relayed to the EV: an
        untrusted chain answers ``WARNING_CertificateValidationError``, a signature that does not verify (a
        tampered response) ``FAILED_SignatureError``. Without ``cps_roots`` nothing is checked (the EV checks)."""
        if not self.cps_roots:
            return PncOutcome(code=None, detail="no V2G root configured for the CPS chain; the EV checks it")
        try:
            validated = verify_message_chain(
                response, self.cps_roots, now=self._when(now), profile=self.profile, policy=self.policy
            )
        except ChainValidationError as exc:
            return PncOutcome(code=ResponseCode.WARNING_CertificateValidationError, detail=f"the CPS chain: {exc}")
        except SecurityError as exc:
            return PncOutcome(code=ResponseCode.FAILED_SignatureError, detail=f"the CPS signature: {exc}")
        return PncOutcome(code=None, chain=tuple(validated.certificates))

    def verify_metering(self, request: Any, chain: tuple[x509.Certificate, ...], now: float) -> PncOutcome:
        """Check a MeteringConfirmationReq's signature with the contract chain of the session."""
        if not chain:
            return PncOutcome(
                code=ResponseCode.FAILED_MeteringSignatureNotValid, detail="no contract chain in this session"
            )
        try:
            verify_message_chain(
                request,
                self.roots,
                now=self._when(now),
                chain=list(chain[:-1]) or list(chain),
                profile=self.profile,
                policy=self.policy,
            )
        except SecurityError as exc:
            return PncOutcome(code=ResponseCode.FAILED_MeteringSignatureNotValid, detail=str(exc))
        return PncOutcome(code=None)


def _common_name(cert: x509.Certificate) -> str | None:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else None
