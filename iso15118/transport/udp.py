"""SDP over IPv6 UDP with asyncio: the SECC's discovery server and the EVCC's discovery client.

:class:`SdpServer` listens on UDP port 15118 of ONE interface, in the link-local all-nodes group
``ff02::1`` [V2G20-139], and answers every valid SDP request with the SECC's link-local address, TCP port
and security [V2G20-143..151]; invalid datagrams are logged and ignored. :func:`discover_secc` multicasts
SDP requests on one interface, waits 250 ms per try [V2G20-159], gives up after 50 tries [V2G20-161]
and accepts a late answer to an earlier try [V2G20-126]. Both timing values are parameters, so tests
can shrink them. Also here: the interface lookups both need (index, IPv6 addresses with DAD state).

Binding to one interface uses ``SO_BINDTODEVICE`` (unprivileged on Linux >= 5.7 for an unbound socket);
where that is refused, the server binds to ``ff02::1%iface`` instead, which also pins the interface but
then only receives multicast requests.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv6Address
from pathlib import Path
from typing import Final, cast

from iso15118.constants import SDP_MULTICAST_ADDRESS, SDP_SERVER_PORT, SdpSecurity, SdpTransport
from iso15118.errors import ConfigError, FramingError, V2GError
from iso15118.sdp import (
    SdpRequest,
    SdpResponse,
    pack_request_datagram,
    pack_response_datagram,
    unpack_request_datagram,
    unpack_response_datagram,
)
from iso15118.transport.peerlog import PeerLog, PeerRateLimiter

__all__ = [
    "SDP_MAX_TRIES",
    "SDP_TIMEOUT_PER_TRY",
    "InterfaceAddress",
    "SdpResult",
    "SdpServer",
    "SdpTimeoutError",
    "discover_secc",
    "interface_addresses",
    "interface_index",
    "link_local_address",
    "open_sdp_server_socket",
]

log = logging.getLogger(__name__)

#: V2G_EVCC_SDP_Timeout: how long the EVCC waits for an answer to one request [V2G20-159].
SDP_TIMEOUT_PER_TRY: Final = 0.25
#: The EVCC sends at most this many consecutive SDP requests [V2G20-161].
SDP_MAX_TRIES: Final = 50

_IFA_F_DADFAILED: Final = 0x08
_IFA_F_TENTATIVE: Final = 0x40
_RECV_SIZE: Final = 2048


class SdpTimeoutError(V2GError, TimeoutError):
    """No SECC answered the SDP requests; the message names the interface and the number of tries."""


# --- interfaces ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class InterfaceAddress:
    """One IPv6 address of an interface as the kernel reports it (``/proc/net/if_inet6``)."""

    address: IPv6Address
    prefix_length: int
    flags: int

    @property
    def tentative(self) -> bool:
        """Duplicate address detection is still running: the address cannot be used yet."""
        return bool(self.flags & _IFA_F_TENTATIVE)

    @property
    def dad_failed(self) -> bool:
        """Duplicate address detection found another node with this address."""
        return bool(self.flags & _IFA_F_DADFAILED)

    @property
    def usable(self) -> bool:
        """The address can be bound and used as a source address."""
        return not (self.tentative or self.dad_failed)


def interface_index(iface: str) -> int:
    """The index of network interface ``iface``; :class:`ConfigError` if there is none."""
    try:
        return socket.if_nametoindex(iface)
    except OSError:
        raise ConfigError(f"no network interface named {iface!r} (see `ip link`)") from None


def interface_addresses(iface: str) -> list[InterfaceAddress]:
    """Every IPv6 address of ``iface`` in the calling thread's network namespace (Linux only)."""
    # thread-self, not self: a thread that joined another namespace must see that namespace's addresses.
    table = Path("/proc/thread-self/net/if_inet6")
    if not table.exists():
        table = Path("/proc/net/if_inet6")
    try:
        lines = table.read_text().splitlines()
    except OSError:  # IPv6 disabled in the kernel: no table at all
        return []
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) == 6 and fields[5] == iface:
            found.append(
                InterfaceAddress(
                    address=IPv6Address(bytes.fromhex(fields[0])),
                    prefix_length=int(fields[2], 16),
                    flags=int(fields[4], 16),
                )
            )
    return found


def link_local_address(iface: str) -> IPv6Address:
    """The first usable link-local IPv6 address of ``iface``; :class:`ConfigError` explains its absence."""
    link_local = [a for a in interface_addresses(iface) if a.address.is_link_local]
    for entry in link_local:
        if entry.usable:
            return entry.address
    if link_local:
        state = "failed duplicate address detection" if link_local[0].dad_failed else "is still tentative (DAD)"
        raise ConfigError(f"the link-local address {link_local[0].address} of {iface} {state}")
    raise ConfigError(f"{iface} has no IPv6 link-local address (is the link up and IPv6 enabled on it?)")


DAD_WAIT_S: Final = 5.0
"""How long a charger that starts with its link just up waits for duplicate address detection to end: the kernel
keeps a new link-local address tentative for about 1-2 s (one probe, RetransTimer 1 s, RFC 4862), and a charger
booting with its PLC link is in exactly that state."""


