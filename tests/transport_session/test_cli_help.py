"""`--help` shows every default and `v2g --version` the package's version (issue 13, item 9)."""

from __future__ import annotations

import argparse
import importlib.metadata
from collections.abc import Iterator

import pytest

import iso15118
from harness.cli import build_parser, main


def _parsers(parser: argparse.ArgumentParser, path: str = "v2g") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every parser of the command tree, with its command line (``v2g pki init``)."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def _help_of(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The help block ``--help`` prints for one option, on one line."""
    formatter = parser._get_formatter()
    formatter.add_argument(action)
    return " ".join(formatter.format_help().split())


def _has_value_default(action: argparse.Action) -> bool:
    # Flags (store_true/false/const, count of -v excepted) have no value to show; [] and None are "nothing".
    default = action.default
    if action.nargs == 0 or default in (None, argparse.SUPPRESS) or default is False:
        return False
    return not (isinstance(default, list | tuple) and not default)


def test_every_option_with_a_default_shows_it() -> None:
    missing, checked = [], 0
    for path, parser in _parsers(build_parser()):
        for action in parser._actions:
            if not _has_value_default(action):
                continue
            checked += 1
            shown = action.default if not isinstance(action.default, list | tuple) else action.default[0]
            spellings = {str(shown), format(shown, "g") if isinstance(shown, float) else str(shown)}
            text = _help_of(parser, action)
            said = [f"default: {s}" in text or f"default {s}" in text or f"{s} (default)" in text for s in spellings]
            if not any(said):
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}: {text!r}")
    assert checked >= 25 and missing == []  # the walk reaches every command family


@pytest.mark.parametrize(
    ("command", "option", "words"),
    [
        # Defaults the persona file decides: the help names the library's default.
        ("v2g evcc", "--mode", "Default: the persona's [ev] direction (charge;"),
        ("v2g evcc", "--control", "(default: dynamic)"),
        ("v2g evcc", "--auth", "(default: EIM)"),
        ("v2g evcc", "--loops", "(default: until the EV is done: its target SoC, 80 %,"),
        ("v2g evcc", "--loop-interval", "(default: 0.1 s;"),
        ("v2g evcc", "--stop", "(default: terminate)"),
        ("v2g secc", "--auth", "(default: EIM)"),
        ("v2g secc", "--control", "(default: scheduled dynamic)"),
        ("v2g pki init", "--algorithm", "default: secp521r1"),
        ("v2g decode", "--format", "(default: xml)"),
    ],
)
def test_the_defaults_the_issue_names(command: str, option: str, words: str) -> None:
    parser = dict(_parsers(build_parser()))[command]
    [action] = [a for a in parser._actions if option in a.option_strings]
    assert words in _help_of(parser, action)


def test_exit_codes_are_in_the_help_of_both_roles(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("evcc", "secc"):
        with pytest.raises(SystemExit) as exited:
            main([command, "--help"])
        assert exited.value.code == 0
        text = " ".join(capsys.readouterr().out.split())
        assert "3 stopped cleanly by SIGINT/SIGTERM" in text or "3 SIGINT/SIGTERM stopped a running session" in text
        assert "130/143 aborted by a second SIGINT/SIGTERM" in text


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        expected = importlib.metadata.version("v2gstack")
    except importlib.metadata.PackageNotFoundError:
        expected = iso15118.__version__
    assert main(["--version"]) == 0  # answered before any command family is loaded
    assert capsys.readouterr().out == f"v2g (v2gstack) {expected}\n"
    with pytest.raises(SystemExit) as exited:  # the parser's own --version says the same
        build_parser().parse_args(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"v2g (v2gstack) {expected}\n"


def test_a_command_parses_the_same_with_only_its_module_loaded() -> None:
    argv = ["evcc", "--target", "[::1]:1", "--loops", "2", "--quiet"]
    assert vars(build_parser("evcc").parse_args(argv)).keys() == vars(build_parser().parse_args(argv)).keys()
    decode = build_parser("decode")
    assert decode.parse_args(["decode", "80"]).command == "decode"
