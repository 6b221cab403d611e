"""The README's `v2g` commands, as written (issue 13: "every `v2g` line in the README runs, or is marked as needing
hardware/root and is skipped with that reason").

Every `v2g ...` line of a README code block, and every inline `v2g ...` of the "Command line" and "Field testing"
sections, is checked against the parsers: each command, option and choice it names must exist (synopsis lines
such as ``v2g decode [--schema S] [--format xml|json] HEX...`` included). Every code-block line without a
placeholder is then run in README order, from one temporary folder (so ``pki/``, ``out/`` and journal names are
files there), each within a time bound:

* ``eth1`` is the only text replaced: by the ends of a veth pair between two network namespaces (the charger's
  end for ``secc`` and ``doctor``, the other for ``evcc``), which needs root; without root those lines skip;
* a server (``v2g secc``) is started, checked for its listening line, left running for the lines after it and
  stopped with SIGTERM at the end (exit 0: its one session did what was asked);
* a long run (``conformance run --own``: minutes, its timing cases wait out the standard's timers) is started,
  checked for its first verdict line and stopped;
* a conformance run against a SUT on ``eth1`` needs that charger or EV (hardware) and skips saying so.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.cli import build_parser
from harness.netns import VethPair, netns_available, ns_command, veth_pair

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
V2G = [sys.executable, "-m", "harness.cli"]
WAIT = 60.0
_PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_]*(\.[a-z]+)?(\.\.\.)?")
_VERDICT = re.compile(r"^(SECC|EVCC)-\S+\s+(pass|fail|inconclusive)\b")
_INLINE_SECTIONS = ("## Command line", "## Field testing")


@dataclass(frozen=True)
class Command:
    """One `v2g` command of the README: its text (comment removed) and where it is."""

    text: str
    line: int
    block: bool

    @property
    def tokens(self) -> list[str]:
        return self.text.replace(" | ", "|").replace("[", " ").replace("]", " ").split()

    @property
    def synopsis(self) -> bool:
        """A usage pattern (brackets, alternatives, placeholders), not a command to run."""
        marks = any(mark in self.text for mark in ("[", "|", "..."))
        return marks or any(_PLACEHOLDER.fullmatch(tok) for tok in self.tokens[1:])


def _readme_commands() -> list[Command]:
    lines = README.read_text(encoding="utf-8").splitlines()
    found: list[Command] = []
    fenced = False
    for number, line in enumerate(lines, 1):
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            text = re.split(r"\s+#", line.strip(), maxsplit=1)[0].strip()
            if text.startswith("v2g ") or text == "v2g":
                found.append(Command(text=text, line=number, block=True))
    # Inline code may wrap onto the next line: search the text of each section, not line by line.
    text = "\n".join(lines)
    for heading in _INLINE_SECTIONS:
        start = text.index(heading)
        end = text.find("\n## ", start + 1)
        body = text[start : end if end > 0 else len(text)]
        offset = text[:start].count("\n") + 1
        for match in re.finditer(r"`(v2g [^`]+)`", body):
            number = offset + body[: match.start()].count("\n")
            found.append(Command(text=" ".join(match.group(1).split()), line=number, block=False))
    return found


COMMANDS = _readme_commands()
RUNNABLE = [c for c in COMMANDS if c.block and not c.synopsis]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _placeholder(token: str) -> bool:
    return token == "..." or bool(_PLACEHOLDER.fullmatch(token))


def _problems(command: Command) -> list[str]:
    """What in the command's text does not exist in the parsers (empty: everything does)."""
    tokens = command.tokens
    assert tokens[0] == "v2g"
    parsers = [build_parser()]
    rest = tokens[1:]
    # Descend through command words; "a|b" names alternatives (``pki init|show|verify``).
    while rest and not rest[0].startswith("-"):
        names = rest[0].split("|")
        subs = [_subparsers(p).get(name) for p in parsers for name in names]
        if any(s is None for s in subs) or not subs:
            break
        parsers = [s for s in subs if s is not None]
        rest = rest[1:]
    problems = []
    for i, token in enumerate(rest):
        if not token.startswith("-"):
            continue
        name = token.split("=")[0]
        actions = [p._option_string_actions[name] for p in parsers if name in p._option_string_actions]
        if not actions:
            problems.append(f"{name}: no such option of `{' '.join(tokens[:2])}`")
            continue
        action = actions[0]
        value = rest[i + 1] if i + 1 < len(rest) else None
        if action.nargs == 0 or value is None or value.startswith("-") or _placeholder(value):
            continue
        for alternative in value.split("|"):
            try:
                converted: Any = action.type(alternative) if callable(action.type) else alternative
            except (ValueError, TypeError, argparse.ArgumentTypeError) as exc:
                problems.append(f"{name} {alternative}: refused by the option's type: {exc}")
                continue
            if action.choices is not None and converted not in action.choices:
                problems.append(f"{name} {alternative}: not one of {sorted(action.choices)}")
    return problems


