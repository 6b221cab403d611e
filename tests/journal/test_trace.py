"""Message traces: every message of a session on both sides, raw EXI that decodes to the JSON view, milestones,
disk errors that never reach the session, and the reader's tolerance of a torn last line."""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from iso15118.codec import decode_document, decode_message, to_json
from iso15118.config import EvccConfig
from iso15118.records.trace import TraceError, TraceWriter, read_trace, trace_record
from iso15118.session.events import (
    EndReason,
    Event,
    MessageSent,
    PerformanceTimeExceeded,
    ProtocolNegotiated,
    SessionEnded,
    SessionEstablished,
)
from tests.journal.support import CountingEVSE, Recorder, run_pair

FAST: dict[str, Any] = {"loop_interval_s": 0.0, "authorization_retry_s": 0.0}


def _session(tmp_path: Path, loops: int = 3) -> tuple[Recorder, list[dict[str, Any]], list[dict[str, Any]]]:
    rec = Recorder()
    with TraceWriter(tmp_path / "secc.jsonl") as secc_trace, TraceWriter(tmp_path / "evcc.jsonl") as evcc_trace:
        out, secc = asyncio.run(
            run_pair(
                EvccConfig(max_loops=loops, **FAST),
                evse=CountingEVSE(),
                secc_observers=[rec, secc_trace],
                evcc_observers=[rec, evcc_trace],
            )
        )
    assert out.ok and secc.ok
    return rec, read_trace(tmp_path / "secc.jsonl"), read_trace(tmp_path / "evcc.jsonl")


def test_every_message_is_traced_in_order_with_decodable_exi(tmp_path: Path) -> None:
    rec, secc_lines, evcc_lines = _session(tmp_path)
    for role, lines in (("secc", secc_lines), ("evcc", evcc_lines)):
        traced = [line for line in lines if line["event"] == "message"]
        events = rec.messages(role)
        assert len(traced) == len(events) > 20
        for line, ev in zip(traced, events, strict=True):
            assert line["role"] == role
            assert line["direction"] == ("tx" if isinstance(ev, MessageSent) else "rx")
            assert line["message"] == type(ev.message).__name__
            assert line["stream"] == str(ev.stream)
            assert line["payload_type"] == f"0x{ev.payload_type:04x}"
            assert line["at"] == ev.at
            assert line["exi"] == ev.data.hex()
            # The raw EXI decodes to the very message whose JSON view the line carries.
            decoded = decode_message(bytes.fromhex(str(line["exi"])), int(str(line["payload_type"]), 16))
            assert decoded == ev.message
            assert line["json"] == to_json(decoded)
            assert decode_document(bytes.fromhex(line["exi"]), line["schema"]).value == decoded
            header = getattr(decoded, "header", None)
            assert line["session_id"] == (header.session_id.hex() if header is not None else None)
            parsed = datetime.datetime.fromisoformat(str(line["time"]).replace("Z", "+00:00"))
            assert abs(parsed.timestamp() - float(str(line["at"]))) < 1e-5


def test_both_sides_trace_symmetrically(tmp_path: Path) -> None:
    _rec, secc_lines, evcc_lines = _session(tmp_path)
    secc_msgs = [(m["direction"], m["message"], m["exi"]) for m in secc_lines if m["event"] == "message"]
    evcc_msgs = [(m["direction"], m["message"], m["exi"]) for m in evcc_lines if m["event"] == "message"]
    flip = {"tx": "rx", "rx": "tx"}
    assert [(flip[d], n, x) for d, n, x in secc_msgs] == evcc_msgs
    names = [n for d, n, _ in evcc_msgs if d == "tx"]
    assert names[:3] == ["supportedAppProtocolReq", "SessionSetupReq", "AuthorizationSetupReq"]
    assert names.count("AC_ChargeLoopReq") == 3 and names[-1] == "SessionStopReq"


def test_milestones_are_traced(tmp_path: Path) -> None:
    _rec, secc_lines, evcc_lines = _session(tmp_path)
    for lines in (secc_lines, evcc_lines):
        kinds = [line["event"] for line in lines if line["event"] != "message"]
        assert kinds == ["protocol_negotiated", "session_established", "session_ended"]
        milestones = {line["event"]: line for line in lines}
        assert milestones["protocol_negotiated"]["namespace"] == "urn:iso:std:iso:15118:-20:AC"
        assert milestones["protocol_negotiated"]["version"] == [1, 0]
        established = milestones["session_established"]
        assert established["evcc_id"] == EvccConfig().evcc_id and len(str(established["session_id"])) == 16
        assert milestones["session_ended"]["reason"] == "terminated"
    assert {line["session_id"] for line in secc_lines if line["event"] == "session_established"} == {
        line["session_id"] for line in evcc_lines if line["event"] == "session_established"
    }


def test_performance_time_line() -> None:
    ev = PerformanceTimeExceeded(at=10.5, what="AC_ChargeLoopRes", limit=0.25, actual=0.3, requirement="V2G20-1499")
    line = trace_record(ev, role="secc", peer="p")
    assert line == {
        "event": "performance_time_exceeded",
        "time": "1970-01-01T00:00:10.500000Z",
        "at": 10.5,
        "role": "secc",
        "peer": "p",
        "what": "AC_ChargeLoopRes",
        "limit": 0.25,
        "actual": 0.3,
        "requirement": "V2G20-1499",
    }


def test_disk_error_is_logged_once_and_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    full = Path("/dev/full")
    if not full.exists():
        pytest.skip("/dev/full is not available to simulate a full disk")
    writer = TraceWriter(full)
    events = [
        ProtocolNegotiated(at=1.0, namespace="urn:x", schema_id=1, version=(1, 0)),
        SessionEstablished(at=2.0, session_id=b"\x01" * 8, resumed=False, evcc_id="E", evse_id="S"),
        SessionEnded(at=3.0, reason=EndReason.TERMINATED, detail="done"),
    ]
    with caplog.at_level(logging.ERROR, logger="iso15118.records.trace"):
        for ev in events:
            writer.write(ev, role="secc", peer="p")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "tracing stops" in errors[0].getMessage()
    assert writer.error is not None and writer.lines == 0
    writer.close()


def test_unknown_events_write_nothing(tmp_path: Path) -> None:
    with TraceWriter(tmp_path / "t.jsonl") as writer:
        writer.write(Event(at=1.0), role="secc", peer="p")
    assert (tmp_path / "t.jsonl").read_text() == ""


def test_read_trace_skips_a_torn_last_line_and_names_a_bad_middle_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    good = [json.dumps({"event": "x", "n": i}) for i in range(3)]
    path.write_text("\n".join(good) + "\n" + good[0][:7])
    assert [r["n"] for r in read_trace(path)] == [0, 1, 2]
    path.write_text(good[0] + "\n{oops\n" + good[1] + "\n")
    with pytest.raises(TraceError) as info:
        read_trace(path)
    assert info.value.line == 2


def test_trace_appends(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    for at in (1.0, 2.0):
        with TraceWriter(path) as writer:
            writer.write(SessionEnded(at=at, reason=EndReason.TIMEOUT, detail="t"), role="evcc", peer="p")
    assert [r["at"] for r in read_trace(path)] == [1.0, 2.0]


def test_a_trace_line_replays_with_v2g_decode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    _rec, secc_lines, _evcc_lines = _session(tmp_path, loops=1)
    line = next(x for x in secc_lines if x["event"] == "message" and x["message"] == "AC_ChargeLoopRes")
    assert main(["decode", "--schema", line["schema"], "--format", "json", line["exi"]]) == 0
    assert json.loads(capsys.readouterr().out) == line["json"]
