"""The EV's DC requests and decisions of DIN 70121 and ISO 15118-2, written once over a generation's messages.

Builders take the generated module and the EV's state (:class:`~iso15118.controller.EVState`); decisions take the
response element, a view (the time, the EV's state and the :class:`~iso15118.config.EvccConfig`:
:class:`EvDcView`) and what the EV remembers of the DC steps (:class:`EvDcProgress`), and return a
:class:`DcNext`: the new progress, the next request (now or later), and, when the EV gives up, why.

- ChargeParameterDiscovery: repeated while the charger answers ``Ongoing``, ignoring that answer's values
  [V2G-DC-493]; then the charger's limits are kept, and a charger whose voltage window misses the battery's
  voltage ends the session.
- CableCheck: repeated while ``Ongoing``, until ``cable_check_timeout_s`` (V2G_EVCC_CableCheck_Timeout).
- PreCharge: repeated until the output is within ``precharge_tolerance_v`` of the battery (then PowerDelivery
  closes the contactors), or ``precharge_timeout_s`` passed (the session ends: closing now would short the two).
- CurrentDemand: the charger's output (its voltage times its current) goes to the EV controller; the loop ends
  with PowerDelivery(stop) when the EV is done, after ``max_loops``, or when the charger asks (DC_EVSEStatusCode
  ``EVSE_Shutdown``/``EVSE_EmergencyShutdown``/``EVSE_Malfunction`` or EVSENotification ``StopCharging``).
- WeldingDetection: repeated until the output is below ``welding_safe_voltage_v`` or ``welding_attempts``
  answers came (some chargers never get there: field-quirks, ABB and Alpitronic), then SessionStop.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any, Final, Protocol

from iso15118.config import EvccConfig
from iso15118.controller import EVState
from iso15118.dcrules import (
    PRECHARGE_CURRENT_A,
    Precharge,
    precharge_progress,
    precharge_target,
    present_voltage,
    timed_out_precharge,
    welding_finished,
    welding_note,
)
from iso15118.decisions import ApplyPower, Effect, Send
from iso15118.envelope.kinds import Kind
from iso15118.envelope.physical import physical, value_of

__all__ = [
    "DcNext",
    "EvDcProgress",
    "EvDcView",
    "after_cable_check",
    "after_charge_parameters",
    "after_current_demand",
    "after_power_delivery",
    "after_precharge",
    "after_welding_detection",
    "cable_check_request",
    "charger_stops",
    "current_demand_due",
    "current_demand_request",
    "ev_charge_parameter",
    "ev_status",
    "power_delivery_parameter",
    "precharge_request",
    "stop_before_loop",
    "target_current",
    "welding_request",
]

_STOP_CODES: Final = frozenset({"EVSE_Shutdown", "EVSE_EmergencyShutdown", "EVSE_Malfunction"})
_BULK_SOC: Final = 80
"""BulkSOC sent in DC_EVChargeParameter (our choice; capped at FullSOC)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EvDcProgress:
    """What the EV remembers of a session's DC steps."""

    evse_max_voltage_v: float | None = None
    evse_min_voltage_v: float | None = None
    evse_max_current_a: float | None = None
    evse_max_power_w: float | None = None
    cable_check_since: float | None = None
    precharge_since: float | None = None
    evse_voltage_v: float | None = None
    """The charger's last reported output voltage."""
    want_power: bool = False
    """What the next PowerDeliveryReq asks: close the contactors (after precharge) or open them."""
    loops: int = 0
    welding: int = 0
    """WeldingDetection answers received."""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DcNext:
    """What a DC response leads to: the progress, the next request (None: nothing) and, if the EV gives up, why."""

    progress: EvDcProgress
    send: Send | None
    stop: str | None = None
    effects: tuple[Effect, ...] = ()


class EvDcView(Protocol):
    """What a DC decision reads of the generation's view."""

    @property
    def now(self) -> float:
        """The response's time."""
        ...

    @property
    def ev(self) -> EVState:
        """The EV's state now."""
        ...

    @property
    def config(self) -> EvccConfig:
        """The EVCC configuration."""
        ...


# ---- requests -------------------------------------------------------------------------------------------------
def ev_status(m: ModuleType, ev: EVState) -> Any:
    """DC_EVStatus: ready, no error, the state of charge."""
    return m.DC_EVStatus(
        ev_ready=True, ev_error_code=m.DC_EVErrorCode.NO_ERROR, evresssoc=max(0, min(100, round(ev.soc)))
    )


def _max_current(ev: EVState) -> float:
    lim = ev.limits
    by_power = lim.max_charge_w / max(present_voltage(ev), 1.0)
    return by_power if lim.max_charge_current_a is None else min(by_power, lim.max_charge_current_a)


