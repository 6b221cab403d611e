"""SDP (link-local multicast) + TLS 1.3 + a full session between two network namespaces joined by veth (root).

Namespace ``a`` is the charger, ``b`` the vehicle. The library test runs each side's asyncio loop in a thread
that joined its namespace; the CLI tests run `v2g secc` / `v2g evcc` (and, for SLAC first, `v2g slac`)
as processes inside the namespaces: an AC_BPT session after SLAC, and -20 DC and DC_BPT sessions (charge and
discharge, Scheduled and Dynamic, EIM and PnC) against one DC charger on a second veth pair.
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from ipaddress import IPv6Address
from pathlib import Path

import pytest

from harness.netns import VethPair, join_result, ns_command, run_in_netns
from iso15118.config import EvccConfig
from iso15118.constants import SdpSecurity
from iso15118.simple import SimpleEV, SimpleEVSE
from iso15118.transport.evcc_client import EvccClientConfig, EvccRun, run_evcc
from iso15118.transport.policy import TransportPolicy
from iso15118.transport.secc_server import ConnectionReport, SeccServer, SeccServerConfig
from tests.support.netns import veth_or_skip
from tests.transport_session import cli_support as cli
from tests.transport_session.helpers import TestPki

pytestmark = pytest.mark.root

V2G = [sys.executable, "-m", "harness.cli"]
WAIT = 60.0


@pytest.fixture(scope="module")
def veth() -> Iterator[VethPair]:
    yield from veth_or_skip("g1s")


@pytest.mark.timeout(120)
def test_sdp_tls_session_between_namespaces(veth: VethPair, pki: TestPki) -> None:
    ready = threading.Event()
    announced: list[str] = []

    async def charger() -> ConnectionReport:
        config = SeccServerConfig(policy=TransportPolicy(tls=pki.secc_tls()), iface=veth.if_a, sdp=True)
        async with SeccServer(config, SimpleEVSE) as server:
            announced.append(str(server.endpoint))
            ready.set()
            return await asyncio.wait_for(server.next_report(), WAIT)

    async def vehicle() -> EvccRun:
        client = EvccClientConfig(policy=TransportPolicy(tls=pki.evcc_tls()), iface=veth.if_b)
        return await run_evcc(client, SimpleEV(), EvccConfig(max_loops=3, loop_interval_s=0.01))

    secc_thread, secc_box = run_in_netns(veth.ns_a, lambda: asyncio.run(charger()))
    assert ready.wait(WAIT)
    evcc_thread, evcc_box = run_in_netns(veth.ns_b, lambda: asyncio.run(vehicle()))
    run = join_result(evcc_thread, evcc_box, WAIT)
    report = join_result(secc_thread, secc_box, WAIT)
    assert run.ok and report.ok
    # SDP over ff02::1 found the charger's link-local address; TCP went there with the veth's scope id.
    assert run.sdp is not None and run.sdp.response.address == IPv6Address(veth.lladdr_a)
    assert run.sdp.response.security is SdpSecurity.TLS
    assert announced == [f"[{veth.lladdr_a}%{veth.if_a}]:{run.endpoint.port}"]
    assert run.endpoint.address == IPv6Address(veth.lladdr_a) and run.endpoint.iface == veth.if_b
    assert report.peer.startswith(f"[{veth.lladdr_b}")
    assert run.tls is not None and report.tls is not None and run.tls.version == report.tls.version == "TLSv1.3"
    assert run.outcome.session_id == report.outcome.session_id  # type: ignore[union-attr]
    assert run.outcome.loops == 3


def _wait_for_packet_socket(pid: int, who: str, timeout: float = WAIT) -> None:
    """Wait until the namespace of process ``pid`` has a raw packet socket (``who`` is listening)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if len(Path(f"/proc/{pid}/net/packet").read_text().splitlines()) > 1:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{who} did not open its packet socket")


