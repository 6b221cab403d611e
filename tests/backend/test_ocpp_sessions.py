"""A SECC with its OCPP backend against the reference CSMS on [::1]: what the CSMS receives for whole sessions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from harness.csms import CsmsSettings, ReferenceCsms
from iso15118.backend.rpc import OcppVersion
from iso15118.config import EvccConfig, SeccConfig
from iso15118.constants import NS_ISO2
from iso15118.session.selection import EnergyFamily
from iso15118.simple import SimpleEVSE
from iso15118.transport.store import SessionStore
from tests.backend.support import charger, until
from tests.journal.support import run_pair


def _registers(event: dict[str, Any]) -> dict[str, float]:
    values = event["meterValue"][0]["sampledValue"]
    return {v["measurand"]: float(v["value"]) for v in values}


@pytest.mark.parametrize("version", [OcppVersion.V201, OcppVersion.V21])
def test_an_eim_session_is_one_transaction_whose_energy_is_the_metered_energy(version: OcppVersion) -> None:
    async def main() -> None:
        async with ReferenceCsms(CsmsSettings()) as csms, charger(csms, version=version, sample_interval_s=0.0) as c:
            evse = SimpleEVSE()
            evcc, secc = await run_pair(
                EvccConfig(max_loops=12),
                evse=c.backend.controller(evse),  # type: ignore[arg-type]
                secc_observers=[c.backend.observer],
            )
            assert evcc.ok and secc.ok
            await until(lambda: c.outbox.pending == 0, "the outbox to drain")
            events = csms.records.transaction_events("CS1")
            kinds = [e["eventType"] for e in events]
            assert kinds[0] == "Started" and kinds[-1] == "Ended" and set(kinds[1:-1]) == {"Updated"}
            assert [e["seqNo"] for e in events] == list(range(len(events)))
            assert len({e["transactionInfo"]["transactionId"] for e in events}) == 1
            assert events[0]["idToken"]["type"] == "MacAddress"
            assert events[-1]["transactionInfo"]["stoppedReason"] == "StoppedByEV"
            start, end = _registers(events[0]), _registers(events[-1])
            delivered = end["Energy.Active.Import.Register"] - start["Energy.Active.Import.Register"]
            # The meter's register moved by exactly that much over the transaction (it started at 0 Wh), and the
            # last reading the EV saw in the loop is not more than that.
            assert start["Energy.Active.Import.Register"] == 0
            assert delivered == round(evse.charged_wh) >= secc.meter_readings[-1]["charged_wh"] > 0
            assert csms.records.invalid() == [] and csms.records.validated() >= len(events) + 3
            assert "NotifyEVChargingNeeds" in csms.records.actions("CS1")

    asyncio.run(main())


def test_a_dc_session_and_a_paused_then_resumed_session_are_reported() -> None:
    async def main() -> None:
        async with ReferenceCsms(CsmsSettings()) as csms, charger(csms, sample_interval_s=0.0) as c:
            dc, _ = await run_pair(
                EvccConfig(energy=EnergyFamily.DC, max_loops=4),
                evse=c.backend.controller(SimpleEVSE()),  # type: ignore[arg-type]
                secc_observers=[c.backend.observer],
            )
            assert dc.ok
            store = SessionStore()
            paused, _ = await run_pair(
                EvccConfig(max_loops=3, stop_with="Pause"),
                evse=c.backend.controller(SimpleEVSE()),  # type: ignore[arg-type]
                secc_observers=[c.backend.observer],
                store=store,
            )
            assert paused.ended.reason == "paused"
            resumed, _ = await run_pair(
                EvccConfig(
                    max_loops=3,
                    resume_session_id=paused.session_id,
                    resume_service_id=paused.negotiated["service_id"],
                ),
                evse=c.backend.controller(SimpleEVSE()),  # type: ignore[arg-type]
                secc_observers=[c.backend.observer],
                store=store,
            )
            assert resumed.ok and resumed.negotiated.get("resumed")
            await until(lambda: c.outbox.pending == 0, "the outbox to drain")
            events = csms.records.transaction_events("CS1")
            started = [e for e in events if e["eventType"] == "Started"]
            assert len(started) == 3 and len([e for e in events if e["eventType"] == "Ended"]) == 3
            assert started[2]["idToken"] == started[1]["idToken"]  # the resumed session's, without Authorize
            assert csms.records.actions("CS1").count("Authorize") == 2
            assert csms.records.invalid() == []

    asyncio.run(main())


def test_an_iso_15118_2_eim_session_is_a_transaction_too() -> None:
    async def main() -> None:
        async with ReferenceCsms(CsmsSettings()) as csms, charger(csms, sample_interval_s=0.0) as c:
            evcc, secc = await run_pair(
                EvccConfig(protocols=(NS_ISO2,), max_loops=4),
                evse=c.backend.controller(SimpleEVSE()),  # type: ignore[arg-type]
                secc=SeccConfig(protocols=(NS_ISO2,)),
                secc_observers=[c.backend.observer],
            )
            assert evcc.ok and secc.ok
            await until(lambda: c.outbox.pending == 0, "the outbox to drain")
            events = csms.records.transaction_events("CS1")
            assert [e["eventType"] for e in (events[0], events[-1])] == ["Started", "Ended"]
            assert [e["seqNo"] for e in events] == list(range(len(events))) and csms.records.invalid() == []

    asyncio.run(main())
