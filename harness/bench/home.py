"""The home's electrical load: a daily profile of hourly powers, deterministic or with seeded noise.

Owns :class:`HomeLoad`. Power is constant within each clock hour, so the load changes only at hour
boundaries (the bench steps there exactly) and every day uses exactly ``daily_kwh``, noise or not.
Scenario time ``t`` (s) maps to local clock time through ``start_hour`` (the local hour at ``t = 0``).
"""

from __future__ import annotations

import math
import random

from harness.bench.params import HomeParams

__all__ = ["HomeLoad", "clock_hours"]


def clock_hours(t: float, start_hour: float) -> float:
    """Hours since local midnight of day 0 at scenario time ``t``."""
    return start_hour + t / 3600.0


class HomeLoad:
    """Home power demand (W) as a function of scenario time."""

    def __init__(self, params: HomeParams, *, start_hour: float = 0.0) -> None:
        self.params = params
        self.start_hour = start_hour
        total = sum(params.hourly_weights)
        self._shape = tuple(w / total for w in params.hourly_weights)
        self._days: dict[int, tuple[float, ...]] = {}

    def _day_powers(self, day: int) -> tuple[float, ...]:
        cached = self._days.get(day)
        if cached is not None:
            return cached
        weights = self._shape
        if self.params.noise > 0.0:
            rng = random.Random(f"home:{self.params.seed}:{day}")
            noisy = [w * (1.0 + self.params.noise * rng.uniform(-1.0, 1.0)) for w in weights]
            total = sum(noisy)
            weights = tuple(w / total for w in noisy)
        powers = tuple(self.params.daily_kwh * 1000.0 * w for w in weights)  # Wh in that hour = W over 1 h
        self._days[day] = powers
        return powers

    def power_w(self, t: float) -> float:
        """Demand at scenario time ``t`` (W)."""
        hours = clock_hours(t, self.start_hour)
        day = math.floor(hours / 24.0)
        hour = min(23, math.floor(hours - 24.0 * day))
        return self._day_powers(day)[hour]

    def next_change(self, t: float) -> float:
        """The next hour boundary strictly after ``t`` (scenario seconds)."""
        hours = clock_hours(t, self.start_hour)
        boundary = math.floor(hours + 1e-9) + 1.0
        return (boundary - self.start_hour) * 3600.0

    def energy_wh(self, t0: float, t1: float) -> float:
        """Energy demanded between ``t0`` and ``t1`` (Wh), integrated exactly over the hourly steps."""
        total, t = 0.0, t0
        while t < t1:
            nxt = min(t1, self.next_change(t))
            total += self.power_w(t) * (nxt - t) / 3600.0
            t = nxt
        return total
