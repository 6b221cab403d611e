"""Device parameters of the virtual test bench: TOML data files -> frozen dataclasses.

Owns the parameter types of every virtual device (Cybertruck trims, Universal Wall Connector with the
Powershare Gateway, home, grid tariffs, Powerwall with solar) and their loaders. The numbers themselves
live in ``harness/bench/data/*.toml``; nothing here hard-codes a product fact.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.bench.dcparams import DCInletParams, load_dc_inlet
from harness.bench.tomlread import Table, load_packaged

__all__ = [
    "DATA_PACKAGE",
    "ChargerParams",
    "GatewayParams",
    "HomeParams",
    "OutletParams",
    "PowerwallParams",
    "SolarParams",
    "TariffParams",
    "V2HParams",
    "V2LParams",
    "V2VParams",
    "VehicleParams",
    "WallConnectorParams",
    "load_grid",
    "load_home",
    "load_powerwall",
    "load_vehicle",
    "load_wall_connector",
]

DATA_PACKAGE = "harness.bench.data"


@dataclass(frozen=True, slots=True, kw_only=True)
class OutletParams:
    """One V2L outlet (receptacle) of the truck."""

    id: str
    kind: str
    voltage_v: float
    current_a: float
    power_w: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargerParams:
    """The onboard bidirectional AC charger: current limits at the nominal voltage, and its efficiencies."""

    nominal_voltage_v: float
    max_charge_current_a: float
    max_discharge_current_a: float
    max_power_w: float
    min_charge_current_a: float
    min_discharge_current_a: float
    charge_efficiency: float
    discharge_efficiency: float

    @property
    def max_charge_w(self) -> float:
        """Largest AC charge power (W)."""
        return min(self.max_power_w, self.max_charge_current_a * self.nominal_voltage_v)

    @property
    def max_discharge_w(self) -> float:
        """Largest AC discharge power the hardware can deliver (W, magnitude)."""
        return min(self.max_power_w, self.max_discharge_current_a * self.nominal_voltage_v)

    @property
    def min_charge_w(self) -> float:
        """Smallest stable AC charge power (W)."""
        return self.min_charge_current_a * self.nominal_voltage_v

    @property
    def min_discharge_w(self) -> float:
        """Smallest stable AC discharge power (W, magnitude)."""
        return self.min_discharge_current_a * self.nominal_voltage_v


@dataclass(frozen=True, slots=True, kw_only=True)
class V2HParams:
    """Home backup through the charge port (Powershare V2H); ``offered`` False means no AC_BPT at all."""

    offered: bool
    max_power_w: float
    max_current_a: float


@dataclass(frozen=True, slots=True, kw_only=True)
class V2LParams:
    """The truck's power outlets (vehicle-to-load)."""

    max_total_power_w: float
    efficiency: float
    outlets: tuple[OutletParams, ...]

    def outlet(self, outlet_id: str) -> OutletParams | None:
        """The outlet with this id, or None."""
        return next((o for o in self.outlets if o.id == outlet_id), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class V2VParams:
    """Charging another EV through the mobile connector plugged into one of the truck's outlets."""

    connector: str
    outlet: str
    current_a: float
    voltage_v: float

    @property
    def power_w(self) -> float:
        """Largest power the mobile connector passes (W)."""
        return self.current_a * self.voltage_v


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleParams:
    """One Cybertruck trim."""

    name: str
    trim: str
    usable_kwh: float
    charger: ChargerParams
    v2h: V2HParams
    v2l: V2LParams
    v2v: V2VParams
    default_reserve_pct: float
    default_charge_limit_pct: float
    dc: DCInletParams | None = None
    """The DC inlet (DC and DC_BPT charging); None: the trim charges on AC only."""

    @property
    def capacity_wh(self) -> float:
        """Usable pack energy (Wh)."""
        return self.usable_kwh * 1000.0

    @property
    def max_charge_w(self) -> float:
        """Largest AC charge power through the charge port (W)."""
        return self.charger.max_charge_w

    @property
    def max_export_w(self) -> float:
        """Largest AC export through the charge port (W, magnitude); 0 for a trim without V2H."""
        if not self.v2h.offered:
            return 0.0
        v2h_w = min(self.v2h.max_power_w, self.v2h.max_current_a * self.charger.nominal_voltage_v)
        return min(v2h_w, self.charger.max_discharge_w)


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayParams:
    """The Powershare Gateway: how fast it sees an outage and moves the home onto the backup source."""

    name: str
    detection_s: float
    switch_s: float
    max_transfer_s: float
    reconnect_delay_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class WallConnectorParams:
    """The (bidirectional) Universal Wall Connector and its gateway."""

    name: str
    max_current_a: float
    nominal_voltage_v: float
    bidirectional: bool
    gateway: GatewayParams

    @property
    def max_power_w(self) -> float:
        """Largest power in either direction (W)."""
        return self.max_current_a * self.nominal_voltage_v


@dataclass(frozen=True, slots=True, kw_only=True)
class HomeParams:
    """The home's consumption: energy per day spread over 24 hourly weights, optionally with seeded noise."""

    name: str
    daily_kwh: float
    hourly_weights: tuple[float, ...]
    noise: float
    seed: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TariffParams:
    """Grid prices, and the compensation paid per kWh exported during a grid-support event."""

    name: str
    currency: str
    import_per_kwh: float
    export_per_kwh: float
    grid_support_per_kwh: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SolarParams:
    """Rooftop solar: a half-sine between sunrise and sunset peaking at ``peak_w``."""

    peak_w: float
    sunrise_h: float
    sunset_h: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerwallParams:
    """Home battery, its solar array and the outage car-charging threshold rules."""

    name: str
    capacity_kwh: float
    max_power_w: float
    charge_efficiency: float
    discharge_efficiency: float
    default_threshold_pct: float
    hold_band_pct: float
    solar: SolarParams

    @property
    def capacity_wh(self) -> float:
        """Usable energy (Wh)."""
        return self.capacity_kwh * 1000.0


def load_vehicle(name: str) -> VehicleParams:
    """Load a vehicle trim from ``harness/bench/data/<name>.toml``."""
    root = load_packaged(DATA_PACKAGE, name)
    veh = root.table("vehicle")
    battery = root.table("battery")
    ch = root.table("onboard_charger")
    charger = ChargerParams(
        nominal_voltage_v=ch.number("nominal_voltage_v", lo=0.0, lo_open=True),
        max_charge_current_a=ch.number("max_charge_current_a", lo=0.0),
        max_discharge_current_a=ch.number("max_discharge_current_a", lo=0.0),
        max_power_w=ch.number("max_power_w", lo=0.0),
        min_charge_current_a=ch.number("min_charge_current_a", 0.0, lo=0.0),
        min_discharge_current_a=ch.number("min_discharge_current_a", 0.0, lo=0.0),
        charge_efficiency=_efficiency(ch, "charge_efficiency"),
        discharge_efficiency=_efficiency(ch, "discharge_efficiency"),
    )
    v2h_t = root.table("v2h")
    v2h = V2HParams(
        offered=v2h_t.boolean("offered"),
        max_power_w=v2h_t.number("max_power_w", lo=0.0),
        max_current_a=v2h_t.number("max_current_a", lo=0.0),
    )
    v2l_t = root.table("v2l")
    outlets = tuple(_outlet(t) for t in v2l_t.tables("outlets"))
    v2l = V2LParams(
        max_total_power_w=v2l_t.number("max_total_power_w", lo=0.0),
        efficiency=_efficiency(v2l_t, "efficiency"),
        outlets=outlets,
    )
    v2v_t = root.table("v2v")
    v2v = V2VParams(
        connector=v2v_t.string("connector"),
        outlet=v2v_t.string("outlet", choices=tuple(o.id for o in outlets)),
        current_a=v2v_t.number("current_a", lo=0.0),
        voltage_v=v2v_t.number("voltage_v", lo=0.0),
    )
    defaults = root.table("defaults")
    dc_t = root.table("dc_inlet", required=False)
    dc = load_dc_inlet(dc_t) if root.has("dc_inlet") else None
    params = VehicleParams(
        name=veh.string("name"),
        trim=veh.string("trim"),
        usable_kwh=battery.number("usable_kwh", lo=0.0, lo_open=True),
        charger=charger,
        v2h=v2h,
        v2l=v2l,
        v2v=v2v,
        default_reserve_pct=defaults.number("reserve_pct", lo=0.0, hi=100.0),
        default_charge_limit_pct=defaults.number("charge_limit_pct", lo=0.0, hi=100.0),
        dc=dc,
    )
    for t in (veh, battery, ch, dc_t, v2h_t, v2l_t, v2v_t, defaults, root):
        t.done()
    return params


def _efficiency(t: Table, key: str) -> float:
    return t.number(key, lo=0.0, hi=1.0, lo_open=True)


def _outlet(t: Table) -> OutletParams:
    outlet = OutletParams(
        id=t.string("id"),
        kind=t.string("kind"),
        voltage_v=t.number("voltage_v", lo=0.0, lo_open=True),
        current_a=t.number("current_a", lo=0.0),
        power_w=t.number("power_w", lo=0.0),
    )
    if outlet.power_w > outlet.voltage_v * outlet.current_a + 1e-6:
        raise t.error("power_w", f"{outlet.power_w:g} W exceeds {outlet.voltage_v:g} V x {outlet.current_a:g} A")
    t.done()
    return outlet


def load_wall_connector(name: str) -> WallConnectorParams:
    """Load a wall connector (with its gateway) from ``harness/bench/data/<name>.toml``."""
    root = load_packaged(DATA_PACKAGE, name)
    wc = root.table("wall_connector")
    gw = root.table("gateway")
    gateway = GatewayParams(
        name=gw.string("name"),
        detection_s=gw.number("detection_s", lo=0.0),
        switch_s=gw.number("switch_s", lo=0.0),
        max_transfer_s=gw.number("max_transfer_s", lo=0.0, lo_open=True),
        reconnect_delay_s=gw.number("reconnect_delay_s", lo=0.0),
    )
    params = WallConnectorParams(
        name=wc.string("name"),
        max_current_a=wc.number("max_current_a", lo=0.0),
        nominal_voltage_v=wc.number("nominal_voltage_v", lo=0.0, lo_open=True),
        bidirectional=wc.boolean("bidirectional"),
        gateway=gateway,
    )
    for t in (wc, gw, root):
        t.done()
    return params


def load_home(name: str) -> HomeParams:
    """Load a home load profile from ``harness/bench/data/<name>.toml``."""
    root = load_packaged(DATA_PACKAGE, name)
    home = root.table("home")
    weights = home.numbers("hourly_weights", length=24, lo=0.0)
    if sum(weights) <= 0.0:
        raise home.error("hourly_weights", "at least one weight must be positive")
    params = HomeParams(
        name=home.string("name"),
        daily_kwh=home.number("daily_kwh", lo=0.0),
        hourly_weights=weights,
        noise=home.number("noise", 0.0, lo=0.0, hi=0.9),
        seed=home.integer("seed", 0),
    )
    home.done()
    root.done()
    return params


def load_grid(name: str) -> TariffParams:
    """Load grid tariffs from ``harness/bench/data/<name>.toml``."""
    root = load_packaged(DATA_PACKAGE, name)
    tariff = root.table("tariff")
    params = TariffParams(
        name=tariff.string("name"),
        currency=tariff.string("currency"),
        import_per_kwh=tariff.number("import_per_kwh", lo=0.0),
        export_per_kwh=tariff.number("export_per_kwh", lo=0.0),
        grid_support_per_kwh=tariff.number("grid_support_per_kwh", lo=0.0),
    )
    tariff.done()
    root.done()
    return params


def load_powerwall(name: str) -> PowerwallParams:
    """Load a Powerwall (with its solar array) from ``harness/bench/data/<name>.toml``."""
    root = load_packaged(DATA_PACKAGE, name)
    pw = root.table("powerwall")
    sol = root.table("solar")
    solar = SolarParams(
        peak_w=sol.number("peak_w", lo=0.0),
        sunrise_h=sol.number("sunrise_h", lo=0.0, hi=24.0),
        sunset_h=sol.number("sunset_h", lo=0.0, hi=24.0),
    )
    if solar.sunset_h <= solar.sunrise_h:
        raise sol.error("sunset_h", "must be after sunrise_h")
    params = PowerwallParams(
        name=pw.string("name"),
        capacity_kwh=pw.number("capacity_kwh", lo=0.0, lo_open=True),
        max_power_w=pw.number("max_power_w", lo=0.0),
        charge_efficiency=_efficiency(pw, "charge_efficiency"),
        discharge_efficiency=_efficiency(pw, "discharge_efficiency"),
        default_threshold_pct=pw.number("threshold_pct", lo=0.0, hi=100.0),
        hold_band_pct=pw.number("hold_band_pct", lo=0.0, hi=10.0),
        solar=solar,
    )
    for t in (pw, sol, root):
        t.done()
    return params
