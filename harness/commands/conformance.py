"""`v2g conformance`: list the test cases, run them against an SECC or EVCC, write JUnit, JSON and HTML reports.

::

    v2g conformance list [--sut secc|evcc] [--cases PATTERN ...]
    v2g conformance faults
    v2g conformance run --sut secc --target [fe80::1%eth1]:50000 --pki DIR --report out/
    v2g conformance run --sut secc --iface eth1 --pki DIR --report out/          # SDP finds the SECC
    v2g conformance run --sut evcc --iface eth1 --pki DIR --report out/          # the tester is the SECC (+SDP)
    v2g conformance run --sut secc --own --report out/ [--fault secc-slow]      # our own stack, in-process

The exit status is 1 when a case failed, 0 otherwise (inconclusive cases do not fail a run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from harness.conformance.cases import select_cases
from harness.conformance.context import RunConfig
from harness.conformance.credentials import Credentials
from harness.conformance.faulty import FAULTS, fault
from harness.conformance.model import CaseResult, Need, SutRole, Verdict
from harness.conformance.own import OwnEvcc, OwnSecc
from harness.conformance.report import RunInfo, counts, write_reports
from harness.conformance.run import run_cases
from harness.conformance.targets import ALL_CAPABILITIES, ListeningEvcc, RemoteSecc
from iso15118.errors import ConfigError
from iso15118.session.timers import DEFAULT_TIMING
from iso15118.transport.tcp import parse_endpoint

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``conformance`` command family."""
    parser = subparsers.add_parser(
        "conformance",
        help="ISO 15118-20 conformance test cases against an SECC or EVCC",
        description="Play the tester against an SECC (the tester is the EV) or an EVCC (the tester is the SECC), "
        "check the -20 rules independently of either peer, and write JUnit XML, JSON and HTML reports.",
    )
    sub = parser.add_subparsers(dest="conformance_command", metavar="SUBCOMMAND", required=True)
    listing = sub.add_parser("list", help="list the test cases")
    listing.add_argument("--sut", choices=["secc", "evcc"], help="only the cases for this SUT role")
    listing.add_argument(
        "--cases",
        nargs="*",
        default=[],
        metavar="PATTERN",
        help="case IDs or categories, shell patterns allowed (e.g. 'SECC-SEQ-*' timing)",
    )
    listing.add_argument("--json", action="store_true", help="print the cases as JSON")
    listing.set_defaults(func=_list)
    faults = sub.add_parser("faults", help="list the deliberately broken variants of our own SUT")
    faults.set_defaults(func=_faults)
    run = sub.add_parser("run", help="run test cases and write the reports")
    run.add_argument("--sut", required=True, choices=["secc", "evcc"], help="what is under test")
    where = run.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--target", metavar="[ADDR%IF]:PORT", help="SUT secc: the SECC's endpoint; SUT evcc: where the tester listens"
    )
    where.add_argument(
        "--iface",
        metavar="IF",
        help="SUT secc: find the SECC with SDP; SUT evcc: listen on the interface's link-local address and answer SDP",
    )
    where.add_argument("--own", action="store_true", help="v2gstack's own SECC/EVCC, in-process (self-test)")
    run.add_argument("--cases", nargs="*", default=[], metavar="PATTERN", help="case IDs or categories to run")
    run.add_argument("--pki", type=Path, metavar="DIR", help="the tester's `v2g pki init` directory (TLS, PnC)")
    run.add_argument("--report", type=Path, required=True, metavar="DIR", help="where to write the reports")
    run.add_argument("--no-tls", dest="tls", action="store_false", help="plain TCP (needs --tolerant)")
    run.add_argument(
        "--tolerant",
        action="store_true",
        help="lab mode: the tester accepts TLS 1.2 and lab certificates and PnC signatures of the "
        "-2 interop profile (the rules it checks stay the same)",
    )
    run.add_argument(
        "--timing-scale",
        type=float,
        default=1.0,
        metavar="F",
        help="multiply every time limit of the standard by F (reported with the results)",
    )
    run.add_argument(
        "--slack",
        type=float,
        default=0.5,
        metavar="S",
        help="seconds added to every limit the SUT must keep (default 0.5)",
    )
    run.add_argument(
        "--capabilities",
        metavar="LIST",
        help=f"what the SUT supports, comma-separated (default all): {', '.join(sorted(ALL_CAPABILITIES))}",
    )
    run.add_argument("--sut-command", metavar="CMD", help="SUT evcc: shell command that starts the EVCC for each case")
    run.add_argument(
        "--accept-timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="SUT evcc: how long to wait for the EVCC to connect (default 30)",
    )
    run.add_argument("--fault", metavar="NAME", help="with --own: break our SUT this way (see `faults`)")
    run.set_defaults(func=_run)


def _role(text: str | None) -> SutRole | None:
    return SutRole(text) if text else None


