"""EVCC decisions and requests of the charge loop (AC and DC, Scheduled and Dynamic, charge and discharge), the
charger's notifications and the side streams.

When a loop request is due (:func:`loop_due`) the EV looks at its state first: done, or the configured number of
loops reached, and it stops with PowerDelivery(Stop) instead [V2G20-1610]. After each loop response it follows
the charger's setpoint (Dynamic) or its schedule (Scheduled), keeps the meter reading, reacts to the charger's
notification (Terminate, Pause, ServiceRenegotiation stop the loop; ScheduleRenegotiation and
MeteringConfirmation start a side stream), and sends the next loop request within the loop's sequence
performance time (``loop_interval_s``, [V2G20 tables 216/217]).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from iso15118.controller import EVState
from iso15118.decisions import ApplyPower, Send, Step
from iso15118.iso20.contract import signed_metering
from iso15118.iso20.evcc.charge import bidirectional, discharging, scheduled_power
from iso15118.iso20.evcc.view import EvccContext, EvccView, is_dc, now_send
from iso15118.iso20.kinds import Kind
from iso15118.iso20.services import discharge_limit, loop_mode_field, loop_target_power
from iso15118.messages import iso20 as m
from iso15118.messages.units import rational, value_of
from iso15118.session.profile import Stream
from iso15118.session.selection import EnergyFamily

__all__ = [
    "after_ac_loop",
    "after_dc_loop",
    "after_metering_confirmation",
    "build_loop",
    "build_metering_confirmation",
    "loop_due",
]

_STOPS = {"Terminate": "Terminate", "Pause": "Pause", "ServiceRenegotiation": "ServiceRenegotiation"}


def loop_due(v: EvccView) -> Step[EvccContext]:
    """A loop request is due: send it, or stop when the EV is done or has looped enough."""
    limit = v.config.max_loops
    if limit is not None:
        limit *= v.ctx.service_renegotiations + 1  # each renegotiated service gets its own loops
    if v.ev.finished or (limit is not None and v.ctx.loops >= limit):
        stopping = "Pause" if v.ev.pause else v.config.stop_with
        return Step(replace(v.ctx, stopping=stopping), sends=(now_send(Kind.PowerDeliveryReq),))
    return Step(v.ctx, sends=(now_send(Kind.DC_ChargeLoopReq if is_dc(v) else Kind.AC_ChargeLoopReq),))


def _display(ev: EVState) -> m.DisplayParameters:
    return m.DisplayParameters(present_soc=max(0, min(100, round(ev.soc))), charging_complete=ev.finished)


def _energy(ev: EVState) -> dict[str, m.RationalNumber]:
    return {
        "ev_target_energy_request": rational(ev.target_energy_wh),
        "ev_maximum_energy_request": rational(ev.max_energy_wh),
        "ev_minimum_energy_request": rational(ev.min_energy_wh),
    }


def _v2x(ev: EVState) -> dict[str, m.RationalNumber]:
    if ev.max_v2x_energy_wh is None or ev.min_v2x_energy_wh is None:
        return {}
    # Sent together or not at all [V2G20-2124/2681].
    return {
        "ev_maximum_v2x_energy_request": rational(ev.max_v2x_energy_wh),
        "ev_minimum_v2x_energy_request": rational(ev.min_v2x_energy_wh),
    }


def _voltage(v: EvccView) -> float:
    ev = v.ev
    value = ev.present_voltage_v if ev.present_voltage_v is not None else ev.target_voltage_v
    if value is None:
        raise ValueError("a DC session needs the EV's present voltage (EVState.present_voltage_v)")
    return value


def _dc_target_current(v: EvccView) -> float:
    """Scheduled DC: the current the EV asks for (negative discharges), within its schedule and limits."""
    ev, lim = v.ev, v.ev.limits
    if ev.target_current_a is not None:
        return ev.target_current_a
    voltage = max(_voltage(v), 1.0)
    allowed = scheduled_power(v)
    if discharging(v):
        power = -lim.max_discharge_w if allowed is None else min(0.0, max(allowed, -lim.max_discharge_w))
        return max(power / voltage, -(lim.max_discharge_current_a or float("inf")))
    power = lim.max_charge_w if allowed is None else max(0.0, min(allowed, lim.max_charge_w))
    return min(power / voltage, lim.max_charge_current_a or float("inf"))


def _common_fields(v: EvccView, bpt: bool) -> dict[str, Any]:
    """The fields every family's control-mode element shares: energy requests and power limits."""
    ev, lim, negative = v.ev, v.ev.limits, v.config.negative_discharge_limits
    fields: dict[str, Any] = _energy(ev) | {"ev_maximum_charge_power": rational(lim.max_charge_w)}
    if v.ctx.dynamic:
        fields["ev_minimum_charge_power"] = rational(lim.min_charge_w)
        if ev.departure_s:
            fields["departure_time"] = ev.departure_s
    if bpt:
        fields["ev_maximum_discharge_power"] = discharge_limit(lim.max_discharge_w, negative=negative)
        if v.ctx.dynamic:
            fields["ev_minimum_discharge_power"] = discharge_limit(lim.min_discharge_w, negative=negative)
            fields |= _v2x(ev)
    return fields


