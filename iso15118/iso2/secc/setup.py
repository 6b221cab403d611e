"""SECC decisions of -2 session set-up: SessionSetup (new or resumed), ServiceDiscovery, ServiceDetail,
PaymentServiceSelection and Authorization (EIM).

Resuming a paused session: the EV sends the paused session's SessionID in SessionSetupReq. It resumes
(``OK_OldSessionJoined``, the same SessionID) only when this SECC keeps it, the EVCCID is the one that paused it,
the vehicle certificate (over TLS) is the same and the pause has not expired; the session then keeps the payment
option, the charge service and the SAScheduleTupleID it had agreed [V2G2-741]. Anything else starts a new
session with a fresh SessionID (``OK_NewSessionEstablished``), and a mismatch is logged as a security-relevant
refusal.

Payment: this SECC offers only what it can serve. ``ExternalPayment`` (EIM) when EIM is configured; ``Contract``
(Plug & Charge) when PnC is configured and the runtime gave the decisions the -2 PnC checks (``SeccView.pnc``,
:mod:`iso15118.iso2.secc.pnc`). With Contract offered and ``certificate_installation`` configured, ServiceDiscoveryRes
also lists the Certificate service (ServiceID 2, parameter sets 1 Installation and 2 Update, Table 105), which the
EV details and selects before CertificateInstallationReq / CertificateUpdateReq.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from iso15118.constants import EnergyService
from iso15118.controller import AuthorizationDecision, EVSELimits, SessionReport
from iso15118.decisions import Input, Need, PausedSession, Report, TakePaused, Warn
from iso15118.iso2.modes import (
    AC_MODES,
    CERTIFICATE_SERVICE_ID,
    CERTIFICATE_SETS,
    CHARGE_SERVICE_ID,
    CHARGE_SERVICE_NAME,
)
from iso15118.iso2.profile import ISO2
from iso15118.iso2.secc.pnc import authorize_contract
from iso15118.iso2.secc.view import Decision, SeccContext, SeccView, answer, fail, noted
from iso15118.messages.generated import iso2 as m
from iso15118.session.context import ZERO_SESSION

__all__ = [
    "authorization",
    "offered_modes",
    "payment_options",
    "resume_refusal",
    "service_detail",
    "service_discovery",
    "session_setup",
]

_R = m.ResponseCode
EIM_PAYMENT: Final = "ExternalPayment"
CONTRACT_PAYMENT: Final = "Contract"


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
    """The payment options offered: the one a resumed session had selected [V2G2-741] (Contract only while the PnC
    checks are still there), else ExternalPayment when EIM is configured and Contract when PnC is configured and
    can be verified."""
    contract = "PnC" in v.config.authorization and v.pnc is not None
    if v.ctx.resumed and v.ctx.payment is not None and (v.ctx.payment != CONTRACT_PAYMENT or contract):
        return (v.ctx.payment,)
    options = (EIM_PAYMENT,) if "EIM" in v.config.authorization else ()
    return (*options, CONTRACT_PAYMENT) if contract else options


def _certificate_service() -> m.Service:
    return m.Service(
        service_id=CERTIFICATE_SERVICE_ID,
        service_name="Certificate",
        service_category=m.ServiceCategory.ContractCertificate,
        free_service=True,
    )


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
    services = (_certificate_service(),) if CONTRACT_PAYMENT in options and v.config.certificate_installation else ()
    res = m.ServiceDiscoveryRes(
        response_code=_R.OK,
        payment_option_list=m.PaymentOptionList(payment_option=tuple(m.PaymentOption(o) for o in options)),
        charge_service=charge,
        service_list=m.ServiceList(service=services) if services else None,
    )
    offered = tuple(s.service_id for s in services)
    ctx = replace(v.ctx, offered_modes=tuple(str(x) for x in modes), offered_payment=options, offered_services=offered)
    return answer(res, v, ctx)


def _certificate_parameters() -> m.ServiceParameterList:
    sets = tuple(
        m.ParameterSet(parameter_set_id=i, parameter=(m.Parameter(name="Service", string_value=name),))
        for i, name in CERTIFICATE_SETS.items()
    )
    return m.ServiceParameterList(parameter_set=sets)


def service_detail(req: m.ServiceDetailReq, v: SeccView) -> Decision:
    """ServiceDetailReq: the charge service has no parameter sets to detail, the Certificate service has
    Installation and Update; any other ServiceID was not retrieved in ServiceDiscoveryRes [V2G2-425]."""
    if req.service_id in v.ctx.offered_services:
        res = m.ServiceDetailRes(
            response_code=_R.OK, service_id=req.service_id, service_parameter_list=_certificate_parameters()
        )
        return answer(res, v, v.ctx)
    if req.service_id != CHARGE_SERVICE_ID:
        return fail(_R.FAILED_ServiceIDInvalid, v, f"service {req.service_id} was not offered [V2G2-425]")
    return answer(m.ServiceDetailRes(response_code=_R.OK, service_id=req.service_id), v, v.ctx)


def payment_service_selection(req: m.PaymentServiceSelectionReq, v: SeccView) -> Decision:
    """PaymentServiceSelectionReq: an offered payment option, the charge service, and at most the value-added
    services offered (the Certificate service with one of its parameter sets, when it names one)."""
    option = str(req.selected_payment_option)
    if option not in v.ctx.offered_payment:
        return fail(_R.FAILED_PaymentSelectionInvalid, v, f"payment option {option} was not offered")
    selected = {s.service_id: s.parameter_set_id for s in req.selected_service_list.selected_service}
    if CHARGE_SERVICE_ID not in selected:
        return fail(_R.FAILED_NoChargeServiceSelected, v, "the charge service was not selected")
    others = sorted(set(selected) - {CHARGE_SERVICE_ID, *v.ctx.offered_services})
    if others:
        return fail(_R.FAILED_ServiceSelectionInvalid, v, f"service {others[0]} was not offered")
    certificate = selected.get(CERTIFICATE_SERVICE_ID)
    if certificate is not None and certificate not in CERTIFICATE_SETS:
        return fail(_R.FAILED_ServiceSelectionInvalid, v, f"the Certificate service has no parameter set {certificate}")
    ctx = replace(v.ctx, payment=option, certificate_service=certificate)
    return answer(m.PaymentServiceSelectionRes(response_code=_R.OK), v, ctx)


def _authorization_res(processing: m.EVSEProcessing, code: m.ResponseCode = _R.OK) -> m.AuthorizationRes:
    return m.AuthorizationRes(response_code=code, evse_processing=processing)


def authorization(req: m.AuthorizationReq, v: SeccView) -> Decision:
    """AuthorizationReq: with Contract payment the signed request of :func:`~iso15118.iso2.secc.pnc.authorize_contract`;
    EIM: Ongoing while the customer has not identified at the charger, Finished once the controller accepts; a
    refusal ends the session (-2 has no WARNING codes)."""
    if v.ctx.payment == CONTRACT_PAYMENT:
        return authorize_contract(req, v)
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
