"""`v2g evcc`: run one ISO 15118-20 session as the EVCC (vehicle) with the simple EV controller.

Finds the SECC with SDP on the interface (or connects to ``--target [ADDR%IF]:PORT``), optionally after SLAC,
runs TLS 1.3 with the vehicle certificate and one AC, AC_BPT, DC or DC_BPT session (``--energy`` and ``--mode``),
prints one summary line, and exits 0 when the session ended regularly (Terminate or Pause) and did what was
asked, 1 otherwise: a failed session, an error, or a charger that offered something else than what was asked
(the line says what; ``--accept-fallback`` goes on with the substitute and the line names it).
"""

from __future__ import annotations

import argparse
import asyncio
import os

from harness.commands._cp import add_cp_option, evcc_with_pilot
from harness.commands._sessions import (
    add_common_options,
    auth_name,
    common_overrides,
    observers,
    prepare_process,
    summary,
)
from harness.config import EvccSettings, load_evcc_settings
from harness.protocols import split_names
from iso15118.simple import SimpleEV
from iso15118.transport.evcc_client import run_evcc

__all__ = ["register"]


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
        help="run one ISO 15118-20 session as the EVCC (vehicle) over TCP/TLS",
        description="Find the SECC with SDP on IFACE (or use --target), connect over TLS 1.3, run one AC, AC_BPT, "
        "DC or DC_BPT session and print a summary line. Exit code 0: the session ended regularly and did what was "
        "asked; 1: it failed, or the charger offered something else (named on the line; see --accept-fallback), "
        "or an error; 2: bad usage.",
    )
    add_common_options(parser)
    parser.add_argument("--target", metavar="[ADDR%IF]:PORT", help="connect here instead of running SDP")
    parser.add_argument(
        "--protocols",
        type=split_names,
        metavar="P[,P...]",
        help="protocols to offer, most preferred first: iso20 (default); iso2 and din are not implemented yet",
    )
    parser.add_argument(
        "--energy", type=str.lower, choices=("ac", "dc"), help="ac (default) or dc: the -20 namespace to offer"
    )
    parser.add_argument(
        "--mode",
        choices=("charge", "discharge"),
        help="charge: the plain service (AC, DC); discharge: the bidirectional one (AC_BPT, DC_BPT). Default: "
        "the persona's ([ev] direction; a bidirectional EV selects the BPT service and charges)",
    )
    parser.add_argument(
        "--accept-fallback",
        action="store_true",
        default=None,
        help="when the charger offers something else than what was asked (discharge, PnC, a control mode, a "
        "resume), go on with it and name the substitute on the summary line (default: stop, exit 1)",
    )
    parser.add_argument("--control", choices=("scheduled", "dynamic"), help="control mode to select")
    parser.add_argument("--auth", type=auth_name, metavar="eim|pnc", help="authorization to use")
    parser.add_argument("--slac", action="store_true", default=None, help="run SLAC matching first (root)")
    parser.add_argument(
        "--modem-standin",
        action="store_true",
        default=None,
        help="with --slac: play the PLC modem in-process (veth links)",
    )
    parser.add_argument("--loops", type=int, metavar="N", help="stop after N charge-loop exchanges")
    parser.add_argument("--loop-interval", type=float, metavar="S", help="pause between charge-loop requests")
    parser.add_argument("--stop", choices=("terminate", "pause"), help="how to end the session")
    parser.add_argument("--resume", type=_session_id, metavar="SESSIONID", help="resume this paused session")
    parser.add_argument("--sdp-port", type=int, metavar="N", help="SDP UDP port (default 15118; for tests)")
    add_cp_option(parser, "evcc")
    parser.add_argument(
        "--sdp-destination", metavar="ADDR", help="send SDP requests here instead of ff02::1 (unicast, for tests)"
    )
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
    return load_evcc_settings(args.config, overrides, environ=os.environ, protocols=args.protocols)


async def _session(settings: EvccSettings, cp: str | None = None, cp_timeout: float = 30.0) -> int:
    with observers(settings.trace, settings.journal) as obs:
        if cp is None:
            run = await run_evcc(settings.client, SimpleEV(settings.ev), settings.evcc, observers=obs)
        else:
            run = await evcc_with_pilot(
                cp,
                cp_timeout,
                lambda extra, on_start: run_evcc(
                    settings.client, SimpleEV(settings.ev), settings.evcc, observers=[*obs, *extra], on_start=on_start
                ),
            )
    print(summary("evcc", str(run.endpoint), run.outcome), flush=True)
    return 0 if run.ok else 1


def _run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    prepare_process((settings.evcc.energy,))
    return asyncio.run(_session(settings, args.cp, args.cp_timeout))
