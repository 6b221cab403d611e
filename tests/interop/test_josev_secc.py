"""Interop: our EVCC runtime against Josev's SECC, AC_BPT charge and discharge, over TLS and plain TCP.

Josev's SECC runs in namespace A of a veth pair (it refuses ``lo``), our EVCC (:func:`run_evcc`: SDP, TCP,
TLS, session) in namespace B, in tolerant mode -- strict mode cannot talk to Josev at all, see
``test_josev_tls.py``. One Josev SECC process with ``ENABLE_TLS_1_3=True`` serves the TLS 1.3 and the plain-TCP
sessions one after the other (it picks TLS or TCP from each SDP request); a second one with its default,
TLS 1.2, serves one more charge session.

"Discharge" against Josev's SECC: our EV selects ``BPT_ChannelSelection=Discharge`` with a negative power
profile, and Josev answers OK -- but its simulator ignores the channel and keeps commanding +10 W
(deviation J10 in README.md), so what the test can check is the protocol, not a power flow.

Josev's SECC refuses an AC_ChargeLoopReq whose ``DisplayParameters`` lacks the optional ``ChargingComplete``
(J6); our EVCC driver always sends it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.netns import VethPair, veth_pair
from iso15118.config import EvccConfig
from iso15118.controller import ChargeDirection, ControlMode
from iso15118.security.tls import TlsConfig
from iso15118.session.events import EndReason
from iso15118.simple import SimpleEV, SimpleEVConfig
from iso15118.transport.evcc_client import EvccClientConfig
from iso15118.transport.policy import Deviation, TransportPolicy
from tests.interop.conftest import PeerLogs
from tests.interop.josev import (
    JosevPki,
    JosevProcess,
    evcc_config,
    evcc_env,
    logged_messages,
    rational,
    secc_env,
)
from tests.interop.ours import run_our_evcc, spread
from tests.support.netns import require_netns

pytestmark = [pytest.mark.interop, pytest.mark.root, pytest.mark.timeout(300)]

LOOPS = 10


@dataclass
class JosevSecc:
    """A running Josev SECC and the veth pair it listens on."""

    veth: VethPair
    process: JosevProcess
    tls13: bool


def _josev_secc(
    tls13: bool, josev_live: Path, josev_pki: JosevPki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JosevSecc]:
    """Josev's SECC in a namespace, ready (its log says "UDP server started")."""
    require_netns()
    name = "secc-tls13" if tls13 else "secc-tls12"
    with veth_pair("jsc") as veth:
        process = JosevProcess(
            name,
            josev_live,
            "iso15118.secc.main",
            namespace=veth.ns_a,
            env=secc_env(veth.if_a, josev_pki, tls13=tls13),
            workdir=tmp_path_factory.mktemp(name),
        )
        try:
            process.start()
            if not process.wait_for_log(r"UDP server started", 60):
                pytest.fail(f"Josev's SECC did not come up:\n{process.text()[-4000:]}")
            yield JosevSecc(veth, process, tls13)
        finally:
            process.stop()


@pytest.fixture(scope="module")
def josev_secc_tls13(
    josev_live: Path, josev_pki: JosevPki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JosevSecc]:
    """Josev's SECC with ENABLE_TLS_1_3=True: serves TLS 1.3 or plain TCP, as each SDP request asks."""
    yield from _josev_secc(True, josev_live, josev_pki, tmp_path_factory)


@pytest.fixture(scope="module")
def josev_secc_tls12(
    josev_live: Path, josev_pki: JosevPki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JosevSecc]:
    """Josev's SECC as it comes: TLS 1.2."""
    yield from _josev_secc(False, josev_live, josev_pki, tmp_path_factory)


_SENT_LOOP = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) - \S+ \(\d+\): Sent AC_ChargeLoopReq")


def _tls(pki: JosevPki) -> TlsConfig:
    # Josev's SECC (TLS 1.3) accepts client certificates chaining to its OEM root only: its PKI has no
    # vehicle certificate, so our EVCC presents the OEM provisioning certificate, as Josev's EVCC does (J4).
    return TlsConfig(trust_roots=(pki.v2g_root,), certificate_chain=pki.oem_chain, private_key=pki.oem_key)


