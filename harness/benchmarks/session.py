"""`v2g bench session`: sessions over TCP + TLS 1.3 on ::1 with a fresh test PKI, timed from the EVCC side.

``--energy ac`` (AC_BPT sessions) or ``dc`` (DC_BPT sessions: cable check, precharge and welding detection
around the loop, on the simple EVSE's DC output). ``--protocol iso2`` runs ISO 15118-2 sessions instead (AC:
the ChargingStatus loop; DC: CurrentDemand), ``--protocol din`` DIN 70121 DC sessions (CurrentDemand, the loop
whose deadline is DIN's tightest), both over plain TCP (what an EIM EV asks for in SDP; DIN has no TLS), EIM,
both ends offering that one protocol. Three figures, XX_ChargeLoop below being the protocol's loop message:

(a) connect -> first XX_ChargeLoopRes: from the EVCC's TCP connect to the first charge-loop response it
    receives (TCP, TLS 1.3 handshake with both certificates, SupportedAppProtocol ... PowerDelivery, first
    loop). The first session of the fresh processes is reported separately; the median and p90 are over the
    sessions after it, run one after the other. Every process preloads its codecs and freezes its heap first,
    as `v2g secc` and `v2g evcc` do (:func:`harness.commands._sessions.prepare_process`). The EV repeats a
    request the charger answered Ongoing (DC: the cable check twice, precharge while the voltage ramps) at once
    here, so the figure is the protocol's and the stack's time, not the EV's pauses between repeats.
(b) charge-loop round trip: XX_ChargeLoopReq sent -> XX_ChargeLoopRes received, back to back in one session.
(c) capacity: how many concurrent sessions ONE SECC process serves with every response (every message of the
    session, set-up included) inside 100 ms. The SECC runs in its own process; the EVCCs run in worker
    processes, so CPU accounting stays apart. Each step starts N sessions at a paced connect rate, keeps them
    all in the charge loop (one XX_ChargeLoopReq per ``loop_interval`` per session) for a measurement window,
    then stops them all (DC: with welding detection). The EVs keep their default pauses between repeated
    requests here. A step passes when every session ended regularly and every response latency
    (measured by the EVCC: request sent -> response received) stayed below the limit. The ramp stops at the
    first failing step; the capacity is the largest passing N.

Latencies measured at the EVCC include the EVCC process's own scheduling delay; the CPU use of the SECC and
of the workers during each window is printed next to the figures so that the bottleneck is visible.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from harness.benchmarks.session_peers import (
    LEGACY,
    evcc_client,
    evcc_worker,
    fast_evcc,
    loop_request,
    one_session,
    secc_process,
)
from harness.commands._sessions import prepare_process
from iso15118.security.pki import PkiLayout, init_pki
from iso15118.session.selection import EnergyFamily
from iso15118.transport.generations import STANDARD_NAMES, Standard

__all__ = ["BenchSettings", "SessionFigures", "StepFigures", "format_figures", "run_from_args", "run_session_bench"]

_SPAWN = multiprocessing.get_context("spawn")
_WAIT = 120.0


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchSettings:
    """What the benchmark runs."""

    algorithm: str = "secp521r1"
    energy: EnergyFamily = EnergyFamily.AC
    """AC: AC_BPT sessions; DC: DC_BPT sessions (-20; -2: AC or DC; DIN: DC only)."""
    protocol: str = "iso20"
    """iso20 (TLS 1.3), iso2 or din (plain TCP)."""
    tls12: bool = False
    """iso2: over TLS 1.2 with a -2 test PKI instead of plain TCP."""
    warm_sessions: int = 10
    """Sessions for figure (a)."""
    round_trips: int = 200
    """Charge loops for figure (b)."""
    steps: tuple[int, ...] = (50, 100, 200, 300, 400, 500, 600, 800)
    """Concurrent sessions per capacity step (figure (c)); empty: skip (c)."""
    loop_interval_s: float = 0.1
    """Pause between charge-loop requests of one session (the EVCC's default)."""
    connect_rate: float = 50.0
    """New sessions per second while ramping up a step."""
    window_s: float = 5.0
    """Measurement window with every session of the step in its charge loop."""
    limit_ms: float = 100.0
    workers: int = 2
    """EVCC worker processes."""


@dataclass(frozen=True)
class StepFigures:
    """One capacity step."""

    sessions: int
    ok: int
    responses: int
    over_limit: int
    max_ms: float
    max_setup_ms: float
    loop_p50_ms: float
    loop_p90_ms: float
    loop_p99_ms: float
    loop_max_ms: float
    handshake_p50_ms: float
    handshake_max_ms: float
    secc_cpu_pct: float | None
    workers_cpu_pct: float | None
    passed: bool
    slowest: str = ""
    """The slowest response: request kind, latency, seconds after the step started."""
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SessionFigures:
    """The whole benchmark."""

    algorithm: str
    energy: str
    cpus: int
    first_loop_first_ms: float
    first_loop_p50_ms: float
    first_loop_p90_ms: float
    loop_rtt_p50_ms: float
    loop_rtt_p90_ms: float
    loop_interval_s: float
    connect_rate: float
    window_s: float
    limit_ms: float
    workers: int
    steps: list[StepFigures]
    capacity: int | None
    """Largest N whose step passed (None: no step ran or none passed)."""
    protocol: str = "iso20"
    transport: str = ""
    """What the -2 and DIN sessions ran over (plain TCP, TLS 1.2); the -20 ones always run over TLS 1.3."""
    loop_message: str = ""
    """The charge-loop request timed (AC_ChargeLoopReq, ChargingStatusReq, CurrentDemandReq...; empty: the -20
    one of ``energy``)."""


def _cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- (a) and (b) from this process -----------------------------------------------------------------------
async def _sequential(layout: PkiLayout, port: int, settings: BenchSettings) -> tuple[list[float], list[float]]:
    protocol = settings.protocol
    client = evcc_client(layout, protocol, port)
    first_loops: list[float] = []
    energy = settings.energy
    for _ in range(settings.warm_sessions + 1):
        result = await one_session(client, fast_evcc(energy, protocol, max_loops=1), float("inf"))
        if not result["ok"] or result["first_loop"] is None:
            raise RuntimeError(f"a benchmark session failed: {result['problem']}")
        first_loops.append(result["first_loop"])
    result = await one_session(client, fast_evcc(energy, protocol, max_loops=settings.round_trips), float("inf"))
    if not result["ok"]:
        raise RuntimeError(f"a benchmark session failed: {result['problem']}")
    rtts = [lat for kind, _, lat in result["latencies"] if kind == loop_request(protocol, energy)]
    return first_loops, rtts


# ---- (c) -------------------------------------------------------------------------------------------------
def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _start_workers(pki_dir: str, port: int, settings: BenchSettings) -> list[tuple[Any, Connection]]:
    procs: list[tuple[Any, Connection]] = []
    for _ in range(settings.workers):
        parent, child = _SPAWN.Pipe()
        proc = _SPAWN.Process(
            target=evcc_worker,
            args=(child, pki_dir, port, settings.loop_interval_s, settings.energy, settings.protocol),
            daemon=True,
        )
        proc.start()
        procs.append((proc, parent))
    for _proc, parent in procs:
        if not parent.poll(_WAIT):
            raise RuntimeError("an EVCC worker did not start")
        _, problem = parent.recv()
        if problem is not None:
            raise RuntimeError(f"an EVCC worker's warm-up session failed: {problem}")
    return procs


def _step(pki_dir: str, port: int, secc: Any, secc_pid: int, n: int, settings: BenchSettings) -> StepFigures:
    procs = _start_workers(pki_dir, port, settings)
    try:
        secc.send("stats")
        secc.recv()  # forget the warm-up sessions
        # Sessions start (and later stop) one by one at the connect rate; in between all N are in the loop.
        spacing = 1.0 / settings.connect_rate
        t0 = time.time() + 0.2
        window_start = t0 + n * spacing + 1.0
        window_end = window_start + settings.window_s
        plan = [(t0 + i * spacing, window_end + i * spacing) for i in range(n)]
        for w, (_, parent) in enumerate(procs):
            parent.send(plan[w :: settings.workers])
        time.sleep(max(0.0, window_start - time.time()))
        cpu0 = [_cpu_seconds(secc_pid), *(_cpu_seconds(p.pid or 0) for p, _ in procs)]
        wall0 = time.time()
        time.sleep(max(0.0, window_end - time.time()))
        cpu1 = [_cpu_seconds(secc_pid), *(_cpu_seconds(p.pid or 0) for p, _ in procs)]
        wall = time.time() - wall0
        results: list[dict[str, Any]] = []
        for proc, parent in procs:
            if not parent.poll(_WAIT + n * spacing):
                raise RuntimeError("an EVCC worker did not report back")
            results.extend(parent.recv())
            proc.join(10)
    finally:
        for proc, _ in procs:
            if proc.is_alive():
                proc.kill()
    secc.send("stats")
    served = secc.recv()

    def pct(i: int) -> float | None:
        if any(c is None for c in (cpu0[i], cpu1[i])):
            return None
        return 100.0 * (cpu1[i] - cpu0[i]) / wall  # type: ignore[operator]

    worker_pcts = [pct(i) for i in range(1, len(cpu0))]
    loop_kind = loop_request(settings.protocol, settings.energy)
    latencies = [lat for r in results for _, _, lat in r["latencies"]]
    setup = [lat for r in results for kind, _, lat in r["latencies"] if kind != loop_kind]
    loops = [
        lat
        for r in results
        for kind, at, lat in r["latencies"]
        if kind == loop_kind and window_start <= at <= window_end
    ]
    handshakes = [r["handshake"] for r in results if r.get("handshake") is not None]
    every = [(lat, kind, at) for r in results for kind, at, lat in r["latencies"]]
    worst = max(every, default=None)
    slowest = f"{worst[1]} {1000 * worst[0]:.1f} ms at +{worst[2] - t0:.1f} s" if worst else ""
    limit = settings.limit_ms / 1000.0
    over = sum(lat >= limit for lat in latencies)
    ok = sum(bool(r["ok"]) for r in results)
    problems = [str(r["problem"]) for r in results if not r["ok"]][:3] + list(served["problems"])[:2]
    return StepFigures(
        sessions=n,
        ok=ok,
        responses=len(latencies),
        over_limit=over,
        max_ms=1000 * max(latencies, default=float("nan")),
        max_setup_ms=1000 * max(setup, default=float("nan")),
        loop_p50_ms=1000 * _percentile(loops, 0.5),
        loop_p90_ms=1000 * _percentile(loops, 0.9),
        loop_p99_ms=1000 * _percentile(loops, 0.99),
        loop_max_ms=1000 * max(loops, default=float("nan")),
        handshake_p50_ms=1000 * _percentile(handshakes, 0.5),
        handshake_max_ms=1000 * max(handshakes, default=float("nan")),
        secc_cpu_pct=pct(0),
        workers_cpu_pct=None if any(p is None for p in worker_pcts) else sum(p or 0.0 for p in worker_pcts),
        passed=ok == n and over == 0 and served["failed"] == 0,
        slowest=slowest,
        problems=problems,
    )


def run_session_bench(settings: BenchSettings, *, progress: Any = None) -> SessionFigures:
    """Run (a), (b) and (c) and return the figures; ``progress(text)`` is called after each step."""
    prepare_process(fast_evcc(settings.energy, settings.protocol).offered_protocols)
    with tempfile.TemporaryDirectory(prefix="v2g-bench-") as tmp:
        if settings.tls12:
            layout = init_pki(Path(tmp) / "pki", kind="iso2")
        else:
            layout = init_pki(Path(tmp) / "pki", algorithm=settings.algorithm)  # type: ignore[arg-type]
        pki_dir = str(layout.directory)
        secc, child = _SPAWN.Pipe()
        proc = _SPAWN.Process(target=secc_process, args=(child, pki_dir, settings.protocol), daemon=True)
        proc.start()
        try:
            if not secc.poll(_WAIT):
                raise RuntimeError("the SECC process did not start")
            _, port = secc.recv()
            first_loops, rtts = asyncio.run(_sequential(layout, port, settings))
            secc.send("stats")
            secc.recv()
            steps: list[StepFigures] = []
            for n in settings.steps:
                step = _step(pki_dir, port, secc, proc.pid or 0, n, settings)
                steps.append(step)
                if progress is not None:
                    progress(format_step(step))
                if not step.passed:
                    break
            secc.send("stop")
            secc.poll(_WAIT)
        finally:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
    warm = first_loops[1:]
    passed = [s.sessions for s in steps if s.passed]
    return SessionFigures(
        algorithm=settings.algorithm,
        energy=str(settings.energy),
        cpus=os.cpu_count() or 0,
        protocol=settings.protocol,
        transport="TLS 1.2 (secp256r1, server authentication)" if settings.tls12 else "plain TCP",
        loop_message=loop_request(settings.protocol, settings.energy),
        first_loop_first_ms=1000 * first_loops[0],
        first_loop_p50_ms=1000 * statistics.median(warm),
        first_loop_p90_ms=1000 * _percentile(warm, 0.9),
        loop_rtt_p50_ms=1000 * statistics.median(rtts),
        loop_rtt_p90_ms=1000 * _percentile(rtts, 0.9),
        loop_interval_s=settings.loop_interval_s,
        connect_rate=settings.connect_rate,
        window_s=settings.window_s,
        limit_ms=settings.limit_ms,
        workers=settings.workers,
        steps=steps,
        capacity=max(passed) if passed else None,
    )


# ---- output ----------------------------------------------------------------------------------------------
def _pct(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f}%"


def format_step(step: StepFigures) -> str:
    """One line per capacity step."""
    verdict = "PASS" if step.passed else "FAIL"
    line = (
        f"  N={step.sessions:4d} {verdict}: {step.ok}/{step.sessions} ok, {step.responses} responses, "
        f"{step.over_limit} >= limit, max {step.max_ms:.1f} ms (set-up max {step.max_setup_ms:.1f}); loop "
        f"p50 {step.loop_p50_ms:.1f} p90 {step.loop_p90_ms:.1f} p99 {step.loop_p99_ms:.1f} max "
        f"{step.loop_max_ms:.1f} ms; TLS+TCP p50 {step.handshake_p50_ms:.0f} max {step.handshake_max_ms:.0f} ms; "
        f"CPU SECC {_pct(step.secc_cpu_pct)} EVCC workers {_pct(step.workers_cpu_pct)}; slowest {step.slowest}"
    )
    if step.problems:
        line += "\n      " + "\n      ".join(step.problems)
    return line


def format_figures(figures: SessionFigures) -> str:
    """The figures as text."""
    if figures.protocol in LEGACY:
        name = STANDARD_NAMES[Standard(figures.protocol)]
        what = f"{name} {figures.energy} sessions (EIM), {figures.transport or 'plain TCP'} on ::1"
    else:
        what = f"{figures.energy}_BPT sessions, TLS 1.3 on ::1, test PKI {figures.algorithm}"
    request = figures.loop_message or f"{figures.energy}_ChargeLoopReq"
    response = request.removesuffix("Req") + "Res"
    lines = [
        f"v2g bench session: {what}, {figures.cpus} CPUs",
        f"(a) connect -> first {response}: first session {figures.first_loop_first_ms:.1f} ms; "
        f"then median {figures.first_loop_p50_ms:.1f} ms, p90 {figures.first_loop_p90_ms:.1f} ms",
        f"(b) charge-loop round trip ({request} -> {response}): median {figures.loop_rtt_p50_ms:.2f} "
        f"ms, p90 {figures.loop_rtt_p90_ms:.2f} ms",
        f"(c) concurrent sessions with every response < {figures.limit_ms:g} ms (one SECC process; "
        f"{figures.workers} EVCC processes; a loop request every {figures.loop_interval_s:g} s per session; "
        f"{figures.connect_rate:g} connects/s; {figures.window_s:g} s window):",
        *(format_step(s) for s in figures.steps),
        f"    capacity: {figures.capacity if figures.capacity is not None else 'none of the steps passed'}",
    ]
    if not figures.steps:
        lines[-2:] = ["(c) skipped (no --steps)"]
    return "\n".join(lines)


# ---- command line ----------------------------------------------------------------------------------------
def settings_from_args(args: argparse.Namespace) -> BenchSettings:
    """The settings of `v2g bench session`; ValueError names a bad option."""
    try:
        steps = tuple(int(x) for x in str(args.steps).split(",") if x.strip())  # "" skips (c)
    except ValueError:
        raise ValueError(f"--steps must be comma-separated integers, got {args.steps!r}") from None
    checks = [
        (all(n > 0 for n in steps), f"--steps must be positive, got {args.steps!r}"),
        (args.loop_interval >= 0, "--loop-interval must be >= 0"),
        (args.connect_rate > 0, "--connect-rate must be > 0"),
        (args.window > 0, "--window must be > 0"),
        (args.limit_ms > 0, "--limit-ms must be > 0"),
        (args.workers >= 1, "--workers must be >= 1"),
        (args.sessions >= 1, "--sessions must be >= 1"),
        (args.round_trips >= 1, "--round-trips must be >= 1"),
        (args.protocol != "din" or args.energy == "dc", "--protocol din: DIN 70121 is DC only (--energy dc)"),
        (
            args.protocol == "iso2" or not args.tls12,
            "--tls12 is for --protocol iso2 (-20 runs over TLS 1.3, DIN over TCP)",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)
    return BenchSettings(
        algorithm=args.algorithm,
        energy=EnergyFamily(args.energy.upper()),
        protocol=args.protocol,
        tls12=args.tls12,
        warm_sessions=args.sessions,
        round_trips=args.round_trips,
        steps=steps,
        loop_interval_s=args.loop_interval,
        connect_rate=args.connect_rate,
        window_s=args.window,
        limit_ms=args.limit_ms,
        workers=args.workers,
    )


def run_from_args(args: argparse.Namespace) -> int:
    """`v2g bench session`: run, print the figures (steps as they finish, on stderr), return 0."""
    settings = settings_from_args(args)
    figures = run_session_bench(settings, progress=None if args.json else lambda text: print(text, file=sys.stderr))
    print(json.dumps(dataclasses.asdict(figures), indent=2) if args.json else format_figures(figures))
    return 0
