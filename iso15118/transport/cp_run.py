"""Pilot runners: :class:`~iso15118.cp.pilot.EvPilot` / :class:`~iso15118.cp.pilot.EvsePilot` over a backend.

A runner opens a backend (:mod:`iso15118.transport.cp_line`), feeds every report to the sans-I/O machine from
a reader task, and applies the machine's output with backend commands. :class:`EvPilotRunner` also watches the
session (:meth:`EvPilotRunner.observe`, an event watcher for the runner's observers): PowerDeliveryReq with
ChargeProgress Start switches to C, Stop or Standby back to B; a fault (E/F) asks the session to stop through
the handle the runner gave to ``on_start``. :class:`EvsePilotRunner` offers 5 % PWM while an EV is connected.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from iso15118.cp.duty import Offer, OfferKind
from iso15118.cp.pilot import EvPilot, EvsePilot, PilotEvent, PilotFault
from iso15118.cp.states import CpState
from iso15118.cp.wire import Command
from iso15118.session.events import Event, MessageSent
from iso15118.transport.cp_line import PilotBackend, PilotError

__all__ = ["EvPilotRunner", "EvsePilotRunner"]

_log = logging.getLogger(__name__)


class _Runner:
    def __init__(self, backend: PilotBackend, on_event: Callable[[PilotEvent], None] | None) -> None:
        self.backend = backend
        self.on_event = on_event
        self.events: list[PilotEvent] = []
        self.fault: PilotFault | None = None
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None

    async def __aenter__(self) -> Self:
        await self.backend.__aenter__()
        self._task = asyncio.create_task(self._read())
        await self.backend.send(Command(verb="GET"))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=5.0)
        await self.backend.__aexit__(exc_type, exc, tb)

    def _observe(self, now: float, state: CpState, duty: float | None) -> list[PilotEvent]:
        raise NotImplementedError

    def _on_fault(self, event: PilotFault) -> None:
        """State E or F appeared (the EV side ends its session)."""

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                report = await self.backend.next_report()
                for event in self._observe(loop.time(), report.state, report.duty):
                    self.events.append(event)
                    _log.info("pilot: %s", event)
                    if isinstance(event, PilotFault):
                        self.fault = event
                        self._on_fault(event)
                    if self.on_event is not None:
                        self.on_event(event)
                async with self._changed:
                    self._changed.notify_all()
        except PilotError as exc:
            self._failure = exc
            async with self._changed:
                self._changed.notify_all()

    async def wait_until(self, condition: Callable[[], bool], timeout: float | None, what: str) -> None:
        """Wait for ``condition`` on the machine; PilotError naming ``what`` on timeout or a broken line."""

        async def wait() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: condition() or self._failure is not None)

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise PilotError(f"pilot: {what} did not happen within {timeout:g} s") from None
        if self._failure is not None and not condition():
            raise PilotError(f"pilot: {self._failure}")


class EvPilotRunner(_Runner):
    """The EV's pilot: plug in, wait for the EVSE's offer, C/B with the session, unplug."""

    def __init__(self, backend: PilotBackend, *, on_event: Callable[[PilotEvent], None] | None = None) -> None:
        super().__init__(backend, on_event)
        self.machine = EvPilot()
        self.driven: list[CpState] = []
        self._session: Any = None
        self._stop_task: asyncio.Task[Any] | None = None

    def _observe(self, now: float, state: CpState, duty: float | None) -> list[PilotEvent]:
        self.machine.observe(now, state, duty)
        return self.machine.events()

    async def _drive(self, state: CpState) -> None:
        await self.backend.send(Command(verb="STATE", state=state))
        self.driven.append(state)

    async def plug_in(self, *, timeout: float = 10.0) -> Offer:
        """State B, then wait for the EVSE's PWM; PilotError unless it asks for high-level communication."""
        await self._drive(self.machine.plug_in())
        await self.wait_until(
            lambda: self.machine.offer.kind in (OfferKind.HLC, OfferKind.CURRENT) or self.fault is not None,
            timeout,
            "a PWM from the EVSE after plug-in (state B)",
        )
        if self.fault is not None:
            raise PilotError(f"pilot: {self.fault.meaning} after plug-in")
        if not self.machine.hlc_requested:
            raise PilotError(
                f"pilot: the EVSE offers {self.machine.offer.describe()} by PWM, not 5 % (high-level communication)"
            )
        return self.machine.offer

    async def start_charging(self) -> None:
        """State C: the EV asks for energy."""
        await self._drive(self.machine.start_charging())

    async def stop_charging(self) -> None:
        """Back to state B."""
        if self.machine.output in (CpState.C, CpState.D):
            await self._drive(self.machine.stop_charging())

    async def unplug(self) -> None:
        """State A."""
        await self._drive(self.machine.unplug())

    def bind(self, session: Any) -> None:
        """``on_start`` of the EVCC session: keep its handle to stop it when the pilot shows a fault."""
        self._session = session

    def _on_fault(self, event: PilotFault) -> None:
        if self._session is not None:
            # The session ends cleanly (SessionStop) rather than being cut: E/F means no energy.
            self._stop_task = asyncio.get_running_loop().create_task(
                self._session.request_stop(f"pilot state {event.state}: {event.meaning}")
            )

    async def observe(self, event: Event, *, role: str, peer: str) -> None:
        """Session watcher: PowerDeliveryReq Start -> C, Stop/Standby -> B."""
        if not isinstance(event, MessageSent) or type(event.message).__name__ != "PowerDeliveryReq":
            return
        progress = str(getattr(event.message, "charge_progress", ""))
        if progress == "Start" and self.fault is None:
            await self.start_charging()
        elif progress in ("Stop", "Standby"):
            await self.stop_charging()


class EvsePilotRunner(_Runner):
    """The EVSE's pilot: 5 % PWM while an EV is connected, steady +12 V when it leaves."""

    def __init__(self, backend: PilotBackend, *, on_event: Callable[[PilotEvent], None] | None = None) -> None:
        super().__init__(backend, on_event)
        self.machine = EvsePilot()

    def _observe(self, now: float, state: CpState, duty: float | None) -> list[PilotEvent]:
        self.machine.observe(now, state)
        return self.machine.events()

    async def _apply(self) -> None:
        out = self.machine.output
        if out.unavailable:
            await self.backend.send(Command(verb="STATE", state=CpState.F))
        else:
            await self.backend.send(Command(verb="PWM", duty=out.duty))

    async def serve(self) -> None:
        """Until cancelled: offer 5 % when an EV connects, stop the PWM when it leaves."""
        while True:
            await self.wait_until(lambda: self.machine.ev_connected, None, "plug-in")
            self.machine.offer_hlc()
            await self._apply()
            await self.wait_until(lambda: not self.machine.ev_connected, None, "unplug")
            self.machine.stop_pwm()
            await self._apply()

    async def offer_hlc(self) -> None:
        """5 % PWM now (the EV is to start SLAC)."""
        self.machine.offer_hlc()
        await self._apply()

    async def pulse_ef(self, duration: float) -> None:
        """The AC 5 % mode retry: state F for ``duration`` (T_step_EF), then 5 % again."""
        self.machine.unavailable()
        await self._apply()
        await asyncio.sleep(duration)
        self.machine.offer_hlc()
        await self._apply()