DYNAMIC, SCHEDULED = ControlMode.DYNAMIC, ControlMode.SCHEDULED
CASES = [
    pytest.param("tls13", "tls", ChargeDirection.CHARGE, DYNAMIC, id="tls13-charge"),
    pytest.param("tls13", "tls", ChargeDirection.DISCHARGE, DYNAMIC, id="tls13-discharge"),
    pytest.param("tls13", "tcp", ChargeDirection.CHARGE, DYNAMIC, id="tcp-charge"),
    pytest.param("tls13", "tcp", ChargeDirection.DISCHARGE, DYNAMIC, id="tcp-discharge"),
    pytest.param("tls12", "tls", ChargeDirection.CHARGE, DYNAMIC, id="tls12-charge"),
    pytest.param("tls13", "tls", ChargeDirection.CHARGE, SCHEDULED, id="tls13-scheduled-charge"),
    pytest.param("tls13", "tls", ChargeDirection.DISCHARGE, SCHEDULED, id="tls13-scheduled-discharge"),
]


@pytest.mark.parametrize(("secc", "transport", "direction", "control"), CASES)
def test_our_evcc_against_josev_secc(
    secc: str,
    transport: str,
    direction: ChargeDirection,
    control: ControlMode,
    josev_live: Path,
    josev_pki: JosevPki,
    peer_logs: PeerLogs,
    interop_results: Any,
    request: pytest.FixtureRequest,
) -> None:
    josev_secc: JosevSecc = request.getfixturevalue(f"josev_secc_{secc}")
    process = josev_secc.process
    since = process.offset()
    peer_logs.add(process, since)
    policy = TransportPolicy(tls=_tls(josev_pki) if transport == "tls" else None, tolerant=True)
    expected_deviations = {Deviation.TLS12 if transport == "tls" else Deviation.PLAIN_TCP, Deviation.RELAXED_TIMING}
    expected_deviations.add(Deviation.SCHEMA_DEVIATIONS)
    assert set(policy.deviations()) == expected_deviations
    ev = SimpleEV(SimpleEVConfig(direction=direction))
    # Scheduled: Josev's SECC requires the optional PowerToleranceAcceptance in PowerDeliveryReq (J7).
    tolerance = "PowerToleranceConfirmed" if control is SCHEDULED else None
    evcc = EvccConfig(max_loops=LOOPS, control_mode=control, power_tolerance_acceptance=tolerance)
    client = EvccClientConfig(policy=policy, iface=josev_secc.veth.if_b)
    started = time.monotonic()
    run, timeline = run_our_evcc(josev_secc.veth.ns_b, client, ev, evcc, timeout=90)
    took = time.monotonic() - started

    # Our side: a regular end after the charge loop.
    outcome = run.outcome
    assert run.ok and outcome.ended.reason is EndReason.TERMINATED, outcome.ended
    assert outcome.loops == LOOPS
    assert outcome.negotiated["service_id"] == 5  # AC_BPT
    assert outcome.negotiated["control_mode"] == str(control)
    assert outcome.negotiated["authorization"] == "EIM"
    assert run.sdp is not None
    if transport == "tls":
        assert run.tls is not None and run.tls.group == "prime256v1", run.tls
        assert run.tls.version == ("TLSv1.3" if josev_secc.tls13 else "TLSv1.2")
        assert run.tls.peer_subject is not None and "SECCCert" in run.tls.peer_subject
    else:
        assert run.tls is None
    assert timeline.kinds("received").count("AC_ChargeLoopRes") == LOOPS

    # Josev's side, from its own log: it answered every request, the loop included, and ended the session.
    assert process.wait_for_log(r"Communication session terminated", 15, since=since), "Josev did not end the session"
    josev = logged_messages(process.text(since))
    received = [x for x in josev if x.direction == "received"]
    sent = [x for x in josev if x.direction == "sent"]
    assert [x.name for x in received].count("AC_ChargeLoopReq") == LOOPS
    loop_res = [x.body for x in sent if x.name == "AC_ChargeLoopRes"]
    assert len(loop_res) == LOOPS and all(b["ResponseCode"] == "OK" for b in loop_res)
    stop = [x.body for x in sent if x.name == "SessionStopRes"]
    assert len(stop) == 1 and stop[0]["ResponseCode"] == "OK"
    sap = next(x.body for x in sent if x.name == "supportedAppProtocolRes")
    assert sap["ResponseCode"] == "OK_SuccessfulNegotiation"
    start = next(x.body for x in received if x.name == "PowerDeliveryReq" and x.body["ChargeProgress"] == "Start")
    channel = "Discharge" if direction is ChargeDirection.DISCHARGE else "Charge"
    assert start["BPT_ChannelSelection"] == channel
    power = rational(start["EVPowerProfile"]["EVPowerProfileEntries"]["EVPowerProfileEntry"][0]["Power"])
    assert (power < 0) == (direction is ChargeDirection.DISCHARGE)
    delivery = [x.body for x in sent if x.name == "PowerDeliveryRes"]
    assert delivery and all(b["ResponseCode"] == "OK" for b in delivery)

    # What Josev commanded in the loop: it ignores BPT_ChannelSelection=Discharge (J10), in both modes.
    targets = timeline.loop_targets("received")
    assert len(targets) == LOOPS and all(t is not None and t >= 0 for t in targets), targets
    schedule: dict[str, Any] = {}
    if control is SCHEDULED:
        # We selected one of Josev's tuples and accepted its tolerance; Josev's schedule itself (J18, J19).
        chosen = start["EVPowerProfile"]["Scheduled_EVPPTControlMode"]
        assert chosen["PowerToleranceAcceptance"] == "PowerToleranceConfirmed"
        exchange = next(x.body for x in sent if x.name == "ScheduleExchangeRes")
        tuples = exchange["Scheduled_SEResControlMode"]["ScheduleTuple"]
        assert chosen["SelectedScheduleTupleID"] in {t["ScheduleTupleID"] for t in tuples}
        schedule = _schedule_summary(
            next(t for t in tuples if t["ScheduleTupleID"] == chosen["SelectedScheduleTupleID"])
        )
    cpd = next(x.body for x in sent if x.name == "AC_ChargeParameterDiscoveryRes")
    limits = cpd["BPT_AC_CPDResEnergyTransferMode"]
    interop_results(
        peer="Josev SECC 0.31.2",
        transport=run.tls.summary() if run.tls else "plain TCP",
        direction=channel,
        negotiated=outcome.negotiated,
        deviations=[str(d) for d in policy.deviations()],
        loops=outcome.loops,
        josev_targets_w=sorted(set(t for t in targets if t is not None)),
        josev_discharge_limit_w=rational(limits["EVSEMaximumDischargePower"]),
        josev_loop_response_s=spread(timeline.loop_response_times()),
        **(
            {"josev_schedule": schedule, "our_present_w": sorted(set(timeline.loop_present_power("sent")))}
            if schedule
            else {}
        ),
        session_s=round(took, 2),
    )


