"""Interop: Josev's EVCC against our SECC runtime, AC_BPT charge and discharge, over TLS and plain TCP.

Our SECC (:class:`SeccServer` with SDP, tolerant mode) serves in namespace A of a fresh veth pair, Josev's
EVCC runs in namespace B (one process per session: it exits about 5 s after SessionStopRes, or hangs after a
failed SDP and is killed). TLS 1.3 (``ENABLE_TLS_1_3=True``: Josev presents its OEM provisioning
certificate, which our SECC requires) and Josev's default TLS 1.2 (no client certificate at all) are both run.

Two settings of our SECC are Josev's doing, not the standard's (see README.md):

* one parameter set is offered, the control mode under test: Josev's EVCC takes the first set it is offered.
  Scheduled runs with ``SeccConfig(pricing="price_levels")``: Josev's EVCC refuses a ChargingSchedule without
  an (optional) price schedule (J8);
* "discharge" means what an SECC can ask for in Dynamic mode: a negative ``EVSETargetActivePower`` in every
  AC_ChargeLoopRes. Josev's EVCC receives it and goes on, but its simulator neither follows it (it keeps
  reporting +200 kW) nor ever selects ``BPT_ChannelSelection=Discharge`` (J9).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.netns import VethPair
from iso15118.config import SeccConfig
from iso15118.security.tls import TlsConfig
from iso15118.session.connection import Role
from iso15118.simple import SimpleEVSE, SimpleEVSEConfig
from iso15118.transport.policy import Deviation, TransportPolicy
from iso15118.transport.secc_server import SeccServerConfig
from tests.interop.conftest import PeerLogs
from tests.interop.josev import JosevPki, JosevProcess, evcc_config, evcc_env, logged_messages, rational
from tests.interop.ours import OurSecc, spread
from tests.support.netns import veth_or_skip

pytestmark = [pytest.mark.interop, pytest.mark.root, pytest.mark.timeout(300)]

LOOPS = 10
DISCHARGE_W = 6000.0
SESSION_TIMEOUT = 90.0


@pytest.fixture
def veth() -> Iterator[VethPair]:
    yield from veth_or_skip("jev")


def _policy(transport: str, pki: JosevPki) -> TransportPolicy:
    if transport == "tcp":
        return TransportPolicy(tls=None, tolerant=True)
    tls13 = transport == "tls13"
    return TransportPolicy(
        tls=TlsConfig(
            certificate_chain=pki.cpo_chain,
            private_key=pki.secc_key,
            trust_roots=(pki.oem_root,),
            # Josev's TLS 1.2 client loads no certificate; over TLS 1.3 it presents the OEM provisioning one (J4).
            require_client_certificate=tls13,
        ),
        tolerant=True,
    )


CASES = [
    pytest.param("tls13", "charge", "dynamic", id="tls13-charge"),
    pytest.param("tls13", "discharge", "dynamic", id="tls13-discharge"),
    pytest.param("tcp", "charge", "dynamic", id="tcp-charge"),
    pytest.param("tcp", "discharge", "dynamic", id="tcp-discharge"),
    pytest.param("tls12", "charge", "dynamic", id="tls12-charge"),
    pytest.param("tls13", "charge", "scheduled", id="tls13-scheduled-charge"),
]
# Josev's EVCC takes the first parameter set offered, so the SECC offers one: the mode under test. Scheduled needs
# a price schedule in every ChargingSchedule (J8): SeccConfig(pricing="price_levels").
SECC_CONFIGS = {
    "dynamic": SeccConfig(control_modes=(2,)),
    "scheduled": SeccConfig(control_modes=(1,), pricing="price_levels"),
}


@pytest.mark.parametrize(("transport", "direction", "control"), CASES)
def test_josev_evcc_against_our_secc(
    transport: str,
    direction: str,
    control: str,
    veth: VethPair,
    josev_live: Path,
    josev_pki: JosevPki,
    tmp_path: Path,
    peer_logs: PeerLogs,
    interop_results: Any,
) -> None:
    policy = _policy(transport, josev_pki)
    expected = {Deviation.PLAIN_TCP if transport == "tcp" else Deviation.TLS12, Deviation.RELAXED_TIMING}
    expected.add(Deviation.SCHEMA_DEVIATIONS)
    if transport == "tls12":  # Josev's TLS 1.2 client presents no certificate (J4)
        expected.add(Deviation.NO_CLIENT_CERTIFICATE)
    assert set(policy.deviations(Role.SECC)) == expected
    discharge = direction == "discharge"
    evse = SimpleEVSE(SimpleEVSEConfig(setpoint_w=-DISCHARGE_W if discharge else None))
    secc = OurSecc(
        veth.ns_a,
        SeccServerConfig(policy=policy, iface=veth.if_a, sdp=True),
        evse,
        SECC_CONFIGS[control],
        timeout=SESSION_TIMEOUT,
    )
    config_file = tmp_path / "evcc.json"
    config_file.write_text(json.dumps(evcc_config(tls=transport != "tcp", loops=LOOPS)))
    josev = JosevProcess(
        "evcc",
        josev_live,
        "iso15118.evcc.main",
        namespace=veth.ns_b,
        env=evcc_env(veth.if_b, josev_pki, tls13=transport == "tls13"),
        workdir=tmp_path / "josev",
        args=(str(config_file),),
    )
    peer_logs.add(josev)
    secc.start()
    started = time.monotonic()
    try:
        josev.start()
        while not secc.finished:
            if josev.returncode is not None and josev.returncode != 0:
                secc.abort()  # Josev gave up (e.g. SDP failed): do not wait for the session timeout
            time.sleep(0.1)
        report = secc.report()
        exit_code = josev.wait(20)  # Josev closes TCP ~5 s after SessionStopRes, then exits
        took = time.monotonic() - started
    finally:
        secc.abort()
        josev.stop()

    # Our side: the session reached the charge loop, ran it, and ended regularly.
    assert report is not None, f"no session from Josev's EVCC (its exit code: {josev.returncode})"
    assert report.ok, report
    outcome = report.outcome
    assert outcome is not None
    assert outcome.loops == LOOPS
    negotiated = outcome.negotiated
    assert negotiated["service_id"] == 5 and negotiated["parameter_set"] == 1
    assert negotiated["control_mode"] == control and negotiated["authorization"] == "EIM"
    assert negotiated["bpt_channel"] == "Charge"  # Josev's EV never asks for Discharge (J9)
    if transport == "tcp":
        assert report.tls is None
    else:
        assert report.tls is not None and report.tls.group == "prime256v1"
        assert report.tls.version == ("TLSv1.3" if transport == "tls13" else "TLSv1.2")
        assert report.tls.peer_subject == ("DC=OEM,C=UK,O=Switch,CN=OEMProvCert" if transport == "tls13" else None)
    sent_targets = secc.timeline.loop_targets("sent")
    assert len(sent_targets) == LOOPS
    assert all(t == (-DISCHARGE_W if discharge else 11000.0) for t in sent_targets), sent_targets

    # Josev's side: a clean exit after SessionStopRes, every loop answered, our commands received as sent.
    assert exit_code == 0, f"Josev's EVCC exit code {exit_code}"
    log = josev.text()
    assert "SessionStopRes received" in log
    josev_msgs = logged_messages(log)
    received = [x for x in josev_msgs if x.direction == "received"]
    sent = [x for x in josev_msgs if x.direction == "sent"]
    loop_res = [x.body for x in received if x.name == "AC_ChargeLoopRes"]
    assert len(loop_res) == LOOPS and all(b["ResponseCode"] == "OK" for b in loop_res)
    res_mode, req_mode = f"BPT_{control.title()}_AC_CLResControlMode", f"BPT_{control.title()}_AC_CLReqControlMode"
    targets = [rational(b[res_mode]["EVSETargetActivePower"]) for b in loop_res]
    assert targets == sent_targets
    if control == "scheduled":
        # Josev accepted our schedule with its flat price levels (J8) and selected our only tuple.
        exchange = next(x.body for x in received if x.name == "ScheduleExchangeRes")
        [tuple_] = exchange["Scheduled_SEResControlMode"]["ScheduleTuple"]
        assert tuple_["ChargingSchedule"]["PriceLevelSchedule"]["NumberOfPriceLevels"] == 1
        start = next(b for b in (x.body for x in sent if x.name == "PowerDeliveryReq") if "EVPowerProfile" in b)
        assert start["EVPowerProfile"]["Scheduled_EVPPTControlMode"]["SelectedScheduleTupleID"] == 1
    stop = [x.body for x in received if x.name == "SessionStopRes"]
    assert len(stop) == 1 and stop[0]["ResponseCode"] == "OK"
    # What Josev's simulator does with it: the same +200 kW whatever we command (J9).
    loop_req = [x.body for x in sent if x.name == "AC_ChargeLoopReq"]
    present = {rational(b[req_mode]["EVPresentActivePower"]) for b in loop_req}
    assert len(loop_req) == LOOPS and all(p > 0 for p in present), present
    # Its discharge limits are positive magnitudes (J11); our SECC accepts either sign.
    cpd = next(x.body for x in sent if x.name == "AC_ChargeParameterDiscoveryReq")
    ev_discharge_limit = rational(cpd["BPT_AC_CPDReqEnergyTransferMode"]["EVMaximumDischargePower"])
    assert ev_discharge_limit > 0
    interop_results(
        peer="Josev EVCC 0.31.2",
        transport=report.tls.summary() if report.tls else "plain TCP",
        commanded_w=sent_targets[0],
        josev_present_w=sorted(present),
        negotiated=negotiated,
        deviations=[str(d) for d in policy.deviations(Role.SECC)],
        loops=outcome.loops,
        josev_ev_discharge_limit_w=ev_discharge_limit,
        josev_loop_gap_s=spread(secc.timeline.loop_gaps()),
        run_s=round(took, 2),
    )
