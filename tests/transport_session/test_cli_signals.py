"""SIGINT and SIGTERM to `v2g evcc` and `v2g secc` (issue 13, items 3 and 4): the first ends the session the
standard's way, says so on the summary line, closes the journal record and exits 3; a second aborts at once
(130 / 143); `secc --once` obeys both, also while it waits for a car.

Every test waits for a line the process prints (its listening line, the status line of the first charge loop, the
line acknowledging a signal) before it sends the next signal: never for time. Over TLS 1.3 on ::1.
"""

from __future__ import annotations

import json
import queue
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from iso15118.records.journal import read_journal
from tests.support.netns import free_port
from tests.transport_session.cli_support import V2G, WAIT
from tests.transport_session.helpers import TestPki

_FIRST_LOOP = ", 1 loop, "  # the status line of the first charge loop (stderr, not a terminal)
_ACK = "stopping cleanly (send it again to abort at once)"


class _Process:
    """A `v2g` process whose stdout and stderr lines are read as they come."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)
        self.proc = subprocess.Popen([*V2G, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: dict[str, queue.Queue[str | None]] = {"out": queue.Queue(), "err": queue.Queue()}
        self.seen: dict[str, list[str]] = {"out": [], "err": []}
        self.readers = [
            threading.Thread(target=self._read, args=(name, pipe), daemon=True)
            for name, pipe in (("out", self.proc.stdout), ("err", self.proc.stderr))
        ]
        for reader in self.readers:
            reader.start()

    def _read(self, name: str, pipe: Any) -> None:
        for line in pipe:
            self.lines[name].put(line.rstrip("\n"))
        self.lines[name].put(None)

    def wait_for(self, stream: str, wanted: Callable[[str], bool]) -> str:
        """The first line of ``stream`` ("out"/"err") that ``wanted`` accepts (fails if the process ends first)."""
        while True:
            try:
                line = self.lines[stream].get(timeout=WAIT)
            except queue.Empty:
                raise AssertionError(f"{self.argv[0]}: no such line within {WAIT} s; seen: {self.seen}") from None
            if line is None:
                raise AssertionError(f"{self.argv[0]} ended first: {self.seen} rc={self.proc.wait(WAIT)}")
            self.seen[stream].append(line)
            if wanted(line):
                return line

    def send(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def finish(self) -> tuple[int, list[str], list[str]]:
        """Wait for the exit: (exit code, every stdout line, every stderr line)."""
        code = self.proc.wait(WAIT)
        for reader in self.readers:
            reader.join(WAIT)
        for name, lines in self.lines.items():
            while (line := lines.get_nowait()) is not None:
                self.seen[name].append(line)
        return code, self.seen["out"], self.seen["err"]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # also ends a stopped (SIGSTOP) process
            self.proc.wait(WAIT)


@pytest.fixture
def spawn() -> Iterator[Callable[[Sequence[str]], _Process]]:
    started: list[_Process] = []

    def start(argv: Sequence[str]) -> _Process:
        started.append(_Process(argv))
        return started[-1]

    yield start
    for proc in started:
        proc.kill()


def _start_secc(spawn: Callable[[Sequence[str]], _Process], pki: TestPki, port: int, *extra: str) -> _Process:
    argv = ["secc", "--listen", "::1", "--port", str(port), "--no-sdp", "--pki", str(pki.layout.directory), *extra]
    server = spawn(argv)
    server.wait_for("out", lambda line: line.startswith("secc listening on "))
    return server


def _start_evcc(spawn: Callable[[Sequence[str]], _Process], pki: TestPki, port: int, *extra: str) -> _Process:
    ev = spawn(["evcc", "--target", f"[::1]:{port}", "--pki", str(pki.layout.directory), *extra])
    ev.wait_for("err", lambda line: _FIRST_LOOP in line)  # the charge loop runs: stop it mid-loop
    return ev


def _sent(trace: Path) -> list[tuple[str, dict[str, Any]]]:
    """(message, JSON view) of every message this side sent, in order."""
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    return [
        (r["message"], r["json"][r["message"]])
        for r in records
        if r.get("event") == "message" and r["direction"] == "tx"
    ]


def _ended(journal: Path) -> list[tuple[str, str | None]]:
    """(role, end reason) of every session of a journal (None: open)."""
    return [(s.role, s.end_reason) for s in read_journal(journal)]


@dataclass(frozen=True)
class _Charger:
    """One `v2g secc` (no --once) for the EV tests, with its journal."""

    server: _Process
    port: int
    journal: Path


@pytest.fixture(scope="module")
def charger(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Charger]:
    journal = tmp_path_factory.mktemp("charger") / "secc.journal"
    port = free_port()
    argv = ["secc", "--listen", "::1", "--port", str(port), "--no-sdp", "--pki", str(pki.layout.directory)]
    server = _Process([*argv, "--journal", str(journal)])
    try:
        server.wait_for("out", lambda line: line.startswith("secc listening on "))
        yield _Charger(server=server, port=port, journal=journal)
        server.send(signal.SIGTERM)  # no session runs: the usual way to stop a server, exit 0
        code, _, err = server.finish()
        assert code == 0 and err[-1].startswith("v2g secc: stopped by SIGTERM after "), err
    finally:
        server.kill()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_the_ev_mid_loop_ends_with_power_delivery_stop_and_session_stop(
    sig: signal.Signals,
    pki: TestPki,
    tmp_path: Path,
    charger: _Charger,
    spawn: Callable[[Sequence[str]], _Process],
) -> None:
    ev_journal, ev_trace = tmp_path / "ev.journal", tmp_path / "ev.jsonl"
    ev = _start_evcc(spawn, pki, charger.port, "--journal", str(ev_journal), "--trace", str(ev_trace))
    ev.send(sig)
    code, out, err = ev.finish()
    assert code == 3, (out, err)  # stopped cleanly before it was done: not what was asked, but no failure
    [line] = out
    assert line.endswith(
        f"ended terminated (SessionStop(Terminate)), notes: stopped: {sig.name}, interrupted: {sig.name}"
    )
    assert f"v2g evcc: {sig.name}: {_ACK}" in err
    sent = _sent(ev_trace)
    names = [name for name, _ in sent]
    assert names[-2:] == ["PowerDeliveryReq", "SessionStopReq"] and "AC_ChargeLoopReq" in names
    assert sent[-2][1]["ChargeProgress"] == "Stop" and sent[-1][1]["ChargingSession"] == "Terminate"
    # The charger saw a regular end; both journals closed the session.
    session = line.split("session ")[1][:16]
    secc_line = charger.server.wait_for("out", lambda text: f"session {session}" in text)
    assert secc_line.endswith("ended terminated (SessionStop(Terminate))")
    assert _ended(ev_journal) == [("evcc", "terminated")]
    assert [s.end_reason for s in read_journal(charger.journal) if s.session_id == session] == ["terminated"]


@pytest.mark.parametrize(("sig", "once"), [(signal.SIGINT, False), (signal.SIGTERM, True)])
def test_a_signal_to_the_charger_mid_loop_asks_the_ev_to_terminate(
    sig: signal.Signals,
    once: bool,
    pki: TestPki,
    tmp_path: Path,
    spawn: Callable[[Sequence[str]], _Process],
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = free_port()
    journal, trace = tmp_path / "secc.journal", tmp_path / "secc.jsonl"
    extra = ["--journal", str(journal), "--trace", str(trace), *(["--once"] if once else [])]
    server = _start_secc(spawn, pki, port, *extra)
    ev = _start_evcc(spawn, pki, port)
    server.send(sig)
    code, out, err = server.finish()
    ev_code, ev_out, _ = ev.finish()
    assert code == 3, (out, err)
    assert out[-1].endswith(f"ended terminated (SessionStop(Terminate)), interrupted: {sig.name}")
    assert f"v2g secc: {sig.name}: {_ACK}" in err
    # The EVSE notification Terminate went out in a ChargeLoopRes, then the EV closed with SessionStop.
    sent = _sent(trace)
    notes = [body["EVSEStatus"]["EVSENotification"] for name, body in sent if "EVSEStatus" in body]
    assert notes == ["Terminate"] and sent[-1][0] == "SessionStopRes"
    assert ev_code == 0 and "notifications Terminate, ended terminated (SessionStop(Terminate))" in ev_out[-1]
    assert _ended(journal) == [("secc", "terminated")]
    assert main(["sessions", "--journal", str(journal)]) == 0
    [row] = capsys.readouterr().out.splitlines()[1:]
    assert row.split()[-1] == "terminated"  # not "open"


def test_once_obeys_sigterm_while_waiting_for_a_car(pki: TestPki, spawn: Callable[[Sequence[str]], _Process]) -> None:
    server = _start_secc(spawn, pki, free_port(), "--once")
    server.send(signal.SIGTERM)
    code, out, err = server.finish()
    assert code == 3 and len(out) == 1  # the listening line only: no session
    assert err[-1] == "v2g secc: SIGTERM before any EV connected; no session to stop"


def test_a_second_signal_aborts_the_ev(pki: TestPki, spawn: Callable[[Sequence[str]], _Process]) -> None:
    port = free_port()
    server = _start_secc(spawn, pki, port, "--once")
    # The EV's timers x 100 (tolerant mode): with the charger frozen, its clean stop cannot end for 50 s.
    ev = _start_evcc(spawn, pki, port, "--tolerant", "--timing-scale", "100")
    server.send(signal.SIGSTOP)
    ev.send(signal.SIGINT)
    ev.wait_for("err", lambda line: _ACK in line)
    ev.send(signal.SIGINT)
    code, out, err = ev.finish()
    assert code == 130 and out == []
    assert err[-1] == "v2g evcc: aborted by a second SIGINT"


def test_a_second_signal_aborts_the_charger(pki: TestPki, spawn: Callable[[Sequence[str]], _Process]) -> None:
    port = free_port()
    # The charger's timers x 100: with the EV frozen it neither times out nor hears the notification, so its
    # clean stop waits (up to its 10 s grace).
    server = _start_secc(spawn, pki, port, "--tolerant", "--timing-scale", "100")
    ev = _start_evcc(spawn, pki, port)
    ev.send(signal.SIGSTOP)
    server.send(signal.SIGTERM)
    server.wait_for("err", lambda line: _ACK in line)
    server.send(signal.SIGTERM)
    code, out, err = server.finish()
    assert code == 143 and len(out) == 1
    assert err[-1] == "v2g secc: aborted by a second SIGTERM"


def test_a_signal_while_the_ev_looks_for_a_charger_stops_it_at_once(
    spawn: Callable[[Sequence[str]], _Process],
) -> None:
    # A UDP socket on the SDP port that never answers: the EV keeps asking (50 requests, 12.5 s) until stopped.
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as silent:
        silent.bind(("::1", 0))
        port = str(silent.getsockname()[1])
        sdp = ["--iface", "lo", "--sdp-destination", "::1", "--sdp-port", port, "--no-tls", "--tolerant"]
        ev = spawn(["evcc", *sdp])
        ev.wait_for("err", lambda line: line == "evcc: finding the SECC with SDP on lo")
        ev.send(signal.SIGTERM)
        code, out, err = ev.finish()
    assert code == 3 and out == []
    assert err[-1] == "v2g evcc: SIGTERM before a session started; nothing to stop"
