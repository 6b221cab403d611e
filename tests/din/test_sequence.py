"""The DIN 70121 sequence as our SECC keeps it.

Hypothesis over every state of a recorded DIN session x every DIN request kind, on the SECC core and the DIN
decisions together: a request the table admits is answered by the decisions with its own response kind (and
the session then ends cleanly, by that answer's FAILED code or by SessionStop); a request the table does not
admit is answered FAILED_SequenceError in its own response type and the session ends. No exception escapes.
Then the same through the real runner, with a scripted EV: a sequence error in every state, and a foreign
SessionID in every state after set-up (FAILED_UnknownSession), each followed by the end of the connection.
"""

from __future__ import annotations

import asyncio
import dataclasses
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iso15118.codec import decode_as, encode_message
from iso15118.config import SeccConfig
from iso15118.decisions import Answer, Inputs, Need, SeccEnv
from iso15118.din import evcc as din_evcc
from iso15118.din.logic import DinSecc
from iso15118.din.profile import DIN
from iso15118.din.secc import HANDLERS
from iso15118.envelope.kinds import RESPONSE_OF, Kind
from iso15118.envelope.states import State
from iso15118.profiles import session_config
from iso15118.session import events as ev
from iso15118.session.connection import Connection, Role
from iso15118.session.context import CoreState
from iso15118.session.failures import minimal_instance
from iso15118.session.sap import SAP
from iso15118.simple import SimpleEVSE
from iso15118.transport.runner import INPUT_CALLS
from iso15118.v2gtp import Deframer, frame
from tests.din.support import recorded_din_session, requests_until, scripted_secc, wrap

T0 = 1_700_000_000.0
ENV = DIN.envelope
REQUEST_KINDS = sorted(k for k in ENV.kinds if k in RESPONSE_OF)
_REACHED = [
    s for s in State if s not in (State.WAIT_PAYMENT_DETAILS, State.WAIT_POWER_DELIVERY, State.WAIT_SESSION_STOP)
]
"""The states a DIN session passes through (the others are -2's)."""


@cache
def catalogue() -> dict[Kind, Any]:
    """One valid Body element of every DIN request kind (minimal values)."""
    return {kind: minimal_instance(ENV.class_of[kind]) for kind in REQUEST_KINDS}


def _replay(exchanges: int) -> Connection:
    """An SECC core that has seen the first ``exchanges`` exchanges of the recorded session (SAP included)."""
    rec = recorded_din_session()
    conn = Connection(Role.SECC, now=T0, config=session_config())
    for i in range(exchanges):
        req, res = rec[2 * i], rec[2 * i + 1]
        events = conn.receive_data(frame(req.payload_type, encode_message(req.message)), T0 + i)
        assert any(isinstance(e, ev.RequestReceived) for e in events), events
        conn.send(res.message, T0 + i)
        conn.data_to_send()
    return conn


def _answers(conn: Connection) -> list[Any]:
    return [decode_as(f.payload, "din") for f in Deframer(max_payload_length=65536).feed(conn.data_to_send())]


async def _gather(evse: SimpleEVSE, need: Need, now: float) -> Any:
    return await INPUT_CALLS[need.what](evse, need.arg, now)


def _decide(logic: DinSecc, ctx: Any, kind: Kind, message: Any, conn: Connection, now: float) -> Answer[Any]:
    """The DIN decisions for one request, their controller inputs answered by a fresh simple charger."""
    evse, inputs = SimpleEVSE(), Inputs()
    for _ in range(12):
        env = SeccEnv(
            now=now,
            header=conn.header(now),
            session_id=conn.session_id,
            selection=conn.selection,
            inputs=inputs,
            peer=None,
            entropy=bytes(range(1, 33)),
            dc_capable=True,
        )
        decided = logic.decide(kind, message, ctx, env)
        if not isinstance(decided, Need):
            return decided
        inputs = inputs.with_value(decided.what, asyncio.run(_gather(evse, decided, now)))
    raise AssertionError(f"{kind} keeps asking for inputs")


def _end_regularly(conn: Connection, logic: DinSecc, ctx: Any, now: float) -> list[ev.Event]:
    stop = ENV.wrap(ENV.header(conn.session_id), ENV.class_of[Kind.SessionStopReq]())
    events = conn.receive_data(frame(0x8001, encode_message(stop)), now)
    assert any(isinstance(e, ev.RequestReceived) for e in events), events
    answer = _decide(logic, ctx, Kind.SessionStopReq, stop, conn, now)
    return conn.send(answer.response, now)


def test_every_table_kind_has_a_decision_for_both_roles() -> None:
    table_kinds = {kind for (_state, kind) in DIN.table.rows}
    assert table_kinds == set(HANDLERS)
    assert table_kinds == set(din_evcc.BUILD)
    assert {RESPONSE_OF[Kind(k)] for k in table_kinds} == set(din_evcc.NEXT)


