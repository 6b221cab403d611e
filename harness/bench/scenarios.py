"""Scenario loader: ``harness/scenarios/<name>.toml`` -> a validated, frozen :class:`Scenario`.

Owns :class:`Scenario` (which devices, the owner's settings, outages, grid-support events, outlet loads,
a V2V rescue, a loop attempt, a DC charger, and how finely to step) and its loader. Device numbers come from
``harness/bench/data`` through :mod:`harness.bench.params`; a scenario file only names the devices and
sets what the owner or the weather decides. Times in the files are hours from the scenario start.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

from harness.bench.dcparams import DCChargerParams, load_dc_charger
from harness.bench.grid import Grid, GridEvent, Window
from harness.bench.params import (
    HomeParams,
    PowerwallParams,
    TariffParams,
    VehicleParams,
    WallConnectorParams,
    load_grid,
    load_home,
    load_powerwall,
    load_vehicle,
    load_wall_connector,
)
from harness.bench.protocols import Iso2Transport, ProtocolSettings, WithoutBpt, standards_from
from harness.bench.tomlread import Table, parse
from harness.bench.vehicle import Plug, RescuedEVParams, VehicleSettings
from iso15118.errors import ConfigError
from iso15118.transport.generations import Standard

__all__ = [
    "SCENARIO_PACKAGE",
    "LoopAttempt",
    "OutletLoad",
    "RunParams",
    "Scenario",
    "load_scenario",
    "parse_scenario",
    "scenario_names",
]

SCENARIO_PACKAGE = "harness.scenarios"


@dataclass(frozen=True, slots=True, kw_only=True)
class OutletLoad:
    """A load plugged into one of the truck's outlets during a window."""

    outlet: str
    window: Window
    power_w: float
    label: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LoopAttempt:
    """Someone plugs the wall connector into the truck's own outlet and tries to charge during ``window``."""

    outlet: str
    window: Window
    power_w: float  # what the loop would carry: the outlet's voltage x the attempted current


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerwallSettings:
    """The Powerwall's starting state and the owner's outage car-charging threshold."""

    params: PowerwallParams
    start_soc_pct: float
    threshold_pct: float


@dataclass(frozen=True, slots=True, kw_only=True)
class RunParams:
    """How a physics-only run steps: ``dt_s``, or ``fine_dt_s`` for ``fine_window_s`` after a grid change.

    ``loop_dt_s``: the simulated seconds per charge-loop exchange of a protocol run (None: the simulator's
    default); ``dc_step_s``: the simulated seconds each DC step before and after the loop takes (one
    DC_CableCheck, DC_PreCharge or DC_WeldingDetection exchange), in both kinds of run.
    """

    dt_s: float
    fine_dt_s: float
    fine_window_s: float
    loop_dt_s: float | None = None
    dc_step_s: float = 0.25


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """One bench scenario, fully resolved."""

    name: str
    title: str
    description: str
    duration_s: float
    start_hour: float
    vehicle: VehicleParams
    settings: VehicleSettings
    wall_connector: WallConnectorParams
    home: HomeParams
    tariff: TariffParams
    powerwall: PowerwallSettings | None
    outages: tuple[Window, ...]
    events: tuple[GridEvent, ...]
    outlet_loads: tuple[OutletLoad, ...]
    v2v: RescuedEVParams | None
    loop: LoopAttempt | None
    run: RunParams
    dc_charger: DCChargerParams | None = None
    """The DC charger the truck is plugged into (``plug = "dc_charger"``)."""
    protocols: ProtocolSettings = field(default_factory=ProtocolSettings)
    """What the virtual truck offers and its charger speaks (``[protocols]``; default ISO 15118-20 only)."""


def scenario_names() -> list[str]:
    """Names of the scenarios shipped in ``harness/scenarios``."""
    return sorted(
        p.name.removesuffix(".toml") for p in resources.files(SCENARIO_PACKAGE).iterdir() if p.name.endswith(".toml")
    )


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a shipped scenario by name (``"v2h-outage"``) or any scenario file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml":
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read scenario {path}: {exc.strerror or exc}") from exc
        return parse_scenario(text, source=path.name)
    name = str(name_or_path)
    resource = resources.files(SCENARIO_PACKAGE).joinpath(f"{name}.toml")
    if "/" in name or not resource.is_file():
        raise ConfigError(f"no scenario {name!r} (available: {', '.join(scenario_names())})")
    return parse_scenario(resource.read_text(encoding="utf-8"), source=f"{name}.toml")


