"""The two virtual devices and the coupling, driven directly (no link, no session)."""

from __future__ import annotations

import asyncio
import dataclasses
import io

import pytest

from harness.bench import Bench, load_scenario
from harness.bench.scenarios import OutletLoad
from harness.virtual.coupling import MAX_PACE_S, Coupling, Stepping
from harness.virtual.ev import VirtualCybertruck
from harness.virtual.evse import NOMINAL_FREQUENCY_HZ, VirtualWallConnector
from harness.virtual.progress import ProgressBar
from harness.virtual.runner import adjust_scenario
from iso15118.controller import AuthorizationDecision
from iso15118.errors import ConfigError


def coupling_for(name: str, **stepping: float) -> Coupling:
    return Coupling(Bench(load_scenario(name)), Stepping(**stepping))


async def idle_until(coupling: Coupling, t: float) -> None:
    while coupling.now < t and not coupling.done:
        await coupling.idle()


def test_stepping_rejects_nonsense_and_shrinks_the_coarse_step_for_a_pace() -> None:
    for bad in ({"coarse_dt_s": 0.0}, {"fine_dt_s": -1.0}, {"speed": float("nan")}, {"fine_window_s": -1.0}):
        with pytest.raises(ConfigError):
            Stepping(**bad)
    assert Stepping(coarse_dt_s=300.0).coarse_for() == 300.0
    assert Stepping(coarse_dt_s=300.0, speed=1e6).coarse_for() == 300.0
    # At 600x a 300 s step would need 0.5 s of real time per exchange: the step shrinks to 600 x 0.2 s.
    assert Stepping(coarse_dt_s=300.0, speed=600.0).coarse_for() == pytest.approx(600.0 * MAX_PACE_S)


