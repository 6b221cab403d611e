"""Message traces: one JSON line per message sent or received, and one per session milestone.

A :class:`TraceWriter` is a record writer (:class:`~iso15118.transport.driver.RecordWriter`). Give it to
``serve_secc_session`` / ``run_evcc_session`` (``observers=[TraceWriter("secc.jsonl")]``) and every message
lands in the file as it is sent or received, on both sides alike:

.. code-block:: json

    {"event":"message","time":"2026-11-22T12:40:40.563641Z","at":1795351240.563641,"role":"secc",
     "peer":"[fe80::1%3]:50112","direction":"rx","payload_type":"0x8002","stream":"main",
     "message":"SessionSetupReq","schema":"iso20-common","session_id":"0000000000000000",
     "exi":"8010...","json":{"SessionSetupReq":{...}}}

``direction`` is this side's point of view (``tx`` sent, ``rx`` received), ``exi`` the raw EXI payload
(without the V2GTP header; decode it with ``v2g decode --schema <schema>``) and ``json`` the decoded message's
JSON view (:func:`iso15118.codec.to_json`). ProtocolNegotiated, SessionEstablished, PerformanceTimeExceeded
and SessionEnded add a line each (``event`` names them). Lines are flushed one by one (not fsynced: a trace
is for debugging; the crash-safe record is :mod:`iso15118.records.journal`).

Tracing never breaks a session: a disk error is logged once and tracing stops.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, TextIO

from iso15118.codec import schema_of, to_json
from iso15118.codec.schemasets import SCHEMA_ALIASES
from iso15118.errors import V2GError
from iso15118.session.events import (
    Event,
    MessageReceived,
    MessageSent,
    PerformanceTimeExceeded,
    ProtocolNegotiated,
    SessionEnded,
    SessionEstablished,
)

__all__ = ["TraceError", "TraceWriter", "iso_time", "read_trace", "trace_record"]

_log = logging.getLogger(__name__)
_CLI_SCHEMA = {name: alias for alias, name in SCHEMA_ALIASES.items()}


class TraceError(V2GError):
    """A trace file line is not a JSON object (names the line)."""

    def __init__(self, reason: str, *, path: str, line: int) -> None:
        self.reason = reason
        self.path = path
        self.line = line
        super().__init__(f"{path}: line {line}: {reason}")


def iso_time(at: float) -> str:
    """POSIX seconds as ISO 8601 UTC with microseconds (``2026-11-22T12:40:40.563641Z``)."""
    stamp = datetime.datetime.fromtimestamp(at, tz=datetime.UTC)
    return stamp.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _message_fields(event: MessageSent | MessageReceived) -> dict[str, Any]:
    msg = event.message
    header = getattr(msg, "header", None)
    session_id = getattr(header, "session_id", None)
    fields: dict[str, Any] = {
        "direction": "tx" if isinstance(event, MessageSent) else "rx",
        "payload_type": f"0x{event.payload_type:04x}",
        "stream": str(event.stream),
        "message": type(msg).__name__,
        "schema": None,
        "session_id": session_id.hex() if isinstance(session_id, bytes) else None,
        "exi": event.data.hex(),
    }
    try:
        schema = schema_of(msg)
        fields["schema"] = _CLI_SCHEMA.get(schema, schema)  # the name `v2g decode --schema` takes
        fields["json"] = to_json(msg)
    except Exception as exc:  # a view failure must not lose the line: the raw EXI is still there
        fields["json"] = None
        fields["json_error"] = f"{type(exc).__name__}: {exc}"
    return fields


def trace_record(event: Event, *, role: str, peer: str) -> dict[str, Any] | None:
    """The trace line of an event as a dict, or None for events a trace does not record."""
    fields: dict[str, Any]
    if isinstance(event, MessageSent | MessageReceived):
        kind, fields = "message", _message_fields(event)
    elif isinstance(event, ProtocolNegotiated):
        kind = "protocol_negotiated"
        fields = {"namespace": event.namespace, "schema_id": event.schema_id, "version": list(event.version)}
    elif isinstance(event, SessionEstablished):
        kind = "session_established"
        fields = {
            "session_id": event.session_id.hex(),
            "resumed": event.resumed,
            "evcc_id": event.evcc_id,
            "evse_id": event.evse_id,
        }
    elif isinstance(event, PerformanceTimeExceeded):
        kind = "performance_time_exceeded"
        fields = {"what": event.what, "limit": event.limit, "actual": event.actual, "requirement": event.requirement}
    elif isinstance(event, SessionEnded):
        kind = "session_ended"
        fields = {
            "reason": str(event.reason),
            "detail": event.detail,
            "response_code": event.response_code,
            "requirement": event.requirement,
        }
    else:
        return None
    return {"event": kind, "time": iso_time(event.at), "at": event.at, "role": role, "peer": peer, **fields}


class TraceWriter:
    """An observer that appends one JSON line per message (and per session milestone) to a file.

    The file is opened for appending when the writer is made (so a bad path fails at once, with an
    ``OSError``). Later write errors are logged once and end tracing; they never reach the session.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._file: TextIO | None = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        self.lines = 0
        """Lines written so far."""
        self.error: str | None = None
        """Why tracing stopped, if it did."""

    blocking: ClassVar[bool] = False
    """A buffered line per event: cheap enough for the event loop."""

    def write(self, event: Event, *, role: str, peer: str) -> None:
        """Write the event's line, if it has one (the record-writer hook)."""
        if self._file is None:
            return
        try:
            record = trace_record(event, role=role, peer=peer)
            if record is None:
                return
            # ensure_ascii: a peer's lone surrogate in a string must not make the line unwritable.
            line = json.dumps(record, separators=(",", ":"), default=str)
        except Exception as exc:  # never raise into the session
            _log.warning("trace %s: cannot serialise %s: %s", self.path, type(event).__name__, exc)
            return
        try:
            self._file.write(line + "\n")
            self._file.flush()
            self.lines += 1
        except (OSError, ValueError) as exc:
            self.error = str(exc)
            _log.error("trace %s: write failed (%s); tracing stops", self.path, exc)
            self._drop()

    def _drop(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except (OSError, ValueError):
                pass

    def close(self) -> None:
        """Close the file (idempotent); later events are ignored."""
        self._drop()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def read_trace(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a trace file, in order. An incomplete last line (a crash mid-write) is skipped."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")
    records: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines):  # no newline after it: a torn last line
                break
            raise TraceError(f"not JSON ({exc.msg} at column {exc.colno})", path=str(path), line=number) from None
        if not isinstance(record, dict):
            raise TraceError("not a JSON object", path=str(path), line=number)
        records.append(record)
    return records
