"""The session journal: round trips through real sessions, durability ordering, torn tails, corruption,
re-opening, write failures and the record rules (pairing, receipts, interleaved sessions)."""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path
from typing import Any

import pytest

from iso15118.codec import decode_message
from iso15118.config import EvccConfig
from iso15118.controller import ChargeDirection, ControlMode
from iso15118.messages import iso20 as m
from iso15118.messages.units import rational
from iso15118.records.journal import Journal, JournalError, JournalSession, read_journal, scan_journal
from iso15118.session.events import EndReason, MessageReceived, MessageSent, SessionEnded
from iso15118.session.profile import Stream
from iso15118.simple import SimpleEV, SimpleEVConfig
from iso15118.transport.link import MemoryLink
from iso15118.v2gtp import Deframer
from tests.journal.support import CountingEVSE, run_pair

FAST: dict[str, Any] = {"loop_interval_s": 0.0, "authorization_retry_s": 0.0}


def _journaled(path: Path, evcc: EvccConfig, **kwargs: Any) -> tuple[Any, Any]:
    with Journal(path) as journal:
        return asyncio.run(run_pair(evcc, secc_observers=[journal], evcc_observers=[journal], **kwargs))


def _by_role(sessions: list[JournalSession]) -> dict[str, JournalSession]:
    return {s.role: s for s in sessions}


@pytest.mark.parametrize(
    ("control", "bidirectional", "direction", "service", "channel"),
    [
        (ControlMode.DYNAMIC, True, ChargeDirection.CHARGE, "AC_BPT", "Charge"),
        (ControlMode.SCHEDULED, True, ChargeDirection.DISCHARGE, "AC_BPT", "Discharge"),
        (ControlMode.SCHEDULED, False, ChargeDirection.CHARGE, "AC", None),
    ],
)
def test_round_trip_matches_the_session_outcomes(
    tmp_path: Path, control: ControlMode, bidirectional: bool, direction: ChargeDirection, service: str, channel: Any
) -> None:
    ev = SimpleEV(SimpleEVConfig(bidirectional=bidirectional, direction=direction))
    out, secc = _journaled(
        tmp_path / "j.jsonl", EvccConfig(control_mode=control, max_loops=4, **FAST), ev=ev, evse=CountingEVSE()
    )
    assert out.ok and secc.ok
    sessions = read_journal(tmp_path / "j.jsonl")
    assert len(sessions) == 2
    for role, outcome in (("evcc", out), ("secc", secc)):
        s = _by_role(sessions)[role]
        assert s.session_id == outcome.session_id.hex()
        assert s.protocol == "urn:iso:std:iso:15118:-20:AC"
        assert (s.service, s.service_id) == (service, outcome.negotiated["service_id"])
        assert s.control_mode == outcome.negotiated["control_mode"] == str(control)
        assert s.authorization == "EIM" and s.bpt_channel == channel
        assert s.bpt_channel_type == ("unified" if service == "AC_BPT" else None)
        assert s.loops == outcome.loops == 4
        assert [r.charged_wh for r in s.meter_readings] == [r["charged_wh"] for r in outcome.meter_readings]
        assert [r.loop for r in s.meter_readings] == [1, 2, 3, 4]
        assert s.end_reason == str(outcome.ended.reason) == "terminated"
        assert s.evcc_id == EvccConfig().evcc_id
        assert [p.progress for p in s.power_deliveries] == ["Start", "Stop"]
        # CountingEVSE: 1000 + 7n charged, 3n discharged (n = 1..4)
        assert (s.charged_wh, s.discharged_wh) == (21, 9 if service == "AC_BPT" else 0)


def test_pause_then_resume_links_the_sessions(tmp_path: Path) -> None:
    from iso15118.transport.store import SessionStore

    path, store = tmp_path / "j.jsonl", SessionStore()
    first, _ = _journaled(path, EvccConfig(max_loops=2, stop_with="Pause", **FAST), store=store)
    assert first.ended.reason is EndReason.PAUSED
    resume = EvccConfig(
        max_loops=2, resume_session_id=first.session_id, resume_service_id=first.negotiated["service_id"], **FAST
    )
    second, _ = _journaled(path, resume, store=store)
    assert second.ok
    sessions = read_journal(path)
    assert [(s.role, s.end_reason) for s in sessions] == [
        ("evcc", "paused"),
        ("secc", "paused"),
        ("evcc", "terminated"),
        ("secc", "terminated"),
    ]
    for paused, resumed in zip(sessions[:2], sessions[2:], strict=True):
        assert resumed.resumed and resumed.resumed_from == paused.journal_id
        assert resumed.session_id == paused.session_id == first.session_id.hex()
        assert (resumed.service, resumed.control_mode) == (paused.service, paused.control_mode) == ("AC_BPT", "dynamic")


