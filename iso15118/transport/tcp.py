"""TCP and TLS for V2G sessions: endpoints, the listening socket, the handshake on both sides, the link.

:func:`parse_endpoint` reads ``[ADDR%IF]:PORT``; :func:`open_listener` binds an IPv6 TCP socket (a link-local
address needs its interface as scope id [fact sheet 1.3]; the port comes from the IANA dynamic range
49152-65535 unless one is given); :func:`accept_connection` (SECC) and :func:`connect` (EVCC) turn a TCP
connection into a :class:`TcpLink`, running the TLS handshake when given a context and checking the peer's
leaf with :func:`~iso15118.security.tls.check_peer` afterwards. Every failure is a
:class:`~iso15118.errors.SecurityError` (handshake, via :func:`~iso15118.security.tls.tls_failure`) or an
:class:`OSError` (TCP) whose message names the peer. Whether plain TCP is allowed at all is decided by
:mod:`iso15118.transport.policy`, not here.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import errno
import random
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv6Address

from iso15118.constants import TCP_PORT_RANGE
from iso15118.errors import ConfigError, SecurityError
from iso15118.security.certs import Purpose
from iso15118.security.tls import HandshakeInfo, TlsMode, check_peer, tls_failure
from iso15118.transport.link import LinkClosed

__all__ = ["Endpoint", "TcpLink", "accept_connection", "connect", "make_endpoint", "open_listener", "parse_endpoint"]

_BIND_TRIES = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """An IPv6 TCP endpoint; ``scope_id`` is the interface index of a link-local address (0 otherwise)."""

    address: IPv6Address
    port: int
    scope_id: int = 0
    iface: str | None = None

    @property
    def sockaddr(self) -> tuple[str, int, int, int]:
        """The AF_INET6 socket address."""
        return (str(self.address), self.port, 0, self.scope_id)

    def __str__(self) -> str:
        scope = f"%{self.iface or self.scope_id}" if self.scope_id else ""
        return f"[{self.address}{scope}]:{self.port}"


def _scope_of(address: IPv6Address, iface: str | None) -> tuple[int, str | None]:
    if not (address.is_link_local or address.is_multicast):
        return 0, iface
    if iface is None:
        raise ConfigError(f"the link-local address {address} needs an interface: write {address}%IFACE")
    try:
        return socket.if_nametoindex(iface), iface
    except OSError:
        raise ConfigError(f"no network interface named {iface!r} (see `ip link`)") from None


def make_endpoint(address: str, port: int, *, iface: str | None = None) -> Endpoint:
    """An endpoint from an address (``ADDR`` or ``ADDR%IF``; ``iface`` scopes a bare link-local address)."""
    text, _, scope = address.partition("%")
    try:
        ip = IPv6Address(text)
    except ValueError:
        raise ConfigError(f"{address!r} is not an IPv6 address (V2G communication is IPv6 only)") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"TCP port {port} is out of range 0-65535")
    scope_id, name = _scope_of(ip, scope or iface)
    return Endpoint(address=ip, port=port, scope_id=scope_id, iface=name)


def parse_endpoint(text: str, *, iface: str | None = None) -> Endpoint:
    """Parse ``[ADDR%IF]:PORT`` (``[::1]:50000``, ``[fe80::1%eth1]:50000``) into an :class:`Endpoint`.

    ``ADDR%IF:PORT`` without brackets is accepted too when the scope makes it unambiguous. A link-local
    address without ``%IF`` takes ``iface``. Raises :class:`ConfigError` naming what is wrong.
    """
    value = text.strip()
    if value.startswith("["):
        host, sep, port_text = value[1:].rpartition("]:")
    elif "%" in value:
        host, sep, port_text = value.rpartition(":")
    else:
        host, sep, port_text = "", "", ""
    if not sep or not host:
        raise ConfigError(f"target {text!r}: expected [ADDRESS%IFACE]:PORT, e.g. [fe80::1%eth1]:50000")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ConfigError(f"target {text!r}: port must be a number in 1-65535, got {port_text!r}")
    return make_endpoint(host, int(port_text), iface=iface)


def open_listener(endpoint: Endpoint, *, backlog: int = 1024) -> socket.socket:
    """Bind and listen on ``endpoint``; port 0 picks a free port of the dynamic range 49152-65535.

    Raises :class:`OSError` naming the address when it cannot be bound.
    """
    low, high = TCP_PORT_RANGE
    ports = [endpoint.port] if endpoint.port else random.sample(range(low, high + 1), _BIND_TRIES)
    last: OSError | None = None
    for port in ports:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind((str(endpoint.address), port, 0, endpoint.scope_id))
            sock.listen(backlog)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            last = exc
            if exc.errno == errno.EADDRINUSE and not endpoint.port:
                continue
            where = Endpoint(address=endpoint.address, port=port, scope_id=endpoint.scope_id, iface=endpoint.iface)
            raise OSError(exc.errno, f"cannot listen on {where}: {exc.strerror}") from exc
        return sock
    assert last is not None
    raise OSError(last.errno, f"no free TCP port in {low}-{high} on [{endpoint.address}] after {_BIND_TRIES} tries")


class TcpLink:
    """A :class:`~iso15118.transport.link.Link` over a TCP or TLS stream that remembers why it broke.

    ``tls`` describes the handshake (None for plain TCP); ``error`` is the transport error that ended the
    link, e.g. a TLS alert that arrived after the handshake (TLS 1.3 sends a refusal of the client's
    certificate only then).
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, peer: str,
                 tls: HandshakeInfo | None = None) -> None:
        self._reader = reader
        self._writer = writer
        self._peer = peer
        self._closed = False
        self.tls = tls
        self.error: OSError | None = None

    @property
    def peer(self) -> str:
        return self._peer

    async def send(self, data: bytes) -> None:
        if self._closed or self._writer.is_closing():
            raise LinkClosed("link is closed")
        self._writer.write(data)
        try:
            await self._writer.drain()
        except OSError as exc:
            self.error = self.error or exc
            raise LinkClosed(str(exc)) from exc

    async def receive(self) -> bytes:
        if self._closed:
            return b""
        try:
            return await self._reader.read(65536)
        except OSError as exc:  # ssl.SSLError and ConnectionError are OSErrors
            self.error = self.error or exc
            return b""

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(self._writer.wait_closed(), 2.0)

    def failure(self) -> SecurityError | None:
        """The link's TLS error as a clear :class:`SecurityError` (None when it broke for another reason)."""
        return tls_failure(self.error) if isinstance(self.error, ssl.SSLError) else None


