"""The veth link of ``v2g sim``: SLAC, SDP and TLS 1.3 between two network namespaces, one session at a time.

Owns :class:`VethWiring` (made by :func:`harness.virtual.links.open_wiring`). The namespaces come from
:func:`harness.netns.veth_pair` (root only): the truck's end is ``a``, the wall connector's ``b``. Per session
the wall connector's namespace runs the SDP server and SLAC as EVSE while the truck's runs SLAC as EV and
SDP discovery over ``ff02::1``, each in a thread with its own event loop and the PLC modem stand-in; the
truck then connects to the announced link-local address with TLS 1.3 (the -20 profile of the SECC's leaf
checked after the handshake). Sockets are opened inside the namespaces and then used from the simulation's
event loop: a socket stays in the namespace it was made in.
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
from harness.virtual.links import Acceptor, LinkKind, LinkSetup, TlsContexts, WiringOptions
from iso15118.constants import SdpSecurity
from iso15118.errors import SecurityError
from iso15118.security.certs import Purpose
from iso15118.security.tls import HandshakeInfo, check_peer, tls_failure
from iso15118.slac.events import Matched, SlacEvent
from iso15118.transport.link import StreamLink
from iso15118.transport.slac_link import SlacResult, run_slac
from iso15118.transport.tcp import make_endpoint, open_listener
from iso15118.transport.udp import SdpResult, SdpServer, discover_secc

__all__ = ["VethWiring"]

T = TypeVar("T")

_THREAD_TIMEOUT_S: Final = 60.0


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
    """In the truck's namespace: SLAC (EV), SDP discovery, and the TCP socket to connect with.

    No head start for the wall connector is needed: its SLAC keeps asking its modem (the truck's stand-in
    answers over the wire) and the truck repeats CM_SLAC_PARM.REQ; SDP runs only after the match, when the
    wall connector's SDP server (started before its SLAC) is up.
    """
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


class VethWiring:
    kind = LinkKind.VETH

    def __init__(self, pair: VethPair, tls: TlsContexts, options: WiringOptions) -> None:
        self.pair = pair
        self._tls = tls
        self._options = options
        self._acceptor = Acceptor(tls.secc, options.connect_timeout_s)
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
