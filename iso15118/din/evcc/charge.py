"""DIN 70121 EVCC decisions and requests of the DC charging steps: ChargeParameterDiscovery, then the shared
DC decisions of :mod:`iso15118.envelope.dc.evcc` (CableCheck, PreCharge, PowerDelivery, CurrentDemand,
WeldingDetection) applied to DIN's messages, and SessionStop.

DIN's own part is small: ChargeParameterDiscoveryReq names the energy transfer type the charger offered, and
PowerDeliveryReq asks for energy with ReadyToChargeState (a boolean: field-quirks) beside the shared
DC_EVPowerDeliveryParameter.
"""

from __future__ import annotations

from typing import Any

from iso15118.decisions import Step
from iso15118.din.evcc.view import EvccContext, EvccView, from_dc
from iso15118.envelope.dc import evcc as dc
from iso15118.envelope.states import starts_power
from iso15118.messages.generated import din as m

__all__ = [
    "after_cable_check",
    "after_charge_parameters",
    "after_current_demand",
    "after_power_delivery",
    "after_precharge",
    "after_session_stop",
    "after_welding_detection",
    "build_cable_check",
    "build_charge_parameters",
    "build_current_demand",
    "build_power_delivery",
    "build_precharge",
    "build_session_stop",
    "build_welding_detection",
    "current_demand_due",
]


def build_charge_parameters(v: EvccView) -> m.ChargeParameterDiscoveryReq:
    """ChargeParameterDiscoveryReq: the energy transfer type and the EV's DC parameters."""
    transfer = m.EVRequestedEnergyTransfer(v.ctx.energy_transfer or "DC_extended")
    return m.ChargeParameterDiscoveryReq(
        ev_requested_energy_transfer_type=transfer, dc_ev_charge_parameter=dc.ev_charge_parameter(m, v.ev)
    )


def after_charge_parameters(res: m.ChargeParameterDiscoveryRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """Shared: ask again while Ongoing, then cable check."""
    return from_dc(v, dc.after_charge_parameters(res, v, v.ctx.dc))


def build_cable_check(v: EvccView) -> m.CableCheckReq:
    """CableCheckReq."""
    req: m.CableCheckReq = dc.cable_check_request(m, v.ev)
    return req


def after_cable_check(res: m.CableCheckRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """Shared: repeat while the insulation test runs, then precharge."""
    return from_dc(v, dc.after_cable_check(res, v, v.ctx.dc))


def build_precharge(v: EvccView) -> m.PreChargeReq:
    """PreChargeReq."""
    req: m.PreChargeReq = dc.precharge_request(m, v.ev)
    return req


def after_precharge(res: m.PreChargeRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """Shared: repeat until the voltages match, then PowerDelivery."""
    return from_dc(v, dc.after_precharge(res, v, v.ctx.dc))


def build_power_delivery(v: EvccView) -> m.PowerDeliveryReq:
    """PowerDeliveryReq: ReadyToChargeState true after precharge, false to end the loop."""
    return m.PowerDeliveryReq(
        ready_to_charge_state=v.ctx.dc.want_power,
        dc_ev_power_delivery_parameter=dc.power_delivery_parameter(m, v.ev),
    )


def after_power_delivery(res: m.PowerDeliveryRes, req: m.PowerDeliveryReq, v: EvccView) -> Step[EvccContext]:
    """Shared: the loop after the contactors closed, welding detection after they opened."""
    return from_dc(v, dc.after_power_delivery(starts_power(req), v, v.ctx.dc))


def build_current_demand(v: EvccView) -> m.CurrentDemandReq:
    """CurrentDemandReq."""
    req: m.CurrentDemandReq = dc.current_demand_request(m, v.ev, v.ctx.dc)
    return req


def current_demand_due(v: EvccView) -> Step[EvccContext]:
    """Shared: the next CurrentDemandReq, or PowerDelivery(false) when the EV is done."""
    return from_dc(v, dc.current_demand_due(v, v.ctx.dc))


def after_current_demand(res: m.CurrentDemandRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """Shared: follow the output, then the next request (or stop when the charger asks)."""
    return from_dc(v, dc.after_current_demand(res, v, v.ctx.dc))


def build_welding_detection(v: EvccView) -> m.WeldingDetectionReq:
    """WeldingDetectionReq."""
    req: m.WeldingDetectionReq = dc.welding_request(m, v.ev)
    return req


def after_welding_detection(res: m.WeldingDetectionRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """Shared: repeat until the output is safe, then SessionStop."""
    return from_dc(v, dc.after_welding_detection(res, v, v.ctx.dc))


def build_session_stop(v: EvccView) -> m.SessionStop:
    """SessionStopReq (DIN's is empty: the session ends)."""
    return m.SessionStop()


def after_session_stop(res: Any, req: Any, v: EvccView) -> Step[EvccContext]:
    """Nothing follows: the core ends the session."""
    return Step(v.ctx)
