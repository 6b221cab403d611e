"""`v2g evcc`: run one ISO 15118-20, ISO 15118-2 or DIN 70121 session as the EVCC (vehicle) with the simple EV
controller.

Offers ``--protocols`` in priority order (default iso20,iso2,din: what the charger picks is named on the summary
line, and why -20 was not used when it came first). Finds the SECC with SDP on the interface (or connects to
``--target [ADDR%IF]:PORT``), optionally after SLAC, asking for the security of the most preferred protocol (-20:
TLS 1.3 with the vehicle certificate; -2: TLS 1.2 with PnC, else TCP; DIN: TCP), falls back to what else it offers
when the charger cannot (each fallback said on stderr and in the summary), runs one AC, AC_BPT, DC or DC_BPT session
(``--energy`` and ``--mode``; DIN is DC only and discharging is -20 only: what does not fit is left out of the offer
and said so; nothing left is a usage error), and prints one summary line. A status line on stderr shows that the
session lives (:mod:`._progress`; ``--quiet`` turns it off). The first SIGINT/SIGTERM ends the session the
standard's way (PowerDelivery(Stop), SessionStop), a second aborts (:mod:`._signals`). Exit codes: 0 when the
session ended regularly (Terminate or Pause) and did what was asked; 1 otherwise: a failed session, an error, or a
charger that offered something else than what was asked (the line says what; ``--accept-fallback`` goes on with the
substitute and the line names it); 3 when a signal stopped it cleanly before ``--loops`` was reached; 130/143 when a
second signal aborted it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from harness.commands import _install
from harness.commands._argtypes import port, seconds, whole
from harness.commands._cp import add_cp_option, evcc_with_pilot
from harness.commands._pacing import SequenceGap, pacing_warnings
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
from harness.config import EvccSettings, load_evcc_settings
from harness.doctor import preflight_interface
from harness.protocols import split_names
from iso15118.config import EvccConfig
from iso15118.constants import SDP_MULTICAST_ADDRESS, SDP_SERVER_PORT
from iso15118.simple import SimpleEV, SimpleEVConfig
from iso15118.transport.driver import Observer, SessionOutcome
from iso15118.transport.evcc_client import EvccRun, run_evcc

__all__ = ["register"]

_EVCC = EvccConfig()
_EV = SimpleEVConfig()


def _session_id(text: str) -> str:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 16 hex digits, got {text!r}") from None
    if len(value) != 8:
        raise argparse.ArgumentTypeError(f"a SessionID has 8 bytes (16 hex digits), got {len(value)}")
    return text


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``evcc`` command."""
    parser = subparsers.add_parser(
        "evcc",
        help="run one ISO 15118-20/-2/DIN 70121 session as the EVCC (vehicle) over TCP/TLS",
        description="Find the SECC with SDP on IFACE (or use --target), connect (-20: TLS 1.3; -2: TLS 1.2 or "
        "TCP; DIN: TCP), run one AC, AC_BPT, DC or DC_BPT session and print a summary line naming the protocol; "
        "a status line on stderr while it runs (on a terminal: "
        f"refreshed in place; otherwise at the session's start, its first loop and every {NON_TTY_PERIOD_S:g} s). "
        "The first SIGINT/SIGTERM ends the session the standard's way (PowerDelivery(Stop), SessionStop) and "
        "prints the summary; a second aborts at once.",
        epilog="Exit codes: 0 the session ended regularly and did what was asked; 1 it failed, or the charger "
        "offered something else (named on the line; see --accept-fallback), or an error; 2 bad usage; 3 stopped "
        "cleanly by SIGINT/SIGTERM before --loops was reached; 130/143 aborted by a second SIGINT/SIGTERM.",
    )
    add_common_options(parser)
    parser.add_argument("--target", metavar="[ADDR%IF]:PORT", help="connect here instead of running SDP")
    parser.add_argument(
        "--protocols",
        type=split_names,
        metavar="P[,P...]",
        help="protocols to offer, most preferred first (default: iso20,iso2,din, or the persona's [evcc] "
        "protocols). iso20 needs a -20 PKI (TLS 1.3); iso2 runs over TLS 1.2 with a -2 PKI (`v2g pki init "
        "--profile iso2`, a second --pki) and over TCP; din over TCP, DC only. An AC EV leaves din out, a "
        "discharging one everything but iso20 (BPT is -20 only), saying so when they were named",
    )
    parser.add_argument(
        "--energy",
        type=str.lower,
        choices=("ac", "dc"),
        help="ac (default; dc for --protocols din alone) or dc: the -20 namespace to offer, the -2 energy transfer "
        "mode (DIN needs dc)",
    )
    parser.add_argument(
        "--mode",
        choices=("charge", "discharge"),
        help="charge: the plain service (AC, DC); discharge: the bidirectional one (AC_BPT, DC_BPT: ISO 15118-20 "
        "only, so only iso20 is offered). Default: the persona's [ev] direction "
        f"({_EV.direction}; a bidirectional EV selects the BPT service and charges)",
    )
    parser.add_argument(
        "--accept-fallback",
        action="store_true",
        default=None,
        help="when the charger offers something else than what was asked (discharge, PnC, a control mode, a "
        "resume), go on with it and name the substitute on the summary line (default: stop, exit 1)",
    )
    parser.add_argument(
        "--control",
        choices=("scheduled", "dynamic"),
        help=f"control mode to select (default: {_EVCC.control_mode})",
    )
    parser.add_argument(
        "--auth", type=auth_name, metavar="eim|pnc", help=f"authorization to use (default: {_EVCC.authorization})"
    )
    parser.add_argument("--slac", action="store_true", default=None, help="run SLAC matching first (root)")
    parser.add_argument(
        "--modem-standin",
        action="store_true",
        default=None,
        help="with --slac on a link without PLC modems (veth): play the modem in-process. One stand-in per link "
        "is enough and `v2g secc` runs no SLAC, so on veth the EV side (this option) plays it for both ends",
    )
    parser.add_argument(
        "--loops",
        type=whole(1),
        metavar="N",
        help="stop after N charge-loop exchanges (default: until the EV is done: its target SoC, "
        f"{_EV.target_soc:g} %%, or its departure time, {_EV.departure_s} s)",
    )
    parser.add_argument(
        "--loop-interval",
        type=seconds(),
        metavar="S",
        help=f"pause between charge-loop requests (default: {_EVCC.loop_interval_s:g} s; the SECC closes the "
        "session when it waits 0.5 s [V2G20-1499/1500]: a longer interval is warned about)",
    )
    parser.add_argument(
        "--stop",
        choices=("terminate", "pause"),
        help=f"how to end the session (default: {_EVCC.stop_with.lower()})",
    )
    parser.add_argument("--resume", type=_session_id, metavar="SESSIONID", help="resume this paused session")
    parser.add_argument(
        "--sdp-port", type=port(), metavar="N", help=f"SDP UDP port (default {SDP_SERVER_PORT}; for tests)"
    )
    parser.add_argument(
        "--sdp-destination",
        metavar="ADDR",
        help=f"send SDP requests here (default: {SDP_MULTICAST_ADDRESS}; a unicast address for tests)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no status line while the session runs: only the summary"
    )
    _install.add_options(parser)
    add_cp_option(parser, "evcc")
    parser.set_defaults(func=_run)


