"""Fault-injected DC chargers in real -20 DC sessions: each breaks one rule a charger must keep, the session still
runs (our EVCC cannot see most of these faults), and the bench's invariants catch every one of them.

The faulty chargers are SECC controllers (:class:`~harness.virtual.dcevse.VirtualDCCharger` with one step done
wrong) injected through :class:`~harness.virtual.runner.SimOptions`; the physics records what their output
really did. The same rules broken by faulty power stages without the protocol: tests/harness.
"""

from __future__ import annotations

import pytest

from harness.bench import load_scenario
from harness.bench.dccharger import EVDCLimits
from harness.virtual.dcevse import VirtualDCCharger
from harness.virtual.report import format_text
from harness.virtual.runner import SimOptions, SimResult, simulate
from iso15118.controller import DCCommand, DCLoopRequest, DCOutput, IsolationCheck, IsolationStatus

pytestmark = pytest.mark.timeout(120)

_UNLIMITED = EVDCLimits(
    max_voltage_v=1e4, max_charge_current_a=1e4, max_charge_w=1e9, max_discharge_current_a=1e4, max_discharge_w=1e9
)


class SkipsTheInsulationTest(VirtualDCCharger):
    """Answers the first DC_CableCheckReq with a passed test that never ran."""

    async def cable_check(self, now: float) -> IsolationCheck:
        self.cable_checks += 1
        return IsolationCheck(done=True, status=IsolationStatus.VALID)


class LiesAboutPrecharge(VirtualDCCharger):
    """Reports the EV's target voltage while its output stays where it is."""

    async def precharge(self, target_voltage_v: float, target_current_a: float, now: float) -> DCOutput:
        self.precharges += 1
        await self.coupling.advance_dc_step()
        return DCOutput(present_voltage_v=target_voltage_v, present_current_a=0.0)


class OvershootsPrecharge(VirtualDCCharger):
    """Its first precharge step jumps to the top of its own window, far above the truck's maximum."""

    async def precharge(self, target_voltage_v: float, target_current_a: float, now: float) -> DCOutput:
        if self.precharges == 0:
            self.charger.output_v = self.charger.params.max_voltage_v
        return await super().precharge(target_voltage_v, target_current_a, now)


class PrechargesHard(VirtualDCCharger):
    """Drives 10 A while precharging."""

    async def precharge(self, target_voltage_v: float, target_current_a: float, now: float) -> DCOutput:
        self.charger.start_precharge(target_voltage_v, target_current_a)
        self.charger.output_a = 10.0
        await self.coupling.advance_dc_step()
        return DCOutput(present_voltage_v=self.charger.output_v, present_current_a=2.0)  # and says 2 A


class CurrentDuringCableCheck(VirtualDCCharger):
    """Pushes 5 A into the cable while its insulation test runs."""

    async def cable_check(self, now: float) -> IsolationCheck:
        self.charger.start_cable_check()
        self.charger.output_a = 5.0
        await self.coupling.advance_dc_step()
        self.charger.output_a = 0.0
        return self.charger.insulation()


class IgnoresTheTruck(VirtualDCCharger):
    """Drives its own maximum whatever the truck asked for in the loop request."""

    async def dc_charge_loop(self, request: DCLoopRequest, now: float) -> DCCommand:
        cmd = self.charger.command(self.charger.params.max_charge_power_w, _UNLIMITED)
        return DCCommand(present_voltage_v=cmd.voltage_v, present_current_a=cmd.current_a)


class DischargesPastTheReserve(VirtualDCCharger):
    """Once discharging, keeps discharging at its full power, past the truck's limits and reserve."""

    async def dc_charge_loop(self, request: DCLoopRequest, now: float) -> DCCommand:
        c = self.coupling
        setpoint = c.bench.dc_decision(c.now).setpoint_w
        if setpoint < 0.0 or self.charger.output_a < 0.0:
            cmd = self.charger.command(-self.charger.params.max_discharge_power_w, _UNLIMITED)
            return DCCommand(present_voltage_v=cmd.voltage_v, present_current_a=cmd.current_a)
        return await super().dc_charge_loop(request, now)


def _run(scenario: str, evse: type[VirtualDCCharger]) -> SimResult:
    return simulate(load_scenario(scenario), SimOptions(evse=evse))


def _kinds(result: SimResult) -> set[str]:
    return {v.split(":", 1)[0] for v in result.summary.violations}


@pytest.mark.parametrize(
    ("evse", "kinds", "needle"),
    [
        (SkipsTheInsulationTest, {"dc-insulation"}, "before the insulation test passed"),
        (LiesAboutPrecharge, {"dc-precharge-match"}, "contactors closed with a -670.0 V gap"),
        (OvershootsPrecharge, {"dc-voltage"}, "above the truck's 870 V"),
        (PrechargesHard, {"dc-precharge"}, "10.00 A while precharging (limit 2 A)"),
        (CurrentDuringCableCheck, {"dc-insulation", "dc-power-delivery"}, "5.00 A"),
        (IgnoresTheTruck, {"dc-current", "dc-power"}, "above the truck's"),
    ],
)
def test_a_faulty_fast_charger_is_caught(evse: type[VirtualDCCharger], kinds: set[str], needle: str) -> None:
    result = _run("dc-fast-charge", evse)
    assert kinds <= _kinds(result), format_text(result)
    assert any(needle in v for v in result.summary.violations), result.summary.violations
    assert not result.ok and "invariants VIOLATED" in format_text(result)
    (record,) = result.sessions
    assert record.evcc is not None  # the session itself ran: only the physics shows the fault


def test_discharging_past_the_reserve_is_caught() -> None:
    result = _run("dc-bpt-grid-event", DischargesPastTheReserve)
    assert {"reserve", "dc-power"} <= _kinds(result), result.summary.violations
    assert not result.summary.reserve_respected
    assert result.summary.soc_min_pct < result.scenario.settings.reserve_pct


def test_the_well_behaved_charger_is_the_default_and_passes() -> None:
    result = _run("dc-fast-charge", VirtualDCCharger)
    assert result.ok and result.summary.violations == ()