def test_the_readme_has_commands_to_check() -> None:
    assert len(COMMANDS) > 20 and len(RUNNABLE) >= 5
    assert any(not c.block for c in COMMANDS)  # the inline ones are found too


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: f"L{c.line}:{c.text}")
def test_every_command_option_and_choice_exists(command: Command) -> None:
    assert _problems(command) == [], f"README.md line {command.line}: {command.text}"


# ---- running them -------------------------------------------------------------------------------------
@dataclass
class _Workspace:
    """The temporary folder the README's commands run in, the namespaces standing in for eth1, the servers."""

    cwd: Path
    veth: VethPair | None = None
    why_no_veth: str = ""
    servers: list[tuple[Command, subprocess.Popen[str], str]] = field(default_factory=list)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Workspace]:
    space = _Workspace(cwd=tmp_path_factory.mktemp("readme"))
    ok, reason = netns_available()
    with veth_pair("rdm") if ok else contextlib.nullcontext() as veth:
        space.veth = veth
        space.why_no_veth = reason
        try:
            yield space
        finally:
            for command, proc, _ in space.servers:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                try:
                    out, err = proc.communicate(timeout=WAIT)
                finally:
                    if proc.poll() is None:
                        proc.kill()
                # A server stopped with no session running: exit 0 when its sessions did what was asked.
                assert proc.returncode == 0, (command.text, out, err)


def _argv(command: Command, space: _Workspace) -> list[str]:
    """The command's argv (``eth1`` replaced by the right veth end), run in the right namespace."""
    tokens = command.tokens[1:]
    if "eth1" not in tokens:
        return [*V2G, *tokens]
    if space.veth is None:
        pytest.skip(f"needs root: eth1 is played by a veth pair between two network namespaces ({space.why_no_veth})")
    ev_side = tokens[0] == "evcc"
    ns, iface = (space.veth.ns_b, space.veth.if_b) if ev_side else (space.veth.ns_a, space.veth.if_a)
    return ns_command(ns, [*V2G, *(iface if t == "eth1" else t for t in tokens)])


def _start(argv: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _first_line(proc: subprocess.Popen[str], wanted: re.Pattern[str]) -> str:
    assert proc.stdout is not None
    for line in proc.stdout:
        if wanted.search(line):
            return line
    raise AssertionError(f"ended without a line matching {wanted.pattern}: {proc.communicate(timeout=WAIT)}")


@pytest.mark.parametrize("command", RUNNABLE, ids=lambda c: f"L{c.line}:{c.text}")
def test_every_runnable_command_runs_as_written(command: Command, workspace: _Workspace) -> None:
    tokens = command.tokens[1:]
    if tokens[:2] == ["conformance", "run"] and "--own" not in tokens:
        pytest.skip("needs a charger or an EV under test on eth1 (hardware); the --own lines run our own SUT")
    argv = _argv(command, workspace)
    if tokens[0] == "secc":  # a server: started, checked for its listening line, stopped at the end
        proc = _start(argv, workspace.cwd)
        listening = _first_line(proc, re.compile(r"^secc listening on "))
        workspace.servers.append((command, proc, listening))
        return
    if tokens[:2] == ["conformance", "run"]:  # minutes long: started, checked for a first verdict, stopped
        proc = _start(argv, workspace.cwd)
        try:
            assert _VERDICT.search(_first_line(proc, _VERDICT))
        finally:
            proc.kill()
            proc.communicate(timeout=WAIT)
        return
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(argv, cwd=workspace.cwd, env=env, capture_output=True, text=True, timeout=WAIT)
    assert done.returncode == 0, (command.text, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    if tokens[0] == "evcc":
        assert done.stdout.strip().endswith("ended terminated (SessionStop(Terminate))"), done.stdout
    if tokens[0] == "sessions":
        rows = done.stdout.splitlines()[1:]
        assert rows and all(row.split()[-1] == "terminated" for row in rows), done.stdout
