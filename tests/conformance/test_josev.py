"""The harness against Josev (PyPI ``iso15118`` 0.31.2) as SUT, live on a veth pair (root, java, Josev's venv).

For each protocol generation (-20 AC, -2, DIN; :data:`GENERATIONS`) a handful of cases per role, chosen so that
each known finding of ``harness/conformance/INTEROP.md`` is pinned by one case and a passing case shows the set-up
works: plain TCP in tolerant mode (Josev's -20 TLS is TLS 1.2 with P-256 certificates of its own PKI, which our
strict tester refuses by design; DIN has no TLS), SDP on the veth pair, one Josev SECC (PROTOCOLS of the
generation) serving every case, Josev's EVCC started for every case (``--sut-command``) with the configuration
it ships for the generation (-2: its EIM DC one). The full runs behind INTEROP.md are the same commands with
every case (``V2G_CONFORMANCE_JOSEV_FULL=1``; for the -2 EVCC the AC cases need Josev's EIM AC configuration,
see INTEROP.md).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.netns import VethPair, ns_command, veth_pair
from tests.interop.josev import (
    JosevPki,
    JosevProcess,
    Unavailable,
    ensure_josev,
    evcc_config,
    evcc_env,
    example_evcc_config,
    make_pki,
    require_java,
    secc_env,
)
from tests.support.netns import require_netns

pytestmark = [pytest.mark.interop, pytest.mark.root, pytest.mark.timeout(900)]

V2G = [sys.executable, "-m", "harness.cli"]
FULL = os.environ.get("V2G_CONFORMANCE_JOSEV_FULL") == "1"


@dataclass(frozen=True, slots=True, kw_only=True)
class Generation:
    """How Josev runs one protocol generation, and the verdicts of the pinned cases against it."""

    name: str
    """``--protocol`` of the run."""
    secc_protocols: str
    """Josev SECC's PROTOCOLS."""
    secc_caps: str
    evcc_caps: str
    evcc_config: Callable[[Path], dict[str, Any]]
    """Josev EVCC's configuration, from the Python of its venv."""
    secc_expected: dict[str, str]
    """case -> verdict against Josev 0.31.2 (each FAIL a finding of INTEROP.md; skip = inconclusive)."""
    evcc_expected: dict[str, str]


GENERATIONS = (
    Generation(
        name="iso20",
        secc_protocols="ISO_15118_20_AC",
        secc_caps="bpt,dynamic,scheduled,pause,reconnect",
        evcc_caps="bpt,dynamic,scheduled,reconnect",
        evcc_config=lambda python: evcc_config(tls=False, loops=50) | {"supportedEnergyServices": ["AC", "AC_BPT"]},
        secc_expected={
            "SECC-HP-02": "pass",
            "SECC-HP-05": "fail",  # DischargingSchedule power +10 kW
            "SECC-SEQ-09": "fail",  # PowerDelivery before ScheduleExchange answered OK
            "SECC-FRM-11": "fail",  # a request split over TCP segments is never answered
            "SECC-PAR-02": "fail",  # OK_SuccessfulNegotiationWithMinorDeviation
            "SECC-PAR-20": "fail",  # PowerDelivery without the optional PowerToleranceAcceptance: no answer
        },
        evcc_expected={
            "EVCC-SEQ-03": "pass",
            "EVCC-SEQ-07": "fail",  # goes on after WARNING_EIMAuthorizationFailure
            "EVCC-PAR-02": "fail",  # 200 kW present power against a 5 kW setpoint
        },
    ),
    Generation(
        name="iso2",
        secc_protocols="ISO_15118_2",
        secc_caps="dc,pause,reconnect",
        evcc_caps="dc,reconnect",
        evcc_config=lambda python: example_evcc_config(python, "iso15118_2/evcc_config_eim_dc.json"),
        secc_expected={
            "SECC-ISO2-SID-03": "pass",
            "SECC-ISO2-HP-01": "fail",  # ChargingStatusRes EVSEMaxCurrent 300 A, 32 A announced
            "SECC-ISO2-PAR-02": "fail",  # OK to an EV whose maximum (10 V) is below its minimum (40 V)
            "SECC-ISO2-PAR-04": "fail",  # no answer to a mode it did not offer (V2GMessageValidationError)
        },
        evcc_expected={
            "EVCC-ISO2-SEQ-03": "pass",
            "EVCC-ISO2-TIM-03": "fail",  # waits 5 s for CurrentDemandRes instead of 0.25 s
        },
    ),
    Generation(
        name="din",
        secc_protocols="DIN_SPEC_70121",
        secc_caps="dc,reconnect",
        evcc_caps="dc,reconnect",
        evcc_config=lambda python: example_evcc_config(python, "DIN/evcc_config.json"),
        secc_expected={
            "SECC-DIN-SID-03": "pass",
            "SECC-DIN-HP-01": "fail",  # PMaxSchedule of 3600 s, not 24 h
            "SECC-DIN-SEQ-04": "fail",  # FAILED_SequenceError ChargeParameterDiscoveryRes without SAScheduleList
            "SECC-DIN-PAR-02": "fail",  # OK to an EV whose maximum (10 V) is below its minimum (40 V)
            "SECC-DIN-PAR-04": "fail",  # no answer to an AC EVRequestedEnergyTransferType
        },
        evcc_expected={
            "EVCC-DIN-SEQ-02": "pass",
            "EVCC-DIN-SEQ-03": "fail",  # repeats CurrentDemandReq after a FAILED CurrentDemandRes
        },
    ),
)


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


