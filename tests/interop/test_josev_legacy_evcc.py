"""Interop: Josev's EVCC with the DIN 70121 and ISO 15118-2 configurations it ships (``DIN/evcc_config.json``,
``iso15118_2/evcc_config_eim_ac.json``, ``evcc_config_eim_dc.json``, ``evcc_config_pnc_ac.json``, unchanged but
for one SDP cycle) against our SECC offering all three generations, each to SessionStop.

Our SECC (:class:`SeccServer` with SDP) serves in namespace A of a fresh veth pair, Josev's EVCC runs in namespace
B (one process per session). Our SECC is **strict** and offers ISO 15118-20 (AC, DC) over TLS 1.3 with an identity
of our own -20 test PKI, ISO 15118-2 over TLS 1.2 with the SECC certificate of Josev's -2 PKI, and -2 and DIN 70121
over plain TCP, one port for all. Josev's EVCC picks from that by its configuration: DIN and -2 EIM ask SDP for no
security, -2 PnC for TLS (then TLS 1.2 and Plug & Charge).

Plug & Charge needs a PKI both sides trust: our SECC trusts the MO root of Josev's PKI (made per run by its
``create_certs.sh``) for the contract chain Josev's EV presents in PaymentDetailsReq, and verifies its signed
AuthorizationReq in strict mode (Josev's SignedInfo is coded with the xmldsig grammar, as Annex J.4 says).

One setting is Josev's doing, not the standard's (README.md): its AC EV charges three-phase only and gives up
without SessionStopReq when the charger offers single-phase (L7), so our AC charger is three-phase.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from harness.netns import VethPair
from iso15118.config import SeccConfig
from iso15118.constants import NS_DIN, NS_ISO2, NS_ISO20_AC, NS_ISO20_DC
from iso15118.iso2.pnc import Iso2Pnc
from iso15118.security.pki import init_pki
from iso15118.security.profiles import Entity
from iso15118.security.tls import TlsConfig, TlsMode
from iso15118.session.connection import Role
from iso15118.session.events import EndReason
from iso15118.simple import SimpleEVSE, SimpleEVSEConfig
from iso15118.transport.generations import Transport
from iso15118.transport.policy import TransportPolicy
from iso15118.transport.secc_server import SeccServerConfig
from tests.interop.conftest import PeerLogs
from tests.interop.josev import JosevPki, JosevProcess, evcc_env, example_evcc_config, logged_messages
from tests.interop.ours import OurSecc, serve_josev_evcc, spread
from tests.support.netns import veth_or_skip

pytestmark = [pytest.mark.interop, pytest.mark.root, pytest.mark.timeout(300)]

SESSION_TIMEOUT = 90.0
EVERY = (NS_ISO20_AC, NS_ISO20_DC, NS_ISO2, NS_DIN)


@pytest.fixture
def veth() -> Iterator[VethPair]:
    yield from veth_or_skip("jlv")


@pytest.fixture(scope="module")
def iso20_identity(tmp_path_factory: pytest.TempPathFactory) -> TlsConfig:
    """Our SECC's -20 TLS 1.3 identity (secp521r1), from a -20 test PKI of our own."""
    now = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).replace(microsecond=0)
    layout = init_pki(tmp_path_factory.mktemp("iso20-pki"), now=now)
    leaf = layout[Entity.SECC_LEAF]
    assert leaf.chain_pem is not None
    roots = tuple(layout.roots(Entity.OEM_ROOT, Entity.V2G_ROOT))
    return TlsConfig(certificate_chain=leaf.chain_pem, private_key=leaf.key_pem, trust_roots=roots)


def _policy(iso20: TlsConfig, pki: JosevPki) -> TransportPolicy:
    """Strict: -20 over TLS 1.3 (our PKI), -2 over TLS 1.2 (Josev's -2 SECC certificate) or TCP, DIN over TCP."""
    iso2 = TlsConfig(certificate_chain=pki.cpo_chain, private_key=pki.secc_key, mode=TlsMode.ISO2)
    return TransportPolicy(tls=iso20, tls_iso2=iso2)


