"""Run complete sessions between a real SeccServer and run_evcc over TCP/TLS on ::1, recording both sides."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iso15118.config import EvccConfig, SeccConfig
from iso15118.controller import AuthorizationDecision
from iso15118.iso20.pnc import PncVerifier
from iso15118.security.badcerts import defective_leaf
from iso15118.security.certs import Defect
from iso15118.security.credentials import ContractCredentials
from iso15118.security.pki import Pki, PkiLayout, write_identity
from iso15118.security.profiles import Entity
from iso15118.security.tls import TlsConfig
from iso15118.session.events import Event, MessageReceived, MessageSent
from iso15118.simple import SimpleEV, SimpleEVConfig, SimpleEVSE, SimpleEVSEConfig
from iso15118.transport.evcc_client import EvccClientConfig, EvccRun, run_evcc
from iso15118.transport.policy import TransportPolicy
from iso15118.transport.secc_server import ConnectionReport, SeccServer, SeccServerConfig

TIMEOUT = 20.0


@dataclass(frozen=True)
class TestPki:
    """The session PKI and what each role takes from it."""

    __test__ = False  # a fixture value, not a test class

    layout: PkiLayout
    pki: Pki

    def secc_tls(self, **overrides: Any) -> TlsConfig:
        """SECC: its chain and key; trusts the OEM and V2G roots (vehicle certificates)."""
        files = self.layout[Entity.SECC_LEAF]
        base = TlsConfig(
            certificate_chain=files.chain_pem,
            private_key=files.key_pem,
            trust_roots=tuple(self.layout.roots(Entity.OEM_ROOT, Entity.V2G_ROOT)),
        )
        return dataclasses.replace(base, **overrides)

    def evcc_tls(self, *, vehicle_certificate: bool = True, **overrides: Any) -> TlsConfig:
        """EVCC: trusts the V2G root; presents the vehicle chain unless told not to."""
        files = self.layout[Entity.VEHICLE_LEAF]
        base = TlsConfig(trust_roots=tuple(self.layout.roots(Entity.V2G_ROOT)))
        if vehicle_certificate:
            base = dataclasses.replace(base, certificate_chain=files.chain_pem, private_key=files.key_pem)
        return dataclasses.replace(base, **overrides)

    def defective(self, defect: Defect, entity: Entity, directory: Path) -> tuple[Path, Path]:
        """Write a stand-in for ``entity`` broken in exactly the way ``defect`` names; returns (chain, key)."""
        bad = defective_leaf(self.pki, defect, entity=entity)
        return write_identity(directory, f"{entity.value}_{defect.name.lower()}", bad.issued, list(bad.intermediates))

    def pnc_verifier(self) -> PncVerifier:
        """The SECC's PnC verifier trusting the MO root."""
        return PncVerifier([self.pki[Entity.MO_ROOT].certificate])

    def contract(self) -> ContractCredentials:
        """The EV's contract credentials: the contract leaf chain and key."""
        files = self.layout[Entity.CONTRACT_LEAF]
        assert files.chain_pem is not None
        return ContractCredentials.from_pem(files.chain_pem.read_bytes(), files.key_pem.read_bytes())


class Recorder:
    """An Observer keeping every event of both roles, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Event]] = []

    async def observe(self, event: Event, *, role: str, peer: str) -> None:
        self.events.append((role, event))

    def sent(self, role: str) -> list[Any]:
        """Messages ``role`` sent."""
        return [e.message for r, e in self.events if r == role and isinstance(e, MessageSent)]

    def received(self, role: str) -> list[Any]:
        """Messages ``role`` received, decoded."""
        return [e.message for r, e in self.events if r == role and isinstance(e, MessageReceived)]

    def sent_named(self, role: str, name: str) -> list[Any]:
        """Messages of one type ``role`` sent."""
        return [m for m in self.sent(role) if type(m).__name__ == name]


class RecordingEVSE(SimpleEVSE):
    """SimpleEVSE that remembers whom it authorized (EVCCID, eMAID)."""

    authorized: list[tuple[str, str | None]]

    def __init__(self, config: SimpleEVSEConfig) -> None:
        super().__init__(config)
        self.authorized = []

    async def authorize(self, evcc_id: str, emaid: str | None, now: float) -> AuthorizationDecision:
        self.authorized.append((evcc_id, emaid))
        return await super().authorize(evcc_id, emaid, now)


@dataclass
class Run:
    """Both sides of one session over TCP/TLS."""

    evcc: EvccRun
    secc: ConnectionReport
    ev: SimpleEV
    evse: RecordingEVSE
    recorder: Recorder


def server_config(pki: TestPki, **overrides: Any) -> SeccServerConfig:
    """A strict TLS server on ::1 (any free dynamic port)."""
    values: dict[str, Any] = {"policy": TransportPolicy(tls=pki.secc_tls()), "listen": "::1"}
    values.update(overrides)
    return SeccServerConfig(**values)


def client_config(pki: TestPki, target: str, **overrides: Any) -> EvccClientConfig:
    """A strict TLS client with the vehicle certificate, connecting to ``target``."""
    values: dict[str, Any] = {"policy": TransportPolicy(tls=pki.evcc_tls()), "target": target}
    values.update(overrides)
    return EvccClientConfig(**values)


async def run_client(
    pki: TestPki,
    server: SeccServer,
    evcc: EvccConfig,
    *,
    ev: SimpleEV | None = None,
    recorder: Recorder | None = None,
    client: dict[str, Any] | None = None,
) -> tuple[EvccRun, ConnectionReport]:
    """One EVCC run against a started ``server``; returns the EVCC's run and the server's report of it."""
    assert server.endpoint is not None
    observers = [recorder] if recorder is not None else []
    run = await asyncio.wait_for(
        run_evcc(
            client_config(pki, str(server.endpoint), **(client or {})), ev or SimpleEV(), evcc, observers=observers
        ),
        TIMEOUT,
    )
    report = await asyncio.wait_for(server.next_report(), TIMEOUT)
    return run, report


async def run_session(
    pki: TestPki,
    evcc: EvccConfig,
    *,
    ev: SimpleEVConfig | None = None,
    evse: SimpleEVSEConfig | None = None,
    secc: SeccConfig | None = None,
    pnc: bool = False,
    client: dict[str, Any] | None = None,
) -> Run:
    """One session between a fresh SeccServer and run_evcc over TLS on ::1, both sides recorded."""
    rec = Recorder()
    evse_obj = RecordingEVSE(evse or SimpleEVSEConfig())
    ev_obj = SimpleEV(ev or SimpleEVConfig())
    server = SeccServer(
        server_config(pki), lambda: evse_obj, secc=secc, pnc=pki.pnc_verifier() if pnc else None, observers=[rec]
    )
    async with server:
        run, report = await run_client(pki, server, evcc, ev=ev_obj, recorder=rec, client=client)
    return Run(evcc=run, secc=report, ev=ev_obj, evse=evse_obj, recorder=rec)
