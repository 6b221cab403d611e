"""How the virtual truck and wall connector are joined for each session: in memory, TLS on ::1, or veth.

Owns :class:`LinkKind`, :class:`LinkSetup` (one session's connected pair and what setting it up saw) and
:func:`open_wiring`, an async context manager yielding a :class:`Wiring` whose :meth:`Wiring.connect`
makes a fresh pair per session:

* ``memory``: :func:`~iso15118.transport.link.memory_pair`, no I/O;
* ``loopback``: TCP on ``[::1]`` with TLS 1.3 and mutual authentication (strict -20 contexts from a test
  PKI generated into a temporary directory unless one is given), through :mod:`iso15118.transport.tcp`;
* ``veth``: two network namespaces joined by a veth pair (:func:`harness.netns.veth_pair`, root only).
  Per session the wall connector's namespace runs the SDP server and SLAC as EVSE, the truck's runs SLAC as
  EV and SDP discovery over ``ff02::1``, each in a thread with its own event loop (both with the PLC modem
  stand-in), then the truck connects over IPv6 link-local TCP with TLS 1.3. The sockets are opened inside
  the namespaces and then used from the simulation's event loop (a socket stays in the namespace it was
  made in).

``pcap`` captures the traffic (``lo`` for loopback, the truck's veth end for veth) into a pcapng with the
TLS key log embedded as a Decryption Secrets Block and written next to it as ``FILE.keys``
(:class:`harness.capture.CaptureSession`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv6Address
from pathlib import Path
from typing import Final, Protocol, TypeVar

from harness.capture import CaptureSession, keys_path_for
from harness.netns import VethPair, join_result, netns_available, run_in_netns, veth_pair
from iso15118.constants import SdpSecurity
from iso15118.errors import ConfigError, SecurityError
from iso15118.security.certs import Purpose
from iso15118.security.pki import init_pki, load_pki
from iso15118.security.profiles import Entity
from iso15118.security.tls import HandshakeInfo, TlsConfig, check_peer, evcc_context, secc_context, tls_failure
from iso15118.slac.events import Matched, SlacEvent
from iso15118.transport.link import Link, StreamLink, memory_pair
from iso15118.transport.slac_link import SlacResult, run_slac
from iso15118.transport.tcp import Endpoint, TcpLink, accept_connection, connect, make_endpoint, open_listener
from iso15118.transport.udp import SdpResult, SdpServer, discover_secc

__all__ = ["LinkKind", "LinkSetup", "Wiring", "WiringOptions", "open_wiring"]

T = TypeVar("T")

_EV_START_DELAY_S: Final = 0.2  # the EVSE's SLAC and SDP sockets are open before the truck starts
_THREAD_TIMEOUT_S: Final = 60.0


class LinkKind(StrEnum):
    """Which link joins the two devices."""

    MEMORY = "memory"
    LOOPBACK = "loopback"
    VETH = "veth"


@dataclass(frozen=True, slots=True, kw_only=True)
class WiringOptions:
    """Set-up choices: capture file, PKI, key log, time limits."""

    pcap: Path | None = None
    pki_dir: Path | None = None
    """An existing PKI (``v2g pki init``); default: a fresh test PKI in a temporary directory."""
    keylog: Path | None = None
    """NSS key log to append to (ignored with ``pcap``, which writes ``FILE.keys``)."""
    slac_timeout_s: float = 15.0
    connect_timeout_s: float = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkSetup:
    """One session's connected pair, and what the set-up saw."""

    evcc: Link
    secc: Link
    tls: HandshakeInfo | None = None
    """The EVCC's view of the handshake (the SECC's certificate)."""
    secc_tls: HandshakeInfo | None = None
    """The SECC's view of the handshake (the vehicle's certificate)."""
    slac: SlacResult | None = None
    sdp: SdpResult | None = None
    setup_s: float = 0.0
    """Real seconds the set-up took."""

    def describe(self) -> str:
        """One line: how this pair was set up."""
        parts = []
        if self.slac is not None:
            parts.append(f"SLAC matched in {self.slac.duration * 1000:.0f} ms ({self.slac.attenuation_db:.0f} dB)")
        if self.sdp is not None:
            parts.append(f"SDP -> {self.sdp.host} port {self.sdp.response.port} after {self.sdp.tries} request(s)")
        if self.tls is not None:
            parts.append(f"{self.tls.version} {self.tls.cipher} {self.tls.group or ''}".rstrip())
            if self.secc_tls is not None and self.secc_tls.peer_subject:
                parts.append("vehicle certificate verified")
        return ", ".join(parts) if parts else "in memory"


