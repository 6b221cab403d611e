"""`v2g bench session --energy dc` runs DC_BPT sessions end to end on a tiny load and reports every figure (no
timing assertions)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from harness.benchmarks.session import SessionFigures, format_figures

V2G = [sys.executable, "-m", "harness.cli"]


@pytest.mark.timeout(180)
def test_tiny_dc_bench_reports_all_figures() -> None:
    argv = ["--energy", "dc", "--steps", "2", "--window", "0.5", "--sessions", "2", "--round-trips", "5", "--json"]
    proc = subprocess.run(
        [*V2G, "bench", "session", *argv, "--connect-rate", "30", "--loop-interval", "0.05", "--workers", "1"],
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout)
    assert figures["energy"] == "DC"
    for key in ("first_loop_first_ms", "first_loop_p50_ms", "first_loop_p90_ms", "loop_rtt_p50_ms", "loop_rtt_p90_ms"):
        assert figures[key] > 0 and math.isfinite(figures[key]), key
    [step] = figures["steps"]
    assert step["sessions"] == 2 and step["ok"] == 2
    # Every DC session: 9 set-up exchanges, cable check, precharge, DC_ChargeLoop during the window, stop with
    # welding detection; the loop figures come from DC_ChargeLoopReq (NaN if none had been seen).
    assert step["responses"] >= 2 * 16
    assert step["loop_p50_ms"] <= step["loop_p90_ms"] <= step["loop_max_ms"] <= step["max_ms"]


def test_text_output_names_the_dc_loop() -> None:
    text = format_figures(
        SessionFigures(
            algorithm="secp521r1",
            energy="DC",
            cpus=2,
            first_loop_first_ms=40.0,
            first_loop_p50_ms=30.0,
            first_loop_p90_ms=35.0,
            loop_rtt_p50_ms=0.5,
            loop_rtt_p90_ms=0.6,
            loop_interval_s=0.1,
            connect_rate=20.0,
            window_s=5.0,
            limit_ms=100.0,
            workers=2,
            steps=[],
            capacity=None,
        )
    )
    assert text.splitlines()[:2] == [
        "v2g bench session: DC_BPT sessions, TLS 1.3 on ::1, test PKI secp521r1, 2 CPUs",
        "(a) connect -> first DC_ChargeLoopRes: first session 40.0 ms; then median 30.0 ms, p90 35.0 ms",
    ]
