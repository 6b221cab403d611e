"""The DC invariants can fail: deliberately broken DC chargers and doctored DC traces are caught, each by its rule.

Each faulty power stage below breaks exactly one rule a DC charger must keep; the bench runs the scenario with it
(no protocol) and the checker names the rule. The same faults through real -20 sessions: tests/sim/test_dc_faults.py.
"""

from __future__ import annotations

import dataclasses

import pytest

from harness.bench import Bench, Trace, check_invariants, load_scenario, run_bench
from harness.bench.dccharger import DCCharger, DCLoopCommand, EVDCLimits
from iso15118.controller import IsolationCheck, IsolationStatus
from tests.harness.bench_support import bench_run


class OvershootsPrecharge(DCCharger):
    """Its first precharge step overshoots to the top of its own window (above the truck's maximum)."""

    def advance(self, dt: float, pack_voltage_v: float) -> None:
        if self.phase.value == "precharge" and self.output_v == 0.0:
            self.output_v = self.params.max_voltage_v
            return
        super().advance(dt, pack_voltage_v)


class PrechargesHard(DCCharger):
    """Drives 10 A while precharging."""

    def start_precharge(self, target_v: float, current_a: float) -> None:
        super().start_precharge(target_v, current_a)
        self.output_a = 10.0


class IgnoresTheTruck(DCCharger):
    """Drives its own maximum current whatever the truck reported."""

    def command(self, setpoint_w: float, ev: EVDCLimits) -> DCLoopCommand:
        unlimited = EVDCLimits(max_voltage_v=1e4, max_charge_current_a=1e4, max_charge_w=1e9)
        return super().command(1e9 if setpoint_w > 0.0 else setpoint_w, unlimited)


class IgnoresItsPowerLimit(DCCharger):
    """Drives its maximum current even where that exceeds its power rating (and the truck's)."""

    def command(self, setpoint_w: float, ev: EVDCLimits) -> DCLoopCommand:
        cmd = super().command(setpoint_w, ev)
        if self.contactors_closed and setpoint_w > 0.0:
            self.output_a = self.params.max_charge_current_a
        return dataclasses.replace(cmd, current_a=self.output_a)


class CurrentDuringCableCheck(DCCharger):
    """Pushes 5 A while its insulation test runs."""

    def start_cable_check(self) -> None:
        super().start_cable_check()
        self.output_a = 5.0


class SkipsTheInsulationTest(DCCharger):
    """Reports its insulation test passed at once: the monitor never measured."""

    def insulation(self) -> IsolationCheck:
        return IsolationCheck(done=True, status=IsolationStatus.VALID)


class ClosesOnACollapsedOutput(DCCharger):
    """Its precharged output collapses just before the contactors close."""

    def close(self, pack_voltage_v: float) -> None:
        self.output_v = 0.0
        super().close(pack_voltage_v)


class CreatesEnergy(DCCharger):
    """Its books: the grid side equals the DC side, as if conversion were lossless (its data say otherwise)."""

    def grid_w(self, output_w: float) -> float:
        return output_w


class DischargesPastTheReserve(DCCharger):
    """Keeps discharging at its full power whatever the truck's limits (its reserve among them)."""

    def command(self, setpoint_w: float, ev: EVDCLimits) -> DCLoopCommand:
        if setpoint_w < 0.0 or self.output_a < 0.0:
            ev = dataclasses.replace(ev, max_discharge_current_a=1e4, max_discharge_w=1e9)
            setpoint_w = -self.params.max_discharge_power_w
        return super().command(setpoint_w, ev)


def _run(name: str, charger_cls: type[DCCharger], **scenario_changes: object) -> Trace:
    sc = load_scenario(name)
    if scenario_changes:
        sc = dataclasses.replace(sc, **scenario_changes)  # type: ignore[arg-type]
    assert sc.dc_charger is not None
    bench = Bench(sc, dc_charger=charger_cls(sc.dc_charger))
    return run_bench(bench)


def _kinds(violations: list[str]) -> set[str]:
    return {v.split(":", 1)[0] for v in violations}