async def usable_link_local(iface: str, wait_s: float = DAD_WAIT_S) -> IPv6Address:
    """:func:`link_local_address`, waiting up to ``wait_s`` while the address is still tentative; an interface
    without one, or whose address failed DAD, is refused at once."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        try:
            return link_local_address(iface)
        except ConfigError:
            entries = [a for a in interface_addresses(iface) if a.address.is_link_local]
            tentative = bool(entries) and not any(a.dad_failed for a in entries)
            if not tentative or loop.time() >= deadline:
                raise
        # The kernel announces the end of DAD only over netlink; a short poll is enough for a once-off start.
        await asyncio.sleep(0.1)


def _scoped(address: str, port: int, index: int) -> tuple[str, int, int, int]:
    """A socket address, with the interface as scope id when the address needs one."""
    ip = IPv6Address(address)
    scope = index if ip.is_link_local or ip.is_multicast else 0
    return (str(ip), port, 0, scope)


def _bind_to_device(sock: socket.socket, iface: str) -> bool:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    except PermissionError:
        return False
    return True


def open_sdp_server_socket(iface: str, port: int = SDP_SERVER_PORT) -> socket.socket:
    """Open a non-blocking UDP socket that receives SDP requests on ``iface`` only.

    Bound to ``[::]:port`` on the device (or to ``ff02::1%iface`` where ``SO_BINDTODEVICE`` is refused)
    and joined to ``ff02::1`` on that interface. Raises :class:`ConfigError` for an unknown interface and
    :class:`OSError` naming the interface and port when the port cannot be bound.
    """
    index = interface_index(iface)
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            if _bind_to_device(sock, iface):
                sock.bind(("::", port))
            else:
                log.info(
                    "SO_BINDTODEVICE refused; binding to %s%%%s (multicast only)",
                    SDP_MULTICAST_ADDRESS,
                    iface,
                )
                sock.bind(_scoped(SDP_MULTICAST_ADDRESS, port, index))
        except OSError as exc:
            raise OSError(exc.errno, f"cannot bind UDP port {port} on {iface}: {exc.strerror}") from exc
        mreq = socket.inet_pton(socket.AF_INET6, SDP_MULTICAST_ADDRESS) + struct.pack("@I", index)
        try:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
        except OSError as exc:
            # The kernel delivers ff02::1 to unjoined sockets too (IPV6_MULTICAST_ALL), so go on.
            log.warning("cannot join %s on %s (%s); relying on all-nodes delivery", SDP_MULTICAST_ADDRESS, iface, exc)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


# --- server ----------------------------------------------------------------------------------------


class _ServerProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: SdpServer) -> None:
        self._server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # CPython 3.11's selector datagram transport does not subclass DatagramTransport: cast, not check.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        answer = self._server.answer(data, peer=str(addr[0]))
        if answer is not None and self.transport is not None:
            # Unicast back to the request's source address and port [V2G20-143..151].
            self.transport.sendto(answer, addr)

    def error_received(self, exc: Exception) -> None:
        self._server.peer_log.warning(self._server.iface, "SDP server on %s: %s", self._server.iface, exc)


class SdpServer:
    """The SECC's SDP server on one interface.

    ``tcp_port`` is announced in every response, with the security the EV asked for when it is among
    ``security`` (one value, or those the SECC serves, preferred first), else the first of them (an SECC
    serving ISO 15118-20 over TLS and DIN 70121 over plain TCP on one port answers each EV as it asked);
    ``address`` defaults to the interface's link-local address. Use ``async with SdpServer(...)`` or
    :meth:`start` / :meth:`stop`.
    ``port`` is 15118 except in tests. :meth:`answer` is the socket-free request handler. Rejected
    datagrams are logged at WARNING, rate-limited per sender address by ``limiter`` (the SECC server shares
    its own, so that SDP and TCP lines of one peer count together).
    """

    def __init__(
        self,
        iface: str,
        *,
        tcp_port: int,
        security: SdpSecurity | Sequence[SdpSecurity] = SdpSecurity.TLS,
        address: IPv6Address | str | None = None,
        port: int = SDP_SERVER_PORT,
        limiter: PeerRateLimiter | None = None,
    ) -> None:
        self.iface = iface
        self.peer_log = PeerLog(log, limiter)
        self.port = port
        self.tcp_port = tcp_port
        self.securities = (security,) if isinstance(security, SdpSecurity) else tuple(security)
        if not self.securities:
            raise ConfigError("the SDP server needs a security to announce (TLS and/or none)")
        self.security = self.securities[0]
        """The security announced unless the EV asks for another one the SECC serves."""
        self._address = None if address is None else IPv6Address(address)
        self._responses: dict[SdpSecurity, bytes] = {}
        self._transport: asyncio.DatagramTransport | None = None
        self.answered = 0
        """Number of requests answered so far."""
        self.ignored = 0
        """Number of invalid datagrams ignored so far."""

    @property
    def response(self) -> SdpResponse:
        """The response this server announces by default (resolves the link-local address if none was given)."""
        return self.response_for(self.security)

    def response_for(self, security: SdpSecurity) -> SdpResponse:
        """The response to a request asking for ``security``."""
        answered = security if security in self.securities else self.security
        address = self._address if self._address is not None else link_local_address(self.iface)
        return SdpResponse(address=address, port=self.tcp_port, security=answered, transport=SdpTransport.TCP)

    def answer(self, datagram: bytes, *, peer: str = "?") -> bytes | None:
        """The response datagram for a received datagram, or ``None`` (logged) if it is no valid request."""
        try:
            request = unpack_request_datagram(datagram)
        except FramingError as exc:
            self.ignored += 1
            self.peer_log.warning(peer, "SDP server on %s: rejected a datagram from %s: %s", self.iface, peer, exc)
            return None
        response = self._responses.get(request.security)
        if response is None:
            response = self._responses[request.security] = pack_response_datagram(self.response_for(request.security))
        self.answered += 1
        return response

    async def start(self) -> None:
        """Bind the socket and start answering; raises if the interface or port cannot be used."""
        if self._transport is not None:
            return
        announced = self.response  # fails early (ConfigError) without a usable link-local address
        sock = open_sdp_server_socket(self.iface, self.port)
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_datagram_endpoint(lambda: _ServerProtocol(self), sock=sock)
        except BaseException:
            sock.close()
            raise
        self._transport = transport
        served = "/".join(s.name for s in self.securities)
        log.info("SDP server on %s:%d announces %s (security served: %s)", self.iface, self.port, announced, served)

    async def stop(self) -> None:
        """Stop answering and release the socket (idempotent)."""
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
            await asyncio.sleep(0)  # let the loop run the transport's connection_lost callback

    @property
    def serving(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._transport is not None

    async def __aenter__(self) -> SdpServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


# --- client ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SdpResult:
    """What discovery found: the SECC's response, where it came from, and how many requests it took."""

    response: SdpResponse
    iface: str
    scope_id: int
    tries: int
    responder: str

    @property
    def host(self) -> str:
        """The SECC address to connect to, with ``%iface`` for a link-local address."""
        address = self.response.address
        return f"{address}%{self.iface}" if address.is_link_local else str(address)

    @property
    def sockaddr(self) -> tuple[str, int, int, int]:
        """The SECC's TCP endpoint as an AF_INET6 socket address (scope id set for link-local)."""
        return _scoped(str(self.response.address), self.response.port, self.scope_id)