class Wiring(Protocol):
    """Makes a connected EVCC/SECC pair for each session."""

    kind: LinkKind
    description: str

    async def connect(self) -> LinkSetup:
        """A fresh connected pair (raises OSError / V2GError when the set-up fails)."""
        ...


# -- memory --------------------------------------------------------------------------------------------


class _MemoryWiring:
    kind = LinkKind.MEMORY
    description = "in-memory link"

    async def connect(self) -> LinkSetup:
        evcc, secc = memory_pair()
        return LinkSetup(evcc=evcc, secc=secc)


# -- TLS ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Tls:
    secc: ssl.SSLContext
    evcc: ssl.SSLContext


def _tls_contexts(pki_dir: Path, keylog: Path | None) -> _Tls:
    layout = load_pki(pki_dir)
    secc = layout[Entity.SECC_LEAF]
    vehicle = layout[Entity.VEHICLE_LEAF]
    return _Tls(
        secc=secc_context(
            TlsConfig(
                certificate_chain=secc.chain_pem,
                private_key=secc.key_pem,
                trust_roots=tuple(layout.roots(Entity.OEM_ROOT, Entity.V2G_ROOT)),
            )
        ),
        evcc=evcc_context(
            TlsConfig(
                certificate_chain=vehicle.chain_pem,
                private_key=vehicle.key_pem,
                trust_roots=tuple(layout.roots(Entity.V2G_ROOT)),
                keylog_filename=keylog,
            )
        ),
    )


class _Acceptor:
    """The SECC's listening side: every accepted connection's TLS handshake, queued as a link or an error."""

    def __init__(self, context: ssl.SSLContext, timeout: float) -> None:
        self._context = context
        self._timeout = timeout
        self._accepted: asyncio.Queue[TcpLink | BaseException] = asyncio.Queue()
        self._server: asyncio.Server | None = None

    async def start(self, listener: socket.socket) -> None:
        self._server = await asyncio.start_server(self._on_connection, sock=listener)

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            link = await accept_connection(
                reader, writer, self._context, handshake_timeout=self._timeout, clock=time.time
            )
        except Exception as exc:  # handed to the session that is waiting for this connection
            self._accepted.put_nowait(exc)
            return
        self._accepted.put_nowait(link)

    async def next(self) -> TcpLink:
        try:
            got = await asyncio.wait_for(self._accepted.get(), self._timeout)
        except TimeoutError:
            raise OSError(f"the SECC accepted no connection within {self._timeout:g} s") from None
        if isinstance(got, BaseException):
            raise got
        return got

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


class _LoopbackWiring:
    kind = LinkKind.LOOPBACK

    def __init__(self, tls: _Tls, options: WiringOptions) -> None:
        self._tls = tls
        self._options = options
        self._acceptor = _Acceptor(tls.secc, options.connect_timeout_s)
        self._endpoint: Endpoint | None = None
        self.description = "TCP/TLS 1.3 on [::1]"

    async def start(self) -> None:
        listener = open_listener(make_endpoint("::1", 0))
        self._endpoint = Endpoint(address=IPv6Address("::1"), port=listener.getsockname()[1])
        self.description = f"TCP/TLS 1.3 on {self._endpoint}"
        await self._acceptor.start(listener)

    async def connect(self) -> LinkSetup:
        assert self._endpoint is not None
        started = time.perf_counter()
        evcc = await connect(self._endpoint, self._tls.evcc, timeout=self._options.connect_timeout_s, clock=time.time)
        try:
            secc = await self._acceptor.next()
        except BaseException:
            await evcc.close()
            raise
        return LinkSetup(evcc=evcc, secc=secc, tls=evcc.tls, secc_tls=secc.tls, setup_s=time.perf_counter() - started)

    async def close(self) -> None:
        await self._acceptor.close()