def ev_charge_parameter(m: ModuleType, ev: EVState) -> Any:
    """DC_EVChargeParameter with every optional element: some chargers abort when one is missing (field-quirks)."""
    lim = ev.limits
    full = round(ev.target_soc) if ev.target_soc is not None else 100
    fields: dict[str, Any] = {
        "dc_ev_status": ev_status(m, ev),
        "ev_maximum_current_limit": physical(m, _max_current(ev), "A"),
        "ev_maximum_power_limit": physical(m, lim.max_charge_w, "W"),
        "ev_maximum_voltage_limit": physical(m, lim.max_voltage_v or precharge_target(ev), "V"),
        "ev_energy_request": physical(m, max(0.0, ev.max_energy_wh), "Wh"),
        "full_soc": full,
        "bulk_soc": min(full, _BULK_SOC),
    }
    if ev.battery_capacity_wh is not None:
        fields["ev_energy_capacity"] = physical(m, ev.battery_capacity_wh, "Wh")
    return m.DC_EVChargeParameter(**fields)


def cable_check_request(m: ModuleType, ev: EVState) -> Any:
    """CableCheckReq."""
    return m.CableCheckReq(dc_ev_status=ev_status(m, ev))


def precharge_request(m: ModuleType, ev: EVState) -> Any:
    """PreChargeReq: the battery's voltage as target, with the precharge current."""
    return m.PreChargeReq(
        dc_ev_status=ev_status(m, ev),
        ev_target_voltage=physical(m, precharge_target(ev), "V"),
        ev_target_current=physical(m, PRECHARGE_CURRENT_A, "A"),
    )


def power_delivery_parameter(m: ModuleType, ev: EVState) -> Any:
    """DC_EVPowerDeliveryParameter of PowerDeliveryReq."""
    return m.DC_EVPowerDeliveryParameter(dc_ev_status=ev_status(m, ev), charging_complete=ev.finished)


def target_current(ev: EVState, p: EvDcProgress) -> float:
    """The current the EV asks for: its own target, else as much as its limits and the charger's allow."""
    if ev.target_current_a is not None:
        return max(0.0, ev.target_current_a)  # DIN and -2 DC charge only
    amps = _max_current(ev)
    if p.evse_max_current_a is not None:
        amps = min(amps, p.evse_max_current_a)
    if p.evse_max_power_w is not None:
        amps = min(amps, p.evse_max_power_w / max(present_voltage(ev), 1.0))
    return max(0.0, amps)


def current_demand_request(m: ModuleType, ev: EVState, p: EvDcProgress) -> Any:
    """CurrentDemandReq with the EV's targets and limits."""
    lim = ev.limits
    return m.CurrentDemandReq(
        dc_ev_status=ev_status(m, ev),
        ev_target_current=physical(m, target_current(ev, p), "A"),
        ev_maximum_voltage_limit=physical(m, lim.max_voltage_v or precharge_target(ev), "V"),
        ev_maximum_current_limit=physical(m, _max_current(ev), "A"),
        ev_maximum_power_limit=physical(m, lim.max_charge_w, "W"),
        charging_complete=ev.finished,
        ev_target_voltage=physical(m, precharge_target(ev), "V"),
    )


def welding_request(m: ModuleType, ev: EVState) -> Any:
    """WeldingDetectionReq."""
    return m.WeldingDetectionReq(dc_ev_status=ev_status(m, ev))


# ---- decisions ------------------------------------------------------------------------------------------------
def _now(kind: Kind) -> Send:
    return Send(kind)


def _later(kind: Kind, at: float) -> Send:
    return Send(kind, at=at)


def stop_before_loop(p: EvDcProgress, why: str) -> DcNext:
    """The EV gives up before the loop: SessionStop, and the outcome says why."""
    return DcNext(p, _now(Kind.SessionStopReq), stop=why)


def _ongoing(res: Any) -> bool:
    return str(res.evse_processing) != "Finished"


def after_charge_parameters(res: Any, v: EvDcView, p: EvDcProgress) -> DcNext:
    """Ask again while Ongoing [V2G-DC-493]; then keep the charger's limits and check its voltage window."""
    if _ongoing(res):
        return DcNext(p, _later(Kind.ChargeParameterDiscoveryReq, v.now + v.config.authorization_retry_s))
    param = res.dc_evse_charge_parameter
    if param is None:
        return stop_before_loop(p, "the charger sent no DC_EVSEChargeParameter")
    power = param.evse_maximum_power_limit
    p = replace(
        p,
        evse_max_voltage_v=value_of(param.evse_maximum_voltage_limit),
        evse_min_voltage_v=value_of(param.evse_minimum_voltage_limit),
        evse_max_current_a=value_of(param.evse_maximum_current_limit),
        evse_max_power_w=None if power is None else value_of(power),
    )
    battery = precharge_target(v.ev)
    assert p.evse_min_voltage_v is not None and p.evse_max_voltage_v is not None
    if not p.evse_min_voltage_v <= battery <= p.evse_max_voltage_v:
        window = f"{p.evse_min_voltage_v:g}-{p.evse_max_voltage_v:g} V"
        return stop_before_loop(p, f"the charger's voltage window {window} misses the battery's {battery:g} V")
    return DcNext(p, _now(Kind.CableCheckReq))


