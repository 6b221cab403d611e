"""SECC decisions of ChargeParameterDiscovery and PowerDelivery (-2, AC and DC).

ChargeParameterDiscovery: the EV's RequestedEnergyTransferMode must be one ServiceDiscoveryRes offered
(``FAILED_WrongEnergyTransferMode``; a renegotiation keeps the session's family) and its charge parameters must
be those of that mode's family [V2G2-477]. The answer carries one SAScheduleTuple whose PMaxSchedule is the
charger's maximum power for ``schedule_duration_s`` (24 h by default), and the charger's AC parameters or its DC
ones (the DC_EVSEChargeParameter DIN and -2 share, :mod:`iso15118.envelope.dc.secc`). A resumed session keeps the
SAScheduleTupleID it had agreed [V2G2-741].

PowerDelivery: Start must select an offered SAScheduleTuple (``FAILED_TariffSelectionInvalid``) and a
ChargingProfile, when sent, must stay within its PMax [V2G2-225] (``FAILED_ChargingProfileInvalid``); Start and
Stop ask the controller to close or open the contactors (``FAILED_PowerDeliveryNotApplied`` when that fails; in
DC through the shared decision, which also reads the meter at Stop); Renegotiate leaves them closed and sends the
EV back to ChargeParameterDiscovery.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from iso15118.controller import EVSELimits, PowerDeliveryRequest, SessionReport
from iso15118.decisions import Input, Need, Report
from iso15118.envelope.dc import secc as dc
from iso15118.envelope.physical import physical, value_of
from iso15118.iso2.modes import family_of
from iso15118.iso2.secc.view import DC, Decision, SeccView, ac_status, answer, evse_status, fail, with_dc
from iso15118.messages.generated import iso2 as m
from iso15118.session.selection import EnergyFamily

__all__ = [
    "ac_charge_parameters",
    "charge_parameter_discovery",
    "dc_charge_parameters",
    "power_delivery",
    "schedule",
]

_R = m.ResponseCode
_FIRST_TUPLE: Final = 1


def schedule(v: SeccView, tuple_id: int, pmax_w: float) -> m.SAScheduleList:
    entry = m.PMaxScheduleEntry(
        relative_time_interval=m.RelativeTimeInterval(start=0, duration=min(v.config.schedule_duration_s, 86400)),
        p_max=physical(m, pmax_w, "W"),
    )
    schedule = m.PMaxSchedule(p_max_schedule_entry=(entry,))
    return m.SAScheduleList(
        sa_schedule_tuple=(m.SAScheduleTuple(sa_schedule_tuple_id=tuple_id, p_max_schedule=schedule),)
    )


def ac_charge_parameters(req: m.ChargeParameterDiscoveryReq, v: SeccView) -> Decision:
    """The AC half of ChargeParameterDiscoveryReq: the charger's AC limits and a PMax schedule."""
    ev = req.ac_ev_charge_parameter
    if ev is None:
        return fail(_R.FAILED_WrongChargeParameter, v, "an AC mode without AC_EVChargeParameter [V2G2-477]")
    if Input.LIMITS not in v.inputs:
        return Need(Input.LIMITS)
    limits: EVSELimits = v.inputs.get(Input.LIMITS)
    mode = str(req.requested_energy_transfer_mode)
    phases = 3 if mode == str(m.EnergyTransferMode.AC_three_phase_core) else 1
    nominal = limits.nominal_voltage_v
    max_current = limits.max_charge_w / (nominal * phases)
    if value_of(ev.ev_min_current) > max_current:
        return fail(_R.FAILED_WrongChargeParameter, v, "the EV's minimum current exceeds the charger's maximum")
    ev_max_w = value_of(ev.ev_max_current) * nominal * phases
    tuple_id = v.ctx.schedule_tuple_id if v.ctx.resumed and v.ctx.schedule_tuple_id else _FIRST_TUPLE
    res = m.ChargeParameterDiscoveryRes(
        response_code=_R.OK,
        evse_processing=m.EVSEProcessing.Finished,
        sa_schedule_list=schedule(v, tuple_id, limits.max_charge_w),
        ac_evse_charge_parameter=m.AC_EVSEChargeParameter(
            ac_evse_status=ac_status(),
            evse_nominal_voltage=physical(m, nominal, "V"),
            evse_max_current=physical(m, round(max_current, 1), "A"),
        ),
    )
    ctx = replace(
        v.ctx,
        energy_mode=mode,
        phases=phases,
        nominal_voltage_v=nominal,
        schedule_ids=(tuple_id,),
        pmax_w=limits.max_charge_w,
        ev_max_w=ev_max_w,
        granted_w=min(ev_max_w, limits.max_charge_w),
    )
    return answer(res, v, ctx)


