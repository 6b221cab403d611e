"""Full virtual sessions gated by the Control Pilot: `v2g secc --cp` and `v2g evcc --cp` over a scripted board.

The board plays the pilot line between the two (tests/cp/board.py): over a pty pair per role (the serial
backend) and over MQTT topics on a mosquitto broker the test starts (the MQTT backend). The session runs on
::1 with TLS 1.3; the checks are the line's state sequence A -> B -> C -> B -> A, the EVSE's 5 % PWM once the
EV was plugged in and its PWM off after the unplug, and the session summary lines.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from iso15118.cp.states import CpState
from tests.support.netns import free_port, ipv6_loopback
from tests.transport_session import cli_support as cli
from tests.transport_session.helpers import TestPki

from .board import LineModel, MqttBridge, PtyBoard

pytestmark = pytest.mark.timeout(180)
A, B, C = CpState.A, CpState.B, CpState.C


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = cli.WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:g} s"
        time.sleep(0.05)


def _session(pki: TestPki, model: LineModel, secc_cp: str, evcc_cp: str) -> tuple[str, str, str]:
    """A charger serving until SIGTERM, one EV run; the charger stops once the board saw its PWM go off."""
    if not ipv6_loopback():
        pytest.skip("no IPv6 loopback (::1) in this environment")
    pki_dir = str(pki.layout.directory)
    port = free_port()
    argv = ["--listen", "::1", "--port", str(port), "--no-sdp", "--pki", pki_dir, "--cp", secc_cp]
    with cli.secc(argv) as server:
        ev = cli.evcc(["--target", f"[::1]:{port}", "--pki", pki_dir, "--loops", "2", "--cp", evcc_cp])
        assert ev.returncode == 0, (ev.stdout, ev.stderr)
        _wait_for(lambda: model.commands[-1:] == [("evse", "PWM OFF")], "the charger's PWM off after the unplug")
        server.proc.send_signal(signal.SIGTERM)
        code, out, err = cli.finish(server)
    assert code == 0, err
    return ev.stdout, ev.stderr, out + err


def _check(model: LineModel, ev_out: str, ev_err: str) -> None:
    assert model.history == [A, B, C, B, A], model.history
    assert ("evse", "PWM 5") in model.commands and model.commands[-1] == ("evse", "PWM OFF")
    ev_states = [c for role, c in model.commands if role == "ev" and c.startswith("STATE")]
    assert ev_states == ["STATE B", "STATE C", "STATE B", "STATE A"]
    assert ", 2 loops," in ev_out and "ended terminated" in ev_out
    assert "evcc pilot: PWM 5 %: high-level communication" in ev_err


def test_a_session_gated_by_a_serial_pilot_board_over_ptys(pki: TestPki) -> None:
    board = PtyBoard()
    try:
        evse, ev = f"serial:{board.paths['evse']}", f"serial:{board.paths['ev']}"
        ev_out, ev_err, secc_text = _session(pki, board.model, evse, ev)
    finally:
        board.close()
    _check(board.model, ev_out, ev_err)
    assert "secc pilot: A -> B: EV plugged in" in secc_text and "secc pilot: B -> A: EV unplugged" in secc_text


@pytest.fixture(scope="module")
def mosquitto() -> Iterator[int]:
    """A mosquitto broker on a free port of 127.0.0.1 (skips, saying why, when mosquitto is not installed)."""
    binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if binary is None:
        pytest.skip("mosquitto is not installed (scripts/install-test-prereqs installs it when run as root)")
    pytest.importorskip("paho.mqtt.client", reason="paho-mqtt is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "mosquitto.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while True:  # ready once it accepts connections
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        pytest.skip(f"mosquitto did not start: {proc.stdout.read() if proc.stdout else b''!r}")
                    time.sleep(0.05)
            yield port
        finally:
            proc.terminate()
            proc.wait(30)


def test_a_session_gated_by_a_pilot_over_mqtt(pki: TestPki, mosquitto: int) -> None:
    bridge = MqttBridge(mosquitto, "bench/cp")
    try:
        assert bridge.ready.wait(30)
        url = f"mqtt://127.0.0.1:{mosquitto}/bench/cp"
        ev_out, ev_err, secc_text = _session(pki, bridge.model, url, url)
    finally:
        bridge.close()
    _check(bridge.model, ev_out, ev_err)
    assert "secc pilot: A -> B: EV plugged in" in secc_text
