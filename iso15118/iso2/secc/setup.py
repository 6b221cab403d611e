"""SECC decisions of -2 session set-up: SessionSetup (new or resumed), ServiceDiscovery, ServiceDetail,
PaymentServiceSelection and Authorization (EIM).

Resuming a paused session: the EV sends the paused session's SessionID in SessionSetupReq. It resumes
(``OK_OldSessionJoined``, the same SessionID) only when this SECC keeps it, the EVCCID is the one that paused it,
the vehicle certificate (over TLS) is the same and the pause has not expired; the session then keeps the payment
option, the charge service and the SAScheduleTupleID it had agreed [V2G2-741]. Anything else starts a new
session with a fresh SessionID (``OK_NewSessionEstablished``), and a mismatch is logged as a security-relevant
refusal.

Payment: this SECC offers only what it can serve. ``ExternalPayment`` (EIM) when EIM is configured; ``Contract``
(Plug & Charge) needs the -2 contract verification (PaymentDetails and a signed AuthorizationReq), which is not
part of these decisions yet, so it is not offered even when PnC is configured.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from iso15118.constants import EnergyService
from iso15118.controller import AuthorizationDecision, EVSELimits, SessionReport
from iso15118.decisions import Input, Need, PausedSession, Report, TakePaused, Warn
from iso15118.iso2.modes import AC_MODES, CHARGE_SERVICE_ID, CHARGE_SERVICE_NAME
from iso15118.iso2.profile import ISO2
from iso15118.iso2.secc.view import Decision, SeccContext, SeccView, answer, fail, noted
from iso15118.messages.generated import iso2 as m
from iso15118.session.context import ZERO_SESSION

__all__ = [
    "authorization",
    "contract_only",
    "offered_modes",
    "payment_options",
    "resume_refusal",
    "service_detail",
    "service_discovery",
    "session_setup",
]

_R = m.ResponseCode
EIM_PAYMENT: Final = "ExternalPayment"


def resume_refusal(paused: PausedSession, evcc_id: str, fingerprint: str | None, now: float) -> str | None:
    """Why ``paused`` may not be resumed by this EV now (None: it may)."""
    if now >= paused.expires_at:
        return f"the pause expired {now - paused.expires_at:.0f} s ago"
    if paused.evcc_id != evcc_id:
        return f"EVCCID {evcc_id} is not the EVCCID {paused.evcc_id} that paused it"
    if paused.fingerprint != fingerprint:
        return "the vehicle certificate is not the one that paused it"
    return None


def _new_session(v: SeccView, ctx: SeccContext, *effects: Warn | Report) -> Decision:
    # A fresh SessionID from a CSPRNG, never all zero (zero asks for a new session).
    session_id = v.entropy[:8] if v.entropy[:8] != ZERO_SESSION else bytes([1]) + v.entropy[1:8]
    res = m.SessionSetupRes(
        response_code=_R.OK_NewSessionEstablished, evse_id=v.config.evse_id, evse_time_stamp=int(v.now)
    )
    return answer(res, v, ctx, *effects, header=ISO2.envelope.header(session_id))


def session_setup(req: m.SessionSetupReq, v: SeccView) -> Decision:
    """SessionSetupReq: a new session, or the resumption of a paused one by the same EV."""
    evcc_id = bytes(req.evcc_id).hex().upper()
    ctx = replace(v.ctx, evcc_id=evcc_id)
    asked = bytes(v.request.header.session_id)
    if asked == ZERO_SESSION:
        return _new_session(v, ctx)
    if Input.PAUSED not in v.inputs:
        return Need(Input.PAUSED, asked)
    paused: PausedSession | None = v.inputs.get(Input.PAUSED)
    if paused is None:
        report = Report(SessionReport(event="resume_unknown", detail=f"SessionID {asked.hex()} is not paused here"))
        return _new_session(v, noted(ctx, f"resume of unknown session {asked.hex()}"), report)
    fingerprint = v.peer.fingerprint if v.peer else None
    refusal = resume_refusal(paused, evcc_id, fingerprint, v.now)
    if refusal is not None:
        who = v.peer.address if v.peer else "peer"
        warn = Warn(f"refused to resume paused session {asked.hex()} for {who}: {refusal}; a new session starts")
        return _new_session(v, noted(ctx, f"resume refused: {refusal}"), warn)
    # The same EV resumes: what was agreed carries over [V2G2-741], counters start afresh.
    resumed = replace(paused.context, evcc_id=evcc_id, loops=0, meter=(), resumed=True, refusal=None, notes=())
    res = m.SessionSetupRes(response_code=_R.OK_OldSessionJoined, evse_id=v.config.evse_id, evse_time_stamp=int(v.now))
    return answer(res, v, resumed, TakePaused(asked), header=ISO2.envelope.header(asked))


_DC_OFFERED: Final = (m.EnergyTransferMode.DC_extended,)
"""The DC mode a CCS charger offers (our DIN charger and Josev's -2 charger offer the same one)."""


def offered_modes(v: SeccView, limits: EVSELimits) -> tuple[m.EnergyTransferMode, ...]:
    """The energy transfer modes this charger serves: AC single phase (and three phase when it has three phases)
    when the AC service is configured; DC_extended when the DC service is and the controller drives a DC output."""
    modes: tuple[m.EnergyTransferMode, ...] = ()
    if EnergyService.AC in v.config.services:
        single, three = AC_MODES
        modes = (single, three) if limits.three_phase else (single,)
    if EnergyService.DC in v.config.services and v.dc_capable:
        modes = (*modes, *_DC_OFFERED)
    return modes


def payment_options(v: SeccView) -> tuple[str, ...]:
    """The payment options offered: the one a resumed session had selected [V2G2-741], else ExternalPayment
    when EIM is configured (Contract is not served yet, see the module docstring)."""
    if v.ctx.resumed and v.ctx.payment is not None:
        return (v.ctx.payment,)
    return (EIM_PAYMENT,) if "EIM" in v.config.authorization else ()


def service_discovery(req: m.ServiceDiscoveryReq, v: SeccView) -> Decision:
    """ServiceDiscoveryReq: the charge service with the modes this charger serves and the payment options; no
    value-added services."""
    if Input.LIMITS not in v.inputs:
        return Need(Input.LIMITS)
    modes = offered_modes(v, v.inputs.get(Input.LIMITS))
    options = payment_options(v)
    if not modes:
        return fail(_R.FAILED, v, "no energy transfer mode this charger serves")
    if not options:
        return fail(_R.FAILED, v, f"no payment option this SECC can serve for {', '.join(v.config.authorization)}")
    charge = m.ChargeService(
        service_id=CHARGE_SERVICE_ID,
        service_name=CHARGE_SERVICE_NAME,
        service_category=m.ServiceCategory.EVCharging,
        free_service=v.config.free_service,
        supported_energy_transfer_mode=m.SupportedEnergyTransferMode(energy_transfer_mode=modes),
    )
    res = m.ServiceDiscoveryRes(
        response_code=_R.OK,
        payment_option_list=m.PaymentOptionList(payment_option=tuple(m.PaymentOption(o) for o in options)),
        charge_service=charge,
    )
    ctx = replace(v.ctx, offered_modes=tuple(str(mode) for mode in modes), offered_payment=options)
    return answer(res, v, ctx)


def service_detail(req: m.ServiceDetailReq, v: SeccView) -> Decision:
    """ServiceDetailReq: the charge service has no parameter sets to detail; any other ServiceID was not
    retrieved in ServiceDiscoveryRes [V2G2-425]."""
    if req.service_id != CHARGE_SERVICE_ID:
        return fail(_R.FAILED_ServiceIDInvalid, v, f"service {req.service_id} was not offered [V2G2-425]")
    return answer(m.ServiceDetailRes(response_code=_R.OK, service_id=req.service_id), v, v.ctx)


def payment_service_selection(req: m.PaymentServiceSelectionReq, v: SeccView) -> Decision:
    """PaymentServiceSelectionReq: an offered payment option, and the charge service (no value-added ones)."""
    option = str(req.selected_payment_option)
    if option not in v.ctx.offered_payment:
        return fail(_R.FAILED_PaymentSelectionInvalid, v, f"payment option {option} was not offered")
    selected = [s.service_id for s in req.selected_service_list.selected_service]
    if CHARGE_SERVICE_ID not in selected:
        return fail(_R.FAILED_NoChargeServiceSelected, v, "the charge service was not selected")
    others = sorted(set(selected) - {CHARGE_SERVICE_ID})
    if others:
        return fail(_R.FAILED_ServiceSelectionInvalid, v, f"service {others[0]} was not offered")
    return answer(m.PaymentServiceSelectionRes(response_code=_R.OK), v, replace(v.ctx, payment=option))


def _authorization_res(processing: m.EVSEProcessing, code: m.ResponseCode = _R.OK) -> m.AuthorizationRes:
    return m.AuthorizationRes(response_code=code, evse_processing=processing)


def authorization(req: m.AuthorizationReq, v: SeccView) -> Decision:
    """AuthorizationReq (EIM): Ongoing while the customer has not identified at the charger, Finished once the
    controller accepts; a refusal ends the session (-2 has no WARNING codes)."""
    if v.ctx.payment != EIM_PAYMENT:
        return contract_only(req, v)
    if v.ctx.resumed and v.ctx.authorized:
        # The paused session was authorized; it goes on as agreed [V2G2-741].
        return answer(_authorization_res(m.EVSEProcessing.Finished), v, v.ctx)
    if Input.AUTHORIZATION not in v.inputs:
        return Need(Input.AUTHORIZATION, (v.ctx.evcc_id, None))
    decision: AuthorizationDecision = v.inputs.get(Input.AUTHORIZATION)
    if decision is AuthorizationDecision.PENDING:
        waiting = m.EVSEProcessing.Ongoing_WaitingForCustomerInteraction
        return answer(_authorization_res(waiting), v, v.ctx)
    if decision is AuthorizationDecision.REJECTED:
        return fail(_R.FAILED, v, "the charger refused the authorization")
    report = Report(SessionReport(event="authorized", detail="EIM"))
    return answer(_authorization_res(m.EVSEProcessing.Finished), v, replace(v.ctx, authorized=True), report)


def contract_only(req: object, v: SeccView) -> Decision:
    """The Plug & Charge requests (PaymentDetails, CertificateInstallation, CertificateUpdate, a Contract
    AuthorizationReq): this SECC never offers Contract, so they only come from an EV that ignored that."""
    kind = ISO2.kind_of(v.request)
    return fail(_R.FAILED, v, f"{kind} needs Contract payment, which this SECC does not offer")
