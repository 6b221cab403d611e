"""Every shipped scenario, physics only: invariants hold, and each scenario shows what it is about."""

from __future__ import annotations

import json

import pytest

from harness.bench import Bench, Reason, check_invariants, load_scenario, outage_transfers, run_physics_only
from harness.bench.energy import loop_pass
from harness.bench.vehicle import Plug, Vehicle, VehicleSettings
from tests.harness.bench_support import bench_run
from tests.harness.test_bench_data import SHIPPED


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_scenario_satisfies_every_invariant(name: str) -> None:
    run = bench_run(name)
    assert run.trace.samples, "the run recorded nothing"
    assert run.trace.duration_s == pytest.approx(run.bench.scenario.duration_s)
    assert check_invariants(run.trace) == []
    assert check_invariants(run.trace, strict=True) == []
    assert run.summary.violations == ()
    assert run.summary.reserve_respected
    # The books balance: pack change = AC in - AC out - outlets - conversion losses.
    pack_delta = run.trace.samples[-1].pack_wh - run.trace.meta.start_pack_wh
    assert run.bench.ledger.truck_balance_error_wh(pack_delta) == pytest.approx(0.0, abs=1e-3)


def test_runs_are_deterministic() -> None:
    a = run_physics_only(load_scenario("powerwall-outage-charging"))
    b = run_physics_only(load_scenario("powerwall-outage-charging"))
    assert a.to_json() == b.to_json()


def test_charge_reaches_the_limit_at_full_power() -> None:
    run = bench_run("charge")
    s, meta = run.summary, run.trace.meta
    assert s.soc_end_pct == pytest.approx(meta.charge_limit_pct)
    added_wh = meta.capacity_wh * (meta.charge_limit_pct - 20.0) / 100.0
    assert s.port_in_wh == pytest.approx(added_wh / meta.charge_efficiency, rel=1e-6)
    assert s.truck_loss_wh == pytest.approx(s.port_in_wh - added_wh, rel=1e-6)
    assert max(x.port_w for x in run.trace.samples) == pytest.approx(11500.0)
    assert s.grid_import_wh == pytest.approx(s.port_in_wh + s.home_demand_wh, rel=1e-9)


def test_v2h_outage_lasts_the_expected_days() -> None:
    run = bench_run("v2h-outage")
    meta, samples = run.trace.meta, run.trace.samples
    outage = run.bench.scenario.outages[0]
    soc0 = [x for x in samples if x.t + x.dt <= outage.start_s][-1].soc_pct
    available_ac_wh = meta.capacity_wh * (soc0 - meta.reserve_pct) / 100.0 * meta.discharge_efficiency
    daily_wh = run.bench.scenario.home.daily_kwh * 1000.0
    expected_days = available_ac_wh / daily_wh
    assert expected_days > 3.0  # "over three days" from a full pack with a 20 % reserve
    (measure,) = outage_transfers(run.trace)
    assert measure.restored_at_s is not None
    dark = next(x for x in samples if x.t > measure.restored_at_s and x.home_unserved_w > 1.0)
    carried_days = (dark.t - outage.start_s) / 86400.0
    # The daily shape moves the end by at most a fraction of a day around the flat-rate estimate...
    assert carried_days == pytest.approx(expected_days, abs=0.15)
    # ...and exactly: the home drew the truck's whole usable energy by then (within the last step).
    drawn_wh = run.bench.home.energy_wh(outage.start_s, dark.t)
    assert drawn_wh == pytest.approx(available_ac_wh, abs=run.bench.home.power_w(dark.t) * dark.dt / 3600.0 + 1.0)
    assert dark.soc_pct == pytest.approx(meta.reserve_pct, abs=1e-6)
    assert run.summary.truck_to_home_wh == pytest.approx(available_ac_wh, rel=1e-6)
    assert run.summary.outages[0].home_carried_s / 86400.0 == pytest.approx(carried_days, abs=1e-3)


