"""The veth link of ``v2g sim``: SLAC, SDP and TCP/TLS between two network namespaces, one session at a time.

Owns :class:`VethWiring` (made by :func:`harness.virtual.links.open_wiring`). The namespaces come from
:func:`harness.netns.veth_pair` (root only): the truck's end is ``a``, the wall connector's ``b``. Per session
the wall connector's namespace runs the SDP server and SLAC as EVSE while the truck's runs SLAC as EV and
SDP discovery over ``ff02::1``, each in a thread with its own event loop and the PLC modem stand-in; the
truck asks SDP for the security of its most preferred protocol, the charger answers with what it serves
(:mod:`harness.virtual.transports`), and the truck connects to the announced link-local address: TLS 1.3 for
ISO 15118-20 (the -20 profile of the SECC's leaf checked after the handshake), then TLS 1.2 for -2 should that
fail, or plain TCP for -2 and DIN 70121 when the charger announced no TLS. Sockets are opened inside the
namespaces and then used from the simulation's event loop: a socket stays in the namespace it was made in.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import ssl
import threading
import time
from typing import Final, TypeVar

from harness.netns import VethPair, join_result, run_in_netns
from harness.virtual.links import LinkKind, LinkSetup, WiringOptions, setup_of
from harness.virtual.transports import Acceptor, Identities, connect_truck
from iso15118.constants import SdpSecurity
from iso15118.errors import SecurityError
from iso15118.security.certs import Purpose
from iso15118.security.tls import HandshakeInfo, TlsMode, check_peer, tls_failure
from iso15118.slac.events import Matched, SlacEvent
from iso15118.transport.evcc_client import Attempt
from iso15118.transport.link import Link, StreamLink
from iso15118.transport.slac_link import SlacResult, run_slac
from iso15118.transport.tcp import make_endpoint, open_listener
from iso15118.transport.udp import SdpResult, SdpServer, discover_secc

__all__ = ["VethWiring"]

T = TypeVar("T")

_THREAD_TIMEOUT_S: Final = 60.0
_SOCKETS: Final = 3
"""Sockets the truck makes in its namespace per session: one per possible attempt (TLS 1.3, TLS 1.2, TCP)."""


async def _evse_side(
    iface: str, tcp_port: int, security: tuple[SdpSecurity, ...], stop: threading.Event, timeout: float
) -> Matched | None:
    """In the wall connector's namespace: SDP server and SLAC (EVSE) until the truck has found us."""
    matched: list[Matched] = []

    def seen(event: SlacEvent) -> None:
        if isinstance(event, Matched):
            matched.append(event)

    async with SdpServer(iface, tcp_port=tcp_port, security=security):
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


async def _ev_side(
    iface: str, security: SdpSecurity, timeout: float
) -> tuple[SlacResult, SdpResult, list[socket.socket]]:
    """In the truck's namespace: SLAC (EV), SDP discovery asking for ``security``, and TCP sockets to connect with
    (one per possible attempt).

    No head start for the wall connector is needed: its SLAC keeps asking its modem (the truck's stand-in
    answers over the wire) and the truck repeats CM_SLAC_PARM.REQ; SDP runs only after the match, when the
    wall connector's SDP server (started before its SLAC) is up.
    """
    slac = await run_slac(iface, "ev", modem_standin=True, timeout=timeout)
    sdp = await discover_secc(iface, security=security)
    sockets = []
    for _ in range(_SOCKETS):
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        sockets.append(sock)
    return slac, sdp, sockets


async def _client(
    sock: socket.socket, sdp: SdpResult, context: ssl.SSLContext | None, mode: TlsMode, timeout: float
) -> tuple[StreamLink, HandshakeInfo | None]:
    """Connect a socket made in the truck's namespace to the SECC; with a context, TLS and the check of the SECC's
    leaf by the generation's profile (``mode``: strict -20 [V2G20-1264], or -2)."""
    loop = asyncio.get_running_loop()
    peer = f"[{sdp.host}]:{sdp.response.port}"
    try:
        await asyncio.wait_for(loop.sock_connect(sock, sdp.sockaddr), timeout)
    except (OSError, TimeoutError) as exc:
        sock.close()
        raise OSError(f"cannot connect to {peer}: {exc or type(exc).__name__}") from None
    if context is None:
        reader, writer = await asyncio.open_connection(sock=sock)
        return StreamLink(reader, writer), None
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
        info = check_peer(ssl_object, purpose=Purpose.SECC_TLS, now=dt.datetime.now(dt.UTC), mode=mode)
    except BaseException:
        await link.close()
        raise
    return link, info


async def _join(thread: threading.Thread, box: list[T]) -> T:
    """The result of a :func:`~harness.netns.run_in_netns` thread, waited for without blocking the loop."""
    return await asyncio.to_thread(join_result, thread, box, _THREAD_TIMEOUT_S)


class VethWiring:
    kind = LinkKind.VETH

    def __init__(self, pair: VethPair, identities: Identities, options: WiringOptions) -> None:
        self.pair = pair
        self._ids = identities
        self._options = options
        self._acceptor = Acceptor(identities, options.connect_timeout_s)
        self._port = 0
        self.description = (
            f"raw Ethernet over veth {pair.if_a} <-> {pair.if_b} (SLAC, SDP; {self._acceptor.describe()})"
        )

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
        served, asked = self._ids.served(), self._ids.plan.sdp_security
        evse = run_in_netns(
            pair.ns_b, lambda: asyncio.run(_evse_side(pair.if_b, self._port, served, stop, opts.slac_timeout_s))
        )
        ev = run_in_netns(pair.ns_a, lambda: asyncio.run(_ev_side(pair.if_a, asked, opts.slac_timeout_s)))
        try:
            slac, sdp, sockets = await _join(*ev)
        finally:
            stop.set()
            with contextlib.suppress(Exception):  # an EVSE-side failure shows as the truck's failure
                await _join(*evse)
        spare = list(sockets)

        async def opener(attempt: Attempt, context: ssl.SSLContext | None) -> tuple[Link, HandshakeInfo | None]:
            return await _client(spare.pop(0), sdp, context, attempt.mode, opts.connect_timeout_s)

        try:
            truck, secc = await connect_truck(self._ids, sdp.response.security, self._acceptor, opener)
        finally:
            for sock in spare:
                sock.close()
        return setup_of(
            self._ids, truck.link, secc, truck.tls, truck.transport, truck.fallbacks, started, slac=slac, sdp=sdp
        )

    async def close(self) -> None:
        await self._acceptor.close()
