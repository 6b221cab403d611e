"""The EVSE-side decision: what power the wall connector asks of the truck for the next interval.

Owns :func:`decide`, a pure function of a :class:`PolicyInputs` snapshot, returning a :class:`Decision`:
the setpoint (W; positive = charge the truck, negative = discharge it into the home or grid) that the
protocol carries as ``EVSETargetActivePower`` in BPT_Dynamic AC_ChargeLoopRes `[V2G20-1034/1035]`, and
the :class:`Reason` for it. Rules, in order:

1. nothing to do unless the truck is plugged into the wall connector; charging the truck from its own
   outlet (the "loop myth") is refused;
2. outage noticed but home not yet transferred: 0;
3. home islanded: with a Powerwall, its threshold rules decide the truck's charging; without one the
   truck carries the home (negative setpoint = home load less solar), down to its reserve, if its trim
   offers BPT at all;
4. grid on, utility grid-support event: discharge the event's request plus the home load, within the
   owner's limits (reserve, max power) and the connector's;
5. grid on otherwise: charge at full power until the charge limit.

The setpoint is finally bounded by the connector and by the truck's reported limits (which hold the
reserve, the trim's power and the minimum stable powers).

On a DC charger :func:`decide_dc` plays the same part (the setpoint the charger turns into an output current):
a grid-support event asks for discharge (DC_BPT) within the truck's limits and reserve; otherwise the charger
offers its full power until the truck's charge limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from harness.bench.powerwall import PowerwallMode, outage_car_allowance
from harness.bench.vehicle import DCVehicleLimits, Plug, VehicleLimits
from harness.bench.wallconnector import GatewayState

__all__ = ["DCPolicyInputs", "Decision", "PolicyInputs", "PowerwallView", "Reason", "decide", "decide_dc"]


class Reason(StrEnum):
    """Why the setpoint is what it is."""

    NOT_PLUGGED = "not_plugged"
    LOOP_REFUSED = "loop_refused"
    TRANSFER = "transfer_in_progress"
    CHARGE = "charge"
    CHARGE_COMPLETE = "charge_complete"
    GRID_EVENT = "grid_event_discharge"
    V2H_SUPPLY = "v2h_supply_home"
    RESERVE_REACHED = "reserve_reached"
    NO_BPT = "bpt_not_offered"
    PW_SHARE = "powerwall_share"
    PW_HOLD = "powerwall_hold_solar_to_car"
    PW_STOP = "powerwall_stop_car"


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerwallView:
    """What the policy needs to know about the Powerwall."""

    soc_pct: float
    threshold_pct: float
    band_pct: float
    max_discharge_w: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyInputs:
    """Everything the wall connector knows when it decides."""

    plug: Plug
    gateway: GatewayState
    limits: VehicleLimits
    connector_max_charge_w: float
    connector_max_discharge_w: float
    home_w: float
    solar_w: float = 0.0
    event_request_w: float | None = None
    powerwall: PowerwallView | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DCPolicyInputs:
    """Everything a DC charger knows when it decides."""

    plug: Plug
    limits: DCVehicleLimits
    charger_max_charge_w: float
    charger_max_discharge_w: float
    event_request_w: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The requested power (W, ISO 15118-20 sign) and why."""

    setpoint_w: float
    reason: Reason


_PW_REASON = {
    PowerwallMode.SHARE: Reason.PW_SHARE,
    PowerwallMode.HOLD: Reason.PW_HOLD,
    PowerwallMode.STOP: Reason.PW_STOP,
}


def decide(inp: PolicyInputs) -> Decision:
    """The wall connector's setpoint for the next interval."""
    raw, reason = _raw(inp)
    bounded = max(-inp.connector_max_discharge_w, min(inp.connector_max_charge_w, raw))
    return Decision(setpoint_w=inp.limits.clamp(bounded), reason=reason)


def _raw(inp: PolicyInputs) -> tuple[float, Reason]:
    lim = inp.limits
    if inp.plug is Plug.OWN_OUTLET:
        return 0.0, Reason.LOOP_REFUSED
    if inp.plug is not Plug.WALL_CONNECTOR:
        return 0.0, Reason.NOT_PLUGGED
    if inp.gateway is GatewayState.SWITCHING:
        return 0.0, Reason.TRANSFER
    if inp.gateway in (GatewayState.ISLANDED, GatewayState.RESYNC):
        if inp.powerwall is not None:
            pw = inp.powerwall
            allowance = outage_car_allowance(
                soc_pct=pw.soc_pct,
                threshold_pct=pw.threshold_pct,
                band_pct=pw.band_pct,
                solar_w=inp.solar_w,
                home_w=inp.home_w,
                pw_max_w=pw.max_discharge_w,
                car_max_w=lim.max_charge_w,
            )
            return allowance.power_w, _PW_REASON[allowance.mode]
        return _discharge(lim, max(0.0, inp.home_w - inp.solar_w), Reason.V2H_SUPPLY)
    # CONNECTED (or DETECTING: the outage is not noticed yet, so the connector still acts as if grid-on).
    if inp.event_request_w is not None:
        return _discharge(lim, inp.event_request_w + inp.home_w, Reason.GRID_EVENT)
    if lim.max_charge_w > 0.0:
        return lim.max_charge_w, Reason.CHARGE
    return 0.0, Reason.CHARGE_COMPLETE


def _discharge(lim: VehicleLimits, wanted_w: float, reason: Reason) -> tuple[float, Reason]:
    if not lim.bpt_offered:
        return 0.0, Reason.NO_BPT
    if lim.max_discharge_w <= 0.0:
        return 0.0, Reason.RESERVE_REACHED
    return -min(wanted_w, lim.max_discharge_w), reason


def decide_dc(inp: DCPolicyInputs) -> Decision:
    """The DC charger's setpoint for the next interval, within its own and the truck's power limits."""
    lim = inp.limits
    if inp.plug is not Plug.DC_CHARGER:
        return Decision(setpoint_w=0.0, reason=Reason.NOT_PLUGGED)
    if inp.event_request_w is not None:
        if not lim.bpt_offered or inp.charger_max_discharge_w <= 0.0:
            return Decision(setpoint_w=0.0, reason=Reason.NO_BPT)
        if lim.max_discharge_w <= 0.0:
            return Decision(setpoint_w=0.0, reason=Reason.RESERVE_REACHED)
        power = min(inp.event_request_w, lim.max_discharge_w, inp.charger_max_discharge_w)
        return Decision(setpoint_w=-power, reason=Reason.GRID_EVENT)
    if lim.max_charge_w > 0.0:
        return Decision(setpoint_w=min(lim.max_charge_w, inp.charger_max_charge_w), reason=Reason.CHARGE)
    return Decision(setpoint_w=0.0, reason=Reason.CHARGE_COMPLETE)
