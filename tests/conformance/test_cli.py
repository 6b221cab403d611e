"""`v2g conformance`: list, faults, run our own stack, and end to end against `v2g secc` / `v2g evcc` processes."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main
from harness.conformance.cases import all_cases
from harness.conformance.credentials import Credentials
from tests.support.netns import free_port

V2G = [sys.executable, "-m", "harness.cli"]


def _junit(directory: Path) -> dict[str, str]:
    """case ID -> verdict from a JUnit report."""
    verdicts = {}
    for case in ET.parse(directory / "conformance.xml").getroot().iter("testcase"):
        name = case.get("name", "").split()[0]
        verdicts[name] = (
            "fail"
            if case.find("failure") is not None
            else ("inconclusive" if case.find("skipped") is not None else "pass")
        )
    return verdicts


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", "list"]) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith(f"{len(all_cases())} cases")
    assert "SECC-SEQ-01" in out and "V2G20-1483" in out
    assert "SECC-DC-01" in out and "EVCC-DC-17" in out and "V2G20 table 217" in out
    assert main(["conformance", "list", "--sut", "evcc", "--cases", "timing", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed and all(c["sut"] == "evcc" and c["category"] == "timing" for c in listed)


def test_faults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", "faults"]) == 0
    assert "secc-never-closes" in capsys.readouterr().out


def test_run_own_and_broken(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = ["SECC-HP-02", "SECC-SEQ-0[34]"]
    assert (
        main(["conformance", "run", "--sut", "secc", "--own", "--cases", *cases, "--report", str(tmp_path / "a")]) == 0
    )
    out = capsys.readouterr().out
    assert "3 cases: 3 pass, 0 fail, 0 inconclusive" in out
    assert _junit(tmp_path / "a") == {"SECC-HP-02": "pass", "SECC-SEQ-03": "pass", "SECC-SEQ-04": "pass"}
    code = main(
        [
            "conformance",
            "run",
            "--sut",
            "secc",
            "--own",
            "--fault",
            "secc-sequence-ok",
            "--cases",
            *cases,
            "--report",
            str(tmp_path / "b"),
        ]
    )
    assert code == 1
    assert _junit(tmp_path / "b") == {"SECC-HP-02": "pass", "SECC-SEQ-03": "fail", "SECC-SEQ-04": "fail"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--sut", "secc", "--target", "[::1]:1", "--fault", "secc-slow"], "applies to our own SUT only"),
        (["--sut", "secc", "--own", "--fault", "evcc-slow-loop"], "breaks the evcc"),
        (["--sut", "secc", "--own", "--no-tls"], "plain TCP is refused"),
        (["--sut", "secc", "--own", "--cases", "NO-SUCH-*"], "no secc case matches"),
        (["--sut", "secc", "--target", "[::1]:99999"], "port must be a number in 1-65535"),
        (["--sut", "evcc", "--target", "[::1]:50000"], "needs its PKI"),
        (["--sut", "secc", "--own", "--capabilities", "bpt,warp"], "--capabilities"),
    ],
)
def test_run_errors_are_one_clean_line(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["conformance", "run", *argv, "--report", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("v2g conformance: error:") and message in err and "\n" not in err


@pytest.fixture()
def secc_process(credentials: Credentials) -> Iterator[int]:
    """`v2g secc` on ::1 with the test PKI, for as long as the test runs."""
    port = free_port()
    proc = subprocess.Popen(
        [
            *V2G,
            "secc",
            "--listen",
            "::1",
            "--port",
            str(port),
            "--no-sdp",
            "--auth",
            "eim",
            "pnc",
            "--pki",
            str(credentials.layout.directory),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("secc listening on "), first + (proc.stderr.read() if proc.stderr else "")
        yield port
    finally:
        proc.kill()
        proc.wait(10)


def test_run_against_a_secc_process(secc_process: int, credentials: Credentials, tmp_path: Path) -> None:
    cases = ["SECC-HP-03", "SECC-HP-06", "SECC-SEQ-04", "SECC-PAR-16", "SECC-SEC-0[125]"]
    done = subprocess.run(
        [
            *V2G,
            "conformance",
            "run",
            "--sut",
            "secc",
            "--target",
            f"[::1]:{secc_process}",
            "--pki",
            str(credentials.layout.directory),
            "--cases",
            *cases,
            "--report",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    verdicts = _junit(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert verdicts == dict.fromkeys(
        ("SECC-HP-03", "SECC-HP-06", "SECC-SEQ-04", "SECC-PAR-16", "SECC-SEC-01", "SECC-SEC-02", "SECC-SEC-05"), "pass"
    )


def test_run_against_evcc_processes(credentials: Credentials, tmp_path: Path) -> None:
    port = free_port()
    pki = str(credentials.layout.directory)
    command = f"{sys.executable} -m harness.cli evcc --target '[::1]:{port}' --pki {pki}"
    cases = ["EVCC-HP-01", "EVCC-SEC-01", "EVCC-SEC-02"]
    done = subprocess.run(
        [
            *V2G,
            "conformance",
            "run",
            "--sut",
            "evcc",
            "--target",
            f"[::1]:{port}",
            "--pki",
            pki,
            "--sut-command",
            command,
            "--cases",
            *cases,
            "--report",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert _junit(tmp_path) == dict.fromkeys(cases, "pass")
