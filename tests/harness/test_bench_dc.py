"""DC charging on the bench: the data, the charger's power stage, the truck's DC side, the DC policy, and the two
DC scenarios run without the protocol (the sequence of DC steps, their durations, the energy and the limits)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from harness.bench import Bench, Reason, load_scenario, run_bench, summarize
from harness.bench.dccharger import DCCharger, DCPhase, EVDCLimits
from harness.bench.dcparams import load_dc_charger, load_dc_inlet, load_dc_rules
from harness.bench.dcrun import dc_shutdown_s
from harness.bench.params import load_vehicle
from harness.bench.policy import DCPolicyInputs, decide_dc
from harness.bench.scenarios import parse_scenario
from harness.bench.tomlread import parse
from harness.bench.vehicle import Plug, Vehicle
from harness.virtual.runner import adjust_scenario
from iso15118.config import EvccConfig
from iso15118.controller import IsolationCheck, IsolationStatus
from iso15118.errors import ConfigError
from iso15118.iso20.secc.dc import PRECHARGE_CURRENT_A
from tests.harness.bench_support import DC_SCENARIO_TOML, bench_run

# -- data -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("trim", ["cybertruck_awd", "cyberbeast", "cybertruck_rwd"])
def test_every_trim_has_an_800_v_class_dc_inlet(trim: str) -> None:
    dc = load_vehicle(trim).dc
    assert dc is not None
    mid = dc.pack_voltage(50.0)
    assert 700.0 <= mid <= 900.0  # "800 V class": the one DC product fact the bench uses
    assert dc.min_voltage_v <= dc.pack_voltage(0.0) < dc.pack_voltage(100.0) <= dc.max_voltage_v
    assert dc.taper_w(0.0) == dc.max_charge_power_w >= dc.taper_w(50.0) >= dc.taper_w(100.0) > 0.0
    assert 0.0 < dc.charge_efficiency < 1.0 and 0.0 < dc.discharge_efficiency < 1.0


def test_only_the_v2h_trims_offer_dc_bpt() -> None:
    for trim, offered in (("cybertruck_awd", True), ("cyberbeast", True), ("cybertruck_rwd", False)):
        dc = load_vehicle(trim).dc
        assert dc is not None and dc.bpt_offered is offered
        assert (dc.max_discharge_power_w > 0.0) is offered


def test_chargers_and_rules_load_as_data() -> None:
    fast = load_dc_charger("dc_fast_charger")
    assert not fast.bidirectional and fast.max_discharge_power_w == 0.0
    assert fast.min_voltage_v < 650.0 and fast.max_voltage_v > 870.0  # the truck's window fits inside
    bidi = load_dc_charger("dc_bidirectional_charger")
    assert bidi.bidirectional and bidi.max_discharge_power_w > 0.0
    for charger in (fast, bidi):
        assert charger.insulation_result is IsolationStatus.VALID
        assert 0.0 < charger.efficiency < 1.0 and charger.insulation_test_s > 0.0
        assert charger.precharge_current_a <= load_dc_rules().precharge_max_current_a
    # The bench's rules are the standard's, as the library states them too.
    assert load_dc_rules().precharge_max_current_a == PRECHARGE_CURRENT_A
    assert load_dc_rules().welding_safe_voltage_v == EvccConfig().welding_safe_voltage_v


_INLET = """
pack_voltage_empty_v = 650.0
pack_voltage_full_v = 850.0
max_voltage_v = 870.0
min_voltage_v = 600.0
max_charge_current_a = 400.0
taper_soc_pct = [0.0, 50.0, 100.0]
taper_power_w = [250000.0, 150000.0, 20000.0]
charge_efficiency = 0.98
discharge_efficiency = 0.98
precharge_tolerance_v = 10.0
bpt_offered = false
max_discharge_current_a = 0.0
max_discharge_power_w = 0.0
"""


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("taper_soc_pct = [0.0, 50.0, 100.0]", "taper_soc_pct = [0.0, 60.0, 50.0]", "must rise strictly"),
        ("taper_power_w = [250000.0, 150000.0, 20000.0]", "taper_power_w = [1.0]", "expected 3 numbers"),
        ("max_voltage_v = 870.0", "max_voltage_v = 800.0", "must lie within"),
        ("max_discharge_power_w = 0.0", "max_discharge_power_w = 5.0", "bpt_offered"),
        ("charge_efficiency = 0.98", "charge_efficiency = 1.2", "must be <= 1"),
    ],
)
def test_bad_dc_inlet_data_is_refused(old: str, new: str, message: str) -> None:
    good = parse(_INLET, source="t.toml")
    assert load_dc_inlet(good).pack_voltage(50.0) == 750.0
    with pytest.raises(ConfigError, match=message):
        load_dc_inlet(parse(_INLET.replace(old, new), source="t.toml"))


def _dc_scenario_text(**changes: str) -> str:
    text = DC_SCENARIO_TOML
    for old, new in changes.items():
        text = text.replace(old, new)
    return text


def test_dc_scenario_files_are_checked() -> None:
    assert parse_scenario(_dc_scenario_text(), source="x.toml").dc_charger is not None
    with pytest.raises(ConfigError, match="go together"):
        parse_scenario(_dc_scenario_text(**{'plug = "dc_charger"': 'plug = "wall_connector"'}), source="x.toml")
    with pytest.raises(ConfigError, match="go together"):
        parse_scenario(_dc_scenario_text(**{'dc_charger = "dc_fast_charger"': ""}), source="x.toml")
    with pytest.raises(ConfigError, match=r"no data file nope\.toml"):
        parse_scenario(_dc_scenario_text(**{'"dc_fast_charger"': '"nope"'}), source="x.toml")
    outage = _dc_scenario_text() + "[[outages]]\nstart_h = 0.5\nend_h = 0.6\n"
    with pytest.raises(ConfigError, match="no outages"):
        parse_scenario(outage, source="x.toml")


# -- the charger's power stage ------------------------------------------------------------------------------

_EV = EVDCLimits(max_voltage_v=870.0, max_charge_current_a=400.0, max_charge_w=250_000.0)


def _charging(charger: DCCharger, pack_v: float) -> DCCharger:
    charger.start_cable_check()
    charger.advance(charger.params.insulation_test_s, pack_v)
    charger.start_precharge(pack_v, 2.0)
    charger.advance(10.0, pack_v)
    charger.close(pack_v)
    return charger


def test_the_insulation_test_takes_its_declared_time() -> None:
    charger = DCCharger(load_dc_charger("dc_fast_charger"))
    charger.start_cable_check()
    assert charger.phase is DCPhase.CABLE_CHECK
    charger.advance(charger.params.insulation_test_s / 2.0, 700.0)
    assert not charger.insulation().done and not charger.insulation_ok
    charger.start_cable_check()  # asking again continues the same test
    charger.advance(charger.params.insulation_test_s / 2.0, 700.0)
    assert charger.insulation() == IsolationCheck(done=True, status=IsolationStatus.VALID)
    assert charger.insulation_ok


def test_precharge_ramps_at_its_rate_with_at_most_the_precharge_current() -> None:
    charger = DCCharger(load_dc_charger("dc_fast_charger"))
    ramp = charger.params.precharge_ramp_v_per_s
    charger.start_precharge(670.0, 10.0)
    assert charger.output_a == charger.params.precharge_current_a <= 2.0
    charger.advance(1.0, 670.0)
    assert charger.output_v == pytest.approx(ramp)
    charger.advance(100.0, 670.0)
    assert charger.output_v == pytest.approx(670.0)  # no overshoot
    charger.start_precharge(5000.0, 1.0)
    assert charger.precharge_target_v == charger.params.max_voltage_v  # never beyond its own window
    assert charger.output_a == 1.0


def test_closing_records_the_gap_and_the_output_joins_the_pack() -> None:
    charger = DCCharger(load_dc_charger("dc_fast_charger"))
    charger.start_precharge(670.0, 2.0)
    charger.advance(3.0, 670.0)
    charger.close(675.0)
    assert charger.close_gap_v == pytest.approx(600.0 - 675.0)
    assert charger.contactors_closed and charger.output_v == 675.0 and charger.output_a == 0.0
    charger.advance(10.0, 680.0)
    assert charger.output_v == 680.0


def test_the_loop_current_obeys_every_limit() -> None:
    fast = load_dc_charger("dc_fast_charger")
    charger = _charging(DCCharger(fast), 670.0)
    cmd = charger.command(1e9, _EV)  # the truck's power binds
    assert cmd.current_a == pytest.approx(250_000.0 / 670.0) and cmd.power_limited and not cmd.current_limited
    cmd = charger.command(1e9, dataclasses.replace(_EV, max_charge_current_a=100.0))  # the truck's current binds
    assert cmd.current_a == pytest.approx(100.0) and cmd.current_limited
    generous = EVDCLimits(max_voltage_v=2000.0, max_charge_current_a=1e4, max_charge_w=1e9)
    cmd = charger.command(1e9, generous)  # the charger's own current (350 kW / 670 V = 522 A > 500 A)
    assert cmd.current_a == pytest.approx(fast.max_charge_current_a)
    charger = _charging(DCCharger(fast), 850.0)
    cmd = charger.command(1e9, generous)  # the charger's own power
    assert cmd.current_a * 850.0 == pytest.approx(fast.max_charge_power_w)
    cmd = charger.command(1e9, dataclasses.replace(_EV, max_voltage_v=800.0))  # the pack above the EV's maximum
    assert cmd.current_a == 0.0 and cmd.voltage_limited
    assert charger.command(-10_000.0, _EV).current_a == 0.0  # a DC-only charger never discharges
    idle = DCCharger(fast)
    assert idle.command(1e9, _EV).current_a == 0.0  # no current with the contactors open


def test_a_bidirectional_charger_discharges_within_the_ev_limits() -> None:
    charger = _charging(DCCharger(load_dc_charger("dc_bidirectional_charger")), 810.0)
    ev = dataclasses.replace(_EV, max_discharge_current_a=60.0, max_discharge_w=20_000.0)
    assert charger.command(-15_000.0, ev).current_a == pytest.approx(-15_000.0 / 810.0)
    assert charger.command(-15_000.0, dataclasses.replace(ev, max_discharge_w=5_000.0)).current_a == pytest.approx(
        -5_000.0 / 810.0
    )
    assert charger.command(-15_000.0, dataclasses.replace(ev, max_discharge_w=0.0)).current_a == 0.0


def test_opening_bleeds_the_output_down_and_end_switches_off() -> None:
    charger = _charging(DCCharger(load_dc_charger("dc_fast_charger")), 800.0)
    charger.command(100_000.0, _EV)
    charger.open()
    assert charger.phase is DCPhase.WELDING and not charger.contactors_closed and charger.output_a == 0.0
    tau = charger.params.bleed_time_constant_s
    charger.advance(tau, 800.0)
    assert charger.output_v == pytest.approx(800.0 / math.e)
    charger.end()
    assert charger.phase is DCPhase.IDLE and not charger.insulation_ok


def test_the_grid_side_follows_the_efficiency() -> None:
    charger = DCCharger(load_dc_charger("dc_bidirectional_charger"))
    eff = charger.params.efficiency
    assert charger.grid_w(10_000.0) == pytest.approx(10_000.0 / eff)
    assert charger.grid_w(-10_000.0) == pytest.approx(-10_000.0 * eff)


# -- the truck's DC side and the DC policy ---------------------------------------------------------------------


def test_the_truck_reports_its_dc_limits() -> None:
    sc = load_scenario("dc-fast-charge")
    truck = Vehicle(sc.vehicle, sc.settings)
    dc = sc.vehicle.dc
    assert dc is not None
    assert truck.pack_voltage() == pytest.approx(dc.pack_voltage(10.0))
    lim = truck.dc_limits()
    assert lim.max_charge_w == dc.taper_w(10.0)
    assert lim.max_charge_current_a == pytest.approx(
        min(dc.max_charge_current_a, lim.max_charge_w / lim.pack_voltage_v)
    )
    assert lim.max_discharge_w == 0.0  # on a charge-only scenario the reserve is above the SoC
    room_wh = truck.pack.headroom_to(sc.settings.charge_limit_pct) / dc.charge_efficiency
    assert truck.dc_limits(dt=1e6).max_charge_w == pytest.approx(room_wh * 3600.0 / 1e6)  # cut to finish in a step
    assert lim.target_energy_wh == pytest.approx(room_wh)
    flow = truck.dc_inlet(100_000.0, 36.0)
    assert flow.pack_wh == pytest.approx(1000.0 * dc.charge_efficiency)
    assert flow.loss_wh == pytest.approx(1000.0 * (1.0 - dc.charge_efficiency))
    unplugged = Vehicle(sc.vehicle, dataclasses.replace(sc.settings, plug=Plug.WALL_CONNECTOR))
    assert unplugged.dc_limits().max_charge_w == 0.0


def test_dc_export_stops_at_the_reserve_and_the_owners_cap() -> None:
    sc = load_scenario("dc-bpt-grid-event")
    dc = sc.vehicle.dc
    assert dc is not None
    truck = Vehicle(sc.vehicle, sc.settings)
    assert truck.dc_limits().max_discharge_w == dc.max_discharge_power_w
    capped = Vehicle(sc.vehicle, dataclasses.replace(sc.settings, max_export_w=5_000.0))
    assert capped.dc_limits().max_discharge_w == 5_000.0
    at_reserve = Vehicle(sc.vehicle, dataclasses.replace(sc.settings, start_soc_pct=sc.settings.reserve_pct))
    assert at_reserve.dc_limits().max_discharge_w == 0.0
    rwd = adjust_scenario(sc, trim="rwd")
    assert Vehicle(rwd.vehicle, rwd.settings).dc_limits().max_discharge_w == 0.0


def test_dc_policy() -> None:
    sc = load_scenario("dc-bpt-grid-event")
    lim = Vehicle(sc.vehicle, dataclasses.replace(sc.settings, start_soc_pct=60.0)).dc_limits()

    def decide(event: float | None, **changes: object) -> tuple[float, Reason]:
        inputs = DCPolicyInputs(
            plug=Plug.DC_CHARGER,
            limits=lim,
            charger_max_charge_w=20_000.0,
            charger_max_discharge_w=20_000.0,
            event_request_w=event,
        )
        d = decide_dc(dataclasses.replace(inputs, **changes))  # type: ignore[arg-type]
        return d.setpoint_w, d.reason

    assert decide(None) == (20_000.0, Reason.CHARGE)
    assert decide(15_000.0) == (-15_000.0, Reason.GRID_EVENT)
    assert decide(50_000.0) == (-lim.max_discharge_w, Reason.GRID_EVENT)
    assert decide(15_000.0, charger_max_discharge_w=0.0) == (0.0, Reason.NO_BPT)
    assert decide(15_000.0, limits=dataclasses.replace(lim, max_discharge_w=0.0)) == (0.0, Reason.RESERVE_REACHED)
    assert decide(None, limits=dataclasses.replace(lim, max_charge_w=0.0)) == (0.0, Reason.CHARGE_COMPLETE)
    assert decide(None, plug=Plug.WALL_CONNECTOR) == (0.0, Reason.NOT_PLUGGED)


# -- the DC scenarios without the protocol ---------------------------------------------------------------------


def _phases(name: str) -> list[str]:
    out: list[str] = []
    for s in bench_run(name).trace.samples:
        assert s.dc is not None
        if not out or out[-1] != s.dc.phase:
            out.append(s.dc.phase)
    return out


@pytest.mark.parametrize("name", ["dc-fast-charge", "dc-bpt-grid-event"])
def test_the_dc_steps_come_in_order_and_take_their_time(name: str) -> None:
    run = bench_run(name)
    sc = run.bench.scenario
    charger, dc = sc.dc_charger, sc.vehicle.dc
    assert charger is not None and dc is not None
    assert _phases(name) == ["cable_check", "precharge", "charge", "welding", "idle"]
    summary = run.summary.dc
    assert summary is not None
    step = sc.run.dc_step_s
    assert summary.insulation_test_s == pytest.approx(charger.insulation_test_s)
    # Ramp to the pack's voltage in whole DC steps (the last one within the tolerance), plus the EV's closing request.
    pack_v = dc.pack_voltage(sc.settings.start_soc_pct)
    steps = math.ceil((pack_v - dc.precharge_tolerance_v) / (charger.precharge_ramp_v_per_s * step))
    assert summary.precharge_s == pytest.approx((steps + 1) * step)
    assert summary.close_gap_v is not None and abs(summary.close_gap_v) <= dc.precharge_tolerance_v
    precharging = [s for s in run.trace.samples if s.dc and s.dc.phase == "precharge"]
    assert max(abs(s.dc.output_a) for s in precharging if s.dc) == charger.precharge_current_a
    assert all(s.dc.inlet_w == 0.0 for s in precharging if s.dc)  # the truck's contactors are open
    assert summary.welding_end_v is not None and summary.welding_end_v < load_dc_rules().welding_safe_voltage_v
    shutdown = dc_shutdown_s(charger, dc, load_dc_rules(), step)
    assert summary.welding_s <= shutdown


def test_dc_fast_charge_reaches_the_limit_along_the_taper() -> None:
    run = bench_run("dc-fast-charge")
    sc, s = run.bench.scenario, run.summary
    dc, charger = sc.vehicle.dc, sc.dc_charger
    assert dc is not None and charger is not None and s.dc is not None
    added_wh = sc.vehicle.capacity_wh * (sc.settings.charge_limit_pct - sc.settings.start_soc_pct) / 100.0
    assert s.soc_end_pct == pytest.approx(sc.settings.charge_limit_pct)
    assert s.dc.into_truck_wh == pytest.approx(added_wh / dc.charge_efficiency, rel=1e-9)
    assert s.dc.grid_draw_wh == pytest.approx(s.dc.into_truck_wh / charger.efficiency, rel=1e-9)
    assert s.dc.truck_loss_wh == pytest.approx(s.dc.into_truck_wh - added_wh, rel=1e-9)
    assert s.dc.peak_charge_w == pytest.approx(dc.max_charge_power_w)
    assert s.dc.peak_current_a <= min(dc.max_charge_current_a, charger.max_charge_current_a)
    assert s.dc.peak_voltage_v <= dc.max_voltage_v
    # Every full loop step ran at the taper's power for the state of charge it started at.
    samples = run.trace.samples
    prev_soc = sc.settings.start_soc_pct
    for x in samples:
        assert x.dc is not None
        if x.dc.phase == "charge" and x.dc.inlet_w > 0.0 and x.soc_pct < sc.settings.charge_limit_pct - 1e-9:
            assert x.dc.inlet_w == pytest.approx(dc.taper_w(prev_soc), rel=1e-9)
        prev_soc = x.soc_pct
    # The driver leaves at the limit: nothing flows afterwards, and the pack and the books agree.
    assert s.dc.charge_limit_after_s is not None and s.dc.charge_limit_after_s < sc.duration_s
    pack_delta = samples[-1].pack_wh - run.trace.meta.start_pack_wh
    assert run.bench.ledger.truck_balance_error_wh(pack_delta) == pytest.approx(0.0, abs=1e-6)


def test_dc_bpt_event_exports_the_request_within_the_reserve() -> None:
    run = bench_run("dc-bpt-grid-event")
    sc, s = run.bench.scenario, run.summary
    charger = sc.dc_charger
    assert charger is not None and s.dc is not None
    (event,) = sc.events
    inside = [x for x in run.trace.samples if event.window.start_s <= x.t < event.window.end_s]
    assert inside and all(x.dc and x.dc.inlet_w == pytest.approx(-event.request_w) for x in inside)
    hours = (event.window.end_s - event.window.start_s) / 3600.0
    assert s.dc.out_of_truck_wh == pytest.approx(event.request_w * hours)
    assert s.dc.grid_feed_wh == pytest.approx(s.dc.out_of_truck_wh * charger.efficiency)
    assert s.grid_support_wh == pytest.approx(s.dc.event_export_wh) == pytest.approx(s.dc.grid_feed_wh)
    assert s.compensation == pytest.approx(s.grid_support_wh / 1000.0 * sc.tariff.grid_support_per_kwh)
    assert sc.settings.reserve_pct < s.soc_min_pct < sc.settings.charge_limit_pct
    assert s.soc_end_pct == pytest.approx(sc.settings.charge_limit_pct)  # recharged afterwards
    assert s.reserve_respected and s.violations == ()


def test_dc_bpt_event_with_a_truck_without_dc_bpt_exports_nothing() -> None:
    bench = Bench(adjust_scenario(load_scenario("dc-bpt-grid-event"), trim="rwd"))
    run_bench(bench)
    summary = summarize(bench)
    assert summary.dc is not None and summary.dc.out_of_truck_wh == 0.0 and summary.violations == ()
    assert summary.decisions.get(Reason.NO_BPT.value, 0.0) > 0.0
