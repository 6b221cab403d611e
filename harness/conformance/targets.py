"""Where the SUT is: how the tester reaches an SECC (connect) or lets an EVCC reach it (listen).

* :class:`RemoteSecc`: an SECC at ``[ADDR%IF]:PORT``, or found with SDP on an interface [V2G20-139..161] once
  per run; every :meth:`~RemoteSecc.connect` is a new TCP (and TLS) connection, i.e. a new session.
* :class:`ListeningEvcc`: the tester listens (on an interface's link-local address, answering SDP, or on a
  given endpoint) and each case waits for the EVCC to connect; ``command`` (re)starts an EVCC per case.

The TLS handshake is the tester's own (:func:`open_connection`, :class:`Listener`): a refused handshake is a
result (:class:`HandshakeRefused`), not an error, and the SUT's certificate is checked by cases, not here.
A SUT the tester cannot find or reach at all (no SDP answer, the connection fails, no EVCC connects) is
:class:`SutUnreachable`: it stops the run, and the message says what was tried.
In-process targets (our own SECC and EVCC) are in :mod:`harness.conformance.own`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import ssl
import subprocess
from collections.abc import Mapping
from typing import Any, Protocol

from harness.conformance.model import Need
from harness.conformance.wire import Connection
from iso15118.constants import SDP_MULTICAST_ADDRESS, SDP_SERVER_PORT, SdpSecurity
from iso15118.errors import SecurityError, V2GError
from iso15118.security.tls import describe_handshake, tls_failure
from iso15118.transport.tcp import Endpoint, TcpLink, make_endpoint, open_listener, open_stream, peer_name
from iso15118.transport.udp import SDP_MAX_TRIES, SdpServer, discover_secc, link_local_address

__all__ = [
    "ALL_CAPABILITIES",
    "EvccTarget",
    "HandshakeRefused",
    "Listener",
    "ListeningEvcc",
    "RemoteSecc",
    "SeccTarget",
    "SutUnreachable",
    "open_connection",
]

#: What a remote SUT is assumed to support unless told otherwise (``--capabilities``).
ALL_CAPABILITIES = frozenset(Need) - {Need.TLS, Need.PKI}


class HandshakeRefused(SecurityError):
    """The TLS handshake did not complete; the message says why (a refusal by either side)."""


class SutUnreachable(Exception):
    """The tester cannot reach the SUT: SDP found no SECC, the connection failed, or no EVCC connected.

    Not a verdict on the SUT: the run stops, the case and every case after it are errors, and the message
    names what was tried (interface, SDP requests, address).
    """


class SeccTarget(Protocol):
    """An SECC under test."""

    name: str
    tls: bool
    capabilities: frozenset[Need]

    async def locate(self) -> str:
        """Before the first case: find the SECC (SutUnreachable when it cannot); returns what was found."""
        ...

    async def connect(self, context: ssl.SSLContext | None) -> Connection:
        """Open a new connection (TLS with ``context``); HandshakeRefused when the handshake fails,
        SutUnreachable when the SECC cannot be reached."""
        ...

    async def finish(self) -> None:
        """After a case: release what it left behind."""
        ...

    async def aclose(self) -> None:
        """After the run."""
        ...


class EvccTarget(Protocol):
    """An EVCC under test."""

    name: str
    tls: bool
    capabilities: frozenset[Need]

    async def locate(self) -> str:
        """Before the first case: start listening (and answering SDP); returns where."""
        ...

    def unreachable(self, timeout: float) -> str:
        """Why no EVCC connected within ``timeout``: where the tester waited, how many SDP requests it answered,
        and whether an EVCC connected earlier in the run (then it went away)."""
        ...

    async def begin(self, case_id: str, *, energy: str = "AC", protocol: str | None = None) -> None:
        """Before a case (e.g. start the EVCC); ``energy`` is the energy family it is about (AC, DC) and
        ``protocol`` its generation (``iso20``, ``iso2``, ``din``; None: the run's)."""
        ...

    async def accept(self, context: ssl.SSLContext | None, *, timeout: float, hints: Mapping[str, Any]) -> Connection:
        """Wait for the EVCC's next connection; ``hints`` tell in-process EVCCs what the case expects."""
        ...

    async def finish(self) -> None:
        """After a case."""
        ...

    async def aclose(self) -> None:
        """After the run."""
        ...


async def _link(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    context: ssl.SSLContext | None,
    *,
    peer: str,
    server_side: bool,
    timeout: float,
) -> Connection:
    """A connection over ``reader``/``writer``, after the tester's TLS handshake (no checks beyond ``context``)."""
    link = TcpLink(reader, writer, peer=peer, context=context, server_side=server_side)
    if context is not None:
        try:
            async with asyncio.timeout(timeout):
                await link.handshake()
        except ssl.SSLError as exc:
            await link.close()
            raise HandshakeRefused(f"TLS handshake with {peer} failed: {tls_failure(exc)}") from None
        except (OSError, TimeoutError) as exc:
            await link.close()
            raise HandshakeRefused(f"TLS handshake with {peer} failed: {exc or type(exc).__name__}") from None
        assert link.ssl_object is not None
        link.tls = describe_handshake(link.ssl_object)
    return Connection(link=link, tls=link.tls, ssl_object=link.ssl_object, error=lambda: str(link.error or ""))


async def open_connection(endpoint: Endpoint, context: ssl.SSLContext | None, *, timeout: float = 10.0) -> Connection:
    """Connect to ``endpoint`` and run the tester's TLS handshake (no certificate checks beyond ``context``)."""
    reader, writer = await open_stream(endpoint, timeout=timeout)
    return await _link(reader, writer, context, peer=str(endpoint), server_side=False, timeout=timeout)


def _reason(exc: Exception) -> str:
    """An error's text without the ``[Errno N]`` prefix."""
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)


