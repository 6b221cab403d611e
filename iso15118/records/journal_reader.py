"""Reading the session journal back: the sessions it tells of, and the lines that are not valid records.

:func:`scan_journal` reads leniently (every valid record, plus the corrupt lines and the torn tail), and
:func:`read_journal` strictly (a torn last line is skipped, any other bad line raises :class:`JournalError`).
The file format is documented in :mod:`iso15118.records.journal`, which writes it.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from iso15118.records.journal_format import JOURNAL_FORMAT, JournalError, decode_line, split_lines

__all__ = [
    "JournalProblem",
    "JournalScan",
    "JournalSession",
    "MeterRecord",
    "PowerDeliveryRecord",
    "read_journal",
    "scan_journal",
]


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
    for number, (offset, line) in enumerate(split_lines(data), start=1):
        entries.append((number, offset, decode_line(line)))
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
