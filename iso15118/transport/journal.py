"""The session journal: an append-only, crash-safe record of what each session agreed and metered.

A :class:`Journal` is an :class:`~iso15118.transport.driver.Observer`. For every session it records a start
(role, peer, time), the negotiated parameters (protocol, SessionID, authorization, service, control mode, BPT
channel, each PowerDelivery), every meter reading and receipt carried in a ChargeLoopRes, and the end. Each
record is written and ``os.fsync``-ed before :meth:`Journal.observe` returns. The Pump calls observers before
it writes a sent message to the link, so a meter reading is on disk before the EV can see (and acknowledge) it.

File format
-----------
JSON lines. A line is ``{"crc":"<8 hex>","rec":BODY}`` where BODY is the record's compact JSON and the CRC-32 is
taken over BODY's bytes exactly as stored: a line whose CRC does not match is never interpreted. Every record
has a type ``t`` and, except the file-level ones, the journal's id ``s`` of its session (sessions of one SECC
process may interleave). Only the last write can be torn by a crash. The reader skips a bad last line (the
torn tail), and reports a bad line anywhere else with its number. Opening an existing journal appends. A torn
tail found then is ended with a newline and covered by a ``torn`` record, so it is not taken for corruption
later. Nothing already stored is rewritten. Record types: ``journal`` (file header), ``torn``, and per session
``start``, ``protocol``, ``established``, ``authorization``, ``service``, ``power_delivery``, ``meter``,
``receipt``, ``end``.

A Journal tells sessions apart by (role, peer). Concurrent sessions must have distinct peers, as TCP peers do.
"""

from __future__ import annotations

import asyncio
import dataclasses
import fcntl
import json
import os
import secrets
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from iso15118.codec import to_json
from iso15118.errors import V2GError
from iso15118.messages.iso20 import ChargeLoopRes
from iso15118.session.events import (
    CloseRequested,
    Event,
    MessageReceived,
    MessageSent,
    ProtocolNegotiated,
    SessionEnded,
    SessionEstablished,
)
from iso15118.session.services import parse_parameter_set
from iso15118.transport.trace import iso_time

__all__ = [
    "DEFAULT_JOURNAL",
    "JOURNAL_FORMAT",
    "Journal",
    "JournalError",
    "JournalProblem",
    "JournalScan",
    "JournalSession",
    "MeterRecord",
    "PowerDeliveryRecord",
    "read_journal",
    "scan_journal",
]

JOURNAL_FORMAT: Final = 1
DEFAULT_JOURNAL: Final = "v2g-journal.jsonl"

SERVICE_NAMES: Final = {1: "AC", 2: "DC", 3: "WPT", 4: "DC_ACDP", 5: "AC_BPT", 6: "DC_BPT", 7: "DC_ACDP_BPT"}
_CONTROL_MODES: Final = {1: "scheduled", 2: "dynamic"}
_BPT_CHANNELS: Final = {1: "unified", 2: "separated"}
_PAIRED: Final = ("AuthorizationReq", "ServiceSelectionReq", "PowerDeliveryReq")
_PREFIX: Final = b'{"crc":"'
_MID: Final = b'","rec":'
_HEAD: Final = len(_PREFIX) + 8 + len(_MID)
_TAIL_WINDOW: Final = 1 << 20


class JournalError(V2GError):
    """A journal cannot be written, or a stored record is corrupt (names the file and line)."""

    def __init__(self, reason: str, *, path: str, line: int | None = None) -> None:
        self.reason = reason
        self.path = path
        self.line = line
        super().__init__(f"{path}: line {line}: {reason}" if line is not None else f"{path}: {reason}")


# ---- records on disk ----------------------------------------------------------------------------------
def _encode_line(record: dict[str, Any]) -> bytes:
    body = json.dumps(record, separators=(",", ":"), allow_nan=False, default=str).encode("ascii")
    return b'{"crc":"%08x","rec":%s}\n' % (zlib.crc32(body), body)


def _decode_line(line: bytes) -> dict[str, Any] | str:
    """The record of a line, or why the line is not one."""
    if not line.endswith(b"\n"):
        return "incomplete record (no newline)"
    if not line.startswith(_PREFIX) or line[_HEAD - len(_MID) : _HEAD] != _MID or not line.endswith(b"}\n"):
        return "not a journal record"
    crc = line[len(_PREFIX) : len(_PREFIX) + 8]
    body = line[_HEAD:-2]
    if crc != b"%08x" % zlib.crc32(body):
        return "CRC mismatch"
    try:
        record = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "CRC matches but the body is not JSON"
    if not isinstance(record, dict) or not isinstance(record.get("t"), str):
        return "record without a type"
    return record


