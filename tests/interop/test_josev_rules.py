"""Josev's deviations against our session core, without a live peer: what strict mode refuses, what tolerant allows.

Uses Josev's recorded traffic (``../shared/vectors/josev_session_vectors.json``: an AC_BPT Scheduled EIM
session over plain TCP, EXI bodies with their V2GTP payload types exactly as Josev sent them) and our own
in-memory sessions; time is an argument, so every timing case is exact.

* J5, slow charge loop: our SECC's sequence timeout after AC_ChargeLoopRes is 0.5 s [V2G20-1499/1500]; a
  Josev EVCC request 530 ms after the response ends a strict session, the tolerant policy's timers let it in.
* J12, CertificateInstallationReq framed 0x8001: our SECC cannot decode it with the SupportedAppProtocol
  grammar the payload type names and ends the session (strict; tolerant mode does not accept it either).
* J3, OK_SuccessfulNegotiationWithMinorDeviation: our EVCC accepts it (the rule [V2G20-1089] binds the
  SECC), our SECC never sends it, even to an EV offering another minor version.
"""

from __future__ import annotations

import asyncio
import json
from functools import cache
from typing import Any

import pytest

from iso15118.codec import decode_message, encode_message, payload_type_of
from iso15118.constants import NS_ISO20_AC, PayloadType
from iso15118.iso20.states import State
from iso15118.messages import iso20 as m
from iso15118.messages.app_protocol import AppProtocol, ResponseCode, supportedAppProtocolReq, supportedAppProtocolRes
from iso15118.profiles import session_config
from iso15118.session import events as ev
from iso15118.session.connection import Connection, Role, SessionConfig
from iso15118.session.failures import minimal_instance
from iso15118.simple import SimpleEVSE
from iso15118.transport.link import memory_pair
from iso15118.transport.policy import TransportPolicy
from iso15118.transport.runner import serve_secc_session
from iso15118.v2gtp import Deframer, frame
from tests.session.recording import record_session
from tests.support.shared import shared_path

T0 = 1_800_000_000.0
JOSEV_LOOP_GAP = 0.53
"""Seconds between an AC_ChargeLoopRes and Josev's next AC_ChargeLoopReq, as measured (fact sheet 3.3)."""
STRICT = session_config(SessionConfig())
TOLERANT = session_config(TransportPolicy(tls=None, tolerant=True).session_config())


@cache
def _josev_run() -> tuple[dict[str, Any], ...]:
    data = json.loads(shared_path("vectors", "josev_session_vectors.json").read_text())
    return tuple(v for v in data["vectors"] if v["run"] == "warm_sched_cap")


def _wire(vector: dict[str, Any]) -> bytes:
    return frame(int(vector["v2gtp_payload_type"], 16), bytes.fromhex(vector["exi_hex"]))


def _answer(run: tuple[dict[str, Any], ...], i: int) -> Any:
    """Josev's SECC response to request ``i`` (the recording keeps identical answers once)."""
    want = run[i]["name"][:-3] + "Res"
    later = [v for v in run[i + 1 :] if v["sender"] == "SECC" and v["name"] == want]
    earlier = [v for v in run[:i] if v["sender"] == "SECC" and v["name"] == want]
    vector = (later or earlier[::-1])[0]
    return decode_message(bytes.fromhex(vector["exi_hex"]), int(vector["v2gtp_payload_type"], 16))


def _replay(config: SessionConfig, *, until: str | None = None) -> tuple[Connection, float, list[ev.Event]]:
    """Josev's EVCC requests into our SECC core, answered with Josev's SECC responses, 0.3 s apart.

    Stops after answering the first ``until`` request; returns the core, the time of the last answer and
    every event.
    """
    run = _josev_run()
    conn = Connection(Role.SECC, now=T0, config=config)
    now = T0
    events: list[ev.Event] = []
    for i, vector in enumerate(run):
        if vector["sender"] != "EVCC":
            continue
        now += 0.2
        got = conn.receive_data(_wire(vector), now)
        events += got
        assert any(isinstance(e, ev.RequestReceived) for e in got), (vector["name"], got)
        now += 0.1
        events += conn.send(_answer(run, i), now)
        conn.data_to_send()
        if vector["name"] == until:
            break
    return conn, now, events


def test_our_secc_core_takes_josevs_whole_session_strictly() -> None:
    conn, _, events = _replay(STRICT)
    ended = conn.ended
    assert ended is not None and ended.reason is ev.EndReason.TERMINATED, ended
    received = [type(e.message).__name__ for e in events if isinstance(e, ev.RequestReceived)]
    assert received.count("PowerDeliveryReq") == 4 and received.count("AC_ChargeLoopReq") == 1
    assert not [e for e in events if isinstance(e, ev.PerformanceTimeExceeded)]