class _CheckingLink:
    """The SECC's link end: before any bytes leave, every meter reading they carry must already be in the journal."""

    def __init__(self, inner: MemoryLink, path: Path) -> None:
        self.inner, self.path, self.checked = inner, path, 0
        self.deframer = Deframer()

    @property
    def peer(self) -> str:
        return self.inner.peer

    async def send(self, data: bytes) -> None:
        for frame in self.deframer.feed(data):
            msg = decode_message(frame.payload, frame.payload_type)
            if getattr(msg, "meter_info", None) is not None:
                on_disk = [r.charged_wh for s in read_journal(self.path) if s.role == "secc" for r in s.meter_readings]
                assert msg.meter_info.charged_energy_reading_wh in on_disk
                self.checked += 1
        await self.inner.send(data)

    async def receive(self) -> bytes:
        return await self.inner.receive()

    async def close(self) -> None:
        await self.inner.close()


def test_readings_are_on_disk_and_fsynced_before_they_are_sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from iso15118.config import SeccConfig
    from iso15118.simple import SimpleEVSE
    from iso15118.transport.link import memory_pair
    from iso15118.transport.runner import run_evcc_session, serve_secc_session

    path = tmp_path / "j.jsonl"
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.fstat(fd).st_size)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)

    async def main() -> tuple[Any, _CheckingLink]:
        a, b = memory_pair()
        link = _CheckingLink(b, path)
        with Journal(path) as journal:
            evse: SimpleEVSE = CountingEVSE()
            task = asyncio.create_task(serve_secc_session(link, evse, SeccConfig(), observers=[journal]))
            out = await run_evcc_session(a, SimpleEV(), EvccConfig(max_loops=6, **FAST))
            await task
        return out, link

    out, link = asyncio.run(main())
    assert out.ok and link.checked == 6
    # Every record was fsynced: the last fsync saw the whole file.
    assert synced and synced[-1] == path.stat().st_size


def _write_session(path: Path, loops: int = 3) -> None:
    _journaled(path, EvccConfig(max_loops=loops, **FAST), evse=CountingEVSE())


