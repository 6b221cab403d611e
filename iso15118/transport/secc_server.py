"""The SECC runtime: a TCP/TLS server that serves every EV connection as one session, plus SDP.

:class:`SeccServer` listens on one IPv6 address (an interface's link-local address with its scope id, or
``::``/``::1`` for tests) and, on one port, serves ISO 15118-20 over TLS 1.3 (the policy's ``tls``), ISO 15118-2
over TLS 1.2 (``tls_iso2``) and DIN 70121 / -2 over plain TCP (when it speaks one of them): it reads each
connection's ClientHello first and picks the TLS identity from the versions it offers
(:mod:`iso15118.transport.tlspeek`), runs the handshake, checks the peer's certificate
(:func:`~iso15118.security.tls.check_peer`) and serves the session with
:func:`~iso15118.transport.runner.serve_secc_session`, which selects in SupportedAppProtocol only what the
connection's transport is valid for (:mod:`iso15118.transport.negotiation`). Sessions run concurrently and share one
:class:`~iso15118.transport.store.SessionStore`, so a paused session can be resumed on a later connection. A
failed handshake is logged with its reason and closed; the server goes on. Every connection ends in a
:class:`ConnectionReport`, handed to ``on_report`` and to :meth:`SeccServer.next_report` (which keeps at
most ``report_backlog`` reports nobody has asked for yet).

Resources per connection are bounded before authentication: at most ``max_handshakes`` TLS handshakes are
in progress at once, each within ``handshake_timeout_s``; up to ``handshake_backlog`` more connections wait
for a place, each at most ``handshake_wait_s``; a connection beyond that is closed at once, before any TLS
state exists for it. The CPU-bound steps of the handshakes (OpenSSL releases the GIL in them) run in
``handshake_threads`` threads, so that the event loop keeps serving the running sessions while a flood of
handshakes is processed. Nothing of a connection is kept after it closed: its TLS state is freed when it
closes, and reports hold errors without tracebacks (whose frames would hold the connection). Log lines about
connections are rate-limited per peer address (:mod:`iso15118.transport.peerlog`).

With ``sdp=True`` an :class:`~iso15118.transport.udp.SdpServer` on the interface announces the port and
the security: what the EV asked for when the server offers it (TLS when it has a TLS identity, none when it
serves plain TCP), else the one it offers. In tolerant mode with the ``fixed-tcp-port`` quirk it also listens on
port 15118 for EVs that ignore the SDP response's port (:mod:`iso15118.quirks`). Use
``async with SeccServer(...)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from iso15118.certificates import CertificateProvider
from iso15118.config import SeccConfig
from iso15118.constants import SDP_SERVER_PORT, SdpSecurity
from iso15118.controller import EVSEController
from iso15118.errors import ConfigError, SecurityError
from iso15118.profiles import Pnc
from iso15118.quirks import FIXED_TCP_PORT, Quirk, accepted_line
from iso15118.session.connection import Role, SessionConfig
from iso15118.transport.acceptor import Acceptor
from iso15118.transport.driver import Clock, Observer
from iso15118.transport.generations import transport_of
from iso15118.transport.handshakes import HandshakeGate
from iso15118.transport.negotiation import ConnectionTerms
from iso15118.transport.peerlog import PeerLog, PeerRateLimiter
from iso15118.transport.policy import TransportPolicy
from iso15118.transport.reports import ConnectionReport, ReportCallback, describe_report, detached
from iso15118.transport.runner import peer_identity, serve_secc_session
from iso15118.transport.store import SessionStore
from iso15118.transport.tcp import Endpoint, make_endpoint, open_listener, peer_name
from iso15118.transport.udp import SdpServer, usable_link_local

__all__ = ["ConnectionReport", "SeccServer", "SeccServerConfig", "describe_report"]

log = logging.getLogger(__name__)

_ABORT_GRACE_S: Final = 2.0
"""How long aborted sessions get to write their end and close before their tasks are cancelled."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SeccServerConfig:
    """Where and how the SECC listens, and how much an unauthenticated connection may cost it.

    ``listen``: an IPv6 address (``ADDR`` or ``ADDR%IF``); default: the link-local address of ``iface``.
    ``port`` 0 takes a free port of the dynamic range 49152-65535. ``sdp`` needs ``iface``.
    The handshake limits and their defaults are explained in README.md ("Reliability").
    """

    policy: TransportPolicy
    iface: str | None = None
    listen: str | None = None
    port: int = 0
    sdp: bool = False
    sdp_port: int = SDP_SERVER_PORT
    handshake_timeout_s: float = 10.0
    """A TLS handshake must be over within this (a legitimate one takes milliseconds)."""
    max_handshakes: int = 32
    """TLS handshakes in progress at once."""
    handshake_backlog: int = 64
    """Connections waiting for a handshake place; one beyond them is closed at once."""
    handshake_wait_s: float = 2.0
    """How long a connection waits for a handshake place before it is refused."""
    handshake_threads: int = 1
    """Threads running the handshakes' CPU-bound steps; 0 runs them on the event loop."""
    report_backlog: int = 32
    """Reports kept for :meth:`SeccServer.next_report` while nobody waits for them (the oldest go first)."""
    fixed_port: int = FIXED_TCP_PORT
    """Tolerant mode with the ``fixed-tcp-port`` quirk: the second port listened on, for EVs that ignore the SDP
    response's port (0: any free port, for tests)."""

    def __post_init__(self) -> None:
        if not (self.handshake_timeout_s > 0 and self.handshake_wait_s > 0):
            raise ConfigError("handshake_timeout_s and handshake_wait_s must be > 0")
        if self.max_handshakes < 1:
            raise ConfigError(f"max_handshakes must be >= 1, got {self.max_handshakes}")
        if min(self.handshake_backlog, self.handshake_threads, self.report_backlog) < 0:
            raise ConfigError("handshake_backlog, handshake_threads and report_backlog must be >= 0")


