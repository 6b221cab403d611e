"""The harness against Josev (PyPI ``iso15118`` 0.31.2) as SUT, live on a veth pair (root, java, Josev's venv).

A handful of cases per role, chosen so that each known finding of ``harness/conformance/INTEROP.md`` is pinned by
one case and a passing case shows the set-up works: plain TCP in tolerant mode (Josev's -20 TLS is TLS 1.2 with
P-256 certificates of its own PKI, which our strict tester refuses by design), SDP on the veth pair, Josev's SECC
serving every case, Josev's EVCC started for every case (``--sut-command``). The full runs behind INTEROP.md are
the same commands with every case (``V2G_CONFORMANCE_JOSEV_FULL=1`` writes their reports next to the test's).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.netns import VethPair, ns_command, veth_pair
from tests.interop.josev import (
    JosevPki,
    JosevProcess,
    Unavailable,
    ensure_josev,
    evcc_config,
    evcc_env,
    make_pki,
    require_java,
    secc_env,
)
from tests.support.netns import require_netns

pytestmark = [pytest.mark.interop, pytest.mark.root, pytest.mark.timeout(900)]

V2G = [sys.executable, "-m", "harness.cli"]
FULL = os.environ.get("V2G_CONFORMANCE_JOSEV_FULL") == "1"

#: case -> verdict against Josev 0.31.2 (each FAIL is a finding of INTEROP.md).
SECC_EXPECTED = {
    "SECC-HP-02": "pass",
    "SECC-HP-05": "fail",  # DischargingSchedule power +10 kW
    "SECC-SEQ-09": "fail",  # PowerDelivery before ScheduleExchange answered OK
    "SECC-FRM-11": "fail",  # a request split over TCP segments is never answered
    "SECC-PAR-02": "fail",  # OK_SuccessfulNegotiationWithMinorDeviation
    "SECC-PAR-20": "fail",  # PowerDelivery without the optional PowerToleranceAcceptance: no answer
}
EVCC_EXPECTED = {
    "EVCC-SEQ-03": "pass",
    "EVCC-SEQ-07": "fail",  # goes on after WARNING_EIMAuthorizationFailure
    "EVCC-PAR-02": "fail",  # 200 kW present power against a 5 kW setpoint
}
_SECC_CAPS = "bpt,dynamic,scheduled,pause,reconnect"
_EVCC_CAPS = "bpt,dynamic,scheduled,reconnect"


@pytest.fixture(scope="module")
def josev(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, JosevPki]:
    require_netns()
    try:
        require_java()
        python = ensure_josev()
        return python, make_pki(python, tmp_path_factory.mktemp("josev") / "pki")
    except Unavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture()
def veth() -> Iterator[VethPair]:
    with veth_pair("jc") as pair:
        yield pair


def _verdicts(report: Path) -> dict[str, str]:
    found = {}
    for case in ET.parse(report / "conformance.xml").getroot().iter("testcase"):
        verdict = "fail" if case.find("failure") is not None else "skip" if case.find("skipped") is not None else "pass"
        found[case.get("name", "").split()[0]] = verdict
    return found


def _tester(namespace: str, argv: list[str], cases: list[str], report: Path) -> subprocess.CompletedProcess[str]:
    full = [*V2G, "conformance", "run", *argv, "--tolerant", "--no-tls", "--report", str(report)]
    if not FULL:
        full += ["--cases", *cases]
    return subprocess.run(ns_command(namespace, full), capture_output=True, text=True, timeout=3000)


def test_josev_secc(josev: tuple[Path, JosevPki], veth: VethPair, tmp_path: Path) -> None:
    python, pki = josev
    env = secc_env(veth.if_a, pki, tls13=False)
    with JosevProcess(
        "josev-secc", python, "iso15118.secc.main", namespace=veth.ns_a, env=env, workdir=tmp_path / "secc"
    ) as secc:
        assert secc.wait_for_log("UDP server started", 90), secc.text()[-2000:]
        done = _tester(
            veth.ns_b,
            ["--sut", "secc", "--iface", veth.if_b, "--capabilities", _SECC_CAPS],
            list(SECC_EXPECTED),
            tmp_path / "report",
        )
    assert done.returncode in (0, 1), done.stdout + done.stderr
    verdicts = _verdicts(tmp_path / "report")
    assert {c: verdicts[c] for c in SECC_EXPECTED} == SECC_EXPECTED, done.stdout
    summary = json.loads((tmp_path / "report" / "conformance.json").read_text())["summary"]
    assert summary["total"] == len(verdicts)


def test_josev_evcc(josev: tuple[Path, JosevPki], veth: VethPair, tmp_path: Path) -> None:
    python, pki = josev
    config = tmp_path / "evcc" / "evcc_config.json"
    config.parent.mkdir(parents=True)
    settings = evcc_config(tls=False, loops=50) | {"supportedEnergyServices": ["AC", "AC_BPT"]}
    config.write_text(json.dumps(settings))
    process = JosevProcess(
        "josev-evcc",
        python,
        "iso15118.evcc.main",
        namespace=veth.ns_b,
        env=evcc_env(veth.if_b, pki, tls13=False),
        workdir=tmp_path / "evcc",
        args=(str(config),),
    )
    log = tmp_path / "evcc" / "josev-evcc.log"
    command = f"{shlex.join(process.argv)} >> {shlex.quote(str(log))} 2>&1"
    done = _tester(
        veth.ns_a,
        [
            "--sut",
            "evcc",
            "--iface",
            veth.if_a,
            "--capabilities",
            _EVCC_CAPS,
            "--accept-timeout",
            "40",
            "--sut-command",
            command,
        ],
        list(EVCC_EXPECTED),
        tmp_path / "report",
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr
    verdicts = _verdicts(tmp_path / "report")
    assert {c: verdicts[c] for c in EVCC_EXPECTED} == EVCC_EXPECTED, done.stdout + log.read_text()[-3000:]
