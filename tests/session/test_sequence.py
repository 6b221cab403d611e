"""Hypothesis over every (state, request) pair of every -20 energy mode, for both roles.

SECC: a request the profile's table does not admit in the current state (for the session's energy mode) is
answered with its own response type carrying FAILED_SequenceError, the session ends and the connection is to be
closed; before SupportedAppProtocol, anything but a SupportedAppProtocol payload is refused unread. A request
with a SessionID that is not the session's gets FAILED_UnknownSession. EVCC: the application cannot send an
out-of-sequence request (LocalProtocolError), a response it did not ask for is ignored, and a FAILED response
ends the session cleanly with the reason. No other exception ever escapes the core.
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
from iso15118.constants import PayloadType
from iso15118.errors import LocalProtocolError
from iso15118.iso20.kinds import CLASS_OF, RESPONSE_OF, Kind
from iso15118.iso20.profile import ISO20
from iso15118.messages.iso20 import MessageHeader
from iso15118.profiles import session_config
from iso15118.session import events as ev
from iso15118.session.connection import Connection, Role
from iso15118.session.context import CoreState
from iso15118.session.failures import minimal_instance
from iso15118.session.profile import Stream
from iso15118.session.sap import SAP
from iso15118.session.selection import EnergyMode
from iso15118.v2gtp import Deframer, frame
from tests.session.recording import Recorded, record_session

T0 = 1_700_000_000.0
MODULES = ["iso20_common", "iso20_ac", "iso20_dc", "iso20_wpt", "iso20_acdp", "app_protocol"]
MODES = [(mode, dynamic) for mode in EnergyMode for dynamic in (True, False)]


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
def recording(mode: EnergyMode, dynamic: bool) -> tuple[Recorded, ...]:
    return tuple(record_session(dynamic, loops=2, mode=mode))


def connection(role: Role) -> Connection:
    return Connection(role, now=T0, config=session_config())


def _with_session(msg: Any, session_id: bytes) -> Any:
    if getattr(msg, "header", None) is None:
        return msg
    return dataclasses.replace(msg, header=MessageHeader(session_id=session_id, time_stamp=int(T0)))


def _wire(msg: Any) -> bytes:
    return frame(payload_type_of(msg), encode_message(msg))


def _replay_secc(rec: tuple[Recorded, ...], exchanges: int) -> Connection:
    conn = connection(Role.SECC)
    for i in range(exchanges):
        req, res = rec[2 * i], rec[2 * i + 1]
        events = conn.receive_data(frame(req.payload_type, encode_message(req.message)), T0 + i)
        assert any(isinstance(e, ev.RequestReceived) for e in events), events
        conn.send(res.message, T0 + i)
        conn.data_to_send()
    return conn


def _replay_evcc(rec: tuple[Recorded, ...], exchanges: int) -> Connection:
    conn = connection(Role.EVCC)
    for i in range(exchanges):
        req, res = rec[2 * i], rec[2 * i + 1]
        conn.send(req.message, T0 + i)
        conn.data_to_send()
        events = conn.receive_data(frame(res.payload_type, encode_message(res.message)), T0 + i)
        assert any(isinstance(e, ev.ResponseReceived) for e in events), events
    return conn


def _main_exchanges(rec: tuple[Recorded, ...]) -> int:
    """Exchanges before the first side-stream message (replays stay on the main stream)."""
    count = 0
    for i in range(0, len(rec) - 1, 2):
        if rec[i].stream != "main" or rec[i + 1].stream != "main":
            break
        count += 1
    return count


def _sent(conn: Connection) -> list[Any]:
    return [decode_message(fr.payload, fr.payload_type) for fr in Deframer().feed(conn.data_to_send())]


def _admitted(conn: Connection, kind: str, request: Any) -> bool:
    if conn.profile is SAP:
        return kind == "supportedAppProtocolReq"
    if kind == "supportedAppProtocolReq":
        return False
    return conn.profile.table.rule(conn.state, Kind(kind), conn.selection, request) is not None


@pytest.mark.parametrize(("mode", "dynamic"), MODES)
def test_every_state_against_every_request_secc(mode: EnergyMode, dynamic: bool) -> None:
    rec = recording(mode, dynamic)
    kinds = sorted(catalogue())

    @settings(max_examples=300, deadline=None, database=None)
    @given(st.integers(0, _main_exchanges(rec) - 1), st.sampled_from(kinds))
    def check(exchanges: int, kind: str) -> None:
        conn = _replay_secc(rec, exchanges)
        state, on_sap = conn.state, conn.profile is SAP
        request = _with_session(catalogue()[kind], conn.session_id)
        events = conn.receive_data(_wire(request), T0 + 100)
        if _admitted(conn, kind, request):
            assert any(isinstance(e, ev.RequestReceived) for e in events), (state, kind, events)
            return
        ended = [e for e in events if isinstance(e, ev.SessionEnded)]
        assert ended, (state, kind, events)
        assert any(isinstance(e, ev.CloseRequested) for e in events)
        if on_sap or kind == "supportedAppProtocolReq":
            # A payload type the state does not expect is refused before it is decoded: nothing is answered.
            assert ended[0].reason is ev.EndReason.REFUSED, (state, kind, events)
            assert _sent(conn) == []
        else:
            assert ended[0].reason is ev.EndReason.PROTOCOL_ERROR, (state, kind, events)
            (answer,) = _sent(conn)
            assert type(answer) is CLASS_OF[RESPONSE_OF[Kind(kind)]]
            assert str(answer.response_code) == "FAILED_SequenceError"
        assert conn.state is CoreState.ENDED
        assert conn.receive_data(_wire(request), T0 + 101) == []  # nothing more is processed

    check()


def test_an_ac_session_refuses_dc_messages_and_a_dc_session_ac_messages() -> None:
    for mode, foreign in ((EnergyMode.AC, "DC_WeldingDetectionReq"), (EnergyMode.DC, "AC_ChargeLoopReq")):
        rec = recording(mode, True)
        # Replay until the charge loop: the AC (or DC) loop request is admitted, the other family's is not.
        loop_at = next(i for i in range(0, len(rec), 2) if "ChargeLoopReq" in type(rec[i].message).__name__)
        conn = _replay_secc(rec, loop_at // 2)
        events = conn.receive_data(_wire(_with_session(catalogue()[foreign], conn.session_id)), T0 + 100)
        ended = [e for e in events if isinstance(e, ev.SessionEnded)]
        assert ended and ended[0].response_code == "FAILED_SequenceError", events
        assert "not allowed in state charge_loop" in ended[0].detail and str(mode) in ended[0].detail


def test_unknown_session_id_is_refused() -> None:
    rec = recording(EnergyMode.AC_BPT, True)
    for exchanges in range(2, _main_exchanges(rec)):  # past SessionSetup
        conn = _replay_secc(rec, exchanges)
        request = _with_session(rec[2 * exchanges].message, b"\xee" * 8)
        events = conn.receive_data(frame(rec[2 * exchanges].payload_type, encode_message(request)), T0 + 100)
        ended = [e for e in events if isinstance(e, ev.SessionEnded)]
        assert ended and ended[0].response_code == "FAILED_UnknownSession" and ended[0].requirement == "V2G20-457"
        (answer,) = _sent(conn)
        assert str(answer.response_code) == "FAILED_UnknownSession"


@pytest.mark.parametrize(("mode", "dynamic"), MODES)
def test_every_state_against_every_request_evcc(mode: EnergyMode, dynamic: bool) -> None:
    rec = recording(mode, dynamic)
    kinds = sorted(catalogue())
    responses = sorted({type(r.message).__name__ for r in rec if r.sender == "secc"})

    @settings(max_examples=300, deadline=None, database=None)
    @given(st.integers(0, _main_exchanges(rec) - 1), st.sampled_from(kinds), st.sampled_from(responses))
    def check(exchanges: int, kind: str, stray: str) -> None:
        conn = _replay_evcc(rec, exchanges)
        request = _with_session(catalogue()[kind], conn.session_id)
        if not _admitted(conn, kind, request):
            with pytest.raises(LocalProtocolError):
                conn.send(request, T0 + 100)
            return
        conn.send(request, T0 + 100)
        expected = "supportedAppProtocolRes" if kind == "supportedAppProtocolReq" else str(RESPONSE_OF[Kind(kind)])
        # A response that does not answer the pending request is ignored [V2G20-436…440].
        other = next(r for r in rec if type(r.message).__name__ == stray)
        if stray != expected:
            events = conn.receive_data(frame(other.payload_type, encode_message(other.message)), T0 + 100.1)
            # Unread when its payload type is not the awaited one's, else decoded and then ignored.
            assert [type(e) for e in events] in ([ev.FrameIgnored], [ev.MessageReceived, ev.FrameIgnored])
        # The SECC refuses it: the EVCC ends cleanly and says why.
        profile = conn.profile
        header = profile.header(conn.session_id, T0)
        code = "Failed_NoNegotiation" if profile is SAP else "FAILED_SequenceError"
        kind_enum = profile.kind_of(request)
        assert kind_enum is not None
        failure = profile.failure(request, kind_enum, code, header)
        pt = PayloadType.SAP if profile is SAP else ISO20.payload_type(kind_enum, Stream.MAIN)
        events = conn.receive_data(frame(pt, encode_message(failure)), T0 + 100.2)
        ended = [e for e in events if isinstance(e, ev.SessionEnded)]
        assert ended, events
        assert ended[0].response_code == code or ended[0].reason is ev.EndReason.NO_PROTOCOL
        assert any(isinstance(e, ev.CloseRequested) for e in events)

    check()