@pytest.mark.asyncio
async def test_pacing_waits_out_the_rest_of_each_step() -> None:
    now = [100.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    coupling = Coupling(
        Bench(load_scenario("charge")), Stepping(coarse_dt_s=60.0, speed=1200.0), clock=lambda: now[0], sleep=sleep
    )
    await coupling.idle()  # the first step sets the pace mark
    now[0] += 0.01  # the exchange itself took 10 ms of the 50 ms a 60 s step is worth at 1200x
    await coupling.idle()
    assert waits == [pytest.approx(0.04)]
    assert coupling.now == pytest.approx(120.0) and coupling.idle_steps == 2


@pytest.mark.asyncio
async def test_wall_connector_limits_and_the_loop_refusal() -> None:
    wall = VirtualWallConnector(coupling_for("charge"))
    limits = await wall.evse_limits(0.0)
    assert limits.max_charge_w == limits.max_discharge_w == 48.0 * 240.0
    assert limits.bidirectional and limits.nominal_voltage_v == 240.0
    assert limits.nominal_frequency_hz == NOMINAL_FREQUENCY_HZ
    assert await wall.authorize("EVCCID", None, 0.0) is AuthorizationDecision.ACCEPTED
    assert wall.refusal is None
    looped = VirtualWallConnector(coupling_for("loop-myth"))
    limits = await looped.evse_limits(0.0)
    assert (limits.max_charge_w, limits.max_discharge_w, limits.bidirectional) == (0.0, 0.0, False)
    assert looped.refusal is not None and "own outlet" in looped.refusal


@pytest.mark.asyncio
async def test_setpoint_is_the_policy_bounded_by_what_the_truck_reported() -> None:
    coupling = coupling_for("v2g-grid-event")
    wall = VirtualWallConnector(coupling)
    event = coupling.bench.scenario.events[0]
    await idle_until(coupling, event.window.start_s + 60.0)
    policy = coupling.bench.decision(coupling.now).setpoint_w
    home = coupling.bench.home.power_w(coupling.now)
    assert policy == pytest.approx(-min(event.request_w + home, 10_000.0))  # the owner caps export at 10 kW
    reported = {"ev_maximum_charge_power": 11_500.0, "ev_maximum_discharge_power": 10_000.0}
    assert (await wall.charge_loop(0.0, reported, 0.0)).target_power_w == pytest.approx(policy)
    reported["ev_maximum_discharge_power"] = 4_000.0
    assert (await wall.charge_loop(0.0, reported, 0.0)).target_power_w == pytest.approx(-4_000.0)
    # Plain AC: the request carries no discharge limit, so no discharge is asked for.
    assert (await wall.charge_loop(0.0, {"ev_maximum_charge_power": 11_500.0}, 0.0)).target_power_w == 0.0
    assert wall.setpoints == 3


@pytest.mark.asyncio
async def test_without_power_the_wall_connector_stops_answering_until_power_returns() -> None:
    coupling = coupling_for("rwd-no-v2h")
    assert coupling.session_due()
    coupling.session_started()
    assert not coupling.session_due()
    outage = coupling.bench.scenario.outages[0]
    await idle_until(coupling, outage.start_s + 0.5)
    assert coupling.connector_powered()  # still within the ride-through
    await idle_until(coupling, outage.start_s + coupling.ride_through_s + 0.1)
    assert not coupling.connector_powered()
    wall = VirtualWallConnector(coupling)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(wall.charge_loop(0.0, {}, 0.0), 0.2)
    assert wall.lost_power_at == coupling.now
    await idle_until(coupling, outage.end_s)
    assert not coupling.session_due()  # grid back, but the gateway waits before reconnecting the home
    await idle_until(coupling, outage.end_s + coupling.bench.scenario.wall_connector.gateway.reconnect_delay_s)
    assert coupling.connector_powered() and coupling.session_due()


@pytest.mark.asyncio
async def test_truck_reports_the_bench_vehicle() -> None:
    coupling = coupling_for("v2h-outage")
    truck = VirtualCybertruck(coupling)
    state = await truck.ev_state(0.0)
    lim = coupling.bench.vehicle_limits(0.0)
    assert state.soc == lim.soc_pct == 100.0
    assert state.limits.max_discharge_w == lim.max_discharge_w == 11_500.0
    assert state.limits.max_charge_w == 0.0  # full at a 100 % charge limit
    assert state.limits.bidirectional
    assert (state.min_soc, state.target_soc) == (20.0, 100.0)
    assert state.min_v2x_energy_wh == lim.v2x_min_energy_wh < 0.0  # energy it may give down to the reserve
    assert state.max_v2x_energy_wh == lim.v2x_max_energy_wh
    assert not state.finished
    rwd = await VirtualCybertruck(coupling_for("rwd-no-v2h")).ev_state(0.0)
    assert not rwd.limits.bidirectional and rwd.limits.max_discharge_w == 0.0
    assert rwd.max_v2x_energy_wh is None and rwd.min_v2x_energy_wh is None


@pytest.mark.asyncio
async def test_truck_follows_the_setpoint_through_its_own_clamp() -> None:
    coupling = coupling_for("v2h-outage")
    truck = VirtualCybertruck(coupling)
    flowed = await truck.apply_power(-20_000.0, 0.0)
    assert flowed == pytest.approx(-11_500.0)  # the trim's export limit
    assert coupling.now == pytest.approx(300.0) and coupling.protocol_steps == 1
    assert coupling.bench.trace.samples[-1].port_cmd_w == pytest.approx(-11_500.0)
    assert (await truck.ev_state(0.0)).present_power_w == pytest.approx(-11_500.0)
    assert truck.targets == [-20_000.0]
    await idle_until(coupling, coupling.end)
    assert (await truck.ev_state(0.0)).finished
    assert await truck.apply_power(5_000.0, 0.0) == coupling.last_port_w  # nothing moves after the end


def test_adjust_scenario_trim_reserve_and_errors() -> None:
    base = load_scenario("v2h-outage")
    rwd = adjust_scenario(base, trim="rwd")
    assert not rwd.vehicle.v2h.offered and "RWD" in rwd.title
    assert adjust_scenario(base, reserve_pct=35.0).settings.reserve_pct == 35.0
    with pytest.raises(ConfigError, match="unknown trim"):
        adjust_scenario(base, trim="plaid")
    with pytest.raises(ConfigError, match="above charge_limit_pct"):
        adjust_scenario(load_scenario("charge"), reserve_pct=90.0)
    odd = dataclasses.replace(
        base, outlet_loads=(OutletLoad(outlet="frunk_outlet", window=base.outages[0], power_w=10.0, label="x"),)
    )
    with pytest.raises(ConfigError, match="frunk_outlet"):
        adjust_scenario(odd, trim="awd")


@pytest.mark.asyncio
async def test_progress_bar_redraws_at_most_every_interval() -> None:
    now = [0.0]
    stream = io.StringIO()
    bar = ProgressBar(stream, label="charge", interval=1.0, clock=lambda: now[0])
    coupling = Coupling(Bench(load_scenario("charge")), on_step=bar)
    for _ in range(5):
        await coupling.idle()
    assert bar.draws == 1
    now[0] = 2.0
    await coupling.idle()
    assert bar.draws == 2
    await idle_until(coupling, coupling.end)
    bar.close()
    text = stream.getvalue()
    assert bar.draws == 3 and text.count("\r") == 3 and text.endswith("grid up\n")
    last = text.rsplit("\r", 1)[1]
    assert last.startswith("charge [" + "#" * 28 + "] 100.0 %") and "10.0/10.0 h" in last
