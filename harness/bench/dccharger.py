"""The virtual DC charger's power stage: insulation test, precharge ramp, output within limits, contactors, bleed-down.

Owns :class:`DCCharger`, :class:`DCPhase` and :class:`DCLoopCommand`. Like the other bench models it is sans-I/O
and has no clock: *commands* (``start_cable_check``, ``start_precharge``, ``close``, ``command``, ``open``,
``end``) change what the output does and take no time; :meth:`DCCharger.advance`, called by the bench for every
interval, lets time act on it (the insulation test runs, the output voltage ramps towards the precharge target,
follows the pack while the contactors are closed, and bleeds down once they open).

The model does what it is told, including things a charger must never do (drive current during the insulation
test, overshoot, ignore a limit): the rules live in the well-behaved command logic here and in the SECC
controller that calls it, and the invariant checker judges the result, so a faulty charger shows up there.

Theory of operation::

    IDLE --start_cable_check--> CABLE_CHECK --start_precharge--> PRECHARGE --close--> CHARGE --open--> WELDING
      ^                          (test runs for insulation_test_s)  (output ramps)   (current flows)  (output bleeds)
      +-------------------------------------------- end (session over: contactors open, 0 A) ---------+
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from harness.bench.dcparams import DCChargerParams
from iso15118.controller import IsolationCheck, IsolationStatus

__all__ = ["DCCharger", "DCLoopCommand", "DCPhase", "EVDCLimits"]


class DCPhase(StrEnum):
    """What the DC output is doing."""

    IDLE = "idle"  # no session: contactors open, no current
    CABLE_CHECK = "cable_check"  # the insulation test runs
    PRECHARGE = "precharge"  # the output is driven towards the EV's voltage with a small current
    CHARGE = "charge"  # contactors closed: the output is the pack, current flows as commanded
    WELDING = "welding"  # contactors open after the charge: the output bleeds down


@dataclass(frozen=True, slots=True, kw_only=True)
class EVDCLimits:
    """The EV's limits the charger obeys (from the charge-loop request, or from the bench when run alone)."""

    max_voltage_v: float
    max_charge_current_a: float
    max_charge_w: float
    max_discharge_current_a: float = 0.0
    max_discharge_w: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class DCLoopCommand:
    """One charge-loop decision of the charger: its output now and which limits bound it."""

    voltage_v: float
    current_a: float  # signed: > 0 into the vehicle
    power_limited: bool
    current_limited: bool
    voltage_limited: bool


