"""`v2g doctor`: check this machine for what most often breaks a first run (logic: :mod:`harness.doctor`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.doctor import exit_code, format_report, run_checks

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``doctor`` command."""
    parser = subparsers.add_parser(
        "doctor",
        help="check interface, IPv6, SDP port, multicast, raw-socket rights, PKI and libraries",
        description="Print each check as OK / FAIL / SKIP with a fix; exit 0 when nothing failed, else 1.",
    )
    parser.add_argument("--iface", metavar="IF", help="network interface to the EV/EVSE (e.g. eth1, a veth end)")
    parser.add_argument("--pki", metavar="DIR", type=Path, help="PKI folder to verify")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the checks, print the report, return the exit code."""
    results = run_checks(args.iface, args.pki)
    print(format_report(results))
    return exit_code(results)
