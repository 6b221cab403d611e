"""The Powerwall with rooftop solar, and its outage car-charging threshold rules.

Owns :class:`Solar` (PV power over the day), :class:`Powerwall` (the home battery: power and energy
limits, efficiencies) and :func:`outage_car_allowance`, the rule the gateway applies to the truck's
charging while the home is islanded:

* above the owner's threshold the Powerwall **shares**: the car may take what solar plus the Powerwall's
  power can spare after the home load, so a high home load slows the car;
* at the threshold (within the hold band) with surplus solar it **holds**: the Powerwall stays put and the
  surplus goes to the car;
* otherwise (below the threshold, or no surplus at the threshold) the car's charging **stops**, and any
  surplus refills the Powerwall.

With the grid on, the car charges normally and none of this applies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from harness.bench.battery import Battery
from harness.bench.home import clock_hours
from harness.bench.params import PowerwallParams, SolarParams

__all__ = ["CarAllowance", "Powerwall", "PowerwallFlow", "PowerwallMode", "Solar", "outage_car_allowance"]


class PowerwallMode(StrEnum):
    """Which outage rule decided the car's charging."""

    SHARE = "share"
    HOLD = "hold"
    STOP = "stop"


@dataclass(frozen=True, slots=True, kw_only=True)
class CarAllowance:
    """How much the car may charge now during an outage, and why."""

    power_w: float
    mode: PowerwallMode


def outage_car_allowance(
    *,
    soc_pct: float,
    threshold_pct: float,
    band_pct: float,
    solar_w: float,
    home_w: float,
    pw_max_w: float,
    car_max_w: float,
) -> CarAllowance:
    """The Powerwall's outage rule for the car's charge power (W, >= 0)."""
    if soc_pct > threshold_pct + band_pct:
        spare = solar_w + pw_max_w - home_w
        return CarAllowance(power_w=min(car_max_w, max(0.0, spare)), mode=PowerwallMode.SHARE)
    if soc_pct >= threshold_pct - band_pct and solar_w > home_w:
        return CarAllowance(power_w=min(car_max_w, solar_w - home_w), mode=PowerwallMode.HOLD)
    return CarAllowance(power_w=0.0, mode=PowerwallMode.STOP)


class Solar:
    """PV output: a half-sine between sunrise and sunset, zero at night."""

    def __init__(self, params: SolarParams, *, start_hour: float = 0.0) -> None:
        self.params = params
        self.start_hour = start_hour

    def power_w(self, t: float) -> float:
        """PV power available at scenario time ``t`` (W)."""
        hour = clock_hours(t, self.start_hour) % 24.0
        p = self.params
        if not p.sunrise_h < hour < p.sunset_h:
            return 0.0
        return p.peak_w * math.sin(math.pi * (hour - p.sunrise_h) / (p.sunset_h - p.sunrise_h))


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerwallFlow:
    """What one interval did at the Powerwall (positive = into it)."""

    ac_w: float
    dc_wh: float
    loss_wh: float


class Powerwall:
    """The home battery."""

    def __init__(self, params: PowerwallParams, *, soc_pct: float, threshold_pct: float | None = None) -> None:
        self.params = params
        self.pack = Battery(capacity_wh=params.capacity_wh, soc_pct=soc_pct)
        self.threshold_pct = params.default_threshold_pct if threshold_pct is None else threshold_pct

    @property
    def soc_pct(self) -> float:
        """State of charge (%)."""
        return self.pack.soc_pct

    def max_discharge_w(self, dt: float) -> float:
        """Largest power it can deliver for ``dt`` seconds (W)."""
        energy_cap = self.pack.energy_wh * self.params.discharge_efficiency * 3600.0 / dt if dt > 0 else 0.0
        return min(self.params.max_power_w, energy_cap)

    def max_charge_w(self, dt: float) -> float:
        """Largest power it can absorb for ``dt`` seconds (W)."""
        room = self.pack.capacity_wh - self.pack.energy_wh
        energy_cap = room / self.params.charge_efficiency * 3600.0 / dt if dt > 0 else 0.0
        return min(self.params.max_power_w, energy_cap)

    def exchange(self, ac_w: float, dt: float) -> PowerwallFlow:
        """Charge (positive) or discharge (negative) with ``ac_w`` for ``dt`` seconds, within its limits."""
        if ac_w >= 0.0:
            ac_w = min(ac_w, self.max_charge_w(dt))
            dc_wh = self.pack.apply(ac_w * dt / 3600.0 * self.params.charge_efficiency)
        else:
            ac_w = max(ac_w, -self.max_discharge_w(dt))
            dc_wh = self.pack.apply(ac_w * dt / 3600.0 / self.params.discharge_efficiency)
        return PowerwallFlow(ac_w=ac_w, dc_wh=dc_wh, loss_wh=abs(ac_w * dt / 3600.0 - dc_wh))