def _peer_name(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"[{peer[0]}]:{peer[1]}"
    return str(peer)


async def _handshake(
    writer: asyncio.StreamWriter,
    context: ssl.SSLContext,
    *,
    purpose: Purpose,
    mode: TlsMode,
    timeout: float,
    clock: Callable[[], float],
    peer: str,
) -> HandshakeInfo:
    try:
        # No server name: link-local peers have none, and the EVCC checks no hostname.
        await writer.start_tls(context, ssl_handshake_timeout=timeout)
    except ssl.SSLError as exc:
        raise tls_failure(exc) from None
    except (OSError, TimeoutError) as exc:
        raise SecurityError(f"TLS handshake with {peer} failed: {exc or type(exc).__name__}") from None
    ssl_object = writer.get_extra_info("ssl_object")
    if not isinstance(ssl_object, ssl.SSLObject):
        raise SecurityError(f"TLS handshake with {peer}: no TLS session after the handshake")
    # The -20 profile of the peer's leaf, which OpenSSL does not know [V2G20-1264].
    return check_peer(ssl_object, purpose=purpose, now=dt.datetime.fromtimestamp(clock(), tz=dt.UTC), mode=mode)


async def accept_connection(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    context: ssl.SSLContext | None,
    *,
    mode: TlsMode = TlsMode.STRICT,
    handshake_timeout: float = 10.0,
    clock: Callable[[], float],
) -> TcpLink:
    """SECC side: run the TLS handshake on an accepted connection (unless ``context`` is None).

    Raises :class:`SecurityError` (the connection is closed) when the handshake or the peer check fails.
    """
    peer = _peer_name(writer)
    if context is None:
        return TcpLink(reader, writer, peer=peer)
    try:
        info = await _handshake(writer, context, purpose=Purpose.VEHICLE_TLS, mode=mode, timeout=handshake_timeout,
                                clock=clock, peer=peer)
    except BaseException:
        writer.close()
        raise
    return TcpLink(reader, writer, peer=peer, tls=info)


async def connect(
    endpoint: Endpoint,
    context: ssl.SSLContext | None,
    *,
    mode: TlsMode = TlsMode.STRICT,
    timeout: float = 10.0,
    clock: Callable[[], float],
) -> TcpLink:
    """EVCC side: connect to ``endpoint`` and run the TLS handshake (unless ``context`` is None).

    Raises :class:`OSError` when TCP fails and :class:`SecurityError` when TLS or the peer check fails.
    """
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, endpoint.sockaddr), timeout)
        except TimeoutError:
            raise OSError(errno.ETIMEDOUT, f"cannot connect to {endpoint}: no answer within {timeout:g} s") from None
        except OSError as exc:
            raise OSError(exc.errno, f"cannot connect to {endpoint}: {exc.strerror or exc}") from None
        reader, writer = await asyncio.open_connection(sock=sock)
    except BaseException:
        sock.close()
        raise
    peer = str(endpoint)
    if context is None:
        return TcpLink(reader, writer, peer=peer)
    try:
        info = await _handshake(writer, context, purpose=Purpose.SECC_TLS, mode=mode, timeout=timeout,
                                clock=clock, peer=peer)
    except BaseException:
        writer.close()
        raise
    return TcpLink(reader, writer, peer=peer, tls=info)
