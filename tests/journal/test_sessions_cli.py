"""`v2g sessions`: the table and the JSON of a journal, torn tails, corrupt lines and missing files."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from harness.cli import main
from iso15118.config import EvccConfig
from iso15118.records.journal import Journal
from iso15118.session.events import MessageSent
from iso15118.session.profile import Stream
from iso15118.session.selection import EnergyFamily
from tests.journal.support import CountingEVSE, run_pair
from tests.journal.test_journal import _loop_res


def _journal(path: Path, loops: int = 3, energy: EnergyFamily = EnergyFamily.AC) -> tuple[str, str]:
    with Journal(path) as journal:
        out, secc = asyncio.run(
            run_pair(
                EvccConfig(
                    max_loops=loops,
                    loop_interval_s=0.0,
                    energy=energy,
                    authorization_retry_s=0.0,
                    precharge_interval_s=0.0,
                ),
                evse=CountingEVSE(),
                secc_observers=[journal],
                evcc_observers=[journal],
            )
        )
    assert out.ok and secc.ok
    return out.session_id.hex(), secc.session_id.hex()


def test_table_lists_every_session(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "j.jsonl"
    sid, _ = _journal(path)
    assert main(["sessions", "--journal", str(path)]) == 0
    out = capsys.readouterr()
    header, *rows = out.out.splitlines()
    assert header.split()[:4] == ["started", "(UTC)", "role", "peer"]
    assert len(rows) == 2 and out.err == ""
    for row, role in zip(rows, ("evcc", "secc"), strict=True):
        cells = row.split()
        # date, time, role, peer, session id, authorization, service, mode, loops, charged, discharged, end
        peer = "secc" if role == "evcc" else "evcc"  # each side names the other end
        assert cells[2:] == [role, f"memory:{peer}", sid, "EIM", "AC_BPT", "dynamic", "3", "14", "6", "terminated"]


def test_table_names_a_dc_bpt_session(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "j.jsonl"
    sid, _ = _journal(path, loops=2, energy=EnergyFamily.DC)
    assert main(["sessions", "--journal", str(path)]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert [row.split()[2:] for row in rows] == [
        [role, f"memory:{peer}", sid, "EIM", "DC_BPT", "dynamic", "2", "7", "3", "terminated"]
        for role, peer in (("evcc", "secc"), ("secc", "evcc"))
    ]


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "j.jsonl"
    sid, _ = _journal(path, loops=4)
    assert main(["sessions", "--journal", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["problems"] == [] and doc["torn_tail"] is None
    secc = next(s for s in doc["sessions"] if s["role"] == "secc")
    assert secc["session_id"] == sid and secc["loops"] == 4 and secc["end_reason"] == "terminated"
    assert [r["charged_wh"] for r in secc["meter_readings"]] == [1007, 1014, 1021, 1028]
    assert (secc["charged_wh"], secc["discharged_wh"]) == (21, 9)
    assert secc["started"].endswith("Z")


def test_open_session_torn_tail_and_corruption(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "j.jsonl"
    with Journal(path) as journal:
        for n in (1, 2):
            ev = MessageSent(at=100.0 + n, message=_loop_res(n), payload_type=0x8003, stream=Stream.MAIN, data=b"")
            journal.write(ev, role="secc", peer="[fe80::9]:4000")
    with open(path, "ab") as f:
        f.write(b'{"crc":"00000000","rec":{"t":"me')
    assert main(["sessions", "--journal", str(path)]) == 0
    out = capsys.readouterr()
    (row,) = out.out.splitlines()[1:]
    assert row.split()[-4:] == ["2", "100", "0", "open"]
    assert "line 5: torn last record skipped" in out.err

    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"loop":1', b'"loop":7')  # a changed digit: the CRC no longer matches
    path.write_bytes(b"".join(lines))
    assert main(["sessions", "--journal", str(path)]) == 1
    out = capsys.readouterr()
    assert "line 3: corrupt record skipped: CRC mismatch" in out.err
    assert out.out.splitlines()[1].split()[-4:] == ["2", "0", "0", "open"]  # the one reading left


def test_missing_journal_is_one_clean_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sessions", "--journal", str(tmp_path / "none.jsonl")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such journal file" in err and "Traceback" not in err
