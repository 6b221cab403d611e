"""The virtual Cybertruck as the EVCC sees it: an :class:`~iso15118.controller.EVController` over the bench.

Owns :class:`VirtualCybertruck`. It reports the bench's vehicle (:meth:`~harness.bench.bench.Bench.vehicle_limits`)
as the EV's state: state of charge, the charge and discharge limits of its trim (a trim without V2H offers
no AC_BPT at all, so the EVCC selects plain AC), the energy requests, and the V2X window = [reserve,
charge limit] [V2G20-2124/2125]. The EVSE's Dynamic-mode setpoint (``EVSETargetActivePower``, negative =
discharge) goes through the truck's own clamp (:meth:`~harness.bench.bench.Bench.vehicle_accepts`: its
limits, the reserve, the charge limit) and then moves the physics one step through the
:class:`~harness.virtual.coupling.Coupling`. The session is finished when the scenario ends (the owner
unplugs).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.virtual.coupling import Coupling
from iso15118.controller import ChargeDirection, EVLimits, EVState, SessionReport

__all__ = ["VirtualCybertruck"]


@dataclass
class VirtualCybertruck:
    """An EV controller whose battery, limits and reserve are the bench's truck."""

    coupling: Coupling
    reports: list[SessionReport] = field(default_factory=list, init=False)
    targets: list[float] = field(default_factory=list, init=False)
    """Every setpoint the EVSE sent (W, as decoded from the charge-loop responses)."""

    async def ev_state(self, now: float) -> EVState:
        """The truck's state for the next request (``now`` is the protocol's clock; physics uses its own)."""
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

    async def apply_power(self, target_w: float | None, now: float) -> float:
        """Follow the EVSE's setpoint for one simulated step; returns the AC power that flowed (W)."""
        c = self.coupling
        wanted = 0.0 if target_w is None else target_w
        self.targets.append(wanted)
        if c.done:
            return c.last_port_w
        dt = c.next_dt()
        accepted = c.bench.vehicle_accepts(wanted, dt)  # the truck's own clamp: limits, reserve, charge limit
        return await c.advance(accepted, dt=dt)

    async def report(self, report: SessionReport) -> None:
        """Keep the session's progress reports."""
        self.reports.append(report)
