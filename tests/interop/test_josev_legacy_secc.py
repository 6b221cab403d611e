"""Interop: our EVCC runtime against Josev's SECC with ``PROTOCOLS=DIN_SPEC_70121`` and ``PROTOCOLS=ISO_15118_2``
(AC and DC, EIM), each to SessionStop; and our EV offering iso20, iso2 and din falling back to DIN 70121 at
Josev's DIN-only SECC.

Josev's SECC runs in namespace A of a veth pair (one process per ``PROTOCOLS`` value, serving every session of
this module), our EVCC (:func:`run_evcc`: SDP, TCP, TLS, session) in namespace B. DIN 70121 and -2 with EIM run
over plain TCP, which is their own transport, not a deviation; tolerant mode is used for one reason, the timers
(L1 in README.md): Josev answers a CurrentDemandReq in 0.1-0.3 s here, DIN 70121 and -2 give the EV 0.25 s.

Settings of our EV that are Josev's doing, not the standard's (README.md): its DC charger's voltage window is
40-40 V (L2), so our EV's battery is configured at 40 V; its DC output stays at 1 V (L3, like J21), so our EV
accepts precharge within 40 V.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.netns import VethPair, veth_pair
from iso15118.config import EvccConfig
from iso15118.constants import NS_DIN, NS_ISO2, NS_ISO20_DC, SdpSecurity
from iso15118.envelope.physical import value_of
from iso15118.security.tls import TlsConfig
from iso15118.session.events import EndReason
from iso15118.session.selection import EnergyFamily
from iso15118.simple import SimpleEV, SimpleEVConfig
from iso15118.transport.evcc_client import EvccClientConfig
from iso15118.transport.generations import Transport
from iso15118.transport.policy import Deviation, TransportPolicy
from tests.interop.conftest import PeerLogs
from tests.interop.josev import JosevPki, JosevProcess, logged_messages, physical, secc_env
from tests.interop.ours import run_our_evcc, spread
from tests.support.netns import require_netns

pytestmark = [pytest.mark.interop, pytest.mark.root, pytest.mark.timeout(300)]

LOOPS = 10
TIMING_SCALE = 8.0
"""Our EV's timers against Josev's SECC: DIN's and -2's 0.25 s for CurrentDemandRes become 2 s (L1)."""
BATTERY_V = 40.0
"""Josev's DC charger can deliver 40 V only (L2): our EV's battery sits there (30-50 V, half charged)."""
JOSEV_OUTPUT_V = 1.0
EV = SimpleEVConfig(battery_min_voltage_v=BATTERY_V - 10, battery_max_voltage_v=BATTERY_V + 10)


class JosevSeccs:
    """Josev SECC processes by PROTOCOLS value, started on first use, one veth pair each, stopped at the end."""

    def __init__(self, python: Path, pki: JosevPki, workdir: Callable[[str], Path]) -> None:
        self._python, self._pki, self._workdir = python, pki, workdir
        self._running: dict[str, tuple[VethPair, JosevProcess]] = {}
        self._pairs: list[Any] = []

    def get(self, protocols: str) -> tuple[VethPair, JosevProcess]:
        if protocols not in self._running:
            pair = veth_pair("jls")
            veth = pair.__enter__()
            self._pairs.append(pair)
            name = f"secc-{protocols.lower()}"
            env = secc_env(veth.if_a, self._pki, tls13=False, protocols=protocols)
            process = JosevProcess(
                name, self._python, "iso15118.secc.main", namespace=veth.ns_a, env=env, workdir=self._workdir(name)
            )
            self._running[protocols] = (veth, process)
            process.start()
            if not process.wait_for_log(r"UDP server started", 60):
                pytest.fail(f"Josev's SECC ({protocols}) did not come up:\n{process.text()[-4000:]}")
        return self._running[protocols]

    def close(self) -> None:
        for _veth, process in self._running.values():
            process.stop()
        for pair in reversed(self._pairs):
            pair.__exit__(None, None, None)


@pytest.fixture(scope="module")
def josev_seccs(
    josev_live: Path, josev_pki: JosevPki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JosevSeccs]:
    require_netns()
    seccs = JosevSeccs(josev_live, josev_pki, tmp_path_factory.mktemp)
    try:
        yield seccs
    finally:
        seccs.close()


# (Josev's PROTOCOLS, what our EV offers, energy); the session's shape follows from the generation and energy.
CASES = [
    pytest.param("DIN_SPEC_70121", (NS_DIN,), EnergyFamily.DC, id="din-dc"),
    pytest.param("ISO_15118_2", (NS_ISO2,), EnergyFamily.AC, id="iso2-ac-eim"),
    pytest.param("ISO_15118_2", (NS_ISO2,), EnergyFamily.DC, id="iso2-dc-eim"),
]
LOOP = {EnergyFamily.AC: "ChargingStatus", EnergyFamily.DC: "CurrentDemand"}
NAMES = {NS_DIN: "DIN 70121", NS_ISO2: "ISO 15118-2"}


def _check_session(
    timeline: Any, process: JosevProcess, since: int, energy: EnergyFamily
) -> tuple[list[float], dict[str, Any]]:
    """Both sides of one DIN or -2 session with Josev's SECC: the steps, every response OK, SessionStop; returns
    Josev's loop response times and what it offered."""
    sent = timeline.kinds("sent")
    loop = LOOP[energy]
    assert timeline.tolerated == []  # tolerant decoding had nothing to let pass
    assert sent.count(f"{loop}Req") == LOOPS
    tail = ["PowerDeliveryReq", "SessionStopReq"]
    if energy is EnergyFamily.DC:
        tail = ["PowerDeliveryReq", "WeldingDetectionReq", "SessionStopReq"]
        # Josev's charger reports 1 V at once and throughout (L3): one PreChargeReq is enough at 40 V.
        assert sent.count("PreChargeReq") == 1 and "CableCheckReq" in sent
        outputs = {value_of(m.evse_present_voltage) for m in timeline.of_kind("received", "PreChargeRes")}
        outputs |= {value_of(m.evse_present_voltage) for m in timeline.of_kind("received", "CurrentDemandRes")}
        assert outputs == {JOSEV_OUTPUT_V}, outputs
    assert sent[-len(tail) :] == tail, sent

    # Josev's side, from its own log: every request answered OK, the session ended.
    assert process.wait_for_log(r"Sent SessionStopRes", 15, since=since), "Josev did not answer SessionStopReq"
    josev = logged_messages(process.text(since))
    # Josev also logs the fragments it signs (SalesTariff, SignedInfo: L5): responses only.
    answered = [x for x in josev if x.direction == "sent" and x.name.endswith("Res") and x.name[0].isupper()]
    codes = [(x.name, x.body["ResponseCode"]) for x in answered]
    assert codes[0] == ("SessionSetupRes", "OK_NewSessionEstablished") and codes[-1] == ("SessionStopRes", "OK")
    assert all(code == "OK" for _, code in codes[1:]), codes
    cpd = next(x.body for x in answered if x.name == "ChargeParameterDiscoveryRes")
    return timeline.response_times(f"{loop}Res"), cpd


