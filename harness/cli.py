"""The `v2g` command line.

Each command family lives in its own module under :mod:`harness.commands` and defines
``register(subparsers: argparse._SubParsersAction) -> None``; the parser gives every sub-command a
``func(args) -> int``. This module is the only place that configures logging.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

from exi.errors import ExiError
from harness import commands
from iso15118.errors import V2GError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Build the full `v2g` parser from every module in :mod:`harness.commands`."""
    parser = argparse.ArgumentParser(
        prog="v2g",
        description="v2gstack: ISO 15118-20 bidirectional charging stack, codec and test bench",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `v2g` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except (ExiError, V2GError, OSError, ValueError) as exc:
        # Bad input gets a clear one-line error, never a traceback (-vv shows the traceback).
        if args.verbose >= 2:
            logging.exception("v2g %s failed", args.command)
        print(f"v2g {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