@pytest.mark.parametrize("name", ["dc-fast-charge", "dc-bpt-grid-event"])
def test_the_well_behaved_charger_breaks_no_rule(name: str) -> None:
    assert check_invariants(bench_run(name).trace) == []


@pytest.mark.parametrize(
    ("charger_cls", "kind", "needle"),
    [
        (OvershootsPrecharge, "dc-voltage", "1000.0 V above the truck's 870 V"),
        (PrechargesHard, "dc-precharge", "10.00 A while precharging (limit 2 A)"),
        (IgnoresTheTruck, "dc-current", "above the truck's 400.00 A limit"),
        (CurrentDuringCableCheck, "dc-power-delivery", "5.00 A with the contactors open"),
        (CurrentDuringCableCheck, "dc-insulation", "5.00 A before the insulation test passed"),
        (SkipsTheInsulationTest, "dc-insulation", "precharge before the insulation test passed"),
        (ClosesOnACollapsedOutput, "dc-precharge-match", "contactors closed with a -670.0 V gap"),
        (CreatesEnergy, "energy", "the DC charger's grid side"),
    ],
)
def test_a_faulty_fast_charger_is_caught(charger_cls: type[DCCharger], kind: str, needle: str) -> None:
    violations = check_invariants(_run("dc-fast-charge", charger_cls))
    assert kind in _kinds(violations), violations
    assert any(v.startswith(kind) and needle in v for v in violations), violations


def test_a_charger_beyond_its_own_rating_is_caught_even_when_the_truck_would_take_it() -> None:
    sc = load_scenario("dc-fast-charge")
    assert sc.vehicle.dc is not None
    hungry = dataclasses.replace(
        sc.vehicle.dc, max_charge_current_a=1000.0, taper_power_w=tuple(2.0 * w for w in sc.vehicle.dc.taper_power_w)
    )
    violations = check_invariants(
        _run("dc-fast-charge", IgnoresItsPowerLimit, vehicle=dataclasses.replace(sc.vehicle, dc=hungry))
    )
    power = [v for v in violations if v.startswith("dc-power")]
    assert power and "above the charger's 350.000 kW" in power[0], violations


def test_discharging_past_the_reserve_is_caught() -> None:
    violations = check_invariants(_run("dc-bpt-grid-event", DischargesPastTheReserve))
    assert {"reserve", "dc-power"} <= _kinds(violations), violations
    assert any("below the 50 % reserve" in v for v in violations)


def test_charging_into_a_full_pack_breaks_the_energy_balance() -> None:
    sc = load_scenario("dc-fast-charge")
    settings = dataclasses.replace(sc.settings, start_soc_pct=99.0, charge_limit_pct=100.0, leave_at_charge_limit=False)
    violations = check_invariants(_run("dc-fast-charge", IgnoresTheTruck, settings=settings))
    # The cells stop at 100 % (the state of charge never leaves its range) but the charger kept pushing.
    assert "energy" in _kinds(violations) and "soc-range" not in _kinds(violations), violations


def test_doctored_dc_samples_are_caught() -> None:
    trace = bench_run("dc-bpt-grid-event").trace
    samples = trace.samples
    i = next(k for k, s in enumerate(samples) if s.dc is not None and s.dc.inlet_w < 0.0)
    s = samples[i]
    assert s.dc is not None
    no_bpt = dataclasses.replace(trace.meta, dc=dataclasses.replace(trace.meta.dc, ev_bpt_offered=False))  # type: ignore[type-var]
    assert "no-dc-bpt" in _kinds(check_invariants(Trace(meta=no_bpt, samples=samples)))
    over = dataclasses.replace(s, soc_pct=101.0)
    assert "soc-range" in _kinds(
        check_invariants(Trace(meta=trace.meta, samples=[*samples[:i], over, *samples[i + 1 :]]))
    )
    live = next(k for k, x in enumerate(samples) if x.dc is not None and x.dc.phase == "idle")
    idle = samples[live]
    assert idle.dc is not None
    doctored = dataclasses.replace(idle, dc=dataclasses.replace(idle.dc, output_a=3.0))
    kinds = _kinds(check_invariants(Trace(meta=trace.meta, samples=[*samples[:live], doctored, *samples[live + 1 :]])))
    assert "dc-power-delivery" in kinds
