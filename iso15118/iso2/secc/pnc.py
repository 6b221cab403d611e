"""SECC decisions of -2 Plug & Charge: CertificateInstallation, CertificateUpdate, PaymentDetails, the signed
AuthorizationReq and the signed MeteringReceiptReq.

All checks are :class:`~iso15118.iso2.pnc.Iso2Pnc`'s (``SeccView.pnc``, the charger's MO/V2G roots); contract
certificates come from the runner's certificate provider (``Input.CERTIFICATE``: the local test CPS or the CSMS,
as for -20); these decisions choose what to ask, remember and answer. Every refusal answers the -2
response code, ends the session, and is logged as a security-relevant refusal (``Warn``, with the peer) naming
the clause or requirement:

=====================================  ===================================  =====================================
request                                refusal                              code (clause / requirement)
=====================================  ===================================  =====================================
CertificateInstallation/UpdateReq      Certificate service not offered,     FAILED_NoCertificateAvailable (8.4.3.11
                                       no provider, provider has none       / 8.4.3.10)
                                       OEM / old contract chain invalid     FAILED_CertChainError (expired:
                                                                            FAILED_CertificateExpired)
                                       request signature invalid            FAILED_SignatureError
                                       eMAID not the old contract's         FAILED_ContractCanceled
PaymentDetailsReq                      contract chain not valid up to the   FAILED_CertChainError (expired:
                                       MO/V2G roots; eMAID not its CN       FAILED_CertificateExpired) (8.4.3.6.3)
AuthorizationReq (Contract)            GenChallenge not the one sent        FAILED_ChallengeInvalid [V2G2-475]
                                       signature not by the contract key    FAILED_SignatureError (8.4.3.7.2)
                                       the controller rejects the eMAID     FAILED (8.4.3.7.2)
MeteringReceiptReq (Contract)          signature, SessionID or MeterInfo    FAILED_MeteringSignatureNotValid
                                       not what this session metered        (8.4.3.13.3)
=====================================  ===================================  =====================================

The first AuthorizationReq after PaymentDetailsRes carries the GenChallenge and the signature; while the SECC
answers Ongoing the EV repeats it without either [V2G2-684] (as RISE-V2G and Josev read it), so a verified
contract is remembered for the repeats; a repeat that is signed again is checked again. The GenChallenge is 16
bytes of the runner's CSPRNG entropy, fresh for each PaymentDetailsReq.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from iso15118.certificates import CertificateAction, CertificateAnswer, CertificateRequest, CertificateStatus
from iso15118.codec import decode_as, encode_message
from iso15118.constants import NS_ISO2
from iso15118.controller import AuthorizationDecision, SessionReport
from iso15118.decisions import Answer, Input, Need, Report, Warn
from iso15118.errors import CertificateError, CodecError
from iso15118.iso2.modes import CERTIFICATE_SERVICE_ID
from iso15118.iso2.pnc import CHALLENGE_SIZE, Iso2Pnc, PncVerdict
from iso15118.iso2.profile import ISO2
from iso15118.iso2.secc.view import Decision, SeccContext, SeccView, answer, evse_status, fail
from iso15118.messages.generated import iso2 as m
from iso15118.security.identity import certificate_identity

__all__ = [
    "authorize_contract",
    "certificate_request",
    "metering_receipt_signed",
    "payment_details",
]

_R = m.ResponseCode
_CLAUSE: Final = {
    "CertificateInstallationReq": "ISO 15118-2 8.4.3.11 CertificateInstallation",
    "CertificateUpdateReq": "ISO 15118-2 8.4.3.10 CertificateUpdate",
    "PaymentDetailsReq": "ISO 15118-2 8.4.3.6.3 PaymentDetailsRes",
    "AuthorizationReq": "ISO 15118-2 8.4.3.7.2 AuthorizationRes",
    "MeteringReceiptReq": "ISO 15118-2 8.4.3.13.3 MeteringReceiptRes",
}


def when(v: SeccView) -> dt.datetime:
    """The view's time as the aware datetime certificate checks take."""
    return dt.datetime.fromtimestamp(v.now, tz=dt.UTC)


def refuse(code: m.ResponseCode, v: SeccView, why: str, requirement: str | None = None) -> Answer[SeccContext]:
    """The FAILED answer, logged as a security-relevant refusal with the EV's EVCCID (the runner adds the peer)."""
    kind = str(ISO2.kind_of(v.request))
    refused = fail(code, v, why)
    rule = requirement or _CLAUSE.get(kind)
    warn = Warn(f"{kind} of EVCCID {v.ctx.evcc_id or '?'} refused with {code}: {why}", rule)
    return replace(refused, effects=(*refused.effects, warn))


