"""SECC decisions of -2's DC steps: the shared DC decisions of :mod:`iso15118.envelope.dc.secc` applied to -2's
messages (CableCheck, PreCharge, WeldingDetection as they are), and CurrentDemand with what -2 adds to its
response: the EVSEID, the SAScheduleTupleID in force, MeterInfo and ReceiptRequired (never with EIM [V2G2-691]).

The shared decision asks the EV to stop with StopCharging when the controller notifies Terminate or Pause (or the
operator stops the charger); a controller that asks to renegotiate gets EVSENotification ``ReNegotiation``, as in
the AC loop.
"""

from __future__ import annotations

from dataclasses import replace

from iso15118.controller import DCCommand, MeterReading, Notification
from iso15118.decisions import Input, Need
from iso15118.envelope.dc import secc as dc
from iso15118.iso2.secc.loop import meter_info
from iso15118.iso2.secc.view import DC, Decision, SeccView, answer, metered, with_dc
from iso15118.messages.generated import iso2 as m

__all__ = ["cable_check", "current_demand", "precharge", "welding_detection"]

_RENEGOTIATE = (Notification.SCHEDULE_RENEGOTIATION, Notification.SERVICE_RENEGOTIATION)


def cable_check(req: m.CableCheckReq, v: SeccView) -> Decision:
    """CableCheckReq (shared DC decision): Ongoing while the insulation test runs [V2G2-621], then Finished
    [V2G2-584]; a fault answers FAILED."""
    return with_dc(v, dc.cable_check(req, v, v.ctx.dc, DC))


def precharge(req: m.PreChargeReq, v: SeccView) -> Decision:
    """PreChargeReq (shared DC decision)."""
    return with_dc(v, dc.precharge(req, v, v.ctx.dc, DC))


def welding_detection(req: m.WeldingDetectionReq, v: SeccView) -> Decision:
    """WeldingDetectionReq (shared DC decision)."""
    return with_dc(v, dc.welding_detection(req, v, v.ctx.dc, DC))


def current_demand(req: m.CurrentDemandReq, v: SeccView) -> Decision:
    """CurrentDemandReq: the shared DC loop step, with -2's EVSEID, SAScheduleTupleID, MeterInfo and
    ReceiptRequired."""
    if Input.METER not in v.inputs:
        return Need(Input.METER)
    reading: MeterReading = v.inputs.get(Input.METER)
    receipt = v.ctx.payment == "Contract" and v.config.receipt_required  # never with EIM [V2G2-691]
    info = meter_info(reading)
    extra = {
        "evse_id": v.config.evse_id,
        "sa_schedule_tuple_id": v.ctx.schedule_tuple_id or 1,
        "meter_info": info,
        "receipt_required": receipt,
    }
    decided = dc.current_demand(req, v, v.ctx.dc, DC, extra)
    if isinstance(decided, Need):
        return decided
    element = decided.element
    command: DCCommand = v.inputs.get(Input.DC_LOOP)
    status = element.dc_evse_status
    if command.notification in _RENEGOTIATE and str(status.evse_notification) == "None":
        renegotiate = replace(
            status,
            evse_notification=m.EVSENotification.ReNegotiation,
            notification_max_delay=command.notification_max_delay_s,
        )
        element = replace(element, dc_evse_status=renegotiate)
    ctx = replace(v.ctx, dc=decided.progress, loops=v.ctx.loops + 1, receipt_asked=receipt, meter_info=info)
    return answer(element, v, metered(ctx, reading, v.now))