def after_cable_check(res: Any, v: EvDcView, p: EvDcProgress) -> DcNext:
    """Repeat while the insulation test runs (within the cable-check timeout); then precharge."""
    since = p.cable_check_since if p.cable_check_since is not None else v.now
    p = replace(p, cable_check_since=since)
    if not _ongoing(res):
        return DcNext(p, _now(Kind.PreChargeReq))
    if v.now - since >= v.config.cable_check_timeout_s:
        return stop_before_loop(p, f"the cable check did not finish within {v.config.cable_check_timeout_s:g} s")
    return DcNext(p, _later(Kind.CableCheckReq, v.now + v.config.authorization_retry_s))


def after_precharge(res: Any, v: EvDcView, p: EvDcProgress) -> DcNext:
    """Repeat until the output matches the battery; then PowerDelivery closes the contactors."""
    voltage = value_of(res.evse_present_voltage)
    since = p.precharge_since if p.precharge_since is not None else v.now
    p = replace(p, evse_voltage_v=voltage, precharge_since=since)
    target, c = precharge_target(v.ev), v.config
    state = precharge_progress(
        voltage, target, v.now - since, tolerance_v=c.precharge_tolerance_v, timeout_s=c.precharge_timeout_s
    )
    if state is Precharge.MATCHED:
        return DcNext(replace(p, want_power=True), _now(Kind.PowerDeliveryReq))
    if state is Precharge.TIMED_OUT:
        return stop_before_loop(p, timed_out_precharge(v.now - since, voltage, target))
    return DcNext(p, _later(Kind.PreChargeReq, v.now + c.precharge_interval_s))


def after_power_delivery(started: bool, v: EvDcView, p: EvDcProgress) -> DcNext:
    """After PowerDelivery: the loop (contactors closed), or welding detection (opened)."""
    return DcNext(p, _now(Kind.CurrentDemandReq if started else Kind.WeldingDetectionReq))


def charger_stops(status: Any) -> str | None:
    """Why a DC_EVSEStatus asks the EV to end the loop (None when it does not)."""
    code = str(status.evse_status_code)
    if code in _STOP_CODES:
        return code
    notification = str(status.evse_notification)
    return notification if notification == "StopCharging" else None


def current_demand_due(v: EvDcView, p: EvDcProgress) -> DcNext:
    """A CurrentDemandReq is due: send it, or end the loop when the EV is done or has looped enough."""
    limit = v.config.max_loops
    if v.ev.finished or (limit is not None and p.loops >= limit):
        return DcNext(replace(p, want_power=False), _now(Kind.PowerDeliveryReq))
    return DcNext(p, _now(Kind.CurrentDemandReq))


def after_current_demand(res: Any, v: EvDcView, p: EvDcProgress) -> DcNext:
    """The power that flows (the output's voltage times its current) goes to the EV; the next request follows
    after ``loop_interval_s``, or PowerDelivery(stop) at once when the charger asks to stop."""
    voltage, current = value_of(res.evse_present_voltage), value_of(res.evse_present_current)
    limit_a, limit_w = res.evse_maximum_current_limit, res.evse_maximum_power_limit
    p = replace(
        p,
        loops=p.loops + 1,
        evse_voltage_v=voltage,
        evse_max_current_a=p.evse_max_current_a if limit_a is None else value_of(limit_a),
        evse_max_power_w=p.evse_max_power_w if limit_w is None else value_of(limit_w),
    )
    effects: tuple[Effect, ...] = (ApplyPower(voltage * current),)
    why = charger_stops(res.dc_evse_status)
    if why is not None:
        note = f"the charger ended the loop ({why}) after {p.loops} CurrentDemand exchanges"
        stopped = replace(p, want_power=False, notes=(*p.notes, note))
        return DcNext(stopped, _now(Kind.PowerDeliveryReq), effects=effects)
    return DcNext(p, _later(Kind.CurrentDemandReq, v.now + v.config.loop_interval_s), effects=effects)


def after_welding_detection(res: Any, v: EvDcView, p: EvDcProgress) -> DcNext:
    """Repeat until the output is safe (or the attempts are spent); then SessionStop."""
    voltage = value_of(res.evse_present_voltage)
    p = replace(p, evse_voltage_v=voltage, welding=p.welding + 1)
    c = v.config
    if welding_finished(p.welding, voltage, safe_voltage_v=c.welding_safe_voltage_v, attempts=c.welding_attempts):
        note = welding_note(voltage, p.welding, safe_voltage_v=c.welding_safe_voltage_v)
        if note is not None:
            p = replace(p, notes=(*p.notes, note))
        return DcNext(p, _now(Kind.SessionStopReq))
    return DcNext(p, _later(Kind.WeldingDetectionReq, v.now + c.precharge_interval_s))