def _refuse_verdict(verdict: PncVerdict, v: SeccView, requirement: str | None = None) -> Answer[SeccContext]:
    return refuse(verdict.code, v, verdict.detail, requirement)


def _noted(ctx: SeccContext, verdict: PncVerdict) -> SeccContext:
    """A tolerant check that let a deviation pass is remembered for the summary."""
    return ctx if verdict.deviation is None else replace(ctx, notes=(*ctx.notes, f"tolerated: {verdict.deviation}"))


def _der(certs: tuple[x509.Certificate, ...]) -> tuple[bytes, ...]:
    return tuple(c.public_bytes(serialization.Encoding.DER) for c in certs)


def _contract(v: SeccView) -> tuple[x509.Certificate, ...]:
    return tuple(x509.load_der_x509_certificate(der) for der in v.ctx.contract_chain)


_CODES: Final = frozenset(code.value for code in m.ResponseCode)
_PATIENCE_S: Final = 4.0
"""How long the provider may take: the SECC's 4.5 s performance time for these requests (iso2/profile.py) less
0.5 s to relay the answer; -2 has no EVSEProcessing Ongoing for them, so the SECC waits instead of asking again."""


def _provider_request(req: m.CertificateInstallationReq | m.CertificateUpdateReq, v: SeccView) -> CertificateRequest:
    """What the certificate provider gets: the EV's whole signed V2G_Message as EXI, and who asks."""
    pcid = emaid = None
    if isinstance(req, m.CertificateInstallationReq):
        try:
            pcid = certificate_identity(x509.load_der_x509_certificate(req.oem_provisioning_cert)).common_name
        except (CertificateError, ValueError):
            pcid = None  # the provider validates the certificate and says what is wrong with it
    else:
        emaid = req.emaid
    return CertificateRequest(
        namespace=NS_ISO2,
        exi=encode_message(v.request),
        action=CertificateAction.UPDATE if emaid is not None else CertificateAction.INSTALL,
        evcc_id=v.ctx.evcc_id or None,
        pcid=pcid,
        emaid=emaid,
        patience_s=_PATIENCE_S,
    )


def _provider_code(got: CertificateAnswer) -> m.ResponseCode:
    """The -2 code that reports a provider's answer without a certificate: the -2 code of its refusal when it
    names one (a bad OEM chain, a request signature that does not verify, ...), else FAILED_NoCertificateAvailable
    (no provider, none reachable, or it has nothing for this EV)."""
    if got.status is CertificateStatus.FAILED and got.response_code in _CODES:
        return m.ResponseCode(got.response_code)
    return _R.FAILED_NoCertificateAvailable


def certificate_request(req: m.CertificateInstallationReq | m.CertificateUpdateReq, v: SeccView) -> Decision:
    """CertificateInstallationReq / CertificateUpdateReq: relayed to the certificate provider
    (:class:`~iso15118.certificates.CertificateProvider`: the local test CPS or the CSMS's Get15118EVCertificate),
    whose signed response (CPS chain and signature) goes to the EV as it came, with this session's SessionID; the
    provider's refusal answers its response code, no answer FAILED_NoCertificateAvailable. Only after
    ServiceDiscoveryRes offered the Certificate service."""
    kind = str(ISO2.kind_of(v.request))
    if CERTIFICATE_SERVICE_ID not in v.ctx.offered_services:
        return refuse(_R.FAILED_NoCertificateAvailable, v, "this SECC did not offer the Certificate service")
    ctx = v.ctx
    wanted = 1 if isinstance(req, m.CertificateInstallationReq) else 2
    if ctx.certificate_service != wanted:
        # Josev's EV selects the Certificate service without a parameter set; the request itself says what it
        # wants, so this is noted rather than refused.
        ctx = replace(ctx, notes=(*ctx.notes, f"{kind} without the Certificate service's parameter set {wanted}"))
    if Input.CERTIFICATE not in v.inputs:
        return Need(Input.CERTIFICATE, _provider_request(req, v))
    got: CertificateAnswer = v.inputs.get(Input.CERTIFICATE)
    v = replace(v, ctx=ctx)
    if got.status is not CertificateStatus.PROVIDED or got.exi is None:
        return refuse(_provider_code(got), v, got.detail or f"the certificate provider answered {got.status}")
    try:
        provided = decode_as(got.exi, "iso2")
    except CodecError as exc:
        return refuse(_R.FAILED_NoCertificateAvailable, v, f"the provider's response does not decode: {exc}")
    answered = ISO2.kind_of(provided) if isinstance(provided, m.V2G_Message) else None
    if answered is None or str(answered) != kind.replace("Req", "Res"):
        what = answered or type(provided).__name__
        return refuse(_R.FAILED_NoCertificateAvailable, v, f"the provider answered {what} to {kind}")
    header = replace(provided.header, session_id=v.session_id)
    report = Report(SessionReport(event="certificate_installation", detail=kind.removesuffix("Req")))
    return Answer(replace(provided, header=header), ctx, (report,))


