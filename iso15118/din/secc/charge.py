"""DIN 70121 SECC decisions of the DC charging steps: ChargeParameterDiscovery, and the shared DC decisions of
:mod:`iso15118.envelope.dc.secc` (CableCheck, PreCharge, PowerDelivery, CurrentDemand, WeldingDetection)
applied to DIN's messages.

ChargeParameterDiscovery: the EV must ask for a DC energy transfer type (else
``FAILED_WrongEnergyTransferType``) with its DC_EVChargeParameter, whose limits must fit the charger's (else
``FAILED_WrongChargeParameter``). The answer carries the charger's DC_EVSEChargeParameter and the SAScheduleList
DIN requires: one PMaxSchedule covering at least 24 hours from now [V2G-DC-559] with no SalesTariff
[V2G-DC-554]. PowerDelivery: ReadyToChargeState closes or opens the contactors.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from iso15118.controller import DCLimits
from iso15118.decisions import Need
from iso15118.din.secc.setup import ENERGY_TRANSFER
from iso15118.din.secc.view import DC, Decision, SeccView, fail, respond, with_dc
from iso15118.envelope.dc import secc as dc
from iso15118.envelope.kinds import Kind
from iso15118.envelope.states import starts_power
from iso15118.messages.generated import din as m
from iso15118.session.failures import minimal_instance

__all__ = [
    "SCHEDULE_TUPLE_ID",
    "cable_check",
    "charge_parameter_discovery",
    "current_demand",
    "power_delivery",
    "precharge",
    "welding_detection",
]

SCHEDULE_TUPLE_ID: Final = 1
_DAY_S: Final = 86400
_SHORT: Final = 32767


def _schedule(limits: DCLimits) -> m.SAScheduleList:
    # PMax is an xs:short: a charger above 32.767 kW sends the largest value it can (as EVerest does).
    entry = m.PMaxScheduleEntry(
        relative_time_interval=m.RelativeTimeInterval(start=0, duration=_DAY_S),
        p_max=min(_SHORT, round(limits.max_charge_power_w)),
    )
    schedule = m.PMaxSchedule(p_max_schedule_id=1, p_max_schedule_entry=(entry,))
    return m.SAScheduleList(
        sa_schedule_tuple=(m.SAScheduleTuple(sa_schedule_tuple_id=SCHEDULE_TUPLE_ID, p_max_schedule=schedule),)
    )


def _refuse_parameters(v: SeccView, code: str, why: str) -> Decision:
    return fail(
        v,
        Kind.ChargeParameterDiscoveryReq,
        code,
        why,
        evse_processing=m.EVSEProcessing.Finished,
        dc_evse_charge_parameter=minimal_instance(m.DC_EVSEChargeParameter),
    )


def charge_parameter_discovery(req: m.ChargeParameterDiscoveryReq, v: SeccView) -> Decision:
    """ChargeParameterDiscoveryReq: the charger's DC limits and its 24-hour PMaxSchedule."""
    asked = str(req.ev_requested_energy_transfer_type)
    if not asked.startswith("DC"):
        return _refuse_parameters(v, "FAILED_WrongEnergyTransferType", f"{asked} asked of a DC charger")
    parameter = req.dc_ev_charge_parameter
    if parameter is None:
        return _refuse_parameters(v, "FAILED_WrongChargeParameter", "no DC_EVChargeParameter")
    limits = dc.limits(v)
    if isinstance(limits, Need):
        return limits
    why = dc.ev_parameter_refusal(parameter, limits)
    if why is not None:
        return _refuse_parameters(v, "FAILED_WrongChargeParameter", why)
    ctx = replace(v.ctx, energy_transfer=asked)
    if asked != str(ENERGY_TRANSFER):
        ctx = replace(ctx, notes=(*ctx.notes, f"the EV asked for {asked}; the charger offered {ENERGY_TRANSFER}"))
    res = m.ChargeParameterDiscoveryRes(
        response_code=m.ResponseCode.OK,
        evse_processing=m.EVSEProcessing.Finished,
        sa_schedule_list=_schedule(limits),
        dc_evse_charge_parameter=dc.charge_parameter(DC, v.ctx.dc, limits),
    )
    return respond(v, res, ctx)


def cable_check(req: m.CableCheckReq, v: SeccView) -> Decision:
    """CableCheckReq (shared DC decision)."""
    return with_dc(v, dc.cable_check(req, v, v.ctx.dc, DC))


def precharge(req: m.PreChargeReq, v: SeccView) -> Decision:
    """PreChargeReq (shared DC decision)."""
    return with_dc(v, dc.precharge(req, v, v.ctx.dc, DC))


def power_delivery(req: m.PowerDeliveryReq, v: SeccView) -> Decision:
    """PowerDeliveryReq: ReadyToChargeState true closes the contactors, false opens them."""
    return with_dc(v, dc.power_delivery(req, v, v.ctx.dc, DC, start=starts_power(req)))


def current_demand(req: m.CurrentDemandReq, v: SeccView) -> Decision:
    """CurrentDemandReq (shared DC decision; DIN's response has nothing beyond the shared fields)."""
    return with_dc(v, dc.current_demand(req, v, v.ctx.dc, DC))


def welding_detection(req: m.WeldingDetectionReq, v: SeccView) -> Decision:
    """WeldingDetectionReq (shared DC decision)."""
    return with_dc(v, dc.welding_detection(req, v, v.ctx.dc, DC))
