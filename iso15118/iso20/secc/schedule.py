"""SECC decisions of ScheduleExchange and PowerDelivery (every energy mode).

ScheduleExchange: the control mode must be the one selected in ServiceSelection (``FAILED_WrongChargeParameter``
otherwise); Dynamic mode gets no schedule (optionally a flat price-level schedule), Scheduled mode one
ScheduleTuple at the charger's maximum power (with a DischargingSchedule for the BPT services).
PowerDelivery: the EV may answer Ongoing while it computes its profile [V2G20-1436]; discharge needs the BPT
service; a Scheduled Start must select an offered ScheduleTuple (``FAILED_ScheduleSelectionInvalid``); Standby
is optional (``WARNING_StandbyNotAllowed``); contactors that fail answer ``FAILED_ContactorError``.
"""

from __future__ import annotations

from dataclasses import replace

from iso15118.config import PRICING
from iso15118.controller import DCLimits, EVSELimits, PowerDeliveryRequest, SessionReport
from iso15118.decisions import Input, Need, Report
from iso15118.iso20.schedules import flat_price_levels, single_level_tuple
from iso15118.iso20.secc.view import Decision, SeccView, answer, fail
from iso15118.iso20.services import mode_of_service
from iso15118.messages import iso20 as m
from iso15118.session.selection import EnergyFamily

__all__ = ["power_delivery", "schedule_exchange"]

_R = m.ResponseCode


def _bidirectional(v: SeccView) -> bool:
    mode = mode_of_service(v.ctx.service_id or 0)
    return mode is not None and mode.bidirectional


def _max_powers(v: SeccView) -> tuple[float, float] | Need:
    """(max charge, max discharge) power of the charger in W."""
    dc = v.selection.family is EnergyFamily.DC
    what = Input.DC_LIMITS if dc else Input.LIMITS
    if what not in v.inputs:
        return Need(what)
    if dc:
        dc_limits: DCLimits = v.inputs.get(what)
        return dc_limits.max_charge_power_w, dc_limits.max_discharge_power_w
    limits: EVSELimits = v.inputs.get(what)
    return limits.max_charge_w, limits.max_discharge_w


def schedule_exchange(req: m.ScheduleExchangeReq, v: SeccView) -> Decision:
    """ScheduleExchangeReq: a schedule (Scheduled mode) or none (Dynamic mode)."""
    dynamic = v.ctx.dynamic
    if (req.dynamic_se_req_control_mode is not None) != dynamic:
        # The control mode must be the one selected in ServiceSelection.
        return fail(req, _R.FAILED_WrongChargeParameter, v, "the control mode is not the one selected")
    price_levels = PRICING[v.config.pricing] == 2
    if dynamic:
        prices = flat_price_levels(int(v.now), v.config.schedule_duration_s) if price_levels else None
        res = m.ScheduleExchangeRes(
            header=v.header,
            response_code=_R.OK,
            evse_processing=m.Processing.Finished,
            dynamic_se_res_control_mode=m.Dynamic_SEResControlMode(price_level_schedule=prices),
        )
        return answer(res, v.ctx)
    powers = _max_powers(v)
    if isinstance(powers, Need):
        return powers
    charge_w, discharge_w = powers
    tuple_ = single_level_tuple(
        1,
        int(v.now),
        v.config.schedule_duration_s,
        charge_w,
        discharge_w if _bidirectional(v) else None,
        price_levels=price_levels,
    )
    res = m.ScheduleExchangeRes(
        header=v.header,
        response_code=_R.OK,
        evse_processing=m.Processing.Finished,
        scheduled_se_res_control_mode=m.Scheduled_SEResControlMode(schedule_tuple=(tuple_,)),
    )
    return answer(res, replace(v.ctx, schedule_ids=(tuple_.schedule_tuple_id,)))


def power_delivery(req: m.PowerDeliveryReq, v: SeccView) -> Decision:
    """PowerDeliveryReq: Start, Stop, Standby (and ScheduleRenegotiation on its side stream)."""
    ok = m.PowerDeliveryRes(header=v.header, response_code=_R.OK)
    if str(req.ev_processing) == "Ongoing":
        return answer(ok, v.ctx)  # the EV is still computing its power profile [V2G20-1436]
    progress = str(req.charge_progress)
    discharge = str(req.bpt_channel_selection or "") == "Discharge"
    if discharge and not _bidirectional(v):
        # Discharge needs the bidirectional service.
        return fail(req, _R.FAILED_WrongChargeParameter, v, "discharge asked without a BPT service")
    if progress == "ScheduleRenegotiation":
        return answer(ok, v.ctx)  # side-stream renegotiation: the new schedule applies from now on [V2G20-2317]
    if progress == "Start" and v.ctx.control_mode == 1:
        profile = req.ev_power_profile
        mode = profile.scheduled_evppt_control_mode if profile else None
        if mode is None or mode.selected_schedule_tuple_id not in v.ctx.schedule_ids:
            return fail(req, _R.FAILED_ScheduleSelectionInvalid, v, "the selected ScheduleTuple was not offered")
    if progress == "Standby" and not v.config.standby_allowed:
        return answer(m.PowerDeliveryRes(header=v.header, response_code=_R.WARNING_StandbyNotAllowed), v.ctx)
    if Input.POWER_DELIVERY not in v.inputs:
        return Need(Input.POWER_DELIVERY, PowerDeliveryRequest(progress=progress, discharge=discharge))
    if not v.inputs.get(Input.POWER_DELIVERY):
        return fail(req, _R.FAILED_ContactorError, v, f"the contactors did not {progress}")
    ctx = replace(v.ctx, discharge=discharge)
    effects: tuple[Report, ...] = ()
    if progress == "Start":
        channel = "Discharge" if discharge else "Charge"
        ctx = replace(ctx, bpt_channel=channel if _bidirectional(v) else ctx.bpt_channel)
        effects = (Report(SessionReport(event="power_delivery", detail=f"Start ({channel})")),)
    return answer(ok, ctx, *effects)
