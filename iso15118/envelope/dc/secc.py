"""The charger's DC decisions of DIN 70121 and ISO 15118-2, written once over a generation's messages.

Each decision is ``(request element, view, progress, generation) -> DcAnswer | Need``: the view gives the time,
the controller inputs gathered so far and whether the operator is stopping the charger (any object with those
three attributes: :class:`DcView`); ``progress`` is what the SECC remembers of the DC steps; the generation
(:class:`DcGeneration`) says which generated classes to build. A :class:`DcAnswer` carries the response's Body
element, the new progress and, for a FAILED answer, why the EV got no energy.

- CableCheck: the insulation test runs while the charger answers ``Ongoing``; a result other than Valid or
  Warning answers ``FAILED`` (charging on a cable with an insulation fault is never allowed, IEC 61851-23).
- PreCharge: a target outside the charger's voltage window is ``FAILED_WrongChargeParameter``; otherwise the
  output is driven towards it with at most :data:`~iso15118.dcrules.PRECHARGE_CURRENT_A`.
- PowerDelivery: the contactors close (start) or open (stop; the meter is read for the outcome); a controller
  that cannot is ``FAILED_PowerDeliveryNotApplied``.
- CurrentDemand: the EV's target voltage and current go to the controller, which answers with the output; the
  charger's limits are always sent (some EVs want them, EVerest/ext-switchev-iso15118#2). To stop, DIN's charger
  sets DC_EVSEStatusCode ``EVSE_Shutdown`` with EVSENotification always ``None`` [V2G-DC-500]; -2's notifies
  ``StopCharging`` (:attr:`DcGeneration.stop_by_notification`).
- WeldingDetection: the output voltage while the EV checks its contactors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any, Protocol

from iso15118.controller import (
    DCCommand,
    DCLimits,
    DCLoopRequest,
    DCOutput,
    IsolationCheck,
    IsolationStatus,
    MeterReading,
    Notification,
    PowerDeliveryRequest,
)
from iso15118.dcrules import PRECHARGE_CURRENT_A, voltage_window_refusal
from iso15118.decisions import Input, Inputs, Need
from iso15118.envelope.envelope import Envelope
from iso15118.envelope.kinds import Kind
from iso15118.envelope.physical import physical, value_of

__all__ = [
    "DcAnswer",
    "DcDecision",
    "DcGeneration",
    "DcProgress",
    "DcView",
    "cable_check",
    "charge_parameter",
    "current_demand",
    "ev_parameter_refusal",
    "evse_status",
    "limits",
    "metered",
    "power_delivery",
    "precharge",
    "welding_detection",
]

_STOPS = (Notification.TERMINATE, Notification.PAUSE)
"""Controller notifications that end the DC loop (neither generation pauses a DC session from the charger)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DcGeneration:
    """What the shared DC decisions need to know of a generation."""

    envelope: Envelope
    stop_by_notification: bool
    """How the charger asks the EV to stop in CurrentDemandRes: EVSENotification ``StopCharging`` (-2), or
    DC_EVSEStatusCode ``EVSE_Shutdown`` with the notification ``None`` (DIN 70121, [V2G-DC-500])."""

    @property
    def module(self) -> ModuleType:
        """The generated message classes."""
        return self.envelope.module


@dataclass(frozen=True, slots=True, kw_only=True)
class DcProgress:
    """What the SECC remembers of a session's DC steps."""

    isolation: str | None = None
    """The insulation test's last result (IsolationLevel), reported in every DC_EVSEStatus once known."""
    cable_checked: bool = False
    precharge_target_v: float | None = None
    delivering: bool = False
    """The contactors are closed (PowerDelivery started and not stopped)."""
    loops: int = 0
    """CurrentDemand exchanges answered."""
    meter: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class DcAnswer:
    """A DC decision's result: the response's Body element and the progress after it."""

    element: Any
    progress: DcProgress
    refusal: str | None = None
    """Why the EV gets no energy (with a FAILED element), for the session's outcome."""


class DcView(Protocol):
    """What a DC decision reads of the generation's view."""

    @property
    def now(self) -> float:
        """The request's time."""
        ...

    @property
    def inputs(self) -> Inputs:
        """The controller inputs gathered so far."""
        ...

    @property
    def stopping(self) -> bool:
        """The operator asked the charger to stop."""
        ...


DcDecision = DcAnswer | Need


