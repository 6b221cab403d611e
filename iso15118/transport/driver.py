"""Run a sans-I/O :class:`~iso15118.session.connection.Connection` over a :class:`~iso15118.transport.link.Link`.

The :class:`Pump` moves bytes between the link and the core, maps the core's next deadline onto the
event loop, and hands every event to the application (the SECC or EVCC driver) and to observers
(traces, journals). Time comes from an injectable clock (POSIX seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from iso15118.decisions import Summary
from iso15118.session.connection import Connection
from iso15118.session.events import (
    CloseRequested,
    EndReason,
    Event,
    MessageSent,
    SchemaDeviationTolerated,
    SessionEnded,
)
from iso15118.session.profile import Stream
from iso15118.transport.link import Link, LinkClosed

if TYPE_CHECKING:
    from iso15118.transport.negotiation import Negotiation

__all__ = ["Clock", "EventWatcher", "Observer", "Pump", "RecordWriter", "SessionOutcome", "outcome_of"]

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class EventWatcher(Protocol):
    """Something that watches a session's events asynchronously (a UI, a test recorder)."""

    async def observe(self, event: Event, *, role: str, peer: str) -> None:
        """Called for every event, in order."""
        ...


@runtime_checkable
class RecordWriter(Protocol):
    """Something that records a session's events synchronously (:mod:`iso15118.records`: journal, trace).

    ``blocking``: its writes wait for the disk (``fsync``), so the pump calls it from a worker thread.
    """

    @property
    def blocking(self) -> bool:
        """True when :meth:`write` waits for the disk."""
        ...

    def write(self, event: Event, *, role: str, peer: str) -> None:
        """Called for every event, in order; raising aborts the session's send (nothing unrecorded leaves)."""
        ...