def _open_client_socket(iface: str, index: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        _bind_to_device(sock, iface)  # without it, answers still reach our port; only the egress is pinned
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
        sock.bind(("::", 0))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def discover_secc(
    iface: str,
    *,
    security: SdpSecurity = SdpSecurity.TLS,
    timeout_per_try: float = SDP_TIMEOUT_PER_TRY,
    max_tries: int = SDP_MAX_TRIES,
    destination: str = SDP_MULTICAST_ADDRESS,
    port: int = SDP_SERVER_PORT,
) -> SdpResult:
    """Find the SECC on ``iface`` with SDP and return its answer.

    Sends a request to ``destination`` (``ff02::1`` scoped to ``iface``; tests may use a unicast
    address), waits ``timeout_per_try`` seconds for an answer, and repeats up to ``max_tries`` times.
    One socket serves all tries, so a late answer to an earlier request is accepted [V2G20-126].
    Invalid datagrams are logged and ignored. Raises :class:`SdpTimeoutError` when no valid answer came.
    """
    if timeout_per_try <= 0 or max_tries < 1:
        raise ConfigError(f"SDP needs timeout_per_try > 0 and max_tries >= 1, got {timeout_per_try}, {max_tries}")
    index = interface_index(iface)
    target = _scoped(destination, port, index)
    request = pack_request_datagram(SdpRequest(security=security, transport=SdpTransport.TCP))
    loop = asyncio.get_running_loop()
    with _open_client_socket(iface, index) as sock:
        for tries in range(1, max_tries + 1):
            try:
                await loop.sock_sendto(sock, request, target)
            except OSError as exc:
                raise OSError(
                    exc.errno, f"cannot send an SDP request to {destination} on {iface}: {exc.strerror}"
                ) from exc
            deadline = loop.time() + timeout_per_try  # [V2G20-159]
            while (remaining := deadline - loop.time()) > 0:
                try:
                    data, addr = await asyncio.wait_for(loop.sock_recvfrom(sock, _RECV_SIZE), remaining)
                except TimeoutError:
                    break
                try:
                    response = unpack_response_datagram(data)
                except FramingError as exc:
                    log.info("SDP client on %s: ignoring datagram from %s: %s", iface, addr[0], exc)
                    continue
                return SdpResult(response=response, iface=iface, scope_id=index, tries=tries, responder=str(addr[0]))
    # [V2G20-161]: at most max_tries consecutive requests, then give up.
    raise SdpTimeoutError(
        f"no SECC answered SDP on {iface}: {max_tries} requests sent, {timeout_per_try:g} s wait each [V2G20-161]"
    )
