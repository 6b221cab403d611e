"""The commands: `v2g csms` (a process, as a user runs it) dispatches the grid event that `v2g sim v2g-grid-event
--csms URL` (run here through the CLI's entry point) exports, and says on SIGTERM what it received."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_v2g_csms_dispatches_the_grid_event_that_v2g_sim_exports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [sys.executable, "-m", "harness.cli", "csms", "--listen", "[::1]:0", "--db", str(tmp_path / "csms.sqlite")]
    csms = subprocess.Popen([*argv, "--grid-event", "17:00-20:00/8000"], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert csms.stdout is not None
        line = csms.stdout.readline()
        found = re.search(r"listening on (ws://\[::1\]:\d+)/STATION_ID", line)
        assert found is not None, line
        code = main(["sim", "v2g-grid-event", "--csms", f"{found.group(1)}/UWC1", "--json", "--no-progress"])
        result = json.loads(capsys.readouterr().out)
        assert code == 0
        assert result["sim"]["csms"]["profiles"] == 1 and result["sim"]["csms"]["pending"] == 0
        assert result["truck_to_grid_wh"] > 10_000 and result["compensation"] > 0 and result["reserve_respected"]
    finally:
        csms.send_signal(signal.SIGTERM)
        out, _ = csms.communicate(timeout=60)
    assert csms.returncode == 0
    assert re.search(r"csms: \d+ transaction events, 0 invalid messages", out), out
