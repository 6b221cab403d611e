"""EVCC decisions and requests of -2 charging: ChargeParameterDiscovery and PowerDelivery (AC and DC), the AC
ChargingStatus loop, MeteringReceipt and SessionStop (the DC steps are in :mod:`iso15118.iso2.evcc.dc`).

The EV asks for its energy and per-phase currents at the nominal voltage (230 V until the charger names its own),
or sends its DC parameters, and keeps the first SAScheduleTuple offered; PowerDelivery(Start) selects it with a
ChargingProfile within its PMax. In the AC loop it draws what the charger allows (EVSEMaxCurrent, else the
schedule's PMax), keeps the meter readings, sends a MeteringReceiptReq when the charger asks for a receipt,
renegotiates (PowerDelivery(Renegotiate) -> ChargeParameterDiscovery -> PowerDelivery(Start)) when the charger
notifies ReNegotiation or after ``renegotiate_schedule_after`` loops, and leaves with PowerDelivery(Stop) then
SessionStop (Terminate, or Pause) when it is done, has looped ``max_loops`` times or the charger notifies
StopCharging.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from iso15118.decisions import ApplyPower, Send, Step
from iso15118.envelope.dc import evcc as dc
from iso15118.envelope.kinds import Kind
from iso15118.envelope.physical import physical, value_of
from iso15118.iso2.evcc.view import EvccContext, EvccView, family, from_dc, now_send, wrap
from iso15118.iso2.pnc import sign_metering_receipt
from iso15118.messages.generated import iso2 as m
from iso15118.session.selection import EnergyFamily

__all__ = [
    "after_charge_parameters",
    "after_charging_status",
    "after_metering_receipt",
    "after_power_delivery",
    "after_session_stop",
    "build_charge_parameters",
    "build_charging_status",
    "build_metering_receipt",
    "build_power_delivery",
    "build_session_stop",
    "loop_due",
    "metered",
]

EV_MAX_AC_VOLTAGE: Final = 400.0
"""EVMaxVoltage of the EV's on-board charger: a 230/400 V grid (our modelling choice; SimpleEV has no AC side)."""


def build_charge_parameters(v: EvccView) -> Any:
    """ChargeParameterDiscoveryReq with the EV's AC parameters (energy to its target, per-phase currents) or its
    DC ones (the DC_EVChargeParameter DIN and -2 share)."""
    ev, ctx = v.ev, v.ctx
    assert ctx.energy_mode is not None  # chosen after ServiceDiscoveryRes
    mode = m.EnergyTransferMode(ctx.energy_mode)
    if family(v) is EnergyFamily.DC:
        dc_parameter = dc.ev_charge_parameter(m, ev)
        return wrap(
            v, m.ChargeParameterDiscoveryReq(requested_energy_transfer_mode=mode, dc_ev_charge_parameter=dc_parameter)
        )
    per_phase = ctx.nominal_voltage_v * ctx.phases
    parameters = m.AC_EVChargeParameter(
        departure_time=ev.departure_s,
        e_amount=physical(m, round(max(0.0, ev.target_energy_wh)), "Wh"),
        ev_max_voltage=physical(m, EV_MAX_AC_VOLTAGE, "V"),
        ev_max_current=physical(m, round(ev.limits.max_charge_w / per_phase, 1), "A"),
        ev_min_current=physical(m, round(ev.limits.min_charge_w / per_phase, 1), "A"),
    )
    return wrap(
        v, m.ChargeParameterDiscoveryReq(requested_energy_transfer_mode=mode, ac_ev_charge_parameter=parameters)
    )