def _ac_fields(v: EvccView, bpt: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {"ev_present_active_power": rational(v.ev.present_power_w)}
    if v.ctx.dynamic:
        fields["ev_present_reactive_power"] = rational(0)
    return fields


def _dc_fields(v: EvccView, bpt: bool) -> dict[str, Any]:
    lim = v.ev.limits
    fields: dict[str, Any] = {"ev_maximum_voltage": rational(lim.max_voltage_v or _voltage(v))}
    if not v.ctx.dynamic:
        target_v = v.ev.target_voltage_v if v.ev.target_voltage_v is not None else _voltage(v)
        return fields | {"ev_target_current": rational(_dc_target_current(v)), "ev_target_voltage": rational(target_v)}
    fields |= {
        "ev_maximum_charge_current": rational(lim.max_charge_current_a or 0.0),
        "ev_minimum_voltage": rational(lim.min_voltage_v or 0.0),
    }
    if bpt:
        negative = v.config.negative_discharge_limits
        fields["ev_maximum_discharge_current"] = discharge_limit(lim.max_discharge_current_a or 0.0, negative=negative)
    return fields


_F = EnergyFamily
#: (family, bpt, dynamic) -> the control-mode element of a charge-loop request.
_LOOP_MODES: dict[tuple[EnergyFamily, bool, bool], type] = {
    (_F.AC, False, False): m.Scheduled_AC_CLReqControlMode,
    (_F.AC, True, False): m.BPT_Scheduled_AC_CLReqControlMode,
    (_F.AC, False, True): m.Dynamic_AC_CLReqControlMode,
    (_F.AC, True, True): m.BPT_Dynamic_AC_CLReqControlMode,
    (_F.DC, False, False): m.Scheduled_DC_CLReqControlMode,
    (_F.DC, True, False): m.BPT_Scheduled_DC_CLReqControlMode,
    (_F.DC, False, True): m.Dynamic_DC_CLReqControlMode,
    (_F.DC, True, True): m.BPT_Dynamic_DC_CLReqControlMode,
}
_FAMILY_FIELDS = {_F.AC: _ac_fields, _F.DC: _dc_fields}


def build_loop(v: EvccView) -> Any:
    """AC_ChargeLoopReq or DC_ChargeLoopReq with the control-mode element of the selected service and mode."""
    bpt, family = bidirectional(v), EnergyFamily.DC if is_dc(v) else EnergyFamily.AC
    fields = _common_fields(v, bpt) | _FAMILY_FIELDS[family](v, bpt)
    element = _LOOP_MODES[(family, bpt, v.ctx.dynamic)](**fields)
    mode: dict[str, Any] = {loop_mode_field(bpt, v.ctx.dynamic, family=family): element}
    common: dict[str, Any] = {
        "header": v.header,
        "meter_info_requested": v.config.meter_info_requested,
        "display_parameters": _display(v.ev),
    }
    if family is EnergyFamily.DC:
        return m.DC_ChargeLoopReq(**common, ev_present_voltage=rational(_voltage(v)), **mode)
    return m.AC_ChargeLoopReq(**common, **mode)


def _metered(ctx: EvccContext, res: Any, now: float) -> EvccContext:
    info = res.meter_info
    if info is None:
        return ctx
    record = {
        "at": now,
        "charged_wh": info.charged_energy_reading_wh,
        "discharged_wh": info.bpt_discharged_energy_reading_wh or 0,
    }
    return replace(ctx, meter=(*ctx.meter, record))


def _after_loop(res: Any, v: EvccView, target_w: float | None) -> Step[EvccContext]:
    ctx = _metered(replace(v.ctx, loops=v.ctx.loops + 1, target_w=target_w), res, v.now)
    sends: list[Send] = []
    status = res.evse_status
    if status is not None:
        note = str(status.evse_notification)
        ctx = replace(ctx, notifications=(*ctx.notifications, note))
        stop = _STOPS.get(note)
        if stop is not None:
            # The EV ends the loop with PowerDelivery(Stop), then SessionStop of the asked kind [V2G20-1610].
            return Step(
                replace(ctx, stopping=stop), sends=(now_send(Kind.PowerDeliveryReq),), effects=(ApplyPower(target_w),)
            )
        if note == "ScheduleRenegotiation" and not ctx.renegotiated:
            ctx = replace(ctx, renegotiated=True)
            sends.append(now_send(Kind.ScheduleExchangeReq, Stream.SCHEDULE_RENEGOTIATION))
        if note == "MeteringConfirmation" and ctx.authorization == "PnC" and not ctx.confirmed and ctx.meter:
            ctx = replace(ctx, confirmed=True)
            sends.append(now_send(Kind.MeteringConfirmationReq, Stream.METERING_CONFIRMATION))
    if v.config.renegotiate_schedule_after == ctx.loops and not ctx.renegotiated:
        ctx = replace(ctx, renegotiated=True)
        sends.append(now_send(Kind.ScheduleExchangeReq, Stream.SCHEDULE_RENEGOTIATION))
    contract = ctx.contract or v.config.credentials
    wants_confirmation = v.config.metering_confirmation_after == ctx.loops and contract is not None
    if wants_confirmation and not ctx.confirmed and ctx.meter:
        ctx = replace(ctx, confirmed=True)
        sends.append(now_send(Kind.MeteringConfirmationReq, Stream.METERING_CONFIRMATION))
    loop = Kind.DC_ChargeLoopReq if is_dc(v) else Kind.AC_ChargeLoopReq
    sends.append(Send(loop, at=v.now + v.config.loop_interval_s))
    return Step(ctx, sends=tuple(sends), effects=(ApplyPower(target_w),))


def after_ac_loop(res: m.AC_ChargeLoopRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """Follow the charger's target (or the schedule), then the next loop request."""
    target = loop_target_power(res)
    return _after_loop(res, v, target if target is not None else scheduled_power(v))


def after_dc_loop(res: m.DC_ChargeLoopRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """The power that flows is the charger's present voltage times its present current."""
    power = value_of(res.evse_present_voltage) * value_of(res.evse_present_current)
    step = _after_loop(res, v, power)
    return replace(step, ctx=replace(step.ctx, evse_voltage_v=value_of(res.evse_present_voltage)))


def build_metering_confirmation(v: EvccView) -> m.MeteringConfirmationReq:
    """MeteringConfirmationReq over the last meter reading, signed with the contract key."""
    contract = v.ctx.contract or v.config.credentials
    assert contract is not None and v.ctx.meter
    return signed_metering(v.header, v.session_id, v.ctx.meter[-1], v.ctx.dynamic, contract)


def after_metering_confirmation(res: Any, req: Any, v: EvccView) -> Step[EvccContext]:
    """Nothing follows: the loop goes on (the runner records side-stream exchanges)."""
    return Step(v.ctx)