def _contract_checks(pki: JosevPki) -> Iso2Pnc:
    """-2 PnC checks trusting the MO root of Josev's PKI (its EV's contract chain ends there)."""
    mo_root = pki.directory / "iso15118_2" / "certs" / "moRootCACert.pem"
    return Iso2Pnc(contract_roots=(x509.load_pem_x509_certificate(mo_root.read_bytes()),))


# (Josev's configuration, namespace, energy, authorization, transport, its loop request)
CASES = [
    pytest.param("DIN/evcc_config.json", NS_DIN, "DC", "EIM", Transport.TCP, "CurrentDemandReq", id="din-dc"),
    pytest.param(
        "iso15118_2/evcc_config_eim_ac.json", NS_ISO2, "AC", "EIM", Transport.TCP, "ChargingStatusReq", id="iso2-ac-eim"
    ),
    pytest.param(
        "iso15118_2/evcc_config_eim_dc.json", NS_ISO2, "DC", "EIM", Transport.TCP, "CurrentDemandReq", id="iso2-dc-eim"
    ),
    pytest.param(
        "iso15118_2/evcc_config_pnc_ac.json",
        NS_ISO2,
        "AC",
        "PnC",
        Transport.TLS12,
        "ChargingStatusReq",
        id="iso2-ac-pnc",
    ),
]


def _josev_evcc(live: Path, pki: JosevPki, veth: VethPair, tmp_path: Path, config: str) -> JosevProcess:
    """Josev's EVCC with its shipped configuration ``config`` on the veth pair's EV end (TLS 1.3 off)."""
    config_file = tmp_path / "evcc.json"
    config_file.write_text(json.dumps(example_evcc_config(live, config)))
    return JosevProcess(
        "evcc",
        live,
        "iso15118.evcc.main",
        namespace=veth.ns_b,
        env=evcc_env(veth.if_b, pki, tls13=False),
        workdir=tmp_path / "josev",
        args=(str(config_file),),
    )


