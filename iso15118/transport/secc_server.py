"""The SECC runtime: a TCP/TLS server that serves every EV connection as one session, plus SDP.

:class:`SeccServer` listens on one IPv6 address (an interface's link-local address with its scope id, or
``::``/``::1`` for tests), runs the TLS 1.3 handshake on each accepted connection, checks the vehicle's
certificate (:func:`~iso15118.security.tls.check_peer`) and serves the session with
:func:`~iso15118.transport.secc.serve_secc_session`. Sessions run concurrently and share one
:class:`~iso15118.transport.secc.SessionStore`, so a paused session can be resumed on a later connection. A
failed handshake is logged with its reason and closed; the server goes on. Every connection ends in a
:class:`ConnectionReport`, handed to ``on_report`` and queued for :meth:`SeccServer.next_report`.

With ``sdp=True`` an :class:`~iso15118.transport.udp.SdpServer` on the interface announces the port and
the security (TLS, or none in tolerant plain-TCP mode). Use ``async with SeccServer(...)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from iso15118.config import SeccConfig
from iso15118.constants import SDP_SERVER_PORT, SdpSecurity
from iso15118.controller import EVSEController
from iso15118.errors import ConfigError, SecurityError
from iso15118.iso20.pnc import PncVerifier
from iso15118.security.tls import HandshakeInfo, secc_context
from iso15118.session.connection import Role, SessionConfig
from iso15118.transport.driver import Clock, Observer, SessionOutcome
from iso15118.transport.policy import TransportPolicy
from iso15118.transport.runner import serve_secc_session
from iso15118.transport.store import SessionStore
from iso15118.transport.tcp import Endpoint, accept_connection, make_endpoint, open_listener, peer_name
from iso15118.transport.udp import SdpServer, link_local_address

__all__ = ["ConnectionReport", "SeccServer", "SeccServerConfig"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class SeccServerConfig:
    """Where and how the SECC listens.

    ``listen``: an IPv6 address (``ADDR`` or ``ADDR%IF``); default: the link-local address of ``iface``.
    ``port`` 0 takes a free port of the dynamic range 49152-65535. ``sdp`` needs ``iface``.
    """

    policy: TransportPolicy
    iface: str | None = None
    listen: str | None = None
    port: int = 0
    sdp: bool = False
    sdp_port: int = SDP_SERVER_PORT
    handshake_timeout_s: float = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionReport:
    """How one connection went: the handshake, then the session's outcome, or the error that ended it."""

    peer: str
    started: float
    ended: float
    tls: HandshakeInfo | None = None
    outcome: SessionOutcome | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        """True when a session ran and ended regularly (Terminate or Pause)."""
        return self.error is None and self.outcome is not None and self.outcome.ok


ReportCallback = Callable[[ConnectionReport], Awaitable[None] | None]


