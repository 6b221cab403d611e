"""EVCC decisions and requests of -2's DC steps: the shared DC decisions of :mod:`iso15118.envelope.dc.evcc`
applied to -2's messages (CableCheck, PreCharge, CurrentDemand, WeldingDetection), and what -2 adds to the
CurrentDemand loop: the charger's MeterInfo kept, a MeteringReceiptReq when CurrentDemandRes asks for a receipt,
and a renegotiation (PowerDelivery(Renegotiate)) when the charger notifies ReNegotiation or after
``renegotiate_schedule_after`` loops. When the EV leaves the loop (done, ``max_loops``, or the charger asks),
PowerDelivery(Stop) is followed by welding detection and SessionStop (Terminate, or Pause when the EV pauses).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from iso15118.decisions import Send, Step
from iso15118.envelope.dc import evcc as dc
from iso15118.envelope.kinds import Kind
from iso15118.iso2.evcc.charge import metered
from iso15118.iso2.evcc.view import EvccContext, EvccView, from_dc, now_send, wrap
from iso15118.messages.generated import iso2 as m

__all__ = [
    "after_cable_check",
    "after_current_demand",
    "after_precharge",
    "after_welding_detection",
    "build_cable_check",
    "build_current_demand",
    "build_precharge",
    "build_welding_detection",
    "current_demand_due",
]


def build_cable_check(v: EvccView) -> Any:
    """CableCheckReq."""
    return wrap(v, dc.cable_check_request(m, v.ev))


def after_cable_check(res: m.CableCheckRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """Shared: repeat while the insulation test runs (within V2G_EVCC_CableCheck_Timeout), then precharge."""
    return from_dc(v, dc.after_cable_check(res, v, v.ctx.dc))


def build_precharge(v: EvccView) -> Any:
    """PreChargeReq."""
    return wrap(v, dc.precharge_request(m, v.ev))


def after_precharge(res: m.PreChargeRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """Shared: repeat until the voltages match (within V2G_EVCC_PreCharge_Timeout), then PowerDelivery(Start)."""
    return from_dc(v, dc.after_precharge(res, v, v.ctx.dc))


def build_current_demand(v: EvccView) -> Any:
    """CurrentDemandReq."""
    return wrap(v, dc.current_demand_request(m, v.ev, v.ctx.dc))


def current_demand_due(v: EvccView) -> Step[EvccContext]:
    """Shared: the next CurrentDemandReq, or PowerDelivery(Stop) when the EV is done or has looped enough (then
    SessionStop Pause when the EV pauses)."""
    decided = dc.current_demand_due(v, v.ctx.dc)
    ctx = v.ctx
    if decided.send is not None and decided.send.kind is Kind.PowerDeliveryReq:
        ctx = replace(ctx, stopping="Pause" if v.ev.pause or v.config.stop_with == "Pause" else "Terminate")
    return from_dc(v, decided, ctx)


def after_current_demand(res: m.CurrentDemandRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """Shared: follow the output, or stop when the charger asks; then -2's receipt and renegotiation."""
    decided = dc.after_current_demand(res, v, v.ctx.dc)
    ctx = metered(replace(v.ctx, loops=v.ctx.loops + 1), res.meter_info, v.now)
    ctx = replace(ctx, schedule_tuple_id=res.sa_schedule_tuple_id)
    note = str(res.dc_evse_status.evse_notification)
    if note != "None":
        ctx = replace(ctx, notifications=(*ctx.notifications, note))
    if decided.send is not None and decided.send.kind is Kind.PowerDeliveryReq:
        return from_dc(v, decided, replace(ctx, stopping="Terminate"))  # the charger ended the loop
    step = from_dc(v, decided, ctx)
    if res.receipt_required:
        return replace(step, sends=(now_send(Kind.MeteringReceiptReq),))
    if note == "ReNegotiation" or v.config.renegotiate_schedule_after == ctx.loops:
        return replace(step, ctx=replace(step.ctx, progress="Renegotiate"), sends=(Send(Kind.PowerDeliveryReq),))
    return step


def build_welding_detection(v: EvccView) -> Any:
    """WeldingDetectionReq."""
    return wrap(v, dc.welding_request(m, v.ev))


def after_welding_detection(res: m.WeldingDetectionRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """Shared: repeat until the output is safe (or the attempts are spent), then SessionStop."""
    return from_dc(v, dc.after_welding_detection(res, v, v.ctx.dc))