def _lines(data: bytes, start: int = 0) -> Iterator[tuple[int, bytes]]:
    """(offset, line including its newline) of every line; the last may lack the newline."""
    pos = start
    while pos < len(data):
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end + 1
        yield pos, data[pos:end]
        pos = end


def _find_torn_tail(fd: int, path: str) -> tuple[int, bytes] | None:
    """(offset, bytes) of the torn last line after the last valid record, or None when the file ends cleanly."""
    size = os.fstat(fd).st_size
    start = max(0, size - _TAIL_WINDOW)
    while True:
        data = os.pread(fd, size - start, start)
        if start == 0:
            lines = list(_lines(data))
        else:  # skip the partial line the window cut into
            newline = data.find(b"\n")
            lines = [] if newline < 0 else list(_lines(data, newline + 1))
        valid = (off + len(line) for off, line in reversed(lines) if isinstance(_decode_line(line), dict))
        tail_from = next(valid, None)
        if tail_from is not None or start == 0:
            break
        start = 0  # no valid record in the window: look at the whole file
    if tail_from is None:
        if len(lines) > 1:
            raise JournalError("not a v2gstack journal (no valid record)", path=path)
        tail_from = 0
    tail = data[tail_from:]
    if not tail:
        return None
    # Only the last write can be torn: earlier bad lines are corruption, left for the reader to report.
    last = tail.rfind(b"\n", 0, len(tail) - 1) + 1
    return start + tail_from + last, tail[last:]


# ---- the writer ---------------------------------------------------------------------------------------
@dataclass
class _Live:
    """What the writer tracks about an open session."""

    jid: str
    loops: int = 0
    pending: dict[str, Any] = field(default_factory=dict)
    sets: dict[tuple[int, int], Any] = field(default_factory=dict)


def _code(msg: Any) -> str:
    return str(getattr(msg, "response_code", ""))


