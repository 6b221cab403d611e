"""The virtual test bench: a Cybertruck, a Universal Wall Connector with the Powershare Gateway, a home,
the grid, a Powerwall with solar and DC chargers, as pure, deterministic, time-stepped models (no I/O, no
clock).

The protocol loop couples to :class:`Bench`: ``evse_setpoint(now)`` -> EV side ``vehicle_limits(now)`` /
``vehicle_accepts(power)`` -> ``step(now, dt, power)``; on a DC charger the SECC commands
:attr:`Bench.dc_charger` within ``dc_decision(now)`` and the truck's ``dc_limits(now)``, and ``step`` lets the
charger's output flow. :func:`run_physics_only` does either without the protocol. Device facts live in
``harness/bench/data/*.toml``, scenarios in ``harness/scenarios/*.toml``.
"""

from __future__ import annotations

from harness.bench.bench import Bench
from harness.bench.errors import BenchError, InvariantError
from harness.bench.invariants import check_invariants, outage_transfers
from harness.bench.plot import plot
from harness.bench.policy import Decision, Reason
from harness.bench.run import run_bench, run_physics_only
from harness.bench.scenarios import Scenario, load_scenario, scenario_names
from harness.bench.summary import SessionOutcome, Summary, summarize
from harness.bench.trace import Sample, Trace
from harness.bench.vehicle import Plug, VehicleLimits

__all__ = [
    "Bench",
    "BenchError",
    "Decision",
    "InvariantError",
    "Plug",
    "Reason",
    "Sample",
    "Scenario",
    "SessionOutcome",
    "Summary",
    "Trace",
    "VehicleLimits",
    "check_invariants",
    "load_scenario",
    "outage_transfers",
    "plot",
    "run_bench",
    "run_physics_only",
    "scenario_names",
    "summarize",
]
