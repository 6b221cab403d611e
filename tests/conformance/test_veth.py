"""The harness over a real link (root): SDP on a veth pair between two network namespaces, TLS 1.3, CLI processes.

SUT = SECC: `v2g secc` in namespace a; the tester finds it with SDP from namespace b. SUT = EVCC: the tester listens
in namespace a and answers SDP; `v2g evcc` in namespace b is started for each case (``--sut-command``).
"""

from __future__ import annotations

import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.conformance.credentials import Credentials
from harness.netns import VethPair, ns_command
from tests.support.netns import veth_or_skip

pytestmark = pytest.mark.root

V2G = [sys.executable, "-m", "harness.cli"]


@pytest.fixture(scope="module")
def veth() -> Iterator[VethPair]:
    yield from veth_or_skip("cf")


def _verdicts(report: Path) -> dict[str, str]:
    found = {}
    for case in ET.parse(report / "conformance.xml").getroot().iter("testcase"):
        verdict = "fail" if case.find("failure") is not None else "skip" if case.find("skipped") is not None else "pass"
        found[case.get("name", "").split()[0]] = verdict
    return found


@pytest.mark.timeout(180)
def test_secc_found_with_sdp(veth: VethPair, credentials: Credentials, tmp_path: Path) -> None:
    pki = str(credentials.layout.directory)
    secc = subprocess.Popen(
        ns_command(veth.ns_a, [*V2G, "secc", "--iface", veth.if_a, "--pki", pki, "--auth", "eim", "pnc"]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert secc.stdout is not None
        assert secc.stdout.readline().startswith("secc listening on ")
        cases = ["SECC-HP-03", "SECC-HP-06", "SECC-SEQ-03", "SECC-FRM-11", "SECC-SEC-01", "SECC-SEC-02"]
        done = subprocess.run(
            ns_command(
                veth.ns_b,
                [
                    *V2G,
                    "conformance",
                    "run",
                    "--sut",
                    "secc",
                    "--iface",
                    veth.if_b,
                    "--pki",
                    pki,
                    "--cases",
                    *cases,
                    "--report",
                    str(tmp_path),
                ],
            ),
            capture_output=True,
            text=True,
            timeout=150,
        )
    finally:
        secc.kill()
        secc.communicate()
    assert done.returncode == 0, done.stdout + done.stderr
    assert _verdicts(tmp_path) == dict.fromkeys(cases, "pass")
    assert f"found with SDP on {veth.if_b}: the answer to request" in (tmp_path / "conformance.html").read_text()


@pytest.mark.timeout(60)
def test_no_secc_on_the_link_is_an_error_exit(veth: VethPair, tmp_path: Path) -> None:
    # SDP runs once for the whole run (50 requests, 0.25 s each [V2G20-159/161]), not once per case.
    started = time.monotonic()
    done = subprocess.run(
        ns_command(
            veth.ns_b, [*V2G, "conformance", "run", "--sut", "secc", "--iface", veth.if_b, "--report", str(tmp_path)]
        ),
        capture_output=True,
        text=True,
        timeout=30,
    )
    print(f"no SECC on {veth.if_b}: exit {done.returncode} after {time.monotonic() - started:.1f} s")
    assert done.returncode == 1, done.stdout + done.stderr
    error = done.stderr.strip().splitlines()[-1]
    expected = f"v2g conformance: error: no SECC found: no SECC answered SDP on {veth.if_b}: 50 requests sent"
    assert error.startswith(expected) and "0.25 s wait each" in error, error
    root = ET.parse(tmp_path / "conformance.xml").getroot()
    assert root.get("errors") == root.get("tests") == "118" and root.get("failures") == "0"
    assert not any(case.find("skipped") is not None for case in root.iter("testcase"))


@pytest.mark.timeout(180)
def test_evcc_answered_with_sdp(veth: VethPair, credentials: Credentials, tmp_path: Path) -> None:
    pki = str(credentials.layout.directory)
    evcc = " ".join(ns_command(veth.ns_b, [*V2G, "evcc", "--iface", veth.if_b, "--pki", pki]))
    cases = ["EVCC-HP-01", "EVCC-SEC-01", "EVCC-SEC-03"]
    done = subprocess.run(
        ns_command(
            veth.ns_a,
            [
                *V2G,
                "conformance",
                "run",
                "--sut",
                "evcc",
                "--iface",
                veth.if_a,
                "--pki",
                pki,
                "--sut-command",
                evcc,
                "--cases",
                *cases,
                "--report",
                str(tmp_path),
            ],
        ),
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert _verdicts(tmp_path) == dict.fromkeys(cases, "pass")