Observer = EventWatcher | RecordWriter
"""An observer of a session: an async watcher or a record writer."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionOutcome:
    """How a session went: its end, what was negotiated, and the meter readings it saw."""

    ended: SessionEnded
    session_id: bytes
    negotiated: dict[str, Any] = field(default_factory=dict)
    """protocol namespace, service id, control mode, authorization, BPT channel, parameter set..."""
    meter_readings: tuple[dict[str, Any], ...] = ()
    loops: int = 0
    """Charge-loop exchanges completed."""
    failure: str | None = None
    """Why the session did not do what was asked (a refused authorization, a service the charger does not
    offer...) even though it ended regularly; None when it did."""
    substitutions: tuple[str, ...] = ()
    """What the peer gave instead of what was asked, accepted with ``accept_fallback``."""
    notes: tuple[str, ...] = ()
    interrupted: str | None = None
    """Set when the user stopped the session (SIGINT/SIGTERM): why."""
    negotiation: Negotiation | None = None
    """How SupportedAppProtocol went: offered, not offered or not selectable and why, chosen, the deviation it
    needs and why ISO 15118-20 was not chosen (``downgrade``); None when no SupportedAppProtocol exchange ran."""
    quirks: tuple[str, ...] = ()
    """The peer quirks tolerant mode accepted in this session, one line each (:mod:`iso15118.quirks`)."""

    @property
    def ended_regularly(self) -> bool:
        """True for a regular end (Terminate or Pause)."""
        return self.ended.reason in (EndReason.TERMINATED, EndReason.PAUSED)

    @property
    def ok(self) -> bool:
        """True when the session ended regularly and did what was asked."""
        return self.ended_regularly and self.failure is None and self.interrupted is None


class Pump:
    """The event loop side of one session."""

    def __init__(
        self,
        conn: Connection,
        link: Link,
        *,
        clock: Clock = time.time,
        observers: Sequence[Observer] = (),
    ) -> None:
        self.conn = conn
        self.link = link
        self.clock = clock
        self.observers = list(observers)
        self._close_now = False
        self._handle: Callable[[Event], Awaitable[None]] | None = None
        self._abort: str | None = None
        self._woken = asyncio.Event()

    def abort(self, why: str) -> None:
        """End the session now from this side (the operator's stop was not followed in time): the pump ends it
        in the core -- observers and the journal see a SessionEnded(aborted) -- and closes the link."""
        self._abort = self._abort or why
        self._woken.set()

    async def emit(self, events: list[Event]) -> None:
        """Give events to the observers (and note a due close)."""
        role, peer = str(self.conn.role), self.link.peer
        for ev in events:
            if isinstance(ev, SchemaDeviationTolerated):  # tolerant mode's deviation "schema-deviations"
                where = "/" + "/".join(ev.path)
                log.warning(
                    "%s %s: tolerated schema deviation at bit %d, %s: %s",
                    role.upper(),
                    peer,
                    ev.bit_offset,
                    where,
                    ev.what,
                )
            for obs in self.observers:
                if isinstance(obs, RecordWriter):
                    if obs.blocking:
                        await asyncio.to_thread(obs.write, ev, role=role, peer=peer)
                    else:
                        obs.write(ev, role=role, peer=peer)
                else:
                    await obs.observe(ev, role=role, peer=peer)
            if isinstance(ev, CloseRequested) and ev.close_at <= ev.at:
                self._close_now = True

    async def send(self, message: Any, *, stream: Stream = Stream.MAIN) -> None:
        """Send a message through the core and flush it to the link.

        Observers see the message before its bytes leave (a journal makes a meter reading durable first); if an
        observer fails, the bytes are dropped, not sent. Lifecycle events the send produced (session
        established or ended, performance times) then go to the application's handler too.
        """
        events = self.conn.send(message, self.clock(), stream=stream)
        try:
            await self.emit(events)
        except BaseException:
            self.conn.data_to_send()  # never send what an observer could not record
            raise
        await self.flush()
        if self._handle is not None:
            for ev in events:
                if not isinstance(ev, MessageSent):
                    await self._handle(ev)

    async def flush(self) -> None:
        """Write whatever the core queued."""
        data = self.conn.data_to_send()
        if data:
            with contextlib.suppress(LinkClosed):
                await self.link.send(data)

    async def run(
        self,
        handle: Callable[[Event], Awaitable[None]],
        *,
        start: Callable[[], Awaitable[None]] | None = None,
        wake_at: Callable[[], float | None] | None = None,
        on_wake: Callable[[float], Awaitable[None]] | None = None,
    ) -> SessionEnded:
        """Pump until the session has ended and the connection is to be closed; returns how it ended.

        ``wake_at``/``on_wake``: the application's own deadline (the EVCC's next scheduled request), waited for
        beside the core's.
        """
        receiving: asyncio.Task[bytes] | None = None
        woken: asyncio.Task[Literal[True]] | None = None  # done once abort() was called
        self._handle = handle
        failed = False
        try:
            if start is not None:
                await start()
            while True:
                await self.flush()
                ended = self.conn.ended
                if ended is not None and self._close_now:
                    break
                deadline = self.conn.next_deadline()
                app = wake_at() if wake_at is not None and ended is None else None
                soonest = min((d for d in (deadline, app) if d is not None), default=None)
                timeout = None if soonest is None else max(0.0, soonest - self.clock())
                if receiving is None:
                    receiving = asyncio.ensure_future(self.link.receive())
                if woken is None:
                    woken = asyncio.ensure_future(self._woken.wait())
                waits: set[asyncio.Task[Any]] = {receiving, woken}
                done, _ = await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                now = self.clock()
                if woken in done:
                    self._close_now = True  # an ended session waiting to close closes now too
                    if ended is None:
                        events = self.conn.abort(now, self._abort or "aborted")
                        await self.emit(events)
                        for ev in events:
                            await handle(ev)
                    continue
                app_due = receiving not in done and app is not None and on_wake is not None and now >= app
                # The core's own expired deadline comes first, unless the application's is earlier.
                if (
                    app_due
                    and on_wake is not None
                    and app is not None
                    and (deadline is None or app <= deadline or now < deadline)
                ):
                    await on_wake(now)
                    continue
                if receiving in done:
                    data = receiving.result()
                    receiving = None
                    if not data:
                        events = self.conn.connection_lost(now)
                        self._close_now = True
                    else:
                        events = self.conn.receive_data(data, now)
                else:
                    events = self.conn.handle_timeout(now)
                await self.emit(events)
                for ev in events:
                    await handle(ev)
        except BaseException:
            failed = True
            raise
        finally:
            for waiting in (receiving, woken):
                if waiting is not None:
                    waiting.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await waiting
            if failed:
                self.conn.data_to_send()  # an observer or the application failed: send nothing unrecorded
            else:
                await self.flush()
            await self.link.close()
            self._handle = None  # a bound method of the application: no cycle outlives the session
        ended = self.conn.ended
        assert ended is not None
        return ended


def outcome_of(
    conn: Connection,
    ended: SessionEnded,
    summary: Summary,
    interrupted: str | None = None,
    negotiation: Negotiation | None = None,
    quirks: Sequence[str] = (),
    refused: str | None = None,
) -> SessionOutcome:
    """The outcome of a session that ended: the decisions' summary, what the core negotiated, and the runner's
    own records (the SupportedAppProtocol negotiation, peer quirks accepted, a request refused)."""
    negotiated = dict(summary.negotiated)
    namespace = conn.negotiated_namespace
    if namespace is not None:
        negotiated["protocol"] = namespace
        # A printable name beside the namespace (``DIN 70121``, ``ISO 15118-20``) for summary lines.
        negotiated["protocol_name"] = conn.config.profiles[namespace].name
    return SessionOutcome(
        ended=ended,
        session_id=conn.session_id,
        negotiated=negotiated,
        meter_readings=summary.meter,
        loops=summary.loops,
        failure=summary.failure or refused,
        substitutions=summary.substitutions,
        notes=summary.notes,
        interrupted=interrupted,
        negotiation=negotiation,
        quirks=tuple(quirks),
    )
