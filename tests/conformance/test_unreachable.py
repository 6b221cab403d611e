"""A SUT the tester cannot reach is a run-level error, not a run of inconclusive cases: the run stops, the
reports carry JUnit errors, and the exit status is 1 (SDP on a link with no SECC: tests/conformance/test_veth.py).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.conformance.context import RunConfig
from harness.conformance.credentials import Credentials
from harness.conformance.model import CaseResult, Verdict
from harness.conformance.run import run_cases, run_error
from harness.conformance.targets import RemoteSecc
from iso15118.transport.tcp import make_endpoint
from tests.conformance.conftest import CASES
from tests.support.netns import free_port

V2G = [sys.executable, "-m", "harness.cli"]


def _junit_counts(report: Path) -> tuple[int, int, int, int]:
    """(tests, errors, failures, skipped) of a JUnit report."""
    root = ET.parse(report / "conformance.xml").getroot()
    skipped = sum(int(s.get("skipped", "0")) for s in root.findall("testsuite"))
    return int(root.get("tests", "0")), int(root.get("errors", "0")), int(root.get("failures", "0")), skipped


def test_an_secc_nobody_listens_for_stops_the_run(tmp_path: Path) -> None:
    port = free_port()
    started = time.monotonic()
    done = subprocess.run(
        [*V2G, "conformance", "run", "--sut", "secc", "--target", f"[::1]:{port}", "--report", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    print(f"unreachable SECC ([::1]:{port}, refused): exit {done.returncode} after {time.monotonic() - started:.1f} s")
    assert done.returncode == 1, done.stdout + done.stderr
    error = done.stderr.strip().splitlines()[-1]
    assert error == f"v2g conformance: error: cannot reach the SECC: cannot connect to [::1]:{port}: Connection refused"
    tests, errors, failures, skipped = _junit_counts(tmp_path)
    assert tests == errors == 118 and failures == skipped == 0
    assert "118 cases: 0 pass, 0 fail, 0 inconclusive, 118 error" in done.stdout


def test_an_evcc_that_never_connects_stops_the_run(credentials: Credentials, tmp_path: Path) -> None:
    port = free_port()
    pki = str(credentials.layout.directory)
    argv = ["--sut", "evcc", "--target", f"[::1]:{port}", "--pki", pki, "--accept-timeout", "1"]
    started = time.monotonic()
    done = subprocess.run(
        [*V2G, "conformance", "run", *argv, "--cases", "EVCC-HP-0*", "--report", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    print(
        f"EVCC never connecting (accept timeout 1 s): exit {done.returncode} after {time.monotonic() - started:.1f} s"
    )
    assert done.returncode == 1, done.stdout + done.stderr
    error = done.stderr.strip().splitlines()[-1]
    assert error == f"v2g conformance: error: no EVCC connected to [::1]:{port} within 1 s"
    tests, errors, failures, skipped = _junit_counts(tmp_path)
    assert tests == errors > 1 and failures == skipped == 0


def test_an_secc_that_goes_away_mid_run_leaves_errors(credentials: Credentials) -> None:
    port = free_port()
    secc = subprocess.Popen(
        [*V2G, "secc", "--listen", "::1", "--port", str(port), "--no-sdp", "--pki", str(credentials.layout.directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert secc.stdout is not None
        assert secc.stdout.readline().startswith("secc listening on ")

        def gone(result: CaseResult) -> None:
            secc.kill()  # after the first case: the SECC is gone before the second one connects
            secc.wait(10)

        cases = [CASES[c] for c in ("SECC-SEQ-04", "SECC-SEQ-03", "SECC-HP-02")]
        target = RemoteSecc(endpoint=make_endpoint("::1", port))
        results = asyncio.run(run_cases(cases, target, RunConfig(credentials=credentials), on_result=gone))
    finally:
        secc.kill()
        secc.wait(10)
    assert [r.verdict for r in results] == [Verdict.PASS, Verdict.ERROR, Verdict.ERROR], [r.reason for r in results]
    lost = results[1].reason
    assert lost == f"the SECC went away: cannot connect to [::1]:{port}: Connection refused"
    assert results[2].reason == f"not run: {lost}" and run_error(results) == lost
