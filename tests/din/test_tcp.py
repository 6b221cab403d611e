"""A DIN 70121 session over TCP on ::1 through the real SECC server and EVCC client, and the CurrentDemand round
trip it achieves (printed, not asserted: speed is a benchmark's business).

DIN 70121 has no TLS: plain TCP is its standard transport, so a strict policy without TLS serves it; a strict
runtime that speaks nothing but ISO 15118-20 is still refused plain TCP [V2G20-1264].
"""

from __future__ import annotations

import asyncio
import statistics

import pytest

from iso15118.din.profile import DIN
from iso15118.envelope.kinds import Kind
from iso15118.errors import ConfigError
from iso15118.session.events import Event, ResponseReceived
from iso15118.simple import SimpleEV, SimpleEVSE
from iso15118.transport.evcc_client import EvccClientConfig, run_evcc
from iso15118.transport.policy import TransportPolicy
from iso15118.transport.secc_server import SeccServer, SeccServerConfig
from tests.din.support import DIN_SECC, din_config
from tests.support.netns import ipv6_loopback

pytestmark = pytest.mark.skipif(not ipv6_loopback(), reason="needs an IPv6 loopback (::1)")

TIMEOUT = 30.0
PLAIN = TransportPolicy(tls=None)
LOOPS = 200


class _LoopTimes:
    """The EV's CurrentDemand round trips: from its request's send to its response's arrival."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def observe(self, event: Event, *, role: str, peer: str) -> None:
        if isinstance(event, ResponseReceived) and DIN.kind_of(event.message) is Kind.CurrentDemandRes:
            self.seconds.append(event.elapsed)


def test_strict_plain_tcp_serves_din_but_not_iso20_alone() -> None:
    SeccServer(SeccServerConfig(policy=PLAIN, listen="::1"), SimpleEVSE, secc=DIN_SECC)  # DIN's own transport
    with pytest.raises(ConfigError, match=r"plain TCP.*V2G20-1264"):
        SeccServer(SeccServerConfig(policy=PLAIN, listen="::1"), SimpleEVSE)  # the default: -20 AC and DC only


@pytest.mark.asyncio
async def test_a_din_session_over_tcp_on_loopback(capsys: pytest.CaptureFixture[str]) -> None:
    times = _LoopTimes()
    async with SeccServer(SeccServerConfig(policy=PLAIN, listen="::1"), SimpleEVSE, secc=DIN_SECC) as server:
        client = EvccClientConfig(policy=PLAIN, target=str(server.endpoint))
        run = await asyncio.wait_for(
            run_evcc(client, SimpleEV(), din_config(max_loops=LOOPS), observers=[times]), TIMEOUT
        )
        report = await asyncio.wait_for(server.next_report(), TIMEOUT)
    assert run.ok and report.ok, (run.outcome, report)
    assert run.tls is None and report.tls is None
    assert run.outcome.negotiated["protocol_name"] == "DIN 70121" and run.outcome.loops == LOOPS
    assert report.outcome is not None and report.outcome.loops == LOOPS
    assert len(times.seconds) == LOOPS
    ms = sorted(1000 * s for s in times.seconds)
    with capsys.disabled():
        print(
            f"\nDIN CurrentDemand round trip over TCP ::1, {LOOPS} loops: median {statistics.median(ms):.2f} ms, "
            f"p90 {ms[int(0.9 * len(ms)) - 1]:.2f} ms, max {ms[-1]:.2f} ms"
        )