class RemoteSecc:
    """An SECC reached over TCP/TLS at an endpoint, or found with SDP on ``iface`` (before the first case, and
    again before every later connection)."""

    def __init__(
        self,
        *,
        endpoint: Endpoint | None = None,
        iface: str | None = None,
        tls: bool = True,
        capabilities: frozenset[Need] = ALL_CAPABILITIES,
        connect_timeout: float = 10.0,
        sdp_tries: int = SDP_MAX_TRIES,
    ) -> None:
        if endpoint is None and iface is None:
            raise SecurityError("an SECC target needs an endpoint or an interface for SDP")
        self.endpoint = endpoint
        self.iface = iface
        self.tls = tls
        self.capabilities = capabilities | ({Need.TLS} if tls else set())
        self.connect_timeout = connect_timeout
        self.sdp_tries = sdp_tries
        self.found = ""
        """How SDP found the SECC (empty with an endpoint given)."""
        self.reached = False
        """A connection to the SECC succeeded in this run."""
        self.name = f"SECC at {endpoint}" if endpoint is not None else f"SECC found with SDP on {iface}"

    async def locate(self) -> str:
        """SDP on the interface (with no endpoint given), before the first case: a SUT SDP does not find ends the
        run (later connections ask SDP again, see :meth:`connect`)."""
        if self.endpoint is None:
            await self._discover()
        return self.name

    async def _discover(self) -> None:
        assert self.iface is not None
        security = SdpSecurity.TLS if self.tls else SdpSecurity.NONE
        try:
            found = await discover_secc(self.iface, security=security, max_tries=self.sdp_tries)
        except (V2GError, OSError) as exc:
            raise SutUnreachable(
                f"no SECC found: {_reason(exc)} (SDP requests for {security.name} to {SDP_MULTICAST_ADDRESS} UDP port "
                f"{SDP_SERVER_PORT})"
            ) from None
        self.endpoint = make_endpoint(str(found.response.address), found.response.port, iface=self.iface)
        self.found = f"found with SDP on {self.iface}: the answer to request {found.tries} of {self.sdp_tries}"
        self.name = f"SECC at {self.endpoint} ({self.found})"

    async def connect(self, context: ssl.SSLContext | None) -> Connection:
        if self.endpoint is None:
            await self.locate()
        elif self.found and self.reached:
            # SDP again before every later connection, as an EV does: an SECC that starts a TCP server per SDP
            # request (Josev) may still be closing the previous one, which then accepts and never answers.
            await self._discover()
        assert self.endpoint is not None
        try:
            connection = await open_connection(self.endpoint, context, timeout=self.connect_timeout)
        except OSError as exc:
            if not (self.reached and self.found):
                raise SutUnreachable(self._lost(exc)) from None
            # The SECC answered before and was found with SDP: it may have restarted on another port.
            await self._discover()
            try:
                connection = await open_connection(self.endpoint, context, timeout=self.connect_timeout)
            except OSError as again:
                raise SutUnreachable(self._lost(again)) from None
        self.reached = True
        return connection

    def _lost(self, exc: OSError) -> str:
        found = f" ({self.found})" if self.found else ""
        if self.reached:
            return f"the SECC went away: {_reason(exc)}{found}"
        return f"cannot reach the SECC: {_reason(exc)}{found}"

    async def finish(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class Listener:
    """A TCP listener on which the tester (as SECC) accepts connections, TLS handshake included."""

    def __init__(self, endpoint: Endpoint, *, handshake_timeout: float = 10.0) -> None:
        self.wanted = endpoint
        self.endpoint = endpoint
        self.handshake_timeout = handshake_timeout
        self._server: asyncio.Server | None = None
        self._queue: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
        self.accepted = 0
        """Connections taken so far (whatever became of their handshakes)."""

    async def start(self) -> Endpoint:
        """Listen (port 0: a free port of the dynamic range); returns the actual endpoint."""
        sock = open_listener(self.wanted)
        self.endpoint = dataclasses.replace(self.wanted, port=int(sock.getsockname()[1]))
        self._server = await asyncio.start_server(self._accepted, sock=sock, limit=1 << 20)
        return self.endpoint

    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._queue.put_nowait((reader, writer))

    def drain(self) -> None:
        """Close connections accepted but not taken (left over from an earlier case)."""
        while not self._queue.empty():
            _reader, writer = self._queue.get_nowait()
            writer.close()

    async def accept(self, context: ssl.SSLContext | None, *, timeout: float) -> Connection:
        """The next connection (TimeoutError when none came), after the TLS handshake with ``context``."""
        reader, writer = await asyncio.wait_for(self._queue.get(), timeout)
        self.accepted += 1
        return await _link(
            reader, writer, context, peer=peer_name(writer), server_side=True, timeout=self.handshake_timeout
        )

    async def stop(self) -> None:
        """Stop listening and close what is queued."""
        self.drain()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(OSError):
                await self._server.wait_closed()
            self._server = None


class ListeningEvcc:
    """An EVCC that connects to the tester: on ``listen`` (``[ADDR%IF]:PORT``), or on ``iface`` with SDP.

    ``command`` is a shell command started before every case (and stopped after it), for EVCCs that run one
    session per process.
    """

    def __init__(
        self,
        *,
        listen: Endpoint | None = None,
        iface: str | None = None,
        tls: bool = True,
        capabilities: frozenset[Need] = ALL_CAPABILITIES,
        command: str | None = None,
    ) -> None:
        if listen is None:
            if iface is None:
                raise SecurityError("an EVCC target needs an interface (SDP) or a listening endpoint")
            listen = make_endpoint(str(link_local_address(iface)), 0, iface=iface)
        self.listener = Listener(listen)
        self.iface = iface
        self.tls = tls
        self.capabilities = capabilities | ({Need.TLS} if tls else set())
        self.command = command
        self.name = f"EVCC connecting to {listen}" + (f" (SDP on {iface})" if iface else "")
        self._sdp: SdpServer | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._started = False

    async def _start(self) -> None:
        if self._started:
            return
        self._started = True
        endpoint = await self.listener.start()
        self.name = f"EVCC connecting to {endpoint}" + (f" (SDP on {self.iface})" if self.iface else "")
        if self.iface is not None:
            security = SdpSecurity.TLS if self.tls else SdpSecurity.NONE
            address = None if endpoint.address.is_unspecified else endpoint.address
            self._sdp = SdpServer(self.iface, tcp_port=endpoint.port, security=security, address=address)
            await self._sdp.start()

    async def locate(self) -> str:
        """Listen (and answer SDP) before the first case; SutUnreachable when the tester cannot."""
        try:
            await self._start()
        except (V2GError, OSError) as exc:
            raise SutUnreachable(f"cannot wait for the EVCC: {_reason(exc)}") from None
        return self.name

    def unreachable(self, timeout: float) -> str:
        endpoint = self.listener.endpoint
        sdp = ""
        if self._sdp is not None:
            sdp = f"; SDP on {self.iface} answered {self._sdp.answered} request(s)"
        started = f"; started with: {self.command}" if self.command else ""
        if self.listener.accepted:
            return f"the EVCC went away: none connected to {endpoint} within {timeout:g} s{sdp}{started}"
        return f"no EVCC connected to {endpoint} within {timeout:g} s{sdp}{started}"

    async def begin(self, case_id: str, *, energy: str = "AC", protocol: str | None = None) -> None:
        await self._start()
        self.listener.drain()
        if self.command:
            env = dict(
                os.environ,
                V2G_CONFORMANCE_CASE=case_id,
                V2G_CONFORMANCE_PORT=str(self.listener.endpoint.port),
                V2G_CONFORMANCE_ENERGY=energy,
                V2G_CONFORMANCE_PROTOCOL=protocol or "iso20",
            )
            self._process = subprocess.Popen(
                self.command,
                shell=True,
                env=env,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    async def accept(self, context: ssl.SSLContext | None, *, timeout: float, hints: Mapping[str, Any]) -> Connection:
        await self._start()
        return await self.listener.accept(context, timeout=timeout)

    async def finish(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        # Our own child's process group (start_new_session), by its id.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, 5.0)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            await asyncio.to_thread(process.wait)

    async def aclose(self) -> None:
        await self.finish()
        if self._sdp is not None:
            await self._sdp.stop()
            self._sdp = None
        await self.listener.stop()
