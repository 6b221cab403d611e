"""The protocol-less loop: couple setpoint -> vehicle clamp -> step directly, for tests and quick runs (on a DC
charger: the DC session's steps, :mod:`harness.bench.dcrun`).

Owns :func:`run_bench` (drive an existing :class:`~harness.bench.bench.Bench` to the end of its scenario
and return the trace) and :func:`run_physics_only` (build, run, summarise). The protocol-driven loop
does the same three calls per interval, with the numbers travelling through ISO 15118-20 messages.
"""

from __future__ import annotations

from harness.bench.bench import Bench
from harness.bench.dcrun import run_dc_bench
from harness.bench.errors import BenchError
from harness.bench.scenarios import Scenario
from harness.bench.summary import Summary, summarize
from harness.bench.trace import Trace

__all__ = ["run_bench", "run_physics_only"]

_MAX_STEPS = 5_000_000


def run_bench(bench: Bench, *, dt: float | None = None, fine_dt: float | None = None) -> Trace:
    """Run ``bench`` to the end of its scenario with coarse ``dt`` and ``fine_dt`` around grid changes."""
    run = bench.scenario.run
    coarse = run.dt_s if dt is None else dt
    fine = min(coarse, run.fine_dt_s if fine_dt is None else fine_dt)
    if coarse <= 0.0 or fine <= 0.0:
        raise BenchError(f"step sizes must be > 0 s, got dt={coarse!r}, fine_dt={fine!r}")
    end = bench.scenario.duration_s
    if bench.dc_charger is not None:
        run_dc_bench(bench, dt=coarse, fine_dt=fine, max_steps=_MAX_STEPS)
        return bench.finish()
    steps = 0
    while bench.now < end - 1e-9:
        now = bench.now
        step = min(bench.suggest_dt(now, coarse, fine, run.fine_window_s), end - now)
        power = bench.vehicle_accepts(bench.evse_setpoint(now), step)
        bench.step(now, step, power)
        steps += 1
        if steps > _MAX_STEPS:
            raise BenchError(f"scenario {bench.scenario.name} did not finish within {_MAX_STEPS} steps")
    return bench.finish()


def run_physics_only(scenario: Scenario, dt: float | None = None, *, fine_dt: float | None = None) -> Summary:
    """Run a scenario without the protocol (setpoint -> vehicle_accepts -> step) and summarise it."""
    bench = Bench(scenario)
    run_bench(bench, dt=dt, fine_dt=fine_dt)
    return summarize(bench)
