"""Complete strict sessions (SeccServer and run_evcc over TLS 1.3 on ::1) with the trust `v2g secc --pki` sets up:
a charger's SECC or CPS certificate offered as the vehicle's gets no session, the refusal names the peer; and the
EVCCID the EV sends is its vehicle certificate's CN."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from harness.config import load_evcc_settings, load_secc_settings
from iso15118.config import EvccConfig
from iso15118.errors import SecurityError
from iso15118.security.certs import ChainValidationError, Defect
from iso15118.security.identity import certificate_identity
from iso15118.security.pki import init_pki, read_pki
from iso15118.security.profiles import DEFAULT_EVCCID, SECC_ANCHORS, VEHICLE_ANCHORS, Entity
from iso15118.simple import SimpleEV, SimpleEVSEConfig
from iso15118.transport.evcc_client import EvccClientConfig, run_evcc
from iso15118.transport.policy import TransportPolicy
from iso15118.transport.secc_server import SeccServer
from tests.transport_session.helpers import TIMEOUT, RecordingEVSE, TestPki, run_client, server_config

from .conftest import PkiFixture

pytestmark = pytest.mark.timeout(90)

FAST = EvccConfig(max_loops=2, loop_interval_s=0.0)


@pytest.fixture
def pki(test_pkis: dict[str, PkiFixture]) -> TestPki:
    fixture = test_pkis["secp521r1"]
    return TestPki(layout=fixture.layout, pki=fixture.pki)


def _secc_settings(pki: TestPki, **tls: object) -> TransportPolicy:
    """The SECC's transport policy as `v2g secc --pki DIR` derives it (plus [tls] keys)."""
    settings = load_secc_settings(None, {"runtime": {"listen": "::1", "pki": pki.layout.directory}, "tls": tls})
    return settings.server.policy


def test_v2g_secc_trusts_only_the_vehicle_anchors(pki: TestPki) -> None:
    policy = _secc_settings(pki)
    assert policy.tls is not None and policy.tls.trust_roots == tuple(pki.layout.roots(*VEHICLE_ANCHORS))
    assert pki.layout[Entity.V2G_ROOT].cert_pem not in policy.tls.trust_roots
    evcc = load_evcc_settings(None, {"runtime": {"target": "[::1]:15118", "pki": pki.layout.directory}})
    assert evcc.client.policy.tls is not None
    assert evcc.client.policy.tls.trust_roots == tuple(pki.layout.roots(*SECC_ANCHORS))


@pytest.mark.asyncio
@pytest.mark.parametrize("trust", ["v2g-secc-pki", "with-v2g-root"])
@pytest.mark.parametrize("entity", [Entity.SECC_LEAF, Entity.CPS_LEAF], ids=lambda e: e.value)
async def test_a_charger_certificate_gets_no_session_as_a_vehicle(pki: TestPki, entity: Entity, trust: str) -> None:
    roots = [str(p) for p in pki.layout.roots(*VEHICLE_ANCHORS, Entity.V2G_ROOT)]
    policy = _secc_settings(pki, trust_roots=roots) if trust == "with-v2g-root" else _secc_settings(pki)
    offered = pki.layout[entity]
    evse = RecordingEVSE(SimpleEVSEConfig())
    async with SeccServer(dataclasses.replace(server_config(pki), policy=policy), lambda: evse) as server:
        impostor = EvccClientConfig(
            policy=TransportPolicy(tls=pki.evcc_tls(certificate_chain=offered.chain_pem, private_key=offered.key_pem)),
            target=str(server.endpoint),
        )
        try:
            run = await asyncio.wait_for(run_evcc(impostor, SimpleEV(), FAST), TIMEOUT)
        except SecurityError:
            pass  # refused during the handshake: the SECC's alert ends the EV's TLS connection
        else:  # refused by the role check after the handshake: the SECC closes before any message
            assert not run.ok and run.outcome.loops == 0 and "service_id" not in run.outcome.negotiated
        report = await asyncio.wait_for(server.next_report(), TIMEOUT)
        assert report.outcome is None and not report.ok
        error = report.error
        assert isinstance(error, ChainValidationError) and error.defect is Defect.WRONG_ROLE
        assert error.subject == pki.pki[entity].certificate.subject.rfc4514_string()
        assert error.reason.startswith("wrong role: not a vehicle certificate: its domainComponent")
        assert evse.authorized == []
        # The same server still serves a car.
        run, report = await run_client(pki, server, FAST)
        assert run.ok and report.ok


def test_the_evccid_comes_from_the_vehicle_certificate(tmp_path: Path) -> None:
    now = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).replace(microsecond=0)
    layout = init_pki(tmp_path / "pki", now=now, evccid="MYCAR0001")
    runtime = {"target": "[::1]:15118", "pki": layout.directory}
    assert load_evcc_settings(None, {"runtime": runtime}).evcc.evcc_id == "MYCAR0001"
    explicit = load_evcc_settings(None, {"runtime": runtime, "evcc": {"evcc_id": "WMIV1234567890ABCDEX"}})
    assert explicit.evcc.evcc_id == "WMIV1234567890ABCDEX"
    no_certificate = load_evcc_settings(None, {"runtime": runtime | {"vehicle_certificate": False}})
    assert no_certificate.evcc.evcc_id == DEFAULT_EVCCID == EvccConfig().evcc_id
    assert "EVCCID: the vehicle leaf's CN `MYCAR0001`" in layout.readme.read_text()


@pytest.mark.asyncio
async def test_the_secc_sees_the_evccid_of_the_vehicle_certificate(tmp_path: Path) -> None:
    now = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).replace(microsecond=0)
    layout = init_pki(tmp_path / "pki", now=now, evccid="MYCAR0001")
    pki = TestPki(layout=layout, pki=read_pki(layout))
    evse = RecordingEVSE(SimpleEVSEConfig())
    async with SeccServer(dataclasses.replace(server_config(pki), policy=_secc_settings(pki)), lambda: evse) as server:
        settings = load_evcc_settings(None, {"runtime": {"target": str(server.endpoint), "pki": layout.directory}})
        evcc = dataclasses.replace(settings.evcc, max_loops=1, loop_interval_s=0.0)
        run = await asyncio.wait_for(run_evcc(settings.client, SimpleEV(), evcc), TIMEOUT)
        report = await asyncio.wait_for(server.next_report(), TIMEOUT)
    assert run.ok and report.ok and report.tls is not None and report.tls.peer_certificate is not None
    [(evcc_id, _)] = evse.authorized
    assert evcc_id == "MYCAR0001" == certificate_identity(report.tls.peer_certificate).common_name