def _window(t: Table, *, open_end: float | None = None) -> Window:
    start = t.number("start_h", lo=0.0) * 3600.0
    end_h = t.optional_number("end_h", lo=0.0)
    if end_h is None:
        if open_end is None:
            raise t.error("end_h", "is required")
        return Window(start_s=start, end_s=max(open_end, start + 1.0))
    if end_h * 3600.0 <= start:
        raise t.error("end_h", f"must be after start_h ({start / 3600.0:g} h)")
    return Window(start_s=start, end_s=end_h * 3600.0)


def parse_scenario(text: str, *, source: str) -> Scenario:
    """Build a :class:`Scenario` from TOML text; every problem is a ConfigError naming file, table and key."""
    try:
        scenario = _parse(text, source)
        Grid(scenario.tariff, outages=scenario.outages, events=scenario.events)  # overlap checks
    except ConfigError as exc:
        if str(exc).startswith(source):
            raise
        raise ConfigError(f"{source}: {exc}") from exc
    return scenario


def _parse(text: str, source: str) -> Scenario:
    root = parse(text, source=source)
    sc = root.table("scenario")
    duration_s = sc.number("duration_h", lo=0.0, lo_open=True) * 3600.0
    devices = root.table("devices")
    vehicle = load_vehicle(devices.string("vehicle"))
    veh = root.table("vehicle")
    settings = VehicleSettings(
        start_soc_pct=veh.number("start_soc_pct", lo=0.0, hi=100.0),
        reserve_pct=veh.number("reserve_pct", vehicle.default_reserve_pct, lo=0.0, hi=100.0),
        charge_limit_pct=veh.number("charge_limit_pct", vehicle.default_charge_limit_pct, lo=0.0, hi=100.0),
        max_export_w=veh.optional_number("max_export_w", lo=0.0),
        plug=Plug(veh.string("plug", choices=tuple(p.value for p in Plug))),
        outlets_enabled=veh.boolean("outlets_enabled", True),
        leave_at_charge_limit=veh.boolean("leave_at_charge_limit", False),
    )
    dc_name = devices.optional_string("dc_charger")
    dc_charger = load_dc_charger(dc_name) if dc_name is not None else None
    if (dc_charger is not None) != (settings.plug is Plug.DC_CHARGER):
        raise veh.error("plug", 'plug = "dc_charger" and devices.dc_charger go together')
    if dc_charger is not None and vehicle.dc is None:
        raise devices.error("vehicle", f"{vehicle.name} has no [dc_inlet] data: it cannot use a DC charger")
    powerwall: PowerwallSettings | None = None
    pw_name = devices.optional_string("powerwall")
    pw_t = root.table("powerwall", required=False)
    if pw_name is not None:
        pw_params = load_powerwall(pw_name)
        units = pw_t.integer("units", 1)
        if units < 1:
            raise pw_t.error("units", f"must be >= 1, got {units}")
        if units > 1:  # several Powerwalls act as one with n times the energy and power
            pw_params = replace(
                pw_params,
                name=f"{units} x {pw_params.name}",
                capacity_kwh=pw_params.capacity_kwh * units,
                max_power_w=pw_params.max_power_w * units,
            )
        powerwall = PowerwallSettings(
            params=pw_params,
            start_soc_pct=pw_t.number("start_soc_pct", lo=0.0, hi=100.0),
            threshold_pct=pw_t.number("threshold_pct", pw_params.default_threshold_pct, lo=0.0, hi=100.0),
        )
    elif root.has("powerwall"):
        raise pw_t.error("start_soc_pct", "a [powerwall] table needs devices.powerwall")
    outlet_ids = tuple(o.id for o in vehicle.v2l.outlets)
    outlet_loads = tuple(_outlet_load(t, outlet_ids) for t in root.tables("outlet_loads"))
    v2v_t = root.table("v2v", required=False)
    v2v = None
    if root.has("v2v"):
        v2v = RescuedEVParams(
            name=v2v_t.string("name"),
            capacity_kwh=v2v_t.number("capacity_kwh", lo=0.0, lo_open=True),
            start_soc_pct=v2v_t.number("start_soc_pct", lo=0.0, hi=100.0),
            target_soc_pct=v2v_t.number("target_soc_pct", lo=0.0, hi=100.0),
            charge_efficiency=v2v_t.number("charge_efficiency", lo=0.0, hi=1.0, lo_open=True),
        )
    loop = None
    loop_t = root.table("loop", required=False)
    if root.has("loop"):
        outlet = vehicle.v2l.outlet(loop_t.string("outlet", choices=outlet_ids))
        assert outlet is not None
        current = loop_t.number("current_a", lo=0.0, lo_open=True, hi=outlet.current_a)
        loop = LoopAttempt(outlet=outlet.id, window=_window(loop_t), power_w=current * outlet.voltage_v)
        if settings.plug is not Plug.OWN_OUTLET:
            raise veh.error("plug", 'a [loop] attempt needs plug = "own_outlet"')
    run_t = root.table("run", required=False)
    run = RunParams(
        dt_s=run_t.number("dt_s", 60.0, lo=0.0, lo_open=True),
        fine_dt_s=run_t.number("fine_dt_s", 0.05, lo=0.0, lo_open=True),
        fine_window_s=run_t.number("fine_window_s", 5.0, lo=0.0),
        loop_dt_s=run_t.optional_number("loop_dt_s", lo=1e-3),
        dc_step_s=run_t.number("dc_step_s", 0.25, lo=0.0, lo_open=True),
    )
    protocols_t = root.table("protocols", required=False)
    protocols = _protocols(protocols_t)
    scenario = Scenario(
        name=sc.string("name"),
        title=sc.string("title"),
        description=sc.string("description", ""),
        duration_s=duration_s,
        start_hour=sc.number("start_hour", 0.0, lo=0.0, hi=24.0),
        vehicle=vehicle,
        settings=settings,
        wall_connector=load_wall_connector(devices.string("wall_connector")),
        home=load_home(devices.string("home")),
        tariff=load_grid(devices.string("grid")),
        powerwall=powerwall,
        outages=tuple(_finished(t, _window(t, open_end=duration_s)) for t in root.tables("outages")),
        events=tuple(_grid_event(t) for t in root.tables("grid_events")),
        outlet_loads=outlet_loads,
        v2v=v2v,
        loop=loop,
        run=run,
        dc_charger=dc_charger,
        protocols=protocols,
    )
    if dc_charger is not None and scenario.outages:
        raise root.error("outages", "a DC charger's supply is not modelled: a DC scenario has no outages")
    for t in (sc, devices, veh, pw_t, v2v_t, loop_t, run_t, protocols_t, root):
        t.done()
    return scenario


