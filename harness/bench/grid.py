"""The utility grid: whether it is up, its outage windows, grid-support events, and the money.

Owns :class:`Grid` (state as a function of scenario time, with the instants where it changes so the
bench can step exactly there), :class:`Window` and :class:`GridEvent` (a utility's request to discharge
a given power during a window, compensated per kWh exported at the tariff's ``grid_support_per_kwh``).
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass

from harness.bench.params import TariffParams
from iso15118.errors import ConfigError

__all__ = ["Grid", "GridEvent", "Window"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """A half-open time window [start_s, end_s) in scenario seconds."""

    start_s: float
    end_s: float

    def __post_init__(self) -> None:
        if not self.end_s > self.start_s >= 0.0:
            raise ConfigError(f"window must satisfy 0 <= start < end, got [{self.start_s:g}, {self.end_s:g}) s")

    def contains(self, t: float) -> bool:
        """True when ``t`` lies in the window."""
        return self.start_s <= t < self.end_s


@dataclass(frozen=True, slots=True, kw_only=True)
class GridEvent:
    """A utility grid-support event: export ``request_w`` to the grid during ``window``."""

    window: Window
    request_w: float

    def __post_init__(self) -> None:
        if self.request_w <= 0.0:
            raise ConfigError(f"grid-support request must be > 0 W, got {self.request_w:g}")


def _check_disjoint(windows: list[Window], what: str) -> None:
    for a, b in itertools.pairwise(windows):
        if b.start_s < a.end_s:
            raise ConfigError(f"{what} windows overlap: [{a.start_s:g}, {a.end_s:g}) and [{b.start_s:g}, ...)")


class Grid:
    """The grid's state over a scenario."""

    def __init__(
        self, tariff: TariffParams, *, outages: tuple[Window, ...] = (), events: tuple[GridEvent, ...] = ()
    ) -> None:
        self.tariff = tariff
        self.outages = tuple(sorted(outages, key=lambda w: w.start_s))
        self.events = tuple(sorted(events, key=lambda e: e.window.start_s))
        _check_disjoint(list(self.outages), "outage")
        _check_disjoint([e.window for e in self.events], "grid-support event")
        self._changes = sorted(
            {w.start_s for w in self.outages}
            | {w.end_s for w in self.outages}
            | {e.window.start_s for e in self.events}
            | {e.window.end_s for e in self.events}
        )
        self._outage_changes = sorted({w.start_s for w in self.outages} | {w.end_s for w in self.outages})

    def is_up(self, t: float) -> bool:
        """True when the grid delivers power at ``t``."""
        return not any(w.contains(t) for w in self.outages)

    def event_at(self, t: float) -> GridEvent | None:
        """The grid-support event active at ``t``, if any."""
        return next((e for e in self.events if e.window.contains(t)), None)

    def next_change(self, t: float) -> float | None:
        """The first instant after ``t`` where the grid's state or an event changes."""
        i = bisect.bisect_right(self._changes, t)
        return self._changes[i] if i < len(self._changes) else None

    def last_outage_change(self, t: float) -> float | None:
        """The latest grid loss or return at or before ``t``."""
        i = bisect.bisect_right(self._outage_changes, t)
        return self._outage_changes[i - 1] if i > 0 else None