def evse_status(g: DcGeneration, p: DcProgress, *, code: str = "EVSE_Ready", stop: bool = False) -> Any:
    """DC_EVSEStatus: the status code, the insulation result once known, and (when ``stop``) the charger's
    request to end the loop in the generation's way."""
    m = g.module
    notification = "None"
    if stop:
        if g.stop_by_notification:
            notification = "StopCharging"
        else:
            code = "EVSE_Shutdown"
    return m.DC_EVSEStatus(
        evse_isolation_status=None if p.isolation is None else m.IsolationLevel(p.isolation),
        evse_status_code=m.DC_EVSEStatusCode(code),
        notification_max_delay=0,
        evse_notification=m.EVSENotification(notification),
    )


def limits(v: DcView) -> DCLimits | Need:
    """The charger's DC limits (asked once per request)."""
    if Input.DC_LIMITS not in v.inputs:
        return Need(Input.DC_LIMITS)
    found: DCLimits = v.inputs.get(Input.DC_LIMITS)
    return found


def charge_parameter(g: DcGeneration, p: DcProgress, dc: DCLimits) -> Any:
    """DC_EVSEChargeParameter of ChargeParameterDiscoveryRes from the charger's limits."""
    m = g.module
    tolerance = dc.current_regulation_tolerance_a
    return m.DC_EVSEChargeParameter(
        dc_evse_status=evse_status(g, p),
        evse_maximum_current_limit=physical(m, dc.max_charge_current_a, "A"),
        evse_maximum_power_limit=physical(m, dc.max_charge_power_w, "W"),
        evse_maximum_voltage_limit=physical(m, dc.max_voltage_v, "V"),
        evse_minimum_current_limit=physical(m, dc.min_charge_current_a, "A"),
        evse_minimum_voltage_limit=physical(m, dc.min_voltage_v, "V"),
        evse_current_regulation_tolerance=None if tolerance is None else physical(m, tolerance, "A"),
        evse_peak_current_ripple=physical(m, dc.peak_current_ripple_a, "A"),
    )


def ev_parameter_refusal(parameter: Any, dc: DCLimits) -> str | None:
    """Why the EV's DC_EVChargeParameter and the charger cannot work together (None when they can). The EV
    states only its maximum voltage; it must reach the charger's window, and its maximum current must reach
    the charger's minimum."""
    window = voltage_window_refusal(0.0, value_of(parameter.ev_maximum_voltage_limit), dc)
    if window is not None:
        return window
    if value_of(parameter.ev_maximum_current_limit) < dc.min_charge_current_a:
        return "the EV's maximum current is below the charger's minimum"
    return None


def cable_check(req: Any, v: DcView, p: DcProgress, g: DcGeneration) -> DcDecision:
    """CableCheckReq: the insulation test, Ongoing until it has a result."""
    if Input.CABLE_CHECK not in v.inputs:
        return Need(Input.CABLE_CHECK)
    check: IsolationCheck = v.inputs.get(Input.CABLE_CHECK)
    m = g.module
    if not check.done:
        status = evse_status(g, p, code="EVSE_IsolationMonitoringActive")
        res = m.CableCheckRes(
            response_code=m.ResponseCode.OK, dc_evse_status=status, evse_processing=m.EVSEProcessing.Ongoing
        )
        return DcAnswer(res, p)
    p = replace(p, isolation=str(check.status))
    if check.status not in (IsolationStatus.VALID, IsolationStatus.WARNING):
        status = evse_status(g, p, code="EVSE_Malfunction")
        finished = m.EVSEProcessing.Finished
        res = g.envelope.failed(Kind.CableCheckReq, "FAILED", dc_evse_status=status, evse_processing=finished)
        return DcAnswer(res, p, refusal=f"FAILED: the insulation test ended {check.status}")
    status = evse_status(g, p)
    res = m.CableCheckRes(
        response_code=m.ResponseCode.OK, dc_evse_status=status, evse_processing=m.EVSEProcessing.Finished
    )
    return DcAnswer(res, replace(p, cable_checked=True))


def precharge(req: Any, v: DcView, p: DcProgress, g: DcGeneration) -> DcDecision:
    """PreChargeReq: drive the output towards the EV's target voltage."""
    target = value_of(req.ev_target_voltage)
    dc = limits(v)
    if isinstance(dc, Need):
        return dc
    if not dc.min_voltage_v <= target <= dc.max_voltage_v:
        window = f"{dc.min_voltage_v:g}-{dc.max_voltage_v:g} V"
        res = g.envelope.failed(Kind.PreChargeReq, "FAILED_WrongChargeParameter", dc_evse_status=evse_status(g, p))
        return DcAnswer(res, p, refusal=f"FAILED_WrongChargeParameter: precharge target {target:g} V outside {window}")
    if Input.PRECHARGE not in v.inputs:
        return Need(Input.PRECHARGE, (target, PRECHARGE_CURRENT_A))
    output: DCOutput = v.inputs.get(Input.PRECHARGE)
    m = g.module
    res = m.PreChargeRes(
        response_code=m.ResponseCode.OK,
        dc_evse_status=evse_status(g, p),
        evse_present_voltage=physical(m, output.present_voltage_v, "V"),
    )
    return DcAnswer(res, replace(p, precharge_target_v=target))


