"""`v2g slac`: run SLAC matching (ISO 15118-3) as EV or EVSE on a raw Ethernet interface and report it.

Prints the logical network (NID, NMK), the peer's MAC and the time of every step; ``--json`` prints the
same as one JSON object. A failure prints the steps up to it and ends with one clean error line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable

from harness.commands._argtypes import seconds, whole
from iso15118.slac.events import Noticed, SlacEvent
from iso15118.slac.mme import format_mac
from iso15118.slac.timers import SlacConfig
from iso15118.transport.cp_line import open_pilot
from iso15118.transport.cp_run import EvsePilotRunner
from iso15118.transport.slac_link import MatchingError, SlacResult, retry_matching, run_slac

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``slac`` command."""
    parser = subparsers.add_parser(
        "slac",
        help="run SLAC matching (ISO 15118-3) on a raw Ethernet interface",
        description="Run SLAC matching as EV or EVSE over HomePlug Green PHY MMEs on IFACE (needs root "
        "or CAP_NET_RAW) and print NID, NMK, the peer's MAC and the timing of every step.",
    )
    parser.add_argument("--iface", required=True, help="network interface, e.g. eth1 or a veth end")
    parser.add_argument("--role", required=True, choices=["ev", "evse"], help="which side to play")
    parser.add_argument(
        "--modem-standin",
        action="store_true",
        help="play the PLC modem(s) in-process, for links without real modems such as veth: answer "
        "CM_SET_KEY.REQ and produce CM_ATTEN_PROFILE.IND per sound (one stand-in per link)",
    )
    parser.add_argument(
        "--timeout",
        type=seconds(positive=True),
        default=None,
        metavar="S",
        help="give up after S seconds (default: the standard's timers decide)",
    )
    parser.add_argument(
        "--nmk", default=None, metavar="HEX", help="EVSE: the network membership key as 32 hex digits (default: random)"
    )
    parser.add_argument(
        "--settle",
        type=seconds(),
        default=0.0,
        metavar="S",
        help="EVSE: pause after the modem confirmed CM_SET_KEY (Qualcomm's reference: 10 s)",
    )
    field = parser.add_argument_group("field settings (EVerest's EvseSlac options; defaults: ISO 15118-3)")
    field.add_argument(
        "--init-timeout",
        type=seconds(positive=True),
        metavar="S",
        help="EVSE: wait this long for the first CM_SLAC_PARM.REQ (TT_EVSE_SLAC_init, default 50 s; EVerest 40 s)",
    )
    field.add_argument(
        "--modem-wait",
        type=seconds(),
        metavar="S",
        help="EVSE: give up when the modem has not answered CM_SET_KEY.REQ for S seconds (default: wait)",
    )
    field.add_argument(
        "--reset-instead-of-fail",
        action="store_true",
        help="EVSE: after the last failed attempt wait for a new CM_SLAC_PARM.REQ instead of failing",
    )
    field.add_argument("--chip-reset", action="store_true", help="reset the modem (VS_RS_DEV) after a failed match")
    field.add_argument(
        "--link-status",
        action="store_true",
        help="after the match, wait up to TT_match_join (12 s) until the modem reports the link up",
    )
    field.add_argument(
        "--no-profile-fallback",
        type=whole(0),
        metavar="DB",
        help="EVSE: a modem that sends no CM_ATTEN_PROFILE.IND (AR7420): report DB dB for the sounds seen",
    )
    field.add_argument(
        "--sequence-retries",
        type=whole(0),
        default=0,
        metavar="N",
        help="EVSE with --cp: AC 5 %% mode, after a failed match pulse the CP to F for T_step_EF (4 s) and match "
        "again, N times (ISO 15118-3 C_sequ_retry = 2; EVerest recommends it for DC as well)",
    )
    field.add_argument("--cp", metavar="BACKEND", help="EVSE: the Control Pilot to pulse (sim, serial:DEV, mqtt://...)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.set_defaults(func=_run)


def _config(args: argparse.Namespace) -> SlacConfig:
    nmk = None
    if args.nmk is not None:
        try:
            nmk = bytes.fromhex(args.nmk)
        except ValueError:
            raise ValueError(f"--nmk must be hex digits, got {args.nmk!r}") from None
    field: dict[str, object] = {
        "modem_wait": args.modem_wait,
        "reset_instead_of_fail": args.reset_instead_of_fail,
        "chip_reset": args.chip_reset,
        "link_status_check": args.link_status,
        "no_profile_fallback_db": args.no_profile_fallback,
        "sequence_retries": args.sequence_retries,
    }
    if args.init_timeout is not None:
        field["tt_evse_slac_init"] = args.init_timeout
    return SlacConfig(nmk=nmk, settle_time=args.settle, **field)  # type: ignore[arg-type]


def _notice(event: SlacEvent) -> None:
    """Notices (a late modem, implausible values, a fallback) go to stderr as they happen."""
    if isinstance(event, Noticed):
        print(f"v2g slac: {event.step}: {event.text}", file=sys.stderr, flush=True)


def _as_json(result: SlacResult) -> str:
    return json.dumps(
        {
            "role": str(result.role),
            "iface": result.iface,
            "own_mac": format_mac(result.own_mac),
            "peer_mac": format_mac(result.peer_mac),
            "nid": result.nid.hex(),
            "nmk": result.nmk.hex(),
            "run_id": result.run_id.hex(),
            "attenuation_db": round(result.attenuation_db, 2),
            "num_sounds": result.num_sounds,
            "attempts": result.attempts,
            "duration_s": round(result.duration, 6),
            "sound_times_s": [round(t, 6) for t in result.sound_times],
            "sounding_window_s": None
            if result.sounding_window is None
            else [round(t, 6) for t in result.sounding_window],
            "steps": [{"at_s": round(s.at, 6), "step": s.name} for s in result.steps],
        }
    )


def _as_text(result: SlacResult) -> str:
    attempts = "1 attempt" if result.attempts == 1 else f"{result.attempts} attempts"
    lines = [
        f"matched as {result.role} on {result.iface} ({format_mac(result.own_mac)}) with "
        f"{format_mac(result.peer_mac)} in {result.duration:.3f} s ({attempts})",
        f"  NID    {result.nid.hex()}",
        f"  NMK    {result.nmk.hex()}",
        f"  RunID  {result.run_id.hex()}",
        f"  attenuation {result.attenuation_db:.1f} dB averaged over {result.num_sounds} sounds",
    ]
    if result.sounding_window is not None:
        start, end = result.sounding_window
        lines.append(f"  sounding window {start:.3f}-{end:.3f} s")
    lines.append("  steps:")
    lines.extend(f"    {step.at:8.3f} s  {step.name}" for step in result.steps)
    return "\n".join(lines)


async def _match(args: argparse.Namespace, config: SlacConfig) -> SlacResult:
    def run() -> Awaitable[SlacResult]:
        return run_slac(
            args.iface,
            args.role,
            config=config,
            modem_standin=args.modem_standin,
            timeout=args.timeout,
            on_event=_notice,
        )

    if args.cp is None or args.role != "evse":
        if args.cp is not None:
            raise ValueError("--cp is for the EVSE role (it pulses the pilot to restart matching)")
        return await run()

    def retrying(exc: MatchingError, attempt: int) -> None:
        print(f"v2g slac: {exc}; E/F pulse and retry {attempt} of {config.sequence_retries}", file=sys.stderr)

    async with EvsePilotRunner(open_pilot(args.cp, "evse")) as pilot:
        await pilot.offer_hlc()
        return await retry_matching(
            run, retries=config.sequence_retries, pulse=pilot.pulse_ef, t_step_ef=config.t_step_ef, on_retry=retrying
        )


def _run(args: argparse.Namespace) -> int:
    config = _config(args)
    try:
        result = asyncio.run(_match(args, config))
    except MatchingError as exc:
        if exc.steps:
            print("steps until the failure:")
            for step in exc.steps:
                print(f"  {step.at:8.3f} s  {step.name}")
        raise
    print(_as_json(result) if args.json else _as_text(result))
    return 0
