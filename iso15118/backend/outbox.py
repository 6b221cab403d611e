"""The durable outbox of a charging station: transaction messages survive a CSMS outage and a crash, in order.

OCPP wants every TransactionEvent delivered, in the order the station generated them, each with the next
``seqNo`` of its transaction (0, 1, 2, ... with no gap), even when the CSMS is unreachable for a while or the
station restarts. The :class:`Outbox` keeps them in an SQLite database (the station's state directory):

* :meth:`Outbox.transaction_event` allocates the transaction's next seqNo, stores the finished payload and the
  transaction's bookkeeping in one SQLite transaction, committed with ``synchronous=FULL`` before it returns --
  so a message exists on disk before anything could send it, and a crash can lose neither the message nor the
  counter;
* the link delivers :meth:`Outbox.head` (the oldest message) and only after its CALLRESULT calls
  :meth:`Outbox.delivered`; nothing behind the head is sent before it (strict order);
* after a restart, :meth:`Outbox.open_transactions` lists the transactions that never ended (the station
  crashed while they ran), with their last meter reading, so they can be ended with the right seqNo.

A message whose CALLRESULT was lost with the connection is sent again: delivery is at least once, and a CSMS
recognises the repetition by its transactionId and seqNo (the reference CSMS records it once). Pure Python
and SQLite; no sockets, no event loop.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iso15118.errors import BackendError

__all__ = ["OpenTransaction", "Outbox", "Queued"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    action TEXT NOT NULL,
    payload TEXT NOT NULL,
    queued_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tx (
    transaction_id TEXT PRIMARY KEY,
    next_seq INTEGER NOT NULL,
    ended INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Queued:
    """One message waiting for delivery."""

    id: int
    action: str
    payload: dict[str, Any]
    queued_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenTransaction:
    """A transaction that has not ended: its id, the next seqNo, and what the station noted about it."""

    transaction_id: str
    next_seq: int
    data: dict[str, Any]


class Outbox:
    """Transaction messages on disk (``path``; None keeps them in memory, for tests and demos)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        try:
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path) if path is not None else ":memory:", isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk (the WAL fsync-ed) before it returns; a kill -9 or a power loss after it
            # cannot take the message back.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise BackendError(f"cannot open the OCPP outbox {path}: {exc}") from None

    def close(self) -> None:
        """Close the database (pending messages stay on disk)."""
        self._db.close()

    def _write(self, body: Callable[[sqlite3.Connection], Any]) -> Any:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = body(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return result
        except sqlite3.Error as exc:
            raise BackendError(f"the OCPP outbox {self.path or ':memory:'} failed: {exc}") from None

    def queue(self, action: str, payload: dict[str, Any], now: float) -> int:
        """Store one message for delivery; returns its id."""

        def body(db: sqlite3.Connection) -> int:
            cur = db.execute(
                "INSERT INTO outbox (action, payload, queued_at) VALUES (?, ?, ?)", (action, json.dumps(payload), now)
            )
            return int(cur.lastrowid or 0)

        result: int = self._write(body)
        return result

    def transaction_event(
        self,
        transaction_id: str,
        build: Callable[[int], dict[str, Any]],
        now: float,
        *,
        data: dict[str, Any],
        ended: bool = False,
    ) -> dict[str, Any]:
        """Store the next TransactionEvent of ``transaction_id``: ``build(seq_no)`` makes its payload.

        ``data`` replaces what is noted about the transaction (its last meter reading...); ``ended`` closes it.
        Returns the payload stored.
        """

        def body(db: sqlite3.Connection) -> dict[str, Any]:
            row = db.execute("SELECT next_seq, ended FROM tx WHERE transaction_id = ?", (transaction_id,)).fetchone()
            if row is not None and row[1]:
                raise BackendError(f"transaction {transaction_id} has already ended")
            seq = int(row[0]) if row is not None else 0
            payload = build(seq)
            db.execute(
                "INSERT INTO outbox (action, payload, queued_at) VALUES ('TransactionEvent', ?, ?)",
                (json.dumps(payload), now),
            )
            db.execute(
                "INSERT INTO tx (transaction_id, next_seq, ended, data) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(transaction_id) DO UPDATE SET next_seq = excluded.next_seq, ended = excluded.ended, "
                "data = excluded.data",
                (transaction_id, seq + 1, int(ended), json.dumps(data)),
            )
            return payload

        result: dict[str, Any] = self._write(body)
        return result

    def head(self) -> Queued | None:
        """The oldest message not yet delivered."""
        row = self._db.execute("SELECT id, action, payload, queued_at FROM outbox ORDER BY id LIMIT 1").fetchone()
        if row is None:
            return None
        return Queued(id=int(row[0]), action=str(row[1]), payload=json.loads(row[2]), queued_at=float(row[3]))

    def delivered(self, message_id: int) -> None:
        """The CSMS answered message ``message_id``: it leaves the outbox."""
        self._write(lambda db: db.execute("DELETE FROM outbox WHERE id = ?", (message_id,)))

    def drop(self, message_id: int) -> None:
        """Give up on a message the CSMS refused with a CALLERROR (it would block everything behind it)."""
        self.delivered(message_id)

    @property
    def pending(self) -> int:
        """Messages waiting for delivery."""
        return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def open_transactions(self) -> list[OpenTransaction]:
        """Transactions that started and never ended (a crash interrupted them), oldest first."""
        rows = self._db.execute("SELECT transaction_id, next_seq, data FROM tx WHERE ended = 0 ORDER BY rowid")
        return [OpenTransaction(transaction_id=r[0], next_seq=int(r[1]), data=json.loads(r[2])) for r in rows]
