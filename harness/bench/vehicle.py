"""The virtual Cybertruck: pack, trim limits, onboard charger, outlets (V2L), V2V, reserve, efficiencies.

Owns :class:`Vehicle` (the truck's state and what it does with a requested power), :class:`VehicleLimits`
(what the EV side of the protocol reports: the numbers of the BPT charge-parameter and charge-loop
messages), :class:`DCVehicleLimits` (the same on a DC charger: pack voltage, voltage window, current and
power limits), :class:`VehicleSettings` (the owner's choices) and :class:`RescuedEV` (the other car of a V2V
rescue). Sign convention everywhere: positive = power into the truck (charge), negative = out of it
through the charge port (discharge), the ISO 15118-20 convention `[V2G20-1034/1035]`. Powers at the port or
outlet are AC powers and the pack sees them through the onboard charger's efficiencies; on a DC charger the
power is DC at the inlet and the pack sees it through the DC losses of ``[dc_inlet]``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from harness.bench.battery import Battery
from harness.bench.dcparams import DCInletParams
from harness.bench.params import VehicleParams
from iso15118.errors import ConfigError

__all__ = [
    "DCVehicleLimits",
    "InletFlow",
    "OutletFlow",
    "Plug",
    "PortFlow",
    "RescuedEV",
    "RescuedEVParams",
    "Vehicle",
    "VehicleLimits",
    "VehicleSettings",
]

_EPS_WH = 1e-6


class Plug(StrEnum):
    """What the truck's charge port is connected to."""

    NONE = "none"
    WALL_CONNECTOR = "wall_connector"
    OWN_OUTLET = "own_outlet"  # the "loop myth": the wall connector fed from the truck's own outlet
    DC_CHARGER = "dc_charger"  # the scenario's DC charger (DC or DC_BPT)


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleSettings:
    """The owner's settings and the starting state."""

    start_soc_pct: float
    reserve_pct: float
    charge_limit_pct: float
    max_export_w: float | None = None  # owner cap on charge-port export (grid support, V2H); None = hardware
    plug: Plug = Plug.WALL_CONNECTOR
    outlets_enabled: bool = True
    leave_at_charge_limit: bool = False
    """The driver unplugs once the charge limit is reached (a fast-charge stop), ending the session there."""

    def __post_init__(self) -> None:
        for name in ("start_soc_pct", "reserve_pct", "charge_limit_pct"):
            value = getattr(self, name)
            if not 0.0 <= value <= 100.0:
                raise ConfigError(f"vehicle {name} must be within [0, 100] %, got {value:g}")
        if self.reserve_pct > self.charge_limit_pct:
            raise ConfigError(
                f"vehicle reserve_pct ({self.reserve_pct:g} %) is above charge_limit_pct ({self.charge_limit_pct:g} %)"
            )
        if self.max_export_w is not None and self.max_export_w < 0.0:
            raise ConfigError(f"vehicle max_export_w must be >= 0 W, got {self.max_export_w:g}")


@dataclass(frozen=True, slots=True, kw_only=True)
class VehicleLimits:
    """What the truck reports to the EVSE now; powers are magnitudes in W, energies AC-side Wh.

    Energy requests follow ISO 15118-20 (positive = energy the truck can still take, negative = energy it
    can give): target = to the charge limit, max = to 100 %, min = to the reserve; the V2X window is
    [reserve, charge limit], so min <= v2x_min <= v2x_max <= max holds `[V2G20-2125]`.
    """

    bpt_offered: bool
    max_charge_w: float
    min_charge_w: float
    max_discharge_w: float
    min_discharge_w: float
    soc_pct: float
    reserve_pct: float
    charge_limit_pct: float
    capacity_wh: float
    target_energy_wh: float
    max_energy_wh: float
    min_energy_wh: float
    v2x_max_energy_wh: float
    v2x_min_energy_wh: float

    @property
    def v2x_window_pct(self) -> tuple[float, float]:
        """The state-of-charge range the truck allows for V2X cycling: [reserve, charge limit]."""
        return (self.reserve_pct, self.charge_limit_pct)

    def clamp(self, power_w: float) -> float:
        """Bound a requested power to these limits (below a minimum magnitude the answer is 0)."""
        if power_w > 0.0:
            if self.max_charge_w <= 0.0 or power_w < self.min_charge_w:
                return 0.0
            return min(power_w, self.max_charge_w)
        if power_w < 0.0:
            if not self.bpt_offered or self.max_discharge_w <= 0.0 or -power_w < self.min_discharge_w:
                return 0.0
            return max(power_w, -self.max_discharge_w)
        return 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class DCVehicleLimits:
    """What the truck reports on a DC charger now: voltages in V, currents and powers as magnitudes in A and W,
    energy requests in Wh at the inlet (ISO 15118-20 signs, as in :class:`VehicleLimits`).

    With a step length the charge and discharge limits are also cut so that the step neither passes the charge
    limit nor takes the pack below the reserve.
    """

    bpt_offered: bool
    pack_voltage_v: float
    max_voltage_v: float
    min_voltage_v: float
    max_charge_current_a: float
    max_charge_w: float
    max_discharge_current_a: float
    max_discharge_w: float
    precharge_tolerance_v: float
    soc_pct: float
    reserve_pct: float
    charge_limit_pct: float
    capacity_wh: float
    target_energy_wh: float
    max_energy_wh: float
    min_energy_wh: float
    v2x_max_energy_wh: float
    v2x_min_energy_wh: float


