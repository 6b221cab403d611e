"""Long decodes never stall other sessions (issue "SECC hardening", defect 2).

An authenticated attacker (it holds a vehicle certificate, so strict TLS 1.3 lets it in) runs sessions against
the SECC whose every ScheduleExchangeReq — on the main stream and on the schedule renegotiation side stream, in the
charge loop where the SECC accepts it again and again — is the largest the schema allows (about 104 KB, every value
in its longest encoding). Meanwhile a legitimate EV runs a strict TLS session with 40 charge loops. Every response
the legitimate EV gets must arrive within the SECC's message performance time for its request (0.25 s in the
charge loop [V2G20 table 216], 1.5 s otherwise [table 215]), and the session must complete.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import pytest

from iso15118.codec import encode_message
from iso15118.config import EvccConfig
from iso15118.constants import PayloadType
from iso15118.controller import ControlMode
from iso15118.iso20.kinds import Kind
from iso15118.iso20.profile import ISO20
from iso15118.messages import iso20 as m
from iso15118.security.tls import TlsMode, evcc_context
from iso15118.session.timers import DEFAULT_TIMING
from iso15118.simple import SimpleEV, SimpleEVSE
from iso15118.transport.link import Link
from iso15118.transport.runner import run_evcc_session
from iso15118.transport.secc_server import SeccServer
from iso15118.transport.tcp import connect, make_endpoint
from iso15118.v2gtp import Deframer, frame
from tests.support.netns import ipv6_loopback
from tests.transport_session.helpers import TIMEOUT, TestPki, server_config
from tests.transport_session.test_handshake_flood import _timed_session

pytestmark = pytest.mark.skipif(not ipv6_loopback(), reason="needs an IPv6 loopback (::1)")

_BIG = m.RationalNumber(exponent=-128, value=-32768)


def _maximal_offer() -> m.Scheduled_SEReqControlMode:
    entry = m.EVPowerScheduleEntry(duration=4_294_967_295, power=_BIG)
    schedule = m.EVPowerSchedule(
        time_anchor=2**64 - 1,
        ev_power_schedule_entries=m.EVPowerScheduleEntryList(ev_power_schedule_entry=(entry,) * 1024),
    )
    rule = m.EVPriceRule(energy_fee=_BIG, power_range_start=_BIG)
    stack = m.EVPriceRuleStack(duration=4_294_967_295, ev_price_rule=(rule,) * 8)
    prices = m.EVAbsolutePriceSchedule(
        time_anchor=2**64 - 1,
        currency="EUR",
        price_algorithm="x" * 255,
        ev_price_rule_stacks=m.EVPriceRuleStackList(ev_price_rule_stack=(stack,) * 1024),
    )
    offer = m.EVEnergyOffer(ev_power_schedule=schedule, ev_absolute_price_schedule=prices)
    return m.Scheduled_SEReqControlMode(ev_energy_offer=offer)


class _Inflating:
    """A link that turns every ScheduleExchangeReq the EV sends into a maximal one (same header)."""

    def __init__(self, inner: Link, mode: m.Scheduled_SEReqControlMode) -> None:
        self.inner = inner
        self.mode = mode
        self.deframer = Deframer(max_payload_length=1 << 20)
        self.sent_big = 0

    @property
    def peer(self) -> str:
        return self.inner.peer

    async def send(self, data: bytes) -> None:
        out = b""
        for fr in self.deframer.feed(data):
            msg: Any = ISO20.decode(fr.payload_type, fr.payload) if fr.payload_type != PayloadType.SAP else None
            if msg is not None and ISO20.kind_of(msg) is Kind.ScheduleExchangeReq:
                big = dataclasses.replace(
                    msg, scheduled_se_req_control_mode=self.mode, dynamic_se_req_control_mode=None
                )
                out += frame(fr.payload_type, encode_message(big))
                self.sent_big += 1
            else:
                out += frame(fr.payload_type, fr.payload)
        await self.inner.send(out)

    async def receive(self) -> bytes:
        return await self.inner.receive()

    async def close(self) -> None:
        await self.inner.close()


async def _attack(pki: TestPki, port: int, stop: asyncio.Event, counter: list[int]) -> None:
    mode = _maximal_offer()
    context = evcc_context(pki.evcc_tls())
    config = EvccConfig(
        control_mode=ControlMode.SCHEDULED, max_loops=20, loop_interval_s=0.05, renegotiate_schedule_after=1
    )
    while not stop.is_set():
        link = await connect(make_endpoint("::1", port), context, mode=TlsMode.STRICT, clock=time.time)
        inflating = _Inflating(link, mode)
        try:
            await asyncio.wait_for(run_evcc_session(inflating, SimpleEV(), config), TIMEOUT)
        except (TimeoutError, OSError):
            pass
        counter[0] += inflating.sent_big


@pytest.mark.slow
@pytest.mark.asyncio
async def test_maximal_frames_do_not_stall_a_legitimate_session(pki: TestPki) -> None:
    server = SeccServer(server_config(pki), SimpleEVSE)
    async with server:
        assert server.endpoint is not None
        port = server.endpoint.port
        stop = asyncio.Event()
        sent = [0]
        attacker = asyncio.create_task(_attack(pki, port, stop, sent))
        while sent[0] == 0:  # the attack is under way before the legitimate EV starts
            await asyncio.sleep(0.01)
        trips, ok, _setup = await _timed_session(pki, port)
        stop.set()
        await asyncio.wait_for(attacker, TIMEOUT)
    assert ok, "the legitimate session did not complete"
    t = DEFAULT_TIMING
    late = [
        (n, d)
        for n, d in trips.trips
        if d > (t.secc_performance_loop if n == "AC_ChargeLoopReq" else t.secc_performance)
    ]
    loops = trips.loop_trips()
    print(
        f"maximal ScheduleExchangeReq frames sent during the session: {sent[0]}; legitimate charge loop round trip "
        f"median {sorted(loops)[len(loops) // 2] * 1000:.1f} ms, max {max(loops) * 1000:.1f} ms"
    )
    assert not late, f"responses beyond the SECC's performance time: {late}"
    assert sent[0] >= 5, "the attacker never got its maximal frames in"
