"""An SECC found with SDP is asked again before every later connection (as an EV does), so that a case never
connects to the TCP server of the previous session, which an SECC like Josev still has open while it closes."""

from __future__ import annotations

import asyncio
from ipaddress import IPv6Address
from typing import Any

import pytest

from harness.conformance import targets
from harness.conformance.targets import RemoteSecc
from iso15118.constants import SdpSecurity
from iso15118.sdp import SdpResponse
from iso15118.transport.udp import SdpResult


def test_sdp_before_every_later_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    ports = iter((50001, 50002, 50003))
    asked: list[int] = []
    connected: list[int] = []

    async def discover(iface: str, **_: Any) -> SdpResult:
        port = next(ports)
        asked.append(port)
        response = SdpResponse(address=IPv6Address("fe80::1"), port=port, security=SdpSecurity.NONE)
        return SdpResult(response=response, iface=iface, scope_id=1, tries=1, responder="fe80::1")

    async def connect(endpoint: Any, context: Any, *, timeout: float) -> Any:
        connected.append(endpoint.port)
        return object()

    monkeypatch.setattr(targets, "discover_secc", discover)
    monkeypatch.setattr(targets, "open_connection", connect)
    monkeypatch.setattr(targets, "make_endpoint", lambda host, port, iface: type("E", (), {"port": port})())

    async def run() -> None:
        secc = RemoteSecc(iface="veth0", tls=False)
        await secc.locate()
        for _ in range(3):
            await secc.connect(None)

    asyncio.run(run())
    assert asked == [50001, 50002, 50003]
    assert connected == [50001, 50002, 50003]