def _list(args: argparse.Namespace) -> int:
    cases = select_cases(_role(args.sut), tuple(args.cases))
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": c.id,
                        "title": c.title,
                        "sut": c.sut.value,
                        "category": c.category.value,
                        "requirements": list(c.requirements),
                        "needs": sorted(n.value for n in c.needs),
                        "negative": c.negative,
                        "stimulus": c.stimulus,
                        "expected": c.expected,
                    }
                    for c in cases
                ],
                indent=1,
            )
        )
        return 0
    for case in cases:
        needs = f"  [needs {', '.join(sorted(n.value for n in case.needs))}]" if case.needs else ""
        print(f"{case.id:13} {case.category.value:17} {case.title}{needs}")
        print(f"{'':13} {'':17} {', '.join(case.requirements)}")
    print(f"{len(cases)} cases")
    return 0


def _faults(args: argparse.Namespace) -> int:
    for item in FAULTS:
        print(f"{item.name:28} {item.role.value}  {item.description}")
    return 0


def _capabilities(text: str | None) -> frozenset[Need]:
    if text is None:
        return ALL_CAPABILITIES
    try:
        return frozenset(Need(part.strip()) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise ConfigError(f"--capabilities: {exc}; known: {', '.join(sorted(ALL_CAPABILITIES))}") from None


def _target(args: argparse.Namespace, role: SutRole, creds: Credentials | None, timing: Any) -> Any:
    if args.own:
        broken = fault(args.fault) if args.fault else None
        if broken is not None and broken.role is not role:
            raise ConfigError(f"fault {args.fault} breaks the {broken.role.value}, not the {role.value}")
        transport = "tls" if args.tls and creds is not None else "memory"
        own = OwnSecc if role is SutRole.SECC else OwnEvcc
        return own(transport=transport, credentials=creds, timing=timing, fault=broken)
    if args.fault:
        raise ConfigError("--fault applies to our own SUT only (--own)")
    caps = args.capability_set
    if role is SutRole.SECC:
        endpoint = parse_endpoint(args.target) if args.target else None
        return RemoteSecc(endpoint=endpoint, iface=args.iface, tls=args.tls, capabilities=caps)
    if args.tls and creds is None:
        raise ConfigError("the tester needs its PKI (--pki) to play a TLS SECC (or --no-tls --tolerant)")
    listen = parse_endpoint(args.target) if args.target else None
    return ListeningEvcc(listen=listen, iface=args.iface, tls=args.tls, capabilities=caps, command=args.sut_command)


def _print(result: CaseResult) -> None:
    mark = {Verdict.PASS: "pass", Verdict.FAIL: "FAIL", Verdict.INCONCLUSIVE: "inconclusive"}[result.verdict]
    print(f"{result.case.id:13} {mark:12} {result.duration:7.2f} s  {result.reason}", flush=True)


async def _execute(args: argparse.Namespace) -> tuple[list[CaseResult], RunInfo]:
    role = SutRole(args.sut)
    if not args.tls and not args.tolerant:
        raise ConfigError("plain TCP is refused: -20 mandates TLS 1.3 [V2G20-1264]; test lab peers with --tolerant")
    if not 0 < args.timing_scale <= 100:
        raise ConfigError(f"--timing-scale must be in (0, 100], got {args.timing_scale:g}")
    args.capability_set = _capabilities(args.capabilities)
    creds = Credentials.from_directory(args.pki) if args.pki else None
    timing = DEFAULT_TIMING if args.timing_scale == 1.0 else DEFAULT_TIMING.scaled(args.timing_scale)
    config = RunConfig(
        timing=timing, slack=args.slack, credentials=creds, tolerant=args.tolerant, accept_timeout=args.accept_timeout
    )
    cases = select_cases(role, tuple(args.cases))
    if not cases:
        raise ConfigError(f"no {role.value} case matches {' '.join(args.cases)}")
    target = _target(args, role, creds, timing)
    started = time.time()
    try:
        results = await run_cases(cases, target, config, on_result=_print)
    finally:
        await target.aclose()
        if creds is not None:
            creds.close()
    settings = {
        "sut": role.value,
        "tls": target.tls,
        "tolerant": args.tolerant,
        "slack_s": args.slack,
        "timing": "standard (tables 215-217)" if args.timing_scale == 1 else f"standard x {args.timing_scale:g}",
        "pki": str(args.pki) if args.pki else "none",
        "cases": len(cases),
    }
    return results, RunInfo(target=str(target.name), started=started, finished=time.time(), settings=settings)


def _run(args: argparse.Namespace) -> int:
    results, info = asyncio.run(_execute(args))
    paths = write_reports(results, args.report, info)
    totals = counts(results)
    print(
        f"{totals['total']} cases: {totals['pass']} pass, {totals['fail']} fail, {totals['inconclusive']} inconclusive"
    )
    for kind, path in paths.items():
        print(f"{kind:5} {path}")
    return 1 if totals["fail"] else 0