@pytest.mark.timeout(180)
@pytest.mark.parametrize("first", ["evse", "ev"])
def test_cli_slac_sdp_tls_session_between_namespaces(veth: VethPair, pki: TestPki, first: str) -> None:
    """`v2g slac --role evse` and `v2g evcc --slac` started in either order: each waits for the other (the EVSE
    repeats CM_SET_KEY.REQ until the EV's in-process modem stand-in answers), so the test waits for readiness
    (the first process's packet socket), never for time."""
    pki_dir = str(pki.layout.directory)
    evcc_argv = [*V2G, "evcc", "--iface", veth.if_b, "--pki", pki_dir, "--slac", "--modem-standin", "--loops", "3"]
    secc = subprocess.Popen(
        ns_command(veth.ns_a, [*V2G, "secc", "--iface", veth.if_a, "--pki", pki_dir, "--once"]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    procs = [secc]

    def start_ev() -> subprocess.Popen[str]:
        ev = subprocess.Popen(
            ns_command(veth.ns_b, [*evcc_argv, "--mode", "discharge"]),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(ev)
        return ev

    def start_slac() -> subprocess.Popen[str]:
        slac = subprocess.Popen(
            ns_command(veth.ns_a, [*V2G, "slac", "--iface", veth.if_a, "--role", "evse", "--timeout", "60"]),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(slac)
        return slac

    try:
        assert secc.stdout is not None
        listening = secc.stdout.readline()
        assert listening.startswith(f"secc listening on [{veth.lladdr_a}%{veth.if_a}]:"), listening
        if first == "evse":
            slac = start_slac()
            _wait_for_packet_socket(slac.pid, "the SLAC EVSE")
            ev = start_ev()
        else:
            ev = start_ev()
            _wait_for_packet_socket(ev.pid, "the SLAC EV")
            slac = start_slac()
        ev_out, ev_err = ev.communicate(timeout=WAIT)
        slac_out, slac_err = slac.communicate(timeout=WAIT)
        # An EV that failed leaves the --once server waiting: say why now (the finally kills the server).
        assert ev.returncode == 0, (ev_out, ev_err, slac_out, slac_err)
        secc_out, secc_err = secc.communicate(timeout=WAIT)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert secc.returncode == 0, secc_err
    assert slac.returncode == 0 and "matched as evse" in slac_out
    assert ev_out.startswith(f"evcc [{veth.lladdr_a}%{veth.if_b}]:")
    assert "AC_BPT dynamic, EIM, channel Discharge, 3 loops" in ev_out
    assert "channel Discharge, 3 loops" in secc_out and "ended terminated" in secc_out


class _DcCharger:
    """`v2g secc --energy dc` in namespace ``a`` of its own veth pair; its summary lines as they come."""

    def __init__(self, veth: VethPair, server: cli.Server) -> None:
        self.veth = veth
        self.server = server
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.server.proc.stdout is not None
        for line in self.server.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next_line(self) -> str:
        """The next line the charger prints (waits for it; None would mean the charger exited)."""
        line = self.lines.get(timeout=WAIT)
        assert line is not None, "the charger exited"
        return line


@pytest.fixture(scope="module")
def dc_charger(pki: TestPki) -> Iterator[_DcCharger]:
    """One DC charger for every DC case (its own veth pair: the AC tests' SDP server is on the other one)."""
    for veth in veth_or_skip("g1d"):
        argv = ["--iface", veth.if_a, "--pki", str(pki.layout.directory), "--energy", "dc", "--auth", "eim", "pnc"]
        with cli.secc(argv, prefix=ns_command(veth.ns_a, [])) as server:
            charger = _DcCharger(veth, server)
            yield charger
            server.proc.send_signal(signal.SIGTERM)
            code = server.proc.wait(WAIT)
            charger.reader.join(WAIT)
            assert server.proc.stderr is not None
            err = server.proc.stderr.read()
            assert code == 0, err  # every session ended regularly and did what was asked
            assert charger.lines.get_nowait() is None  # nothing printed that a test did not read


_DC_CASES = list(itertools.product(("charge", "discharge"), ("scheduled", "dynamic"), ("eim", "pnc")))


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("mode", "control", "auth"), _DC_CASES, ids=["-".join(case) for case in _DC_CASES])
def test_cli_dc_session_between_namespaces(
    dc_charger: _DcCharger, pki: TestPki, tmp_path: Path, mode: str, control: str, auth: str
) -> None:
    veth = dc_charger.veth
    assert dc_charger.server.listening.startswith(f"secc listening on [{veth.lladdr_a}%{veth.if_a}]:")
    offers = "offers iso20 DC; iso2 DC; din DC"  # every generation by default
    assert dc_charger.server.listening.endswith(f"(TLS 1.3, plain TCP, strict; {offers})")
    keys = tmp_path / "ev.keys"
    argv = ["--iface", veth.if_b, "--pki", str(pki.layout.directory), "--keylog", str(keys), "--loops", "3"]
    ev = cli.evcc(
        [*argv, "--energy", "dc", "--mode", mode, "--control", control, "--auth", auth],
        prefix=ns_command(veth.ns_b, []),
    )
    assert ev.returncode == 0, (ev.stdout, ev.stderr)
    energy = "DC_BPT" if mode == "discharge" else "DC"
    channel = "channel Discharge, " if mode == "discharge" else ""
    authorization = {"eim": "EIM", "pnc": "PnC"}[auth]
    # SDP over ff02::1 on the veth found the charger; TCP went to its link-local address with the scope id.
    assert ev.stdout.startswith(f"evcc [{veth.lladdr_a}%{veth.if_b}]:"), ev.stdout
    assert f", ISO 15118-20, {energy} {control}, {authorization}, {channel}3 loops, 3 meter readings" in ev.stdout
    assert ev.stdout.strip().endswith("ended terminated (SessionStop(Terminate))")
    assert "CLIENT_TRAFFIC_SECRET_0 " in keys.read_text()  # a TLS 1.3 secret: the session ran over TLS 1.3
    session = ev.stdout.split("session ")[1][:16]
    line = dc_charger.next_line()
    assert line.startswith(f"secc [{veth.lladdr_b}]:"), line
    assert f"session {session}, ISO 15118-20, {energy} {control}, {authorization}, {channel}3 loops" in line
    assert line.endswith("ended terminated (SessionStop(Terminate))")
