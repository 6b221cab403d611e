"""Interop: our EVCC runtime against Josev's SECC with ``PROTOCOLS=ISO_15118_20_DC``: DC and DC_BPT, charge and
discharge, Dynamic and Scheduled, over TLS 1.3 and plain TCP, each to SessionStop.

Josev's SECC runs in namespace A of a veth pair, our EVCC (:func:`run_evcc`: SDP, TCP, TLS, session) in
namespace B, in tolerant mode (TLS 1.3 with Josev's P-256 PKI, or plain TCP; J1, J2, J14 in README.md). One Josev
SECC process with ``ENABLE_TLS_1_3=True`` serves every session, one after the other.

Josev's DC charger is a constant: its output is 1 V / 1 A in every DC_PreChargeRes, DC_ChargeLoopRes and
DC_WeldingDetectionRes (J21). Our EV precharges until the charger's voltage is within ``precharge_tolerance_v``
of its battery's (400 V); against Josev that tolerance is raised to 500 V, the one setting made for it. Its
Scheduled mode needs the optional ``PowerToleranceAcceptance`` (J7), as in AC.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.netns import VethPair, veth_pair
from iso15118.config import EvccConfig
from iso15118.controller import ChargeDirection, ControlMode
from iso15118.messages.units import value_of
from iso15118.security.tls import TlsConfig
from iso15118.session.events import EndReason
from iso15118.session.selection import EnergyFamily
from iso15118.simple import SimpleEV, SimpleEVConfig
from iso15118.transport.evcc_client import EvccClientConfig
from iso15118.transport.policy import Deviation, TransportPolicy
from tests.interop.conftest import PeerLogs
from tests.interop.josev import JosevPki, JosevProcess, logged_messages, rational, secc_env
from tests.interop.ours import run_our_evcc, spread
from tests.support.netns import require_netns

pytestmark = [pytest.mark.interop, pytest.mark.root, pytest.mark.timeout(300)]

LOOPS = 10
JOSEV_OUTPUT_V = 1.0
PRECHARGE_TOLERANCE_V = 500.0
"""Josev's precharge output stays at 1 V (J21): our EV accepts it only with a tolerance above its 400 V battery."""


@dataclass
class JosevDcSecc:
    """A running Josev DC SECC and the veth pair it listens on."""

    veth: VethPair
    process: JosevProcess


@pytest.fixture(scope="module")
def josev_dc_secc(
    josev_live: Path, josev_pki: JosevPki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JosevDcSecc]:
    """Josev's SECC for -20 DC with ENABLE_TLS_1_3=True (TLS 1.3 or plain TCP, as each SDP request asks), ready."""
    require_netns()
    with veth_pair("jds") as veth:
        process = JosevProcess(
            "secc-dc",
            josev_live,
            "iso15118.secc.main",
            namespace=veth.ns_a,
            env=secc_env(veth.if_a, josev_pki, tls13=True, protocols="ISO_15118_20_DC"),
            workdir=tmp_path_factory.mktemp("secc-dc"),
        )
        try:
            process.start()
            if not process.wait_for_log(r"UDP server started", 60):
                pytest.fail(f"Josev's SECC did not come up:\n{process.text()[-4000:]}")
            yield JosevDcSecc(veth, process)
        finally:
            process.stop()


def _tls(pki: JosevPki) -> TlsConfig:
    # Josev's SECC trusts only its OEM root for client certificates: our EVCC presents the OEM provisioning
    # certificate (J4).
    return TlsConfig(trust_roots=(pki.v2g_root,), certificate_chain=pki.oem_chain, private_key=pki.oem_key)


DYNAMIC, SCHEDULED = ControlMode.DYNAMIC, ControlMode.SCHEDULED
CHARGE, DISCHARGE = ChargeDirection.CHARGE, ChargeDirection.DISCHARGE
CASES = [
    pytest.param("tls", "DC", CHARGE, DYNAMIC, id="tls13-dc-charge"),
    pytest.param("tls", "DC_BPT", CHARGE, DYNAMIC, id="tls13-dcbpt-charge"),
    pytest.param("tls", "DC_BPT", DISCHARGE, DYNAMIC, id="tls13-dcbpt-discharge"),
    pytest.param("tcp", "DC", CHARGE, DYNAMIC, id="tcp-dc-charge"),
    pytest.param("tls", "DC", CHARGE, SCHEDULED, id="tls13-scheduled-dc-charge"),
]
SERVICE_ID = {"DC": 2, "DC_BPT": 6}


