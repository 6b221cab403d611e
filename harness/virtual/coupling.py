"""The accelerated clock between the protocol and the physics: one bench step per charge-loop exchange.

Owns :class:`Stepping` (how far the physics moves per exchange, and how fast in real time) and
:class:`Coupling`, the one object both virtual devices share. The protocol runs on the real clock (its
timers must hold); the bench runs on simulated time, and only the coupling moves it: the truck calls
:meth:`Coupling.advance` once per AC_ChargeLoopRes with the power it settled on, and the runner calls
:meth:`Coupling.idle` while no session runs (the port then carries 0 W).

On a DC charger the DC steps around the loop take simulated time too: each DC_CableCheck, DC_PreCharge and
DC_WeldingDetection exchange moves the bench by the scenario's ``dc_step_s`` (:meth:`Coupling.advance_dc_step`),
so the insulation test, the precharge ramp and the bleed-down have durations of their own; the loop's steps end
:func:`~harness.bench.dcrun.dc_shutdown_s` before the scenario's end, so the truck's stop still fits.

Step sizes come from :meth:`~harness.bench.bench.Bench.suggest_dt`: ``coarse_dt_s`` in steady state,
``fine_dt_s`` for ``fine_window_s`` after a grid change (so the sub-second transfer is resolved by
sub-second protocol exchanges), never past an instant where something changes. With ``speed`` set, each
step is also paced to take ``dt / speed`` real seconds, and the coarse step shrinks so that a paced
exchange never waits longer than :data:`MAX_PACE_S`.

The coupling also knows whether the wall connector has power. It hangs on the home's panel, so it rides
through a dark bus for ``ride_through_s`` (the gateway's promised transfer time), is off after that, and
is on again once the bus has voltage (at the latest when the gateway puts the home back on a live grid);
fed from the truck's own outlet (the loop myth) it has power while that outlet feeds it. A DC charger is not on
the home's panel: it always has power (DC scenarios have no outages). A new session is
*due* when the truck is plugged in, the connector has power, and no session ran since it last came on.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from harness.bench import Bench, Plug
from harness.bench.dcparams import load_dc_rules
from harness.bench.dcrun import dc_shutdown_s
from iso15118.errors import ConfigError

__all__ = ["DEFAULT_COARSE_DT_S", "MAX_PACE_S", "Coupling", "Stepping"]

DEFAULT_COARSE_DT_S: Final = 300.0
"""Simulated seconds per charge-loop exchange in steady state (a 4-day outage: ~1,200 exchanges), unless the
scenario's ``[run] loop_dt_s`` or the caller says otherwise."""

MAX_PACE_S: Final = 0.2
"""Longest real pause a paced exchange may add: below the EVCC's 0.25 s sequence performance time in the AC
charge loop, and well below the SECC's 0.5 s sequence timeout after AC_ChargeLoopRes [V2G20-1499/1500]."""

_END_EPS: Final = 1e-9


@dataclass(frozen=True, slots=True, kw_only=True)
class Stepping:
    """How the physics advances: step sizes in simulated seconds, and an optional real-time pace.

    ``coarse_dt_s`` defaults to the scenario's ``[run] loop_dt_s``, else :data:`DEFAULT_COARSE_DT_S`;
    ``fine_dt_s`` / ``fine_window_s`` default to the scenario's ``[run]`` values. ``speed`` is the most
    simulated seconds per real second (None: as fast as the protocol exchanges go).
    """

    coarse_dt_s: float | None = None
    fine_dt_s: float | None = None
    fine_window_s: float | None = None
    speed: float | None = None

    def __post_init__(self) -> None:
        for name in ("coarse_dt_s", "fine_dt_s", "speed"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0.0):
                raise ConfigError(f"{name.removesuffix('_s').replace('_', ' ')} must be a number > 0, got {value!r}")
        if self.fine_window_s is not None and not (math.isfinite(self.fine_window_s) and self.fine_window_s >= 0.0):
            raise ConfigError(f"fine window must be a number >= 0, got {self.fine_window_s!r}")

    def coarse_for(self, default: float = DEFAULT_COARSE_DT_S) -> float:
        """The coarse step actually used (``default`` unless set): shrunk so a paced exchange waits at most
        :data:`MAX_PACE_S`."""
        coarse = self.coarse_dt_s if self.coarse_dt_s is not None else default
        if self.speed is None:
            return coarse
        return min(coarse, self.speed * MAX_PACE_S)


