"""kill -9 the SECC mid charge loop: every meter reading the EV received is in the SECC's journal.

`v2g secc` runs as a subprocess (plain TCP on ::1, tolerant mode) with ``--journal``; the EVCC runs here over
``asyncio.open_connection`` and records every MeterInfo it receives. The SECC is killed with SIGKILL a few
milliseconds after the k-th reading. Its journal must then hold every reading the EV saw, in order (it was
fsynced before it was sent), at most one more (journaled, never delivered), read cleanly, and take appends.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from iso15118.config import EvccConfig
from iso15118.records.journal import Journal, read_journal, scan_journal
from iso15118.session.events import EndReason, Event, MessageReceived
from iso15118.simple import SimpleEV
from iso15118.transport.link import StreamLink
from iso15118.transport.runner import run_evcc_session
from tests.journal.support import run_pair
from tests.support.netns import ipv6_loopback

REPO = Path(__file__).resolve().parents[2]


def _start_secc(journal: Path) -> tuple[subprocess.Popen[str], int]:
    argv = [sys.executable, "-m", "harness.cli", "secc", "--listen", "::1", "--tolerant", "--no-tls", "--no-sdp"]
    proc = subprocess.Popen(
        [*argv, "--journal", str(journal)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(proc.stdout.readline() if proc.stdout else ""), daemon=True)
    reader.start()
    reader.join(30)
    found = re.search(r"listening on \[::1\]:(\d+)", first[0] if first else "")
    if found is None:
        proc.kill()
        proc.wait()
        pytest.fail(f"`v2g secc` did not start listening: {first!r}")
    return proc, int(found.group(1))


class _MeterWatch:
    """EVCC observer: keeps every MeterInfo received and SIGKILLs the SECC shortly after the k-th one."""

    def __init__(self, pid: int, kill_after: int, delay: float) -> None:
        self.pid, self.kill_after, self.delay = pid, kill_after, delay
        self.received: list[tuple[Any, ...]] = []

    async def observe(self, event: Event, *, role: str, peer: str) -> None:
        if not isinstance(event, MessageReceived) or getattr(event.message, "meter_info", None) is None:
            return
        info = event.message.meter_info
        self.received.append(
            (info.meter_id, info.charged_energy_reading_wh, info.bpt_discharged_energy_reading_wh, info.meter_timestamp)
        )
        if len(self.received) == self.kill_after:
            asyncio.get_running_loop().call_later(self.delay, os.kill, self.pid, signal.SIGKILL)


async def _drive_evcc(port: int, watch: _MeterWatch) -> Any:
    reader, writer = await asyncio.open_connection("::1", port)
    config = EvccConfig(meter_info_requested=True, loop_interval_s=0.003, max_loops=None)
    return await asyncio.wait_for(
        run_evcc_session(StreamLink(reader, writer), SimpleEV(), config, observers=[watch]), 60
    )


@pytest.mark.skipif(not ipv6_loopback(), reason="IPv6 loopback (::1) is not available")
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_9_mid_loop_loses_no_reading_the_ev_received(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    journal = tmp_path / "secc-journal.jsonl"
    proc, port = _start_secc(journal)
    try:
        watch = _MeterWatch(proc.pid, kill_after=rng.randint(15, 40), delay=rng.uniform(0.0, 0.006))
        out = asyncio.run(_drive_evcc(port, watch))
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert out.ended.reason in (EndReason.CONNECTION_LOST, EndReason.TIMEOUT)
    assert len(watch.received) >= watch.kill_after

    scan = scan_journal(journal)
    assert not scan.problems  # a torn tail is tolerated; nothing else may be wrong
    (session,) = read_journal(journal)
    assert session.role == "secc" and session.end_reason is None  # killed: no end record
    assert session.session_id == out.session_id.hex()
    journaled = [(r.meter_id, r.charged_wh, r.discharged_wh, r.meter_timestamp) for r in session.meter_readings]
    # Every reading the EV received was journaled first, in order; at most one was journaled but never delivered.
    assert journaled[: len(watch.received)] == watch.received
    assert len(journaled) - len(watch.received) in (0, 1)
    assert [r.loop for r in session.meter_readings] == list(range(1, len(journaled) + 1))

    # Re-opening appends: the killed session is unchanged and a new one follows it.
    stored = journal.read_bytes()
    with Journal(journal) as again:
        new_out, _ = asyncio.run(run_pair(EvccConfig(max_loops=2, loop_interval_s=0.0), secc_observers=[again]))
    assert new_out.ok and journal.read_bytes().startswith(stored)
    first, second = read_journal(journal)
    assert first == session
    assert second.end_reason == "terminated" and len(second.meter_readings) == 2