class SeccServer:
    """Serves EV connections until stopped; see the module docstring."""

    def __init__(
        self,
        config: SeccServerConfig,
        controllers: Callable[[], EVSEController],
        *,
        secc: SeccConfig | None = None,
        pnc: PncVerifier | None = None,
        session_config: SessionConfig | None = None,
        observers: Sequence[Observer] = (),
        on_report: ReportCallback | None = None,
        store: SessionStore | None = None,
        clock: Clock = time.time,
    ) -> None:
        config.policy.check(Role.SECC)
        self.config = config
        self._controllers = controllers
        self._secc = secc or SeccConfig()
        self._pnc = pnc
        self._session_config = config.policy.session_config(session_config)
        self._observers = tuple(observers)
        self._on_report = on_report
        self.store = store or SessionStore()
        """Paused sessions, shared by every connection of this server."""
        self._clock = clock
        self._context: ssl.SSLContext | None = None
        self._server: asyncio.Server | None = None
        self._sdp: SdpServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._reports: asyncio.Queue[ConnectionReport] = asyncio.Queue()
        self.endpoint: Endpoint | None = None
        """Where the server listens (set by :meth:`start`)."""
        self.connections = 0
        """Connections accepted so far."""

    # ---- life cycle ----------------------------------------------------------------------------------
    def _listen_endpoint(self) -> Endpoint:
        cfg = self.config
        if cfg.listen is not None:
            return make_endpoint(cfg.listen, cfg.port, iface=cfg.iface)
        if cfg.iface is None:
            raise ConfigError("the SECC needs an interface (--iface) or an address to listen on (--listen)")
        return make_endpoint(str(link_local_address(cfg.iface)), cfg.port, iface=cfg.iface)

    async def start(self) -> None:
        """Build the TLS context, bind, listen and (with ``sdp``) start announcing; raises on any problem."""
        if self._server is not None:
            return
        policy = self.config.policy
        tls = policy.tls_config()
        self._context = secc_context(tls) if tls is not None else None
        if self.config.sdp and self.config.iface is None:
            raise ConfigError("SDP needs the interface to answer on (--iface)")
        wanted = self._listen_endpoint()
        sock = open_listener(wanted)
        port = int(sock.getsockname()[1])
        self.endpoint = Endpoint(address=wanted.address, port=port, scope_id=wanted.scope_id, iface=wanted.iface)
        try:
            self._server = await asyncio.start_server(self._accepted, sock=sock, limit=1 << 20)
        except BaseException:
            sock.close()
            raise
        policy.log_deviations(Role.SECC)
        log.info("SECC listening on %s (%s)", self.endpoint, "TLS" if self._context else "plain TCP")
        if self.config.sdp:
            assert self.config.iface is not None
            announced = None if wanted.address.is_unspecified else wanted.address
            security = SdpSecurity.TLS if self._context is not None else SdpSecurity.NONE
            self._sdp = SdpServer(
                self.config.iface, tcp_port=port, security=security, address=announced, port=self.config.sdp_port
            )
            try:
                await self._sdp.start()
            except BaseException:
                await self.stop()
                raise

    async def stop(self, *, grace: float = 0.0) -> None:
        """Stop listening and announcing; let running sessions finish for ``grace`` s, then cancel them."""
        if self._sdp is not None:
            await self._sdp.stop()
            self._sdp = None
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._tasks and grace > 0:
            await asyncio.wait(set(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

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

    async def next_report(self) -> ConnectionReport:
        """Wait for the next finished connection."""
        return await self._reports.get()

    # ---- connections --------------------------------------------------------------------------------
    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Our own task per connection (not asyncio's callback task), so that stop() can cancel it quietly.
        task = asyncio.create_task(self._on_connection(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self.connections += 1

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        started = self._clock()
        name = peer_name(writer)
        try:
            report = await self._serve(reader, writer, name, started)
        except asyncio.CancelledError:
            writer.close()
            raise
        except Exception as exc:  # a failing controller or observer ends this connection, not the server
            log.exception("SECC: connection %s failed", name)
            writer.close()
            report = ConnectionReport(peer=name, started=started, ended=self._clock(), error=exc)
        log.log(logging.INFO if report.ok else logging.WARNING, "SECC: %s", describe_report(report))
        self._reports.put_nowait(report)
        if self._on_report is not None:
            try:
                result = self._on_report(report)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("SECC: the report callback failed for %s", name)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str, started: float
    ) -> ConnectionReport:
        try:
            link = await accept_connection(
                reader,
                writer,
                self._context,
                mode=self.config.policy.tls_mode,
                handshake_timeout=self.config.handshake_timeout_s,
                clock=self._clock,
            )
        except SecurityError as exc:
            return ConnectionReport(peer=name, started=started, ended=self._clock(), error=exc)
        if link.tls is not None:
            log.info("SECC: TLS with %s: %s", name, link.tls.summary())
        outcome = await serve_secc_session(
            link,
            self._controllers(),
            self._secc,
            store=self.store,
            pnc=self._pnc,
            session_config=self._session_config,
            clock=self._clock,
            observers=self._observers,
        )
        error = link.failure() if not outcome.ok else None
        return ConnectionReport(
            peer=name, started=started, ended=self._clock(), tls=link.tls, outcome=outcome, error=error
        )


def describe_report(report: ConnectionReport) -> str:
    """One line about a connection: peer, then the session's end or the error."""
    if report.outcome is None:
        return f"{report.peer}: refused: {report.error}"
    ended = report.outcome.ended
    text = f"{report.peer}: session {report.outcome.session_id.hex()} {ended.reason} ({ended.detail})"
    return text + (f"; {report.error}" if report.error is not None else "")