class Coupling:
    """The shared simulated clock of one scenario run (single event loop; not thread-safe)."""

    def __init__(
        self,
        bench: Bench,
        stepping: Stepping | None = None,
        *,
        ride_through_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_step: Callable[[Coupling], None] | None = None,
    ) -> None:
        self.bench = bench
        self.stepping = stepping or Stepping()
        run = bench.scenario.run
        self.coarse_dt_s = self.stepping.coarse_for(run.loop_dt_s or DEFAULT_COARSE_DT_S)
        fine = self.stepping.fine_dt_s if self.stepping.fine_dt_s is not None else run.fine_dt_s
        self.fine_dt_s = min(self.coarse_dt_s, fine)
        self.fine_window_s = (
            self.stepping.fine_window_s if self.stepping.fine_window_s is not None else run.fine_window_s
        )
        gateway = bench.scenario.wall_connector.gateway
        self.ride_through_s = gateway.max_transfer_s if ride_through_s is None else ride_through_s
        self._clock = clock
        self._sleep = sleep
        self._on_step = on_step
        self.settle: Callable[[], Awaitable[object]] | None = None
        """Awaited before every step (with a CSMS: until the station's messages are delivered), if set."""
        self._pace_mark: float | None = None
        self._seen = 0
        self._dark_since: float | None = None
        self._armed = True
        self.last_port_w = 0.0
        """AC power through the port during the last step (what actually flowed, W)."""
        self.last_dc_w = 0.0
        """DC power into the truck at the inlet during the last step (W)."""
        self.protocol_steps = 0
        """Steps driven by charge-loop exchanges."""
        self.dc_steps = 0
        """Steps driven by the DC exchanges around the loop (cable check, precharge, welding detection)."""
        self.idle_steps = 0
        """Steps taken while no session ran."""
        self.dc_step_s = run.dc_step_s
        """Simulated seconds per DC exchange around the loop."""
        self.dc_stop_at: float | None = None
        """On a DC charger: the loop's steps end here, leaving time for the stop and the welding detection."""
        charger, dc = bench.scenario.dc_charger, bench.scenario.vehicle.dc
        if charger is not None and dc is not None:
            self.dc_stop_at = self.end - dc_shutdown_s(charger, dc, load_dc_rules(), self.dc_step_s)

    # -- time -----------------------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """Simulated seconds since the scenario's start."""
        return self.bench.now

    @property
    def end(self) -> float:
        """The scenario's duration (s)."""
        return self.bench.scenario.duration_s

    @property
    def done(self) -> bool:
        """True once the scenario's end is reached."""
        return self.bench.now >= self.end - _END_EPS

    def next_dt(self) -> float:
        """The length of the next step (s): coarse, fine after a grid change, never past a change or the end."""
        now = self.bench.now
        step = self.bench.suggest_dt(now, self.coarse_dt_s, self.fine_dt_s, self.fine_window_s)
        return min(step, self.end - now)

    async def advance(self, port_w: float, *, dt: float | None = None) -> float:
        """One exchange's step: the bench moves by ``dt`` (default :meth:`next_dt`) with ``port_w`` at the port.

        ``port_w`` must already be what the truck accepts. Returns the power that actually flowed at the
        end of the step (physics may bound it: no power through a dead connector, an island only takes
        its loads). Paces the step when a speed is set.
        """
        if self.done:
            return self.last_port_w
        self.protocol_steps += 1
        return await self._step(port_w, dt)

    def next_loop_dt(self) -> float:
        """The length of the next charge-loop step: :meth:`next_dt`, ending at :attr:`dc_stop_at` on DC."""
        step = self.next_dt()
        if self.dc_stop_at is not None:
            step = min(step, max(0.0, self.dc_stop_at - self.bench.now))
        return step

    @property
    def loop_over(self) -> bool:
        """True once the charge loop must end: the scenario's end, or on DC the time kept for the stop."""
        if self.dc_stop_at is not None:
            return self.done or self.bench.now >= self.dc_stop_at - _END_EPS
        return self.done

    async def advance_dc_step(self) -> None:
        """One DC exchange around the loop: the bench moves by ``dc_step_s`` (the charger's output acts)."""
        if self.done:
            return
        self.dc_steps += 1
        await self._step(0.0, min(self.dc_step_s, self.end - self.bench.now))

    async def idle(self) -> None:
        """One step without a session: the port carries 0 W (samples still carry the policy's reason)."""
        if self.done:
            return
        self.bench.refresh_decision(self.bench.now)  # keeps the samples' reason current; nothing is commanded
        self.idle_steps += 1
        await self._step(0.0, None)

    async def _step(self, port_w: float, dt: float | None) -> float:
        if self.settle is not None:
            await self.settle()
        step = self.next_dt() if dt is None else dt
        was_powered = self.connector_powered()
        self.bench.step(self.bench.now, step, port_w)
        self._observe_samples()
        if not was_powered and self.connector_powered():
            self._armed = True  # the connector came (back) on: it boots, and a new session may start
        await self._pace(step)
        if self._on_step is not None:
            self._on_step(self)
        return self.last_port_w

    async def _pace(self, step: float) -> None:
        speed = self.stepping.speed
        now = self._clock()
        if speed is not None and self._pace_mark is not None:
            wait = step / speed - (now - self._pace_mark)
            if wait > 0.0:
                await self._sleep(min(wait, MAX_PACE_S))
                now = self._clock()
        self._pace_mark = now

    # -- the wall connector's supply and the session trigger -------------------------------------------

    def _observe_samples(self) -> None:
        samples = self.bench.trace.samples
        for sample in samples[self._seen :]:
            if sample.home_powered:
                self._dark_since = None
            elif self._dark_since is None:
                self._dark_since = sample.t
            self.last_port_w = sample.port_w
            self.last_dc_w = sample.dc.inlet_w if sample.dc is not None else 0.0
        self._seen = len(samples)

    @property
    def plugged(self) -> bool:
        """True when the truck's charge port is connected to the wall connector (or to its own outlet, or to the
        DC charger)."""
        return self.bench.vehicle.settings.plug in (Plug.WALL_CONNECTOR, Plug.OWN_OUTLET, Plug.DC_CHARGER)

    def connector_powered(self) -> bool:
        """True while the wall connector has power (see the module docstring)."""
        scenario = self.bench.scenario
        if scenario.settings.plug is Plug.DC_CHARGER:
            return True
        if scenario.settings.plug is Plug.OWN_OUTLET:
            return scenario.loop is not None and scenario.loop.window.contains(self.bench.now)
        if self._dark_since is None or self.bench.now - self._dark_since < self.ride_through_s:
            return True
        # The gateway has just put the home back on a live grid: the bus is energised from this instant on.
        return self.bench.connector.gateway.on_grid and self.bench.grid.is_up(self.bench.now)

    def dark_since(self) -> float | None:
        """When the home bus (and so the wall connector's supply) last went dark, if it is dark now."""
        return self._dark_since

    def session_due(self) -> bool:
        """True when a new session should start now."""
        return self._armed and not self.done and self.plugged and self.connector_powered()

    def session_started(self) -> None:
        """Note that a session started: the next one waits until the connector has been off and on again."""
        self._armed = False
