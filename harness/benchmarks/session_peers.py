"""The two sides of `v2g bench session`: the SECC process and the EVCC sessions (run in worker processes).

Spawned by :mod:`harness.benchmarks.session`. The SECC serves on ``::1`` until told to stop and reports the
sessions it saw; a worker warms up with one session, then runs one session per (start, stop) pair it is
sent and reports every response latency its EVCCs measured. Both preload their codecs and freeze their heap
first, as `v2g secc` and `v2g evcc` do.
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
from iso15118.config import EvccConfig
from iso15118.security.pki import PkiLayout, load_pki
from iso15118.security.profiles import Entity
from iso15118.security.tls import TlsConfig, evcc_context
from iso15118.session.events import Event, MessageSent, ResponseReceived
from iso15118.session.selection import EnergyFamily
from iso15118.simple import SimpleEV, SimpleEVSE
from iso15118.transport.evcc_client import EvccClientConfig, run_evcc
from iso15118.transport.policy import TransportPolicy
from iso15118.transport.secc_server import ConnectionReport, SeccServer, SeccServerConfig

__all__ = ["LOOP_REQUEST", "evcc_tls", "evcc_worker", "fast_evcc", "one_session", "secc_process", "secc_tls"]

LOOP_REQUEST: Final = {EnergyFamily.AC: "AC_ChargeLoopReq", EnergyFamily.DC: "DC_ChargeLoopReq"}
"""The charge-loop request of each energy family."""


def fast_evcc(energy: EnergyFamily, **fields: Any) -> EvccConfig:
    """An EV of ``energy`` that sends its next request at once: no pause between loops, nor before repeating a
    request the charger answered Ongoing (authorization, cable check, precharge, welding detection)."""
    return EvccConfig(energy=energy, loop_interval_s=0.0, authorization_retry_s=0.0, precharge_interval_s=0.0, **fields)


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
def secc_process(conn: Connection, pki_dir: str) -> None:
    """Serve on ::1 until told to stop; answer "stats" with the reports collected since the last one."""
    prepare_process()  # as `v2g secc` does
    asyncio.run(_secc_main(conn, Path(pki_dir)))


async def _secc_main(conn: Connection, pki_dir: Path) -> None:
    layout = load_pki(pki_dir)
    reports: list[ConnectionReport] = []
    config = SeccServerConfig(policy=TransportPolicy(tls=secc_tls(layout)), listen="::1")
    async with SeccServer(config, SimpleEVSE, on_report=reports.append) as server:
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

    def __init__(self) -> None:
        self.latencies: list[tuple[str, float, float]] = []
        """(request kind, response time, latency in s)."""
        self.first_sent: float | None = None

    async def observe(self, event: Event, *, role: str, peer: str) -> None:
        if isinstance(event, ResponseReceived):
            self.latencies.append((type(event.request).__name__, event.at, event.elapsed))
        elif isinstance(event, MessageSent) and self.first_sent is None:
            self.first_sent = event.at


async def one_session(
    client: EvccClientConfig, evcc: EvccConfig, stop_at: float, context: ssl.SSLContext | None = None
) -> dict[str, Any]:
    """One EVCC session until ``stop_at``: ok, problem, every response latency, handshake and first-loop times."""
    timings = _Timings()
    try:
        run = await run_evcc(client, _TimedEV(stop_at=stop_at), evcc, observers=[timings], context=context)
    except Exception as exc:  # reported, not raised: one failed session must not end the step
        return {"ok": False, "problem": f"{type(exc).__name__}: {exc}", "latencies": timings.latencies}
    loops = [at for kind, at, _ in timings.latencies if kind == LOOP_REQUEST[evcc.energy]]
    return {
        "ok": run.ok,
        "problem": None if run.ok else f"{run.outcome.ended.reason}: {run.outcome.ended.detail}",
        "latencies": timings.latencies,
        "handshake": (timings.first_sent or run.started_at) - run.started_at,
        "first_loop": (loops[0] - run.started_at) if loops else None,
    }


def evcc_worker(conn: Connection, pki_dir: str, port: int, loop_interval_s: float, energy: EnergyFamily) -> None:
    """Warm up with one session, say "ready", then run one session per (start, stop) time pair sent back."""
    prepare_process((energy,))  # as `v2g evcc` does
    layout = load_pki(Path(pki_dir))
    client = EvccClientConfig(policy=TransportPolicy(tls=evcc_tls(layout)), target=f"[::1]:{port}")
    evcc = EvccConfig(energy=energy, loop_interval_s=loop_interval_s)
    context = evcc_context(evcc_tls(layout))  # one per process, as an EV would keep it

    async def main() -> list[dict[str, Any]]:
        warm = await one_session(client, fast_evcc(energy, max_loops=1), float("inf"), context)
        gc.freeze()
        conn.send(("ready", warm["problem"]))
        plan: list[tuple[float, float]] = conn.recv()

        async def later(start_at: float, stop_at: float) -> dict[str, Any]:
            await asyncio.sleep(max(0.0, start_at - time.time()))
            return await one_session(client, evcc, stop_at, context)

        return list(await asyncio.gather(*(later(*times) for times in plan)))

    conn.send(asyncio.run(main()))
