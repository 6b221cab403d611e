"""EVCC decisions and requests of -2 session set-up: SessionSetup (new or resuming), ServiceDiscovery,
ServiceDetail, PaymentServiceSelection and Authorization.

The EV picks the energy transfer mode of its family from those the charger offers (AC: three phase when offered,
else single phase; our choice, as an on-board charger that takes either). It pays with ExternalPayment (EIM), or
with Contract when it is configured for PnC and can (:mod:`iso15118.iso2.evcc.pnc`); an EV configured for PnC
that cannot use it here stops and says why, or, with ``accept_fallback``, uses EIM and records the substitution.
A resume the SECC answers with a new session stops the EV the same way unless ``accept_fallback`` is set.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from iso15118.decisions import Send, Step
from iso15118.envelope.kinds import Kind
from iso15118.iso2.evcc.pnc import (
    after_payment_selection_contract,
    build_authorization_signed,
    contract_plan,
    selected_certificate_service,
)
from iso15118.iso2.evcc.view import EvccContext, EvccView, now_send, stop_step, wrap
from iso15118.iso2.modes import AC_MODES, CHARGE_SERVICE_ID, DC_MODES
from iso15118.messages.generated import iso2 as m
from iso15118.session.selection import EnergyFamily

__all__ = [
    "after_authorization",
    "after_payment_selection",
    "after_service_detail",
    "after_service_discovery",
    "after_session_setup",
    "build_authorization",
    "build_payment_selection",
    "build_service_detail",
    "build_service_discovery",
    "build_session_setup",
]

_PREFERENCE: Final = {
    EnergyFamily.AC: tuple(reversed(AC_MODES)),  # three phase first
    EnergyFamily.DC: (
        m.EnergyTransferMode.DC_extended,
        *(d for d in DC_MODES if d != m.EnergyTransferMode.DC_extended),
    ),
}


def build_session_setup(v: EvccView) -> Any:
    """SessionSetupReq: a new session (zero SessionID) or the paused one to resume; EVCCID is the EV's MAC."""
    session_id = v.config.resume_session_id or bytes(8)
    return wrap(v, m.SessionSetupReq(evcc_id=v.config.evcc_mac), header=m.MessageHeader(session_id=session_id))


def after_session_setup(res: Any, req: Any, v: EvccView) -> Step[EvccContext]:
    """On to ServiceDiscovery; a resume answered with a new session stops the EV unless it accepts fallbacks."""
    ctx = v.ctx
    if str(res.response_code) == "OK_OldSessionJoined":
        ctx = replace(ctx, resumed=True)
    elif v.config.resume_session_id is not None:
        why = f"the SECC did not resume session {v.config.resume_session_id.hex()} ({res.response_code}, a new session)"
        if not v.config.accept_fallback:
            return stop_step(v, why)
        ctx = replace(ctx, substitutions=(*ctx.substitutions, why))
    return Step(ctx, sends=(now_send(Kind.ServiceDiscoveryReq),))


def build_service_discovery(v: EvccView) -> Any:
    """ServiceDiscoveryReq (no filter)."""
    return wrap(v, m.ServiceDiscoveryReq())


def _substitute(v: EvccView, ctx: EvccContext, why: str, instead: str) -> EvccContext | None:
    """``ctx`` with the substitution recorded when fallbacks are accepted; None when the EV must stop."""
    if not v.config.accept_fallback:
        return None
    return replace(ctx, substitutions=(*ctx.substitutions, f"{why}; {instead}"))


def after_service_discovery(res: m.ServiceDiscoveryRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """Choose the energy transfer mode and the payment option; ask details of the value-added services."""
    modes = [str(x) for x in res.charge_service.supported_energy_transfer_mode.energy_transfer_mode]
    options = [str(o) for o in res.payment_option_list.payment_option]
    services = tuple(s.service_id for s in res.service_list.service) if res.service_list is not None else ()
    wanted = v.config.energy
    mode = next((str(x) for x in _PREFERENCE[wanted] if str(x) in modes), None)
    if mode is None:
        return stop_step(v, f"no {wanted} energy transfer mode offered (the SECC offers {', '.join(modes)})")
    ctx = replace(v.ctx, energy_mode=mode, phases=3 if mode == "AC_three_phase_core" else 1)
    if v.config.authorization == "PnC":
        planned = contract_plan(v, ctx, options, services)
        if isinstance(planned, EvccContext):
            return _discovered(planned, services)
        fallback = _substitute(v, ctx, planned, "EIM used instead")
        if fallback is None or "ExternalPayment" not in options:
            return stop_step(replace(v, ctx=ctx), planned)
        ctx = fallback
    if "ExternalPayment" not in options:
        return stop_step(replace(v, ctx=ctx), f"EIM asked, the SECC offers {', '.join(options)}")
    return _discovered(replace(ctx, payment="ExternalPayment"), services)


def _discovered(ctx: EvccContext, services: tuple[int, ...]) -> Step[EvccContext]:
    """Ask the details of every value-added service offered [V2G2-422] (as RISE-V2G and Josev restate it), then
    select."""
    ctx = replace(ctx, details=services)
    following = Kind.ServiceDetailReq if ctx.details else Kind.PaymentServiceSelectionReq
    return Step(ctx, sends=(now_send(following),))


def build_service_detail(v: EvccView) -> Any:
    """ServiceDetailReq for the next value-added service offered."""
    return wrap(v, m.ServiceDetailReq(service_id=v.ctx.details[0]))


def after_service_detail(res: Any, req: Any, v: EvccView) -> Step[EvccContext]:
    """The next detail, or the payment selection (value-added services are not selected)."""
    ctx = replace(v.ctx, details=v.ctx.details[1:])
    return Step(ctx, sends=(now_send(Kind.ServiceDetailReq if ctx.details else Kind.PaymentServiceSelectionReq),))


def build_payment_selection(v: EvccView) -> Any:
    """PaymentServiceSelectionReq: the payment option, the charge service and, to install or update the contract,
    the Certificate service."""
    charge = m.SelectedService(service_id=CHARGE_SERVICE_ID)
    services = m.SelectedServiceList(selected_service=(charge, *selected_certificate_service(v.ctx)))
    element = m.PaymentServiceSelectionReq(
        selected_payment_option=m.PaymentOption(v.ctx.payment), selected_service_list=services
    )
    return wrap(v, element)


def after_payment_selection(res: Any, req: Any, v: EvccView) -> Step[EvccContext]:
    """EIM: on to Authorization; Contract: the contract first."""
    if v.ctx.payment == "Contract":
        return after_payment_selection_contract(v)
    return Step(v.ctx, sends=(now_send(Kind.AuthorizationReq),))


def build_authorization(v: EvccView) -> Any:
    """AuthorizationReq: Contract's first one signed with the GenChallenge; EIM's, and Contract's repeats while
    the charger answers Ongoing [V2G2-684], without challenge and signature."""
    if v.ctx.payment == "Contract" and not v.ctx.authorization_sent:
        return build_authorization_signed(v)
    return wrap(v, m.AuthorizationReq())


def after_authorization(res: m.AuthorizationRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """Finished goes on to the charge parameters; Ongoing (also waiting for the customer) asks again after
    ``authorization_retry_s`` (the EV's ongoing timer bounds this)."""
    if str(res.evse_processing) != "Finished":
        ctx = replace(v.ctx, authorization_sent=True)
        return Step(ctx, sends=(Send(Kind.AuthorizationReq, at=v.now + v.config.authorization_retry_s),))
    return Step(v.ctx, sends=(now_send(Kind.ChargeParameterDiscoveryReq),))