def metered(p: DcProgress, reading: MeterReading, now: float) -> DcProgress:
    """The progress with one more meter reading remembered."""
    record = {"at": now, "charged_wh": reading.charged_wh, "discharged_wh": reading.discharged_wh}
    return replace(p, meter=(*p.meter, record))


def power_delivery(req: Any, v: DcView, p: DcProgress, g: DcGeneration, *, start: bool) -> DcDecision:
    """PowerDeliveryReq, its DC part: close the contactors (``start``) or open them and read the meter."""
    if Input.POWER_DELIVERY not in v.inputs:
        return Need(Input.POWER_DELIVERY, PowerDeliveryRequest(progress="Start" if start else "Stop", discharge=False))
    if not v.inputs.get(Input.POWER_DELIVERY):
        status = evse_status(g, p, code="EVSE_Malfunction")
        res = g.envelope.failed(Kind.PowerDeliveryReq, "FAILED_PowerDeliveryNotApplied", dc_evse_status=status)
        what = "close" if start else "open"
        return DcAnswer(res, p, refusal=f"FAILED_PowerDeliveryNotApplied: the contactors did not {what}")
    if not start:
        if Input.METER not in v.inputs:
            return Need(Input.METER)
        p = metered(p, v.inputs.get(Input.METER), v.now)
    m = g.module
    res = m.PowerDeliveryRes(response_code=m.ResponseCode.OK, dc_evse_status=evse_status(g, p))
    return DcAnswer(res, replace(p, delivering=start))


def _loop_request(req: Any) -> DCLoopRequest:
    def opt(name: str) -> float | None:
        value = getattr(req, name, None)
        return None if value is None else value_of(value)

    target_v = value_of(req.ev_target_voltage)
    return DCLoopRequest(
        # CurrentDemandReq carries no EVPresentVoltage: the EV's target is what the charger knows of it.
        present_voltage_v=target_v,
        target_voltage_v=target_v,
        target_current_a=value_of(req.ev_target_current),
        max_voltage_v=opt("ev_maximum_voltage_limit"),
        max_charge_current_a=opt("ev_maximum_current_limit"),
        max_charge_power_w=opt("ev_maximum_power_limit"),
        dynamic=False,
    )


def current_demand(
    req: Any, v: DcView, p: DcProgress, g: DcGeneration, extra: Mapping[str, Any] | None = None
) -> DcDecision:
    """CurrentDemandReq: the EV's targets to the controller, the output and the charger's limits back.
    ``extra``: the fields a generation adds to CurrentDemandRes (-2: EVSEID, SAScheduleTupleID, MeterInfo...)."""
    dc = limits(v)
    if isinstance(dc, Need):
        return dc
    if Input.DC_LOOP not in v.inputs:
        return Need(Input.DC_LOOP, _loop_request(req))
    command: DCCommand = v.inputs.get(Input.DC_LOOP)
    stop = v.stopping or command.notification in _STOPS
    m = g.module
    res = m.CurrentDemandRes(
        response_code=m.ResponseCode.OK,
        dc_evse_status=evse_status(g, p, stop=stop),
        evse_present_voltage=physical(m, command.present_voltage_v, "V"),
        evse_present_current=physical(m, command.present_current_a, "A"),
        evse_current_limit_achieved=command.current_limit_achieved,
        evse_voltage_limit_achieved=command.voltage_limit_achieved,
        evse_power_limit_achieved=command.power_limit_achieved,
        evse_maximum_voltage_limit=physical(m, dc.max_voltage_v, "V"),
        evse_maximum_current_limit=physical(m, dc.max_charge_current_a, "A"),
        evse_maximum_power_limit=physical(m, dc.max_charge_power_w, "W"),
        **(extra or {}),
    )
    return DcAnswer(res, replace(p, loops=p.loops + 1))


def welding_detection(req: Any, v: DcView, p: DcProgress, g: DcGeneration) -> DcDecision:
    """WeldingDetectionReq: the output voltage while the EV checks its contactors."""
    if Input.WELDING not in v.inputs:
        return Need(Input.WELDING)
    output: DCOutput = v.inputs.get(Input.WELDING)
    m = g.module
    res = m.WeldingDetectionRes(
        response_code=m.ResponseCode.OK,
        dc_evse_status=evse_status(g, p),
        evse_present_voltage=physical(m, output.present_voltage_v, "V"),
    )
    return DcAnswer(res, p)
