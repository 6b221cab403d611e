"""Interop: Josev's EVCC with the DC configurations it ships (``evcc_config_dc.json``, ``evcc_config_dc_bpt.json``)
against our SECC runtime, over TLS 1.3 and plain TCP, Dynamic and Scheduled, each to SessionStop.

Our SECC (:class:`SeccServer` with SDP, tolerant mode) serves in namespace A of a fresh veth pair, Josev's EVCC
runs in namespace B (one process per session). Its configurations are the package's own, with TLS on or off,
10 charge loops and one SDP cycle.

Settings of our side that are Josev's doing, not the standard's (README.md):

* its EV precharges to 20 kV (J20): our charger's voltage window is widened to 20 kV, or our SECC answers its
  first DC_PreChargeReq with FAILED_WrongChargeParameter (as it does with the default window, pinned below);
* it takes the first parameter set offered, so our SECC offers one, the control mode under test; Scheduled needs
  a price schedule (J8).

Its EV ends precharge and welding detection after fixed numbers of requests (J22): 4 DC_PreChargeReq (the last
Finished, at whatever voltage our charger reached) and 5 DC_WeldingDetectionReq.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.netns import VethPair
from iso15118.config import SeccConfig
from iso15118.messages.units import value_of
from iso15118.security.tls import TlsConfig
from iso15118.session.connection import Role
from iso15118.simple import SimpleEVSE, SimpleEVSEConfig
from iso15118.transport.policy import Deviation, TransportPolicy
from iso15118.transport.secc_server import ConnectionReport, SeccServerConfig
from tests.interop.conftest import PeerLogs
from tests.interop.josev import JosevPki, JosevProcess, evcc_env, example_evcc_config, logged_messages, rational
from tests.interop.ours import OurSecc, serve_josev_evcc, spread
from tests.support.netns import veth_or_skip

pytestmark = [pytest.mark.interop, pytest.mark.root, pytest.mark.timeout(300)]

LOOPS = 10
SESSION_TIMEOUT = 90.0
JOSEV_EV_VOLTAGE = 20_000.0
"""What Josev's EV reports as its present and target voltage (J20)."""
DISCHARGE_W = 6000.0


@pytest.fixture
def veth() -> Iterator[VethPair]:
    yield from veth_or_skip("jdv")


def _policy(transport: str, pki: JosevPki) -> TransportPolicy:
    if transport == "tcp":
        return TransportPolicy(tls=None, tolerant=True)
    # Josev's EVCC presents its OEM provisioning certificate over TLS 1.3 (J4).
    tls = TlsConfig(certificate_chain=pki.cpo_chain, private_key=pki.secc_key, trust_roots=(pki.oem_root,))
    return TransportPolicy(tls=tls, tolerant=True)


def _run(
    veth: VethPair,
    josev_live: Path,
    josev_pki: JosevPki,
    tmp_path: Path,
    peer_logs: PeerLogs,
    *,
    transport: str,
    config: str,
    evse: SimpleEVSE,
    secc: SeccConfig,
    exit_wait: float = 20.0,
) -> tuple[ConnectionReport | None, OurSecc, JosevProcess, int | None, float]:
    """One session of Josev's EVCC (``config``) against our SECC; (report, our SECC, Josev, its exit code, s).

    Josev exits ~5 s after SessionStopRes; ``exit_wait`` bounds the wait for that (after a failed session it
    hangs instead, J17, and is stopped)."""
    ours = OurSecc(
        veth.ns_a,
        SeccServerConfig(policy=_policy(transport, josev_pki), iface=veth.if_a, sdp=True),
        evse,
        secc,
        timeout=SESSION_TIMEOUT,
    )
    config_file = tmp_path / "evcc.json"
    settings = example_evcc_config(josev_live, config, tls=transport != "tcp", loops=LOOPS)
    config_file.write_text(json.dumps(settings))
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
    report, exit_code, took = serve_josev_evcc(ours, josev, exit_wait=exit_wait)
    return report, ours, josev, exit_code, took


CASES = [
    pytest.param("tls13", "evcc_config_dc.json", "dynamic", None, id="tls13-dc"),
    pytest.param("tls13", "evcc_config_dc_bpt.json", "dynamic", None, id="tls13-dcbpt"),
    pytest.param("tls13", "evcc_config_dc_bpt.json", "dynamic", -DISCHARGE_W, id="tls13-dcbpt-discharge-setpoint"),
    pytest.param("tcp", "evcc_config_dc.json", "dynamic", None, id="tcp-dc"),
    pytest.param("tcp", "evcc_config_dc_bpt.json", "dynamic", None, id="tcp-dcbpt"),
    pytest.param("tls13", "evcc_config_dc.json", "scheduled", None, id="tls13-scheduled-dc"),
]
SECC_CONFIGS = {
    "dynamic": SeccConfig(control_modes=(2,)),
    "scheduled": SeccConfig(control_modes=(1,), pricing="price_levels"),
}


