"""DIN 70121 EVCC decisions and requests of session set-up: SessionSetup, ServiceDiscovery,
ServicePaymentSelection and ContractAuthentication.

DIN 70121 knows external payment only (EIM): an EV configured for Plug & Charge stops and says why, or with
``accept_fallback`` goes on with external payment and records the substitution. The EV asks for the DC energy
transfer type the charger offers (DC_extended on a CCS inlet) and repeats ContractAuthentication while the
charger answers ``Ongoing`` (the core's ongoing timer bounds it).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from iso15118.decisions import Send, Step
from iso15118.din.evcc.view import EvccContext, EvccView, now_send, stop_step
from iso15118.envelope.kinds import Kind
from iso15118.messages.generated import din as m

__all__ = [
    "after_contract_authentication",
    "after_service_discovery",
    "after_service_payment_selection",
    "after_session_setup",
    "build_contract_authentication",
    "build_service_discovery",
    "build_service_payment_selection",
    "build_session_setup",
    "requested_transfer",
]

_EV_DC: Final = frozenset(t.value for t in m.EVRequestedEnergyTransfer if t.value.startswith("DC"))


def requested_transfer(offered: str) -> str | None:
    """The EVRequestedEnergyTransferType for the charger's EVSESupportedEnergyTransferType (None: no DC)."""
    if offered in _EV_DC:
        return offered
    if offered.endswith("DC_extended") or offered == "DC_dual":
        return "DC_extended"
    if offered.endswith("DC_core"):
        return "DC_core"
    return None


def build_session_setup(v: EvccView) -> m.SessionSetupReq:
    """SessionSetupReq with the EV's MAC as EVCCID (the header's SessionID is zero)."""
    return m.SessionSetupReq(evcc_id=v.config.evcc_mac)


def after_session_setup(res: m.SessionSetupRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """The session is set up: ServiceDiscovery."""
    return Step(v.ctx, sends=(now_send(Kind.ServiceDiscoveryReq),))


def build_service_discovery(v: EvccView) -> m.ServiceDiscoveryReq:
    """ServiceDiscoveryReq for the charging services."""
    return m.ServiceDiscoveryReq(service_category=m.ServiceCategory.EVCharging)


def after_service_discovery(res: m.ServiceDiscoveryRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """External payment and a DC charge service: select them."""
    ctx = v.ctx
    offered = {str(p) for p in res.payment_options.payment_option}
    if "ExternalPayment" not in offered:
        return stop_step(v, f"the charger offers no external payment ({', '.join(sorted(offered))})")
    if v.config.authorization != "EIM":
        why = f"{v.config.authorization} asked; DIN 70121 has external payment only"
        if not v.config.accept_fallback:
            return stop_step(v, why)
        ctx = replace(ctx, substitutions=(*ctx.substitutions, f"{why}; EIM used instead"))
    service = res.charge_service
    transfer = requested_transfer(str(service.energy_transfer_type))
    if transfer is None:
        return stop_step(v, f"the charger offers {service.energy_transfer_type}, no DC energy transfer")
    ctx = replace(ctx, service_id=service.service_tag.service_id, energy_transfer=transfer)
    return Step(ctx, sends=(now_send(Kind.ServicePaymentSelectionReq),))


def build_service_payment_selection(v: EvccView) -> m.ServicePaymentSelectionReq:
    """ServicePaymentSelectionReq: external payment and the charge service."""
    assert v.ctx.service_id is not None
    selected = m.SelectedServiceList(selected_service=(m.SelectedService(service_id=v.ctx.service_id),))
    return m.ServicePaymentSelectionReq(
        selected_payment_option=m.PaymentOption.ExternalPayment, selected_service_list=selected
    )


def after_service_payment_selection(res: Any, req: Any, v: EvccView) -> Step[EvccContext]:
    """Selected: ContractAuthentication."""
    return Step(v.ctx, sends=(now_send(Kind.ContractAuthenticationReq),))


def build_contract_authentication(v: EvccView) -> m.ContractAuthenticationReq:
    """ContractAuthenticationReq: empty with external payment (no Id, no GenChallenge [V2G-DC-545] [V2G-DC-550])."""
    return m.ContractAuthenticationReq()


def after_contract_authentication(res: m.ContractAuthenticationRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """Ask again while the charger authorizes; then the charge parameters."""
    if str(res.evse_processing) != "Finished":
        return Step(v.ctx, sends=(Send(Kind.ContractAuthenticationReq, at=v.now + v.config.authorization_retry_s),))
    return Step(replace(v.ctx, authorized=True), sends=(now_send(Kind.ChargeParameterDiscoveryReq),))
