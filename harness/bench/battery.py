"""A battery's stored energy: state of charge in Wh and %, bounded by [0, capacity].

Owns :class:`Battery`, the one mutable energy store shared by the truck's pack and the Powerwall. It knows
nothing about power electronics: callers convert AC power to DC energy with their own efficiencies and
hand it the DC energy (positive = into the cells).
"""

from __future__ import annotations

from iso15118.errors import ConfigError

__all__ = ["Battery"]


class Battery:
    """Stored DC energy of a pack; ``energy_wh`` never leaves [0, capacity_wh]."""

    __slots__ = ("_energy_wh", "capacity_wh")

    def __init__(self, *, capacity_wh: float, soc_pct: float) -> None:
        if capacity_wh <= 0.0:
            raise ConfigError(f"battery capacity must be > 0 Wh, got {capacity_wh:g}")
        if not 0.0 <= soc_pct <= 100.0:
            raise ConfigError(f"state of charge must be within [0, 100] %, got {soc_pct:g}")
        self.capacity_wh = capacity_wh
        self._energy_wh = capacity_wh * soc_pct / 100.0

    @property
    def energy_wh(self) -> float:
        """Stored energy (Wh)."""
        return self._energy_wh

    @property
    def soc_pct(self) -> float:
        """State of charge (%)."""
        return 100.0 * self._energy_wh / self.capacity_wh

    def energy_at(self, soc_pct: float) -> float:
        """Stored energy (Wh) at the given state of charge."""
        return self.capacity_wh * soc_pct / 100.0

    def headroom_to(self, soc_pct: float) -> float:
        """DC energy (Wh) that can still go in before ``soc_pct`` is reached (0 when already there)."""
        return max(0.0, self.energy_at(soc_pct) - self._energy_wh)

    def available_above(self, soc_pct: float) -> float:
        """DC energy (Wh) that can come out before the charge falls to ``soc_pct`` (0 when at or below)."""
        return max(0.0, self._energy_wh - self.energy_at(soc_pct))

    def apply(self, dc_wh: float) -> float:
        """Add (+) or remove (-) DC energy, clipped to [0, capacity]; returns what was applied."""
        new = min(self.capacity_wh, max(0.0, self._energy_wh + dc_wh))
        applied = new - self._energy_wh
        self._energy_wh = new
        return applied