def test_v2h_outage_transfer_is_under_a_second() -> None:
    run = bench_run("v2h-outage")
    gw = run.bench.scenario.wall_connector.gateway
    (measure,) = outage_transfers(run.trace)
    assert measure.backup_expected
    assert measure.transfer_s is not None and measure.transfer_s < gw.max_transfer_s
    assert measure.transfer_s == pytest.approx(gw.detection_s + gw.switch_s, abs=1e-6)
    (record,) = run.trace.outages
    assert record.transfer_s == pytest.approx(measure.transfer_s, abs=1e-6)
    summary_outage = run.summary.outages[0]
    assert summary_outage.transfer_s == pytest.approx(measure.transfer_s)
    # The gateway's dark window is visible sample by sample, finer than a second.
    outage = run.bench.scenario.outages[0]
    assert measure.restored_at_s is not None
    dark = [x for x in run.trace.samples if outage.start_s <= x.t < measure.restored_at_s]
    assert dark and all(not x.home_powered for x in dark) and max(x.dt for x in dark) < 0.1


def test_v2h_outlets_are_off_while_exporting_and_on_otherwise() -> None:
    samples = bench_run("v2h-outage").trace.samples
    exporting = [x for x in samples if x.port_w < 0.0]
    assert exporting and all(not x.outlets_on and x.outlet_w == 0.0 for x in exporting)
    assert any(x.outlets_on and x.outlet_w == pytest.approx(100.0) for x in samples if x.port_w >= 0.0)


def test_v2g_event_discharges_within_owner_limits_and_is_paid() -> None:
    run = bench_run("v2g-grid-event")
    sc, s = run.bench.scenario, run.summary
    event = sc.events[0]
    during = [x for x in run.trace.samples if event.window.contains(x.t)]
    assert during and all(x.reason == Reason.GRID_EVENT.value for x in during)
    cap = sc.settings.max_export_w
    assert cap is not None
    for x in during:
        assert -x.port_w == pytest.approx(min(event.request_w + x.home_load_w, cap))
        assert -x.grid_w == pytest.approx(-x.port_w - x.home_load_w)
    exported = sum(-x.grid_w * x.dt / 3600.0 for x in during)
    assert s.grid_support_wh == pytest.approx(exported)
    assert s.compensation == pytest.approx(exported / 1000.0 * sc.tariff.grid_support_per_kwh)
    assert s.compensation > 0.0
    assert s.soc_min_pct >= sc.settings.reserve_pct
    assert s.soc_end_pct == pytest.approx(sc.settings.charge_limit_pct)  # recharged afterwards


def test_powerwall_threshold_rules_are_each_exercised() -> None:
    run = bench_run("powerwall-outage-charging")
    sc = run.bench.scenario
    assert sc.powerwall is not None
    pw = sc.powerwall.params
    threshold, band = sc.powerwall.threshold_pct, pw.hold_band_pct
    car_max = sc.vehicle.max_charge_w
    min_charge = sc.vehicle.charger.min_charge_w
    samples = run.trace.samples
    seen = {x.reason for x in samples}
    assert {
        Reason.PW_SHARE.value,
        Reason.PW_HOLD.value,
        Reason.PW_STOP.value,
        Reason.CHARGE.value,
    } <= seen
    prev_pw = sc.powerwall.start_soc_pct
    for x in samples:
        assert x.pw_wh is not None
        soc_at_decision, prev_pw = prev_pw, 100.0 * x.pw_wh / pw.capacity_wh
        if x.gateway == "islanded" and x.reason == Reason.PW_SHARE.value:
            assert soc_at_decision > threshold + band - 1e-6
            assert x.port_w == pytest.approx(min(car_max, max(0.0, x.solar_w + pw.max_power_w - x.home_load_w)))
        elif x.gateway == "islanded" and x.reason == Reason.PW_HOLD.value:
            surplus = x.solar_w - x.home_load_w
            assert surplus > 0.0
            want = min(car_max, surplus)
            assert x.port_w == pytest.approx(want if want >= min_charge else 0.0)
            if x.port_w > 0.0 and want < car_max:
                assert x.pw_w == pytest.approx(0.0, abs=1e-6)  # the Powerwall holds
        elif x.gateway == "islanded" and x.reason == Reason.PW_STOP.value:
            assert x.port_w == 0.0
        elif x.reason == Reason.CHARGE.value and x.gateway == "connected" and x.grid_up:
            assert x.port_w == pytest.approx(car_max) or x.soc_pct == pytest.approx(sc.settings.charge_limit_pct)
    # Share slows the car as the home load rises (same solar, more load -> less car power).
    share = [x for x in samples if x.reason == Reason.PW_SHARE.value and x.gateway == "islanded"]
    headroom = [x.solar_w + pw.max_power_w - x.home_load_w for x in share]
    assert any(h < car_max for h in headroom)


