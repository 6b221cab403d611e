"""The virtual Cybertruck as the EVCC sees it: an :class:`~iso15118.controller.EVController` over the bench.

Owns :class:`VirtualCybertruck`. It reports the bench's vehicle (:meth:`~harness.bench.bench.Bench.vehicle_limits`)
as the EV's state: state of charge, the charge and discharge limits of its trim (a trim without V2H offers
no AC_BPT at all, so the EVCC selects plain AC), the energy requests, and the V2X window = [reserve,
charge limit] [V2G20-2124/2125]. The EVSE's Dynamic-mode setpoint (``EVSETargetActivePower``, negative =
discharge) goes through the truck's own clamp (:meth:`~harness.bench.bench.Bench.vehicle_accepts`: its
limits, the reserve, the charge limit) and then moves the physics one step through the
:class:`~harness.virtual.coupling.Coupling`. The session is finished when the scenario ends (the owner
unplugs).

On a DC charger the truck reports its DC side instead (:meth:`~harness.bench.bench.Bench.dc_limits`): the pack's
voltage as present and target voltage (the precharge target), its voltage window, and its current and power
limits, cut so that the coming step ends at the charge limit or the reserve (the charger, not the truck, sets a
DC current). Those limits are rounded *up* to what a RationalNumber carries: rounded down, the last step before
a limit would stop short of it by a fraction of a watt, and the step after would ask for less than the
protocol can express. Each DC_ChargeLoopRes moves the physics one step with the current the charger drives. The session
is finished when the loop must end (the scenario's end, less the time the stop and the welding detection take),
or at the charge limit when the driver leaves there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from harness.virtual.coupling import Coupling
from iso15118.controller import ChargeDirection, EVLimits, EVState, SessionReport
from iso15118.messages.units import rational, value_of

__all__ = ["VirtualCybertruck", "carried_up"]


def carried_up(value: float) -> float:
    """The smallest number a RationalNumber carries exactly that is not below ``value`` (>= 0)."""
    if value <= 0.0:
        return 0.0
    number = rational(value)
    if value_of(number) >= value:
        return value_of(number)
    unit = 10.0**number.exponent
    return value_of(rational((math.floor(value / unit) + 1) * unit))


@dataclass
class VirtualCybertruck:
    """An EV controller whose battery, limits and reserve are the bench's truck."""

    coupling: Coupling
    reports: list[SessionReport] = field(default_factory=list, init=False)
    targets: list[float] = field(default_factory=list, init=False)
    """Every setpoint the EVSE sent (W, as decoded from the charge-loop responses; DC: output V x I)."""
    left_at: float | None = field(default=None, init=False)
    """Simulated time at which the driver ended the session at the charge limit (``leave_at_charge_limit``)."""

    @property
    def on_dc(self) -> bool:
        """True when the truck is plugged into the scenario's DC charger."""
        return self.coupling.bench.dc_charger is not None

    async def ev_state(self, now: float) -> EVState:
        """The truck's state for the next request (``now`` is the protocol's clock; physics uses its own)."""
        if self.on_dc:
            return self._dc_state()
        c = self.coupling
        lim = c.bench.vehicle_limits(c.now)
        return EVState(
            soc=lim.soc_pct,
            present_power_w=c.last_port_w,
            target_energy_wh=lim.target_energy_wh,
            max_energy_wh=lim.max_energy_wh,
            min_energy_wh=lim.min_energy_wh,
            limits=EVLimits(
                max_charge_w=lim.max_charge_w,
                min_charge_w=lim.min_charge_w,
                max_discharge_w=lim.max_discharge_w,
                min_discharge_w=lim.min_discharge_w,
                bidirectional=lim.bpt_offered,
            ),
            # In Dynamic mode the EVSE sets the direction with the setpoint's sign; the truck starts on Charge.
            direction=ChargeDirection.CHARGE,
            min_soc=lim.reserve_pct,
            target_soc=lim.charge_limit_pct,
            max_v2x_energy_wh=lim.v2x_max_energy_wh if lim.bpt_offered else None,
            min_v2x_energy_wh=lim.v2x_min_energy_wh if lim.bpt_offered else None,
            battery_capacity_wh=lim.capacity_wh,
            finished=c.done,
        )

    def _dc_state(self) -> EVState:
        c = self.coupling
        dt = c.next_loop_dt()
        lim = c.bench.dc_limits(c.now, dt if dt > 0.0 else None)
        leaving = c.bench.vehicle.settings.leave_at_charge_limit and c.bench.vehicle.dc_limits().max_charge_w <= 0.0
        if leaving and self.left_at is None:
            self.left_at = c.now
        return EVState(
            soc=lim.soc_pct,
            present_power_w=c.last_dc_w,
            target_energy_wh=lim.target_energy_wh,
            max_energy_wh=lim.max_energy_wh,
            min_energy_wh=lim.min_energy_wh,
            limits=EVLimits(
                max_charge_w=carried_up(lim.max_charge_w),
                max_discharge_w=carried_up(lim.max_discharge_w),
                bidirectional=lim.bpt_offered,
                max_voltage_v=lim.max_voltage_v,
                min_voltage_v=lim.min_voltage_v,
                max_charge_current_a=carried_up(lim.max_charge_current_a),
                min_charge_current_a=0.0,
                max_discharge_current_a=carried_up(lim.max_discharge_current_a),
                min_discharge_current_a=0.0,
            ),
            direction=ChargeDirection.CHARGE,  # the DC charger's setpoint sets the direction (Dynamic mode)
            min_soc=lim.reserve_pct,
            target_soc=lim.charge_limit_pct,
            max_v2x_energy_wh=lim.v2x_max_energy_wh if lim.bpt_offered else None,
            min_v2x_energy_wh=lim.v2x_min_energy_wh if lim.bpt_offered else None,
            battery_capacity_wh=lim.capacity_wh,
            finished=c.loop_over or leaving,
            present_voltage_v=lim.pack_voltage_v,
            target_voltage_v=lim.pack_voltage_v,
        )

    async def apply_power(self, target_w: float | None, now: float) -> float:
        """Follow the EVSE's setpoint for one simulated step; returns the power that flowed (W).

        On DC the charger drives the current (``target_w`` is its output V x I): the step simply lets it flow.
        """
        c = self.coupling
        wanted = 0.0 if target_w is None else target_w
        self.targets.append(wanted)
        if self.on_dc:
            charger = c.bench.dc_charger
            if charger is not None and not charger.contactors_closed:
                # -2 and DIN zero the EV's power once PowerDelivery(Stop) opened the contactors: no loop step
                # passes (welding detection takes its own DC steps).
                return c.last_dc_w
            dt = c.next_loop_dt()
            if dt <= 0.0:
                return c.last_dc_w
            await c.advance(0.0, dt=dt)
            return c.last_dc_w
        if c.done:
            return c.last_port_w
        dt = c.next_dt()
        accepted = c.bench.vehicle_accepts(wanted, dt)  # the truck's own clamp: limits, reserve, charge limit
        return await c.advance(accepted, dt=dt)

    async def report(self, report: SessionReport) -> None:
        """Keep the session's progress reports."""
        self.reports.append(report)