@pytest.mark.parametrize(("protocols", "offered", "energy"), CASES)
def test_our_evcc_against_josev_legacy_secc(
    protocols: str,
    offered: tuple[str, ...],
    energy: EnergyFamily,
    josev_seccs: JosevSeccs,
    peer_logs: PeerLogs,
    interop_results: Any,
) -> None:
    veth, process = josev_seccs.get(protocols)
    since = process.offset()
    peer_logs.add(process, since)
    policy = TransportPolicy(tls=None, tolerant=True, timing_scale=TIMING_SCALE)
    assert set(policy.deviations()) == {Deviation.PLAIN_TCP, Deviation.RELAXED_TIMING, Deviation.SCHEMA_DEVIATIONS}
    evcc = EvccConfig(energy=energy, protocols=offered, max_loops=LOOPS, precharge_tolerance_v=BATTERY_V)
    client = EvccClientConfig(policy=policy, iface=veth.if_b)
    started = time.monotonic()
    run, timeline = run_our_evcc(veth.ns_b, client, SimpleEV(EV), evcc, timeout=90)
    took = time.monotonic() - started

    outcome = run.outcome
    assert run.ok and outcome.ended.reason is EndReason.TERMINATED, (outcome.ended, outcome.failure)
    assert run.tls is None and run.fallbacks == ()
    assert outcome.quirks == ()
    negotiated = outcome.negotiated
    assert negotiated["protocol_name"] == NAMES[offered[0]] and negotiated["authorization"] == "EIM"
    assert negotiated["energy_mode"] == str(energy)
    loop_times, cpd = _check_session(timeline, process, since, energy)
    limits = cpd.get("DC_EVSEChargeParameter") or cpd.get("AC_EVSEChargeParameter") or {}
    interop_results(
        peer=f"Josev SECC 0.31.2 ({protocols})",
        transport="plain TCP",
        negotiated=negotiated,
        deviations=[str(d) for d in policy.deviations()],
        loops=timeline.kinds("sent").count(f"{LOOP[energy]}Req"),
        josev_limits={k: physical(v) for k, v in limits.items() if k.startswith("EVSE")},
        josev_loop_response_s=spread(loop_times),
        josev_loop_response_all_s=loop_times,
        session_s=round(took, 2),
    )