def test_v2l_jobsite_respects_outlet_ratings_and_total() -> None:
    run = bench_run("v2l-jobsite")
    meta, samples = run.trace.meta, run.trace.samples
    assert all(x.port_w == 0.0 for x in samples)  # unplugged
    peak = max(x.outlet_w for x in samples)
    assert peak == pytest.approx(meta.v2l_total_w)  # welder + tools together hit the 9.6 kW total
    demand_at_peak = next(x for x in samples if x.outlet_w == peak)
    assert dict(demand_at_peak.outlet_detail)["bed_240v"] < 7500.0  # cut back to fit the total
    assert run.summary.outlet_wh == pytest.approx(sum(run.summary.outlet_by_id_wh.values()))
    used_dc = meta.start_pack_wh - samples[-1].pack_wh
    assert used_dc == pytest.approx(run.summary.outlet_wh / meta.outlet_efficiency, rel=1e-9)


def test_v2v_rescue_delivers_through_the_mobile_connector() -> None:
    run = bench_run("v2v-rescue")
    sc, s = run.bench.scenario, run.summary
    assert sc.v2v is not None
    assert s.v2v_soc_end_pct == pytest.approx(sc.v2v.target_soc_pct)
    need_ac_wh = sc.v2v.capacity_kwh * 1000.0 * (sc.v2v.target_soc_pct - sc.v2v.start_soc_pct) / 100.0
    need_ac_wh /= sc.v2v.charge_efficiency
    assert s.v2v_wh == pytest.approx(need_ac_wh, rel=1e-9)
    assert max(x.v2v_w for x in run.trace.samples) == pytest.approx(sc.vehicle.v2v.power_w)
    assert all(x.port_w == 0.0 for x in run.trace.samples)


def test_loop_myth_is_refused_and_shows_the_loss() -> None:
    run = bench_run("loop-myth")
    sc, s = run.bench.scenario, run.summary
    assert sc.loop is not None and s.loop is not None
    assert s.loop.refused
    assert s.port_in_wh == 0.0 and s.outlet_wh == 0.0
    assert s.soc_end_pct == s.soc_start_pct
    assert {x.reason for x in run.trace.samples} == {Reason.LOOP_REFUSED.value}
    assert [e.kind for e in run.trace.events] == ["loop_refused"]
    eta_out, eta_ch = sc.vehicle.v2l.efficiency, sc.vehicle.charger.charge_efficiency
    attempted = sc.loop.power_w * (sc.loop.window.end_s - sc.loop.window.start_s) / 3600.0
    assert s.loop.attempted_ac_wh == pytest.approx(attempted)
    assert s.loop.would_lose_wh == pytest.approx(attempted / eta_out - attempted * eta_ch)
    assert s.loop.would_lose_wh > 0.0 and s.loop.loss_fraction == pytest.approx(1.0 - eta_out * eta_ch)


def test_loop_had_it_been_allowed_drains_the_pack() -> None:
    # Drive the truck's own models around the loop (outlet out, charge port in) and watch the pack.
    sc = load_scenario("loop-myth")
    assert sc.loop is not None
    v = Vehicle(sc.vehicle, VehicleSettings(start_soc_pct=60.0, reserve_pct=20.0, charge_limit_pct=90.0))
    start = v.pack.energy_wh
    for _ in range(60):
        out = v.supply_outlets({sc.loop.outlet: sc.loop.power_w}, 60.0, port_exporting=False)
        v.charge_port(out.total_w, 60.0)  # what the refusal prevents
    lp = loop_pass(
        sc.loop.power_w,
        outlet_efficiency=sc.vehicle.v2l.efficiency,
        charge_efficiency=sc.vehicle.charger.charge_efficiency,
    )
    assert start - v.pack.energy_wh == pytest.approx(lp.lost_wh, rel=1e-9)
    assert v.pack.energy_wh < start  # "charging" from itself only ever loses energy