@dataclass(frozen=True, slots=True, kw_only=True)
class InletFlow:
    """What one interval did at the DC inlet."""

    w: float  # signed DC power at the inlet (what the charger drove; > 0 into the truck)
    pack_wh: float  # signed energy the cells actually took (< what the losses allow only if the pack was full)
    loss_wh: float  # the DC losses the data declare for that power (>= 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class PortFlow:
    """What one interval did at the charge port."""

    ac_w: float  # signed AC power at the port
    dc_wh: float  # signed DC energy into the pack
    loss_wh: float  # conversion loss (>= 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutletFlow:
    """What one interval did at the outlets."""

    outlets_on: bool
    served_w: Mapping[str, float]  # AC power served per outlet id
    total_w: float
    dc_wh: float  # DC energy taken from the pack (>= 0)
    loss_wh: float


class Vehicle:
    """The truck: applies port and outlet power to its pack within the trim's limits and the reserve."""

    def __init__(self, params: VehicleParams, settings: VehicleSettings) -> None:
        self.params = params
        self.settings = settings
        self.pack = Battery(capacity_wh=params.capacity_wh, soc_pct=settings.start_soc_pct)

    @property
    def soc_pct(self) -> float:
        """State of charge (%)."""
        return self.pack.soc_pct

    def refuses_plug(self) -> bool:
        """True when the charge port is fed from the truck's own outlet: charging from itself is refused."""
        return self.settings.plug is Plug.OWN_OUTLET

    def export_cap_w(self) -> float:
        """Largest export through the charge port: trim hardware and the owner's cap (W, magnitude)."""
        cap = self.params.max_export_w
        if self.settings.max_export_w is not None:
            cap = min(cap, self.settings.max_export_w)
        return cap

    def limits(self) -> VehicleLimits:
        """The numbers the EV side of the protocol reports now."""
        pack, s, ch = self.pack, self.settings, self.params.charger
        plugged = s.plug is Plug.WALL_CONNECTOR
        can_charge = plugged and pack.headroom_to(s.charge_limit_pct) > _EPS_WH
        can_export = plugged and self.params.v2h.offered and pack.available_above(s.reserve_pct) > _EPS_WH
        return VehicleLimits(
            bpt_offered=self.params.v2h.offered,
            max_charge_w=self.params.max_charge_w if can_charge else 0.0,
            min_charge_w=ch.min_charge_w,
            max_discharge_w=self.export_cap_w() if can_export else 0.0,
            min_discharge_w=ch.min_discharge_w,
            soc_pct=pack.soc_pct,
            reserve_pct=s.reserve_pct,
            charge_limit_pct=s.charge_limit_pct,
            capacity_wh=pack.capacity_wh,
            target_energy_wh=self._ac_energy(pack.energy_at(s.charge_limit_pct) - pack.energy_wh),
            max_energy_wh=self._ac_energy(pack.capacity_wh - pack.energy_wh),
            min_energy_wh=self._ac_energy(pack.energy_at(s.reserve_pct) - pack.energy_wh),
            v2x_max_energy_wh=self._ac_energy(pack.energy_at(s.charge_limit_pct) - pack.energy_wh),
            v2x_min_energy_wh=self._ac_energy(pack.energy_at(s.reserve_pct) - pack.energy_wh),
        )

    def _ac_energy(self, dc_delta_wh: float) -> float:
        ch = self.params.charger
        if dc_delta_wh >= 0.0:
            return dc_delta_wh / ch.charge_efficiency
        return dc_delta_wh * ch.discharge_efficiency

    def accepts(self, power_w: float, dt: float | None = None) -> float:
        """What the truck actually does when asked for ``power_w``: clamped to its limits.

        With ``dt`` (s) the power is also cut so that the interval neither passes the charge limit nor
        takes the pack below the reserve; such a finishing interval may run below the minimum power.
        The truck never exports below the reserve, never beyond its trim's limit, and a trim without
        V2H never exports at all. Idempotent: accepting an accepted power changes nothing.
        """
        if self.refuses_plug() or not math.isfinite(power_w) or power_w == 0.0:
            return 0.0
        lim = self.limits()
        ch = self.params.charger
        if power_w > 0.0:
            power, minimum = min(power_w, lim.max_charge_w), lim.min_charge_w
            room_wh = self.pack.headroom_to(self.settings.charge_limit_pct) / ch.charge_efficiency
        else:
            if not lim.bpt_offered:
                return 0.0
            power, minimum = min(-power_w, lim.max_discharge_w), lim.min_discharge_w
            room_wh = self.pack.available_above(self.settings.reserve_pct) * ch.discharge_efficiency
        if power <= 0.0:
            return 0.0
        finishing = False
        if dt is not None and dt > 0.0:
            cap = room_wh * 3600.0 / dt
            if power >= cap:
                power, finishing = cap, True
        if power < minimum and not finishing:
            return 0.0
        return math.copysign(power, power_w)

    def charge_port(self, ac_w: float, dt: float) -> PortFlow:
        """Move ``ac_w`` (already accepted) through the onboard charger for ``dt`` seconds."""
        ch = self.params.charger
        ac_wh = ac_w * dt / 3600.0
        dc_wh = ac_wh * ch.charge_efficiency if ac_wh >= 0.0 else ac_wh / ch.discharge_efficiency
        applied = self.pack.apply(dc_wh)
        if applied != dc_wh:  # the pack was full or empty: the port carried only what the cells took
            ac_wh = applied / ch.charge_efficiency if applied >= 0.0 else applied * ch.discharge_efficiency
        return PortFlow(ac_w=ac_wh * 3600.0 / dt if dt > 0 else 0.0, dc_wh=applied, loss_wh=abs(ac_wh - applied))

    # -- DC ------------------------------------------------------------------------------------------------

    @property
    def dc(self) -> DCInletParams:
        """The DC inlet's data (ConfigError when this trim has none)."""
        if self.params.dc is None:
            raise ConfigError(f"{self.params.name} has no [dc_inlet] data: it cannot charge on DC")
        return self.params.dc

    def pack_voltage(self) -> float:
        """The pack's voltage now (V)."""
        return self.dc.pack_voltage(self.pack.soc_pct)

    def dc_limits(self, dt: float | None = None) -> DCVehicleLimits:
        """The numbers the EV side reports on a DC charger now (``dt``: cut to finish within that step)."""
        dc, pack, s = self.dc, self.pack, self.settings
        plugged = s.plug is Plug.DC_CHARGER
        volts = self.pack_voltage()
        charge_w = dc.taper_w(pack.soc_pct) if plugged and pack.headroom_to(s.charge_limit_pct) > _EPS_WH else 0.0
        export_w = 0.0
        if plugged and dc.bpt_offered and pack.available_above(s.reserve_pct) > _EPS_WH:
            export_w = dc.max_discharge_power_w
            if s.max_export_w is not None:
                export_w = min(export_w, s.max_export_w)
        if dt is not None and dt > 0.0:
            charge_w = min(charge_w, pack.headroom_to(s.charge_limit_pct) / dc.charge_efficiency * 3600.0 / dt)
            export_w = min(export_w, pack.available_above(s.reserve_pct) * dc.discharge_efficiency * 3600.0 / dt)
        return DCVehicleLimits(
            bpt_offered=dc.bpt_offered,
            pack_voltage_v=volts,
            max_voltage_v=dc.max_voltage_v,
            min_voltage_v=dc.min_voltage_v,
            max_charge_current_a=min(dc.max_charge_current_a, charge_w / volts),
            max_charge_w=charge_w,
            max_discharge_current_a=min(dc.max_discharge_current_a, export_w / volts),
            max_discharge_w=export_w,
            precharge_tolerance_v=dc.precharge_tolerance_v,
            soc_pct=pack.soc_pct,
            reserve_pct=s.reserve_pct,
            charge_limit_pct=s.charge_limit_pct,
            capacity_wh=pack.capacity_wh,
            target_energy_wh=self._inlet_energy(pack.energy_at(s.charge_limit_pct) - pack.energy_wh),
            max_energy_wh=self._inlet_energy(pack.capacity_wh - pack.energy_wh),
            min_energy_wh=self._inlet_energy(pack.energy_at(s.reserve_pct) - pack.energy_wh),
            v2x_max_energy_wh=self._inlet_energy(pack.energy_at(s.charge_limit_pct) - pack.energy_wh),
            v2x_min_energy_wh=self._inlet_energy(pack.energy_at(s.reserve_pct) - pack.energy_wh),
        )

    def _inlet_energy(self, dc_delta_wh: float) -> float:
        dc = self.dc
        return dc_delta_wh / dc.charge_efficiency if dc_delta_wh >= 0.0 else dc_delta_wh * dc.discharge_efficiency

    def dc_inlet(self, inlet_w: float, dt: float) -> InletFlow:
        """Move ``inlet_w`` of DC (what the charger drives, not clamped: the truck cannot limit a DC current
        except by opening its contactors) through the DC losses into the pack for ``dt`` seconds."""
        dc = self.dc
        inlet_wh = inlet_w * dt / 3600.0
        want = inlet_wh * dc.charge_efficiency if inlet_wh >= 0.0 else inlet_wh / dc.discharge_efficiency
        applied = self.pack.apply(want)
        return InletFlow(w=inlet_w, pack_wh=applied, loss_wh=abs(inlet_wh - want))

    def outlets_available(self, *, port_exporting: bool) -> bool:
        """Outlets are switched off whenever the charge port exports, and at or below the reserve."""
        return (
            self.settings.outlets_enabled
            and not port_exporting
            and self.pack.available_above(self.settings.reserve_pct) > _EPS_WH
        )

    def supply_outlets(self, demand_w: Mapping[str, float], dt: float, *, port_exporting: bool) -> OutletFlow:
        """Serve the outlet loads for ``dt`` s within each outlet's rating, the V2L total and the reserve."""
        v2l = self.params.v2l
        if not self.outlets_available(port_exporting=port_exporting):
            return OutletFlow(outlets_on=False, served_w={}, total_w=0.0, dc_wh=0.0, loss_wh=0.0)
        served: dict[str, float] = {}
        for outlet_id, want in demand_w.items():
            outlet = v2l.outlet(outlet_id)
            if outlet is None:
                raise ConfigError(f"{self.params.name} has no outlet {outlet_id!r}")
            served[outlet_id] = min(max(0.0, want), outlet.power_w)
        total = sum(served.values())
        scale = 1.0 if total <= v2l.max_total_power_w else v2l.max_total_power_w / total
        if dt > 0.0 and total > 0.0:
            available_ac_w = self.pack.available_above(self.settings.reserve_pct) * v2l.efficiency * 3600.0 / dt
            scale = min(scale, available_ac_w / total)
        served = {k: v * scale for k, v in served.items()}
        total = sum(served.values())
        ac_wh = total * dt / 3600.0
        dc_wh = -self.pack.apply(-ac_wh / v2l.efficiency)
        return OutletFlow(outlets_on=True, served_w=served, total_w=total, dc_wh=dc_wh, loss_wh=dc_wh - ac_wh)


@dataclass(frozen=True, slots=True, kw_only=True)
class RescuedEVParams:
    """The other EV of a V2V rescue."""

    name: str
    capacity_kwh: float
    start_soc_pct: float
    target_soc_pct: float
    charge_efficiency: float


class RescuedEV:
    """Another virtual EV charged from the truck's outlet through the mobile connector."""

    def __init__(self, params: RescuedEVParams) -> None:
        self.params = params
        self.pack = Battery(capacity_wh=params.capacity_kwh * 1000.0, soc_pct=params.start_soc_pct)

    def demand_w(self, cap_w: float, dt: float) -> float:
        """AC power it draws now (0 once at its target), at most ``cap_w``."""
        room_ac_wh = self.pack.headroom_to(self.params.target_soc_pct) / self.params.charge_efficiency
        if room_ac_wh <= _EPS_WH:
            return 0.0
        return min(cap_w, room_ac_wh * 3600.0 / dt) if dt > 0.0 else cap_w

    def receive(self, ac_w: float, dt: float) -> float:
        """Charge with ``ac_w`` for ``dt`` seconds; returns the DC energy stored (Wh)."""
        return self.pack.apply(ac_w * dt / 3600.0 * self.params.charge_efficiency)