def _settings(args: argparse.Namespace) -> EvccSettings:
    runtime = common_overrides(args) | {
        "target": args.target,
        "slac": args.slac,
        "modem_standin": args.modem_standin,
        "sdp_port": args.sdp_port,
        "sdp_destination": args.sdp_destination,
    }
    bidirectional = {"charge": False, "discharge": True}.get(args.mode) if args.mode else None
    evcc = {
        "energy": args.energy,
        "bidirectional": bidirectional,
        "accept_fallback": args.accept_fallback,
        "control_mode": args.control,
        "authorization": args.auth,
        "max_loops": args.loops,
        "loop_interval_s": args.loop_interval,
        "stop_with": args.stop.capitalize() if args.stop else None,
        "resume_session_id": args.resume,
    }
    ev = {"direction": args.mode}
    overrides = {"runtime": runtime, "evcc": evcc, "ev": ev}
    settings = load_evcc_settings(args.config, overrides, environ=os.environ, protocols=args.protocols)
    return _install.apply(args, settings)


def _exit_code(outcome: SessionOutcome, config: EvccConfig) -> int:
    """0 done as asked, 1 failed, 3 stopped by a signal before ``--loops`` was reached (see the module)."""
    if outcome.interrupted is None:
        return 0 if outcome.ok else 1
    if not outcome.ended_regularly or outcome.failure is not None:
        return 1
    reached = config.max_loops is not None and outcome.loops >= config.max_loops
    return 0 if reached else INTERRUPTED


