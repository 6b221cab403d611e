"""Every `v2g` command fed bad input (issue 13: "no traceback for any bad option"): an unknown option, a value of
the wrong type, an unknown choice, a missing file. Each ends with exit code 2 (usage, said by the parser) or 1
with one line naming what was wrong -- never a Python traceback, never an "internal error".

The unknown options, bad types and unknown choices are generated from the parsers themselves, so a new option is
covered the day it is added; the missing files and other bad values are listed per command.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.cli import build_parser, main

_MISSING = "/nonexistent-v2g/none"


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


def _rejects(kind: object, value: str) -> bool:
    """True when the option's type refuses ``value``."""
    if not callable(kind):
        return False
    try:
        kind(value)
    except (ValueError, TypeError, argparse.ArgumentTypeError):
        return True
    return False


def _usage_cases() -> list[tuple[str, ...]]:
    cases: list[tuple[str, ...]] = [("--no-such-option",), ("no-such-command",)]
    for path, parser in _parsers(build_parser()):
        if path:
            cases.append((*path, "--no-such-option"))
        for action in parser._actions:
            if not action.option_strings or action.nargs == 0:
                continue
            option = action.option_strings[-1]
            if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
                cases.append((*path, option, "no-such-choice"))
            elif _rejects(action.type, "x"):
                cases.append((*path, option, "x"))
            elif _rejects(action.type, "-1"):
                cases.append((*path, option, "-1"))
    return cases


_USAGE = _usage_cases()


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exited:  # argparse: usage errors, --help
        code = int(exited.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _clean(err: str) -> None:
    assert "Traceback" not in err and 'File "' not in err and "internal error" not in err, err


@pytest.mark.parametrize("argv", _USAGE, ids=" ".join)
def test_usage_errors_exit_2_naming_the_option(argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(list(argv), capsys)
    assert code == 2, err
    _clean(err)
    last = err.strip().splitlines()[-1]
    assert last.startswith("v2g") and ": error: " in last, err
    assert argv[-1] in last or argv[-2] in last  # names the bad value or the option


def test_the_generated_usage_cases_reach_every_command() -> None:
    commands = {argv[0] for argv in _USAGE}
    assert {"decode", "encode", "secc", "evcc", "sim", "slac", "conformance", "pki", "doctor"} <= commands
    assert {"schemas", "bench", "sessions"} <= commands
    assert len(_USAGE) > 60


_NO_TLS = ["--no-tls", "--tolerant"]
_ONE_LINE = [
    (["secc", "--config", f"{_MISSING}.toml"], f"cannot read {_MISSING}.toml"),
    (["evcc", "--config", f"{_MISSING}.toml"], f"cannot read {_MISSING}.toml"),
    (["secc", "--listen", "::1", "--pki", _MISSING], "is not a v2gstack PKI"),
    (["evcc", "--target", "[::1]:1", "--pki", _MISSING], "is not a v2gstack PKI"),
    (["secc", "--listen", "zz", *_NO_TLS, "--no-sdp"], "'zz' is not an IPv6 address"),
    (["secc", "--iface", "nope", *_NO_TLS], "no such interface: nope"),
    (["evcc", "--iface", "nope", *_NO_TLS], "no such interface: nope"),
    (["evcc", "--target", "[::1]:99999", *_NO_TLS], "port must be a number in 1-65535"),
    (["evcc", "--target", "[::1]:1", *_NO_TLS, "--trace", f"{_MISSING}/t.jsonl"], "--trace"),
    (["evcc", "--target", "[::1]:1", *_NO_TLS, "--journal", f"{_MISSING}/j"], "--journal"),
    (["secc", "--listen", "::1", *_NO_TLS, "--no-sdp", "--energy", "wpt"], "unknown energy 'wpt'"),
    (["evcc", "--target", "[::1]:1", *_NO_TLS, "--protocols", "iso15"], "unknown protocol 'iso15'"),
    (["pki", "show", _MISSING], "is neither a directory nor a file"),
    (["pki", "verify", _MISSING, "--roots", _MISSING], "No such file or directory"),
    (["sessions", "--journal", _MISSING], "no such journal file"),
    (["sim"], "name a SCENARIO"),
    (["sim", "no-such-scenario"], "no scenario 'no-such-scenario'"),
    (["sim", f"{_MISSING}.toml"], "cannot read scenario"),
    (["sim", "--pki", _MISSING, "charge"], "is not a v2gstack PKI"),
    (["slac", "--iface", "nope", "--role", "ev", "--timeout", "1"], "nope"),
    (["slac", "--iface", "lo", "--role", "evse", "--nmk", "zz"], "--nmk must be hex digits"),
    (["schemas", "compile", "--xsd-dir", _MISSING, "--check"], "does not exist"),
    (["bench", "session", "--steps", "x"], "--steps must be comma-separated integers"),
    (["encode", f"{_MISSING}.xml"], "No such file or directory"),
]


@pytest.mark.parametrize(("argv", "words"), _ONE_LINE, ids=[" ".join(a) for a, _ in _ONE_LINE])
def test_bad_values_and_missing_files_exit_1_with_one_line(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(argv, capsys)
    _clean(err)
    assert code == 1 and len(err.strip().splitlines()) == 1 and words in err, err


def test_pki_init_where_it_cannot_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = _run(["pki", "init", str(blocker / "pki")], capsys)
    _clean(err)
    assert code == 1 and len(err.strip().splitlines()) == 1 and str(blocker) in err, err


def test_decode_names_the_bad_stream_with_its_detail(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["decode", "zz"], capsys)
    _clean(err)
    first, *details = err.strip().splitlines()
    assert code == 1 and "cannot decode zz" in first and all(line.startswith(" ") for line in details), err


def test_doctor_reports_a_missing_pki_as_a_failed_check(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["doctor", "--pki", _MISSING], capsys)
    _clean(err)
    assert code == 1 and "FAIL  pki" in out and f"{_MISSING} is not a directory" in out


def test_conformance_names_an_unknown_fault(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["conformance", "run", "--sut", "secc", "--own", "--fault", "nope", "--report", str(tmp_path)]
    code, _, err = _run(argv, capsys)
    _clean(err)
    assert code in (1, 2) and "nope" in err.strip().splitlines()[-1]