@pytest.mark.parametrize(("transport", "config", "control", "setpoint_w"), CASES)
def test_josev_dc_evcc_against_our_secc(
    transport: str,
    config: str,
    control: str,
    setpoint_w: float | None,
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
    assert set(policy.deviations(Role.SECC)) == expected
    bpt = config == "evcc_config_dc_bpt.json"
    evse = SimpleEVSE(SimpleEVSEConfig(max_voltage_v=JOSEV_EV_VOLTAGE, setpoint_w=setpoint_w))
    report, ours, josev, exit_code, took = _run(
        veth,
        josev_live,
        josev_pki,
        tmp_path,
        peer_logs,
        transport=transport,
        config=config,
        evse=evse,
        secc=SECC_CONFIGS[control],
    )

    # Our side: the DC steps, 10 loops and a regular end.
    assert report is not None, f"no session from Josev's EVCC (its exit code: {josev.returncode})"
    assert report.ok, report
    outcome = report.outcome
    assert outcome is not None and outcome.loops == LOOPS
    negotiated = outcome.negotiated
    assert negotiated["service_id"] == (6 if bpt else 2) and negotiated["parameter_set"] == 1
    assert negotiated["control_mode"] == control and negotiated["authorization"] == "EIM"
    if bpt:
        assert negotiated["bpt_channel"] == "Charge"  # Josev's EV never asks for Discharge (J9)
    if transport == "tcp":
        assert report.tls is None
    else:
        assert report.tls is not None and report.tls.version == "TLSv1.3" and report.tls.group == "prime256v1"
        assert report.tls.peer_subject == "DC=OEM,C=UK,O=Switch,CN=OEMProvCert"
    received = ours.timeline.kinds("received")
    # Josev's fixed counts (J22): 4 precharge requests, the last Finished; 5 welding-detection requests.
    precharge = [str(m.ev_processing) for m in ours.timeline.of_kind("received", "DC_PreChargeReq")]
    assert precharge == ["Ongoing"] * 3 + ["Finished"]
    assert received.count("DC_WeldingDetectionReq") == 5 and received[-1] == "SessionStopReq"
    targets = {m.ev_target_voltage for m in ours.timeline.of_kind("received", "DC_PreChargeReq")}
    assert {value_of(t) for t in targets} == {JOSEV_EV_VOLTAGE}
    precharge_v = [v for v, _ in ours.timeline.dc_outputs("sent", "DC_PreChargeRes")]

    # Josev's side: a clean exit after SessionStopRes, every response OK.
    assert exit_code == 0, f"Josev's EVCC exit code {exit_code}"
    log = josev.text()
    assert "SessionStopRes received" in log
    josev_msgs = logged_messages(log)
    res = [x for x in josev_msgs if x.direction == "received" and x.name != "supportedAppProtocolRes"]
    assert res and all(x.body["ResponseCode"].startswith("OK") for x in res), [
        (x.name, x.body["ResponseCode"]) for x in res
    ]
    assert [x.name for x in res].count("DC_ChargeLoopRes") == LOOPS
    loop_res = [x.body for x in res if x.name == "DC_ChargeLoopRes"]
    mode = next(k for k in loop_res[0] if k.endswith("DC_CLResControlMode"))
    assert mode == f"{'BPT_' if bpt else ''}{control.title()}_DC_CLResControlMode"
    if setpoint_w is not None:
        # Our charger asks for discharge the DC Dynamic way: no charge power allowed, 6 kW of discharge.
        assert {rational(b[mode]["EVSEMaximumChargePower"]) for b in loop_res} == {0.0}
        assert {rational(b[mode]["EVSEMaximumDischargePower"]) for b in loop_res} == {DISCHARGE_W}
    sent = [x for x in josev_msgs if x.direction == "sent"]
    start = [x.body for x in sent if x.name == "PowerDeliveryReq" and x.body["ChargeProgress"] == "Start"]
    cpd = next(x.body for x in sent if x.name == "DC_ChargeParameterDiscoveryReq")
    cpd_mode = next(v for k, v in cpd.items() if k.endswith("CPDReqEnergyTransferMode"))
    interop_results(
        peer="Josev EVCC 0.31.2 (DC)",
        config=config,
        transport=report.tls.summary() if report.tls else "plain TCP",
        negotiated=negotiated,
        deviations=[str(d) for d in policy.deviations(Role.SECC)],
        loops=outcome.loops,
        josev_power_delivery_start=[b["EVProcessing"] for b in start],
        josev_ev_max_voltage_v=rational(cpd_mode["EVMaximumVoltage"]),
        our_precharge_output_v=precharge_v,
        our_loop_output=sorted(set(ours.timeline.dc_outputs("sent"))),
        josev_loop_gap_s=spread(ours.timeline.loop_gaps("DC")),
        run_s=round(took, 2),
    )


def test_josev_dc_evcc_precharge_target_is_refused_by_a_500_v_charger(
    veth: VethPair, josev_live: Path, josev_pki: JosevPki, tmp_path: Path, peer_logs: PeerLogs
) -> None:
    """J20 without the widened window: our SECC refuses Josev's 20 kV precharge target with the reason."""
    report, _ours, _josev, _exit, _took = _run(
        veth,
        josev_live,
        josev_pki,
        tmp_path,
        peer_logs,
        transport="tcp",
        config="evcc_config_dc.json",
        evse=SimpleEVSE(),
        secc=SECC_CONFIGS["dynamic"],
        exit_wait=0.0,
    )
    assert report is not None and report.outcome is not None
    outcome = report.outcome
    assert outcome.ended.response_code == "FAILED_WrongChargeParameter", outcome.ended
    assert outcome.failure is not None and "precharge target 20000 V outside the charger's 150-500 V" in outcome.failure