def _tester(
    namespace: str, generation: str, argv: list[str], cases: list[str], report: Path
) -> subprocess.CompletedProcess[str]:
    run = [*V2G, "conformance", "run", "--protocol", generation, *argv]
    full = [*run, "--tolerant", "--no-tls", "--report", str(report)]
    if not FULL:
        full += ["--cases", *cases]
    return subprocess.run(ns_command(namespace, full), capture_output=True, text=True, timeout=3000)


@pytest.mark.parametrize("generation", GENERATIONS, ids=lambda g: g.name)
def test_josev_secc(josev: tuple[Path, JosevPki], veth: VethPair, tmp_path: Path, generation: Generation) -> None:
    python, pki = josev
    env = secc_env(veth.if_a, pki, tls13=False, protocols=generation.secc_protocols)
    with JosevProcess(
        "josev-secc", python, "iso15118.secc.main", namespace=veth.ns_a, env=env, workdir=tmp_path / "secc"
    ) as secc:
        assert secc.wait_for_log("UDP server started", 90), secc.text()[-2000:]
        done = _tester(
            veth.ns_b,
            generation.name,
            ["--sut", "secc", "--iface", veth.if_b, "--capabilities", generation.secc_caps],
            list(generation.secc_expected),
            tmp_path / "report",
        )
    assert done.returncode in (0, 1), done.stdout + done.stderr
    verdicts = _verdicts(tmp_path / "report")
    expected = generation.secc_expected
    assert {c: verdicts[c] for c in expected} == expected, done.stdout
    summary = json.loads((tmp_path / "report" / "conformance.json").read_text())["summary"]
    assert summary["total"] == len(verdicts)


@pytest.mark.parametrize("generation", GENERATIONS, ids=lambda g: g.name)
def test_josev_evcc(josev: tuple[Path, JosevPki], veth: VethPair, tmp_path: Path, generation: Generation) -> None:
    python, pki = josev
    config = tmp_path / "evcc" / "evcc_config.json"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps(generation.evcc_config(python)))
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
        generation.name,
        [
            "--sut",
            "evcc",
            "--iface",
            veth.if_a,
            "--capabilities",
            generation.evcc_caps,
            "--accept-timeout",
            "40",
            "--sut-command",
            command,
        ],
        list(generation.evcc_expected),
        tmp_path / "report",
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr
    verdicts = _verdicts(tmp_path / "report")
    expected = generation.evcc_expected
    assert {c: verdicts[c] for c in expected} == expected, done.stdout + log.read_text()[-3000:]
