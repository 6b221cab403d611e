"""Our own SECC and EVCC as targets, run in-process: over in-memory links, over TLS on ``::1``, or over plain TCP
on ``::1``.

They are what the harness's self-tests run every case against, and, with a
:class:`~harness.conformance.sutfault.Fault`, the deliberately broken SUTs that prove each negative case can
fail. Each connection is one session of the real drivers (:func:`~iso15118.transport.runner.serve_secc_session`,
:func:`~iso15118.transport.runner.run_evcc_session`) with the simple controllers; the SECC keeps one
:class:`~iso15118.transport.store.SessionStore` for the whole run so that paused sessions can be resumed. Our
SECC accepts every generation the library speaks (as `v2g secc` does); our EVCC offers the case's.

Plain TCP (``tcp``) is for DIN 70121 and -2, which our stack runs without TLS for now: the targets take the
transport's tolerant plain-TCP policy (:class:`~iso15118.transport.policy.TransportPolicy`), which logs the
deviation, until TLS 1.2 for -2 lands in the transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import ssl
import time
from collections.abc import Coroutine, Mapping
from typing import Any

from harness.conformance.credentials import Credentials
from harness.conformance.generations import protocol_of
from harness.conformance.model import Need
from harness.conformance.protocol import Generation
from harness.conformance.sutfault import Fault, FaultyLink
from harness.conformance.targets import Listener, open_connection
from harness.conformance.wire import Connection
from iso15118.config import EvccConfig, SeccConfig
from iso15118.constants import NS_DIN, NS_ISO2, NS_ISO20_AC, NS_ISO20_DC
from iso15118.controller import ControlMode
from iso15118.errors import ConfigError, V2GError
from iso15118.iso20.pnc import PncVerifier
from iso15118.security.profiles import Entity
from iso15118.security.tls import TlsConfig, TlsMode, evcc_context, secc_context
from iso15118.session.connection import Role, SessionConfig
from iso15118.session.selection import EnergyFamily
from iso15118.session.timers import DEFAULT_TIMING, Timing
from iso15118.simple import SimpleEV, SimpleEVSE
from iso15118.transport.driver import SessionOutcome
from iso15118.transport.link import Link, memory_pair
from iso15118.transport.policy import TransportPolicy
from iso15118.transport.runner import peer_identity, run_evcc_session, serve_secc_session
from iso15118.transport.store import SessionStore
from iso15118.transport.tcp import TcpLink, accept_connection, connect, make_endpoint, open_listener

__all__ = ["OwnEvcc", "OwnSecc"]

log = logging.getLogger(__name__)

_MEMORY, _TLS, _TCP = "memory", "tls", "tcp"
_ALL_PROTOCOLS = (NS_ISO20_AC, NS_ISO20_DC, NS_ISO2, NS_DIN)


class _Own:
    """What our SECC and EVCC targets share: configuration, fault, tasks."""

    def __init__(
        self,
        role: Role,
        *,
        transport: str,
        credentials: Credentials | None,
        timing: Timing,
        fault: Fault | None,
        protocol: str,
    ) -> None:
        if transport not in (_MEMORY, _TLS, _TCP):
            raise ConfigError(f"transport must be {_MEMORY!r}, {_TLS!r} or {_TCP!r}, not {transport!r}")
        if transport == _TLS and credentials is None:
            raise ConfigError("our SUT over TLS needs a test PKI")
        if transport == _TCP:
            # Plain TCP is a deviation our transport allows in tolerant mode only; it logs it (see the docstring).
            policy = TransportPolicy(tls=None, tolerant=True, timing_scale=1.0)
            policy.check(role)
            policy.log_deviations(role)
        label = f" with fault {fault.name!r}" if fault else ""
        self.name = f"v2gstack {role.value.upper()} in-process ({transport}){label}"
        self.transport = transport
        self.tls = transport == _TLS
        self.credentials = credentials
        self.timing = timing
        self.fault = fault
        self.protocol = protocol_of(protocol)
        caps = set(Need) - {Need.TLS, Need.PKI}
        if credentials is None or self.protocol.generation is not Generation.ISO20:
            caps.discard(Need.PNC)  # -2 Plug & Charge is not in our decisions yet; DIN has none
        self.capabilities = frozenset(caps)
        self.tasks: set[asyncio.Task[Any]] = set()
        self.links: list[Link] = []
        self.errors: list[str] = []
        """What went wrong inside the SUT (e.g. refused handshakes), for debugging."""

    def session_config(self) -> SessionConfig:
        """The SUT's session-core settings (the fault's timers and switches applied)."""
        fault = self.fault
        timing = dataclasses.replace(self.timing, **fault.timing) if fault else self.timing
        return SessionConfig(timing=timing, **(fault.session if fault else {}))

    def wrap(self, link: Link) -> Link:
        """The SUT's end of a link, behind a FaultyLink when the fault needs one."""
        if self.fault is not None and self.fault.touches_link:
            link = FaultyLink(link, self.fault, self.protocol)
        self.links.append(link)
        return link

    def spawn(self, coro: Any) -> None:
        """Run a SUT coroutine in the background; its errors are kept in :attr:`errors`."""
        task = asyncio.ensure_future(self._guard(coro))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _guard(self, coro: Any) -> None:
        try:
            await coro
        except (V2GError, OSError, ValueError) as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
            log.debug("own SUT: %s", exc)

    def wrap_controller(self, controller: Any) -> Any:
        """The SUT's controller, wrapped when the fault replaces its decisions."""
        if self.fault is not None and self.fault.controller is not None:
            return self.fault.controller(controller)
        return controller

    def tls_mode(self) -> TlsMode:
        """Tolerant when the fault says so, else strict."""
        return TlsMode.TOLERANT if self.fault is not None and self.fault.tls_tolerant else TlsMode.STRICT

    def tls_config(self, entity: Entity, roots: tuple[Entity, ...], *, identity: bool = True) -> TlsConfig:
        """The SUT's TLS configuration from the PKI (tolerant when the fault says so)."""
        assert self.credentials is not None
        layout = self.credentials.layout
        files = layout[entity]
        return TlsConfig(
            certificate_chain=files.chain_pem if identity else None,
            private_key=files.key_pem if identity else None,
            trust_roots=tuple(layout[r].cert_pem for r in roots),
            mode=self.tls_mode(),
        )

    def adjust(self, context: ssl.SSLContext) -> ssl.SSLContext:
        """Apply the fault's change to the SUT's TLS context."""
        if self.fault is not None and self.fault.tls is not None:
            self.fault.tls(context)
        return context

    async def locate(self) -> str:
        """In-process: always there."""
        return self.name

    def unreachable(self, timeout: float) -> str:
        """Why our own EVCC did not connect (it crashed: see :attr:`errors`)."""
        detail = "; ".join(self.errors[-3:]) or "no error recorded"
        return f"our EVCC did not connect within {timeout:g} s ({detail})"

    async def finish(self) -> None:
        """Let the SUT's sessions notice the tester closed; cancel what is still running after 2 s."""
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=2.0)
        for task in list(self.tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        links, self.links = self.links, []
        for link in links:
            inner = getattr(link, "inner", link)
            with contextlib.suppress(OSError, ConnectionError):
                await inner.close()


class OwnSecc(_Own):
    """Our SECC (SimpleEVSE controller), one session per connection."""

    def __init__(
        self,
        *,
        transport: str = _MEMORY,
        credentials: Credentials | None = None,
        timing: Timing = DEFAULT_TIMING,
        fault: Fault | None = None,
        protocol: str = "iso20",
    ) -> None:
        super().__init__(
            Role.SECC, transport=transport, credentials=credentials, timing=timing, fault=fault, protocol=protocol
        )
        self.store = fault.store() if fault is not None and fault.store is not None else SessionStore()
        self._server: asyncio.Server | None = None
        self._endpoint: Any = None
        self._context: ssl.SSLContext | None = None

    def _serve(self, link: Link) -> None:
        fault = self.fault
        creds = self.credentials
        auth = ("EIM", "PnC") if creds is not None else ("EIM",)
        settings: dict[str, Any] = {"authorization": auth, "protocols": _ALL_PROTOCOLS}
        config = SeccConfig(**(settings | dict(fault.driver if fault else {})))
        pnc = None
        if creds is not None:
            make = fault.pnc if fault is not None and fault.pnc is not None else PncVerifier
            pnc = make(creds.mo_roots())
        random = fault.random if fault is not None and fault.random is not None else os.urandom
        self.spawn(
            serve_secc_session(
                self.wrap(link),
                self.wrap_controller(SimpleEVSE()),
                config,
                store=self.store,
                pnc=pnc,
                session_config=self.session_config(),
                random=random,
                decisions=fault.decisions if fault is not None else None,
                peer=peer_identity(link.peer, link.tls if isinstance(link, TcpLink) else None),
            )
        )

    async def connect(self, context: ssl.SSLContext | None) -> Connection:
        if self.transport == _MEMORY:
            if context is not None:
                raise ConfigError("an in-memory target has no TLS")
            tester, sut = memory_pair()
            self._serve(sut)
            return Connection(link=tester)
        if self.transport == _TCP and context is not None:
            raise ConfigError("a plain-TCP target has no TLS")
        await self._start()
        return await open_connection(self._endpoint, context)

    async def _start(self) -> None:
        if self._server is not None:
            return
        if self.tls:
            roots = (Entity.OEM_ROOT, Entity.V2G_ROOT)
            self._context = self.adjust(secc_context(self.tls_config(Entity.SECC_LEAF, roots)))
        sock = open_listener(make_endpoint("::1", 0))
        self._endpoint = make_endpoint("::1", int(sock.getsockname()[1]))
        self._server = await asyncio.start_server(self._accepted, sock=sock)

    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.spawn(self._handshake(reader, writer))

    async def _handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = await accept_connection(reader, writer, self._context, mode=self.tls_mode(), clock=time.time)
        self._serve(link)

    async def aclose(self) -> None:
        await self.finish()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(OSError):
                await self._server.wait_closed()
            self._server = None


class OwnEvcc(_Own):
    """Our EVCC (SimpleEV controller; PnC when a PKI is given, else EIM), one session per accepted connection."""

    def __init__(
        self,
        *,
        transport: str = _MEMORY,
        credentials: Credentials | None = None,
        timing: Timing = DEFAULT_TIMING,
        fault: Fault | None = None,
        protocol: str = "iso20",
    ) -> None:
        super().__init__(
            Role.EVCC, transport=transport, credentials=credentials, timing=timing, fault=fault, protocol=protocol
        )
        self._listener: Listener | None = None
        self.energy = EnergyFamily.AC
        """The energy family of the current case (the EV offers its namespace)."""

    def _config(self, hints: Mapping[str, Any]) -> EvccConfig:
        fault = self.fault
        creds = self.credentials
        resume: dict[str, Any] = {}
        if hints.get("resume_session_id") and not (fault is not None and fault.ignore_resume):
            resume = {
                "resume_session_id": hints["resume_session_id"],
                "resume_service_id": hints.get("resume_service_id"),
            }
        pnc = creds is not None and Need.PNC in self.capabilities
        # -20: the namespace follows ``energy`` (a fault may restrict it); DIN and -2 offer the run's generation.
        generation = (
            {}
            if self.protocol.generation is Generation.ISO20
            else {"protocols": (self.protocol.namespace(self.energy),)}
        )
        settings: dict[str, Any] = {
            "energy": self.energy,
            **generation,
            "authorization": "PnC" if pnc else "EIM",
            "credentials": creds.contract() if creds is not None and pnc else None,
            # The tester decides what each case offers: the EV prefers PnC and takes EIM when only that is offered.
            "accept_fallback": True,
            "control_mode": ControlMode.DYNAMIC,
            "max_loops": None,
            "loop_interval_s": 0.1,
            "authorization_retry_s": 0.2,
            **resume,
        }
        return EvccConfig(**(settings | dict(fault.driver if fault else {})))

    def _session(self, link: Link, config: EvccConfig) -> Coroutine[Any, Any, SessionOutcome]:
        """One session of our EVCC on the SUT's end of ``link``."""
        controller = self.wrap_controller(SimpleEV())
        return run_evcc_session(self.wrap(link), controller, config, session_config=self.session_config())

    async def begin(self, case_id: str, *, energy: str = "AC", protocol: str | None = None) -> None:
        self.energy = EnergyFamily(energy)
        if protocol is not None:
            self.protocol = protocol_of(protocol)
        if self._listener is not None:
            self._listener.drain()

    async def accept(self, context: ssl.SSLContext | None, *, timeout: float, hints: Mapping[str, Any]) -> Connection:
        config = self._config(hints)
        if self.transport == _MEMORY:
            if context is not None:
                raise ConfigError("an in-memory target has no TLS")
            sut, tester = memory_pair()
            self.spawn(self._session(sut, config))
            return Connection(link=tester)
        if self._listener is None:
            self._listener = Listener(make_endpoint("::1", 0))
            await self._listener.start()
        self.spawn(self._connect_and_run(config))
        return await self._listener.accept(context, timeout=timeout)

    async def _connect_and_run(self, config: EvccConfig) -> None:
        assert self._listener is not None
        if not self.tls:
            await self._session(await connect(self._listener.endpoint, None, clock=time.time), config)
            return
        no_cert = self.fault is not None and self.fault.no_client_certificate
        tls = self.tls_config(Entity.VEHICLE_LEAF, (Entity.V2G_ROOT,), identity=not no_cert)
        context = self.adjust(evcc_context(tls))
        link: Link
        if self.fault is not None and self.fault.skip_peer_check:
            link = (await open_connection(self._listener.endpoint, context)).link
        else:
            link = await connect(self._listener.endpoint, context, mode=tls.mode, clock=time.time)
        await self._session(link, config)

    async def aclose(self) -> None:
        await self.finish()
        if self._listener is not None:
            await self._listener.stop()
            self._listener = None
