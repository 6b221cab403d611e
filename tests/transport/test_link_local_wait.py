"""A charger started while its link-local address is still tentative (its link just came up) waits for duplicate
address detection to end instead of failing; an address that failed DAD, or none at all, is refused at once."""

from __future__ import annotations

import asyncio
from ipaddress import IPv6Address

import pytest

from iso15118.errors import ConfigError
from iso15118.transport import udp
from iso15118.transport.udp import InterfaceAddress, usable_link_local

_LL = IPv6Address("fe80::1")
_TENTATIVE, _DADFAILED = 0x40, 0x08


def _kernel(states: list[int]) -> object:
    """``interface_addresses`` as the kernel would answer it over successive reads (the last state stays)."""
    reads = iter(states)
    last = [states[-1]]

    def read(iface: str) -> list[InterfaceAddress]:
        last[0] = next(reads, last[0])
        return [InterfaceAddress(address=_LL, prefix_length=64, flags=last[0])]

    return read


def test_a_tentative_address_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(udp, "interface_addresses", _kernel([_TENTATIVE] * 4 + [0]))
    assert asyncio.run(usable_link_local("eth9", wait_s=5.0)) == _LL


def test_dad_that_never_ends_within_the_wait_is_the_tentative_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(udp, "interface_addresses", _kernel([_TENTATIVE]))
    with pytest.raises(ConfigError, match="still tentative"):
        asyncio.run(usable_link_local("eth9", wait_s=0.3))


def test_a_failed_dad_is_refused_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[str] = []
    monkeypatch.setattr(udp, "interface_addresses", lambda iface: reads.append(iface) or _kernel([_DADFAILED])(iface))
    with pytest.raises(ConfigError, match="failed duplicate address detection"):
        asyncio.run(usable_link_local("eth9", wait_s=5.0))
    assert len(reads) == 2  # one look to find the address, one to see it will not become usable: no waiting


def test_no_link_local_address_is_refused_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(udp, "interface_addresses", lambda iface: [])
    with pytest.raises(ConfigError, match="has no IPv6 link-local address"):
        asyncio.run(usable_link_local("eth9", wait_s=5.0))
