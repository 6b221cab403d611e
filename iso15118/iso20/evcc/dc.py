"""EVCC decisions and requests of the DC steps around the charge loop: cable check, precharge, welding detection.

- DC_CableCheck: repeated while the charger answers Ongoing (its insulation test runs).
- DC_PreCharge: the EV asks for its battery voltage and repeats (EVProcessing Ongoing) until the charger's output
  is within ``precharge_tolerance_v`` of it; one last request says Finished, then PowerDelivery(Start) closes the
  EV's contactors on matched voltages. A charger that never gets there within ``precharge_timeout_s`` ends the
  session (SessionStop, with the reason).
- DC_WeldingDetection: after PowerDelivery(Stop) the EV repeats it until the charger's output is below
  ``welding_safe_voltage_v`` (its contactors opened), says Finished, then SessionStop. Some chargers never get
  there (field-quirks: ABB, Alpitronic): after ``welding_attempts`` the EV stops anyway and notes it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from iso15118.dcrules import (
    Precharge,
    precharge_progress,
    present_voltage,
    timed_out_precharge,
    welding_finished,
    welding_note,
)
from iso15118.dcrules import precharge_target as _target_of
from iso15118.decisions import Send, Step
from iso15118.iso20.evcc.view import EvccContext, EvccView, now_send, stop_step
from iso15118.iso20.kinds import Kind
from iso15118.messages import iso20 as m
from iso15118.messages.units import rational, value_of

__all__ = [
    "after_cable_check",
    "after_precharge",
    "after_welding_detection",
    "build_cable_check",
    "build_precharge",
    "build_welding_detection",
    "precharge_target",
]


def build_cable_check(v: EvccView) -> m.DC_CableCheckReq:
    """DC_CableCheckReq (no content)."""
    return m.DC_CableCheckReq(header=v.header)


def after_cable_check(res: m.DC_CableCheckRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """Repeat while the insulation test runs; then precharge."""
    if str(res.evse_processing) != "Finished":
        return Step(v.ctx, sends=(Send(Kind.DC_CableCheckReq, at=v.now + v.config.authorization_retry_s),))
    return Step(v.ctx, sends=(now_send(Kind.DC_PreChargeReq),))


def precharge_target(v: EvccView) -> float:
    """The voltage the EV precharges to: its target, or its battery's present voltage."""
    return _target_of(v.ev)


def build_precharge(v: EvccView) -> m.DC_PreChargeReq:
    """DC_PreChargeReq: Ongoing while the output rises, Finished for the last one."""
    return m.DC_PreChargeReq(
        header=v.header,
        ev_processing=m.Processing.Finished if v.ctx.precharged else m.Processing.Ongoing,
        ev_present_voltage=rational(present_voltage(v.ev)),
        ev_target_voltage=rational(precharge_target(v)),
    )


def after_precharge(res: m.DC_PreChargeRes, req: m.DC_PreChargeReq, v: EvccView) -> Step[EvccContext]:
    """Repeat until the output matches the target; after the Finished one, PowerDelivery(Start)."""
    voltage = value_of(res.evse_present_voltage)
    since = v.ctx.precharge_since if v.ctx.precharge_since is not None else v.now
    ctx = replace(v.ctx, evse_voltage_v=voltage, precharge_since=since)
    if str(req.ev_processing) == "Finished":
        return Step(ctx, sends=(now_send(Kind.PowerDeliveryReq),))
    target = precharge_target(v)
    c = v.config
    state = precharge_progress(
        voltage, target, v.now - since, tolerance_v=c.precharge_tolerance_v, timeout_s=c.precharge_timeout_s
    )
    if state is Precharge.MATCHED:
        return Step(replace(ctx, precharged=True), sends=(now_send(Kind.DC_PreChargeReq),))
    if state is Precharge.TIMED_OUT:
        # The charger never brought its output to the battery's voltage: closing the contactors now would
        # short the two, so the EV stops (V2G_EVCC_PreCharge_Timeout, as DIN 70121 and -2 set it).
        return stop_step(replace(v, ctx=ctx), timed_out_precharge(v.now - since, voltage, target))
    return Step(ctx, sends=(Send(Kind.DC_PreChargeReq, at=v.now + c.precharge_interval_s),))


def build_welding_detection(v: EvccView) -> m.DC_WeldingDetectionReq:
    """DC_WeldingDetectionReq: Ongoing while checking, Finished for the last one."""
    c = v.config
    finished = welding_finished(
        v.ctx.welding, v.ctx.evse_voltage_v, safe_voltage_v=c.welding_safe_voltage_v, attempts=c.welding_attempts
    )
    return m.DC_WeldingDetectionReq(
        header=v.header, ev_processing=m.Processing.Finished if finished else m.Processing.Ongoing
    )


def after_welding_detection(
    res: m.DC_WeldingDetectionRes, req: m.DC_WeldingDetectionReq, v: EvccView
) -> Step[EvccContext]:
    """Repeat until the output is safe (or the attempts are spent); after the Finished one, SessionStop."""
    voltage = value_of(res.evse_present_voltage)
    ctx = replace(v.ctx, evse_voltage_v=voltage, welding=v.ctx.welding + 1)
    if str(req.ev_processing) == "Finished":
        note = welding_note(voltage, ctx.welding, safe_voltage_v=v.config.welding_safe_voltage_v)
        if note is not None:
            ctx = replace(ctx, notes=(*ctx.notes, note))
        return Step(ctx, sends=(now_send(Kind.SessionStopReq),))
    wait = v.now + v.config.precharge_interval_s
    return Step(ctx, sends=(Send(Kind.DC_WeldingDetectionReq, at=wait),))
