"""The session journal: an append-only, crash-safe record of what each session agreed and metered.

A :class:`Journal` is a record writer (:class:`~iso15118.transport.driver.RecordWriter`). For every session it
records a start (role, peer, time), the negotiated parameters (protocol, SessionID, authorization, service,
control mode, BPT channel, each PowerDelivery), every meter reading and receipt carried in a ChargeLoopRes, and
the end. Each record is written and ``os.fsync``-ed before :meth:`Journal.write` returns. The runner calls it
(from a worker thread: ``blocking`` is true) before it writes a sent message to the link, so a meter reading is on
disk before the EV can see (and acknowledge) it.

File format
-----------
JSON lines. A line is ``{"crc":"<8 hex>","rec":BODY}`` where BODY is the record's compact JSON and the CRC-32 is
taken over BODY's bytes exactly as stored: a line whose CRC does not match is never interpreted. Every record
has a type ``t`` and, except the file-level ones, the journal's id ``s`` of its session (sessions of one SECC
process may interleave). Only the last write can be torn by a crash. The reader
(:mod:`iso15118.records.journal_reader`) skips a bad last line (the torn tail), and reports a bad line anywhere
else with its number. Opening an existing journal appends. A torn
tail found then is ended with a newline and covered by a ``torn`` record, so it is not taken for corruption
later. Nothing already stored is rewritten. Record types: ``journal`` (file header), ``torn``, and per session
``start``, ``protocol``, ``established``, ``authorization``, ``service``, ``power_delivery``, ``meter``,
``receipt``, ``end``.

A Journal tells sessions apart by (role, peer). Concurrent sessions must have distinct peers, as TCP peers do.

This module is the writer. The line format both sides share (CRC rule, :class:`JournalError`) is in
:mod:`iso15118.records.journal_format`, the reading side in :mod:`iso15118.records.journal_reader`. Their
public names are re-exported here, so ``from iso15118.records.journal import read_journal`` keeps working.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Final

from iso15118.codec import to_json
from iso15118.iso20.services import parse_parameter_set
from iso15118.messages.iso20 import ChargeLoopRes
from iso15118.records.journal_format import (
    DEFAULT_JOURNAL,
    JOURNAL_FORMAT,
    JournalError,
    decode_line,
    encode_line,
    split_lines,
)
from iso15118.records.journal_reader import (
    JournalProblem,
    JournalScan,
    JournalSession,
    MeterRecord,
    PowerDeliveryRecord,
    read_journal,
    scan_journal,
)
from iso15118.records.trace import iso_time
from iso15118.session.events import (
    CloseRequested,
    Event,
    MessageReceived,
    MessageSent,
    ProtocolNegotiated,
    SessionEnded,
    SessionEstablished,
)

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

SERVICE_NAMES: Final = {1: "AC", 2: "DC", 3: "WPT", 4: "DC_ACDP", 5: "AC_BPT", 6: "DC_BPT", 7: "DC_ACDP_BPT"}
_CONTROL_MODES: Final = {1: "scheduled", 2: "dynamic"}
_BPT_CHANNELS: Final = {1: "unified", 2: "separated"}
_PAIRED: Final = ("AuthorizationReq", "ServiceSelectionReq", "PowerDeliveryReq")
_TAIL_WINDOW: Final = 1 << 20


def _find_torn_tail(fd: int, path: str) -> tuple[int, bytes] | None:
    """(offset, bytes) of the torn last line after the last valid record, or None when the file ends cleanly."""
    size = os.fstat(fd).st_size
    start = max(0, size - _TAIL_WINDOW)
    while True:
        data = os.pread(fd, size - start, start)
        if start == 0:
            lines = list(split_lines(data))
        else:  # skip the partial line the window cut into
            newline = data.find(b"\n")
            lines = [] if newline < 0 else list(split_lines(data, newline + 1))
        valid = (off + len(line) for off, line in reversed(lines) if isinstance(decode_line(line), dict))
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
        # records_for keeps per-session bookkeeping; sessions of one SECC write from several worker threads.
        self._session_lock = threading.Lock()
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
            self._write(encode_line({"t": "journal", "format": JOURNAL_FORMAT}))
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
            self._write(data + encode_line({"t": "torn", "offset": offset, "length": len(tail)}))

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
        data = b"".join(encode_line(r) for r in records)
        with self._lock:
            if self.failed is not None:
                raise JournalError(f"an earlier write failed ({self.failed}); refusing to go on", path=str(self.path))
            try:
                self._write(data)
            except OSError as exc:
                self.failed = str(exc)
                raise JournalError(f"cannot write the journal: {exc}", path=str(self.path)) from exc

    blocking: ClassVar[bool] = True
    """Writes wait for ``fsync``: the runner calls :meth:`write` from a worker thread."""

    def write(self, event: Event, *, role: str, peer: str) -> None:
        """Journal the event's facts, durably, before returning (the record-writer hook)."""
        with self._session_lock:
            records = self.records_for(event, role=role, peer=peer)
        self.append(records)

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
