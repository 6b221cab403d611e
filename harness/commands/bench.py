"""`v2g bench ...`: benchmarks that print measured figures."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from harness.schemas_build import REPO_ROOT

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `bench codec`."""
    bench = sub.add_parser("bench", help="run a benchmark and print its figures")
    inner = bench.add_subparsers(dest="bench_command", metavar="BENCHMARK", required=True)
    codec = inner.add_parser("codec", help="µs per encode and decode over the EXI vector corpus")
    codec.add_argument(
        "--vectors",
        type=Path,
        default=REPO_ROOT.parent / "shared" / "vectors",
        help="folder of vector JSON files (default ../shared/vectors; built-in corpus if absent)",
    )
    codec.add_argument("--batches", type=int, default=30)
    codec.add_argument("--per-batch", type=int, default=20)
    codec.add_argument("--json", action="store_true", help="machine-readable output")
    codec.set_defaults(func=_codec)


def _codec(args: argparse.Namespace) -> int:
    from harness.benchmarks.codec import format_figures, run_codec_bench

    figures = run_codec_bench(args.vectors, batches=args.batches, per_batch=args.per_batch)
    if args.json:
        print(json.dumps(dataclasses.asdict(figures), indent=2))
    else:
        print(format_figures(figures))
    return 0
