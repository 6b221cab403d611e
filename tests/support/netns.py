"""Network namespaces for tests: skip with the reason when they cannot be made, else a fresh veth pair."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from harness.netns import VethPair, netns_available, veth_pair


def require_netns() -> None:
    """Skip the calling test or fixture, saying why, unless network namespaces can be made here."""
    ok, reason = netns_available()
    if not ok:
        pytest.skip(reason)


def veth_or_skip(prefix: str) -> Iterator[VethPair]:
    """A veth pair between two fresh namespaces named after ``prefix``, for ``yield from`` in a fixture."""
    require_netns()
    with veth_pair(prefix) as pair:
        yield pair


def ipv6_loopback() -> bool:
    """True when a socket can bind ::1 (some containers have no IPv6 loopback)."""
    try:
        free_port()
    except OSError:
        return False
    return True


def free_port(*, udp: bool = False) -> int:
    """A TCP (or UDP) port on ::1 that is free right now."""
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM) as sock:
        sock.bind(("::1", 0))
        return int(sock.getsockname()[1])
