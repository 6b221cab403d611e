"""`v2g bench ...`: benchmarks that print measured figures."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from harness.commands._argtypes import whole
from harness.schemas_build import REPO_ROOT

__all__ = ["register"]

_VECTORS = REPO_ROOT.parent / "shared" / "vectors"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `bench codec` and `bench session`."""
    bench = sub.add_parser("bench", help="run a benchmark and print its figures")
    inner = bench.add_subparsers(dest="bench_command", metavar="BENCHMARK", required=True)
    codec = inner.add_parser("codec", help="µs per encode and decode over the EXI vector corpus")
    codec.add_argument(
        "--vectors",
        type=Path,
        default=_VECTORS,
        help="folder of vector JSON files (default: %(default)s, next to the repository; the built-in corpus if "
        "absent)",
    )
    codec.add_argument(
        "--batches", type=whole(1), default=30, help="timed batches per stream (the median is over them)"
    )
    codec.add_argument("--per-batch", type=whole(1), default=20, help="encodes or decodes per batch")
    codec.add_argument("--large-repeats", type=whole(0), default=5, help="calls per large message (0: skip them)")
    codec.add_argument("--json", action="store_true", help="machine-readable output")
    codec.set_defaults(func=_codec)
    # bench session checks its own values (harness.benchmarks.session.run_from_args): one line, exit 1.
    session = inner.add_parser("session", help="session timings and concurrent-session capacity on ::1")
    session.add_argument(
        "--protocol",
        type=str.lower,
        choices=("iso20", "iso2", "din"),
        default="iso20",
        help="iso20: ISO 15118-20 over TLS 1.3; iso2: ISO 15118-2, din: DIN 70121 (DC only), both EIM over plain "
        "TCP (default: iso20)",
    )
    session.add_argument(
        "--tls12", action="store_true", help="--protocol iso2 over TLS 1.2 with a -2 test PKI instead of plain TCP"
    )
    session.add_argument(
        "--algorithm", choices=("secp521r1", "ed448"), default="secp521r1", help="test PKI keys (iso20)"
    )
    session.add_argument(
        "--energy",
        type=str.lower,
        choices=("ac", "dc"),
        default=None,
        help="ac: AC sessions (-20: AC_BPT), dc: DC sessions (-20: DC_BPT); default ac, dc for din",
    )
    session.add_argument("--steps", default="50,100,150,200,300,400,500,600,800", help="concurrent sessions per step")
    session.add_argument("--loop-interval", type=float, default=0.1, help="s between charge loops of a session")
    session.add_argument("--connect-rate", type=float, default=20.0, help="new sessions per s while ramping up")
    session.add_argument("--window", type=float, default=5.0, help="s of measurement with all sessions looping")
    session.add_argument("--limit-ms", type=float, default=100.0, help="response latency limit of a passing step")
    session.add_argument("--workers", type=int, default=2, help="EVCC processes")
    session.add_argument("--sessions", type=int, default=10, help="sequential sessions for (a)")
    session.add_argument("--round-trips", type=int, default=200, help="charge loops for (b)")
    session.add_argument("--json", action="store_true", help="machine-readable output")
    session.set_defaults(func=_session)


def _codec(args: argparse.Namespace) -> int:
    from harness.benchmarks.codec import format_figures, run_codec_bench

    figures = run_codec_bench(
        args.vectors, batches=args.batches, per_batch=args.per_batch, large_repeats=args.large_repeats
    )
    if args.json:
        print(json.dumps(dataclasses.asdict(figures), indent=2))
    else:
        print(format_figures(figures))
    return 0


def _session(args: argparse.Namespace) -> int:
    from harness.benchmarks.session import run_from_args

    if args.energy is None:
        args.energy = "dc" if args.protocol == "din" else "ac"
    return run_from_args(args)