def _protocols(t: Table) -> ProtocolSettings:
    """``[protocols]``: ``ev`` and ``charger`` as arrays of names (or one comma-separated string)."""
    default = ProtocolSettings()

    def names(key: str, fallback: tuple[Standard, ...]) -> tuple[Standard, ...]:
        if not t.has(key):
            return fallback
        value = t.value(key)
        if not isinstance(value, str | list) or any(not isinstance(v, str) for v in value):
            raise t.error(key, f"expected an array of protocol names, got {value!r}")
        return standards_from(value, f"{t.where} {key}")

    return ProtocolSettings(
        ev=names("ev", default.ev),
        charger=names("charger", default.charger),
        without_bpt=WithoutBpt(t.string("without_bpt", str(default.without_bpt), choices=tuple(WithoutBpt))),
        iso2_transport=Iso2Transport(
            t.string("iso2_transport", str(default.iso2_transport), choices=tuple(Iso2Transport))
        ),
    )


def _finished(t: Table, window: Window) -> Window:
    t.done()
    return window


def _outlet_load(t: Table, outlet_ids: tuple[str, ...]) -> OutletLoad:
    load = OutletLoad(
        outlet=t.string("outlet", choices=outlet_ids),
        window=_window(t),
        power_w=t.number("power_w", lo=0.0),
        label=t.string("label", ""),
    )
    t.done()
    return load


def _grid_event(t: Table) -> GridEvent:
    event = GridEvent(window=_window(t), request_w=t.number("request_w", lo=0.0, lo_open=True))
    t.done()
    return event
