"""The two sides of `v2g bench session`: the SECC process and the EVCC sessions (run in worker processes).

Spawned by :mod:`harness.benchmarks.session`. The SECC serves on ``::1`` until told to stop and reports the
sessions it saw; a worker warms up with one session, then runs one session per (start, stop) pair it is
sent and reports every response latency its EVCCs measured. Both preload their codecs and freeze their heap
first, as `v2g secc` and `v2g evcc` do. Both ends speak one protocol: ``iso20`` over TLS 1.3 with the test PKI,
``iso2`` or ``din`` over plain TCP (what an EV using EIM asks for in SDP, and DIN's only transport).
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import ssl
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final

from harness.commands._sessions import prepare_process
from iso15118.config import EvccConfig, SeccConfig
from iso15118.constants import NS_DIN, NS_ISO2, SdpSecurity
from iso15118.profiles import PROFILES
from iso15118.security.pki import PkiLayout, load_pki
from iso15118.security.pkikinds import ISO2_PKI
from iso15118.security.profiles import Entity
from iso15118.security.tls import TlsConfig, TlsMode, evcc_context
from iso15118.session.events import Event, MessageSent, ResponseReceived
from iso15118.session.selection import EnergyFamily
from iso15118.simple import SimpleEV, SimpleEVSE
from iso15118.transport.evcc_client import EvccClientConfig, run_evcc
from iso15118.transport.policy import TransportPolicy
from iso15118.transport.secc_server import ConnectionReport, SeccServer, SeccServerConfig

__all__ = [
    "LEGACY",
    "evcc_client",
    "evcc_tls",
    "evcc_worker",
    "fast_evcc",
    "loop_request",
    "one_session",
    "secc_policy",
    "secc_process",
    "secc_tls",
]

LEGACY: Final = {"iso2": NS_ISO2, "din": NS_DIN}
"""The namespaces of the generations benchmarked over plain TCP."""
_LOOP_REQUEST: Final = {
    ("iso20", EnergyFamily.AC): "AC_ChargeLoopReq",
    ("iso20", EnergyFamily.DC): "DC_ChargeLoopReq",
    ("iso2", EnergyFamily.AC): "ChargingStatusReq",
    ("iso2", EnergyFamily.DC): "CurrentDemandReq",
    ("din", EnergyFamily.DC): "CurrentDemandReq",
}


def loop_request(protocol: str, energy: EnergyFamily) -> str:
    """The charge-loop request of a protocol and energy family."""
    return _LOOP_REQUEST[(protocol, energy)]


def fast_evcc(energy: EnergyFamily, protocol: str = "iso20", **fields: Any) -> EvccConfig:
    """An EV of ``energy`` speaking ``protocol`` that sends its next request at once: no pause between loops, nor
    before repeating a request the charger answered Ongoing (authorization, cable check, precharge, welding
    detection)."""
    fields.setdefault("loop_interval_s", 0.0)
    return EvccConfig(
        energy=energy,
        protocols=(LEGACY[protocol],) if protocol in LEGACY else None,
        authorization_retry_s=0.0,
        precharge_interval_s=0.0,
        **fields,
    )


def evcc_client(layout: PkiLayout, protocol: str, port: int) -> EvccClientConfig:
    """How the EVCC connects to ``[::1]:port``: TLS 1.3 with the PKI for -20; TLS 1.2 for -2 when the PKI is a -2
    one (the EV trusts its V2G root and asks for TLS as a -2 PnC EV would); plain TCP otherwise."""
    if protocol not in LEGACY:
        return EvccClientConfig(policy=TransportPolicy(tls=evcc_tls(layout)), target=f"[::1]:{port}")
    if protocol == "iso2" and layout.kind is ISO2_PKI:
        tls = TlsConfig(trust_roots=tuple(layout.roots(Entity.V2G_ROOT)), mode=TlsMode.ISO2)
        policy = TransportPolicy(tls=None, tls_iso2=tls)
        return EvccClientConfig(policy=policy, target=f"[::1]:{port}", security=SdpSecurity.TLS)
    return EvccClientConfig(policy=TransportPolicy(tls=None), target=f"[::1]:{port}")


def secc_policy(layout: PkiLayout, protocol: str) -> TransportPolicy:
    """The SECC's transport, as :func:`evcc_client` says."""
    if protocol not in LEGACY:
        return TransportPolicy(tls=secc_tls(layout))
    if protocol == "iso2" and layout.kind is ISO2_PKI:
        leaf = layout[Entity.SECC_LEAF]
        tls = TlsConfig(certificate_chain=leaf.chain_pem, private_key=leaf.key_pem, mode=TlsMode.ISO2)
        return TransportPolicy(tls=None, tls_iso2=tls)
    return TransportPolicy(tls=None)


def secc_tls(layout: PkiLayout) -> TlsConfig:
    """The SECC's TLS settings from a PKI: its chain, trusting the OEM and V2G roots."""
    files = layout[Entity.SECC_LEAF]
    return TlsConfig(
        certificate_chain=files.chain_pem,
        private_key=files.key_pem,
        trust_roots=tuple(layout.roots(Entity.OEM_ROOT, Entity.V2G_ROOT)),
    )


