"""`v2g secc`: run an ISO 15118-20 / ISO 15118-2 / DIN 70121 SECC (charger) with the simple EVSE controller.

Listens on the interface's link-local address (or ``--listen``), answers SDP on the interface, serves every EV
that connects, and prints one line per session naming the protocol chosen. One port serves -20 over TLS 1.3
(with a -20 PKI), -2 over TLS 1.2 (with a -2 PKI: ``--pki`` once per generation) and -2 and DIN over plain TCP;
SDP answers the security the EV asked for when it is served. Lines about refused or failed connections are
rate-limited per peer address; what is held back is counted and summarised once a minute at most.
``--protocols`` and ``--energy`` say what it offers (all three generations, AC and DC by default; DIN is DC only;
DC runs on the simple EVSE's DC output). A status line per running session, and how SupportedAppProtocol went,
go to stderr (:mod:`._progress`; ``--quiet`` turns them off).

``--once`` stops after the first connection. The first SIGINT/SIGTERM stops accepting, asks every EV in the
charge loop to terminate (EVSENotification Terminate) and waits for those sessions to end, at most
:data:`STOP_GRACE_S`; a second aborts at once (:mod:`._signals`). Exit codes: 0 when every session ended regularly
and did what was asked; 1 when one did not or on an error; 3 when a signal stopped a running session (or, with
``--once``, came before any EV) and everything ended cleanly; 130/143 when a second signal aborted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Final

from harness.commands import _csms
from harness.commands._argtypes import port
from harness.commands._cp import add_cp_option, secc_pilot
from harness.commands._progress import NON_TTY_PERIOD_S, StatusLine
from harness.commands._sessions import (
    add_common_options,
    auth_name,
    common_overrides,
    observers,
    prepare_process,
    summary,
)
from harness.commands._signals import INTERRUPTED, StopSignals, run_until_stopped
from harness.config import SeccSettings, load_secc_settings
from harness.config_pki import iso2_pnc
from harness.doctor import preflight_interface
from harness.protocols import check_energies, describe_offer, split_names
from iso15118.config import PRICING, SeccConfig
from iso15118.constants import SDP_SERVER_PORT
from iso15118.iso20.pnc import PncVerifier
from iso15118.profiles import PncTrust
from iso15118.session.connection import Role
from iso15118.simple import SimpleEVSE
from iso15118.transport.driver import Observer
from iso15118.transport.peerlog import PeerRateLimiter, Suppressed
from iso15118.transport.secc_server import ConnectionReport, SeccServer

__all__ = ["STOP_GRACE_S", "register"]

STOP_GRACE_S: Final = 10.0
"""How long a stopping SECC waits for its sessions to end: the EV hears Terminate at its next charge-loop request
(every 0.25 s at most), then sends PowerDelivery(Stop), DC welding detection and SessionStop; a session still
setting up (no charge loop yet to carry the notification) is closed when this runs out."""
_SECC = SeccConfig()
_MODES = {1: "scheduled", 2: "dynamic"}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``secc`` command."""
    parser = subparsers.add_parser(
        "secc",
        help="run an ISO 15118-20/-2/DIN 70121 SECC (charger) over TCP/TLS with SDP",
        description="Serve EVs on IFACE's link-local address (or --listen): ISO 15118-20 over TLS 1.3, ISO 15118-2 "
        "over TLS 1.2 or TCP, DIN 70121 over TCP, all on one port; announce the port with SDP, and print one "
        "summary line per session naming the protocol; a status line per running session on stderr (on a "
        f"terminal: refreshed in place; otherwise at the session's start, its first loop and every "
        f"{NON_TTY_PERIOD_S:g} s). The first SIGINT/SIGTERM asks every EV in the charge loop to terminate, waits "
        f"for the sessions to end (at most {STOP_GRACE_S:g} s) and exits; a second aborts at once.",
        epilog="Exit codes: 0 every session ended regularly and did what was asked (with --once: the one "
        "session); 1 one did not, or an error; 2 bad usage; 3 SIGINT/SIGTERM stopped a running session (with "
        "--once: or came before any EV) and everything ended cleanly; 130/143 aborted by a second SIGINT/SIGTERM.",
    )
    add_common_options(parser)
    parser.add_argument(
        "--protocols",
        type=split_names,
        metavar="P[,P...]",
        help="protocols offered, in this charger's order of preference: iso20, iso2, din (default: all three, or "
        "the persona's [secc] protocols). The EV's priority picks among them unless [secc] protocol_preference = "
        '"secc". iso20 needs a -20 PKI (TLS 1.3); iso2 runs over TLS 1.2 with a -2 PKI (`v2g pki init --profile '
        "iso2`, a second --pki) and over plain TCP; din over plain TCP, DC only",
    )
    parser.add_argument(
        "--energy",
        type=split_names,
        metavar="ac,dc",
        help="energy families offered: the -20 AC and/or DC namespace, -2 AC and/or DC, DIN with dc; and their "
        "services (default: the persona's [secc] protocols, both)",
    )
    parser.add_argument(
        "--listen",
        metavar="ADDR",
        help="IPv6 address to listen on (::1, ::, fe80::1%%eth1; default: IFACE's link-local)",
    )
    parser.add_argument(
        "--port", type=port(allow_zero=True), metavar="N", help="TCP port (default: a free port in 49152-65535)"
    )
    parser.add_argument(
        "--auth",
        type=auth_name,
        nargs="+",
        metavar="eim|pnc",
        help=f"authorization offered (default: {' '.join(_SECC.authorization)})",
    )
    parser.add_argument(
        "--control",
        choices=("scheduled", "dynamic"),
        nargs="+",
        help=f"control modes offered (default: {' '.join(_MODES[m] for m in _SECC.control_modes)})",
    )
    parser.add_argument(
        "--pricing",
        choices=tuple(PRICING),
        help="price information offered: none (default) or price_levels (Pricing=2 and a flat PriceLevelSchedule)",
    )
    parser.add_argument(
        "--once", action="store_true", default=None, help="serve one connection, then exit with its verdict"
    )
    parser.add_argument("--no-sdp", dest="sdp", action="store_false", default=None, help="do not answer SDP")
    parser.add_argument(
        "--sdp-port", type=port(), metavar="N", help=f"SDP UDP port (default {SDP_SERVER_PORT}; for tests)"
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no status lines while sessions run: only the summary lines"
    )
    _csms.add_options(parser)
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
    """The per-connection stdout lines: every regular or interrupted session, refusals and failures rate-limited
    per peer."""

    def __init__(self, limiter: PeerRateLimiter | None = None, status: StatusLine | None = None) -> None:
        self.limiter = limiter if limiter is not None else PeerRateLimiter()
        self.status = status
        self.failures = 0
        self.interrupted = 0
        self.reports = 0

    def report(self, rep: ConnectionReport) -> None:
        self.reports += 1
        stopped = rep.error is None and rep.outcome is not None and rep.outcome.interrupted is not None
        clean = stopped and rep.outcome is not None and rep.outcome.ended_regularly and rep.outcome.failure is None
        if clean:
            self.interrupted += 1
        elif not rep.ok:
            self.failures += 1
        self.flush()
        if not (rep.ok or clean) and not self.limiter.allow(rep.peer):
            return  # counted; flush() prints how many were held back
        if self.status is not None:
            self.status.clear()
        if rep.outcome is not None:
            negotiation = rep.outcome.negotiation
            if self.status is not None and negotiation is not None:
                print(f"secc {rep.peer}: {negotiation.describe()}", file=sys.stderr, flush=True)
            print(summary("secc", rep.peer, rep.outcome), flush=True)
        if rep.error is not None:
            print(f"secc {rep.peer}: error: {rep.error}", flush=True)

    def flush(self, *, everything: bool = False) -> None:
        for held in self.limiter.due(everything=everything):
            print(_held_line(held), flush=True)

    @property
    def exit_code(self) -> int:
        """1 when a connection failed, else 3 when a signal stopped a session, else 0."""
        return 1 if self.failures else INTERRUPTED if self.interrupted else 0


