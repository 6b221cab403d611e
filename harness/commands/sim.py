"""`v2g sim SCENARIO`: a bench scenario with the virtual Cybertruck and Wall Connector on the real protocol stack.

The truck (EVCC) and the Universal Wall Connector (SECC) run ISO 15118-20 AC_BPT sessions (or, in a DC scenario,
the truck and a virtual DC charger run -20 DC / DC_BPT sessions) over the chosen link while the bench's physics
advances on an accelerated clock. ``--ev-protocols`` and ``--charger-protocols`` (or the scenario's
``[protocols]`` table) make either side speak ISO 15118-2 or DIN 70121 as well or instead. The command prints
the summary (energy, state of charge, reserve, outage transfers, compensation, every session's outcome and the
protocol that ran) and exits 1 when an invariant is violated or a session did not end as expected. See
:mod:`harness.virtual.runner` for the design.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from harness.bench import Scenario, load_scenario, scenario_names
from harness.bench.protocols import Iso2Transport, ProtocolSettings, WithoutBpt, standards_from
from harness.protocols import PROTOCOLS
from harness.virtual.coupling import DEFAULT_COARSE_DT_S, Stepping
from harness.virtual.links import LinkKind, WiringOptions
from harness.virtual.progress import ProgressBar
from harness.virtual.report import format_text, to_json
from harness.virtual.runner import TRIMS, SimOptions, adjust_scenario, no_session_reason, simulate
from iso15118.errors import ConfigError
from iso15118.security.pki import load_pki
from iso15118.security.tls import keylog_from_environment

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `sim`."""
    parser = sub.add_parser(
        "sim",
        help="run a bench scenario: virtual Cybertruck and Wall Connector over ISO 15118-20 (or -2, DIN 70121)",
        description="Run a bench scenario with the virtual Cybertruck (EVCC) and Universal Wall Connector "
        "(SECC) speaking ISO 15118-20 AC_BPT (or a virtual DC charger speaking -20 DC / DC_BPT) over the chosen "
        "link, on an accelerated clock. Either side can be configured to speak ISO 15118-2 (AC, DC) or DIN 70121 "
        "(DC) as well or instead; bidirectional power transfer stays ISO 15118-20 only.",
    )
    parser.add_argument("scenario", nargs="?", metavar="SCENARIO", help="a scenario name (see --list) or .toml file")
    parser.add_argument("--list", action="store_true", help="list the shipped scenarios and exit")
    parser.add_argument(
        "--link",
        choices=[k.value for k in LinkKind],
        default=LinkKind.MEMORY.value,
        help="memory: in-process; loopback: TCP/TLS 1.3 on ::1; veth: SLAC, SDP and TLS between two network "
        "namespaces (root) (default: memory)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        metavar="N",
        help="at most N simulated seconds per real second (default: as fast as the protocol runs)",
    )
    parser.add_argument(
        "--dt",
        type=float,
        metavar="SECONDS",
        help="simulated seconds per charge-loop exchange in steady state (default: the scenario's loop_dt_s, "
        f"else {DEFAULT_COARSE_DT_S:g})",
    )
    parser.add_argument(
        "--trim", choices=sorted(TRIMS), help="replace the scenario's truck trim (default: the scenario's)"
    )
    parser.add_argument(
        "--reserve",
        type=float,
        metavar="PCT",
        help="the owner's reserve (%%): export stops there (default: the scenario's)",
    )
    names = ",".join(PROTOCOLS)
    parser.add_argument(
        "--ev-protocols",
        metavar="LIST",
        help=f"protocols the truck offers, most preferred first, from {names} (default: the scenario's "
        "[protocols] ev, else iso20); DIN 70121 is DC only and left out at the AC wall connector",
    )
    parser.add_argument(
        "--charger-protocols",
        metavar="LIST",
        help=f"protocols the wall connector (or the scenario's DC charger) speaks, from {names} (default: the "
        "scenario's [protocols] charger, else iso20); din only on a DC charger",
    )
    parser.add_argument(
        "--without-bpt",
        choices=[str(w) for w in WithoutBpt],
        help="a scenario that discharges the truck (V2H, V2G, DC_BPT) on a protocol without bidirectional power "
        "transfer (-2, DIN; BPT is ISO 15118-20 only): refuse it, or run it with the truck's port charging only "
        "(default: the scenario's [protocols] without_bpt, else refuse)",
    )
    parser.add_argument(
        "--iso2-transport",
        choices=[str(t) for t in Iso2Transport],
        help="network links: what the truck asks for in SDP when ISO 15118-2 is its first protocol, TLS 1.2 or "
        "plain TCP (default: the scenario's [protocols] iso2_transport, else tls)",
    )
    parser.add_argument("--plot", type=Path, metavar="FILE.png", help="write a plot of the run")
    parser.add_argument(
        "--pcap",
        type=Path,
        metavar="FILE",
        help="capture the traffic (loopback, veth; root) into a pcapng with the TLS key log (also FILE.keys)",
    )
    parser.add_argument("--trace", type=Path, metavar="FILE.jsonl", help="write every message of every session")
    parser.add_argument("--pki", type=Path, metavar="DIR", help="TLS PKI to use (default: a fresh test PKI)")
    parser.add_argument("--json", action="store_true", help="machine-readable summary")
    parser.add_argument(
        "--csms",
        metavar="URL",
        help="the charger is an OCPP 2.1 station of this CSMS (ws://HOST:PORT/STATION_ID), which dispatches the "
        "grid-support events (e.g. `v2g csms --grid-event 17:00-20:00/8000`)",
    )
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument(
        "--progress", dest="progress", action="store_true", default=None, help="show progress (default: on a terminal)"
    )
    progress.add_argument("--no-progress", dest="progress", action="store_false", help="never show progress")
    parser.set_defaults(func=_run)


