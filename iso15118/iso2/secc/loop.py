"""SECC decisions of the -2 AC charge loop and the end: ChargingStatus, MeteringReceipt, SessionStop.

ChargingStatusReq carries nothing (-2's AC EV reports no measurement); the response carries the charger's
current limit (EVSEMaxCurrent, from the controller's power target), MeterInfo, the SAScheduleTupleID in force
and the charger's notification: StopCharging (the operator stops, or the controller asks to terminate or pause)
or ReNegotiation. ReceiptRequired is always false in an EIM session [V2G2-691]; with Contract payment it follows
``SeccConfig.receipt_required``. A MeteringReceiptReq is only in sequence after a response that asked for it.

SessionStop: Terminate ends the session; Pause keeps what was agreed, bound to the EVCCID and to the vehicle
certificate of this connection, until ``pause_expiry_s``, so that the EV can resume it on a later connection.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from iso15118.controller import EvseCommand, MeterReading, Notification, SessionReport
from iso15118.decisions import Input, Need, PausedSession, Report, StorePaused
from iso15118.envelope.physical import physical
from iso15118.iso2.secc.pnc import metering_receipt_signed
from iso15118.iso2.secc.view import Decision, SeccView, ac_status, answer, evse_status, fail, metered
from iso15118.messages.generated import iso2 as m

__all__ = ["charging_status", "meter_info", "metering_receipt", "session_stop"]

_R = m.ResponseCode
_N = m.EVSENotification
NOTIFICATIONS: Final = {
    Notification.TERMINATE: _N.StopCharging,
    Notification.PAUSE: _N.StopCharging,
    Notification.SCHEDULE_RENEGOTIATION: _N.ReNegotiation,
    Notification.SERVICE_RENEGOTIATION: _N.ReNegotiation,
}
"""The controller's notifications as -2 has them (the others have no -2 counterpart)."""


def meter_info(reading: MeterReading) -> m.MeterInfo:
    """MeterInfo from a meter reading."""
    return m.MeterInfo(
        meter_id=reading.meter_id[:32],
        meter_reading=reading.charged_wh,
        sig_meter_reading=reading.signature,
        t_meter=reading.timestamp,
    )


def charging_status(req: m.ChargingStatusReq, v: SeccView) -> Decision:
    """ChargingStatusReq: the charger's limit, meter reading and notification."""
    ctx = v.ctx
    if Input.LOOP_COMMAND not in v.inputs:
        return Need(Input.LOOP_COMMAND, (ctx.granted_w, {}))
    if Input.METER not in v.inputs:
        return Need(Input.METER)
    command: EvseCommand = v.inputs.get(Input.LOOP_COMMAND)
    reading: MeterReading = v.inputs.get(Input.METER)
    notification = _N.None_ if command.notification is None else NOTIFICATIONS.get(command.notification, _N.None_)
    if v.stopping:
        notification = _N.StopCharging
    delay = 0 if v.stopping else command.notification_max_delay_s
    max_current = None
    if command.target_power_w is not None:
        allowed = max(0.0, min(command.target_power_w, ctx.pmax_w))
        max_current = physical(m, round(allowed / (ctx.nominal_voltage_v * ctx.phases), 1), "A")
        ctx = replace(ctx, granted_w=min(allowed, ctx.ev_max_w))
    receipt = ctx.payment == "Contract" and v.config.receipt_required  # never with EIM [V2G2-691]
    info = meter_info(reading)
    res = m.ChargingStatusRes(
        response_code=_R.OK,
        evse_id=v.config.evse_id,
        sa_schedule_tuple_id=ctx.schedule_tuple_id or 1,
        evse_max_current=max_current,
        meter_info=info,
        receipt_required=receipt,
        ac_evse_status=ac_status(notification, delay),
    )
    ctx = metered(replace(ctx, loops=ctx.loops + 1, receipt_asked=receipt, meter_info=info), reading, v.now)
    return answer(res, v, ctx)


def metering_receipt(req: m.MeteringReceiptReq, v: SeccView) -> Decision:
    """MeteringReceiptReq: only after a response that asked for it. With Contract payment the EV signs it with
    its contract key (:func:`~iso15118.iso2.secc.pnc.metering_receipt_signed`). An EIM session has no key to
    sign with: a receipt asked anyway is taken as sent."""
    if not v.ctx.receipt_asked:
        return fail(_R.FAILED_SequenceError, v, "MeteringReceiptReq without ReceiptRequired")
    if v.ctx.payment == "Contract":
        return metering_receipt_signed(req, v)
    res = m.MeteringReceiptRes(response_code=_R.OK, **evse_status(v))
    return answer(res, v, replace(v.ctx, receipt_asked=False))


def session_stop(req: m.SessionStopReq, v: SeccView) -> Decision:
    """SessionStopReq: Terminate, or Pause (the session is kept for the EV to resume)."""
    how = str(req.charging_session)
    effects: list[Report | StorePaused] = []
    if how == "Pause":
        if not v.config.pause_allowed:
            return fail(_R.FAILED, v, "this charger does not allow pausing")
        # A resumed Contract session presents its contract again (PaymentDetails, a new GenChallenge).
        kept = replace(v.ctx, refusal=None, notes=(), receipt_asked=False, gen_challenge=None, contract_verified=False)
        paused = PausedSession(
            session_id=v.session_id,
            evcc_id=v.ctx.evcc_id,
            fingerprint=v.peer.fingerprint if v.peer else None,
            paused_at=v.now,
            expires_at=v.now + v.config.pause_expiry_s,
            context=kept,
        )
        effects.append(StorePaused(paused))
    effects.append(Report(SessionReport(event="session_stop", detail=how)))
    return answer(m.SessionStopRes(response_code=_R.OK), v, v.ctx, *effects)
