"""`v2g evcc`: run one ISO 15118-20 session as the EVCC (vehicle) with the simple EV controller.

Finds the SECC with SDP on the interface (or connects to ``--target [ADDR%IF]:PORT``), optionally after SLAC,
runs TLS 1.3 with the vehicle certificate and one AC or AC_BPT session, prints one summary line, and exits 0
when the session ended regularly (Terminate or Pause), 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from harness.commands._sessions import (
    add_common_options,
    auth_name,
    common_overrides,
    observers,
    prepare_process,
    summary,
)
from harness.config import EvccSettings, load_evcc_settings
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
        description="Find the SECC with SDP on IFACE (or use --target), connect over TLS 1.3, run one AC or "
        "AC_BPT session and print a summary line; exit code 0 on a regular end.",
    )
    add_common_options(parser)
    parser.add_argument("--target", metavar="[ADDR%IF]:PORT", help="connect here instead of running SDP")
    parser.add_argument("--mode", choices=("charge", "discharge"), help="what the EV wants (discharge: AC_BPT)")
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
    evcc = {
        "control_mode": args.control,
        "authorization": args.auth,
        "max_loops": args.loops,
        "loop_interval_s": args.loop_interval,
        "stop_with": args.stop.capitalize() if args.stop else None,
        "resume_session_id": args.resume,
    }
    ev = {"direction": args.mode}
    return load_evcc_settings(args.config, {"runtime": runtime, "evcc": evcc, "ev": ev}, environ=os.environ)


async def _session(settings: EvccSettings) -> int:
    with observers(settings.trace, settings.journal) as obs:
        run = await run_evcc(settings.client, SimpleEV(settings.ev), settings.evcc, observers=obs)
    print(summary("evcc", str(run.endpoint), run.outcome), flush=True)
    return 0 if run.ok else 1


def _run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    prepare_process()
    return asyncio.run(_session(settings))