# -- veth -----------------------------------------------------------------------------------------------


async def _evse_side(iface: str, tcp_port: int, stop: threading.Event, timeout: float) -> Matched | None:
    """In the wall connector's namespace: SDP server and SLAC (EVSE) until the truck has found us."""
    matched: list[Matched] = []

    def seen(event: SlacEvent) -> None:
        if isinstance(event, Matched):
            matched.append(event)

    async with SdpServer(iface, tcp_port=tcp_port, security=SdpSecurity.TLS):
        slac = asyncio.create_task(run_slac(iface, "evse", modem_standin=True, timeout=timeout, on_event=seen))
        try:
            while not stop.is_set() and not (slac.done() and slac.exception() is not None):
                await asyncio.sleep(0.01)
        finally:
            if not slac.done():
                slac.cancel()  # only the post-match linger is left once the truck went on to SDP
            with contextlib.suppress(asyncio.CancelledError):
                await slac
    return matched[0] if matched else None


async def _ev_side(iface: str, timeout: float) -> tuple[SlacResult, SdpResult, socket.socket]:
    """In the truck's namespace: SLAC (EV), SDP discovery, and the TCP socket to connect with."""
    await asyncio.sleep(_EV_START_DELAY_S)
    slac = await run_slac(iface, "ev", modem_standin=True, timeout=timeout)
    sdp = await discover_secc(iface, security=SdpSecurity.TLS)
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    return slac, sdp, sock


async def _client_tls(
    sock: socket.socket, sdp: SdpResult, context: ssl.SSLContext, timeout: float
) -> tuple[StreamLink, HandshakeInfo]:
    """Connect a socket made in the truck's namespace to the SECC, with TLS and the -20 check of its leaf."""
    loop = asyncio.get_running_loop()
    peer = f"[{sdp.host}]:{sdp.response.port}"
    try:
        await asyncio.wait_for(loop.sock_connect(sock, sdp.sockaddr), timeout)
    except (OSError, TimeoutError) as exc:
        sock.close()
        raise OSError(f"cannot connect to {peer}: {exc or type(exc).__name__}") from None
    try:
        # No server name: a link-local SECC has none, and the EVCC checks no hostname.
        reader, writer = await asyncio.open_connection(
            sock=sock, ssl=context, server_hostname="", ssl_handshake_timeout=timeout
        )
    except ssl.SSLError as exc:
        sock.close()
        raise tls_failure(exc) from None
    except (OSError, TimeoutError) as exc:
        sock.close()
        raise SecurityError(f"TLS handshake with {peer} failed: {exc or type(exc).__name__}") from None
    link = StreamLink(reader, writer)
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        if not isinstance(ssl_object, ssl.SSLObject):
            raise SecurityError(f"TLS handshake with {peer}: no TLS session after the handshake")
        info = check_peer(ssl_object, purpose=Purpose.SECC_TLS, now=dt.datetime.now(dt.UTC))  # [V2G20-1264]
    except BaseException:
        await link.close()
        raise
    return link, info


async def _join(thread: threading.Thread, box: list[T]) -> T:
    """The result of a :func:`~harness.netns.run_in_netns` thread, waited for without blocking the loop."""
    return await asyncio.to_thread(join_result, thread, box, _THREAD_TIMEOUT_S)


