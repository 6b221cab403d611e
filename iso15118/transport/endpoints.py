"""Where V2G TCP connections go: IPv6 endpoints (``[ADDR%IF]:PORT``) and the SECC's listening socket.

-20 communication is IPv6 only, on link-local addresses of the PLC interface: a link-local address needs the
interface as scope id [fact sheet 1.3]. The SECC's port comes from the IANA dynamic range 49152-65535 and is
announced by SDP. Every bad value is a :class:`~iso15118.errors.ConfigError` naming it.
"""

from __future__ import annotations

import errno
import random
import socket
from dataclasses import dataclass
from ipaddress import IPv6Address

from iso15118.constants import TCP_PORT_RANGE
from iso15118.errors import ConfigError

__all__ = ["Endpoint", "make_endpoint", "open_listener", "parse_endpoint"]

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
