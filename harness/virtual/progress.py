"""A one-line progress bar for long simulations (written to stderr by ``v2g sim``).

Owns :class:`ProgressBar`, a callable the runner hands to the :class:`~harness.virtual.coupling.Coupling` as its
``on_step`` hook: it redraws at most every ``interval`` real seconds, so it costs nothing per step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from harness.virtual.coupling import Coupling

__all__ = ["ProgressBar"]


class ProgressBar:
    """Simulated time done, the truck's state of charge and the grid's state, on one line."""

    def __init__(
        self,
        stream: TextIO,
        *,
        label: str,
        width: int = 28,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._label = label
        self._width = width
        self._interval = interval
        self._clock = clock
        self._last: float | None = None
        self._shown = 0
        self.draws = 0

    def __call__(self, coupling: Coupling) -> None:
        """Redraw if ``interval`` has passed since the last redraw (or the run is complete)."""
        now = self._clock()
        if not coupling.done and self._last is not None and now - self._last < self._interval:
            return
        self._last = now
        self._draw(coupling)

    def _draw(self, coupling: Coupling) -> None:
        fraction = min(1.0, coupling.now / coupling.end) if coupling.end > 0 else 1.0
        filled = round(fraction * self._width)
        bench = coupling.bench
        grid = "grid up" if bench.grid.is_up(coupling.now) else "GRID DOWN"
        text = (
            f"{self._label} [{'#' * filled}{'.' * (self._width - filled)}] {100.0 * fraction:5.1f} %"
            f"  {coupling.now / 3600.0:6.1f}/{coupling.end / 3600.0:.1f} h  SoC {bench.vehicle.soc_pct:5.1f} %  {grid}"
        )
        self._stream.write("\r" + text.ljust(self._shown))
        self._stream.flush()
        self._shown = len(text)
        self.draws += 1

    def close(self) -> None:
        """End the line (if anything was drawn)."""
        if self.draws:
            self._stream.write("\n")
            self._stream.flush()
