"""What the reference CSMS received and sent, in SQLite: every frame, and the transactions' events once each.

Tables:

* ``frames`` -- every OCPP-J frame in either direction, in order: the station, the direction (``in``: from the
  station), the message type, messageId and action, the text, and for a received CALL or CALLRESULT whether
  it validated against the official JSON schema of the OCPP version (and why not);
* ``transaction_events`` -- every TransactionEvent the CSMS accepted, once per (station, transactionId, seqNo),
  in the order they arrived; a repetition (the station re-sent an event whose CALLRESULT it never got) is
  counted in ``repeats`` of the first copy, not stored again.

Queries for tests and the demo: :meth:`CsmsRecords.transaction_events`, :meth:`CsmsRecords.invalid`,
:meth:`CsmsRecords.actions`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["CsmsRecords"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS frames (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    station TEXT NOT NULL,
    direction TEXT NOT NULL,
    kind INTEGER,
    unique_id TEXT,
    action TEXT,
    text TEXT NOT NULL,
    valid INTEGER,
    error TEXT
);
CREATE TABLE IF NOT EXISTS transaction_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at REAL NOT NULL,
    station TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    seq_no INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    trigger_reason TEXT NOT NULL,
    offline INTEGER NOT NULL,
    payload TEXT NOT NULL,
    repeats INTEGER NOT NULL DEFAULT 0,
    UNIQUE (station, transaction_id, seq_no)
);
"""


class CsmsRecords:
    """The CSMS's SQLite record (``path``; None keeps it in memory)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path) if path else ":memory:", isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        # A demo's record: WAL without an fsync per frame (a power cut may lose the last moments, never the file).
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def frame(
        self,
        station: str,
        direction: str,
        text: str,
        *,
        kind: int | None = None,
        unique_id: str | None = None,
        action: str | None = None,
        valid: bool | None = None,
        error: str | None = None,
    ) -> None:
        """Record one frame."""
        with self._lock:
            self._db.execute(
                "INSERT INTO frames (at, station, direction, kind, unique_id, action, text, valid, error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (time.time(), station, direction, kind, unique_id, action, text, valid, error),
            )

    def transaction_event(self, station: str, payload: dict[str, Any]) -> bool:
        """Record a TransactionEvent once; False when it is a repetition of one already recorded."""
        info = payload.get("transactionInfo", {})
        key = (station, str(info.get("transactionId")), int(payload.get("seqNo", -1)))
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO transaction_events (received_at, station, transaction_id, seq_no, event_type, "
                "trigger_reason, offline, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    *key,
                    str(payload.get("eventType")),
                    str(payload.get("triggerReason")),
                    int(bool(payload.get("offline", False))),
                    json.dumps(payload),
                ),
            )
            if cur.rowcount:
                return True
            self._db.execute(
                "UPDATE transaction_events SET repeats = repeats + 1 "
                "WHERE station = ? AND transaction_id = ? AND seq_no = ?",
                key,
            )
            return False

    # ---- queries --------------------------------------------------------------------------------------
    def transaction_events(self, station: str | None = None) -> list[dict[str, Any]]:
        """The TransactionEvent payloads accepted, in arrival order, each with ``_repeats`` added."""
        sql = "SELECT payload, repeats FROM transaction_events"
        args: tuple[Any, ...] = ()
        if station is not None:
            sql, args = sql + " WHERE station = ?", (station,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY id", args).fetchall()
        return [{**json.loads(p), "_repeats": int(r)} for p, r in rows]

    def invalid(self) -> list[tuple[str, str, str]]:
        """(station, action, error) of every received frame that did not validate."""
        with self._lock:
            rows = self._db.execute(
                "SELECT station, action, error FROM frames WHERE direction = 'in' AND valid = 0 ORDER BY id"
            ).fetchall()
        return [(str(s), str(a), str(e)) for s, a, e in rows]

    def validated(self) -> int:
        """Received CALLs and CALLRESULTs that were checked against their schema."""
        with self._lock:
            sql = "SELECT COUNT(*) FROM frames WHERE direction = 'in' AND valid IS NOT NULL"
            row = self._db.execute(sql).fetchone()
        return int(row[0])

    def actions(self, station: str | None = None, *, direction: str = "in") -> list[str]:
        """The actions of the CALLs in one direction, in order."""
        sql = "SELECT action FROM frames WHERE direction = ? AND kind = 2"
        args: tuple[Any, ...] = (direction,)
        if station is not None:
            sql, args = sql + " AND station = ?", (*args, station)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY id", args).fetchall()
        return [str(r[0]) for r in rows]

    def frames(self, station: str | None = None) -> list[dict[str, Any]]:
        """Every frame (for the demo's dump)."""
        with self._lock:
            cur = self._db.execute("SELECT at, station, direction, action, text, valid, error FROM frames ORDER BY id")
            rows = cur.fetchall()
        keys = ("at", "station", "direction", "action", "text", "valid", "error")
        return [dict(zip(keys, r, strict=True)) for r in rows if station is None or r[1] == station]