class SeccServer:
    """Serves EV connections until stopped; see the module docstring."""

    def __init__(
        self,
        config: SeccServerConfig,
        controllers: Callable[[], EVSEController],
        *,
        secc: SeccConfig | None = None,
        pnc: Pnc | None = None,
        session_config: SessionConfig | None = None,
        observers: Sequence[Observer] = (),
        on_report: ReportCallback | None = None,
        store: SessionStore | None = None,
        clock: Clock = time.time,
        peer_log: PeerLog | None = None,
        certificates: CertificateProvider | None = None,
    ) -> None:
        self._secc = secc or SeccConfig()
        config.policy.check(Role.SECC, self._secc.protocols)
        self.config = config
        self._controllers = controllers
        self._pnc = pnc
        self._certificates = certificates
        """Answers the EVs' certificate requests when a controller is no certificate provider itself."""
        self._session_config = config.policy.session_config(session_config)
        self._observers = tuple(observers)
        self._on_report = on_report
        self.store = store or SessionStore()
        """Paused sessions, shared by every connection of this server."""
        self._clock = clock
        self.peer_log = peer_log or PeerLog(log, PeerRateLimiter())
        """Where lines about connections go, rate-limited per peer address."""
        self._server: asyncio.Server | None = None
        self._fixed: asyncio.Server | None = None
        self._sdp: SdpServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sessions: weakref.WeakSet[Any] = weakref.WeakSet()
        """Handles of the sessions being served (their ``request_stop``)."""
        self._reports: deque[ConnectionReport] = deque(maxlen=config.report_backlog)
        self._waiters: deque[asyncio.Future[ConnectionReport]] = deque()
        gate = HandshakeGate(
            limit=config.max_handshakes,
            backlog=config.handshake_backlog,
            wait_s=config.handshake_wait_s,
            threads=config.handshake_threads,
        )
        self._acceptor = Acceptor(
            config.policy, self._secc.protocols, gate, handshake_timeout=config.handshake_timeout_s, clock=clock
        )
        self._flusher: asyncio.TimerHandle | None = None
        self.endpoint: Endpoint | None = None
        """Where the server listens (set by :meth:`start`)."""
        self.fixed_endpoint: Endpoint | None = None
        """The second listener of the ``fixed-tcp-port`` quirk (tolerant mode), when it runs."""
        self.connections = 0
        """Connections accepted so far."""
        self.turned_away = 0
        """Connections closed at once because of the handshake limits."""

    # ---- life cycle ----------------------------------------------------------------------------------
    async def _listen_endpoint(self) -> Endpoint:
        cfg = self.config
        if cfg.listen is not None:
            return make_endpoint(cfg.listen, cfg.port, iface=cfg.iface)
        if cfg.iface is None:
            raise ConfigError("the SECC needs an interface (--iface) or an address to listen on (--listen)")
        return make_endpoint(str(await usable_link_local(cfg.iface)), cfg.port, iface=cfg.iface)

    async def start(self) -> None:
        """Build the TLS context, bind, listen and (with ``sdp``) start announcing; raises on any problem."""
        if self._server is not None:
            return
        policy = self.config.policy
        if self.config.sdp and self.config.iface is None:
            raise ConfigError("SDP needs the interface to answer on (--iface)")
        wanted = await self._listen_endpoint()
        sock = open_listener(wanted)
        port = int(sock.getsockname()[1])
        self.endpoint = Endpoint(address=wanted.address, port=port, scope_id=wanted.scope_id, iface=wanted.iface)
        try:
            self._acceptor.open()
            # A small read buffer: V2GTP messages are a few kB, and every connection may fill its buffer.
            self._server = await asyncio.start_server(self._accepted, sock=sock, limit=1 << 16)
        except BaseException:
            sock.close()
            self._acceptor.gate.close()
            raise
        policy.log_deviations(Role.SECC)
        log.info("SECC listening on %s (%s)", self.endpoint, self._acceptor.describe())
        self._schedule_flush()
        if policy.accepts(Quirk.FIXED_TCP_PORT):
            await self._listen_fixed(wanted)
        if self.config.sdp:
            assert self.config.iface is not None
            announced = None if wanted.address.is_unspecified else wanted.address
            security = [SdpSecurity.TLS] if self._acceptor.tls else []
            security += [SdpSecurity.NONE] if self._acceptor.plain else []
            self._sdp = SdpServer(
                self.config.iface,
                tcp_port=port,
                security=security,
                address=announced,
                port=self.config.sdp_port,
                limiter=self.peer_log.limiter,
            )
            try:
                await self._sdp.start()
            except BaseException:
                await self.stop()
                raise

    async def _listen_fixed(self, wanted: Endpoint) -> None:
        """The ``fixed-tcp-port`` quirk's second listener; a port nobody can bind is logged, not fatal."""
        endpoint = make_endpoint(str(wanted.address), self.config.fixed_port, iface=wanted.iface)
        try:
            sock = open_listener(endpoint)
            self._fixed = await asyncio.start_server(
                lambda r, w: self._accepted(r, w, fixed=True), sock=sock, limit=1 << 16
            )
        except OSError as exc:
            log.warning("SECC: quirk %s: cannot listen on %s: %s", Quirk.FIXED_TCP_PORT, endpoint, exc)
            return
        port = int(sock.getsockname()[1])
        self.fixed_endpoint = Endpoint(address=wanted.address, port=port, scope_id=wanted.scope_id, iface=wanted.iface)
        log.warning("SECC: quirk %s: also listening on %s", Quirk.FIXED_TCP_PORT, self.fixed_endpoint)

    async def request_stop(self, why: str, *, grace: float = 10.0) -> None:
        """End the way the standard ends a charger's sessions (a first SIGINT/SIGTERM): stop accepting, ask every
        EV in the charge loop to terminate (EVSENotification Terminate at its next request [V2G20-1610]), and
        wait up to ``grace`` s for the sessions to end before cancelling what is left."""
        self._close_listeners()
        for handle in list(self._sessions):
            await handle.request_stop(why)
        if self._tasks and grace > 0:
            await asyncio.wait(set(self._tasks), timeout=grace)
        # Sessions the EVs did not end in time (one not yet in the charge loop has no response to carry the
        # notification) end here as aborted, so their outcome, summary and journal record are still written.
        for handle in list(self._sessions):
            handle.abort(f"{why}; the EV did not end the session within {grace:g} s")
        await self.stop(grace=_ABORT_GRACE_S)

    async def stop(self, *, grace: float = 0.0) -> None:
        """Stop listening and announcing; let running sessions finish for ``grace`` s, then cancel them."""
        if self._sdp is not None:
            await self._sdp.stop()
            self._sdp = None
        self._close_listeners()
        if self._tasks and grace > 0:
            await asyncio.wait(set(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._acceptor.gate.close()  # no handshake is left: every connection task has ended
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        self.peer_log.flush(everything=True)

    def _close_listeners(self) -> None:
        for server in (self._server, self._fixed):
            if server is not None:
                server.close()
        self._server = self._fixed = None

    def _schedule_flush(self) -> None:
        # Summaries of suppressed lines ("suppressed K more lines about ADDR") once per window, even when the
        # flood has stopped and no new line would carry them out.
        def flush() -> None:
            self.peer_log.flush()
            self._schedule_flush()

        loop = asyncio.get_running_loop()
        self._flusher = loop.call_later(self.peer_log.limiter.window_s, flush)

    async def __aenter__(self) -> SeccServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def sdp(self) -> SdpServer | None:
        """The SDP server, when announcing."""
        return self._sdp

    @property
    def active(self) -> int:
        """Connections being served now."""
        return sum(not task.done() for task in self._tasks)

    @property
    def handshaking(self) -> int:
        """TLS handshakes in progress now."""
        return self._acceptor.gate.running

    async def next_report(self) -> ConnectionReport:
        """The oldest report kept, or else the next finished connection's."""
        if self._reports:
            return self._reports.popleft()
        waiter: asyncio.Future[ConnectionReport] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def _deliver(self, report: ConnectionReport) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(report)
                return
        self._reports.append(report)  # a full deque drops its oldest report

    # ---- connections --------------------------------------------------------------------------------
    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, fixed: bool = False) -> None:
        self.connections += 1
        name = peer_name(writer)
        if self._acceptor.tls:
            busy = self._acceptor.gate.reserve()
            if busy is not None:
                # Refused before any TLS state exists: a flood costs an accept and a close, nothing more.
                self.turned_away += 1
                writer.transport.abort()
                self.peer_log.warning(name, "SECC: %s: turned away: %s", name, busy)
                return
        # Our own task per connection (not asyncio's callback task), so that stop() can cancel it quietly.
        task = asyncio.create_task(self._on_connection(reader, writer, name, fixed))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str, fixed: bool
    ) -> None:
        started = self._clock()
        try:
            report = await self._serve(reader, writer, name, started, fixed)
        except asyncio.CancelledError:
            writer.close()
            raise
        except Exception as exc:  # a failing controller or observer ends this connection, not the server
            self.peer_log.log(logging.ERROR, name, "SECC: connection %s failed", name, exc_info=exc)
            writer.close()
            report = ConnectionReport(peer=name, started=started, ended=self._clock(), error=detached(exc))
        level = logging.INFO if report.ok else logging.WARNING
        self.peer_log.log(level, name, "SECC: %s", describe_report(report))
        self._deliver(report)
        if self._on_report is not None:
            try:
                result = self._on_report(report)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                self.peer_log.log(logging.ERROR, name, "SECC: the report callback failed for %s", name, exc_info=exc)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str, started: float, fixed: bool
    ) -> ConnectionReport:
        try:
            link = await self._acceptor.accept(reader, writer, name)
        except SecurityError as exc:
            return ConnectionReport(peer=name, started=started, ended=self._clock(), error=detached(exc))
        if link.tls is not None:
            self.peer_log.info(name, "SECC: TLS with %s: %s", name, link.tls.summary())
        notes: tuple[str, ...] = ()
        if fixed:
            fixed_port = self.fixed_endpoint.port if self.fixed_endpoint is not None else self.config.fixed_port
            announced = self.endpoint.port if self.endpoint is not None else "?"
            seen = f"{name} connected to port {fixed_port}, not the announced {announced}"
            notes = (accepted_line(Quirk.FIXED_TCP_PORT, seen),)
            self.peer_log.warning(name, "SECC %s: %s", name, notes[0])
        outcome = await serve_secc_session(
            link,
            self._controllers(),
            self._secc,
            store=self.store,
            pnc=self._pnc,
            session_config=self._session_config,
            clock=self._clock,
            observers=self._observers,
            peer=peer_identity(name, link.tls),
            peer_log=self.peer_log,
            on_start=self._sessions.add,
            terms=ConnectionTerms(transport=transport_of(link.tls), policy=self.config.policy, notes=notes),
            certificates=self._certificates,
        )
        error = link.failure() if not outcome.ended_regularly else None
        return ConnectionReport(
            peer=name, started=started, ended=self._clock(), tls=link.tls, outcome=outcome, error=error
        )