def _schedule_summary(tuple_: dict[str, Any]) -> dict[str, Any]:
    """TimeAnchor and entry powers of a logged ScheduleTuple's schedules."""
    out: dict[str, Any] = {}
    for name in ("ChargingSchedule", "DischargingSchedule"):
        if name in tuple_:
            power = tuple_[name]["PowerSchedule"]
            entries = power["PowerScheduleEntries"]["PowerScheduleEntry"]
            out[name] = {"anchor": power["TimeAnchor"], "power_w": [rational(e["Power"]) for e in entries]}
    return out


def test_josev_evcc_against_josev_secc_baseline(
    josev_secc_tls13: JosevSecc,
    josev_live: Path,
    josev_pki: JosevPki,
    tmp_path: Path,
    peer_logs: PeerLogs,
    interop_results: Any,
) -> None:
    """Josev against itself on the same veth: the peer works here, and how fast its own loop runs."""
    secc = josev_secc_tls13
    since = secc.process.offset()
    peer_logs.add(secc.process, since)
    config = tmp_path / "evcc.json"
    config.write_text(json.dumps(evcc_config(tls=False, loops=LOOPS)))
    evcc = JosevProcess(
        "evcc-baseline",
        josev_live,
        "iso15118.evcc.main",
        namespace=secc.veth.ns_b,
        env=evcc_env(secc.veth.if_b, josev_pki, tls13=False),
        workdir=tmp_path / "josev",
        args=(str(config),),
    )
    peer_logs.add(evcc)
    try:
        evcc.start()
        exit_code = evcc.wait(90)
    finally:
        evcc.stop()
    assert exit_code == 0, f"Josev's EVCC exit code {exit_code}"
    log = evcc.text()
    assert "SessionStopRes received" in log
    received = [x for x in logged_messages(log) if x.direction == "received"]
    assert [x.name for x in received].count("AC_ChargeLoopRes") == LOOPS
    stamps = [dt.datetime.strptime(t, "%Y-%m-%d %H:%M:%S,%f") for t in _SENT_LOOP.findall(log)]
    assert len(stamps) == LOOPS
    intervals = [round((b - a).total_seconds(), 3) for a, b in itertools.pairwise(stamps)]
    interop_results(
        peer="Josev EVCC and SECC 0.31.2", transport="plain TCP", josev_loop_request_interval_s=spread(intervals)
    )
