"""Interop: our EV matches against pyslac 0.8.3's EVSE over a veth pair (root, network for the install).

pyslac is installed by this test into its own virtual environment under ``~/.cache/v2gstack/peers/pyslac``
(``$V2G_PEER_CACHE`` overrides the parent folder) and started by ``pyslac_runner.py`` inside the EVSE's
namespace. pyslac expects the charger's modem to answer its CM_SET_KEY.REQ and to report every sound with
CM_ATTEN_PROFILE.IND, so our EV runs with the in-process modem stand-in, which plays that modem over the
wire.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.netns import VethPair, join_result, ns_command
from iso15118.slac.keys import nid_from_nmk
from iso15118.slac.timers import SlacConfig
from tests.support.netns import veth_or_skip

from .topology import slac_in

pytestmark = [pytest.mark.root, pytest.mark.interop, pytest.mark.timeout(400)]

PYSLAC = "pyslac==0.8.3"
RUNNER = Path(__file__).with_name("pyslac_runner.py")


def _peer_cache() -> Path:
    return Path(os.environ.get("V2G_PEER_CACHE", Path.home() / ".cache" / "v2gstack" / "peers"))


def _pyslac_ok(python: Path) -> bool:
    if not python.exists():
        return False
    probe = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m, pyslac.session; print(m.version('pyslac'))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return probe.returncode == 0 and probe.stdout.strip() == PYSLAC.split("==")[1]


@pytest.fixture(scope="session")
def pyslac_python() -> Path:
    """The Python of a virtual environment with pyslac 0.8.3, installed once and cached."""
    venv = _peer_cache() / "pyslac"
    python = venv / "bin" / "python"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / "pyslac.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _pyslac_ok(python):
            return python
        steps = [
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            # environs 9.5 (a pyslac dependency) breaks with marshmallow 4.
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", PYSLAC, "marshmallow<4"],
        ]
        for argv in steps:
            try:
                done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
            except subprocess.TimeoutExpired:
                pytest.skip(f"installing {PYSLAC} timed out (no network?)")
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
                pytest.skip(f"cannot install {PYSLAC} into {venv}: {' / '.join(tail)}")
        if not _pyslac_ok(python):
            pytest.skip(f"{PYSLAC} installed into {venv} but does not import")
    return python


@pytest.fixture
def veth() -> Iterator[VethPair]:
    yield from veth_or_skip("sly")


@contextlib.contextmanager
def pyslac_evse(pyslac_python: Path, veth: VethPair) -> Iterator[subprocess.Popen[str]]:
    argv = [str(pyslac_python), str(RUNNER), "--iface", veth.if_b, "--settle", "0.3", "--timeout", "25"]
    proc = subprocess.Popen(ns_command(veth.ns_b, argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


def test_our_ev_matches_pyslac_evse(veth: VethPair, pyslac_python: Path) -> None:
    # Our EV (with the modem stand-in) must be listening before pyslac asks its modem for the key.
    ev = slac_in(veth.ns_a, veth.if_a, "ev", modem_standin=True, timeout=25.0)
    time.sleep(0.2)
    with pyslac_evse(pyslac_python, veth) as proc:
        try:
            ev_result = join_result(*ev, timeout=40)
        except Exception as exc:
            proc.kill()
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"our EV did not match pyslac: {exc}\n--- pyslac log (tail) ---\n{err[-4000:]}")
        out, err = proc.communicate(timeout=40)
    reports = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert reports and reports[-1]["event"] == "result", err[-4000:]
    ready, result = reports[0], reports[-1]
    assert ready["event"] == "ready"
    assert result["matched"] is True and proc.returncode == 0, err[-4000:]
    # Both sides hold the same logical network, and pyslac's NID follows from its NMK.
    assert bytes.fromhex(result["nmk"]) == ev_result.nmk
    assert bytes.fromhex(result["nid"]) == ev_result.nid == nid_from_nmk(ev_result.nmk)
    assert bytes.fromhex(result["pev_mac"]) == ev_result.own_mac
    assert bytes.fromhex(result["evse_mac"]) == ev_result.peer_mac
    assert bytes.fromhex(result["run_id"]) == ev_result.run_id
    # pyslac counted every sound through the profiles our stand-in sent, and reported their average.
    assert result["sounds_counted"] == SlacConfig().c_ev_match_mnbc == ev_result.num_sounds
    assert result["num_groups"] == 58
    assert ev_result.attenuation_db == pytest.approx(sum(result["aag"]) / len(result["aag"]))
    # The stand-in answered pyslac's CM_SET_KEY.REQ over the wire and our own one locally.
    keys = {(k.port, k.nmk) for k in ev_result.modem_keys}
    assert keys == {("line", ev_result.nmk), ("host", ev_result.nmk)}
    assert ev_result.key_result == 0