def evcc_tls(layout: PkiLayout) -> TlsConfig:
    """The EVCC's TLS settings from a PKI: the vehicle chain, trusting the V2G root."""
    files = layout[Entity.VEHICLE_LEAF]
    return TlsConfig(
        certificate_chain=files.chain_pem, private_key=files.key_pem, trust_roots=tuple(layout.roots(Entity.V2G_ROOT))
    )


# ---- the SECC process ------------------------------------------------------------------------------------
def secc_process(conn: Connection, pki_dir: str, protocol: str = "iso20") -> None:
    """Serve ``protocol`` on ::1 until told to stop; answer "stats" with the reports collected since the last
    one."""
    secc = SeccConfig(protocols=(LEGACY[protocol],)) if protocol in LEGACY else SeccConfig()
    prepare_process(secc.protocols)  # as `v2g secc` does
    asyncio.run(_secc_main(conn, Path(pki_dir), secc, protocol))


async def _secc_main(conn: Connection, pki_dir: Path, secc: SeccConfig, protocol: str) -> None:
    layout = load_pki(pki_dir)
    reports: list[ConnectionReport] = []
    config = SeccServerConfig(policy=secc_policy(layout, protocol), listen="::1")
    async with SeccServer(config, SimpleEVSE, secc=secc, on_report=reports.append) as server:
        assert server.endpoint is not None
        conn.send(("ready", server.endpoint.port))
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command == "stop":
                break
            done, reports[:] = list(reports), []
            problems = [
                f"{r.peer}: {r.error or (r.outcome.ended.detail if r.outcome else '?')}" for r in done if not r.ok
            ]
            conn.send(
                {"ok": sum(r.ok for r in done), "failed": len(done) - sum(r.ok for r in done), "problems": problems[:5]}
            )
    conn.send("stopped")


# ---- EVCC sessions ---------------------------------------------------------------------------------------
@dataclass
class _TimedEV(SimpleEV):
    """A SimpleEV that is done at ``stop_at`` (POSIX seconds)."""

    stop_at: float = 0.0

    async def ev_state(self, now: float) -> Any:
        state = await super().ev_state(now)
        return dataclasses.replace(state, finished=state.finished or now >= self.stop_at)


class _Timings:
    """Observer: every response's latency (as the EVCC measured it) and when the first message went out."""

    def __init__(self, namespace: str) -> None:
        self.latencies: list[tuple[str, float, float]] = []
        """(request kind, response time, latency in s)."""
        self.first_sent: float | None = None
        self.profile = PROFILES[namespace]

    async def observe(self, event: Event, *, role: str, peer: str) -> None:
        if isinstance(event, ResponseReceived):
            kind = self.profile.kind_of(event.request)
            name = str(kind) if kind is not None else type(event.request).__name__
            self.latencies.append((name, event.at, event.elapsed))
        elif isinstance(event, MessageSent) and self.first_sent is None:
            self.first_sent = event.at


async def one_session(
    client: EvccClientConfig, evcc: EvccConfig, stop_at: float, context: ssl.SSLContext | None = None
) -> dict[str, Any]:
    """One EVCC session until ``stop_at``: ok, problem, every response latency, handshake and first-loop times."""
    timings = _Timings(evcc.offered_protocols[0])
    loop_kinds = set(_LOOP_REQUEST.values())
    try:
        run = await run_evcc(client, _TimedEV(stop_at=stop_at), evcc, observers=[timings], context=context)
    except Exception as exc:  # reported, not raised: one failed session must not end the step
        return {"ok": False, "problem": f"{type(exc).__name__}: {exc}", "latencies": timings.latencies}
    loops = [at for kind, at, _ in timings.latencies if kind in loop_kinds]
    return {
        "ok": run.ok,
        "problem": None if run.ok else f"{run.outcome.ended.reason}: {run.outcome.ended.detail}",
        "latencies": timings.latencies,
        "handshake": (timings.first_sent or run.started_at) - run.started_at,
        "first_loop": (loops[0] - run.started_at) if loops else None,
    }


def evcc_worker(
    conn: Connection, pki_dir: str, port: int, loop_interval_s: float, energy: EnergyFamily, protocol: str = "iso20"
) -> None:
    """Warm up with one session, say "ready", then run one session per (start, stop) time pair sent back."""
    layout = load_pki(Path(pki_dir))
    client = evcc_client(layout, protocol, port)
    protocols = (LEGACY[protocol],) if protocol in LEGACY else None
    evcc = EvccConfig(energy=energy, protocols=protocols, loop_interval_s=loop_interval_s)
    prepare_process(evcc.offered_protocols)  # as `v2g evcc` does
    # one TLS context per process, as an EV would keep it
    context = evcc_context(evcc_tls(layout)) if protocol not in LEGACY else None

    async def main() -> list[dict[str, Any]]:
        warm = await one_session(client, fast_evcc(energy, protocol, max_loops=1), float("inf"), context)
        gc.freeze()
        conn.send(("ready", warm["problem"]))
        plan: list[tuple[float, float]] = conn.recv()

        async def later(start_at: float, stop_at: float) -> dict[str, Any]:
            await asyncio.sleep(max(0.0, start_at - time.time()))
            return await one_session(client, evcc, stop_at, context)

        return list(await asyncio.gather(*(later(*times) for times in plan)))

    conn.send(asyncio.run(main()))
