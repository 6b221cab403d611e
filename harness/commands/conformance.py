"""`v2g conformance`: list the test cases, run them against an SECC or EVCC, write JUnit, JSON and HTML reports.

::

    v2g conformance list [--sut secc|evcc] [--protocol iso20|iso2|din] [--cases PATTERN ...]
    v2g conformance faults
    v2g conformance run --sut secc --target [fe80::1%eth1]:50000 --pki DIR --report out/
    v2g conformance run --sut secc --iface eth1 --pki DIR --report out/          # SDP finds the SECC
    v2g conformance run --sut evcc --iface eth1 --pki DIR --report out/          # the tester is the SECC (+SDP)
    v2g conformance run --sut secc --own --report out/ [--fault secc-slow]      # our own stack, in-process
    v2g conformance run --sut evcc --protocol din --own --report out/           # DIN 70121 (or iso2: -2)

Every option is checked before anything runs: a bad value is a usage error (exit 2) naming what is accepted.
The SUT is found once per run; when it cannot be found or reached, or goes away, the run stops, the reports
say so (JUnit ``<error>``) and the exit status is 1, as it is when a case failed; inconclusive cases do not
fail a run (exit 0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

from harness.conformance.cases import select_cases
from harness.conformance.context import RunConfig
from harness.conformance.credentials import Credentials
from harness.conformance.faulty import FAULTS, fault
from harness.conformance.model import CaseResult, Category, Need, SutRole, Verdict
from harness.conformance.own import OwnEvcc, OwnSecc
from harness.conformance.protocol import Generation
from harness.conformance.report import RunInfo, counts, write_reports
from harness.conformance.run import run_cases, run_error
from harness.conformance.sutfault import Fault
from harness.conformance.targets import ALL_CAPABILITIES, ListeningEvcc, RemoteSecc
from iso15118.errors import ConfigError
from iso15118.security.pki import init_pki
from iso15118.session.timers import DEFAULT_TIMING
from iso15118.transport.tcp import parse_endpoint
from iso15118.transport.udp import interface_index

__all__ = ["register"]

_CATEGORIES = ", ".join(c.value for c in Category)
_CAPABILITIES = ", ".join(sorted(n.value for n in ALL_CAPABILITIES))
_PROTOCOLS = [g.value for g in Generation]
_ID_WIDTH = 16  # SECC-ISO2-SEQ-01
_PROTOCOL_HELP = (
    "the protocol generation the cases speak: iso20 (ISO 15118-20), iso2 (ISO 15118-2), din (DIN 70121) "
    "(default: iso20)"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``conformance`` command family."""
    parser = subparsers.add_parser(
        "conformance",
        help="ISO 15118-20, ISO 15118-2 and DIN 70121 conformance test cases against an SECC or EVCC",
        description="Play the tester against an SECC (the tester is the EV) or an EVCC (the tester is the SECC), "
        "check the rules of the chosen generation (--protocol) independently of either peer, and write JUnit XML, "
        "JSON and HTML reports.",
    )
    sub = parser.add_subparsers(dest="conformance_command", metavar="SUBCOMMAND", required=True)
    listing = sub.add_parser("list", help="list the test cases")
    listing.add_argument("--sut", choices=["secc", "evcc"], help="only the cases for this SUT role")
    listing.add_argument("--protocol", choices=_PROTOCOLS, default="iso20", help=_PROTOCOL_HELP)
    listing.add_argument(
        "--cases",
        nargs="*",
        default=[],
        metavar="PATTERN",
        help=f"case IDs or categories, shell patterns allowed (e.g. 'SECC-SEQ-*' timing); categories: {_CATEGORIES}",
    )
    listing.add_argument("--json", action="store_true", help="print the cases as JSON")
    listing.set_defaults(func=_list, usage_error=listing.error)
    faults = sub.add_parser("faults", help="list the deliberately broken variants of our own SUT")
    faults.set_defaults(func=_faults)
    run = sub.add_parser(
        "run",
        help="run test cases and write the reports",
        description="Run test cases against an SECC or EVCC and write conformance.xml (JUnit), conformance.json "
        "and conformance.html. Exit status: 0 when no case failed (inconclusive cases do not fail a run); 1 when a "
        "case failed, or when the SUT was not found or went away (the reports say so, as JUnit errors); 2 for bad "
        "usage.",
    )
    run.add_argument("--sut", required=True, choices=["secc", "evcc"], help="what is under test")
    run.add_argument("--protocol", choices=_PROTOCOLS, default="iso20", help=_PROTOCOL_HELP)
    where = run.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--target", metavar="[ADDR%IF]:PORT", help="SUT secc: the SECC's endpoint; SUT evcc: where the tester listens"
    )
    where.add_argument(
        "--iface",
        metavar="IF",
        help="SUT secc: find the SECC with SDP (once per run); SUT evcc: listen on the interface's link-local "
        "address and answer SDP",
    )
    where.add_argument(
        "--own",
        action="store_true",
        help="v2gstack's own SECC/EVCC, in-process over TLS on ::1 (self-test); without --pki the run makes a "
        "throwaway test PKI, so that every case runs",
    )
    run.add_argument(
        "--cases", nargs="*", default=[], metavar="PATTERN", help=f"case IDs or categories to run ({_CATEGORIES})"
    )
    run.add_argument(
        "--pki",
        type=Path,
        metavar="DIR",
        help="the tester's `v2g pki init` directory (TLS identities, PnC contract); with --own the default is a "
        "throwaway test PKI made for the run",
    )
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
        type=_number(low=0.0, high=100.0, above=True),
        default=1.0,
        metavar="F",
        help="multiply every time limit of the standard by F, 0 < F <= 100 (reported with the results; default 1)",
    )
    run.add_argument(
        "--slack",
        type=_number(low=0.0),
        default=0.5,
        metavar="S",
        help="seconds added to every limit the SUT must keep (default 0.5)",
    )
    run.add_argument(
        "--capabilities",
        type=_capability_set,
        metavar="LIST",
        help=f"what the SUT supports, comma-separated (default all): {_CAPABILITIES}",
    )
    run.add_argument("--sut-command", metavar="CMD", help="SUT evcc: shell command that starts the EVCC for each case")
    run.add_argument(
        "--accept-timeout",
        type=_number(low=0.0, above=True),
        default=20.0,
        metavar="S",
        help="SUT evcc: how long to wait for the EVCC to connect (default 20: a run whose EVCC never connects "
        "ends in error within 30 s)",
    )
    run.add_argument(
        "--fault",
        type=_fault,
        metavar="NAME",
        help="with --own: break our SUT this way (`v2g conformance faults` lists them)",
    )
    run.set_defaults(func=_run, usage_error=run.error)