class Journal:
    """The crash-safe session journal (an observer); opening an existing file appends to it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._live: dict[tuple[str, str], _Live] = {}
        self._ended: dict[tuple[str, str], None] = {}
        self.failed: str | None = None
        """Why writing failed (the journal then refuses every further record)."""
        created = not self.path.exists()
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        self._fd: int | None = os.open(self.path, flags, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                self._open_tail(created)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        except BaseException:
            os.close(self._fd)
            self._fd = None
            raise

    def _open_tail(self, created: bool) -> None:
        assert self._fd is not None
        if os.fstat(self._fd).st_size == 0:
            self._write(_encode_line({"t": "journal", "format": JOURNAL_FORMAT}))
            if created:  # make the new directory entry durable too
                dir_fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
            return
        torn = _find_torn_tail(self._fd, str(self.path))
        if torn is not None:
            offset, tail = torn
            data = b"" if tail.endswith(b"\n") else b"\n"
            self._write(data + _encode_line({"t": "torn", "offset": offset, "length": len(tail)}))

    def _write(self, data: bytes) -> None:
        fd = self._fd
        if fd is None:
            raise JournalError("the journal is closed", path=str(self.path))
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)

    def append(self, records: list[dict[str, Any]]) -> None:
        """Write records (one write, one fsync); raises :class:`JournalError` when that fails."""
        if not records:
            return
        data = b"".join(_encode_line(r) for r in records)
        with self._lock:
            if self.failed is not None:
                raise JournalError(f"an earlier write failed ({self.failed}); refusing to go on", path=str(self.path))
            try:
                self._write(data)
            except OSError as exc:
                self.failed = str(exc)
                raise JournalError(f"cannot write the journal: {exc}", path=str(self.path)) from exc

    async def observe(self, event: Event, *, role: str, peer: str) -> None:
        """Journal the event's facts, durably, before returning (the Observer hook)."""
        records = self.records_for(event, role=role, peer=peer)
        if records:
            await asyncio.to_thread(self.append, records)

    def write(self, event: Event, *, role: str, peer: str) -> None:
        """Synchronous form of :meth:`observe` (for code driving a sans-I/O Connection itself)."""
        self.append(self.records_for(event, role=role, peer=peer))

    def records_for(self, event: Event, *, role: str, peer: str) -> list[dict[str, Any]]:
        """The records an event adds (and the writer's session bookkeeping); nothing is written here."""
        key = (role, peer)
        live = self._live.get(key)
        records: list[dict[str, Any]] = []
        if live is None:
            message = isinstance(event, MessageSent | MessageReceived)
            if isinstance(event, CloseRequested) or (key in self._ended and not message):
                return []  # the tail of a session already ended
            live = self._live[key] = _Live(jid=secrets.token_hex(8))
            self._ended.pop(key, None)
            start = {"t": "start", "at": event.at, "time": iso_time(event.at), "role": role, "peer": peer}
            records.append(start | {"pid": os.getpid()})
        if isinstance(event, ProtocolNegotiated):
            version = list(event.version)
            records.append(dict(t="protocol", namespace=event.namespace, schema_id=event.schema_id, version=version))
        elif isinstance(event, SessionEstablished):
            ids = dict(evcc_id=event.evcc_id, evse_id=event.evse_id)
            records.append(dict(t="established", session_id=event.session_id.hex(), resumed=event.resumed, **ids))
        elif isinstance(event, MessageSent | MessageReceived):
            records += self._message_records(live, event.message, str(event.stream))
        elif isinstance(event, SessionEnded):
            why = dict(reason=str(event.reason), detail=event.detail, response_code=event.response_code)
            records.append(
                dict(t="end", time=iso_time(event.at), **why, requirement=event.requirement, loops=live.loops)
            )
            del self._live[key]
            self._ended[key] = None
            while len(self._ended) > 256:
                del self._ended[next(iter(self._ended))]
        for record in records:
            record.setdefault("at", event.at)
            record["s"] = live.jid
        return records

    def _message_records(self, live: _Live, msg: Any, stream: str) -> list[dict[str, Any]]:
        kind = type(msg).__name__
        if kind.endswith("Req"):
            live.pending[stream] = msg if kind in _PAIRED else None
            return []
        if kind == "ServiceDetailRes":
            for ps in msg.service_parameter_list.parameter_set:
                try:
                    live.sets[(msg.service_id, ps.parameter_set_id)] = parse_parameter_set(ps)
                except (AttributeError, TypeError, ValueError):
                    continue  # an odd parameter set leaves the control mode unknown, nothing worse
        if isinstance(msg, ChargeLoopRes):
            return self._loop_records(live, msg, kind)
        req = live.pending.pop(stream, None)
        if req is None or type(req).__name__ != kind[:-3] + "Req":
            return []
        code = _code(msg)
        if kind == "AuthorizationRes":
            service, processing = str(req.selected_authorization_service), str(msg.evse_processing)
            return [dict(t="authorization", service=service, processing=processing, response_code=code)]
        if kind == "ServiceSelectionRes":
            sid, set_id = (
                req.selected_energy_transfer_service.service_id,
                req.selected_energy_transfer_service.parameter_set_id,
            )
            spec = live.sets.get((sid, set_id))
            mode = _CONTROL_MODES.get(spec.control_mode) if spec else None
            bpt = _BPT_CHANNELS.get(spec.bpt_channel) if spec and spec.bpt_channel else None
            name = SERVICE_NAMES.get(sid, f"service {sid}")
            return [
                dict(t="service", service_id=sid, service=name, parameter_set=set_id, control_mode=mode)
                | dict(bpt_channel_type=bpt, response_code=code)
            ]
        channel = None if req.bpt_channel_selection is None else str(req.bpt_channel_selection)
        progress, processing = str(req.charge_progress), str(req.ev_processing)
        return [
            dict(t="power_delivery", progress=progress, ev_processing=processing, bpt_channel=channel)
            | dict(response_code=code)
        ]

    def _loop_records(self, live: _Live, msg: Any, kind: str) -> list[dict[str, Any]]:
        if _code(msg).startswith("OK"):
            live.loops += 1
        records: list[dict[str, Any]] = []
        meter = msg.meter_info
        if meter is not None:
            signature = None if meter.meter_signature is None else meter.meter_signature.hex()
            energy = dict(
                charged_wh=meter.charged_energy_reading_wh, discharged_wh=meter.bpt_discharged_energy_reading_wh
            )
            records.append(
                dict(t="meter", message=kind, loop=live.loops, meter_id=meter.meter_id, **energy)
                | dict(meter_timestamp=meter.meter_timestamp, signature=signature, status=meter.meter_status)
            )
        if msg.receipt is not None:
            view = next(iter(to_json(msg).values())).get("Receipt")
            records.append({"t": "receipt", "message": kind, "loop": live.loops, "receipt": view})
        return records

    def close(self) -> None:
        """Close the file (idempotent). Sessions still open stay open in the journal (no end record)."""
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# ---- the reader ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class MeterRecord:
    """A meter reading as journaled (from a ChargeLoopRes MeterInfo)."""

    at: float
    loop: int
    """The charge-loop exchange (1, 2, ...) that carried it."""
    meter_id: str
    charged_wh: int
    discharged_wh: int | None = None
    meter_timestamp: int | None = None
    signature: str | None = None
    """MeterSignature, hex."""
    status: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerDeliveryRecord:
    """A PowerDelivery exchange: what the EV asked and what the SECC answered."""

    at: float
    progress: str
    bpt_channel: str | None
    response_code: str


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalSession:
    """One session as the journal tells it (``end_reason`` None: the journal has no end, e.g. a crash)."""

    journal_id: str
    line: int
    """Line of the session's first record."""
    role: str
    peer: str
    started_at: float
    protocol: str | None = None
    session_id: str | None = None
    """The -20 SessionID, hex."""
    resumed: bool = False
    resumed_from: str | None = None
    """journal_id of the paused session this one resumed, when that is in the journal."""
    evcc_id: str | None = None
    evse_id: str | None = None
    authorization: str | None = None
    service_id: int | None = None
    service: str | None = None
    parameter_set: int | None = None
    control_mode: str | None = None
    bpt_channel_type: str | None = None
    bpt_channel: str | None = None
    """Charge or Discharge, from the last accepted PowerDelivery(Start)."""
    power_deliveries: tuple[PowerDeliveryRecord, ...] = ()
    meter_readings: tuple[MeterRecord, ...] = ()
    receipts: tuple[dict[str, Any], ...] = ()
    loops: int = 0
    ended_at: float | None = None
    end_reason: str | None = None
    end_detail: str | None = None
    end_response_code: str | None = None
    end_requirement: str | None = None

    @property
    def charged_wh(self) -> int | None:
        """Energy charged: last minus first meter reading (None without readings)."""
        if not self.meter_readings:
            return None
        return self.meter_readings[-1].charged_wh - self.meter_readings[0].charged_wh

    @property
    def discharged_wh(self) -> int | None:
        """Energy discharged: last minus first BPT discharged reading (None without readings)."""
        if not self.meter_readings:
            return None
        return (self.meter_readings[-1].discharged_wh or 0) - (self.meter_readings[0].discharged_wh or 0)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output (with the energy figures)."""
        data = dataclasses.asdict(self)
        data.update(charged_wh=self.charged_wh, discharged_wh=self.discharged_wh)
        return data


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalProblem:
    """A line that is not a valid record."""

    line: int
    offset: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalScan:
    """Everything readable in a journal, and what was not."""

    sessions: tuple[JournalSession, ...]
    records: int
    problems: tuple[JournalProblem, ...] = ()
    """Corrupt lines before the last valid record (a torn write cannot be there)."""
    torn_tail: JournalProblem | None = None
    """A bad last line: a write cut short by a crash (skipped)."""
    recovered: tuple[JournalProblem, ...] = ()
    """Torn tails of earlier crashes, covered by a ``torn`` record when the journal was reopened."""


_SESSION_FIELDS: Final = {f.name for f in dataclasses.fields(JournalSession)}


def _apply(acc: dict[str, Any], rec: dict[str, Any]) -> None:
    """Fold one record into a session's fields."""
    t, ok = rec["t"], str(rec.get("response_code") or "").startswith("OK")
    if t == "start":
        acc.update(role=rec.get("role"), peer=rec.get("peer"), started_at=rec.get("at"))
    elif t == "protocol":
        acc["protocol"] = rec.get("namespace")
    elif t == "established":
        acc.update({k: rec.get(k) for k in ("session_id", "resumed", "evcc_id", "evse_id")})
    elif t == "authorization" and ok and rec.get("processing") == "Finished":
        acc["authorization"] = rec.get("service")
    elif t == "service" and ok:
        acc.update({k: rec.get(k) for k in ("service_id", "service", "parameter_set", "control_mode")})
        acc["bpt_channel_type"] = rec.get("bpt_channel_type")
    elif t == "power_delivery":
        pd = PowerDeliveryRecord(
            at=rec["at"],
            progress=rec["progress"],
            bpt_channel=rec.get("bpt_channel"),
            response_code=rec["response_code"],
        )
        acc["power_deliveries"].append(pd)
        if ok and pd.progress == "Start" and rec.get("ev_processing") != "Ongoing":
            acc["bpt_channel"] = pd.bpt_channel
    elif t == "meter":
        optional = {k: rec.get(k) for k in ("discharged_wh", "meter_timestamp", "signature", "status")}
        reading = MeterRecord(
            at=rec["at"], loop=rec["loop"], meter_id=rec["meter_id"], charged_wh=rec["charged_wh"], **optional
        )
        acc["meter_readings"].append(reading)
        acc["loops"] = max(acc["loops"], rec.get("loop") or 0)
    elif t == "receipt":
        acc["receipts"].append(rec.get("receipt") or {})
    elif t == "end":
        acc.update(ended_at=rec.get("at"), end_reason=rec.get("reason"), end_detail=rec.get("detail"))
        acc.update(end_response_code=rec.get("response_code"), end_requirement=rec.get("requirement"))
        acc["loops"] = max(acc["loops"], rec.get("loops") or 0)


