"""`v2g listen` watching our EVCC and SECC between two namespaces over a bridge (root).

EV namespace -- middle namespace (kernel bridge, the modem emulator on the two ports) -- EVSE namespace. The
listener sits in the middle on the EV's bridge port, like a sniffing modem on the PLC segment: SLAC (with the
emulator's modems), SDP, and a TLS 1.3 -20 session. Given the EVCC's key log it must decode every message of
the session -- the same messages, with the same JSON views, as the EVCC's own trace -- and its pcapng must
open in tshark (which decrypts the session with the key log embedded in it).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.netns import ns_command
from iso15118.slac.emulator import ModemEmulator, ModemSpec
from iso15118.slac.pib import PibRole
from iso15118.transport.listen import Dissector
from tests.slac.topology import StandInService, bridged_link, wait_for_packet_socket
from tests.support.netns import require_netns
from tests.transport_session.helpers import TestPki

pytestmark = [pytest.mark.root, pytest.mark.timeout(240)]
V2G = [sys.executable, "-m", "harness.cli"]
WAIT = 90.0


def _popen(ns: str, argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(ns_command(ns, [*V2G, *argv]), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_listen_decodes_every_message_of_a_tls13_session_and_writes_a_pcapng(pki: TestPki, tmp_path: Path) -> None:
    require_netns()
    keys, pcap, trace = tmp_path / "ev.keys", tmp_path / "watch.pcapng", tmp_path / "ev-trace.jsonl"
    pki_dir = str(pki.layout.directory)
    with bridged_link("sll") as link:
        model = ModemEmulator(
            {link.port_ev: ModemSpec(role=PibRole.EV), link.port_evse: ModemSpec()}, now=time.monotonic()
        )
        service = StandInService(link.ns_mid, [link.port_ev, link.port_evse], model)
        service.wait_ready()
        procs: list[subprocess.Popen[str]] = []
        try:
            listen = _popen(
                link.ns_mid, ["listen", "--iface", link.port_ev, "--keylog", str(keys), "--pcap", str(pcap), "--json"]
            )
            procs.append(listen)
            assert listen.stderr is not None
            assert listen.stderr.readline().startswith("v2g listen: listening on")
            secc = _popen(link.ns_evse, ["secc", "--iface", link.if_evse, "--pki", pki_dir, "--once"])
            procs.append(secc)
            assert secc.stdout is not None and secc.stdout.readline().startswith("secc listening on")
            slac = _popen(link.ns_evse, ["slac", "--iface", link.if_evse, "--role", "evse", "--timeout", "60"])
            procs.append(slac)
            wait_for_packet_socket(slac.pid, "the SLAC EVSE")
            ev = subprocess.run(
                ns_command(
                    link.ns_ev,
                    [
                        *V2G,
                        "evcc",
                        "--iface",
                        link.if_ev,
                        "--pki",
                        pki_dir,
                        "--slac",
                        "--keylog",
                        str(keys),
                        "--trace",
                        str(trace),
                        "--loops",
                        "3",
                    ],
                ),
                capture_output=True,
                text=True,
                timeout=WAIT,
                check=False,
            )
            assert ev.returncode == 0, (ev.stdout, ev.stderr)
            assert secc.wait(WAIT) == 0 and slac.wait(WAIT) == 0
            listen.send_signal(signal.SIGTERM)
            out, err = listen.communicate(timeout=WAIT)
            assert listen.returncode == 0, err
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
            service.stop()
    records = [json.loads(line) for line in out.splitlines()]
    by_proto: dict[str, list[str]] = {}
    for record in records:
        by_proto.setdefault(record["proto"], []).append(record["summary"])
    # Nothing it could not read: no TLS notes (missing keys, bad records), nothing undecoded.
    assert "tls" not in by_proto and "tcp" not in by_proto and "homeplug" not in by_proto, by_proto
    assert not [s for s in by_proto["v2gtp"] if "undecoded" in s]
    slac_names = set(by_proto["slac"])
    assert {
        "CM_SET_KEY.REQ",
        "CM_SLAC_PARM.REQ",
        "CM_SLAC_PARM.CNF",
        "CM_START_ATTEN_CHAR.IND",
        "CM_MNBC_SOUND.IND",
        "CM_ATTEN_CHAR.IND",
        "CM_ATTEN_CHAR.RSP",
        "CM_SLAC_MATCH.REQ",
        "CM_SLAC_MATCH.CNF",
    } <= slac_names
    assert any(s.startswith("SDP request") for s in by_proto["sdp"])
    assert any(s.startswith("SDP response") for s in by_proto["sdp"])
    # Every message of the session, in order, with the same JSON view as the EVCC's own trace.
    traced = [json.loads(line) for line in trace.read_text().splitlines()]
    expected = [(t["message"], t["json"]) for t in traced if t["event"] == "message"]
    seen = [(r["summary"], r["message"]) for r in records if r["proto"] == "v2gtp"]
    assert len(expected) >= 20 and [name for name, _ in seen] == [name for name, _ in expected]
    assert json.loads(json.dumps(seen, default=str)) == json.loads(json.dumps(expected, default=str))
    # The pcapng opens in tshark, which decrypts the session with the key log embedded in it.
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark is not installed: the pcapng check needs it")
    frames = subprocess.run([tshark, "-n", "-r", str(pcap)], capture_output=True, text=True, timeout=120)
    assert frames.returncode == 0, frames.stderr
    finished = subprocess.run(
        [tshark, "-n", "-r", str(pcap), "-Y", "tls.handshake.type == 20"], capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == 0 and len(finished.stdout.splitlines()) >= 2, finished.stdout
    slac_frames = subprocess.run(
        [tshark, "-n", "-r", str(pcap), "-Y", "homeplug-av"], capture_output=True, text=True, timeout=120
    )
    assert len(slac_frames.stdout.splitlines()) >= len(by_proto["slac"])


def test_the_dissector_reports_frames_it_cannot_read() -> None:
    dissector = Dissector()
    bad = bytes(12) + b"\x88\xe1" + b"\x01\x64\x60\x00\x00"  # CM_SLAC_PARM.REQ cut short
    (record,) = dissector.feed(bad, 1.0)
    assert record.proto == "homeplug" and "undecoded" in record.summary
    assert dissector.feed(b"\x00" * 10, 2.0) == []
