"""What the SECC's AC and DC charge-loop decisions share: the control-mode check, MeterInfo, the notification.

The control-mode element of a ChargeLoopReq must match the selected service (BPT iff AC_BPT / DC_BPT) and the
selected control mode (fact sheet 2.8; the same rule holds for DC), else ``FAILED_WrongChargeParameter``.
MeterInfo is sent when asked [V2G20-1081…1083]. A charger that is being stopped notifies Terminate with no delay,
so the EV ends the session itself [V2G20-1610].
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from iso15118.controller import EvseCommand, MeterReading
from iso15118.decisions import Answer
from iso15118.iso20.secc.view import SeccContext, SeccView, fail
from iso15118.iso20.services import loop_request_mode
from iso15118.messages import iso20 as m

__all__ = ["checked_mode", "meter_info", "metered", "status_of"]

_R = m.ResponseCode


def checked_mode(req: Any, v: SeccView, bpt_service: int) -> tuple[bool, bool, Any] | Answer[SeccContext]:
    """(bpt, dynamic, element) of a ChargeLoopReq that matches the selection, or the FAILED answer."""
    found = loop_request_mode(req)
    if found is None:
        return fail(req, _R.FAILED_WrongChargeParameter, v, "no control-mode element")
    bpt, dynamic, _element = found
    if bpt != (v.ctx.service_id == bpt_service) or dynamic != v.ctx.dynamic:
        return fail(req, _R.FAILED_WrongChargeParameter, v, "the control mode does not match the selection")
    return found


def meter_info(reading: MeterReading, bpt: bool) -> m.MeterInfo:
    """MeterInfo from a meter reading (the discharged energy only with a BPT service)."""
    return m.MeterInfo(
        meter_id=reading.meter_id,
        charged_energy_reading_wh=reading.charged_wh,
        bpt_discharged_energy_reading_wh=reading.discharged_wh if bpt else None,
        meter_timestamp=reading.timestamp,
        meter_signature=reading.signature,
    )


def status_of(command: EvseCommand | Any, v: SeccView) -> m.EVSEStatus | None:
    """The EVSEStatus carrying the charger's notification, if any (Terminate, at once, when stopping)."""
    if v.stopping:
        return m.EVSEStatus(notification_max_delay=0, evse_notification=m.EvseNotification.Terminate)
    if command.notification is None:
        return None
    return m.EVSEStatus(
        notification_max_delay=command.notification_max_delay_s,
        evse_notification=m.EvseNotification(str(command.notification)),
    )


def metered(ctx: SeccContext, reading: MeterReading, now: float) -> SeccContext:
    """The context with one more meter reading remembered."""
    record = {"at": now, "charged_wh": reading.charged_wh, "discharged_wh": reading.discharged_wh}
    return replace(ctx, meter=(*ctx.meter, record))
