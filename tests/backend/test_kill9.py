"""kill -9 the SECC (`v2g secc --csms`) in the middle of a session and restart it: every TransactionEvent of the
transaction arrives once, in order, with no gap in seqNo, and the transaction the crash interrupted ends after the
restart (stoppedReason PowerLoss) with the next seqNo.

The CSMS runs here on [::1] and is stopped before the kill, so the outbox on disk holds events that were never
delivered when the process dies; it comes back before the SECC restarts. The EV runs here too, over plain TCP
(tolerant mode). Everything waits for readiness: the SECC's "listening" line, the CSMS's records, the outbox file.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

from harness.csms import CsmsSettings, ReferenceCsms
from iso15118.config import EvccConfig
from iso15118.simple import SimpleEV
from iso15118.transport.link import StreamLink
from iso15118.transport.runner import run_evcc_session
from tests.backend.support import until

REPO = Path(__file__).resolve().parents[2]


async def _start_secc(url: str, state: Path) -> tuple[asyncio.subprocess.Process, int]:
    argv = [sys.executable, "-m", "harness.cli", "secc", "--listen", "::1", "--tolerant", "--no-tls", "--no-sdp"]
    proc = await asyncio.create_subprocess_exec(
        *argv, "--csms", url, "--csms-state", str(state), "--sample-interval", "0.1",
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
    found = re.search(r"listening on \[::1\]:(\d+)", line)
    assert found is not None, f"`v2g secc` did not start: {line!r}"
    return proc, int(found.group(1))


def _pending(state: Path) -> int:
    path = state / "ocpp-CS9.sqlite"
    if not path.exists():
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        try:
            return int(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def test_kill_9_mid_session_then_restart_delivers_every_event_once_in_order(tmp_path: Path) -> None:
    async def main() -> None:
        csms = ReferenceCsms(CsmsSettings())
        await csms.start()
        proc, port = await _start_secc(csms.url("CS9"), tmp_path)
        restarted: asyncio.subprocess.Process | None = None
        try:
            await csms.wait_station("CS9", timeout=30)
            reader, writer = await asyncio.open_connection("::1", port)
            ev_task = asyncio.create_task(
                run_evcc_session(StreamLink(reader, writer), SimpleEV(), EvccConfig(loop_interval_s=0.05))
            )
            await until(lambda: len(csms.records.transaction_events()) >= 3, "three events", timeout=30)
            await csms.stop()
            await until(lambda: _pending(tmp_path) >= 3, "undelivered events on disk", timeout=30)
            os.kill(proc.pid, signal.SIGKILL)  # no chance to close, flush or say goodbye
            await proc.wait()
            outcome: Any = await ev_task
            assert outcome.ended.reason == "connection_lost"
            left = _pending(tmp_path)
            await csms.start()
            restarted, _ = await _start_secc(csms.url("CS9"), tmp_path)
            ended = lambda: any(e["eventType"] == "Ended" for e in csms.records.transaction_events())  # noqa: E731
            await until(ended, "the interrupted transaction to end", timeout=30)
            await until(lambda: _pending(tmp_path) == 0, "the outbox to drain", timeout=30)
            events = csms.records.transaction_events("CS9")
            assert [e["seqNo"] for e in events] == list(range(len(events)))
            assert len(events) >= 3 + left
            assert len({e["transactionInfo"]["transactionId"] for e in events}) == 1
            assert events[0]["eventType"] == "Started" and events[-1]["eventType"] == "Ended"
            assert events[-1]["transactionInfo"]["stoppedReason"] == "PowerLoss"
            assert events[-1]["triggerReason"] == "AbnormalCondition"
            assert sum(e["_repeats"] for e in events) <= 1
            assert any(e.get("offline") for e in events)
            assert csms.records.invalid() == []
        finally:
            for p in (proc, restarted):
                if p is not None and p.returncode is None:
                    p.terminate()
                    await p.wait()
            await csms.stop()

    asyncio.run(main())
