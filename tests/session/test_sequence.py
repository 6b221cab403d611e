"""Hypothesis over every (state, request) pair, for both roles.

SECC: a request the sequence table does not allow in the current state is answered with its own response type
carrying FAILED_SequenceError, the session ends and the connection is to be closed. A request with a SessionID
that is not the session's gets FAILED_UnknownSession. EVCC: the application cannot send an out-of-sequence
request (LocalProtocolError), a response it did not ask for is ignored, and a FAILED response ends the session
cleanly with the reason. No other exception ever escapes the core.
"""

from __future__ import annotations

import dataclasses
import importlib
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iso15118.codec import decode_message, encode_message, payload_type_of
from iso15118.errors import LocalProtocolError
from iso15118.messages.iso20 import MessageHeader
from iso15118.session import events as ev
from iso15118.session.connection import Connection, Role
from iso15118.session.failures import failure_response, minimal_instance
from iso15118.session.states import SEQUENCE, State
from iso15118.v2gtp import Deframer, frame
from tests.session.recording import Recorded, record_session

T0 = 1_700_000_000.0
MODULES = ["iso20_common", "iso20_ac", "iso20_dc", "iso20_wpt", "iso20_acdp", "app_protocol"]


@cache
def catalogue() -> dict[str, Any]:
    """One valid instance of every request of the -20 schema sets and SupportedAppProtocol."""
    out: dict[str, Any] = {}
    for name in MODULES:
        module = importlib.import_module(f"iso15118.messages.generated.{name}")
        for cls_name in module.__all__:
            cls = getattr(module, cls_name)
            if cls_name.endswith("Req") and dataclasses.is_dataclass(cls) and "abstract" not in (cls.__doc__ or ""):
                out[cls_name] = minimal_instance(cls)
    return out


@cache
def recording(dynamic: bool) -> tuple[Recorded, ...]:
    return tuple(record_session(dynamic, loops=2))


def _with_session(msg: Any, session_id: bytes) -> Any:
    if getattr(msg, "header", None) is None:
        return msg
    return dataclasses.replace(msg, header=MessageHeader(session_id=session_id, time_stamp=int(T0)))


def _wire(msg: Any) -> bytes:
    return frame(payload_type_of(msg), encode_message(msg))


def _replay_secc(rec: tuple[Recorded, ...], exchanges: int) -> Connection:
    conn = Connection(Role.SECC, now=T0)
    for i in range(exchanges):
        req, res = rec[2 * i], rec[2 * i + 1]
        events = conn.receive_data(_wire(req.message), T0 + i)
        assert any(isinstance(e, ev.RequestReceived) for e in events), events
        conn.send(res.message, T0 + i)
        conn.data_to_send()
    return conn


def _replay_evcc(rec: tuple[Recorded, ...], exchanges: int) -> Connection:
    conn = Connection(Role.EVCC, now=T0)
    for i in range(exchanges):
        req, res = rec[2 * i], rec[2 * i + 1]
        conn.send(req.message, T0 + i)
        conn.data_to_send()
        events = conn.receive_data(_wire(res.message), T0 + i)
        assert any(isinstance(e, ev.ResponseReceived) for e in events), events
    return conn


def _sent(conn: Connection) -> list[Any]:
    out = []
    for fr in Deframer().feed(conn.data_to_send()):
        out.append(decode_message(fr.payload, fr.payload_type))
    return out


@pytest.mark.parametrize("dynamic", [True, False])
def test_every_state_against_every_request_secc(dynamic: bool) -> None:
    rec = recording(dynamic)
    kinds = sorted(catalogue())

    @settings(max_examples=400, deadline=None, database=None)
    @given(st.integers(0, len(rec) // 2 - 1), st.sampled_from(kinds))
    def check(exchanges: int, kind: str) -> None:
        conn = _replay_secc(rec, exchanges)
        state = conn.state
        request = _with_session(catalogue()[kind], conn.session_id)
        events = conn.receive_data(_wire(request), T0 + 100)
        allowed = (state, kind) in SEQUENCE
        schedule_renegotiation = kind == "PowerDeliveryReq" and str(request.charge_progress) == "ScheduleRenegotiation"
        if allowed and not schedule_renegotiation:
            assert any(isinstance(e, ev.RequestReceived) for e in events), (state, kind, events)
            return
        ended = [e for e in events if isinstance(e, ev.SessionEnded)]
        assert ended and ended[0].reason is ev.EndReason.PROTOCOL_ERROR, (state, kind, events)
        assert any(isinstance(e, ev.CloseRequested) for e in events)
        (answer,) = _sent(conn)
        assert type(answer).__name__ == kind[:-3] + "Res"
        expected = "Failed_NoNegotiation" if kind == "supportedAppProtocolReq" else "FAILED_SequenceError"
        assert str(answer.response_code) == expected
        assert conn.state is State.ENDED
        assert conn.receive_data(_wire(request), T0 + 101) == []  # nothing more is processed

    check()


def test_unknown_session_id_is_refused() -> None:
    rec = recording(True)
    for exchanges in range(2, len(rec) // 2):  # past SessionSetup
        conn = _replay_secc(rec, exchanges)
        request = _with_session(rec[2 * exchanges].message, b"\xee" * 8)
        events = conn.receive_data(_wire(request), T0 + 100)
        ended = [e for e in events if isinstance(e, ev.SessionEnded)]
        assert ended and ended[0].response_code == "FAILED_UnknownSession" and ended[0].requirement == "V2G20-457"
        (answer,) = _sent(conn)
        assert str(answer.response_code) == "FAILED_UnknownSession"


@pytest.mark.parametrize("dynamic", [True, False])
def test_every_state_against_every_request_evcc(dynamic: bool) -> None:
    rec = recording(dynamic)
    kinds = sorted(catalogue())
    responses = sorted({type(r.message).__name__ for r in rec if r.sender == "secc"})

    @settings(max_examples=400, deadline=None, database=None)
    @given(st.integers(0, len(rec) // 2 - 1), st.sampled_from(kinds), st.sampled_from(responses))
    def check(exchanges: int, kind: str, stray: str) -> None:
        conn = _replay_evcc(rec, exchanges)
        state = conn.state
        request = _with_session(catalogue()[kind], conn.session_id)
        allowed = (state, kind) in SEQUENCE
        schedule_renegotiation = kind == "PowerDeliveryReq" and str(request.charge_progress) == "ScheduleRenegotiation"
        if not allowed or schedule_renegotiation:
            with pytest.raises(LocalProtocolError):
                conn.send(request, T0 + 100)
            return
        conn.send(request, T0 + 100)
        # A response that does not answer the pending request is ignored [V2G20-436…440].
        other = next(r.message for r in rec if type(r.message).__name__ == stray)
        if stray != kind[:-3] + "Res":
            events = conn.receive_data(_wire(other), T0 + 100.1)
            assert [type(e) for e in events] == [ev.MessageReceived, ev.FrameIgnored]
        # The SECC refuses it: the EVCC ends cleanly and says why.
        header = None if kind == "supportedAppProtocolReq" else MessageHeader(session_id=conn.session_id, time_stamp=1)
        code = "Failed_NoNegotiation" if header is None else "FAILED_SequenceError"
        events = conn.receive_data(_wire(failure_response(request, code, header)), T0 + 100.2)
        ended = [e for e in events if isinstance(e, ev.SessionEnded)]
        assert ended, events
        assert ended[0].response_code == code or ended[0].reason is ev.EndReason.NO_PROTOCOL
        assert any(isinstance(e, ev.CloseRequested) for e in events)

    check()
