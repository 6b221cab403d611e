"""ISO 15118-2 AC and DC sessions over TCP on ::1 between a real SeccServer and run_evcc, and the charge-loop
round trip they achieve (printed, not asserted: speed is a benchmark's business).

TLS 1.2 for -2 is the security work's; these run on the plain-TCP transport policy (tolerant mode, the standard's
timers), which -2 allows for EIM but the library's strict policy refuses by the -20 rule. Choosing the transport
per negotiated protocol is issue 14's negotiation work.
"""

from __future__ import annotations

import asyncio
import statistics

import pytest

from iso15118.envelope.kinds import Kind
from iso15118.iso2.profile import ISO2
from iso15118.session.events import EndReason, Event, ResponseReceived
from iso15118.session.selection import EnergyFamily
from iso15118.simple import SimpleEV, SimpleEVSE
from iso15118.transport.evcc_client import EvccClientConfig, run_evcc
from iso15118.transport.policy import TransportPolicy
from iso15118.transport.secc_server import SeccServer, SeccServerConfig
from tests.iso2.support import SECC, evcc
from tests.support.netns import ipv6_loopback

pytestmark = pytest.mark.skipif(not ipv6_loopback(), reason="needs an IPv6 loopback (::1)")

TIMEOUT = 30.0
PLAIN = TransportPolicy(tls=None, tolerant=True, timing_scale=1.0)
LOOPS = 100
_LOOP = {EnergyFamily.AC: Kind.ChargingStatusRes, EnergyFamily.DC: Kind.CurrentDemandRes}


class _LoopTimes:
    """The EV's charge-loop round trips: from its request's send to its response's arrival."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.seconds: list[float] = []

    async def observe(self, event: Event, *, role: str, peer: str) -> None:
        if isinstance(event, ResponseReceived) and ISO2.kind_of(event.message) is self.kind:
            self.seconds.append(event.elapsed)


@pytest.mark.asyncio
@pytest.mark.parametrize("family", [EnergyFamily.AC, EnergyFamily.DC])
async def test_an_iso2_session_over_tcp(family: EnergyFamily, capsys: pytest.CaptureFixture[str]) -> None:
    evse, times = SimpleEVSE(), _LoopTimes(_LOOP[family])
    config = evcc(energy=family, max_loops=LOOPS, precharge_interval_s=0.0)
    async with SeccServer(SeccServerConfig(policy=PLAIN, listen="::1"), lambda: evse, secc=SECC) as server:
        assert server.endpoint is not None
        client = EvccClientConfig(policy=PLAIN, target=str(server.endpoint))
        run = await asyncio.wait_for(run_evcc(client, SimpleEV(), config, observers=[times]), TIMEOUT)
        report = await asyncio.wait_for(server.next_report(), TIMEOUT)
    assert run.ok and report.ok and run.tls is None and report.tls is None, (run, report)
    assert report.outcome is not None and report.outcome.ended.reason is EndReason.TERMINATED
    assert run.outcome.negotiated["protocol_name"] == "ISO 15118-2"
    assert run.outcome.negotiated["energy_mode"] == str(family)
    assert run.outcome.loops == report.outcome.loops == LOOPS == len(times.seconds)
    assert evse.charged_wh > 0
    ms = sorted(1000 * s for s in times.seconds)
    with capsys.disabled():
        print(
            f"\n-2 {family} {_LOOP[family].value[:-3]} round trip over TCP ::1, {LOOPS} loops: median "
            f"{statistics.median(ms):.2f} ms, p90 {ms[int(0.9 * len(ms)) - 1]:.2f} ms, max {ms[-1]:.2f} ms"
        )
