"""Device data and scenario files: the product facts load as data, and bad files fail with a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.bench import load_scenario, scenario_names
from harness.bench.params import load_grid, load_home, load_powerwall, load_vehicle, load_wall_connector
from harness.bench.scenarios import parse_scenario
from iso15118.errors import ConfigError

SHIPPED = {
    "charge",
    "v2h-outage",
    "v2g-grid-event",
    "powerwall-outage-charging",
    "v2l-jobsite",
    "v2v-rescue",
    "loop-myth",
    "rwd-no-v2h",
    "dc-fast-charge",
    "dc-bpt-grid-event",
}


def test_every_assigned_scenario_is_shipped() -> None:
    assert set(scenario_names()) >= SHIPPED


@pytest.mark.parametrize("trim", ["cybertruck_awd", "cyberbeast"])
def test_awd_and_cyberbeast_back_up_the_home_at_11_5_kw(trim: str) -> None:
    v = load_vehicle(trim)
    assert v.usable_kwh == 123.0
    assert v.v2h.offered
    assert v.max_export_w == 11500.0
    assert v.max_charge_w == 11500.0
    assert v.charger.max_charge_current_a == 48.0 and v.charger.nominal_voltage_v == 240.0
    assert v.v2l.max_total_power_w == 9600.0


def test_rwd_offers_no_v2h_and_2_4_kw_of_outlets() -> None:
    v = load_vehicle("cybertruck_rwd")
    assert not v.v2h.offered
    assert v.max_export_w == 0.0
    assert v.v2l.max_total_power_w == 2400.0
    assert v.max_charge_w == 11500.0  # it still charges normally


def test_outlets_and_v2v_connector() -> None:
    v = load_vehicle("cybertruck_awd")
    kinds = sorted((o.kind, o.voltage_v, o.current_a, o.power_w) for o in v.v2l.outlets)
    assert kinds == [("NEMA 14-50", 240.0, 40.0, 9600.0)] + [("NEMA 5-20", 120.0, 20.0, 2400.0)] * 4
    assert v.v2v.power_w == pytest.approx(7680.0)
    assert v.v2l.outlet(v.v2v.outlet) is not None


def test_every_conversion_loses_energy() -> None:
    for trim in ("cybertruck_awd", "cybertruck_rwd", "cyberbeast"):
        v = load_vehicle(trim)
        assert 0.0 < v.charger.charge_efficiency < 1.0
        assert 0.0 < v.charger.discharge_efficiency < 1.0
        assert 0.0 < v.v2l.efficiency < 1.0
    pw = load_powerwall("powerwall")
    assert pw.charge_efficiency < 1.0 and pw.discharge_efficiency < 1.0


def test_wall_connector_gateway_home_and_tariff() -> None:
    wc = load_wall_connector("universal_wall_connector")
    assert wc.max_power_w == 48.0 * 240.0
    assert wc.bidirectional
    assert wc.gateway.max_transfer_s == 1.0
    assert wc.gateway.detection_s + wc.gateway.switch_s < wc.gateway.max_transfer_s
    home = load_home("home")
    assert home.daily_kwh == 30.0
    assert len(home.hourly_weights) == 24
    tariff = load_grid("grid")
    assert tariff.grid_support_per_kwh > 0.0


def test_unknown_data_file_lists_the_available_ones() -> None:
    with pytest.raises(ConfigError, match=r"no data file nope\.toml \(available: .*cybertruck_awd"):
        load_vehicle("nope")


def test_unknown_scenario_lists_the_available_ones() -> None:
    with pytest.raises(ConfigError, match=r"no scenario 'nope' \(available: .*v2h-outage"):
        load_scenario("nope")


def test_scenario_file_by_path(tmp_path: Path) -> None:
    src = Path(__file__).resolve().parents[2] / "harness" / "scenarios" / "charge.toml"
    copy = tmp_path / "mine.toml"
    copy.write_text(src.read_text(encoding="utf-8").replace('name = "charge"', 'name = "mine"'))
    assert load_scenario(copy).name == "mine"
    with pytest.raises(ConfigError, match="cannot read scenario"):
        load_scenario(tmp_path / "missing.toml")


_BASE = """
[scenario]
name = "t"
title = "t"
duration_h = 1.0
[devices]
vehicle = "cybertruck_awd"
wall_connector = "universal_wall_connector"
home = "home"
grid = "grid"
[vehicle]
plug = "wall_connector"
start_soc_pct = 50.0
"""


@pytest.mark.parametrize(
    ("extra", "replace", "message"),
    [
        ("", ("start_soc_pct = 50.0", "start_soc_pct = 150.0"), r"t\.toml: \[vehicle\] start_soc_pct: must be <= 100"),
        ("", ("start_soc_pct = 50.0", "start_soc = 50.0"), r"\[vehicle\] start_soc_pct: is required"),
        ("colour = 'red'\n", None, r"\[vehicle\] unknown key\(s\): colour"),
        ("reserve_pct = 95.0\n", None, r"t\.toml: .*reserve_pct \(95 %\) is above charge_limit_pct"),
        ("", ('plug = "wall_connector"', 'plug = "usb"'), r"plug: must be one of none, wall_connector, own_outlet"),
        ("", ("duration_h = 1.0", "duration_h = 'long'"), r"duration_h: expected a number"),
        ("", ('vehicle = "cybertruck_awd"', 'vehicle = "model_t"'), r"no data file model_t\.toml"),
        (
            "[[outages]]\nstart_h = 0.1\nend_h = 0.5\n[[outages]]\nstart_h = 0.4\nend_h = 0.6\n",
            None,
            r"t\.toml: outage windows overlap",
        ),
        ("[[outages]]\nstart_h = 0.5\nend_h = 0.2\n", None, r"\[outages\[0\]\] end_h: must be after start_h"),
        ("[[outlet_loads]]\noutlet = 'roof'\nstart_h = 0\nend_h = 1\npower_w = 1\n", None, r"outlet: must be one of"),
        ("[loop]\noutlet = 'bed_240v'\ncurrent_a = 32\nstart_h = 0\nend_h = 1\n", None, r"needs plug = \"own_outlet\""),
        ("[loop]\noutlet = 'bed_240v'\ncurrent_a = 80\nstart_h = 0\nend_h = 1\n", None, r"current_a: must be <= 40"),
        ("[powerwall]\nstart_soc_pct = 50\n", None, r"needs devices\.powerwall"),
        ("= broken", None, r"t\.toml: not valid TOML"),
    ],
)
def test_bad_scenarios_name_file_table_and_key(extra: str, replace: tuple[str, str] | None, message: str) -> None:
    text = _BASE
    if replace is not None:
        assert replace[0] in text
        text = text.replace(*replace)
    text += extra
    with pytest.raises(ConfigError, match=message):
        parse_scenario(text, source="t.toml")


def test_base_scenario_is_valid() -> None:
    sc = parse_scenario(_BASE, source="t.toml")
    assert sc.settings.reserve_pct == sc.vehicle.default_reserve_pct
    assert sc.run.dt_s == 60.0
