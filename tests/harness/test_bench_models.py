"""The device models one by one: battery, truck limits and clamp, outlets, gateway, home, Powerwall rules, policy."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.bench.battery import Battery
from harness.bench.home import HomeLoad
from harness.bench.params import VehicleParams, load_home, load_vehicle, load_wall_connector
from harness.bench.policy import PolicyInputs, PowerwallView, Reason, decide
from harness.bench.powerwall import PowerwallMode, outage_car_allowance
from harness.bench.vehicle import Plug, Vehicle, VehicleSettings
from harness.bench.wallconnector import Gateway, GatewayState
from iso15118.errors import ConfigError

AWD = load_vehicle("cybertruck_awd")
RWD = load_vehicle("cybertruck_rwd")
GATEWAY = load_wall_connector("universal_wall_connector").gateway


def truck(
    soc: float,
    *,
    reserve: float = 20.0,
    limit: float = 90.0,
    params: VehicleParams = AWD,
    max_export_w: float | None = None,
    plug: Plug = Plug.WALL_CONNECTOR,
) -> Vehicle:
    settings = VehicleSettings(
        start_soc_pct=soc, reserve_pct=reserve, charge_limit_pct=limit, max_export_w=max_export_w, plug=plug
    )
    return Vehicle(params, settings)


def test_battery_bounds_and_bad_values() -> None:
    b = Battery(capacity_wh=1000.0, soc_pct=50.0)
    assert b.apply(800.0) == pytest.approx(500.0)
    assert b.soc_pct == pytest.approx(100.0)
    assert b.apply(-2000.0) == pytest.approx(-1000.0)
    assert b.energy_wh == 0.0
    with pytest.raises(ConfigError, match="state of charge"):
        Battery(capacity_wh=1000.0, soc_pct=101.0)
    with pytest.raises(ConfigError, match="capacity"):
        Battery(capacity_wh=0.0, soc_pct=10.0)


def test_awd_limits_at_mid_charge() -> None:
    lim = truck(50.0).limits()
    assert lim.bpt_offered
    assert lim.max_charge_w == 11500.0
    assert lim.max_discharge_w == 11500.0
    assert lim.min_charge_w == pytest.approx(6.0 * 240.0)
    assert lim.v2x_window_pct == (20.0, 90.0)
    ch = AWD.charger
    assert lim.target_energy_wh == pytest.approx(123000.0 * 0.40 / ch.charge_efficiency)
    assert lim.max_energy_wh == pytest.approx(123000.0 * 0.50 / ch.charge_efficiency)
    assert lim.min_energy_wh == pytest.approx(-123000.0 * 0.30 * ch.discharge_efficiency)


def test_rwd_reports_no_bpt_and_never_exports() -> None:
    v = truck(80.0, params=RWD)
    lim = v.limits()
    assert not lim.bpt_offered
    assert lim.max_discharge_w == 0.0
    assert v.accepts(-5000.0) == 0.0
    assert v.accepts(-5000.0, 60.0) == 0.0
    assert v.accepts(5000.0) == 5000.0  # it still charges


def test_rwd_charges_below_its_limit() -> None:
    assert truck(50.0, params=RWD).accepts(20000.0) == 11500.0


def test_reserve_stops_export_and_the_clamp_lands_on_it() -> None:
    v = truck(20.0)
    assert v.limits().max_discharge_w == 0.0
    assert v.accepts(-3000.0, 60.0) == 0.0
    v = truck(20.01)
    p = v.accepts(-11500.0, 3600.0)
    assert -11500.0 < p < 0.0
    v.charge_port(p, 3600.0)
    assert v.soc_pct == pytest.approx(20.0, abs=1e-9)


def test_owner_export_cap_and_plug_states() -> None:
    assert truck(50.0, max_export_w=4000.0).accepts(-9000.0) == -4000.0
    assert truck(50.0, plug=Plug.NONE).accepts(5000.0) == 0.0
    own = truck(50.0, plug=Plug.OWN_OUTLET)
    assert own.refuses_plug()
    assert own.accepts(5000.0) == 0.0


def test_minimum_charge_power_and_non_finite_requests() -> None:
    v = truck(50.0)
    assert v.accepts(1000.0) == 0.0  # below 6 A x 240 V
    assert v.accepts(float("nan")) == 0.0
    assert v.accepts(float("inf")) == 0.0


@given(
    soc=st.floats(0.0, 100.0),
    reserve=st.floats(0.0, 100.0),
    limit=st.floats(0.0, 100.0),
    power=st.floats(-50000.0, 50000.0),
    dt=st.floats(0.01, 7200.0),
)
def test_clamp_and_energy_requests_hold_for_any_state(
    soc: float, reserve: float, limit: float, power: float, dt: float
) -> None:
    reserve, limit = min(reserve, limit), max(reserve, limit)
    v = truck(soc, reserve=reserve, limit=limit)
    lim = v.limits()
    # [V2G20-2125]: Min <= MinV2X <= MaxV2X <= Max
    assert lim.min_energy_wh <= lim.v2x_min_energy_wh <= lim.v2x_max_energy_wh <= lim.max_energy_wh + 1e-9
    p = v.accepts(power, dt)
    assert -lim.max_discharge_w <= p <= lim.max_charge_w
    assert p * power >= 0.0  # never reverses the direction asked for
    assert v.accepts(p, dt) == p  # idempotent: the bench re-applies the clamp in step()
    before = v.pack.energy_wh
    v.charge_port(p, dt)
    reserve_wh = v.pack.energy_at(reserve)
    limit_wh = v.pack.energy_at(limit)
    if p < 0.0:
        assert v.pack.energy_wh >= reserve_wh - 1e-6
    if p > 0.0:
        assert v.pack.energy_wh <= max(limit_wh, before) + 1e-6


def test_charge_port_losses_follow_the_efficiencies() -> None:
    v = truck(50.0)
    flow = v.charge_port(10000.0, 3600.0)
    assert flow.dc_wh == pytest.approx(10000.0 * AWD.charger.charge_efficiency)
    assert flow.loss_wh == pytest.approx(10000.0 * (1.0 - AWD.charger.charge_efficiency))
    flow = v.charge_port(-10000.0, 3600.0)
    assert flow.dc_wh == pytest.approx(-10000.0 / AWD.charger.discharge_efficiency)
    assert flow.loss_wh == pytest.approx(10000.0 / AWD.charger.discharge_efficiency - 10000.0)


def test_outlets_switch_off_while_the_port_exports() -> None:
    v = truck(50.0)
    flow = v.supply_outlets({"bed_120v_left": 500.0}, 60.0, port_exporting=True)
    assert not flow.outlets_on and flow.total_w == 0.0 and flow.dc_wh == 0.0
    flow = v.supply_outlets({"bed_120v_left": 500.0}, 60.0, port_exporting=False)
    assert flow.outlets_on and flow.total_w == 500.0


def test_outlet_ratings_and_the_v2l_total() -> None:
    v = truck(50.0)
    flow = v.supply_outlets({"cabin_120v": 5000.0, "bed_240v": 9000.0}, 60.0, port_exporting=False)
    assert flow.total_w == pytest.approx(9600.0)
    assert flow.served_w["cabin_120v"] <= 2400.0
    rwd = truck(50.0, params=RWD).supply_outlets({"bed_240v": 9000.0}, 60.0, port_exporting=False)
    assert rwd.total_w == pytest.approx(2400.0)
    with pytest.raises(ConfigError, match="no outlet 'roof'"):
        v.supply_outlets({"roof": 1.0}, 60.0, port_exporting=False)


def test_outlets_stop_at_the_reserve() -> None:
    v = truck(20.001)
    flow = v.supply_outlets({"bed_240v": 9000.0}, 3600.0, port_exporting=False)
    assert 0.0 < flow.total_w < 9000.0
    assert v.soc_pct == pytest.approx(20.0)
    assert not v.supply_outlets({"bed_240v": 9000.0}, 60.0, port_exporting=False).outlets_on


def test_gateway_transfers_after_detection_and_switching() -> None:
    gw = Gateway(GATEWAY)
    gw.observe(0.0, True)
    gw.observe(100.0, False)
    assert gw.state is GatewayState.DETECTING and not gw.islanded
    assert gw.next_deadline() == pytest.approx(100.0 + GATEWAY.detection_s)
    gw.advance(100.0 + GATEWAY.detection_s)
    assert gw.state is GatewayState.SWITCHING
    gw.advance(100.0 + GATEWAY.detection_s + GATEWAY.switch_s)
    assert gw.state is GatewayState.ISLANDED
    gw.observe(500.0, True)
    assert gw.state is GatewayState.RESYNC and gw.islanded
    gw.advance(500.0 + GATEWAY.reconnect_delay_s)
    assert gw.state is GatewayState.CONNECTED
    (rec,) = gw.outages()
    assert rec.transfer_s == pytest.approx(GATEWAY.detection_s + GATEWAY.switch_s)
    assert rec.grid_back_at == 500.0 and rec.reconnected_at == pytest.approx(500.0 + GATEWAY.reconnect_delay_s)


def test_gateway_blip_and_loss_during_resync() -> None:
    gw = Gateway(GATEWAY)
    gw.observe(10.0, False)
    gw.observe(10.0 + GATEWAY.detection_s / 2, True)  # shorter than the detection time
    assert gw.state is GatewayState.CONNECTED
    assert gw.outages()[0].islanded_at is None
    gw.observe(50.0, False)
    gw.advance(60.0)
    assert gw.state is GatewayState.ISLANDED
    gw.observe(70.0, True)
    gw.observe(80.0, False)  # lost again before the reconnect delay
    assert gw.state is GatewayState.ISLANDED and gw.next_deadline() is None


def test_home_uses_its_daily_energy_with_and_without_noise() -> None:
    params = load_home("home")
    for noise in (0.0, 0.4):
        home = HomeLoad(replace(params, noise=noise, seed=7), start_hour=18.0)
        for day in range(3):
            start = (24.0 * day + 6.0) * 3600.0  # local midnight of day `day` is 6 h after the start
            assert home.energy_wh(start, start + 86400.0) == pytest.approx(params.daily_kwh * 1000.0)
    home = HomeLoad(params, start_hour=0.0)
    assert home.power_w(19.5 * 3600.0) > 2.0 * home.power_w(3.5 * 3600.0)  # evening peak vs night
    assert home.power_w(7.5 * 3600.0) > home.power_w(3.5 * 3600.0)  # morning peak
    noisy = HomeLoad(replace(params, noise=0.4, seed=7))
    again = HomeLoad(replace(params, noise=0.4, seed=7))
    assert [noisy.power_w(h * 3600.0) for h in range(48)] == [again.power_w(h * 3600.0) for h in range(48)]


def test_powerwall_rules_share_hold_stop() -> None:
    common = {"threshold_pct": 50.0, "band_pct": 1.0, "pw_max_w": 5000.0, "car_max_w": 11500.0}
    share = outage_car_allowance(soc_pct=80.0, solar_w=2000.0, home_w=1000.0, **common)
    assert share.mode is PowerwallMode.SHARE and share.power_w == 6000.0
    busy = outage_car_allowance(soc_pct=80.0, solar_w=2000.0, home_w=5000.0, **common)
    assert busy.mode is PowerwallMode.SHARE and busy.power_w == 2000.0  # high home load slows the car
    hold = outage_car_allowance(soc_pct=50.5, solar_w=7000.0, home_w=1500.0, **common)
    assert hold.mode is PowerwallMode.HOLD and hold.power_w == 5500.0  # surplus solar to the car
    stop = outage_car_allowance(soc_pct=40.0, solar_w=7000.0, home_w=1500.0, **common)
    assert stop.mode is PowerwallMode.STOP and stop.power_w == 0.0
    night = outage_car_allowance(soc_pct=50.0, solar_w=0.0, home_w=1500.0, **common)
    assert night.mode is PowerwallMode.STOP and night.power_w == 0.0


def _inputs(**kw: object) -> PolicyInputs:
    base: dict[str, object] = {
        "plug": Plug.WALL_CONNECTOR,
        "gateway": GatewayState.CONNECTED,
        "limits": truck(50.0).limits(),
        "connector_max_charge_w": 11520.0,
        "connector_max_discharge_w": 11520.0,
        "home_w": 2000.0,
    }
    base.update(kw)
    return PolicyInputs(**base)  # type: ignore[arg-type]


def test_policy_decisions() -> None:
    assert decide(_inputs()).setpoint_w == 11500.0
    assert decide(_inputs(limits=truck(90.0).limits())).reason is Reason.CHARGE_COMPLETE
    assert decide(_inputs(plug=Plug.NONE)).reason is Reason.NOT_PLUGGED
    assert decide(_inputs(plug=Plug.OWN_OUTLET)).setpoint_w == 0.0
    assert decide(_inputs(gateway=GatewayState.SWITCHING)).reason is Reason.TRANSFER
    island = decide(_inputs(gateway=GatewayState.ISLANDED))
    assert island.reason is Reason.V2H_SUPPLY and island.setpoint_w == -2000.0
    at_reserve = decide(_inputs(gateway=GatewayState.ISLANDED, limits=truck(20.0).limits()))
    assert at_reserve.reason is Reason.RESERVE_REACHED and at_reserve.setpoint_w == 0.0
    rwd = decide(_inputs(gateway=GatewayState.ISLANDED, limits=truck(80.0, params=RWD).limits()))
    assert rwd.reason is Reason.NO_BPT and rwd.setpoint_w == 0.0
    event = decide(_inputs(event_request_w=8000.0))
    assert event.reason is Reason.GRID_EVENT and event.setpoint_w == -10000.0
    capped = decide(_inputs(event_request_w=8000.0, limits=truck(50.0, max_export_w=6000.0).limits()))
    assert capped.setpoint_w == -6000.0
    huge = decide(_inputs(gateway=GatewayState.ISLANDED, home_w=30000.0, connector_max_discharge_w=9000.0))
    assert huge.setpoint_w == -9000.0  # bounded by the connector
    pw = PowerwallView(soc_pct=80.0, threshold_pct=50.0, band_pct=1.0, max_discharge_w=5000.0)
    shared = decide(_inputs(gateway=GatewayState.ISLANDED, powerwall=pw, solar_w=1000.0))
    assert shared.reason is Reason.PW_SHARE and shared.setpoint_w == 4000.0
