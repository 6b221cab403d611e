"""ISO 15118-2 Plug & Charge for the -2 decisions: what the SECC checks and what the EV signs. Pure, no I/O.

SECC side (:class:`Iso2Pnc`): the contract chain of PaymentDetailsReq against the MO/V2G roots, the
GenChallenge of PaymentDetailsRes (:func:`new_challenge`), the signed AuthorizationReq against that challenge
and the contract certificate, the signed MeteringReceiptReq, and CertificateInstallationReq /
CertificateUpdateReq answered by a local :class:`~iso15118.security.iso2_cps.ContractCertificatePool`. Each
check returns a :class:`PncVerdict` whose ``code`` is the -2 ResponseCode to answer with, ``detail`` the
reason, and ``deviation`` what a tolerant check let pass (for the caller to log).

EV side: :func:`sign_authorization`, :func:`sign_metering_receipt`, :func:`installation_request`,
:func:`update_request` and :func:`install_contract` (which returns
:class:`~iso15118.security.credentials.ContractCredentials`).

Response codes: an invalid contract chain answers FAILED_CertChainError (expired: FAILED_CertificateExpired);
an eMAID that is not the contract certificate's FAILED_CertChainError; a GenChallenge that is not the one
sent FAILED_ChallengeInvalid; a signature that does not verify FAILED_SignatureError (MeteringReceipt:
FAILED_MeteringSignatureNotValid); no contract pool FAILED_NoCertificateAvailable.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography import x509

from iso15118.errors import CertificateError, SignatureError
from iso15118.messages.generated.iso2 import (
    AuthorizationReq,
    Body,
    MeteringReceiptReq,
    PaymentDetailsReq,
    ResponseCode,
    V2G_Message,
)
from iso15118.security.certs import ISO2, ChainValidationError, Defect, Purpose, validate_chain
from iso15118.security.credentials import ContractCredentials
from iso15118.security.iso2_cps import certificates_of, common_name
from iso15118.security.iso2_installation import install_contract, installation_request, update_request
from iso15118.security.iso2_signatures import Iso2SignatureMode, body_element, sign_message, verify_message

__all__ = [
    "CHALLENGE_SIZE",
    "Iso2Pnc",
    "PncVerdict",
    "install_contract",
    "installation_request",
    "new_challenge",
    "sign_authorization",
    "sign_metering_receipt",
    "update_request",
]

CHALLENGE_SIZE = 16  # GenChallenge is base64Binary of length 16 in the -2 schema


@dataclass(frozen=True, slots=True, kw_only=True)
class PncVerdict:
    """The answer to one PnC check: ``code`` OK or the failure's ResponseCode, and why."""

    code: ResponseCode
    detail: str = ""
    emaid: str | None = None
    chain: tuple[x509.Certificate, ...] = ()
    deviation: str | None = None  # what tolerant mode let pass; log it

    @property
    def ok(self) -> bool:
        """Whether the check passed."""
        return self.code is ResponseCode.OK


def new_challenge(random_bytes: Callable[[int], bytes]) -> bytes:
    """A fresh 16-byte GenChallenge for PaymentDetailsRes, from the caller's entropy source."""
    challenge = random_bytes(CHALLENGE_SIZE)
    if len(challenge) != CHALLENGE_SIZE:
        raise ValueError(f"the entropy source gave {len(challenge)} bytes, GenChallenge needs {CHALLENGE_SIZE}")
    return challenge


def _failed(code: ResponseCode, detail: str, **extra: object) -> PncVerdict:
    return PncVerdict(code=code, detail=detail, **extra)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True, kw_only=True)
