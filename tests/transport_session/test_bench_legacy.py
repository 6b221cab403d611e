"""`v2g bench session --protocol iso2|din` runs ISO 15118-2 (AC and DC) and DIN 70121 sessions over plain TCP (-2 also
over TLS 1.2 with ``--tls12``) end to end on a tiny load and reports every figure, timed on the protocol's own loop
message (no timing assertions)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from harness.benchmarks.session import SessionFigures, format_figures
from harness.benchmarks.session_peers import evcc_client, fast_evcc, secc_policy
from harness.cli import main
from iso15118.config import SeccConfig
from iso15118.constants import NS_ISO2
from iso15118.security.pki import init_pki
from iso15118.session.selection import EnergyFamily
from iso15118.simple import SimpleEV, SimpleEVSE
from iso15118.transport.evcc_client import run_evcc
from iso15118.transport.secc_server import SeccServer, SeccServerConfig
from tests.support.netns import ipv6_loopback

V2G = [sys.executable, "-m", "harness.cli"]
_FIGURES = ("first_loop_first_ms", "first_loop_p50_ms", "first_loop_p90_ms", "loop_rtt_p50_ms", "loop_rtt_p90_ms")


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    ("protocol", "energy", "loop"),
    [
        ("din", "dc", "CurrentDemandReq"),
        ("iso2", "ac", "ChargingStatusReq"),
        ("iso2", "dc", "CurrentDemandReq"),
        ("iso2 --tls12", "ac", "ChargingStatusReq"),
    ],
)
def test_tiny_legacy_bench_reports_all_figures(protocol: str, energy: str, loop: str) -> None:
    argv = ["--protocol", *protocol.split(), "--energy", energy, "--steps", "2", "--window", "0.5", "--sessions", "2"]
    proc = subprocess.run(
        [*V2G, "bench", "session", *argv, "--round-trips", "5", "--json", "--connect-rate", "30", "--workers", "1"],
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout)
    assert (figures["protocol"], figures["energy"], figures["loop_message"]) == (
        protocol.split()[0],
        energy.upper(),
        loop,
    )
    assert figures["transport"] == (
        "TLS 1.2 (secp256r1, server authentication)" if "--tls12" in protocol else "plain TCP"
    )
    for key in _FIGURES:
        assert figures[key] > 0 and math.isfinite(figures[key]), key
    [step] = figures["steps"]
    assert step["sessions"] == 2 and step["ok"] == 2, step["problems"]
    # The loop figures come from the protocol's loop request (NaN if none had been seen in the window).
    assert step["loop_p50_ms"] <= step["loop_p90_ms"] <= step["loop_max_ms"] <= step["max_ms"]


def test_text_output_names_the_protocol_and_its_loop() -> None:
    figures = SessionFigures(
        algorithm="secp521r1",
        energy="DC",
        cpus=2,
        first_loop_first_ms=20.0,
        first_loop_p50_ms=12.0,
        first_loop_p90_ms=14.0,
        loop_rtt_p50_ms=0.6,
        loop_rtt_p90_ms=0.7,
        loop_interval_s=0.1,
        connect_rate=20.0,
        window_s=5.0,
        limit_ms=100.0,
        workers=2,
        steps=[],
        capacity=None,
        protocol="din",
        loop_message="CurrentDemandReq",
    )
    assert format_figures(figures).splitlines()[:3] == [
        "v2g bench session: DIN 70121 DC sessions (EIM), plain TCP on ::1, 2 CPUs",
        "(a) connect -> first CurrentDemandRes: first session 20.0 ms; then median 12.0 ms, p90 14.0 ms",
        "(b) charge-loop round trip (CurrentDemandReq -> CurrentDemandRes): median 0.60 ms, p90 0.70 ms",
    ]


def test_din_is_dc_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "session", "--protocol", "din", "--energy", "ac"]) == 1
    assert capsys.readouterr().err.strip() == "v2g bench: error: --protocol din: DIN 70121 is DC only (--energy dc)"


@pytest.mark.asyncio
@pytest.mark.skipif(not ipv6_loopback(), reason="needs an IPv6 loopback (::1)")
async def test_the_tls12_bench_sessions_run_over_tls12(tmp_path: Path) -> None:
    # `--tls12` asks for TLS in SDP terms (SdpSecurity.TLS, which is 0x00: the EV must not take it for "unset").
    layout = init_pki(tmp_path / "pki2", kind="iso2")
    config = SeccServerConfig(policy=secc_policy(layout, "iso2"), listen="::1")
    async with SeccServer(config, SimpleEVSE, secc=SeccConfig(protocols=(NS_ISO2,))) as server:
        assert server.endpoint is not None
        client = evcc_client(layout, "iso2", server.endpoint.port)
        run = await run_evcc(client, SimpleEV(), fast_evcc(EnergyFamily.DC, "iso2", max_loops=2))
    assert run.ok and run.fallbacks == ()
    assert run.tls is not None and run.tls.version == "TLSv1.2" and run.tls.peer_key == "secp256r1"
    assert run.outcome.negotiated["protocol_name"] == "ISO 15118-2" and run.outcome.loops == 2