def test_our_iso20_iso2_din_evcc_falls_back_to_din_at_josev_din_secc(
    josev_seccs: JosevSeccs, josev_pki: JosevPki, peer_logs: PeerLogs, interop_results: Any
) -> None:
    """Our EV prefers -20 and has a TLS configuration, so its SDP request asks for TLS; Josev's DIN-only SECC
    answers TLS (L4) and serves TLS 1.2, where our EV offers -20 and -2 and DIN cannot be offered. Josev answers
    Failed_NoNegotiation; our EV asks SDP again for plain TCP and runs DIN 70121 there, saying why."""
    veth, process = josev_seccs.get("DIN_SPEC_70121")
    since = process.offset()
    peer_logs.add(process, since)
    tls = TlsConfig(
        trust_roots=(josev_pki.v2g_root,), certificate_chain=josev_pki.oem_chain, private_key=josev_pki.oem_key
    )
    policy = TransportPolicy(tls=tls, tolerant=True, timing_scale=TIMING_SCALE)
    evcc = EvccConfig(
        energy=EnergyFamily.DC,
        protocols=(NS_ISO20_DC, NS_ISO2, NS_DIN),
        max_loops=LOOPS,
        precharge_tolerance_v=BATTERY_V,
    )
    client = EvccClientConfig(policy=policy, iface=veth.if_b)
    started = time.monotonic()
    run, timeline = run_our_evcc(veth.ns_b, client, SimpleEV(EV), evcc, timeout=120)
    took = time.monotonic() - started

    outcome = run.outcome
    assert run.ok and outcome.ended.reason is EndReason.TERMINATED, (outcome.ended, outcome.failure)
    assert outcome.negotiated["protocol_name"] == "DIN 70121"
    [why] = run.fallbacks
    assert why == (
        "SupportedAppProtocol over tls1.2 found no common protocol (Failed_NoNegotiation); "
        "DIN 70121 can run over plain TCP"
    )
    assert run.tls is None and run.sdp is not None and run.sdp.response.security is SdpSecurity.NONE
    record = outcome.negotiation
    assert record is not None and (record.transport, record.chosen) == (Transport.TCP, NS_DIN)
    assert [o.namespace for o in record.offered] == [NS_ISO20_DC, NS_ISO2, NS_DIN]  # tolerant: -20 over TCP too
    assert record.downgrade is not None and record.downgrade.startswith("ISO 15118-20 DC was preferred but not used")
    assert why in record.downgrade
    assert timeline.kinds("sent")[:2] == ["supportedAppProtocolReq", "supportedAppProtocolReq"]
    # Josev's view: a TLS connection refused in SupportedAppProtocol, then the DIN session.
    sap = [x.body for x in logged_messages(process.text(since)) if x.name == "supportedAppProtocolRes"]
    assert [b["ResponseCode"] for b in sap] == ["Failed_NoNegotiation", "OK_SuccessfulNegotiation"]
    loop_times, _cpd = _check_session(timeline, process, since, EnergyFamily.DC)
    interop_results(
        peer="Josev SECC 0.31.2 (DIN_SPEC_70121)",
        offered="iso20,iso2,din",
        fallbacks=list(run.fallbacks),
        sdp_tries_for_plain_tcp=run.sdp.tries,
        negotiated=outcome.negotiated,
        josev_loop_response_s=spread(loop_times),
        session_s=round(took, 2),
    )


def test_our_din_evcc_stops_at_josev_40_v_window_and_josev_refuses_the_session_stop(
    josev_seccs: JosevSeccs, peer_logs: PeerLogs
) -> None:
    """L2 and L6 without the 40 V battery: our EV (400 V) finds Josev's voltage window unusable and stops the
    session with SessionStopReq, naming why; Josev answers FAILED_SequenceError (it takes SessionStopReq only
    after the charge loop)."""
    veth, process = josev_seccs.get("DIN_SPEC_70121")
    since = process.offset()
    peer_logs.add(process, since)
    policy = TransportPolicy(tls=None, tolerant=True, timing_scale=TIMING_SCALE)
    evcc = EvccConfig(energy=EnergyFamily.DC, protocols=(NS_DIN,), max_loops=LOOPS)
    client = EvccClientConfig(policy=policy, iface=veth.if_b)
    run, timeline = run_our_evcc(veth.ns_b, client, SimpleEV(), evcc, timeout=90)

    outcome = run.outcome
    assert outcome.failure == "the charger's voltage window 40-40 V misses the battery's 400 V"
    assert timeline.kinds("sent")[-2:] == ["ChargeParameterDiscoveryReq", "SessionStopReq"]
    assert (outcome.ended.reason, outcome.ended.response_code) == (EndReason.FAILED_RECEIVED, "FAILED_SequenceError")
    assert process.wait_for_log(r"SessionStopRes", 15, since=since)
    [stop] = [x for x in logged_messages(process.text(since)) if x.name == "SessionStopRes"]
    assert stop.body["ResponseCode"] == "FAILED_SequenceError"
    assert "not accepted in state CableCheck" in stop.header["Notification"]["FaultMsg"]
