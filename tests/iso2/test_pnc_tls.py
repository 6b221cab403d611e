"""ISO 15118-2 Plug & Charge over TLS 1.2 on ::1: the transport's TLS link (``accept_connection`` / ``connect``,
:attr:`~iso15118.security.tls.TlsMode.ISO2`: TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 on secp256r1, server
authentication only, the SECC's -2 certificate checked by the EV) carrying sessions between the runner's SECC
(``serve_secc_session``) and EVCC (``run_evcc_session``), with the secp256r1 PKI of ``v2g pki init --profile iso2``:
AC and DC with the contract of the PKI directory, and a CertificateInstallation followed by PnC in the same
session.

SeccServer and run_evcc are not used here: their TransportPolicy has one TLS identity and forces it to the -20
modes (``TransportPolicy.tls_config``), so on this branch they cannot serve -2 over TLS 1.2; the per-generation
transport (``TransportPolicy.tls_iso2``) is the negotiation work's. Everything below the policy is the same code.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from iso15118.iso2.pnc import Iso2Pnc
from iso15118.security.iso2_cps import ContractCertificatePool
from iso15118.security.iso2_credentials import iso2_contract, iso2_provisioning
from iso15118.security.pki import PkiLayout, read_pki
from iso15118.security.profiles import Entity
from iso15118.security.provider import LocalCps
from iso15118.security.tls import TlsConfig, TlsMode, evcc_context, secc_context
from iso15118.session.events import EndReason
from iso15118.session.selection import EnergyFamily
from iso15118.simple import SimpleEV, SimpleEVSE
from iso15118.transport.driver import SessionOutcome
from iso15118.transport.endpoints import make_endpoint
from iso15118.transport.runner import peer_identity, run_evcc_session, serve_secc_session
from iso15118.transport.tcp import TcpLink, accept_connection, connect
from tests.iso2.pncsupport import pnc_evcc, pnc_secc
from tests.support.netns import ipv6_loopback

pytestmark = pytest.mark.skipif(not ipv6_loopback(), reason="needs an IPv6 loopback (::1)")

TIMEOUT = 30.0


@dataclass
class _Served:
    link: TcpLink | None = None
    outcome: SessionOutcome | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


async def _session(layout: PkiLayout, config: Any, evse: SimpleEVSE) -> tuple[TcpLink, SessionOutcome, _Served]:
    pki = read_pki(layout)
    checks = Iso2Pnc(contract_roots=(pki[Entity.MO_ROOT].certificate,))
    cps = LocalCps(iso2=ContractCertificatePool.from_pki(pki))
    leaf = layout[Entity.SECC_LEAF]
    assert leaf.chain_pem is not None
    server_tls = secc_context(TlsConfig(certificate_chain=leaf.chain_pem, private_key=leaf.key_pem, mode=TlsMode.ISO2))
    client_tls = evcc_context(TlsConfig(trust_roots=tuple(layout.roots(Entity.V2G_ROOT)), mode=TlsMode.ISO2))
    served = _Served()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            link = await accept_connection(reader, writer, server_tls, mode=TlsMode.ISO2, clock=time.time)
            served.link = link
            peer = peer_identity(link.peer, link.tls)
            served.outcome = await serve_secc_session(
                link, evse, pnc_secc(receipt_required=True), pnc=checks, peer=peer, certificates=cps
            )
        finally:
            served.done.set()

    server = await asyncio.start_server(handle, "::1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        link = await connect(make_endpoint("::1", port), client_tls, mode=TlsMode.ISO2, clock=time.time)
        outcome = await asyncio.wait_for(run_evcc_session(link, SimpleEV(), config), TIMEOUT)
        await link.close()
        await asyncio.wait_for(served.done.wait(), TIMEOUT)
    finally:
        server.close()
        await server.wait_closed()
    return link, outcome, served


def _over_tls12(link: TcpLink, outcome: SessionOutcome, served: _Served) -> SessionOutcome:
    charger = served.outcome
    assert outcome.ok and charger is not None and charger.ok, (outcome, charger)
    assert served.link is not None and link.tls is not None and served.link.tls is not None
    for info in (link.tls, served.link.tls):
        assert info.version == "TLSv1.2" and info.cipher == "ECDHE-ECDSA-AES128-SHA256"
    assert link.tls.peer_key == "secp256r1" and served.link.tls.peer_certificate is None  # -2: no vehicle certificate
    assert charger.ended.reason is EndReason.TERMINATED
    for side in (outcome, charger):
        assert side.negotiated["protocol_name"] == "ISO 15118-2" and side.negotiated["authorization"] == "PnC"
    return charger


@pytest.mark.asyncio
@pytest.mark.parametrize("family", [EnergyFamily.AC, EnergyFamily.DC])
async def test_a_pnc_session_over_tls12(iso2_pki_dir: PkiLayout, family: EnergyFamily) -> None:
    evse = SimpleEVSE()
    config = pnc_evcc(credentials=iso2_contract(iso2_pki_dir.directory), energy=family, precharge_interval_s=0.0)
    link, outcome, served = await _session(iso2_pki_dir, config, evse)
    _over_tls12(link, outcome, served)
    assert outcome.negotiated["energy_mode"] == str(family) and outcome.loops == 3
    assert outcome.negotiated["metering_receipts"] == 3 and evse.charged_wh > 0


@pytest.mark.asyncio
async def test_certificate_installation_then_pnc_over_tls12(iso2_pki_dir: PkiLayout) -> None:
    config = pnc_evcc(provisioning=iso2_provisioning(iso2_pki_dir.directory))
    link, outcome, served = await _session(iso2_pki_dir, config, SimpleEVSE())
    _over_tls12(link, outcome, served)
    assert outcome.negotiated["contract_installed"] == read_pki(iso2_pki_dir).identities.emaid
