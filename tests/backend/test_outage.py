"""The CSMS stops for 30 s in the middle of a session and comes back: every TransactionEvent arrives once, in order,
with no gap in seqNo; those generated meanwhile are flagged offline; the session never notices.

The outage is 30 s on the station's clock, which runs 30 times faster than real time here (meter values every 5
station seconds), so the scenario takes about a second; nothing waits for real time to pass -- the test waits for
the station's clock and outbox to show the outage, then for the delivery.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from harness.csms import CsmsSettings, ReferenceCsms
from iso15118.backend.transactions import timestamp
from iso15118.config import EvccConfig
from iso15118.simple import SimpleEV, SimpleEVSE
from iso15118.transport.link import memory_pair
from iso15118.transport.runner import run_evcc_session, serve_secc_session
from tests.backend.support import charger, until

SPEEDUP = 30.0
OUTAGE_S = 30.0


class StationClock:
    """POSIX time from now on, running SPEEDUP times faster than real time."""

    def __init__(self) -> None:
        self.t0, self.m0 = time.time(), time.monotonic()

    def __call__(self) -> float:
        return self.t0 + SPEEDUP * (time.monotonic() - self.m0)


def _register(event: dict[str, Any], measurand: str = "Energy.Active.Import.Register") -> float:
    return next(float(v["value"]) for v in event["meterValue"][0]["sampledValue"] if v["measurand"] == measurand)


def test_a_30_s_csms_outage_loses_nothing_and_flags_what_was_generated_offline() -> None:
    async def main() -> None:
        clock = StationClock()
        csms = ReferenceCsms(CsmsSettings())
        await csms.start()
        async with charger(csms, clock=clock, sample_interval_s=5.0) as c:
            a, b = memory_pair()
            handles: list[Any] = []
            evse = SimpleEVSE()
            secc_task = asyncio.create_task(
                serve_secc_session(
                    b, c.backend.controller(evse), observers=[c.backend.observer], on_start=handles.append
                )
            )
            evcc_task = asyncio.create_task(run_evcc_session(a, SimpleEV(), EvccConfig(loop_interval_s=0.02)))
            await until(lambda: len(csms.records.transaction_events()) >= 3, "three events before the outage")
            await csms.stop()
            down_at = clock()
            await until(lambda: not c.link.online, "the station to notice the outage")
            await until(lambda: clock() - down_at >= OUTAGE_S and c.outbox.pending >= 5, "30 s of outage")
            waiting = c.outbox.pending
            await csms.start()
            await until(lambda: c.link.online, "the station to reconnect")
            up_at = clock()
            await until(lambda: c.outbox.pending == 0, "the outbox to drain")
            await until(lambda: len(csms.records.transaction_events()) >= 3 + waiting + 2, "events after the outage")
            assert not evcc_task.done() and not secc_task.done()  # the session went on all along
            await handles[0].request_stop("the scenario ends")
            evcc, secc = await evcc_task, await secc_task
            assert evcc.ok and secc.ended_regularly  # the charger ended it (EVSENotification Terminate)
            await until(lambda: c.outbox.pending == 0, "the last events")
            events = csms.records.transaction_events("CS1")
            assert [e["seqNo"] for e in events] == list(range(len(events)))  # once each, in order, no gap
            assert len({e["transactionInfo"]["transactionId"] for e in events}) == 1
            assert events[0]["eventType"] == "Started" and events[-1]["eventType"] == "Ended"
            assert sum(e["_repeats"] for e in events) <= 1  # at most the one in flight when the CSMS went down
            offline = [e for e in events if e.get("offline")]
            assert len(offline) >= waiting - 1 >= 4
            assert all(timestamp(down_at - 1.0) <= e["timestamp"] <= timestamp(up_at) for e in offline)
            assert not any(e.get("offline") for e in events if e["timestamp"] > timestamp(up_at + 1.0))
            delivered = _register(events[-1]) - _register(events[0])
            assert delivered == round(evse.charged_wh) - _register(events[0])
            assert csms.records.invalid() == []
        await csms.stop()

    asyncio.run(main())