def after_charge_parameters(res: m.ChargeParameterDiscoveryRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """Ongoing: ask again. Finished: keep the first SAScheduleTuple; then PowerDelivery(Start) (AC, or any
    renegotiation) or the DC steps from the cable check (the shared decision also checks the charger's
    voltage window against the battery)."""
    if str(res.evse_processing) != "Finished":
        return Step(v.ctx, sends=(Send(Kind.ChargeParameterDiscoveryReq, at=v.now + v.config.authorization_retry_s),))
    ctx = replace(v.ctx, renegotiating=False)
    schedules = res.sa_schedule_list.sa_schedule_tuple if res.sa_schedule_list is not None else ()
    if schedules:
        chosen = schedules[0]
        pmax = value_of(chosen.p_max_schedule.p_max_schedule_entry[0].p_max)
        ctx = replace(ctx, schedule_tuple_id=chosen.sa_schedule_tuple_id, pmax_w=pmax)
    if family(v) is EnergyFamily.DC:
        decided = dc.after_charge_parameters(res, v, ctx.dc)
        if v.ctx.renegotiating and decided.send is not None and decided.send.kind is Kind.CableCheckReq:
            decided = replace(
                decided, progress=replace(decided.progress, want_power=True), send=now_send(Kind.PowerDeliveryReq)
            )
        return from_dc(v, decided, ctx)
    if res.ac_evse_charge_parameter is not None:
        ctx = replace(ctx, nominal_voltage_v=value_of(res.ac_evse_charge_parameter.evse_nominal_voltage, 230.0))
    return Step(replace(ctx, progress="Start"), sends=(now_send(Kind.PowerDeliveryReq),))


def _granted_w(v: EvccView, max_current: m.PhysicalValue | None) -> float | None:
    """What the charger allows now: its current limit on every phase, else the schedule's PMax."""
    if max_current is not None:
        return value_of(max_current) * v.ctx.nominal_voltage_v * v.ctx.phases
    return v.ctx.pmax_w


def build_power_delivery(v: EvccView) -> Any:
    """PowerDeliveryReq: Start (with a ChargingProfile within the PMax), Stop or Renegotiate."""
    ctx = v.ctx
    profile = None
    if ctx.progress == "Start":
        power = v.ev.limits.max_charge_w if ctx.pmax_w is None else min(v.ev.limits.max_charge_w, ctx.pmax_w)
        entry = m.ProfileEntry(
            charging_profile_entry_start=0,
            charging_profile_entry_max_power=physical(m, power, "W"),
            charging_profile_entry_max_number_of_phases_in_use=ctx.phases,
        )
        profile = m.ChargingProfile(profile_entry=(entry,))
    dc_parameter = dc.power_delivery_parameter(m, v.ev) if family(v) is EnergyFamily.DC else None
    element = m.PowerDeliveryReq(
        charge_progress=m.ChargeProgress(ctx.progress),
        sa_schedule_tuple_id=ctx.schedule_tuple_id or 1,
        charging_profile=profile,
        dc_ev_power_delivery_parameter=dc_parameter,
    )
    return wrap(v, element)


def after_power_delivery(res: Any, req: m.PowerDeliveryReq, v: EvccView) -> Step[EvccContext]:
    """Start: into the loop. Stop: SessionStop (AC) or welding detection (DC). Renegotiate: back to
    ChargeParameterDiscovery."""
    progress = str(req.charge_progress)
    if progress == "Renegotiate":
        ctx = replace(v.ctx, renegotiations=v.ctx.renegotiations + 1, renegotiating=True)
        return Step(ctx, sends=(now_send(Kind.ChargeParameterDiscoveryReq),))
    started = progress == "Start"
    if family(v) is EnergyFamily.DC:
        step = from_dc(v, dc.after_power_delivery(started, v, v.ctx.dc))
        return step if started else replace(step, effects=(*step.effects, ApplyPower(0.0)))
    if not started:
        return Step(v.ctx, sends=(now_send(Kind.SessionStopReq),), effects=(ApplyPower(0.0),))
    return Step(v.ctx, sends=(now_send(Kind.ChargingStatusReq),))


def loop_due(v: EvccView) -> Step[EvccContext]:
    """A ChargingStatusReq is due: send it, or stop when the EV is done or has looped enough."""
    limit = v.config.max_loops
    if v.ev.finished or (limit is not None and v.ctx.loops >= limit):
        stopping = "Pause" if v.ev.pause or v.config.stop_with == "Pause" else "Terminate"
        return Step(replace(v.ctx, stopping=stopping, progress="Stop"), sends=(now_send(Kind.PowerDeliveryReq),))
    return Step(v.ctx, sends=(now_send(Kind.ChargingStatusReq),))


def build_charging_status(v: EvccView) -> Any:
    """ChargingStatusReq (it carries nothing)."""
    return wrap(v, m.ChargingStatusReq())


def metered(ctx: EvccContext, info: m.MeterInfo | None, now: float) -> EvccContext:
    """The context with the charger's MeterInfo kept (a MeteringReceiptReq returns the last one)."""
    if info is None:
        return ctx
    record = {"at": now, "charged_wh": info.meter_reading or 0, "discharged_wh": 0}
    return replace(ctx, meter=(*ctx.meter, record), last_meter_info=info)


def after_charging_status(res: m.ChargingStatusRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """Follow the charger's limit; react to its notification and its receipt request; then the next loop."""
    target = _granted_w(v, res.evse_max_current)
    ctx = metered(replace(v.ctx, loops=v.ctx.loops + 1, target_w=target), res.meter_info, v.now)
    ctx = replace(ctx, schedule_tuple_id=res.sa_schedule_tuple_id)
    effects = (ApplyPower(target),)
    note = str(res.ac_evse_status.evse_notification)
    if note != "None":
        ctx = replace(ctx, notifications=(*ctx.notifications, note))
    if note == "StopCharging":
        ctx = replace(ctx, stopping="Terminate", progress="Stop")
        return Step(ctx, sends=(now_send(Kind.PowerDeliveryReq),), effects=effects)
    if res.receipt_required:
        return Step(ctx, sends=(now_send(Kind.MeteringReceiptReq),), effects=effects)
    if note == "ReNegotiation" or v.config.renegotiate_schedule_after == ctx.loops:
        return Step(replace(ctx, progress="Renegotiate"), sends=(now_send(Kind.PowerDeliveryReq),), effects=effects)
    return Step(ctx, sends=(Send(Kind.ChargingStatusReq, at=v.now + v.config.loop_interval_s),), effects=effects)


def build_metering_receipt(v: EvccView) -> Any:
    """MeteringReceiptReq returning the charger's last MeterInfo, signed with the contract key in a Contract
    session (EIM has no key to sign with)."""
    element = m.MeteringReceiptReq(
        session_id=v.session_id, sa_schedule_tuple_id=v.ctx.schedule_tuple_id, meter_info=v.ctx.last_meter_info
    )
    if v.ctx.payment == "Contract" and v.ctx.contract is not None:
        return sign_metering_receipt(wrap(v, element), v.ctx.contract)
    return wrap(v, element)


def after_metering_receipt(res: Any, req: Any, v: EvccView) -> Step[EvccContext]:
    """The loop goes on."""
    ctx = replace(v.ctx, receipts=v.ctx.receipts + 1)
    loop = Kind.CurrentDemandReq if family(v) is EnergyFamily.DC else Kind.ChargingStatusReq
    return Step(ctx, sends=(Send(loop, at=v.now + v.config.loop_interval_s),))


def build_session_stop(v: EvccView) -> Any:
    """SessionStopReq: Terminate, or Pause when the EV decided to pause."""
    how = "Pause" if v.ctx.stopping == "Pause" else "Terminate"
    return wrap(v, m.SessionStopReq(charging_session=m.ChargingSession(how)))


def after_session_stop(res: Any, req: Any, v: EvccView) -> Step[EvccContext]:
    """Nothing follows: the core ends the session."""
    return Step(v.ctx)