@pytest.mark.parametrize(("transport", "service", "direction", "control"), CASES)
def test_our_evcc_against_josev_dc_secc(
    transport: str,
    service: str,
    direction: ChargeDirection,
    control: ControlMode,
    josev_dc_secc: JosevDcSecc,
    josev_pki: JosevPki,
    peer_logs: PeerLogs,
    interop_results: Any,
) -> None:
    process = josev_dc_secc.process
    since = process.offset()
    peer_logs.add(process, since)
    policy = TransportPolicy(tls=_tls(josev_pki) if transport == "tls" else None, tolerant=True)
    expected_deviations = {Deviation.TLS12 if transport == "tls" else Deviation.PLAIN_TCP, Deviation.RELAXED_TIMING}
    expected_deviations.add(Deviation.SCHEMA_DEVIATIONS)
    assert set(policy.deviations()) == expected_deviations
    ev = SimpleEV(SimpleEVConfig(direction=direction, bidirectional=service == "DC_BPT"))
    evcc = EvccConfig(
        energy=EnergyFamily.DC,
        max_loops=LOOPS,
        control_mode=control,
        # Scheduled: Josev's SECC requires the optional PowerToleranceAcceptance in PowerDeliveryReq (J7).
        power_tolerance_acceptance="PowerToleranceConfirmed" if control is SCHEDULED else None,
        precharge_tolerance_v=PRECHARGE_TOLERANCE_V,  # J21
    )
    client = EvccClientConfig(policy=policy, iface=josev_dc_secc.veth.if_b)
    started = time.monotonic()
    run, timeline = run_our_evcc(josev_dc_secc.veth.ns_b, client, ev, evcc, timeout=90)
    took = time.monotonic() - started

    # Our side: the DC steps, the charge loop and a regular end.
    outcome = run.outcome
    assert run.ok and outcome.ended.reason is EndReason.TERMINATED, outcome.ended
    assert outcome.loops == LOOPS
    negotiated = outcome.negotiated
    assert negotiated["service_id"] == SERVICE_ID[service] and negotiated["energy_mode"] == service
    assert negotiated["control_mode"] == str(control) and negotiated["authorization"] == "EIM"
    if transport == "tls":
        assert run.tls is not None and run.tls.version == "TLSv1.3" and run.tls.group == "prime256v1", run.tls
        assert run.tls.peer_subject is not None and "SECCCert" in run.tls.peer_subject
    else:
        assert run.tls is None
    sent = timeline.kinds("sent")
    assert sent[-4:] == ["PowerDeliveryReq", "DC_WeldingDetectionReq", "DC_WeldingDetectionReq", "SessionStopReq"]
    # Josev's charger reports 1 V at once: one Ongoing precharge request, then the Finished one (J21).
    precharge = [str(m.ev_processing) for m in timeline.of_kind("sent", "DC_PreChargeReq")]
    assert precharge == ["Ongoing", "Finished"]
    outputs = {v for v, _ in timeline.dc_outputs("received", "DC_PreChargeRes")}
    outputs |= {v for v, _ in timeline.dc_outputs("received")} | {
        v for v, _ in timeline.dc_outputs("received", "DC_WeldingDetectionRes")
    }
    assert outputs == {JOSEV_OUTPUT_V}, outputs

    # Josev's side, from its own log: every request answered OK, the session ended.
    assert process.wait_for_log(r"Communication session terminated", 15, since=since), "Josev did not end the session"
    josev = logged_messages(process.text(since))
    received = [x for x in josev if x.direction == "received"]
    answered = [x for x in josev if x.direction == "sent" and x.name != "supportedAppProtocolRes"]
    assert [x.name for x in received].count("DC_ChargeLoopReq") == LOOPS
    assert answered and all(x.body["ResponseCode"] == "OK" for x in answered[1:]), [
        (x.name, x.body["ResponseCode"]) for x in answered
    ]
    assert answered[0].name == "SessionSetupRes" and answered[-1].name == "SessionStopRes"
    start = next(x.body for x in received if x.name == "PowerDeliveryReq" and x.body["ChargeProgress"] == "Start")
    if service == "DC_BPT":
        channel = "Discharge" if direction is DISCHARGE else "Charge"
        assert start["BPT_ChannelSelection"] == channel
        power = rational(start["EVPowerProfile"]["EVPowerProfileEntries"]["EVPowerProfileEntry"][0]["Power"])
        assert (power < 0) == (direction is DISCHARGE)
    else:
        assert "BPT_ChannelSelection" not in start
    if control is SCHEDULED:
        chosen = start["EVPowerProfile"]["Scheduled_EVPPTControlMode"]
        exchange = next(x.body for x in answered if x.name == "ScheduleExchangeRes")
        tuples = exchange["Scheduled_SEResControlMode"]["ScheduleTuple"]
        assert chosen["SelectedScheduleTupleID"] in {t["ScheduleTupleID"] for t in tuples}
    cpd = next(x.body for x in answered if x.name == "DC_ChargeParameterDiscoveryRes")
    limits = next(iter(v for k, v in cpd.items() if k.endswith("CPDResEnergyTransferMode")))
    # The same +1 A whatever the channel: Josev's charger ignores BPT_ChannelSelection=Discharge (J10, J21).
    loop_currents = sorted({c for _, c in timeline.dc_outputs("received") if c is not None})
    assert loop_currents == [1.0], loop_currents
    # Scheduled: Josev's schedule lies in 1970 (J18), so our EV finds no power for now and asks for 0 A.
    targets = [m.scheduled_dc_cl_req_control_mode for m in timeline.of_kind("sent", "DC_ChargeLoopReq")]
    target_currents = sorted({value_of(t.ev_target_current) for t in targets if t is not None})
    assert target_currents == ([0.0] if control is SCHEDULED else []), target_currents
    interop_results(
        peer="Josev SECC 0.31.2 (DC)",
        transport=run.tls.summary() if run.tls else "plain TCP",
        direction=str(direction),
        negotiated=negotiated,
        deviations=[str(d) for d in policy.deviations()],
        loops=outcome.loops,
        josev_output_v=sorted(outputs),
        josev_loop_current_a=loop_currents,
        **({"our_target_current_a": target_currents} if control is SCHEDULED else {}),
        josev_max_charge_power_w=rational(limits["EVSEMaximumChargePower"]),
        josev_voltage_window_v=[rational(limits["EVSEMinimumVoltage"]), rational(limits["EVSEMaximumVoltage"])],
        josev_loop_response_s=spread(timeline.loop_response_times("DC")),
        session_s=round(took, 2),
    )
