"""DIN 70121 SECC decisions of session set-up and end: SessionSetup, ServiceDiscovery, ServicePaymentSelection,
ContractAuthentication and SessionStop.

DIN 70121 has no TLS and no Plug & Charge: the charger offers its one DC charge service and external payment
(EIM: the customer authorizes at the charger), and ContractAuthentication is answered ``Ongoing`` until the
charger's authorization decides. DIN has no WARNING codes: a refused authorization is ``FAILED`` and ends the
session.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from iso15118.controller import AuthorizationDecision, SessionReport
from iso15118.decisions import Input, Need, Report
from iso15118.din.secc.view import Decision, SeccView, fail, respond
from iso15118.envelope.kinds import Kind
from iso15118.messages.generated import din as m
from iso15118.session.context import ZERO_SESSION

__all__ = [
    "CHARGE_SERVICE_ID",
    "ENERGY_TRANSFER",
    "contract_authentication",
    "service_discovery",
    "service_payment_selection",
    "session_setup",
    "session_stop",
]

_R = m.ResponseCode
CHARGE_SERVICE_ID: Final = 1
"""The ServiceID of the DC charge service (the value DIN chargers in the field use)."""
ENERGY_TRANSFER: Final = m.EVSESupportedEnergyTransfer.DC_extended
"""The DC pins of the CCS inlet; the other values are seldom, if ever, used in the field."""
_SESSION_ID_BYTES: Final = 8


def session_setup(req: m.SessionSetupReq, v: SeccView) -> Decision:
    """SessionSetupReq: a new session with a fresh, non-zero SessionID [V2G-DC-993]. DIN allows SessionIDs of 1
    to 8 bytes; this charger assigns 8 from a CSPRNG (never all zero)."""
    session_id = v.entropy[:_SESSION_ID_BYTES]
    if session_id == ZERO_SESSION:
        session_id = bytes([1]) + session_id[1:]
    ctx = replace(v.ctx, evcc_id=bytes(req.evcc_id).hex().upper())
    res = m.SessionSetupRes(response_code=_R.OK_NewSessionEstablished, evse_id=v.evse_id)
    return respond(replace(v, header=m.MessageHeader(session_id=session_id)), res, ctx)


def service_discovery(req: m.ServiceDiscoveryReq, v: SeccView) -> Decision:
    """ServiceDiscoveryReq: external payment and the DC charge service; no ServiceScope [V2G-DC-622] and no
    ServiceList [V2G-DC-549]."""
    service = m.ServiceCharge(
        service_tag=m.ServiceTag(service_id=CHARGE_SERVICE_ID, service_category=m.ServiceCategory.EVCharging),
        free_service=v.config.free_service,
        energy_transfer_type=ENERGY_TRANSFER,
    )
    res = m.ServiceDiscoveryRes(
        response_code=_R.OK,
        payment_options=m.PaymentOptions(payment_option=(m.PaymentOption.ExternalPayment,)),
        charge_service=service,
    )
    return respond(v, res, v.ctx)


def service_payment_selection(req: m.ServicePaymentSelectionReq, v: SeccView) -> Decision:
    """ServicePaymentSelectionReq: external payment, and the charge service among the selected ones."""
    if req.selected_payment_option is not m.PaymentOption.ExternalPayment:
        why = f"{req.selected_payment_option} was not offered (DIN 70121: external payment only)"
        return fail(v, Kind.ServicePaymentSelectionReq, "FAILED_PaymentSelectionInvalid", why)
    selected = {s.service_id for s in req.selected_service_list.selected_service}
    if selected != {CHARGE_SERVICE_ID}:
        why = f"services {sorted(selected)} selected, the charger offers {CHARGE_SERVICE_ID} only"
        return fail(v, Kind.ServicePaymentSelectionReq, "FAILED_ServiceSelectionInvalid", why)
    ctx = replace(v.ctx, service_id=CHARGE_SERVICE_ID, payment=str(req.selected_payment_option))
    return respond(v, m.ServicePaymentSelectionRes(response_code=_R.OK), ctx)


def contract_authentication(req: m.ContractAuthenticationReq, v: SeccView) -> Decision:
    """ContractAuthenticationReq: Ongoing until the charger's authorization decides; refused is FAILED. Its Id
    and GenChallenge are not used in DIN 70121 [V2G-DC-545] [V2G-DC-550]."""
    if Input.AUTHORIZATION not in v.inputs:
        return Need(Input.AUTHORIZATION, (v.ctx.evcc_id, None))
    decision: AuthorizationDecision = v.inputs.get(Input.AUTHORIZATION)
    if decision is AuthorizationDecision.REJECTED:
        return fail(
            v,
            Kind.ContractAuthenticationReq,
            "FAILED",
            "the charger refused the authorization",
            evse_processing=m.EVSEProcessing.Finished,
        )
    finished = decision is AuthorizationDecision.ACCEPTED
    processing = m.EVSEProcessing.Finished if finished else m.EVSEProcessing.Ongoing
    res = m.ContractAuthenticationRes(response_code=_R.OK, evse_processing=processing)
    return respond(v, res, replace(v.ctx, authorized=finished))


def session_stop(req: Any, v: SeccView) -> Decision:
    """SessionStopReq (empty in DIN 70121): the session ends."""
    report = Report(SessionReport(event="session_stop", detail="Terminate"))
    return respond(v, m.SessionStopRes(response_code=_R.OK), v.ctx, report)
