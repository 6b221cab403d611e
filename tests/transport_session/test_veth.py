"""SDP (link-local multicast) + TLS 1.3 + a full session between two network namespaces joined by veth (root).

Namespace ``a`` is the charger, ``b`` the vehicle. The library test runs each side's asyncio loop in a thread
that joined its namespace; the CLI test runs `v2g secc` / `v2g evcc` (and, for SLAC first, `v2g slac`)
as processes inside the namespaces.
"""

from __future__ import annotations

import asyncio
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


def _wait_for_packet_socket(pid: int, timeout: float = WAIT) -> None:
    """Wait until the namespace of process ``pid`` has a raw packet socket (the SLAC EVSE is listening)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if len(Path(f"/proc/{pid}/net/packet").read_text().splitlines()) > 1:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("the SLAC EVSE did not open its packet socket")


@pytest.mark.timeout(180)
def test_cli_slac_sdp_tls_session_between_namespaces(veth: VethPair, pki: TestPki) -> None:
    pki_dir = str(pki.layout.directory)
    slac = subprocess.Popen(
        ns_command(veth.ns_a, [*V2G, "slac", "--iface", veth.if_a, "--role", "evse", "--timeout", "30"]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    secc = subprocess.Popen(
        ns_command(veth.ns_a, [*V2G, "secc", "--iface", veth.if_a, "--pki", pki_dir, "--once"]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert secc.stdout is not None
        listening = secc.stdout.readline()
        assert listening.startswith(f"secc listening on [{veth.lladdr_a}%{veth.if_a}]:"), listening
        _wait_for_packet_socket(slac.pid)
        ev = subprocess.run(
            ns_command(
                veth.ns_b,
                [
                    *V2G,
                    "evcc",
                    "--iface",
                    veth.if_b,
                    "--pki",
                    pki_dir,
                    "--slac",
                    "--modem-standin",
                    "--loops",
                    "3",
                    "--mode",
                    "discharge",
                ],
            ),
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )
        secc_out, secc_err = secc.communicate(timeout=WAIT)
        slac_out, _ = slac.communicate(timeout=WAIT)
    finally:
        for proc in (slac, secc):
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert ev.returncode == 0, ev.stderr
    assert secc.returncode == 0, secc_err
    assert slac.returncode == 0 and "matched as evse" in slac_out
    assert ev.stdout.startswith(f"evcc [{veth.lladdr_a}%{veth.if_b}]:")
    assert "AC_BPT dynamic, EIM, channel Discharge, 3 loops" in ev.stdout
    assert "channel Discharge, 3 loops" in secc_out and "ended terminated" in secc_out