def payment_details(req: m.PaymentDetailsReq, v: SeccView) -> Decision:
    """PaymentDetailsReq: the contract chain valid up to the MO (or V2G) roots and the eMAID its CN; a fresh
    GenChallenge for the signed AuthorizationReq."""
    if v.pnc is None:
        return refuse(_R.FAILED, v, "Contract was not offered")
    verdict = v.pnc.check_payment_details(req, now=when(v))
    if not verdict.ok:
        return _refuse_verdict(verdict, v)
    challenge = v.entropy[8 : 8 + CHALLENGE_SIZE]
    ctx = replace(
        v.ctx,
        emaid=verdict.emaid,
        contract_chain=_der(verdict.chain),
        gen_challenge=challenge,
        contract_verified=False,
    )
    res = m.PaymentDetailsRes(response_code=_R.OK, gen_challenge=challenge, evse_time_stamp=int(v.now))
    return answer(res, v, ctx)


def _authorization_res(processing: m.EVSEProcessing) -> m.AuthorizationRes:
    return m.AuthorizationRes(response_code=_R.OK, evse_processing=processing)


def _verified(req: m.AuthorizationReq, v: SeccView, pnc: Iso2Pnc) -> SeccContext | Answer[SeccContext]:
    """The context with the contract verified, or the refusal."""
    signed = req.gen_challenge is not None or v.request.header.signature is not None
    if v.ctx.contract_verified and not signed:
        return v.ctx  # a repeat while Ongoing [V2G2-684]
    challenge = v.ctx.gen_challenge or b""
    verdict = pnc.check_authorization(v.request, challenge=challenge, contract=_contract(v))
    if not verdict.ok:
        requirement = "V2G2-475" if verdict.code is _R.FAILED_ChallengeInvalid else None
        return _refuse_verdict(verdict, v, requirement)
    return _noted(replace(v.ctx, contract_verified=True), verdict)


def authorize_contract(req: m.AuthorizationReq, v: SeccView) -> Decision:
    """AuthorizationReq with Contract payment: the GenChallenge and the contract's signature, then the
    controller's authorization of the eMAID (Ongoing while it is pending)."""
    if v.pnc is None or not v.ctx.contract_chain:
        return refuse(_R.FAILED_SequenceError, v, "no verified contract (PaymentDetailsReq first)")
    checked = _verified(req, v, v.pnc)
    if isinstance(checked, Answer):
        return checked
    ctx = checked
    if Input.AUTHORIZATION not in v.inputs:
        return Need(Input.AUTHORIZATION, (ctx.evcc_id, ctx.emaid))
    decision: AuthorizationDecision = v.inputs.get(Input.AUTHORIZATION)
    if decision is AuthorizationDecision.PENDING:
        return answer(_authorization_res(m.EVSEProcessing.Ongoing), v, ctx)
    if decision is not AuthorizationDecision.ACCEPTED:
        return refuse(_R.FAILED, replace(v, ctx=ctx), f"the charger refused contract {ctx.emaid} ({decision})")
    report = Report(SessionReport(event="authorized", detail=f"PnC {ctx.emaid}"))
    return answer(_authorization_res(m.EVSEProcessing.Finished), v, replace(ctx, authorized=True), report)


def metering_receipt_signed(req: m.MeteringReceiptReq, v: SeccView) -> Decision:
    """MeteringReceiptReq of a Contract session: this session's SessionID and the MeterInfo last sent, signed by
    the contract key of PaymentDetailsReq."""
    code = _R.FAILED_MeteringSignatureNotValid
    if v.pnc is None or not v.ctx.contract_chain:
        return refuse(code, v, "no contract is known for this session")
    if bytes(req.session_id) != v.session_id:
        return refuse(code, v, f"the receipt names SessionID {bytes(req.session_id).hex()}, not this session's")
    if req.meter_info != v.ctx.meter_info:
        return refuse(code, v, "the receipt's MeterInfo is not the one this charger sent last")
    verdict = v.pnc.check_metering_receipt(v.request, contract=_contract(v))
    if not verdict.ok:
        return _refuse_verdict(verdict, v)
    ctx = _noted(replace(v.ctx, receipt_asked=False), verdict)
    return answer(m.MeteringReceiptRes(response_code=_R.OK, **evse_status(v)), v, ctx)