def dc_charge_parameters(req: m.ChargeParameterDiscoveryReq, v: SeccView) -> Decision:
    """The DC half of ChargeParameterDiscoveryReq: the EV's DC limits must fit the charger's; the answer carries
    the charger's DC_EVSEChargeParameter (shared with DIN) and a PMax schedule at its maximum power."""
    parameter = req.dc_ev_charge_parameter
    if parameter is None:
        return fail(_R.FAILED_WrongChargeParameter, v, "a DC mode without DC_EVChargeParameter [V2G2-477]")
    limits = dc.limits(v)
    if isinstance(limits, Need):
        return limits
    why = dc.ev_parameter_refusal(parameter, limits)
    if why is not None:
        return fail(_R.FAILED_WrongChargeParameter, v, why)
    tuple_id = v.ctx.schedule_tuple_id if v.ctx.resumed and v.ctx.schedule_tuple_id else _FIRST_TUPLE
    res = m.ChargeParameterDiscoveryRes(
        response_code=_R.OK,
        evse_processing=m.EVSEProcessing.Finished,
        sa_schedule_list=schedule(v, tuple_id, limits.max_charge_power_w),
        dc_evse_charge_parameter=dc.charge_parameter(DC, v.ctx.dc, limits),
    )
    mode = str(req.requested_energy_transfer_mode)
    ctx = replace(v.ctx, energy_mode=mode, schedule_ids=(tuple_id,), pmax_w=limits.max_charge_power_w)
    return answer(res, v, ctx)


_BY_FAMILY: Final = {EnergyFamily.AC: ac_charge_parameters, EnergyFamily.DC: dc_charge_parameters}


def charge_parameter_discovery(req: m.ChargeParameterDiscoveryReq, v: SeccView) -> Decision:
    """ChargeParameterDiscoveryReq: the mode must be offered, and of the session's family once it has one."""
    mode = str(req.requested_energy_transfer_mode)
    family = family_of(mode)
    if mode not in v.ctx.offered_modes:
        offered = ", ".join(v.ctx.offered_modes) or "none"
        return fail(_R.FAILED_WrongEnergyTransferMode, v, f"{mode} was not offered ({offered})")
    if v.selection.family is not None and family is not v.selection.family:
        return fail(_R.FAILED_WrongEnergyTransferMode, v, f"{mode} in a {v.selection.family} session")
    decide = _BY_FAMILY.get(family)
    if decide is None:
        return fail(_R.FAILED_WrongEnergyTransferMode, v, f"no {family} decisions")
    return decide(req, v)


def _profile_refusal(req: m.PowerDeliveryReq, v: SeccView) -> str | None:
    """Why a PowerDeliveryReq(Start) cannot start (None: it can)."""
    if req.sa_schedule_tuple_id not in v.ctx.schedule_ids:
        return f"SAScheduleTupleID {req.sa_schedule_tuple_id} was not offered"
    profile = req.charging_profile
    if profile is not None:
        peak = max(value_of(e.charging_profile_entry_max_power) for e in profile.profile_entry)
        if peak > v.ctx.pmax_w:
            return f"the ChargingProfile asks {peak:.0f} W above the schedule's PMax of {v.ctx.pmax_w:.0f} W"
    return None


def power_delivery(req: m.PowerDeliveryReq, v: SeccView) -> Decision:
    """PowerDeliveryReq: Start, Stop or Renegotiate; a DC session's contactors are the shared DC decision's."""
    progress = str(req.charge_progress)
    if progress == "Renegotiate":
        ctx = replace(v.ctx, renegotiations=v.ctx.renegotiations + 1)
        report = Report(SessionReport(event="power_delivery", detail="Renegotiate"))
        return answer(m.PowerDeliveryRes(response_code=_R.OK, **evse_status(v)), v, ctx, report)
    if progress == "Start":
        refusal = _profile_refusal(req, v)
        if refusal is not None:
            tariff = "SAScheduleTupleID" in refusal
            return fail(_R.FAILED_TariffSelectionInvalid if tariff else _R.FAILED_ChargingProfileInvalid, v, refusal)
    ctx = replace(v.ctx, schedule_tuple_id=req.sa_schedule_tuple_id) if progress == "Start" else v.ctx
    report = Report(SessionReport(event="power_delivery", detail=progress))
    if v.selection.family is EnergyFamily.DC:
        decided = dc.power_delivery(req, v, v.ctx.dc, DC, start=progress == "Start")
        if isinstance(decided, Need) or decided.refusal is not None:
            return with_dc(v, decided)
        return answer(decided.element, v, replace(ctx, dc=decided.progress), report)
    if Input.POWER_DELIVERY not in v.inputs:
        return Need(Input.POWER_DELIVERY, PowerDeliveryRequest(progress=progress, discharge=False))
    if not v.inputs.get(Input.POWER_DELIVERY):
        return fail(_R.FAILED_PowerDeliveryNotApplied, v, f"the contactors did not {progress}")
    return answer(m.PowerDeliveryRes(response_code=_R.OK, **evse_status(v)), v, ctx, report)