UsageError = Callable[[str], NoReturn]


def _number(*, low: float, high: float = math.inf, above: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number >= ``low`` (> with ``above``) and <= ``high``."""
    bound = f"{'>' if above else '>='} {low:g}" + (f" and <= {high:g}" if math.isfinite(high) else "")

    def number(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number {bound}, got {text!r}") from None
        if not (math.isfinite(value) and (value > low if above else value >= low) and value <= high):
            raise argparse.ArgumentTypeError(f"must be a number {bound}, got {text}")
        return value

    return number


def _fault(text: str) -> Fault:
    try:
        return fault(text)
    except KeyError:
        known = ", ".join(f.name for f in FAULTS)
        raise argparse.ArgumentTypeError(f"unknown fault {text!r}; known: {known}") from None


def _capability_set(text: str) -> frozenset[Need]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    known = {n.value for n in ALL_CAPABILITIES}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown capability {unknown[0]!r}; known: {_CAPABILITIES}")
    return frozenset(Need(name) for name in names)


def _role(text: str | None) -> SutRole | None:
    return SutRole(text) if text else None


def _check_patterns(patterns: list[str], role: SutRole | None, protocol: str, error: UsageError) -> None:
    """Every ``--cases`` pattern must select at least one case (of ``role``, in ``protocol``)."""
    for pattern in patterns:
        if not select_cases(role, (pattern,), protocol):
            which = f"{role.value} " if role else ""
            error(
                f"--cases: {pattern!r} matches no {which}case ID or category of --protocol {protocol} (categories: "
                f"{_CATEGORIES}; `v2g conformance list --protocol {protocol}` shows the IDs)"
            )


def _list(args: argparse.Namespace) -> int:
    _check_patterns(args.cases, _role(args.sut), args.protocol, args.usage_error)
    cases = select_cases(_role(args.sut), tuple(args.cases), args.protocol)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": c.id,
                        "title": c.title,
                        "sut": c.sut.value,
                        "category": c.category.value,
                        "protocols": sorted(g.value for g in c.protocols),
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
        print(f"{case.id:{_ID_WIDTH}} {case.category.value:17} {case.title}{needs}")
        print(f"{'':{_ID_WIDTH}} {'':17} {', '.join(case.requirements)}")
    print(f"{len(cases)} cases")
    return 0


def _faults(args: argparse.Namespace) -> int:
    for item in FAULTS:
        print(f"{item.name:28} {item.role.value}  {item.description}")
    return 0


def _validate(args: argparse.Namespace, role: SutRole, error: UsageError) -> None:
    """Every check that needs no network: bad combinations and values are usage errors naming what is wrong."""
    if not args.tls and not args.tolerant and args.protocol == Generation.ISO20:
        error("--no-tls needs --tolerant: plain TCP is refused, -20 mandates TLS 1.3 [V2G20-1264]")
    if args.protocol == Generation.DIN and args.tls and not args.own:
        error("--protocol din: DIN 70121 runs on plain TCP, add --no-tls")
    _check_patterns(args.cases, role, args.protocol, error)
    if args.fault is not None:
        if not args.own:
            error("--fault applies to our own SUT only (--own)")
        if args.fault.role is not role:
            error(f"fault {args.fault.name} breaks the {args.fault.role.value}, not the {role.value}")
    if args.own and args.capabilities is not None:
        error("--capabilities describes a SUT under test; our own SUT (--own) has every capability")
    if args.sut_command and (role is not SutRole.EVCC or args.own):
        error("--sut-command starts an EVCC under test: it goes with --sut evcc and --target or --iface")
    args.endpoint = None
    if args.target is not None:
        try:
            args.endpoint = parse_endpoint(args.target)
        except ConfigError as exc:
            error(f"--target: {exc}")
    if args.iface is not None:
        try:
            interface_index(args.iface)
        except ConfigError as exc:
            error(f"--iface: {exc}")
    if role is SutRole.EVCC and not args.own and args.tls and args.pki is None:
        error("the tester needs its PKI (--pki) to play a TLS SECC (or --no-tls --tolerant)")


def _report_dir(path: Path, error: UsageError) -> None:
    """``--report`` is a directory the tester can write (created when missing)."""
    if path.exists() and not path.is_dir():
        error(f"--report: {path} exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        error(f"--report: cannot create {path}: {exc.strerror or exc}")
    if not os.access(path, os.W_OK | os.X_OK):
        error(f"--report: {path} is not writable")


@contextlib.contextmanager
def _credentials(args: argparse.Namespace, error: UsageError) -> Iterator[tuple[Credentials | None, str]]:
    """The tester's PKI and how to report it: ``--pki``; with ``--own`` and no ``--pki`` a throwaway test PKI
    (our SUT trusts it too), so that the TLS, PnC and certificate cases run; else none."""
    scratch: tempfile.TemporaryDirectory[str] | None = None
    creds: Credentials | None = None
    label = "none"
    if args.pki is not None:
        try:
            creds = Credentials.from_directory(args.pki)
        except ConfigError as exc:
            error(f"--pki: {exc}")
        label = str(args.pki)
    elif args.own:
        scratch = tempfile.TemporaryDirectory(prefix="v2g-conformance-pki-")
        directory = Path(scratch.name) / "pki"
        init_pki(directory)
        creds = Credentials.from_directory(directory)
        label = "throwaway test PKI made for this run"
    try:
        yield creds, label
    finally:
        if creds is not None:
            creds.close()
        if scratch is not None:
            scratch.cleanup()


def _target(args: argparse.Namespace, role: SutRole, creds: Credentials | None, timing: Any) -> Any:
    if args.own:
        transport = "tls" if args.tls and creds is not None else "memory"
        if args.protocol != Generation.ISO20:
            transport = "tcp"  # our -2 and DIN stacks run without TLS for now (see harness.conformance.own)
        own = OwnSecc if role is SutRole.SECC else OwnEvcc
        return own(transport=transport, credentials=creds, timing=timing, fault=args.fault, protocol=args.protocol)
    caps = ALL_CAPABILITIES if args.capabilities is None else args.capabilities
    if role is SutRole.SECC:
        return RemoteSecc(endpoint=args.endpoint, iface=args.iface, tls=args.tls, capabilities=caps)
    return ListeningEvcc(
        listen=args.endpoint, iface=args.iface, tls=args.tls, capabilities=caps, command=args.sut_command
    )


_MARKS = {Verdict.PASS: "pass", Verdict.FAIL: "FAIL", Verdict.INCONCLUSIVE: "inconclusive", Verdict.ERROR: "ERROR"}


def _print(result: CaseResult) -> None:
    mark = _MARKS[result.verdict]
    print(f"{result.case.id:{_ID_WIDTH}} {mark:12} {result.duration:7.2f} s  {result.reason}", flush=True)


async def _execute(
    args: argparse.Namespace, role: SutRole, creds: Credentials | None, pki: str
) -> tuple[list[CaseResult], RunInfo]:
    timing = DEFAULT_TIMING if args.timing_scale == 1.0 else DEFAULT_TIMING.scaled(args.timing_scale)
    config = RunConfig(
        timing=timing,
        slack=args.slack,
        credentials=creds,
        tolerant=args.tolerant,
        accept_timeout=args.accept_timeout,
        protocol=args.protocol,
    )
    cases = select_cases(role, tuple(args.cases), args.protocol)
    target = _target(args, role, creds, timing)
    started = time.time()
    try:
        results = await run_cases(cases, target, config, on_result=_print)
    finally:
        await target.aclose()
    settings = {
        "sut": role.value,
        "protocol": args.protocol,
        "tls": target.tls,
        "tolerant": args.tolerant,
        "slack_s": args.slack,
        "timing": "standard (tables 215-217)" if args.timing_scale == 1 else f"standard x {args.timing_scale:g}",
        "pki": pki,
        "cases": len(cases),
    }
    info = RunInfo(
        target=str(target.name), started=started, finished=time.time(), settings=settings, error=run_error(results)
    )
    return results, info


def _run(args: argparse.Namespace) -> int:
    error: UsageError = args.usage_error
    role = SutRole(args.sut)
    _validate(args, role, error)
    with _credentials(args, error) as (creds, pki):
        _report_dir(args.report, error)
        results, info = asyncio.run(_execute(args, role, creds, pki))
    paths = write_reports(results, args.report, info)
    totals = counts(results)
    errors = f", {totals['error']} error" if totals["error"] else ""
    print(
        f"{totals['total']} cases: {totals['pass']} pass, {totals['fail']} fail, "
        f"{totals['inconclusive']} inconclusive{errors}"
    )
    for kind, path in paths.items():
        print(f"{kind:5} {path}")
    if info.error is not None:
        print(f"v2g conformance: error: {info.error}", file=sys.stderr)
        return 1
    return 1 if totals["fail"] else 0
