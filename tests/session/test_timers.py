"""Every -20 timer, on a fake clock: the core only ever sees ``now`` as an argument."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from iso15118.messages import iso20 as m
from iso15118.session import events as ev
from iso15118.session.connection import Connection, Role, SessionConfig
from iso15118.session.selection import EnergyMode
from iso15118.session.timers import DEFAULT_TIMING, Timing
from tests.session.test_sequence import T0, _replay_evcc, _replay_secc, _wire, recording

T = DEFAULT_TIMING


def _index(kind: str, rec: Any, sender: str = "evcc") -> int:
    """Exchanges to replay so that the next request is the first ``kind``."""
    return next(i for i in range(len(rec) // 2) if type(rec[2 * i].message).__name__ == kind)


def _ended(events: list[ev.Event]) -> ev.SessionEnded:
    found = [e for e in events if isinstance(e, ev.SessionEnded)]
    assert found, events
    return found[0]


# ---- SECC ----------------------------------------------------------------------------------------------


def test_secc_sequence_timer_runs_before_sap() -> None:
    conn = Connection(Role.SECC, now=T0)
    assert conn.next_deadline() == pytest.approx(T0 + min(T.secc_sequence_timeout, T.secc_communication_setup))
    events = conn.handle_timeout(T0 + T.secc_communication_setup)
    ended = _ended(events)
    assert ended.reason is ev.EndReason.TIMEOUT and ended.requirement == "V2G20-723"


def test_secc_sequence_timeout_after_a_response() -> None:
    rec = recording(EnergyMode.AC_BPT, True)
    conn = _replay_secc(rec, _index("AuthorizationSetupReq", rec))  # SessionSetup done: no set-up timer any more
    last = conn.next_deadline()
    assert last is not None
    assert conn.handle_timeout(last - 0.001) == []
    ended = _ended(conn.handle_timeout(last))
    assert ended.reason is ev.EndReason.TIMEOUT and ended.requirement == "V2G20-443"


def test_secc_sequence_timeout_in_the_charge_loop_is_half_a_second() -> None:
    rec = recording(EnergyMode.AC_BPT, True)
    k = _index("AC_ChargeLoopReq", rec) + 1  # after the first AC_ChargeLoopRes
    conn = _replay_secc(rec, k)
    sent_at = T0 + (k - 1)
    assert conn.next_deadline() == pytest.approx(sent_at + T.secc_sequence_timeout_loop)  # [V2G20-1499/1500]
    ended = _ended(conn.handle_timeout(sent_at + 0.5))
    assert ended.reason is ev.EndReason.TIMEOUT


def test_secc_performance_time_is_reported_not_fatal() -> None:
    rec = recording(EnergyMode.AC_BPT, True)
    k = _index("ServiceDetailReq", rec)
    conn = _replay_secc(rec, k)
    req, res = rec[2 * k].message, rec[2 * k + 1].message
    conn.receive_data(_wire(req), T0 + 100)
    assert conn.next_deadline() == pytest.approx(T0 + 100 + T.secc_performance_long)  # 4.5 s for ServiceDetail
    late = conn.handle_timeout(T0 + 100 + 4.5)
    assert any(isinstance(e, ev.PerformanceTimeExceeded) for e in late)
    events = conn.send(dataclasses.replace(res, header=conn.header(T0 + 106)), T0 + 106)
    exceeded = [e for e in events if isinstance(e, ev.PerformanceTimeExceeded)]
    assert exceeded and exceeded[0].actual == pytest.approx(6.0) and exceeded[0].limit == 4.5
    assert conn.ended is None


def test_secc_ongoing_performance_time() -> None:
    rec = recording(EnergyMode.AC_BPT, True)
    k = _index("AuthorizationReq", rec)
    conn = _replay_secc(rec, k)
    req = rec[2 * k].message
    ongoing = m.AuthorizationRes(
        header=conn.header(T0), response_code=m.ResponseCode.OK, evse_processing=m.Processing.Ongoing
    )
    conn.receive_data(_wire(req), T0 + 100)
    conn.send(ongoing, T0 + 100)
    deadline = T0 + 100 + T.secc_ongoing_performance
    for t in range(101, 150, 10):  # the EV keeps asking; the SECC keeps saying Ongoing
        conn.receive_data(_wire(dataclasses.replace(req, header=conn.header(t))), T0 + t)
        conn.send(ongoing, T0 + t)
    events = conn.handle_timeout(deadline)
    assert any(isinstance(e, ev.PerformanceTimeExceeded) and "Ongoing" in e.what for e in events)


def test_secc_waits_for_the_ev_to_close_after_session_stop() -> None:
    rec = recording(EnergyMode.AC_BPT, True)
    n = len(rec) // 2
    conn = _replay_secc(rec, n - 1)
    stop_req, stop_res = rec[-2].message, rec[-1].message
    conn.receive_data(_wire(stop_req), T0 + 200)
    events = conn.send(stop_res, T0 + 200)
    ended = _ended(events)
    assert ended.reason is ev.EndReason.TERMINATED
    close = next(e for e in events if isinstance(e, ev.CloseRequested))
    assert close.close_at == pytest.approx(T0 + 200 + T.secc_close_after_stop) and close.requirement == "V2G20-1633"
    assert conn.handle_timeout(T0 + 204) == []
    later = conn.handle_timeout(T0 + 205)
    assert [type(e) for e in later] == [ev.CloseRequested]


# ---- EVCC ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "timeout"),
    [
        ("SessionSetupReq", T.evcc_msg_timeout),
        ("ServiceDetailReq", T.evcc_msg_timeout_long),
        ("AC_ChargeLoopReq", T.evcc_msg_timeout_loop),
    ],
)
def test_evcc_message_timeouts(kind: str, timeout: float) -> None:
    rec = recording(EnergyMode.AC_BPT, True)
    k = _index(kind, rec)
    conn = _replay_evcc(rec, k)
    t = T0 + k  # right after the replayed exchanges (well within communication set-up)
    conn.send(rec[2 * k].message, t)
    assert conn.handle_timeout(t + timeout - 0.001) == []
    ended = _ended(conn.handle_timeout(t + timeout))
    assert ended.reason is ev.EndReason.TIMEOUT and ended.requirement == "V2G20-436"


def test_evcc_communication_setup_timeout() -> None:
    conn = Connection(Role.EVCC, now=T0)
    ended = _ended(conn.handle_timeout(T0 + T.evcc_communication_setup))
    assert ended.reason is ev.EndReason.TIMEOUT


def test_evcc_ongoing_timeout() -> None:
    rec = recording(EnergyMode.AC_BPT, True)
    k = _index("AuthorizationReq", rec)
    conn = _replay_evcc(rec, k)
    req = rec[2 * k].message
    ongoing = m.AuthorizationRes(
        header=conn.header(T0), response_code=m.ResponseCode.OK, evse_processing=m.Processing.Ongoing
    )
    t = T0 + 400
    conn.send(req, t)
    conn.receive_data(_wire(ongoing), t + 0.1)
    start = t + 0.1
    while t < start + T.evcc_ongoing_timeout - 2:
        t += 1.0
        conn.send(dataclasses.replace(req, header=conn.header(t)), t)
        conn.receive_data(_wire(ongoing), t + 0.1)
    ended = _ended(conn.handle_timeout(start + T.evcc_ongoing_timeout))
    assert ended.reason is ev.EndReason.TIMEOUT


def test_timing_is_configurable() -> None:
    slow = Timing().scaled(4)
    assert slow.evcc_msg_timeout_loop == 2.0 and slow.secc_sequence_timeout_loop == 2.0
    conn = Connection(Role.EVCC, now=T0, config=SessionConfig(timing=slow))
    assert conn.next_deadline() == pytest.approx(T0 + 80.0)