@pytest.mark.parametrize(("config", "namespace", "energy", "authorization", "transport", "loop"), CASES)
def test_josev_legacy_evcc_against_our_secc(
    config: str,
    namespace: str,
    energy: str,
    authorization: str,
    transport: Transport,
    loop: str,
    veth: VethPair,
    josev_live: Path,
    josev_pki: JosevPki,
    iso20_identity: TlsConfig,
    tmp_path: Path,
    peer_logs: PeerLogs,
    interop_results: Any,
) -> None:
    policy = _policy(iso20_identity, josev_pki)
    assert policy.deviations(Role.SECC) == ()  # strict
    pnc = authorization == "PnC"
    secc = SeccConfig(protocols=EVERY, authorization=("EIM", "PnC") if pnc else ("EIM",))
    evse = SimpleEVSE(SimpleEVSEConfig(three_phase=True))  # Josev's AC EV charges three-phase only (L7)
    ours = OurSecc(
        veth.ns_a,
        SeccServerConfig(policy=policy, iface=veth.if_a, sdp=True),
        evse,
        secc,
        timeout=SESSION_TIMEOUT,
        pnc=_contract_checks(josev_pki) if pnc else None,
    )
    josev = _josev_evcc(josev_live, josev_pki, veth, tmp_path, config)
    peer_logs.add(josev)
    report, exit_code, took = serve_josev_evcc(ours, josev, exit_wait=20.0)

    # Our side: the negotiated generation, energy and authorization, the loop, a regular end.
    assert report is not None, f"no session from Josev's EVCC (its exit code: {josev.returncode})"
    assert report.ok, (report, report.outcome and report.outcome.failure)
    outcome = report.outcome
    assert outcome is not None and outcome.negotiation is not None
    record = outcome.negotiation
    assert (record.transport, record.chosen, record.deviation) == (transport, namespace, None)
    negotiated = outcome.negotiated
    assert negotiated["energy_mode"] == energy and negotiated["authorization"] == authorization
    assert negotiated["payment_option"] == ("Contract" if pnc else "ExternalPayment")
    if transport is Transport.TLS12:
        assert report.tls is not None and report.tls.version == "TLSv1.2" and report.tls.group == "prime256v1"
        assert report.tls.peer_subject is None  # -2: server authentication only
    else:
        assert report.tls is None
    received = ours.timeline.kinds("received")
    loops = received.count(loop)
    assert loops == outcome.loops and loops >= 1
    assert received[-1] == "SessionStopReq"
    if pnc:
        assert received[3:6] == ["PaymentServiceSelectionReq", "PaymentDetailsReq", "AuthorizationReq"]
        [details] = ours.timeline.of_kind("received", "PaymentDetailsReq")
        [authorization_req] = ours.timeline.of_kind("received", "AuthorizationReq")
        [challenge] = [r.gen_challenge for r in ours.timeline.of_kind("sent", "PaymentDetailsRes")]
        assert authorization_req.gen_challenge == challenge  # signed by Josev's contract key, verified strictly
        emaid = details.emaid
    else:
        emaid = None

    # Josev's side: every response OK, a clean exit after SessionStopRes; its loop count is its own (L8).
    assert exit_code == 0, f"Josev's EVCC exit code {exit_code}"
    log = josev.text()
    assert "SessionStopRes received" in log
    josev_msgs = logged_messages(log)
    res = [x for x in josev_msgs if x.direction == "received" and x.name.endswith("Res") and x.name[0].isupper()]
    assert res and all(x.body["ResponseCode"].startswith("OK") for x in res), [
        (x.name, x.body["ResponseCode"]) for x in res
    ]
    sent = [x.name for x in josev_msgs if x.direction == "sent"]
    assert sent.count(loop) == loops
    interop_results(
        peer="Josev EVCC 0.31.2",
        config=config,
        transport=report.tls.summary() if report.tls else "plain TCP",
        negotiated=negotiated,
        negotiation=record.describe(),
        loops=loops,
        emaid=emaid,
        josev_requests={k: received.count(k) for k in ("CableCheckReq", "PreChargeReq", "WeldingDetectionReq")},
        josev_loop_gap_s=spread(ours.timeline.loop_gaps(loop=loop)),
        run_s=round(took, 2),
    )


def test_josev_ac_evcc_leaves_a_single_phase_charger_without_session_stop(
    veth: VethPair,
    josev_live: Path,
    josev_pki: JosevPki,
    iso20_identity: TlsConfig,
    tmp_path: Path,
    peer_logs: PeerLogs,
) -> None:
    """L7: Josev's AC EV asks for AC_three_phase_core (its configuration's default); offered single-phase and DC
    it gives up after ServiceDiscoveryRes by closing the connection, without SessionStopReq."""
    ours = OurSecc(
        veth.ns_a,
        SeccServerConfig(policy=_policy(iso20_identity, josev_pki), iface=veth.if_a, sdp=True),
        SimpleEVSE(),
        SeccConfig(protocols=EVERY),
        timeout=SESSION_TIMEOUT,
    )
    josev = _josev_evcc(josev_live, josev_pki, veth, tmp_path, "iso15118_2/evcc_config_eim_ac.json")
    peer_logs.add(josev)
    report, _exit, _took = serve_josev_evcc(ours, josev, exit_wait=0.0)

    assert report is not None and report.outcome is not None
    assert report.outcome.ended.reason is EndReason.CONNECTION_LOST, report.outcome.ended
    assert ours.timeline.kinds("received") == ["supportedAppProtocolReq", "SessionSetupReq", "ServiceDiscoveryReq"]
    [offered] = ours.timeline.of_kind("sent", "ServiceDiscoveryRes")
    modes = [str(m) for m in offered.charge_service.supported_energy_transfer_mode.energy_transfer_mode]
    assert "AC_three_phase_core" not in modes
    assert "not compatible with EnergyTransferModeEnum.AC_THREE_PHASE_CORE" in josev.text()
    assert "SessionStopReq" not in josev.text()