class Iso2Pnc:
    """The SECC's PnC checks: trusted contract roots and the signature mode. Certificate requests go to the
    runner's certificate provider (:class:`~iso15118.certificates.CertificateProvider`), not through here."""

    contract_roots: tuple[x509.Certificate, ...]
    mode: Iso2SignatureMode = Iso2SignatureMode.STRICT

    def check_payment_details(self, req: PaymentDetailsReq, *, now: dt.datetime) -> PncVerdict:
        """The contract chain of PaymentDetailsReq, valid up to a trusted root, and its eMAID."""
        try:
            chain = certificates_of(req.contract_signature_cert_chain)
            validated = validate_chain(
                chain[0], chain[1:], self.contract_roots, now=now, purpose=Purpose.CONTRACT, policy=ISO2
            )
        except ChainValidationError as exc:
            code = ResponseCode.FAILED_CertificateExpired if exc.defect is Defect.EXPIRED else None
            return _failed(code or ResponseCode.FAILED_CertChainError, f"contract certificate chain: {exc}")
        except CertificateError as exc:
            return _failed(ResponseCode.FAILED_CertChainError, f"contract certificate chain: {exc}")
        emaid = common_name(validated.leaf)
        if req.emaid != emaid:
            return _failed(
                ResponseCode.FAILED_CertChainError,
                f"eMAID {req.emaid!r} is not the contract certificate's CN {emaid!r}",
                emaid=req.emaid,
            )
        return PncVerdict(code=ResponseCode.OK, emaid=emaid, chain=validated.certificates)

    def check_authorization(
        self, msg: V2G_Message, *, challenge: bytes, contract: Sequence[x509.Certificate]
    ) -> PncVerdict:
        """A signed AuthorizationReq: the GenChallenge sent in PaymentDetailsRes, signed by the contract key."""
        name, body = body_element(msg)
        if not isinstance(body, AuthorizationReq):
            return _failed(ResponseCode.FAILED_SequenceError, f"expected AuthorizationReq, got {name}")
        if body.gen_challenge is None or not hmac.compare_digest(body.gen_challenge, challenge):
            got = "none" if body.gen_challenge is None else body.gen_challenge.hex()
            return _failed(
                ResponseCode.FAILED_ChallengeInvalid, f"GenChallenge {got} is not the {challenge.hex()} sent"
            )
        return self._signature(msg, contract, ResponseCode.FAILED_SignatureError)

    def check_metering_receipt(self, msg: V2G_Message, *, contract: Sequence[x509.Certificate]) -> PncVerdict:
        """A MeteringReceiptReq signed by the contract key of this session."""
        name, body = body_element(msg)
        if not isinstance(body, MeteringReceiptReq):
            return _failed(ResponseCode.FAILED_SequenceError, f"expected MeteringReceiptReq, got {name}")
        return self._signature(msg, contract, ResponseCode.FAILED_MeteringSignatureNotValid)

    def _signature(self, msg: V2G_Message, contract: Sequence[x509.Certificate], code: ResponseCode) -> PncVerdict:
        if not contract:
            return _failed(code, "no contract certificate is known for this session (PaymentDetailsReq first)")
        try:
            check = verify_message(msg, contract[0], mode=self.mode)
        except SignatureError as exc:
            return _failed(code, f"signature: {exc}")
        return PncVerdict(
            code=ResponseCode.OK, emaid=common_name(contract[0]), chain=tuple(contract), deviation=check.deviation
        )


def _with_id(msg: V2G_Message, body: AuthorizationReq | MeteringReceiptReq, ident: str) -> V2G_Message:
    if body.id is not None:
        return msg
    # The Reference points at the body element by its Id, so an unsigned element without one gets one.
    if isinstance(body, AuthorizationReq):
        new_body = Body(authorization_req=dataclasses.replace(body, id=ident))
    else:
        new_body = Body(metering_receipt_req=dataclasses.replace(body, id=ident))
    return dataclasses.replace(msg, body=new_body)


def sign_authorization(msg: V2G_Message, credentials: ContractCredentials, *, ident: str = "ID1") -> V2G_Message:
    """The AuthorizationReq ``msg`` signed with the contract key (an Id is added when it has none)."""
    name, body = body_element(msg)
    if not isinstance(body, AuthorizationReq):
        raise SignatureError(f"expected an AuthorizationReq to sign, got {name}")
    return sign_message(_with_id(msg, body, ident), credentials.key)


def sign_metering_receipt(msg: V2G_Message, credentials: ContractCredentials, *, ident: str = "ID1") -> V2G_Message:
    """The MeteringReceiptReq ``msg`` signed with the contract key (an Id is added when it has none)."""
    name, body = body_element(msg)
    if not isinstance(body, MeteringReceiptReq):
        raise SignatureError(f"expected a MeteringReceiptReq to sign, got {name}")
    return sign_message(_with_id(msg, body, ident), credentials.key)