def test_rwd_never_exports_and_the_home_stays_dark() -> None:
    run = bench_run("rwd-no-v2h")
    sc, samples = run.bench.scenario, run.trace.samples
    assert all(x.port_w >= 0.0 for x in samples)
    assert run.summary.port_out_wh == 0.0
    outage = sc.outages[0]
    inside = [x for x in samples if outage.contains(x.t)]
    assert all(x.home_served_w == 0.0 for x in inside)
    (measure,) = outage_transfers(run.trace)
    assert not measure.backup_expected and measure.restored_at_s is None
    assert run.summary.outages[0].unserved_wh == pytest.approx(run.bench.home.energy_wh(outage.start_s, outage.end_s))
    reasons = {x.reason for x in samples}
    assert Reason.NO_BPT.value in reasons  # outage and grid-support event alike
    assert not any(x.reason == Reason.GRID_EVENT.value for x in samples)
    # Its outlets still work (2.4 kW class): the fridge ran through the outage.
    assert all(x.outlet_w == pytest.approx(150.0) for x in inside)


def test_coupling_api_like_the_protocol_loop() -> None:
    """Drive the bench the way the protocol loop will: limits -> setpoint -> clamp -> step, with 1 s steps."""
    bench = Bench(load_scenario("v2h-outage"))
    end = 2.0 * 3600.0
    while bench.now < end:
        now = bench.now
        lim = bench.vehicle_limits(now)
        assert lim.min_energy_wh <= lim.v2x_min_energy_wh <= lim.v2x_max_energy_wh <= lim.max_energy_wh
        target = bench.evse_setpoint(now)
        assert -lim.max_discharge_w <= target <= lim.max_charge_w
        dt = bench.suggest_dt(now, 1.0, 0.05)
        power = bench.vehicle_accepts(target, dt)
        assert -lim.max_discharge_w <= power <= lim.max_charge_w
        assert bench.vehicle_accepts(power, dt) == power  # the truck's clamp is idempotent
        bench.step(now, dt, power)
    trace = bench.finish()
    assert check_invariants(trace) == []
    (measure,) = outage_transfers(trace)
    assert measure.transfer_s is not None and measure.transfer_s < 1.0
    assert any(x.port_w < 0.0 for x in trace.samples)


def test_a_slow_control_loop_shows_up_as_a_longer_transfer() -> None:
    """Fixed 2 s steps that ignore the gateway's timing leave the home unsupplied past the 1 s promise."""
    bench = Bench(load_scenario("v2h-outage"))
    while bench.now < 3600.0:
        now = bench.now
        bench.step(now, 2.0, bench.vehicle_accepts(bench.evse_setpoint(now), 2.0))
    violations = check_invariants(bench.finish())
    assert any(v.startswith("transfer:") for v in violations)


def test_step_refuses_misuse() -> None:
    from harness.bench import BenchError

    bench = Bench(load_scenario("charge"))
    with pytest.raises(BenchError, match="bench is at t=0"):
        bench.step(10.0, 1.0, 0.0)
    with pytest.raises(BenchError, match=r"use bench\.now"):
        bench.evse_setpoint(-5.0)
    with pytest.raises(BenchError, match=r"use bench\.now"):
        bench.vehicle_limits(float("nan"))
    with pytest.raises(BenchError, match="step length"):
        bench.step(0.0, 0.0, 0.0)
    with pytest.raises(BenchError, match="port power"):
        bench.step(0.0, 1.0, float("nan"))


def test_step_splits_a_long_interval_at_every_change() -> None:
    bench = Bench(load_scenario("v2h-outage"))
    bench.step(0.0, 3600.0, 0.0)  # crosses the outage start and the gateway's two deadlines
    starts = [round(x.t, 6) for x in bench.trace.samples]
    gw = bench.scenario.wall_connector.gateway
    o = bench.scenario.outages[0].start_s
    assert {o, round(o + gw.detection_s, 6), round(o + gw.detection_s + gw.switch_s, 6)} <= set(starts)
    assert bench.now == pytest.approx(3600.0)


def test_summary_text_and_json() -> None:
    s = bench_run("v2h-outage").summary
    doc = json.loads(s.to_json())
    assert doc["scenario"] == "v2h-outage"
    assert doc["outages"][0]["transfer_s"] == pytest.approx(s.outages[0].transfer_s)
    assert doc["protocol_sessions"] == []
    text = s.format_text()
    assert "v2h-outage" in text and "transfer 500 ms" in text and "invariants: all hold" in text
    assert "reserve 20 % respected" in text


def test_plug_enum_is_what_scenarios_use() -> None:
    assert {load_scenario(n).settings.plug for n in SHIPPED} == set(Plug)