class DCCharger:
    """A DC charger's output stage over one or more sessions."""

    def __init__(self, params: DCChargerParams) -> None:
        self.params = params
        self.phase = DCPhase.IDLE
        self.output_v = 0.0
        self.output_a = 0.0
        self.contactors_closed = False
        self.insulation_s = 0.0
        """How long the present insulation test has run."""
        self.precharge_target_v: float | None = None
        self.close_gap_v: float | None = None
        """Output minus pack voltage at the instant the contactors closed (this session)."""

    # -- commands (no time passes) ----------------------------------------------------------------------

    def start_cable_check(self) -> None:
        """Begin the insulation test (a test already running goes on)."""
        if self.phase is not DCPhase.CABLE_CHECK:
            self.phase = DCPhase.CABLE_CHECK
            self.insulation_s = 0.0
            self.output_a = 0.0
            self.close_gap_v = None

    def insulation(self) -> IsolationCheck:
        """The insulation test's state: done once it ran for the declared time, with the declared result."""
        if self.insulation_s + 1e-9 < self.params.insulation_test_s:
            return IsolationCheck(done=False)
        return IsolationCheck(done=True, status=self.params.insulation_result)

    @property
    def insulation_ok(self) -> bool:
        """True once this session's insulation test has run for its declared time with a result that allows
        charging: what happened, whatever :meth:`insulation` (what the charger says) answers."""
        ran = self.insulation_s + 1e-9 >= self.params.insulation_test_s
        return ran and self.params.insulation_result in (IsolationStatus.VALID, IsolationStatus.WARNING)

    def start_precharge(self, target_v: float, current_a: float) -> None:
        """Drive the output towards ``target_v`` (within the output window) with at most the precharge current."""
        p = self.params
        self.phase = DCPhase.PRECHARGE
        self.precharge_target_v = min(p.max_voltage_v, max(p.min_voltage_v, target_v))
        self.output_a = min(abs(current_a), p.precharge_current_a)

    def close(self, pack_voltage_v: float) -> None:
        """PowerDelivery(Start): both sides' contactors close; the output joins the pack (no current yet)."""
        self.close_gap_v = self.output_v - pack_voltage_v
        self.phase = DCPhase.CHARGE
        self.contactors_closed = True
        self.output_a = 0.0
        self.output_v = pack_voltage_v

    def command(self, setpoint_w: float, ev: EVDCLimits) -> DCLoopCommand:
        """Set the output current for the next interval: the setpoint within the charger's and the EV's limits.

        The output voltage is the pack's (contactors closed); a voltage outside the charger's window or above the
        EV's maximum allows no current at all.
        """
        p, volts = self.params, self.output_v
        voltage_ok = p.min_voltage_v <= volts <= min(p.max_voltage_v, ev.max_voltage_v) and volts > 0.0
        current = 0.0
        power_limited = current_limited = False
        if self.contactors_closed and voltage_ok and setpoint_w > 0.0:
            power = min(setpoint_w, p.max_charge_power_w, ev.max_charge_w)
            cap = min(p.max_charge_current_a, ev.max_charge_current_a)
            current = min(power / volts, cap)
            power_limited = power < setpoint_w
            current_limited = power / volts > cap
        elif self.contactors_closed and voltage_ok and setpoint_w < 0.0 and p.bidirectional:
            power = min(-setpoint_w, p.max_discharge_power_w, ev.max_discharge_w)
            cap = min(p.max_discharge_current_a, ev.max_discharge_current_a)
            current = -min(power / volts, cap)
            power_limited = power < -setpoint_w
            current_limited = power / volts > cap
        self.output_a = current
        return DCLoopCommand(
            voltage_v=volts,
            current_a=self.output_a,
            power_limited=power_limited,
            current_limited=current_limited,
            voltage_limited=self.contactors_closed and not voltage_ok,
        )

    def open(self) -> None:
        """PowerDelivery(Stop): current to zero, contactors open; the output bleeds down from here."""
        self.output_a = 0.0
        self.contactors_closed = False
        self.phase = DCPhase.WELDING

    def end(self) -> None:
        """The session is over (however it ended): nothing flows until the next insulation test."""
        self.output_a = 0.0
        self.contactors_closed = False
        self.phase = DCPhase.IDLE
        self.precharge_target_v = None
        self.insulation_s = 0.0

    # -- physics ------------------------------------------------------------------------------------------

    def advance(self, dt: float, pack_voltage_v: float) -> None:
        """Let ``dt`` seconds act on the output (the pack's voltage at the end of the interval is given)."""
        if self.contactors_closed:
            self.output_v = pack_voltage_v
        elif self.phase is DCPhase.CABLE_CHECK:
            self.insulation_s += dt
        elif self.phase is DCPhase.PRECHARGE and self.precharge_target_v is not None:
            gap = self.precharge_target_v - self.output_v
            reach = self.params.precharge_ramp_v_per_s * dt
            self.output_v += max(-reach, min(reach, gap))
        else:
            self.output_v *= math.exp(-dt / self.params.bleed_time_constant_s)

    def grid_w(self, output_w: float) -> float:
        """The charger's grid-side power for a DC output power (> 0 drawn from the grid, < 0 fed into it)."""
        eff = self.params.efficiency
        return output_w / eff if output_w >= 0.0 else output_w * eff
