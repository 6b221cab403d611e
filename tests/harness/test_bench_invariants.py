"""The invariant checker can fail: deliberately broken models and doctored traces are caught, each by its rule."""

from __future__ import annotations

from dataclasses import replace

import pytest

from harness.bench import Bench, InvariantError, Trace, check_invariants, load_scenario, run_bench
from harness.bench.vehicle import Vehicle, VehicleLimits
from tests.harness.bench_support import bench_run


class IgnoresReserve(Vehicle):
    """A truck whose firmware forgot the owner's reserve."""

    def limits(self) -> VehicleLimits:
        lim = super().limits()
        can = self.pack.energy_wh > 0.0 and self.params.v2h.offered
        return replace(lim, max_discharge_w=self.export_cap_w() if can else 0.0)

    def accepts(self, power_w: float, dt: float | None = None) -> float:
        if power_w < 0.0:
            return max(power_w, -self.export_cap_w())
        return super().accepts(power_w, dt)


class OutletsLeftOn(Vehicle):
    """A truck that keeps its outlets live while the charge port exports."""

    def outlets_available(self, *, port_exporting: bool) -> bool:
        return super().outlets_available(port_exporting=False)


class NoLimits(Vehicle):
    """A truck that does whatever it is asked."""

    def accepts(self, power_w: float, dt: float | None = None) -> float:
        return power_w


class ExportsAnyway(Vehicle):
    """An RWD whose firmware pretends to offer V2H."""

    def limits(self) -> VehicleLimits:
        lim = super().limits()
        return replace(lim, bpt_offered=True, max_discharge_w=11500.0 if self.soc_pct > 20.0 else 0.0)

    def accepts(self, power_w: float, dt: float | None = None) -> float:
        return self.limits().clamp(power_w)


def _run(name: str, vehicle_cls: type[Vehicle], *, dt: float = 600.0) -> Trace:
    sc = load_scenario(name)
    bench = Bench(sc, vehicle=vehicle_cls(sc.vehicle, sc.settings))
    return run_bench(bench, dt=dt)


def _kinds(violations: list[str]) -> set[str]:
    return {v.split(":", 1)[0] for v in violations}


def test_truck_ignoring_the_reserve_is_caught() -> None:
    violations = check_invariants(_run("v2h-outage", IgnoresReserve))
    assert "reserve" in _kinds(violations)
    assert any("below the 20 % reserve while exporting" in v for v in violations)


def test_outlets_left_on_while_exporting_are_caught() -> None:
    violations = check_invariants(_run("v2h-outage", OutletsLeftOn))
    assert _kinds(violations) == {"outlets-off"}


def test_over_power_is_caught() -> None:
    sc = load_scenario("charge")
    bench = Bench(sc, vehicle=NoLimits(sc.vehicle, sc.settings))
    bench.step(0.0, 60.0, 20000.0)
    violations = check_invariants(bench.finish())
    assert _kinds(violations) == {"power"}
    assert "charge 20000.0 W above the 11500 W limit" in violations[0]


def test_rwd_exporting_is_caught() -> None:
    violations = check_invariants(_run("rwd-no-v2h", ExportsAnyway))
    assert {"no-v2h", "power"} <= _kinds(violations)


def test_a_slow_gateway_is_caught() -> None:
    sc = load_scenario("v2h-outage")
    gateway = replace(sc.wall_connector.gateway, detection_s=0.9, switch_s=0.3)
    sc = replace(sc, wall_connector=replace(sc.wall_connector, gateway=gateway), duration_s=2 * 3600.0)
    violations = check_invariants(run_bench(Bench(sc)))
    assert _kinds(violations) == {"transfer"}
    assert "home dark for 1.200 s (limit 1 s)" in violations[0]


def _doctored(name: str, index: int, **changes: object) -> Trace:
    trace = bench_run(name).trace
    samples = list(trace.samples)
    samples[index] = replace(samples[index], **changes)  # type: ignore[arg-type]
    return Trace(meta=trace.meta, samples=samples, events=list(trace.events), outages=trace.outages)


def test_energy_created_from_nothing_is_caught() -> None:
    trace = bench_run("charge").trace
    i = len(trace.samples) // 2
    later = [replace(s, pack_wh=s.pack_wh + 500.0, soc_pct=s.soc_pct) for s in trace.samples[i:]]
    doctored = Trace(meta=trace.meta, samples=trace.samples[:i] + later)
    violations = check_invariants(doctored)
    assert _kinds(violations) == {"energy"}
    assert "pack gained" in violations[0]


def test_losses_not_matching_the_efficiencies_are_caught() -> None:
    trace = bench_run("charge").trace
    meta = replace(trace.meta, charge_efficiency=0.99)  # the data say 0.99, the models lost 6 %
    assert _kinds(check_invariants(Trace(meta=meta, samples=trace.samples))) == {"energy"}


def test_soc_out_of_range_bus_imbalance_and_time_gap_are_caught() -> None:
    assert "soc-range" in _kinds(check_invariants(_doctored("charge", 3, soc_pct=101.0)))
    assert "bus" in _kinds(check_invariants(_doctored("charge", 3, home_served_w=0.0)))
    trace = bench_run("charge").trace
    gap = Trace(meta=trace.meta, samples=trace.samples[:5] + trace.samples[6:])
    assert "time" in _kinds(check_invariants(gap))


def test_grid_flow_during_an_island_is_caught() -> None:
    run = bench_run("v2h-outage")
    i = next(k for k, s in enumerate(run.trace.samples) if s.gateway == "islanded")
    s = run.trace.samples[i]
    doctored = _doctored(
        "v2h-outage", i, grid_w=500.0, home_served_w=s.home_served_w + 500.0, home_load_w=s.home_load_w + 500.0
    )
    assert any("while the home is cut from the grid" in v for v in check_invariants(doctored))


def test_strict_mode_raises_with_the_list() -> None:
    trace = _doctored("charge", 3, soc_pct=-1.0)
    with pytest.raises(InvariantError, match=r"1 invariant violation\(s\): soc-range") as info:
        check_invariants(trace, strict=True)
    assert info.value.violations == check_invariants(trace)


def test_violations_are_aggregated_per_kind() -> None:
    violations = check_invariants(_run("v2h-outage", IgnoresReserve))
    reserve = next(v for v in violations if v.startswith("reserve:"))
    assert "more sample(s)" in reserve
    assert len(violations) == len(_kinds(violations))