def test_torn_tail_is_skipped_at_every_cut_and_never_misread(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    _write_session(path)
    data = path.read_bytes()
    head, last = data[: data.rstrip(b"\n").rfind(b"\n") + 1], data[data.rstrip(b"\n").rfind(b"\n") + 1 :]
    without_last = tmp_path / "head.jsonl"
    without_last.write_bytes(head)
    expected = read_journal(without_last)
    lines = head.count(b"\n")
    for cut in range(1, len(last)):
        path.write_bytes(head + last[:cut])
        scan = scan_journal(path)
        assert not scan.problems
        assert scan.torn_tail is not None and scan.torn_tail.line == lines + 1
        assert list(scan.sessions) == expected
    # A power loss can leave zeros where the record should be.
    path.write_bytes(head + b"\0" * 300)
    assert read_journal(path) == expected


def test_corrupt_line_in_the_middle_is_reported_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    _write_session(path)
    lines = path.read_bytes().splitlines(keepends=True)
    victim = 6
    flipped = bytearray(lines[victim - 1])
    flipped[len(flipped) // 2] ^= 0x04  # one bit
    lines[victim - 1] = bytes(flipped)
    path.write_bytes(b"".join(lines))
    with pytest.raises(JournalError) as info:
        read_journal(path)
    assert info.value.line == victim and "CRC mismatch" in str(info.value)
    scan = scan_journal(path)
    assert [p.line for p in scan.problems] == [victim] and scan.torn_tail is None
    assert len(scan.sessions) == 2 and scan.records == len(lines) - 1


def test_reopen_appends_and_keeps_every_stored_byte(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    _write_session(path)
    before = path.read_bytes()
    _write_session(path)
    assert path.read_bytes().startswith(before)
    sessions = read_journal(path)
    assert len(sessions) == 4 and len({s.journal_id for s in sessions}) == 4


def test_reopen_after_a_torn_tail_marks_it_and_reads_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    _write_session(path)
    intact = read_journal(path)
    torn = b'{"crc":"0badf00d","rec":{"t":"meter","loo'
    with open(path, "ab") as f:
        f.write(torn)
    stored = path.read_bytes()
    _write_session(path)
    assert path.read_bytes().startswith(stored)  # append-only: the torn bytes are still there
    scan = scan_journal(path)
    assert not scan.problems and scan.torn_tail is None
    assert len(scan.recovered) == 1 and scan.recovered[0].offset == len(stored) - len(torn)
    assert list(scan.sessions[:2]) == intact and len(scan.sessions) == 4
    assert read_journal(path) == list(scan.sessions)


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("line one\nline two\n")
    with pytest.raises(JournalError, match="not a v2gstack journal"):
        Journal(path)
    assert path.read_text() == "line one\nline two\n"


def test_write_failure_raises_and_the_journal_refuses_to_go_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    start = SessionEnded(at=1.0, reason=EndReason.TIMEOUT, detail="x")

    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(JournalError, match="cannot write the journal"):
        journal.write(start, role="secc", peer="a")
    monkeypatch.undo()
    with pytest.raises(JournalError, match="earlier write failed"):
        journal.write(start, role="secc", peer="b")
    journal.close()


def _header(sid: bytes = b"\x11" * 8) -> m.MessageHeader:
    return m.MessageHeader(session_id=sid, time_stamp=1)


def _loop_res(n: int, *, receipt: bool = False) -> m.AC_ChargeLoopRes:
    return m.AC_ChargeLoopRes(
        header=_header(),
        response_code=m.ResponseCode("OK"),
        dynamic_ac_cl_res_control_mode=m.Dynamic_AC_CLResControlMode(evse_target_active_power=rational(1000)),
        meter_info=m.MeterInfo(meter_id="M", charged_energy_reading_wh=100 * n, meter_signature=b"\xab\xcd"),
        receipt=m.Receipt(time_anchor=n, energy_costs=m.DetailedCost(amount=rational(3), cost_per_unit=rational(2)))
        if receipt
        else None,
    )


def _sent(msg: Any, at: float, stream: Stream = Stream.MAIN) -> MessageSent:
    return MessageSent(at=at, message=msg, payload_type=0x8003, stream=stream, data=b"")


def test_receipts_signatures_and_interleaved_sessions(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal(path) as journal:
        for n in range(1, 4):  # two SECC connections, interleaved
            journal.write(_sent(_loop_res(n, receipt=n == 3), float(n)), role="secc", peer="[fe80::1]:1000")
            journal.write(_sent(_loop_res(10 + n), float(n) + 0.5), role="secc", peer="[fe80::2]:2000")
        journal.write(
            SessionEnded(at=9.0, reason=EndReason.TERMINATED, detail="ok"), role="secc", peer="[fe80::1]:1000"
        )
    one, two = read_journal(path)
    assert (one.peer, two.peer) == ("[fe80::1]:1000", "[fe80::2]:2000")
    assert [r.charged_wh for r in one.meter_readings] == [100, 200, 300]
    assert [r.charged_wh for r in two.meter_readings] == [1100, 1200, 1300]
    assert one.meter_readings[0].signature == "abcd" and one.charged_wh == 200
    assert one.receipts == (
        {
            "TimeAnchor": 3,
            "EnergyCosts": {"Amount": {"Exponent": 0, "Value": 3}, "CostPerUnit": {"Exponent": 0, "Value": 2}},
        },
    )
    assert (one.end_reason, one.loops, two.end_reason, two.loops) == ("terminated", 3, None, 3)


def test_only_answered_selections_count(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    sel = m.ServiceSelectionReq(
        header=_header(), selected_energy_transfer_service=m.SelectedService(service_id=5, parameter_set_id=1)
    )
    with Journal(path) as journal:
        journal.write(
            MessageReceived(at=1, message=sel, payload_type=0x8002, stream=Stream.MAIN, data=b""), role="secc", peer="p"
        )
        failed = m.ServiceSelectionRes(header=_header(), response_code=m.ResponseCode("FAILED_ServiceSelectionInvalid"))
        journal.write(_sent(failed, 2), role="secc", peer="p")
        unpaired = m.ServiceSelectionRes(header=_header(), response_code=m.ResponseCode("OK"))
        journal.write(_sent(unpaired, 3), role="secc", peer="p")
    (s,) = read_journal(path)
    assert s.service is None and s.service_id is None
    records = path.read_text().count('"t":"service"')
    assert records == 1  # the failed answer is journaled (with its code), the unpaired response is not


def test_events_after_the_end_do_not_open_a_session(tmp_path: Path) -> None:
    from iso15118.session.events import CloseRequested, FrameIgnored

    path = tmp_path / "j.jsonl"
    with Journal(path) as journal:
        journal.write(SessionEnded(at=1.0, reason=EndReason.TIMEOUT, detail="no SAP"), role="secc", peer="p")
        journal.write(CloseRequested(at=1.0, close_at=1.0), role="secc", peer="p")
        journal.write(FrameIgnored(at=1.5, reason="late", payload_type=0x8002), role="secc", peer="p")
    (s,) = read_journal(path)
    assert s.end_reason == "timeout" and s.loops == 0 and s.meter_readings == ()


def test_two_bad_lines_at_the_end_are_corruption_then_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    _write_session(path)
    lines = path.read_bytes().count(b"\n")
    with open(path, "ab") as f:
        f.write(b"garbage one\ngarbage tw")
    scan = scan_journal(path)
    # Only the last write can be torn: the earlier bad line is corruption.
    assert [p.line for p in scan.problems] == [lines + 1]
    assert scan.torn_tail is not None and scan.torn_tail.line == lines + 2
    Journal(path).close()  # re-opening covers the torn line only
    scan = scan_journal(path)
    assert [p.line for p in scan.problems] == [lines + 1] and [p.line for p in scan.recovered] == [lines + 2]
    with pytest.raises(JournalError) as info:
        read_journal(path)
    assert info.value.line == lines + 1
