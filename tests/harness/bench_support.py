"""Helpers of the bench tests: each shipped scenario is run once per test session (runs are deterministic)."""

from __future__ import annotations

from dataclasses import dataclass

from harness.bench import Bench, Summary, Trace, load_scenario, run_bench, summarize


@dataclass
class BenchRun:
    """A finished physics-only run of one scenario."""

    bench: Bench
    trace: Trace
    summary: Summary


DC_SCENARIO_TOML = """
[scenario]
name = "x"
title = "x"
duration_h = 1.0
[devices]
vehicle = "cybertruck_awd"
wall_connector = "universal_wall_connector"
home = "home"
grid = "grid"
dc_charger = "dc_fast_charger"
[vehicle]
plug = "dc_charger"
start_soc_pct = 10.0
"""
"""The smallest valid scenario file with the truck on the DC charger (tests vary it)."""

_RUNS: dict[str, BenchRun] = {}


def bench_run(name: str) -> BenchRun:
    """Run (once) and return the shipped scenario ``name``."""
    if name not in _RUNS:
        bench = Bench(load_scenario(name))
        trace = run_bench(bench)
        _RUNS[name] = BenchRun(bench=bench, trace=trace, summary=summarize(bench))
    return _RUNS[name]
