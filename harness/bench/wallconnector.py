"""The Universal Wall Connector and its Powershare Gateway (outage detection and transfer timing).

Owns :class:`WallConnector` (the connector's power limit in both directions) and :class:`Gateway`, a small
table-driven state machine in the sans-I/O style: it is told what the grid does (``observe(now,
grid_up)``), exposes its next deadline, and fires its own timed transitions when ``advance(now)`` passes
them. Time is always an argument.

Theory of operation::

    CONNECTED --grid lost--> DETECTING --detection_s--> SWITCHING --switch_s--> ISLANDED
        ^                      |grid back (a blip)                                |grid back
        +----------------------+                                                  v
        +<--------------------------------reconnect_delay_s-------------------- RESYNC
                                                                  (grid lost again: back to ISLANDED)

The home is dark in DETECTING and SWITCHING (grid gone, backup not yet connected); the transfer time of an
outage is ``islanded_at - grid_lost_at`` and the data promise it is below ``max_transfer_s`` (1 s).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from harness.bench.params import GatewayParams, WallConnectorParams

__all__ = ["Gateway", "GatewayState", "OutageRecord", "WallConnector"]

_TIME_EPS = 1e-9  # deadlines this close to "now" are due (floating-point sums of step lengths)


class GatewayState(StrEnum):
    """Where the home is connected."""

    CONNECTED = "connected"  # home on the grid
    DETECTING = "detecting"  # grid gone, not yet noticed: home dark
    SWITCHING = "switching"  # outage noticed, contactor opening: home dark
    ISLANDED = "islanded"  # home on the backup source (truck or Powerwall)
    RESYNC = "resync"  # grid back, waiting before the home returns to it (still islanded)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutageRecord:
    """One grid loss as the gateway saw it (times in scenario seconds; None = not (yet) happened)."""

    grid_lost_at: float
    detected_at: float | None
    islanded_at: float | None
    grid_back_at: float | None
    reconnected_at: float | None

    @property
    def transfer_s(self) -> float | None:
        """Time from grid loss until the home was handed to the backup source."""
        return None if self.islanded_at is None else self.islanded_at - self.grid_lost_at


@dataclass(slots=True)
class _Outage:
    grid_lost_at: float
    detected_at: float | None = None
    islanded_at: float | None = None
    grid_back_at: float | None = None
    reconnected_at: float | None = None


class Gateway:
    """The Powershare Gateway's state machine."""

    def __init__(self, params: GatewayParams) -> None:
        self.params = params
        self.state = GatewayState.CONNECTED
        self._deadline: float | None = None
        self._grid_up = True
        self._records: list[_Outage] = []

    @property
    def islanded(self) -> bool:
        """True when the home is cut from the grid and served by the backup source."""
        return self.state in (GatewayState.ISLANDED, GatewayState.RESYNC)

    @property
    def on_grid(self) -> bool:
        """True when the home is connected to the grid (which may be dead, in DETECTING)."""
        return self.state in (GatewayState.CONNECTED, GatewayState.DETECTING)

    def next_deadline(self) -> float | None:
        """When the next timed transition fires, if one is pending."""
        return self._deadline

    def advance(self, now: float) -> None:
        """Fire every timed transition due at or before ``now`` (each at its own deadline)."""
        while self._deadline is not None and self._deadline <= now + _TIME_EPS:
            at, self._deadline = self._deadline, None
            self._on_deadline(at)

    def observe(self, now: float, grid_up: bool) -> None:
        """Tell the gateway the grid's state at ``now`` (fires due deadlines first)."""
        self.advance(now)
        if grid_up == self._grid_up:
            return
        self._grid_up = grid_up
        if not grid_up:
            if self.state is GatewayState.CONNECTED:
                self._records.append(_Outage(grid_lost_at=now))
                self._go(GatewayState.DETECTING, now + self.params.detection_s)
            elif self.state is GatewayState.RESYNC:
                self._current().grid_back_at = None
                self._go(GatewayState.ISLANDED, None)
            self.advance(now)
            return
        self._current().grid_back_at = now
        if self.state is GatewayState.DETECTING:  # a blip shorter than the detection time
            self._current().reconnected_at = now
            self._go(GatewayState.CONNECTED, None)
        elif self.state is GatewayState.ISLANDED:
            self._go(GatewayState.RESYNC, now + self.params.reconnect_delay_s)
        self.advance(now)

    def _on_deadline(self, at: float) -> None:
        record = self._current()
        if self.state is GatewayState.DETECTING:
            record.detected_at = at
            self._go(GatewayState.SWITCHING, at + self.params.switch_s)
        elif self.state is GatewayState.SWITCHING:
            record.islanded_at = at
            if self._grid_up:
                self._go(GatewayState.RESYNC, at + self.params.reconnect_delay_s)
            else:
                self._go(GatewayState.ISLANDED, None)
        elif self.state is GatewayState.RESYNC:
            record.reconnected_at = at
            self._go(GatewayState.CONNECTED, None)

    def _go(self, state: GatewayState, deadline: float | None) -> None:
        self.state = state
        self._deadline = deadline

    def _current(self) -> _Outage:
        return self._records[-1]

    def outages(self) -> tuple[OutageRecord, ...]:
        """Every grid loss seen so far, in order."""
        return tuple(
            OutageRecord(
                grid_lost_at=r.grid_lost_at,
                detected_at=r.detected_at,
                islanded_at=r.islanded_at,
                grid_back_at=r.grid_back_at,
                reconnected_at=r.reconnected_at,
            )
            for r in self._records
        )


class WallConnector:
    """The wall connector: one power limit for both directions, plus the gateway."""

    def __init__(self, params: WallConnectorParams) -> None:
        self.params = params
        self.gateway = Gateway(params.gateway)

    @property
    def max_charge_w(self) -> float:
        """Largest power towards the truck (W)."""
        return self.params.max_power_w

    @property
    def max_discharge_w(self) -> float:
        """Largest power from the truck (W, magnitude); 0 for a connector that is not bidirectional."""
        return self.params.max_power_w if self.params.bidirectional else 0.0

    def clamp(self, power_w: float) -> float:
        """Bound a power to the connector's limits."""
        return max(-self.max_discharge_w, min(self.max_charge_w, power_w))
