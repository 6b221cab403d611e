"""Refusal before expensive work, and pipelined requests, in the session core.

- A frame is judged by its V2GTP header against the state it will meet: a payload type the state does not
  expect, or a payload longer than the state's maximum, ends the session before the payload is buffered or
  decoded (issue "SECC hardening", defect 2).
- The largest legitimate requests still fit their states' maximums.
- Requests that arrive while one is being answered wait and are answered in order, judged against the state
  they meet; a peer that pipelines more than the core holds is refused (defect 5).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from iso15118.codec import encode_message, payload_type_of
from iso15118.constants import PayloadType
from iso15118.iso20.kinds import LIMIT_PROFILE, LIMIT_SCHEDULE, LIMIT_SIGNED, LIMIT_SMALL
from iso15118.iso20.profile import ISO20
from iso15118.iso20.states import State
from iso15118.messages import iso20 as m
from iso15118.profiles import session_config
from iso15118.session import events as ev
from iso15118.session.config import MAX_QUEUED_FRAMES
from iso15118.session.connection import Connection, Role
from iso15118.session.profile import Stream
from iso15118.session.sap import SAP_MAX_PAYLOAD, SapState
from iso15118.session.selection import EnergyMode
from iso15118.v2gtp import frame, pack_header
from tests.session.test_sequence import T0, _replay_secc, recording

HEADER = m.MessageHeader(session_id=bytes(8), time_stamp=int(T0))


def _ended(events: list[ev.Event]) -> ev.SessionEnded:
    found = [e for e in events if isinstance(e, ev.SessionEnded)]
    assert found, events
    return found[0]


# The largest encoding of a RationalNumber: every maximal message below is as big as the schema allows.
_BIG = m.RationalNumber(exponent=-128, value=-32768)


def _big_schedule_exchange(entries: int, stacks: int = 1) -> m.ScheduleExchangeReq:
    """A ScheduleExchangeReq whose EVEnergyOffer has ``entries`` power entries and ``stacks`` price rule stacks of
    8 rules (1024 of each are legal)."""
    entry = m.EVPowerScheduleEntry(duration=4_294_967_295, power=_BIG)
    schedule = m.EVPowerSchedule(
        time_anchor=2**64 - 1,
        ev_power_schedule_entries=m.EVPowerScheduleEntryList(ev_power_schedule_entry=(entry,) * entries),
    )
    rule = m.EVPriceRule(energy_fee=_BIG, power_range_start=_BIG)
    stack = m.EVPriceRuleStack(duration=4_294_967_295, ev_price_rule=(rule,) * 8)
    prices = m.EVAbsolutePriceSchedule(
        time_anchor=2**64 - 1,
        currency="EUR",
        price_algorithm="x" * 255,
        ev_price_rule_stacks=m.EVPriceRuleStackList(ev_price_rule_stack=(stack,) * stacks),
    )
    offer = m.EVEnergyOffer(ev_power_schedule=schedule, ev_absolute_price_schedule=prices)
    mode = m.Scheduled_SEReqControlMode(ev_energy_offer=offer)
    return m.ScheduleExchangeReq(header=HEADER, maximum_supporting_points=1024, scheduled_se_req_control_mode=mode)


def test_a_big_frame_before_sap_is_refused_at_its_header() -> None:
    conn = Connection(Role.SECC, now=T0, config=session_config())
    # Only the header of a 61 KB ScheduleExchangeReq: refused before one payload byte arrives.
    events = conn.receive_data(pack_header(PayloadType.ISO20_COMMON, 61_000), T0)
    ended = _ended(events)
    assert ended.reason is ev.EndReason.REFUSED and "0x8002 is not used by SupportedAppProtocol" in ended.detail
    assert conn.data_to_send() == b""  # nothing decoded, nothing answered


def test_the_sap_state_admits_only_small_sap_frames() -> None:
    assert SAP_MAX_PAYLOAD == 4096
    conn = Connection(Role.SECC, now=T0, config=session_config())
    ended = _ended(conn.receive_data(pack_header(PayloadType.SAP, SAP_MAX_PAYLOAD + 1), T0))
    assert ended.reason is ev.EndReason.REFUSED and f"exceeds the {SAP_MAX_PAYLOAD} bytes allowed" in ended.detail


def test_per_state_maximums_are_named_and_follow_the_table() -> None:
    common = PayloadType.ISO20_COMMON
    assert ISO20.max_payload(State.WAIT_SESSION_SETUP, Stream.MAIN, common) == LIMIT_SMALL
    assert ISO20.max_payload(State.WAIT_AUTHORIZATION, Stream.MAIN, common) == LIMIT_SIGNED
    assert ISO20.max_payload(State.WAIT_SCHEDULE, Stream.MAIN, common) == LIMIT_SCHEDULE
    assert ISO20.max_payload(State.CHARGE_LOOP, Stream.MAIN, common) == LIMIT_PROFILE  # PowerDeliveryReq
    assert ISO20.max_payload(State.CHARGE_LOOP, Stream.MAIN, PayloadType.ISO20_AC) == LIMIT_SMALL
    assert (
        ISO20.max_payload(State.CHARGE_LOOP, Stream.SCHEDULE_RENEGOTIATION, PayloadType.SCHEDULE_RENEGOTIATION)
        == LIMIT_SCHEDULE
    )
    assert ISO20.max_payload(State.CHARGE_LOOP, Stream.MAIN, PayloadType.SAP) is None
    assert SAP_MAX_PAYLOAD == SAP_MAX_PAYLOAD and SapState.WAIT_SAP.value == "wait_supported_app_protocol"


def test_a_big_request_in_a_state_that_does_not_expect_it_is_refused_unread() -> None:
    rec = recording(EnergyMode.AC_BPT, False)
    conn = _replay_secc(rec, 2)  # SAP and SessionSetup done: AuthorizationSetup expected
    assert conn.state is State.WAIT_AUTHORIZATION_SETUP
    data = encode_message(dataclasses.replace(_big_schedule_exchange(1024, 128), header=conn.header(T0)))
    assert len(data) > LIMIT_SIGNED
    ended = _ended(conn.receive_data(frame(PayloadType.ISO20_COMMON, data), T0 + 10))
    assert ended.reason is ev.EndReason.REFUSED and "allowed in state wait_authorization_setup" in ended.detail
    assert conn.data_to_send() == b""


def test_the_largest_legitimate_requests_fit_their_states() -> None:
    schedule = encode_message(_big_schedule_exchange(1024, 1024))
    assert LIMIT_PROFILE < len(schedule) <= LIMIT_SCHEDULE, len(schedule)
    entry = m.PowerScheduleEntry(duration=4_294_967_295, power=_BIG, power_l2=_BIG, power_l3=_BIG)
    profile = m.EVPowerProfile(
        time_anchor=2**64 - 1,
        dynamic_evppt_control_mode=m.Dynamic_EVPPTControlMode(),
        ev_power_profile_entries=m.EVPowerProfileEntryList(ev_power_profile_entry=(entry,) * 2048),
    )
    delivery = encode_message(
        m.PowerDeliveryReq(
            header=HEADER,
            ev_processing=m.Processing.Finished,
            charge_progress=m.ChargeProgress.Start,
            ev_power_profile=profile,
        )
    )
    assert len(delivery) <= LIMIT_PROFILE, len(delivery)


def test_a_legitimate_big_schedule_exchange_is_accepted_where_it_belongs() -> None:
    rec = recording(EnergyMode.AC_BPT, False)
    at = next(i for i in range(0, len(rec), 2) if type(rec[i].message).__name__ == "ScheduleExchangeReq") // 2
    conn = _replay_secc(rec, at)
    assert conn.state is State.WAIT_SCHEDULE
    request = dataclasses.replace(_big_schedule_exchange(1024, 256), header=conn.header(T0))
    events = conn.receive_data(frame(PayloadType.ISO20_COMMON, encode_message(request)), T0 + 20)
    assert any(isinstance(e, ev.RequestReceived) for e in events), events


# ---- pipelined requests ---------------------------------------------------------------------------------------
def _wire(msg: Any, payload_type: int | None = None) -> bytes:
    return frame(payload_type or payload_type_of(msg), encode_message(msg))


def test_pipelined_requests_are_answered_in_order() -> None:
    rec = recording(EnergyMode.AC_BPT, True)
    conn = Connection(Role.SECC, now=T0, config=session_config())
    # supportedAppProtocolReq and SessionSetupReq in one read.
    data = b"".join(_wire(r.message, r.payload_type) for r in (rec[0], rec[2]))
    events = conn.receive_data(data, T0)
    assert [type(e.message).__name__ for e in events if isinstance(e, ev.RequestReceived)] == [
        "supportedAppProtocolReq"
    ]
    # Answering the first releases the second, judged in the state it meets (after SAP).
    events = conn.send(rec[1].message, T0)
    received = [e for e in events if isinstance(e, ev.RequestReceived)]
    assert [type(e.message).__name__ for e in received] == ["SessionSetupReq"]
    conn.send(rec[3].message, T0)
    assert conn.state is State.WAIT_AUTHORIZATION_SETUP and conn.ended is None


def test_a_pipelined_frame_is_judged_against_the_state_it_meets() -> None:
    rec = recording(EnergyMode.AC_BPT, True)
    conn = Connection(Role.SECC, now=T0, config=session_config())
    # SAP, then an AC_ChargeLoopReq (0x8003) that the state after SAP does not expect: the SAP answer goes out,
    # the second frame is answered FAILED_SequenceError (small enough to be decoded and answered).
    loop = next(r for r in rec if type(r.message).__name__ == "AC_ChargeLoopReq")
    conn.receive_data(_wire(rec[0].message) + _wire(loop.message, loop.payload_type), T0)
    events = conn.send(rec[1].message, T0)
    ended = _ended(events)
    assert ended.response_code == "FAILED_SequenceError"


def test_a_peer_that_pipelines_too_much_is_refused() -> None:
    rec = recording(EnergyMode.AC_BPT, True)
    conn = Connection(Role.SECC, now=T0, config=session_config())
    data = _wire(rec[0].message) * (MAX_QUEUED_FRAMES + 1)
    ended = _ended(conn.receive_data(data, T0))
    assert ended.reason is ev.EndReason.REFUSED and "pipelined" in ended.detail


@pytest.mark.parametrize("split", [1, 7, 8, 9, 50])
def test_a_session_arrives_in_any_chunking(split: int) -> None:
    """The EV's first two requests, cut every ``split`` bytes, give the same requests in the same order."""
    rec = recording(EnergyMode.AC_BPT, True)
    conn = Connection(Role.SECC, now=T0, config=session_config())
    data = _wire(rec[0].message) + _wire(rec[2].message, rec[2].payload_type)
    names: list[str] = []
    for i in range(0, len(data), split):
        for e in conn.receive_data(data[i : i + split], T0):
            if isinstance(e, ev.RequestReceived):
                names.append(type(e.message).__name__)
                if names[-1] == "supportedAppProtocolReq":
                    for e2 in conn.send(rec[1].message, T0):
                        if isinstance(e2, ev.RequestReceived):
                            names.append(type(e2.message).__name__)
    assert names == ["supportedAppProtocolReq", "SessionSetupReq"]
