"""`v2g bench session` runs end to end on a tiny load and reports every figure (no timing assertions)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from harness.cli import main

V2G = [sys.executable, "-m", "harness.cli"]


@pytest.mark.timeout(180)
def test_tiny_bench_reports_all_figures() -> None:
    proc = subprocess.run(
        [
            *V2G,
            "bench",
            "session",
            "--steps",
            "3",
            "--window",
            "0.5",
            "--sessions",
            "2",
            "--round-trips",
            "5",
            "--connect-rate",
            "30",
            "--loop-interval",
            "0.05",
            "--workers",
            "2",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout)
    for key in ("first_loop_first_ms", "first_loop_p50_ms", "first_loop_p90_ms", "loop_rtt_p50_ms", "loop_rtt_p90_ms"):
        assert figures[key] > 0 and math.isfinite(figures[key]), key
    assert figures["first_loop_p50_ms"] <= figures["first_loop_p90_ms"]
    assert figures["loop_rtt_p50_ms"] <= figures["loop_rtt_p90_ms"]
    [step] = figures["steps"]
    assert step["sessions"] == 3 and step["ok"] == 3  # three sessions on an idle SECC end regularly
    # Every session exchanged its set-up messages and charge loops during the window and the stop.
    assert step["responses"] >= 3 * 10
    assert step["loop_p50_ms"] <= step["loop_p90_ms"] <= step["loop_p99_ms"] <= step["loop_max_ms"] <= step["max_ms"]
    assert figures["capacity"] == (3 if step["passed"] else None)
    assert step["passed"] == (step["over_limit"] == 0)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--steps", "10,x"], "--steps must be comma-separated integers, got '10,x'"),
        (["--steps", "0"], "--steps must be positive, got '0'"),
        (["--workers", "0"], "--workers must be >= 1"),
        (["--window", "0"], "--window must be > 0"),
    ],
)
def test_bad_options_are_clean_errors(argv: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "session", *argv]) == 1
    assert capsys.readouterr().err.strip() == f"v2g bench: error: {words}"
