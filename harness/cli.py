"""The `v2g` command line.

Each command family lives in its own module under :mod:`harness.commands` and defines
``register(subparsers: argparse._SubParsersAction) -> None``; the parser gives every sub-command a
``func(args) -> int``. Every parser, sub-commands included, shows each option's default in ``--help``. This module
is the only place that configures logging.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import logging
import pkgutil
import sys
from collections.abc import Sequence
from typing import Any, Final

import iso15118
from exi.errors import ExiError
from harness import commands
from iso15118.errors import V2GError

__all__ = ["V2GParser", "build_parser", "main", "version"]


def _shown_default(action: argparse.Action) -> bool:
    """True when ``--help`` should show the action's default: a value, not a flag's absence nor nothing."""
    default = action.default
    if action.nargs == 0 or default is None or default is False or default == argparse.SUPPRESS:
        return False  # flags (store_true/false/const, help, version) and options without a default
    return not (isinstance(default, list | tuple) and not default)


class _DefaultsFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to an option's help unless the help already names its default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if not _shown_default(action) or "default" in text.lower():
            return action.help
        if isinstance(action.default, list | tuple):
            return f"{text} (default: {' '.join(map(str, action.default))})"
        return f"{text} (default: %(default)s)"


class V2GParser(argparse.ArgumentParser):
    """The parser class of `v2g` and of every sub-command (added parsers inherit it): help shows defaults."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        """As argparse's; an option given no help still gets a help line when it has a default to show."""
        action = super().add_argument(*args, **kwargs)
        if not action.help and _shown_default(action):
            action.help = "(default: %(default)s)"
        return action


def version() -> str:
    """The installed distribution's version, else the library's ``__version__`` (a source checkout)."""
    try:
        return importlib.metadata.version("v2gstack")
    except importlib.metadata.PackageNotFoundError:
        return iso15118.__version__


_MODULE_OF: Final = {"decode": "codec", "encode": "codec"}
"""Commands registered by a module of another name (every other command's module bears its name)."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Build the full `v2g` parser from every module in :mod:`harness.commands`.

    With ``command``, only the module that registers it is imported (a faster start: the other command families
    are not loaded); when no module registers it that way, every module is.
    """
    parser = V2GParser(
        prog="v2g",
        description="v2gstack: ISO 15118-20 bidirectional charging stack, codec and test bench",
    )
    parser.add_argument("--version", action="version", version=f"v2g (v2gstack) {version()}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    names = sorted(info.name for info in pkgutil.iter_modules(commands.__path__) if not info.name.startswith("_"))
    wanted = _MODULE_OF.get(command, command) if command is not None else None
    if wanted in names:
        importlib.import_module(f"{commands.__name__}.{wanted}").register(sub)
        if command in sub.choices:
            return parser
        return build_parser()
    for name in names:
        importlib.import_module(f"{commands.__name__}.{name}").register(sub)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    """The command named on the command line: the first word that is not one of `v2g`'s own options."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `v2g` console script."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = _command_of(args_list)
    if command is None and "--version" in args_list and not {"-h", "--help"} & set(args_list):
        print(f"v2g (v2gstack) {version()}")  # without loading every command family
        return 0
    parser = build_parser(command)
    args = parser.parse_args(args_list)
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
    except Exception as exc:
        # Not bad input but a bug: still one line, never a traceback for the user (-vv shows it).
        if args.verbose >= 2:
            logging.exception("v2g %s failed", args.command)
        why = f"{type(exc).__name__}: {exc}"
        print(f"v2g {args.command}: internal error: {why} (-vv shows the traceback; please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
