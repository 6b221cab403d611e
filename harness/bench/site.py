"""The home's electrical bus for one interval: who supplies what, on the grid or in an island.

Owns :func:`dispatch`, which bounds the truck's port power by what the bus can physically carry and
decides the Powerwall's flow, the home's served power and the solar actually used:

* **grid energised**: the grid balances everything; the Powerwall soaks up solar surplus;
* **dark** (grid gone, gateway not yet transferred, or no source able to form an island): nothing flows;
* **island formed by the Powerwall** (it has energy): the truck may charge only from what solar plus the
  Powerwall can spare after the home; the Powerwall covers the deficit or absorbs the surplus (the rest
  of the solar is curtailed);
* **island formed by the truck** (plugged, V2H offered, above its reserve): it supplies at most the
  commanded discharge and never more than the home draws; a shortfall goes unserved.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.bench.powerwall import Powerwall

__all__ = ["IslandFlows", "dispatch"]


@dataclass(frozen=True, slots=True, kw_only=True)
class IslandFlows:
    """The bus's flows for one interval (signs: port and Powerwall positive = into the store)."""

    grid_energised: bool
    home_powered: bool
    port_w: float
    pw_w: float
    home_served_w: float
    solar_used_w: float


_DARK = IslandFlows(grid_energised=False, home_powered=False, port_w=0.0, pw_w=0.0, home_served_w=0.0, solar_used_w=0.0)


def dispatch(
    *,
    grid_energised: bool,
    islanded: bool,
    truck_can_form: bool,
    port_w: float,
    home_w: float,
    solar_w: float,
    powerwall: Powerwall | None,
    dt: float,
) -> IslandFlows:
    """Balance the home bus for one interval of ``dt`` seconds."""
    if grid_energised:
        pw_w = 0.0
        if powerwall is not None and solar_w > home_w:
            pw_w = min(solar_w - home_w, powerwall.max_charge_w(dt))
        return IslandFlows(
            grid_energised=True,
            home_powered=True,
            port_w=port_w,
            pw_w=pw_w,
            home_served_w=home_w,
            solar_used_w=solar_w,
        )
    if not islanded:
        return _DARK
    if powerwall is not None and powerwall.max_discharge_w(dt) > 0.0:
        return _powerwall_island(port_w, home_w, solar_w, powerwall, dt)
    if truck_can_form:
        return _truck_island(port_w, home_w, solar_w)
    return _DARK


def _powerwall_island(port_w: float, home_w: float, solar_w: float, pw: Powerwall, dt: float) -> IslandFlows:
    dis_cap = pw.max_discharge_w(dt)
    if port_w > 0.0:
        port_w = min(port_w, max(0.0, solar_w + dis_cap - home_w))
    net = home_w + port_w - solar_w
    if net > 0.0:
        pw_w = -min(net, dis_cap)
        unserved = net + pw_w
        return IslandFlows(
            grid_energised=False,
            home_powered=True,
            port_w=port_w,
            pw_w=pw_w,
            home_served_w=home_w - unserved,
            solar_used_w=solar_w,
        )
    pw_w = min(-net, pw.max_charge_w(dt))
    curtailed = -net - pw_w
    return IslandFlows(
        grid_energised=False,
        home_powered=True,
        port_w=port_w,
        pw_w=pw_w,
        home_served_w=home_w,
        solar_used_w=solar_w - curtailed,
    )


def _truck_island(port_w: float, home_w: float, solar_w: float) -> IslandFlows:
    deficit = max(0.0, home_w - solar_w)
    if port_w < 0.0:
        port_w = -min(-port_w, deficit)
    else:  # the truck holds the island but was not asked to supply: it may only charge from surplus solar
        port_w = min(port_w, max(0.0, solar_w - home_w))
    supplied = max(0.0, -port_w)
    served = min(home_w, solar_w + supplied)
    solar_used = served - supplied + max(0.0, port_w)
    return IslandFlows(
        grid_energised=False,
        home_powered=True,
        port_w=port_w,
        pw_w=0.0,
        home_served_w=served,
        solar_used_w=solar_used,
    )