def scan_journal(path: str | os.PathLike[str]) -> JournalScan:
    """Read a journal leniently: every valid record, plus the corrupt lines and the torn tail, if any."""
    data = Path(path).read_bytes()
    entries: list[tuple[int, int, dict[str, Any] | str]] = []
    for number, (offset, line) in enumerate(_lines(data), start=1):
        entries.append((number, offset, _decode_line(line)))
    last_valid = max((i for i, e in enumerate(entries) if isinstance(e[2], dict)), default=-1)
    torn_marks = {e[2].get("offset") for e in entries if isinstance(e[2], dict) and e[2]["t"] == "torn"}
    problems: list[JournalProblem] = []
    recovered: list[JournalProblem] = []
    torn: JournalProblem | None = None
    acc: dict[str, dict[str, Any]] = {}
    count = 0
    for i, (number, offset, rec) in enumerate(entries):
        if isinstance(rec, str):
            problem = JournalProblem(line=number, offset=offset, reason=rec)
            if i == len(entries) - 1 and i > last_valid:
                torn = problem
            elif offset in torn_marks:
                recovered.append(problem)
            else:
                problems.append(problem)
            continue
        count += 1
        if rec["t"] == "journal" and rec.get("format") != JOURNAL_FORMAT:
            problems.append(JournalProblem(line=number, offset=offset, reason=f"unknown format {rec.get('format')}"))
        sid = rec.get("s")
        if not isinstance(sid, str):
            continue
        if sid not in acc:
            acc[sid] = dict(
                journal_id=sid, line=number, role="unknown", peer="unknown", started_at=rec.get("at"), loops=0
            )
            acc[sid].update(power_deliveries=[], meter_readings=[], receipts=[])
        try:
            _apply(acc[sid], rec)
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(JournalProblem(line=number, offset=offset, reason=f"malformed {rec['t']} record: {exc}"))
    sessions = _link_resumed([_session(a) for a in acc.values()])
    return JournalScan(
        sessions=tuple(sessions), records=count, problems=tuple(problems), torn_tail=torn, recovered=tuple(recovered)
    )