async def _session(
    settings: EvccSettings, quiet: bool, signals: StopSignals, args: argparse.Namespace | None = None
) -> int:
    timing = settings.client.policy.session_config().timing
    status = None if quiet else StatusLine("evcc")
    gap = SequenceGap(timing)
    handles: list[Any] = []
    pending: set[asyncio.Task[None]] = set()
    ev = SimpleEV(settings.ev)
    with observers(settings.trace, settings.journal) as obs:
        watchers: list[Observer] = [*obs, gap, *([status] if status else [])]
        cp, cp_timeout = (args.cp, args.cp_timeout) if args is not None else (None, 0.0)

        def session(extra: Sequence[Observer], bind: Callable[[Any], None]) -> Awaitable[EvccRun]:
            def started(handle: Any) -> None:
                bind(handle)  # the pilot goes to state C/B with the session's power delivery
                handles.append(handle)

            return run_evcc(settings.client, ev, settings.evcc, observers=[*watchers, *extra], on_start=started)

        work: asyncio.Task[EvccRun] = asyncio.ensure_future(
            session((), lambda handle: None) if cp is None else evcc_with_pilot(cp, cp_timeout, session)
        )

        def stop(why: str) -> None:
            if not handles:  # still finding or connecting to the SECC: there is no session to end
                work.cancel()
                return
            task = asyncio.ensure_future(handles[0].request_stop(why))
            pending.add(task)
            task.add_done_callback(pending.discard)

        signals.on_stop(stop)
        approach = _approach(settings)
        if status is not None and approach is not None:
            print(f"evcc: {approach}", file=sys.stderr, flush=True)
        try:
            run = await work
        except asyncio.CancelledError:
            if signals.second is not None or signals.first is None or handles:
                raise
            print(f"v2g evcc: {signals.why} before a session started; nothing to stop", file=sys.stderr, flush=True)
            return INTERRUPTED
    if status is not None:
        status.clear()
    if status is not None and run.outcome.negotiation is not None:
        print(f"evcc: {run.outcome.negotiation.describe()}", file=sys.stderr, flush=True)
    print(summary("evcc", str(run.endpoint), run.outcome, hint=gap.explanation), flush=True)
    installed = _install.save(args, ev) if args is not None else None
    if installed is not None:
        print(installed, flush=True)
    return _exit_code(run.outcome, settings.evcc)


def _approach(settings: EvccSettings) -> str | None:
    """What the EV does before its session when that may take a while (SLAC, SDP: up to 12.5 s), else None."""
    client = settings.client
    if client.target is not None and not client.slac:
        return None  # a connect: at once, or an error line
    found = f"connecting to {client.target}" if client.target else f"finding the SECC with SDP on {client.iface}"
    return f"SLAC matching on {client.iface}, then {found}" if client.slac else found


def _usage_error(args: argparse.Namespace) -> str | None:
    """What the options ask for that no protocol named can give (exit 2), or None."""
    names = args.protocols or ()
    if args.mode == "discharge" and names and "iso20" not in names:
        return f"--mode discharge needs iso20: discharging (BPT) is ISO 15118-20 only, --protocols {','.join(names)}"
    if args.energy == "ac" and names and set(names) == {"din"}:
        return "--energy ac: DIN 70121 is DC only (--protocols din needs --energy dc, or add iso20/iso2)"
    return None


def _run(args: argparse.Namespace) -> int:
    usage = _usage_error(args)
    if usage is not None:
        print(f"v2g evcc: error: {usage}", file=sys.stderr)
        return 2
    settings = _settings(args)
    if settings.client.iface is not None:
        preflight_interface(settings.client.iface)
    for warning in pacing_warnings(settings.evcc, settings.client.policy.session_config().timing):
        print(f"v2g evcc: warning: {warning}", file=sys.stderr, flush=True)
    for note in settings.notes:
        print(f"v2g evcc: note: {note}", file=sys.stderr, flush=True)
    prepare_process(settings.evcc.offered_protocols)
    return run_until_stopped("evcc", lambda signals: _session(settings, args.quiet, signals, args))
