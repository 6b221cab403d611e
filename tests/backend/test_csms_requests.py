"""What the CSMS asks of the SECC during a session: charging profiles (limits, 2.1 discharge setpoints),
RequestStart/StopTransaction, Reset; and what a malformed or unexpected CSMS message gets (the CALLERROR OCPP-J
prescribes) while the session goes on."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from harness.csms import CsmsSettings, ReferenceCsms
from iso15118.backend.rpc import OcppVersion
from iso15118.backend.transactions import timestamp
from iso15118.config import EvccConfig
from iso15118.simple import SimpleEV, SimpleEVSE
from iso15118.transport.link import memory_pair
from iso15118.transport.runner import run_evcc_session, serve_secc_session
from tests.backend.support import Charger, charger, until


class _Targets(SimpleEV):
    """A SimpleEV that keeps every power target the charger sent."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[float | None] = []

    async def apply_power(self, target_w: float | None, now: float) -> float:
        self.targets.append(target_w)
        return await super().apply_power(target_w, now)


async def _session(c: Charger, ev: SimpleEV, **evcc: Any) -> tuple[Any, Any, list[Any]]:
    """Start a long session; returns (evcc task, secc task, SECC handles)."""
    a, b = memory_pair()
    handles: list[Any] = []
    secc = asyncio.create_task(
        serve_secc_session(
            b, c.backend.controller(SimpleEVSE()), observers=[c.backend.observer], on_start=handles.append
        )
    )
    config = EvccConfig(loop_interval_s=0.02, **evcc)
    return asyncio.create_task(run_evcc_session(a, ev, config)), secc, handles


def _running(c: Charger) -> bool:
    return any(t.started for t in c.station.transactions.values())


def _started(c: Charger) -> str:
    tx = next(iter(c.station.transactions.values()))
    assert tx.started
    return tx.transaction_id


def test_malformed_and_unexpected_csms_messages_get_their_callerror_and_the_session_goes_on() -> None:
    async def main() -> None:
        async with ReferenceCsms(CsmsSettings()) as csms, charger(csms) as c:
            ev = SimpleEV()
            evcc_task, secc_task, _ = await _session(c, ev, max_loops=60)
            await until(lambda: _running(c), "the transaction to start")
            cases = [
                ("this is no JSON", "-1", "RpcFrameworkError"),
                ('{"not": "an array"}', "-1", "RpcFrameworkError"),
                ('[7,"m1","Reset",{}]', "m1", "MessageTypeNotSupported"),
                ('[2,"m2","NoSuchAction",{}]', "m2", "NotImplemented"),
                ('[2,"m3","RequestStopTransaction",{"transactionId":5}]', "m3", "TypeConstraintViolation"),
                ('[2,"m4","Reset",{"type":"Sideways"}]', "m4", "PropertyConstraintViolation"),
                ('[2,"m5","RequestStopTransaction",{}]', "m5", "OccurrenceConstraintViolation"),
                ('[2,"m6","Reset",{"type":"OnIdle","colour":"red"}]', "m6", "FormatViolation"),
                (
                    '[2,"m7","GetVariables",{"getVariableData":[{"component":{"name":"A"},"variable":{"name":"B"}}]}]',
                    "m7",
                    "NotSupported",
                ),
            ]
            for text, answer_id, code in cases:
                answer = await csms.send_raw("CS1", text, answer_id)
                assert answer.message_type_id == 4 and answer.error_code == code, (text, answer)
            # An answer to nothing is ignored (no CALLERROR, nothing breaks).
            await csms.stations["CS1"].point._send(json.dumps([3, "nobody-asked", {}]))
            assert c.link.callerrors_sent == len(cases)
            evcc, secc = await evcc_task, await secc_task
            assert evcc.ok and secc.ok and evcc.loops == 60

    asyncio.run(main())