def _session(acc: dict[str, Any]) -> JournalSession:
    kw = {k: v for k, v in acc.items() if k in _SESSION_FIELDS}
    for name in ("power_deliveries", "meter_readings", "receipts"):
        kw[name] = tuple(kw[name])
    kw["resumed"] = bool(kw.get("resumed"))
    return JournalSession(**kw)


def _link_resumed(sessions: list[JournalSession]) -> list[JournalSession]:
    """A resumed session skips service selection: take its service from the paused session it resumed."""
    out: list[JournalSession] = []
    for s in sessions:
        if s.resumed and s.session_id:
            earlier = next((p for p in reversed(out) if p.session_id == s.session_id and p.role == s.role), None)
            if earlier is not None:
                kept = ("service_id", "service", "parameter_set", "control_mode", "bpt_channel_type", "authorization")
                inherit = {k: getattr(earlier, k) for k in kept if getattr(s, k) is None}
                s = dataclasses.replace(s, resumed_from=earlier.journal_id, **inherit)
        out.append(s)
    return out


def read_journal(path: str | os.PathLike[str]) -> list[JournalSession]:
    """The sessions of a journal; a torn last line is skipped, any other bad line raises :class:`JournalError`."""
    scan = scan_journal(path)
    if scan.problems:
        first = scan.problems[0]
        more = f" (and {len(scan.problems) - 1} more)" if len(scan.problems) > 1 else ""
        raise JournalError(f"corrupt record: {first.reason}{more}", path=str(path), line=first.line)
    return list(scan.sessions)