def _held_line(held: Suppressed) -> str:
    who = "secc:" if held.total else f"secc {held.peer}:"
    return f"{who} {held.count} more refused or failed connections within {held.window_s:g} s (not printed)"


async def _flush_every(lines: _Lines, period: float) -> None:
    while True:
        await asyncio.sleep(period)
        lines.flush()


async def _serve(
    settings: SeccSettings,
    quiet: bool,
    signals: StopSignals,
    csms: _csms.CsmsOptions | None = None,
    cp: str | None = None,
) -> int:
    async with secc_pilot(cp):
        return await _serve_sessions(settings, quiet, signals, csms)


async def _serve_sessions(
    settings: SeccSettings, quiet: bool, signals: StopSignals, csms: _csms.CsmsOptions | None
) -> int:
    roots = settings.pnc_certificates()
    pnc20 = PncVerifier(roots) if roots else None
    pnc2 = iso2_pnc(settings.iso2_pki) if settings.iso2_pki and "PnC" in settings.secc.authorization else None
    status = None if quiet else StatusLine("secc")
    lines = _Lines(status=status)
    with observers(settings.trace, settings.journal) as obs:
        watchers: list[Observer] = [*obs, *([status] if status else [])]
        async with _csms.backend(csms or _csms.CsmsOptions()) as backend:
            server = SeccServer(
                settings.server,
                backend.controllers(lambda: SimpleEVSE(settings.evse)),
                secc=backend.secc(settings.secc),
                pnc=PncTrust(iso20=backend.pnc(pnc20), iso2=pnc2) if pnc2 else backend.pnc(pnc20),
                observers=backend.observers(watchers),
                on_report=lines.report,
                certificates=backend.certificates,
            )
            async with server:
                where = f"{_security(settings)}; offers {describe_offer(settings.secc)}{backend.describe()}"
                print(f"secc listening on {server.endpoint} ({where})", flush=True)
                flusher = asyncio.create_task(_flush_every(lines, lines.limiter.window_s))
                first: asyncio.Future[ConnectionReport] | None = None
                try:
                    if settings.once:
                        first = asyncio.ensure_future(server.next_report())
                        stopping = asyncio.ensure_future(signals.stopping.wait())
                        await asyncio.wait({first, stopping}, return_when=asyncio.FIRST_COMPLETED)
                        stopping.cancel()
                    else:
                        await signals.stopping.wait()
                    if signals.first is not None:
                        await server.request_stop(signals.why, grace=STOP_GRACE_S)
                finally:
                    flusher.cancel()
                    if first is not None and not first.done():
                        first.cancel()
        lines.flush(everything=True)
    if signals.first is not None:
        if settings.once and lines.reports == 0:
            why = (
                "before any EV connected; no session to stop"
                if server.connections == 0
                else f"while a connection was being set up; it was closed after {STOP_GRACE_S:g} s"
            )
            print(f"v2g secc: {signals.why} {why}", file=sys.stderr, flush=True)
            return INTERRUPTED if server.connections == 0 else 1
        if not settings.once:
            count = "1 connection" if server.connections == 1 else f"{server.connections} connections"
            print(f"v2g secc: stopped by {signals.why} after {count}", file=sys.stderr, flush=True)
    return lines.exit_code


def _security(settings: SeccSettings) -> str:
    """``TLS 1.3, TLS 1.2, plain TCP, strict``: the transports served and the mode."""
    policy = settings.server.policy
    kinds = ["TLS 1.3" if not policy.tolerant else "TLS"] if policy.tls is not None else []
    kinds += ["TLS 1.2"] if policy.tls_iso2 is not None else []
    kinds += ["plain TCP"] if policy.serves_plain_tcp(settings.secc.protocols) else []
    deviations = ", ".join(policy.deviations(Role.SECC))
    return f"{', '.join(kinds)}, {'tolerant: ' + deviations if policy.tolerant else 'strict'}"


def _run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if settings.server.iface is not None:
        preflight_interface(settings.server.iface)
    for note in settings.notes:
        print(f"v2g secc: note: {note}", file=sys.stderr, flush=True)
    prepare_process(settings.secc.protocols)
    code = run_until_stopped(
        "secc", lambda signals: _serve(settings, args.quiet, signals, _csms.options(args), args.cp)
    )
    sys.stdout.flush()
    return code