def test_a_21_discharge_profile_becomes_the_dynamic_target_and_a_remote_stop_ends_the_session() -> None:
    async def main() -> None:
        async with ReferenceCsms(CsmsSettings()) as csms, charger(csms, version=OcppVersion.V21) as c:
            ev = _Targets()
            evcc_task, secc_task, _ = await _session(c, ev)
            await until(lambda: _running(c), "the transaction to start")
            transaction_id = _started(c)
            profile = {
                "id": 7,
                "stackLevel": 1,
                "chargingProfilePurpose": "TxProfile",
                "chargingProfileKind": "Relative",
                "transactionId": transaction_id,
                "chargingSchedule": [
                    {
                        "id": 7,
                        "chargingRateUnit": "W",
                        "chargingSchedulePeriod": [
                            {"startPeriod": 0, "operationMode": "CentralSetpoint", "setpoint": -4000.0}
                        ],
                    }
                ],
            }
            refused = await csms.request(
                "CS1", "SetChargingProfile", {"evseId": 1, "chargingProfile": {**profile, "transactionId": "nope"}}
            )
            assert refused["status"] == "Rejected"
            accepted = await csms.request("CS1", "SetChargingProfile", {"evseId": 1, "chargingProfile": profile})
            assert accepted["status"] == "Accepted"
            seen = len(ev.targets)
            await until(lambda: -4000.0 in ev.targets[seen:], "the setpoint to reach the EV")
            unknown = await csms.request("CS1", "RequestStopTransaction", {"transactionId": "nope"})
            assert unknown["status"] == "Rejected"
            stop = await csms.request("CS1", "RequestStopTransaction", {"transactionId": transaction_id})
            assert stop["status"] == "Accepted"
            evcc, secc = await evcc_task, await secc_task
            assert evcc.ended.reason == "terminated" and secc.ended_regularly
            await until(lambda: c.outbox.pending == 0, "the outbox to drain")
            ended = csms.records.transaction_events("CS1")[-1]
            assert ended["eventType"] == "Ended" and ended["triggerReason"] == "RemoteStop"
            assert ended["transactionInfo"]["stoppedReason"] == "Remote"
            assert csms.records.invalid() == []

    asyncio.run(main())


def test_a_201_power_limit_bounds_the_target_and_remote_start_authorizes_the_next_ev() -> None:
    async def main() -> None:
        async with ReferenceCsms(CsmsSettings()) as csms, charger(csms) as c:
            started = await csms.request(
                "CS1",
                "RequestStartTransaction",
                {"idToken": {"idToken": "CARD-42", "type": "ISO14443"}, "remoteStartId": 9},
            )
            assert started["status"] == "Accepted"
            ev = _Targets()
            evcc_task, secc_task, handles = await _session(c, ev)
            await until(
                lambda: (
                    bool(c.station.transactions) and c.station.transactions[next(iter(c.station.transactions))].started
                ),
                "tx",
            )
            transaction_id = _started(c)
            limit = {
                "id": 3,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxProfile",
                "chargingProfileKind": "Absolute",
                "transactionId": transaction_id,
                "chargingSchedule": [
                    {
                        "id": 3,
                        "startSchedule": timestamp(0),
                        "chargingRateUnit": "A",
                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10.0, "numberPhases": 1}],
                    }
                ],
            }
            assert (await csms.request("CS1", "SetChargingProfile", {"evseId": 1, "chargingProfile": limit}))[
                "status"
            ] == "Accepted"
            seen = len(ev.targets)
            await until(lambda: 2300.0 in ev.targets[seen:], "10 A x 230 V to reach the EV")
            reset = await csms.request("CS1", "Reset", {"type": "OnIdle"})
            assert reset["status"] == "Scheduled"
            await handles[0].request_stop("the test is done")
            await evcc_task, await secc_task
            await until(
                lambda: csms.records.actions("CS1").count("BootNotification") == 2, "the reboot after the reset"
            )
            boots = [f for f in csms.records.frames("CS1") if f["action"] == "BootNotification"]
            assert json.loads(boots[-1]["text"])[3]["reason"] == "RemoteReset"
            events = csms.records.transaction_events("CS1")
            assert events[0]["triggerReason"] == "RemoteStart" and events[0]["transactionInfo"]["remoteStartId"] == 9
            assert events[0]["idToken"] == {"idToken": "CARD-42", "type": "ISO14443"}
            assert "Authorize" not in csms.records.actions("CS1")

    asyncio.run(main())