def _kind(scenario: Scenario) -> str:
    if no_session_reason(scenario):
        return "no port session"
    return "DC port session" if scenario.dc_charger is not None else "AC port session"


def _list() -> int:
    for name in scenario_names():
        scenario = load_scenario(name)
        print(f"{name:28s} {_kind(scenario):16s} {scenario.title}")
    return 0


def _protocols(args: argparse.Namespace, scenario: Scenario) -> ProtocolSettings:
    """The scenario's [protocols] with the command line's overrides."""
    base = scenario.protocols
    return ProtocolSettings(
        ev=standards_from(args.ev_protocols, "--ev-protocols") if args.ev_protocols is not None else base.ev,
        charger=(
            standards_from(args.charger_protocols, "--charger-protocols")
            if args.charger_protocols is not None
            else base.charger
        ),
        without_bpt=WithoutBpt(args.without_bpt) if args.without_bpt is not None else base.without_bpt,
        iso2_transport=Iso2Transport(args.iso2_transport) if args.iso2_transport is not None else base.iso2_transport,
    )


def _run(args: argparse.Namespace) -> int:
    if args.list:
        return _list()
    if not args.scenario:
        raise ConfigError("name a SCENARIO (see `v2g sim --list`)")
    if args.pki is not None:
        load_pki(args.pki)  # a PKI named but missing or incomplete is an error, whichever link uses it
    scenario = adjust_scenario(load_scenario(args.scenario), trim=args.trim, reserve_pct=args.reserve)
    options = SimOptions(
        link=LinkKind(args.link),
        stepping=Stepping(coarse_dt_s=args.dt, speed=args.speed),
        wiring=WiringOptions(pcap=args.pcap, pki_dir=args.pki, keylog=keylog_from_environment(os.environ)),
        trace=args.trace,
        plot=args.plot,
        csms=args.csms,
        protocols=_protocols(args, scenario),
    )
    show = args.progress if args.progress is not None else sys.stderr.isatty()
    bar = ProgressBar(sys.stderr, label=scenario.name) if show else None
    try:
        result = simulate(scenario, options, on_step=bar)
    finally:
        if bar is not None:
            bar.close()
    print(to_json(result) if args.json else format_text(result))
    return 0 if result.ok else 1
