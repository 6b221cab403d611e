"""`v2g sessions`: list the sessions of a session journal (logic: :mod:`iso15118.records.journal`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from iso15118.records.journal import DEFAULT_JOURNAL, JournalError, JournalScan, JournalSession, scan_journal
from iso15118.records.trace import iso_time

__all__ = ["register", "run", "session_row"]

_COLUMNS = (
    "started (UTC)",
    "role",
    "peer",
    "session id",
    "auth",
    "service",
    "mode",
    "loops",
    "charged Wh",
    "dis. Wh",
    "end",
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``sessions`` command."""
    parser = subparsers.add_parser(
        "sessions",
        help="list the sessions recorded in a session journal",
        description=(
            "List every session of a journal written by `v2g secc/evcc --journal FILE`: start time, role, peer, "
            "SessionID, authorization (EIM or PnC, once the charger accepted it), service, control mode, charge "
            "loops, energy (last minus first meter reading) and how it ended ('open' = no end record: still "
            "running, or the process died). A torn last record is skipped "
            "with a note; a corrupt record elsewhere is reported with its line number and the exit status is 1."
        ),
    )
    parser.add_argument(
        "--journal", metavar="FILE", type=Path, default=Path(DEFAULT_JOURNAL), help=f"default: {DEFAULT_JOURNAL}"
    )
    parser.add_argument("--json", action="store_true", help="print JSON: every session with its meter readings")
    parser.set_defaults(func=run)


def _cell(value: object) -> str:
    return "-" if value is None else str(value)


def session_row(s: JournalSession) -> tuple[str, ...]:
    """The table row of a session (the columns of ``v2g sessions``)."""
    started = iso_time(s.started_at)[:19].replace("T", " ") if s.started_at is not None else "-"
    end = s.end_reason or "open"
    if s.end_response_code:
        end += f" ({s.end_response_code})"
    return (
        started,
        s.role,
        s.peer,
        _cell(s.session_id),
        _cell(s.authorization),
        _cell(s.service),
        _cell(s.control_mode),
        str(s.loops),
        _cell(s.charged_wh),
        _cell(s.discharged_wh),
        end,
    )


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [_COLUMNS, *rows]) for i in range(len(_COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [_COLUMNS, *rows]]
    return "\n".join(lines)


def _as_json(path: Path, scan: JournalScan) -> dict[str, Any]:
    return {
        "journal": str(path),
        "records": scan.records,
        "sessions": [s.to_dict() | {"started": iso_time(s.started_at)} for s in scan.sessions],
        "problems": [{"line": p.line, "reason": p.reason} for p in scan.problems],
        "torn_tail": None if scan.torn_tail is None else {"line": scan.torn_tail.line, "reason": scan.torn_tail.reason},
    }


def run(args: argparse.Namespace) -> int:
    """Print the journal's sessions; exit 1 when a record in the middle of the file is corrupt."""
    path: Path = args.journal
    if not path.is_file():
        raise JournalError("no such journal file (give --journal FILE)", path=str(path))
    scan = scan_journal(path)
    if args.json:
        print(json.dumps(_as_json(path, scan), indent=2))
    elif scan.sessions:
        print(_table([session_row(s) for s in scan.sessions]))
    else:
        print(f"{path}: no sessions")
    if scan.torn_tail is not None:
        line = scan.torn_tail.line
        print(
            f"v2g sessions: note: {path}: line {line}: torn last record skipped (a crash cut it short)", file=sys.stderr
        )
    for p in scan.problems:
        print(f"v2g sessions: warning: {path}: line {p.line}: corrupt record skipped: {p.reason}", file=sys.stderr)
    return 1 if scan.problems else 0
