"""`v2g secc`: run an ISO 15118-20 SECC (charger) with the simple EVSE controller.

Listens on the interface's link-local address (or ``--listen``) over TLS 1.3, answers SDP on the interface,
serves every EV that connects, and prints one line per session. Lines about refused or failed connections
are rate-limited per peer address; what is held back is counted and summarised once a minute at most.
``--protocols`` and ``--energy`` say what it offers (-20 AC and DC by default; DC runs on the simple EVSE's DC
output). ``--once`` stops after the first connection and exits 0 when its session ended regularly and did what
was asked, 1 otherwise. Without ``--once`` it serves until SIGINT/SIGTERM and exits 1 if any connection failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys

from harness.commands._cp import add_cp_option, secc_pilot
from harness.commands._sessions import (
    add_common_options,
    auth_name,
    common_overrides,
    observers,
    prepare_process,
    summary,
)
from harness.config import SeccSettings, load_secc_settings
from harness.protocols import check_energies, family_of, split_names
from iso15118.config import PRICING
from iso15118.iso20.pnc import PncVerifier
from iso15118.session.connection import Role
from iso15118.simple import SimpleEVSE
from iso15118.transport.peerlog import PeerRateLimiter, Suppressed
from iso15118.transport.secc_server import ConnectionReport, SeccServer

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``secc`` command."""
    parser = subparsers.add_parser(
        "secc",
        help="run an ISO 15118-20 SECC (charger) over TCP/TLS with SDP",
        description="Serve EVs over TLS 1.3 on IFACE's link-local address (or --listen), announce the port "
        "with SDP, and print one summary line per session. Exit code 0: every session ended regularly and did "
        "what was asked (with --once: the one session); 1: one did not, or an error; 2: bad usage.",
    )
    add_common_options(parser)
    parser.add_argument(
        "--protocols",
        type=split_names,
        metavar="P[,P...]",
        help="protocols offered: iso20 (default); iso2 and din are not implemented yet",
    )
    parser.add_argument(
        "--energy",
        type=split_names,
        metavar="ac,dc",
        help="energy families offered: the -20 AC and/or DC namespace and their services (default: the "
        "persona's [secc] protocols, both)",
    )
    parser.add_argument("--listen", metavar="ADDR", help="IPv6 address to listen on (::1, ::, fe80::1%%eth1)")
    parser.add_argument("--port", type=int, metavar="N", help="TCP port (default: a free port in 49152-65535)")
    parser.add_argument("--auth", type=auth_name, nargs="+", metavar="eim|pnc", help="authorization offered")
    parser.add_argument(
        "--control", choices=("scheduled", "dynamic"), nargs="+", help="control modes offered (default: both)"
    )
    parser.add_argument(
        "--pricing",
        choices=tuple(PRICING),
        help="price information offered: none (default) or price_levels (Pricing=2 and a flat PriceLevelSchedule)",
    )
    parser.add_argument("--once", action="store_true", default=None, help="serve one connection, then exit")
    parser.add_argument("--no-sdp", dest="sdp", action="store_false", default=None, help="do not answer SDP")
    parser.add_argument("--sdp-port", type=int, metavar="N", help="SDP UDP port (default 15118; for tests)")
    add_cp_option(parser, "secc")
    parser.set_defaults(func=_run)


def _settings(args: argparse.Namespace) -> SeccSettings:
    runtime = common_overrides(args) | {
        "listen": args.listen,
        "port": args.port,
        "once": args.once,
        "sdp": args.sdp,
        "sdp_port": args.sdp_port,
    }
    secc = {"authorization": args.auth, "control_modes": args.control, "pricing": args.pricing}
    energy = check_energies(args.energy) if args.energy is not None else None
    overrides = {"runtime": runtime, "secc": secc}
    return load_secc_settings(args.config, overrides, environ=os.environ, protocols=args.protocols, energy=energy)


class _Lines:
    """The per-connection stdout lines: every regular session, refusals and failures rate-limited per peer."""

    def __init__(self, limiter: PeerRateLimiter | None = None) -> None:
        self.limiter = limiter if limiter is not None else PeerRateLimiter()
        self.failures = 0

    def report(self, rep: ConnectionReport) -> None:
        self.failures += 0 if rep.ok else 1
        self.flush()
        if not rep.ok and not self.limiter.allow(rep.peer):
            return  # counted; flush() prints how many were held back
        if rep.outcome is not None:
            print(summary("secc", rep.peer, rep.outcome), flush=True)
        if rep.error is not None:
            print(f"secc {rep.peer}: error: {rep.error}", flush=True)

    def flush(self, *, everything: bool = False) -> None:
        for held in self.limiter.due(everything=everything):
            print(_held_line(held), flush=True)


def _held_line(held: Suppressed) -> str:
    who = "secc:" if held.total else f"secc {held.peer}:"
    return f"{who} {held.count} more refused or failed connections within {held.window_s:g} s (not printed)"


async def _flush_every(lines: _Lines, period: float) -> None:
    while True:
        await asyncio.sleep(period)
        lines.flush()


async def _serve(settings: SeccSettings, cp: str | None = None) -> int:
    lines = _Lines()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with secc_pilot(cp):
        return await _serve_sessions(settings, lines, stop)


async def _serve_sessions(settings: SeccSettings, lines: _Lines, stop: asyncio.Event) -> int:
    roots = settings.pnc_certificates()
    pnc = PncVerifier(roots) if roots else None
    with observers(settings.trace, settings.journal) as obs:
        server = SeccServer(
            settings.server,
            lambda: SimpleEVSE(settings.evse),
            secc=settings.secc,
            pnc=pnc,
            observers=obs,
            on_report=lines.report,
        )
        async with server:
            print(f"secc listening on {server.endpoint} ({_security(settings)}; offers {_offer(settings)})", flush=True)
            flusher = asyncio.create_task(_flush_every(lines, lines.limiter.window_s))
            try:
                if settings.once:
                    await server.next_report()
                else:
                    await stop.wait()
            finally:
                flusher.cancel()
        lines.flush(everything=True)
    return 1 if lines.failures else 0


def _offer(settings: SeccSettings) -> str:
    """``iso20 AC, DC``: the protocols and energy families offered."""
    families = dict.fromkeys(str(f) for f in map(family_of, settings.secc.protocols) if f is not None)
    return f"iso20 {', '.join(families)}"


def _security(settings: SeccSettings) -> str:
    policy = settings.server.policy
    text = "TLS 1.3" if policy.tls is not None and not policy.tolerant else "TLS" if policy.tls else "plain TCP"
    deviations = ", ".join(policy.deviations(Role.SECC))
    return f"{text}, {'tolerant: ' + deviations if policy.tolerant else 'strict'}"


def _run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    prepare_process(filter(None, map(family_of, settings.secc.protocols)))
    code = asyncio.run(_serve(settings, args.cp))
    sys.stdout.flush()
    return code
