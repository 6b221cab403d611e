"""The journal's line format, shared by the writer and the reader: one CRC-checked JSON record per line.

A line is ``{"crc":"<8 hex>","rec":BODY}`` plus a newline, where BODY is the record's compact JSON and the
CRC-32 is taken over BODY's bytes exactly as stored. A line whose CRC does not match is never interpreted. The
full format (record types, torn tails, appending) is documented in :mod:`iso15118.records.journal`, which
writes it; :mod:`iso15118.records.journal_reader` reads it.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from typing import Any, Final

from iso15118.errors import V2GError

__all__ = [
    "DEFAULT_JOURNAL",
    "JOURNAL_FORMAT",
    "JournalError",
    "decode_line",
    "encode_line",
    "split_lines",
]

JOURNAL_FORMAT: Final = 1
DEFAULT_JOURNAL: Final = "v2g-journal.jsonl"

_PREFIX: Final = b'{"crc":"'
_MID: Final = b'","rec":'
_HEAD: Final = len(_PREFIX) + 8 + len(_MID)


class JournalError(V2GError):
    """A journal cannot be written, or a stored record is corrupt (names the file and line)."""

    def __init__(self, reason: str, *, path: str, line: int | None = None) -> None:
        self.reason = reason
        self.path = path
        self.line = line
        super().__init__(f"{path}: line {line}: {reason}" if line is not None else f"{path}: {reason}")


def encode_line(record: dict[str, Any]) -> bytes:
    """The stored line of a record: its compact JSON under its CRC-32, newline-terminated."""
    body = json.dumps(record, separators=(",", ":"), allow_nan=False, default=str).encode("ascii")
    return b'{"crc":"%08x","rec":%s}\n' % (zlib.crc32(body), body)


def decode_line(line: bytes) -> dict[str, Any] | str:
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


def split_lines(data: bytes, start: int = 0) -> Iterator[tuple[int, bytes]]:
    """(offset, line including its newline) of every line; the last may lack the newline."""
    pos = start
    while pos < len(data):
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end + 1
        yield pos, data[pos:end]
        pos = end
