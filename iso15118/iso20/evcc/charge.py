"""EVCC decisions and requests from the charge parameters to PowerDelivery: AC_/DC_ChargeParameterDiscovery,
ScheduleExchange (main stream and the renegotiation side stream) and PowerDelivery.

After the schedule an AC session starts power delivery; a DC session first runs the cable check and the
precharge (:mod:`~iso15118.iso20.evcc.dc`). After PowerDelivery(Stop) an AC session ends with SessionStop
[V2G20-1623]; a DC session checks its contactors for welding first.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from iso15118.controller import ChargeDirection
from iso15118.decisions import Send, Step
from iso15118.iso20.evcc.view import EvccContext, EvccView, is_dc, now_send
from iso15118.iso20.kinds import Kind
from iso15118.iso20.schedules import allowed_power, intervals_of
from iso15118.iso20.services import discharge_limit, mode_of_service
from iso15118.messages import iso20 as m
from iso15118.messages.units import rational
from iso15118.session.profile import Stream

__all__ = [
    "after_charge_parameters",
    "after_power_delivery",
    "after_schedule_exchange",
    "build_ac_charge_parameters",
    "build_dc_charge_parameters",
    "build_power_delivery",
    "build_schedule_exchange",
    "discharging",
    "scheduled_power",
]


def bidirectional(v: EvccView) -> bool:
    """The selected service is AC_BPT or DC_BPT."""
    mode = mode_of_service(v.ctx.service_id or 0)
    return mode is not None and mode.bidirectional


def discharging(v: EvccView) -> bool:
    """The EV discharges in this session (a BPT service and the EV's direction)."""
    return bidirectional(v) and v.ev.direction is ChargeDirection.DISCHARGE


def build_ac_charge_parameters(v: EvccView) -> m.AC_ChargeParameterDiscoveryReq:
    """AC_ChargeParameterDiscoveryReq: the EV's power limits (BPT element for AC_BPT)."""
    lim = v.ev.limits
    common = {
        "ev_maximum_charge_power": rational(lim.max_charge_w),
        "ev_minimum_charge_power": rational(lim.min_charge_w),
    }
    negative = v.config.negative_discharge_limits
    if bidirectional(v):
        mode = m.BPT_AC_CPDReqEnergyTransferMode(
            **common,
            ev_maximum_discharge_power=discharge_limit(lim.max_discharge_w, negative=negative),
            ev_minimum_discharge_power=discharge_limit(lim.min_discharge_w, negative=negative),
        )
        return m.AC_ChargeParameterDiscoveryReq(header=v.header, bpt_ac_cpd_req_energy_transfer_mode=mode)
    return m.AC_ChargeParameterDiscoveryReq(
        header=v.header, ac_cpd_req_energy_transfer_mode=m.AC_CPDReqEnergyTransferMode(**common)
    )


def _dc_required(value: float | None, what: str) -> float:
    if value is None:
        raise ValueError(f"a DC session needs the EV's {what} (EVLimits/EVState)")
    return value


def build_dc_charge_parameters(v: EvccView) -> m.DC_ChargeParameterDiscoveryReq:
    """DC_ChargeParameterDiscoveryReq: the EV's power, current and voltage limits (BPT element for DC_BPT)."""
    lim = v.ev.limits
    negative = v.config.negative_discharge_limits
    common: dict[str, Any] = {
        "ev_maximum_charge_power": rational(lim.max_charge_w),
        "ev_minimum_charge_power": rational(lim.min_charge_w),
        "ev_maximum_charge_current": rational(_dc_required(lim.max_charge_current_a, "maximum charge current")),
        "ev_minimum_charge_current": rational(lim.min_charge_current_a or 0.0),
        "ev_maximum_voltage": rational(_dc_required(lim.max_voltage_v, "maximum voltage")),
        "ev_minimum_voltage": rational(_dc_required(lim.min_voltage_v, "minimum voltage")),
    }
    if v.ev.target_soc is not None:
        common["target_soc"] = max(0, min(100, round(v.ev.target_soc)))
    if bidirectional(v):
        mode = m.BPT_DC_CPDReqEnergyTransferMode(
            **common,
            ev_maximum_discharge_power=discharge_limit(lim.max_discharge_w, negative=negative),
            ev_minimum_discharge_power=discharge_limit(lim.min_discharge_w, negative=negative),
            ev_maximum_discharge_current=discharge_limit(lim.max_discharge_current_a or 0.0, negative=negative),
            ev_minimum_discharge_current=discharge_limit(lim.min_discharge_current_a or 0.0, negative=negative),
        )
        return m.DC_ChargeParameterDiscoveryReq(header=v.header, bpt_dc_cpd_req_energy_transfer_mode=mode)
    return m.DC_ChargeParameterDiscoveryReq(
        header=v.header, dc_cpd_req_energy_transfer_mode=m.DC_CPDReqEnergyTransferMode(**common)
    )


def after_charge_parameters(res: Any, req: Any, v: EvccView) -> Step[EvccContext]:
    """On to the schedule."""
    return Step(v.ctx, sends=(now_send(Kind.ScheduleExchangeReq),))


def build_schedule_exchange(v: EvccView) -> m.ScheduleExchangeReq:
    """ScheduleExchangeReq for the selected control mode, with the EV's energy requests."""
    ev = v.ev
    energy: dict[str, Any] = {
        "ev_target_energy_request": rational(ev.target_energy_wh),
        "ev_maximum_energy_request": rational(ev.max_energy_wh),
        "ev_minimum_energy_request": rational(ev.min_energy_wh),
    }
    mode: dict[str, Any]
    if v.ctx.dynamic:
        v2x: dict[str, Any] = {}
        if ev.max_v2x_energy_wh is not None and ev.min_v2x_energy_wh is not None:
            # Sent together or not at all [V2G20-2124/2681].
            v2x = {
                "ev_maximum_v2x_energy_request": rational(ev.max_v2x_energy_wh),
                "ev_minimum_v2x_energy_request": rational(ev.min_v2x_energy_wh),
            }
        # DepartureTime is mandatory in Dynamic mode (fact sheet 2.7); 12 h when the EV has no plan.
        departure = ev.departure_s if ev.departure_s else 43200
        mode = {"dynamic_se_req_control_mode": m.Dynamic_SEReqControlMode(departure_time=departure, **energy, **v2x)}
    else:
        mode = {"scheduled_se_req_control_mode": m.Scheduled_SEReqControlMode(departure_time=ev.departure_s, **energy)}
    return m.ScheduleExchangeReq(header=v.header, maximum_supporting_points=v.config.max_supporting_points, **mode)


def _take_schedule(ctx: EvccContext, res: m.ScheduleExchangeRes) -> EvccContext:
    """Keep the first ScheduleTuple (the one PowerDelivery selects) as power intervals."""
    mode = res.scheduled_se_res_control_mode
    if mode is None:
        return ctx
    chosen = mode.schedule_tuple[0]
    return replace(ctx, schedule_tuple_id=chosen.schedule_tuple_id, schedule=intervals_of(chosen))


def after_schedule_exchange(res: m.ScheduleExchangeRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """Repeat while Ongoing [V2G20-1593]; then PowerDelivery (AC) or the cable check (DC)."""
    if str(res.evse_processing) != "Finished":
        return Step(v.ctx, sends=(Send(Kind.ScheduleExchangeReq, at=v.now + v.config.authorization_retry_s),))
    ctx = _take_schedule(v.ctx, res)
    following = Kind.DC_CableCheckReq if is_dc(v) else Kind.PowerDeliveryReq
    return Step(ctx, sends=(now_send(following),))


def after_renegotiated_schedule(res: m.ScheduleExchangeRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """Side stream 0x8101: the new schedule applies after PowerDelivery(ScheduleRenegotiation) [V2G20-2317]."""
    if str(res.evse_processing) != "Finished":
        send = Send(Kind.ScheduleExchangeReq, Stream.SCHEDULE_RENEGOTIATION, at=v.now + v.config.authorization_retry_s)
        return Step(v.ctx, sends=(send,))
    return Step(_take_schedule(v.ctx, res), sends=(now_send(Kind.PowerDeliveryReq, Stream.SCHEDULE_RENEGOTIATION),))


def scheduled_power(v: EvccView) -> float | None:
    """Scheduled mode without a charger target: the power the selected schedule allows now (fact sheet 6.3).

    None in Dynamic mode, or before any schedule: the EV keeps its own plan.
    """
    if v.ctx.dynamic or not v.ctx.schedule:
        return None
    return allowed_power(v.ctx.schedule, v.now, discharge=v.ctx.bpt_channel == "Discharge")


def build_power_delivery(v: EvccView, stream: Stream = Stream.MAIN) -> m.PowerDeliveryReq:
    """PowerDeliveryReq: Start (or ScheduleRenegotiation on the side stream) with the EV's power profile and
    BPT channel; Stop once the EV decided to stop."""
    progress = (
        "ScheduleRenegotiation" if stream is Stream.SCHEDULE_RENEGOTIATION else "Stop" if v.ctx.stopping else "Start"
    )
    discharge = discharging(v)
    profile = None
    if progress in ("Start", "ScheduleRenegotiation"):
        lim = v.ev.limits
        power = -lim.max_discharge_w if discharge else lim.max_charge_w
        entries = m.EVPowerProfileEntryList(
            ev_power_profile_entry=(m.PowerScheduleEntry(duration=3600, power=rational(power)),)
        )
        if v.ctx.dynamic:
            profile = m.EVPowerProfile(
                time_anchor=int(v.now),
                dynamic_evppt_control_mode=m.Dynamic_EVPPTControlMode(),
                ev_power_profile_entries=entries,
            )
        else:
            tolerance = v.config.power_tolerance_acceptance
            selected = m.Scheduled_EVPPTControlMode(
                selected_schedule_tuple_id=v.ctx.schedule_tuple_id or 1,
                power_tolerance_acceptance=m.PowerToleranceAcceptance(tolerance) if tolerance else None,
            )
            profile = m.EVPowerProfile(
                time_anchor=int(v.now), scheduled_evppt_control_mode=selected, ev_power_profile_entries=entries
            )
    channel = None
    if bidirectional(v) and progress != "Stop":
        channel = m.ChannelSelection.Discharge if discharge else m.ChannelSelection.Charge
    return m.PowerDeliveryReq(
        header=v.header,
        ev_processing=m.Processing.Finished,
        charge_progress=m.ChargeProgress(progress),
        ev_power_profile=profile,
        bpt_channel_selection=channel,
    )


def after_power_delivery(res: m.PowerDeliveryRes, req: m.PowerDeliveryReq, v: EvccView) -> Step[EvccContext]:
    """Start: into the charge loop. Stop: welding detection (DC) or SessionStop [V2G20-1623]."""
    progress = str(req.charge_progress)
    ctx = v.ctx
    if progress == "ScheduleRenegotiation":
        return Step(ctx)  # the renegotiated schedule applies; the loop goes on [V2G20-2317]
    if progress == "Stop":
        following = Kind.DC_WeldingDetectionReq if is_dc(v) else Kind.SessionStopReq
        return Step(ctx, sends=(now_send(following),))
    if req.bpt_channel_selection is not None:
        ctx = replace(ctx, bpt_channel=str(req.bpt_channel_selection))
    loop = Kind.DC_ChargeLoopReq if is_dc(v) else Kind.AC_ChargeLoopReq
    return Step(ctx, sends=(now_send(loop),))
