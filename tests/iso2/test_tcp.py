"""A -2 AC session over TCP on ::1 between a real SeccServer and run_evcc.

TLS 1.2 for -2 comes with the security work; this runs on the plain-TCP transport policy (tolerant mode), which
-2 allows for EIM but the library's strict policy still refuses by the -20 rule.
"""

from __future__ import annotations

import asyncio

import pytest

from iso15118.session.events import EndReason
from iso15118.simple import SimpleEV, SimpleEVSE
from iso15118.transport.evcc_client import EvccClientConfig, run_evcc
from iso15118.transport.policy import TransportPolicy
from iso15118.transport.secc_server import SeccServer, SeccServerConfig
from tests.iso2.support import SECC, evcc

TIMEOUT = 20.0
PLAIN = TransportPolicy(tls=None, tolerant=True)


@pytest.mark.asyncio
async def test_an_iso2_ac_session_over_tcp() -> None:
    evse = SimpleEVSE()
    async with SeccServer(SeccServerConfig(policy=PLAIN, listen="::1"), lambda: evse, secc=SECC) as server:
        assert server.endpoint is not None
        client = EvccClientConfig(policy=PLAIN, target=str(server.endpoint))
        run = await asyncio.wait_for(run_evcc(client, SimpleEV(), evcc(max_loops=3, loop_interval_s=0.01)), TIMEOUT)
        report = await asyncio.wait_for(server.next_report(), TIMEOUT)
    assert run.ok and report.ok and run.tls is None, (run, report)
    assert report.outcome is not None and report.outcome.ended.reason is EndReason.TERMINATED
    assert run.outcome.negotiated["protocol"] == "urn:iso:15118:2:2013:MsgDef"
    assert run.outcome.negotiated["energy_mode"] == "AC" and run.outcome.loops == report.outcome.loops == 3
    assert evse.charged_wh > 0