def _check(exchanges: int, kind: Kind) -> None:
    """Replay ``exchanges``, send a minimal ``kind``: the table's answer, then a clean end."""
    conn = _replay(exchanges)
    state = conn.state
    message = wrap(conn.session_id, catalogue()[kind])
    now = T0 + 100
    events = conn.receive_data(frame(0x8001, encode_message(message)), now)
    ended = [e for e in events if isinstance(e, ev.SessionEnded)]
    if conn.profile is SAP:
        # Before SupportedAppProtocol a DIN message cannot be decoded as the handshake: refused unanswered.
        assert ended and ended[0].reason is ev.EndReason.DECODE_ERROR, events
        assert _answers(conn) == []
    elif DIN.table.rule(state, kind, conn.selection, message) is None:
        assert ended and ended[0].reason is ev.EndReason.PROTOCOL_ERROR, (state, kind, events)
        assert ended[0].response_code == "FAILED_SequenceError"
        (answer,) = _answers(conn)
        assert ENV.open(answer) is not None and ENV.open(answer)[0] is RESPONSE_OF[kind]  # type: ignore[index]
        assert str(ENV.body(answer).response_code) == "FAILED_SequenceError"
    else:
        assert not ended and any(isinstance(e, ev.RequestReceived) for e in events), (state, kind, events)
        logic = DinSecc(SeccConfig())
        answer = _decide(logic, logic.initial(), kind, message, conn, now)
        assert ENV.open(answer.response)[0] is RESPONSE_OF[kind]  # type: ignore[index]
        events = conn.send(answer.response, now)
        (sent,) = _answers(conn)
        assert ENV.open(sent)[0] is RESPONSE_OF[kind]  # type: ignore[index]
        if conn.state is not CoreState.ENDED:
            events = _end_regularly(conn, logic, answer.ctx, now + 1)
        ended = [e for e in events if isinstance(e, ev.SessionEnded)]
        assert ended and ended[0].reason in (ev.EndReason.TERMINATED, ev.EndReason.FAILED_SENT), events
    assert any(isinstance(e, ev.CloseRequested) for e in events)
    assert conn.state is CoreState.ENDED
    assert conn.receive_data(frame(0x8001, encode_message(message)), now + 2) == []


def _exchanges() -> int:
    return len(recorded_din_session()) // 2


def test_the_recording_reaches_every_din_state() -> None:
    states = {str(_replay(i).state) for i in range(_exchanges())}
    unused = {State.WAIT_PAYMENT_DETAILS, State.WAIT_POWER_DELIVERY, State.WAIT_SESSION_STOP}  # -2 only
    assert states == {"wait_supported_app_protocol", *(str(s) for s in State if s not in unused)}


@pytest.mark.parametrize("state", ["wait_supported_app_protocol", *(str(s) for s in _REACHED)])
def test_every_state_against_every_din_request(state: str) -> None:
    first = next(i for i in range(_exchanges()) if str(_replay(i).state) == state)
    for kind in REQUEST_KINDS:
        _check(first, kind)


@settings(max_examples=300, deadline=None, database=None)
@given(st.data())
def test_any_point_of_a_session_against_any_din_request(data: st.DataObject) -> None:
    exchanges = data.draw(st.integers(0, _exchanges() - 1), label="exchanges")
    _check(exchanges, data.draw(st.sampled_from(REQUEST_KINDS), label="kind"))


def _first_exchange_in(state: State) -> int:
    """How many exchanges (SupportedAppProtocol excluded) bring the recorded session to ``state``."""
    exchanges = len(recorded_din_session()) // 2
    for i in range(1, exchanges):
        if _replay(i).state is state:
            return i - 1
    raise AssertionError(f"the recorded session never reaches {state}")


def _foreign_kind(state: State) -> Kind:
    for kind in (Kind.WeldingDetectionReq, Kind.CableCheckReq, Kind.ServiceDiscoveryReq):
        if (state, kind) not in DIN.table.rows:
            return kind
    raise AssertionError(state)


@pytest.mark.parametrize("state", _REACHED, ids=str)
def test_a_sequence_error_in_every_state_is_answered_then_the_session_ends(state: State) -> None:
    before = requests_until_state(state)
    kind = _foreign_kind(state)
    wrong = lambda session_id: wrap(session_id, catalogue()[kind])  # noqa: E731
    answers, outcome = asyncio.run(scripted_secc([*before, wrong]))
    assert len(answers) == len(before) + 1
    last = answers[-1]
    assert ENV.open(last)[0] is RESPONSE_OF[kind]  # type: ignore[index]
    assert str(ENV.body(last).response_code) == "FAILED_SequenceError"
    assert outcome.ended.reason is ev.EndReason.PROTOCOL_ERROR and outcome.ended.response_code == "FAILED_SequenceError"
    assert f"not allowed in state {state}" in outcome.ended.detail


def requests_until_state(state: State) -> list[Any]:
    """The recorded EV's requests that bring our SECC to ``state``."""
    count = _first_exchange_in(state)
    everything = requests_until(Kind.SessionStopReq)
    assert len(everything) >= count
    return everything[:count]


@pytest.mark.parametrize("state", [s for s in _REACHED if s is not State.WAIT_SESSION_SETUP], ids=str)
def test_a_foreign_session_id_is_answered_unknown_session_then_the_session_ends(state: State) -> None:
    before = requests_until_state(state)
    # The request the state admits (the recorded one), but under another session's ID.
    admitted = requests_until(Kind.SessionStopReq)[len(before)]
    foreign = lambda session_id: admitted(bytes(b ^ 0xFF for b in session_id))  # noqa: E731
    answers, outcome = asyncio.run(scripted_secc([*before, foreign]))
    assert str(ENV.body(answers[-1]).response_code) == "FAILED_UnknownSession"
    assert outcome.ended.reason is ev.EndReason.PROTOCOL_ERROR
    assert outcome.ended.response_code == "FAILED_UnknownSession"
    assert outcome.ended.requirement == DIN.session_id_rule()


def test_a_decision_answer_carries_the_session_header() -> None:
    conn = _replay(3)
    message = wrap(conn.session_id, catalogue()[Kind.ServicePaymentSelectionReq])
    logic = DinSecc(SeccConfig())
    answer = _decide(logic, logic.initial(), Kind.ServicePaymentSelectionReq, message, conn, T0)
    assert answer.response.header.session_id == conn.session_id
    assert dataclasses.is_dataclass(answer.ctx)
