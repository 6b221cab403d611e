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
from harness.conformance.cases import select_cases
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
    assert out.strip().endswith(f"{len(select_cases(protocol='iso20'))} cases")
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
        (["--sut", "secc", "--own", "--fault", "nope"], "unknown fault 'nope'; known: secc-masks-failed, "),
        (["--sut", "secc", "--target", "[::1]:1", "--fault", "secc-slow"], "applies to our own SUT only"),
        (["--sut", "secc", "--own", "--fault", "evcc-slow-loop"], "breaks the evcc"),
        (["--sut", "secc", "--own", "--no-tls"], "--no-tls needs --tolerant"),
        (["--sut", "secc", "--own", "--cases", "NO-SUCH-*"], "'NO-SUCH-*' matches no secc case ID or category"),
        (["--sut", "secc", "--own", "--cases", "SECC-HP-01", "EVCC-HP-01"], "'EVCC-HP-01' matches no secc case"),
        (["--sut", "secc", "--target", "[::1]:99999"], "port must be a number in 1-65535"),
        (["--sut", "secc", "--iface", "nosuchif0"], "no network interface named 'nosuchif0'"),
        (["--sut", "evcc", "--target", "[::1]:50000"], "needs its PKI"),
        (["--sut", "secc", "--target", "[::1]:1", "--capabilities", "bpt,warp"], "unknown capability 'warp'"),
        (["--sut", "secc", "--own", "--capabilities", "bpt"], "our own SUT (--own) has every capability"),
        (["--sut", "secc", "--own", "--sut-command", "true"], "--sut-command starts an EVCC under test"),
        (["--sut", "secc", "--own", "--timing-scale", "0"], "--timing-scale: must be a number > 0 and <= 100"),
        (["--sut", "secc", "--own", "--timing-scale", "fast"], "--timing-scale: expected a number"),
        (["--sut", "secc", "--own", "--slack", "-1"], "--slack: must be a number >= 0"),
        (["--sut", "evcc", "--own", "--accept-timeout", "0"], "--accept-timeout: must be a number > 0"),
        (["--sut", "secc", "--own", "--pki", "/nonexistent"], "--pki: /nonexistent is not a v2gstack PKI"),
        (["--sut", "mars", "--own"], "argument --sut: invalid choice: 'mars'"),
    ],
)
def test_bad_run_options_are_usage_errors(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["conformance", "run", *argv, "--report", str(tmp_path / "out")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("v2g conformance run: error:") and message in last, err
    assert "Traceback" not in err and not (tmp_path / "out").exists()  # nothing ran, nothing was written


def test_bad_report_directory_and_list_patterns_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as exit_:
        main(["conformance", "run", "--sut", "secc", "--own", "--report", str(blocker)])
    assert exit_.value.code == 2
    assert "--report: " in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["conformance", "list", "--cases", "nope"])
    assert exit_.value.code == 2
    assert "'nope' matches no case ID or category" in capsys.readouterr().err
    assert main(["conformance", "list", "--cases", "secc-hp-01", "TIMING"]) == 0  # case-insensitive
    assert "SECC-HP-01" in capsys.readouterr().out


def test_fault_nope_prints_no_traceback() -> None:
    done = subprocess.run(
        [*V2G, "conformance", "run", "--sut", "secc", "--own", "--fault", "nope", "--report", "/tmp/unused"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "unknown fault 'nope'; known: " in done.stderr and "secc-never-closes" in done.stderr


@pytest.mark.parametrize(
    ("sut", "cases", "count"),
    [
        # The cases that were inconclusive without --pki: TLS, certificates and PnC.
        ("secc", ["SECC-SEC-*", "SECC-HP-06", "SECC-HP-09"], 15),
        ("evcc", ["EVCC-SEC-*", "EVCC-HP-05", "EVCC-HP-08"], 7),
    ],
)
def test_own_without_pki_makes_a_throwaway_pki(
    sut: str, cases: list[str], count: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report"
    assert main(["conformance", "run", "--sut", sut, "--own", "--cases", *cases, "--report", str(report)]) == 0
    assert f"{count} cases: {count} pass, 0 fail, 0 inconclusive" in capsys.readouterr().out
    data = json.loads((report / "conformance.json").read_text())
    assert data["settings"]["pki"] == "throwaway test PKI made for this run" and data["settings"]["tls"] is True
    with pytest.raises(SystemExit):
        main(["conformance", "run", "--help"])
    assert "without --pki the run makes a throwaway test PKI" in " ".join(capsys.readouterr().out.split())


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