@pytest.mark.parametrize(("config", "accepted"), [(STRICT, False), (TOLERANT, True)], ids=["strict", "tolerant"])
def test_josev_loop_pace(config: SessionConfig, accepted: bool) -> None:
    """J5: the next AC_ChargeLoopReq 530 ms after the response: strict ends the session, tolerant goes on."""
    conn, answered, _ = _replay(config, until="AC_ChargeLoopReq")
    assert conn.state is State.CHARGE_LOOP
    assert conn.next_deadline() == pytest.approx(answered + config.timing.secc_sequence_timeout_loop)
    arrives = answered + JOSEV_LOOP_GAP
    expired = conn.handle_timeout(arrives)
    loop_request = next(v for v in _josev_run() if v["name"] == "AC_ChargeLoopReq")
    got = conn.receive_data(_wire(loop_request), arrives)
    if accepted:
        assert expired == [] and any(isinstance(e, ev.RequestReceived) for e in got), got
    else:
        ended = [e for e in expired if isinstance(e, ev.SessionEnded)]
        assert ended and ended[0].reason is ev.EndReason.TIMEOUT and ended[0].requirement == "V2G20-443"
        assert got == []


def test_tolerant_timing_is_the_standard_scaled() -> None:
    assert TOLERANT.timing == STRICT.timing.scaled(2.0)
    assert TOLERANT.timing.secc_sequence_timeout_loop == 1.0 > JOSEV_LOOP_GAP > STRICT.timing.secc_sequence_timeout_loop


# ---- J12: CertificateInstallationReq with payload type 0x8001 ------------------------------------------------
def _secc_waiting_for_authorization() -> Connection:
    rec = [r for r in record_session(True, loops=1) if r.stream == "main"]
    conn = Connection(Role.SECC, now=T0, config=STRICT)
    for i in range(0, len(rec), 2):
        request, response = rec[i], rec[i + 1]
        conn.receive_data(frame(request.payload_type, encode_message(request.message)), T0)
        conn.send(response.message, T0)
        conn.data_to_send()
        if conn.state is State.WAIT_AUTHORIZATION:
            return conn
    raise AssertionError("the recording never reached WAIT_AUTHORIZATION")


@pytest.mark.parametrize("payload_type", [PayloadType.SAP, PayloadType.ISO20_COMMON], ids=["0x8001", "0x8002"])
def test_certificate_installation_req_framing(payload_type: PayloadType) -> None:
    conn = _secc_waiting_for_authorization()
    request = minimal_instance(m.CertificateInstallationReq, override={"header": conn.header(T0)})
    assert payload_type_of(request) == PayloadType.ISO20_COMMON
    events = conn.receive_data(frame(payload_type, encode_message(request)), T0 + 1)
    if payload_type is PayloadType.ISO20_COMMON:
        assert any(isinstance(e, ev.RequestReceived) for e in events), events
        return
    # Josev's framing: 0x8001 is no payload type of an ISO 15118-20 session, so the frame is refused unread and
    # the session ends at once.
    ended = conn.ended
    assert ended is not None and ended.reason is ev.EndReason.REFUSED, events
    assert "0x8001 is not used by ISO 15118-20" in ended.detail
    assert any(isinstance(e, ev.CloseRequested) for e in events)


# ---- J3: OK_SuccessfulNegotiationWithMinorDeviation ------------------------------------------------------
def _offer(minor: int) -> supportedAppProtocolReq:
    return supportedAppProtocolReq(
        app_protocol=(
            AppProtocol(
                protocol_namespace=NS_ISO20_AC,
                version_number_major=1,
                version_number_minor=minor,
                schema_id=1,
                priority=1,
            ),
        )
    )


def test_our_evcc_accepts_a_minor_deviation_answer() -> None:
    conn = Connection(Role.EVCC, now=T0, config=STRICT)
    conn.send(_offer(0), T0)
    conn.data_to_send()
    answer = supportedAppProtocolRes(response_code=ResponseCode.OK_SuccessfulNegotiationWithMinorDeviation, schema_id=1)
    events = conn.receive_data(frame(PayloadType.SAP, encode_message(answer)), T0 + 0.3)
    negotiated = [e for e in events if isinstance(e, ev.ProtocolNegotiated)]
    assert negotiated and negotiated[0].namespace == NS_ISO20_AC
    assert conn.state is State.WAIT_SESSION_SETUP and conn.ended is None


@pytest.mark.asyncio
async def test_our_secc_never_answers_minor_deviation() -> None:
    evcc_end, secc_end = memory_pair()
    task = asyncio.create_task(serve_secc_session(secc_end, SimpleEVSE()))
    await evcc_end.send(frame(PayloadType.SAP, encode_message(_offer(7))))  # Josev's SECC: MinorDeviation
    deframer = Deframer()
    frames: list[Any] = []
    while not frames:
        frames = deframer.feed(await asyncio.wait_for(evcc_end.receive(), 5))
    answer = decode_message(frames[0].payload, frames[0].payload_type)
    assert answer.response_code is ResponseCode.OK_SuccessfulNegotiation and answer.schema_id == 1  # [V2G20-1089]
    await evcc_end.close()
    outcome = await asyncio.wait_for(task, 10)
    assert outcome.ended.reason is ev.EndReason.CONNECTION_LOST
