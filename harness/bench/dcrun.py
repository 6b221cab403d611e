"""A DC session on the bench without the protocol: the same steps the EVCC and SECC take, driven directly.

Owns :func:`run_dc_bench` (cable check until the insulation test is done, precharge until the output is
within the truck's tolerance of its pack voltage plus the EV's closing request, PowerDelivery(Start), the
charge loop, PowerDelivery(Stop), welding detection until the output is touch-safe plus the closing request)
and the helpers the protocol-driven DC devices share with it: :func:`ev_dc_limits` (the truck's limits as the
charger obeys them) and :func:`dc_shutdown_s` (how long before the scenario's end the truck must leave the loop
so that the stop and the welding detection still fit in simulated time).
"""

from __future__ import annotations

import math

from harness.bench.bench import Bench
from harness.bench.dccharger import EVDCLimits
from harness.bench.dcparams import DCChargerParams, DCInletParams, DCRules, load_dc_rules
from harness.bench.errors import BenchError
from harness.bench.vehicle import DCVehicleLimits
from iso15118.controller import IsolationStatus

__all__ = ["dc_shutdown_s", "ev_dc_limits", "run_dc_bench"]

_END_EPS = 1e-9


def ev_dc_limits(lim: DCVehicleLimits) -> EVDCLimits:
    """The truck's reported limits in the form the charger obeys them."""
    return EVDCLimits(
        max_voltage_v=lim.max_voltage_v,
        max_charge_current_a=lim.max_charge_current_a,
        max_charge_w=lim.max_charge_w,
        max_discharge_current_a=lim.max_discharge_current_a,
        max_discharge_w=lim.max_discharge_w,
    )


def dc_shutdown_s(charger: DCChargerParams, inlet: DCInletParams, rules: DCRules, step_s: float) -> float:
    """Simulated time the end of a DC session needs: the output bleeding from the inlet's highest voltage to
    the safe voltage, plus the EV's closing welding request and one step of slack."""
    bleed = charger.bleed_time_constant_s * math.log(max(1.0, inlet.max_voltage_v / rules.welding_safe_voltage_v))
    return math.ceil(bleed / step_s) * step_s + 2.0 * step_s


def run_dc_bench(bench: Bench, *, dt: float, fine_dt: float, max_steps: int) -> None:
    """Run one DC session from the bench's present time, then let it idle to the scenario's end."""
    _DCRun(bench, dt=dt, fine_dt=fine_dt, max_steps=max_steps).run()


class _DCRun:
    def __init__(self, bench: Bench, *, dt: float, fine_dt: float, max_steps: int) -> None:
        if bench.dc_charger is None:
            raise BenchError(f"scenario {bench.scenario.name} has no DC charger")
        self.bench = bench
        self.charger = bench.dc_charger
        self.vehicle = bench.vehicle
        self.rules = load_dc_rules()
        self.run_params = bench.scenario.run
        self.end = bench.scenario.duration_s
        self.dt, self.fine_dt, self.max_steps = dt, fine_dt, max_steps
        self.steps = 0

    def step(self, length: float) -> None:
        self.bench.step(self.bench.now, min(length, self.end - self.bench.now), 0.0)
        self.steps += 1
        if self.steps > self.max_steps:
            raise BenchError(f"scenario {self.bench.scenario.name} did not finish within {self.max_steps} steps")

    def running(self) -> bool:
        return self.bench.now < self.end - _END_EPS

    def loop_dt(self, until: float) -> float:
        now = self.bench.now
        return min(self.bench.suggest_dt(now, self.dt, self.fine_dt, self.run_params.fine_window_s), until - now)

    def run(self) -> None:
        bench, charger, prep = self.bench, self.charger, self.run_params.dc_step_s
        charger.start_cable_check()
        while self.running() and not charger.insulation().done:
            self.step(prep)
        if charger.insulation().status in (IsolationStatus.VALID, IsolationStatus.WARNING):  # as the SECC decides
            self.precharge()
            charger.close(self.vehicle.pack_voltage())
            stop_at = self.end - dc_shutdown_s(charger.params, self.vehicle.dc, self.rules, prep)
            while bench.now < stop_at - _END_EPS and not self.left():
                length = self.loop_dt(stop_at)
                setpoint = bench.dc_decision(bench.now, length).setpoint_w
                charger.command(setpoint, ev_dc_limits(bench.dc_limits(bench.now, length)))
                self.step(length)
            charger.open()
            while self.running() and charger.output_v >= self.rules.welding_safe_voltage_v:
                self.step(prep)
            if self.running():
                self.step(prep)  # the EV's closing (Finished) welding request
        charger.end()
        while self.running():
            bench.refresh_decision(bench.now)
            self.step(self.loop_dt(self.end))

    def precharge(self) -> None:
        charger, prep, current = self.charger, self.run_params.dc_step_s, self.rules.precharge_max_current_a
        while self.running():
            target = self.vehicle.pack_voltage()
            charger.start_precharge(target, current)
            self.step(prep)
            if abs(charger.output_v - target) <= self.vehicle.dc.precharge_tolerance_v:
                break
        if self.running():
            charger.start_precharge(self.vehicle.pack_voltage(), current)
            self.step(prep)  # the EV's closing (Finished) precharge request

    def left(self) -> bool:
        """The driver unplugs once the charge limit is reached (scenarios with ``leave_at_charge_limit``)."""
        return self.vehicle.settings.leave_at_charge_limit and self.vehicle.dc_limits().max_charge_w <= 0.0
