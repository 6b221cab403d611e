"""How the virtual truck and wall connector are joined for each session: in memory, TLS on ::1, or veth.

Owns :class:`LinkKind`, :class:`LinkSetup` (one session's connected pair and what setting it up saw) and
:func:`open_wiring`, an async context manager yielding a :class:`Wiring` whose :meth:`Wiring.connect`
makes a fresh pair per session:

* ``memory``: :func:`~iso15118.transport.link.memory_pair`, no I/O;
* ``loopback``: TCP on ``[::1]`` with TLS 1.3 and mutual authentication (strict -20 contexts from a test
  PKI generated into a temporary directory unless one is given), through :mod:`iso15118.transport.tcp`;
* ``veth``: SLAC, SDP and TLS 1.3 over IPv6 link-local between two network namespaces joined by a veth
  pair (root only), see :mod:`harness.virtual.veth`.

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
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv6Address
from pathlib import Path
from typing import Protocol

from harness.capture import CaptureSession, keys_path_for
from harness.netns import netns_available, veth_pair
from harness.virtual.generations import ProtocolPlan
from iso15118.errors import ConfigError
from iso15118.security.pki import init_pki, load_pki
from iso15118.security.profiles import SECC_ANCHORS, VEHICLE_ANCHORS, Entity
from iso15118.security.tls import HandshakeInfo, TlsConfig, evcc_context, prepare_keylog_file, secc_context
from iso15118.transport.link import Link, memory_pair
from iso15118.transport.slac_link import SlacResult
from iso15118.transport.tcp import Endpoint, TcpLink, accept_connection, connect, make_endpoint, open_listener
from iso15118.transport.udp import SdpResult

__all__ = ["Acceptor", "LinkKind", "LinkSetup", "TlsContexts", "Wiring", "WiringOptions", "open_wiring"]


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
class TlsContexts:
    """The strict -20 TLS contexts of both sides, from one PKI (the truck presents the vehicle certificate)."""

    secc: ssl.SSLContext
    evcc: ssl.SSLContext


def _tls_contexts(pki_dir: Path, keylog: Path | None) -> TlsContexts:
    layout = load_pki(pki_dir)
    secc = layout[Entity.SECC_LEAF]
    vehicle = layout[Entity.VEHICLE_LEAF]
    return TlsContexts(
        secc=secc_context(
            TlsConfig(
                certificate_chain=secc.chain_pem,
                private_key=secc.key_pem,
                trust_roots=tuple(layout.roots(*VEHICLE_ANCHORS)),
            )
        ),
        evcc=evcc_context(
            TlsConfig(
                certificate_chain=vehicle.chain_pem,
                private_key=vehicle.key_pem,
                trust_roots=tuple(layout.roots(*SECC_ANCHORS)),
                keylog_filename=keylog,
            )
        ),
    )


class Acceptor:
    """The SECC's listening side: every accepted connection's TLS handshake, queued as a link or an error."""

    def __init__(self, context: ssl.SSLContext, timeout: float) -> None:
        self._context = context
        self._timeout = timeout
        self._accepted: asyncio.Queue[TcpLink | BaseException] = asyncio.Queue()
        self._server: asyncio.Server | None = None

    async def start(self, listener: socket.socket) -> None:
        """Serve connections on ``listener`` (a listening socket, possibly made in another namespace)."""
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
        """The next connection whose handshake succeeded; its error (or OSError after the timeout) otherwise."""
        try:
            got = await asyncio.wait_for(self._accepted.get(), self._timeout)
        except TimeoutError:
            raise OSError(f"the SECC accepted no connection within {self._timeout:g} s") from None
        if isinstance(got, BaseException):
            raise got
        return got

    async def close(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


class _LoopbackWiring:
    kind = LinkKind.LOOPBACK

    def __init__(self, tls: TlsContexts, options: WiringOptions) -> None:
        self._tls = tls
        self._options = options
        self._acceptor = Acceptor(tls.secc, options.connect_timeout_s)
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
    prepare_keylog_file(keys).write_text("", encoding="ascii")  # 0600; OpenSSL appends: start this run's log empty
    return keys


@contextlib.asynccontextmanager
async def open_wiring(
    kind: LinkKind, options: WiringOptions | None = None, plan: ProtocolPlan | None = None
) -> AsyncIterator[Wiring]:
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
        wiring: _LoopbackWiring | VethWiring
        if kind is LinkKind.LOOPBACK:
            wiring = _LoopbackWiring(tls, opts)
            iface, netns = "lo", None
        else:
            from harness.virtual.veth import VethWiring

            pair = stack.enter_context(veth_pair("sim"))
            wiring = VethWiring(pair, tls, opts)
            iface, netns = pair.if_a, pair.ns_a
        if opts.pcap is not None:
            stack.enter_context(CaptureSession(iface, opts.pcap, keylog, netns=netns))
        await wiring.start()
        try:
            yield wiring
        finally:
            await wiring.close()