class _VethWiring:
    kind = LinkKind.VETH

    def __init__(self, pair: VethPair, tls: _Tls, options: WiringOptions) -> None:
        self.pair = pair
        self._tls = tls
        self._options = options
        self._acceptor = _Acceptor(tls.secc, options.connect_timeout_s)
        self._port = 0
        self.description = f"raw Ethernet over veth {pair.if_a} <-> {pair.if_b} (SLAC, SDP, TLS 1.3)"

    async def start(self) -> None:
        pair = self.pair

        def listen() -> socket.socket:
            return open_listener(make_endpoint(pair.lladdr_b, 0, iface=pair.if_b))

        listener = await _join(*run_in_netns(pair.ns_b, listen))
        self._port = listener.getsockname()[1]
        await self._acceptor.start(listener)

    async def connect(self) -> LinkSetup:
        pair, opts = self.pair, self._options
        started = time.perf_counter()
        stop = threading.Event()
        evse = run_in_netns(
            pair.ns_b, lambda: asyncio.run(_evse_side(pair.if_b, self._port, stop, opts.slac_timeout_s))
        )
        ev = run_in_netns(pair.ns_a, lambda: asyncio.run(_ev_side(pair.if_a, opts.slac_timeout_s)))
        try:
            slac, sdp, sock = await _join(*ev)
        finally:
            stop.set()
            with contextlib.suppress(Exception):  # an EVSE-side failure shows as the truck's failure
                await _join(*evse)
        evcc, info = await _client_tls(sock, sdp, self._tls.evcc, opts.connect_timeout_s)
        try:
            secc = await self._acceptor.next()
        except BaseException:
            await evcc.close()
            raise
        return LinkSetup(
            evcc=evcc,
            secc=secc,
            tls=info,
            secc_tls=secc.tls,
            slac=slac,
            sdp=sdp,
            setup_s=time.perf_counter() - started,
        )

    async def close(self) -> None:
        await self._acceptor.close()


# -- set-up and tear-down ----------------------------------------------------------------------------


def _fresh_pki(directory: Path) -> Path:
    # Valid from a few minutes ago, so that a clock a little behind still accepts it.
    now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5)
    init_pki(directory, algorithm="secp521r1", now=now)
    return directory


def _keylog_for(options: WiringOptions) -> Path | None:
    if options.pcap is None:
        return options.keylog
    keys = keys_path_for(options.pcap)
    keys.parent.mkdir(parents=True, exist_ok=True)
    keys.write_text("", encoding="ascii")  # OpenSSL appends: start this run's log empty
    return keys


@contextlib.asynccontextmanager
async def open_wiring(kind: LinkKind, options: WiringOptions | None = None) -> AsyncIterator[Wiring]:
    """Set up the link kind (PKI, namespaces, listener, capture) and tear everything down afterwards."""
    opts = options or WiringOptions()
    if kind is LinkKind.MEMORY:
        if opts.pcap is not None:
            raise ConfigError("--pcap needs a network link: use --link loopback or --link veth")
        yield _MemoryWiring()
        return
    if kind is LinkKind.VETH or opts.pcap is not None:
        ok, reason = netns_available() if kind is LinkKind.VETH else (True, "")
        if not ok:
            raise ConfigError(f"--link veth: {reason}")
    with contextlib.ExitStack() as stack:
        pki_dir = opts.pki_dir
        if pki_dir is None:
            pki_dir = _fresh_pki(Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="v2g-sim-"))) / "pki")
        keylog = _keylog_for(opts)
        tls = _tls_contexts(pki_dir, keylog)
        wiring: _LoopbackWiring | _VethWiring
        if kind is LinkKind.LOOPBACK:
            wiring = _LoopbackWiring(tls, opts)
            iface, netns = "lo", None
        else:
            pair = stack.enter_context(veth_pair("sim"))
            wiring = _VethWiring(pair, tls, opts)
            iface, netns = pair.if_a, pair.ns_a
        if opts.pcap is not None:
            stack.enter_context(CaptureSession(iface, opts.pcap, keylog, netns=netns))
        await wiring.start()
        try:
            yield wiring
        finally:
            await wiring.close()
