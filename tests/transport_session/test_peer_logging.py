"""Log lines rate-limited per peer address: the limiter itself, SECC refusals and SDP rejections at WARNING
(with the refused certificate's subject), and `v2g secc`'s per-connection stdout lines."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path

import pytest

from harness.commands.secc import _Lines
from iso15118.config import EvccConfig
from iso15118.errors import SecurityError
from iso15118.security.certs import Defect, load_certificates, subject_of
from iso15118.security.profiles import Entity
from iso15118.simple import SimpleEV, SimpleEVSE
from iso15118.transport.evcc_client import EvccClientConfig, run_evcc
from iso15118.transport.peerlog import OTHER_PEERS, PeerLog, PeerRateLimiter, peer_address
from iso15118.transport.policy import TransportPolicy
from iso15118.transport.secc_server import ConnectionReport, SeccServer
from iso15118.transport.udp import SdpServer
from tests.transport_session.helpers import TIMEOUT, TestPki, server_config

FAST = EvccConfig(max_loops=2, loop_interval_s=0.0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _limiter(clock: FakeClock, **overrides: int | float) -> PeerRateLimiter:
    values: dict[str, int | float] = {"lines": 3, "total_lines": 10, "window_s": 60.0, "max_peers": 4}
    values.update(overrides)
    return PeerRateLimiter(clock=clock, **values)  # type: ignore[arg-type]


def test_peer_address_drops_the_port_only() -> None:
    assert peer_address("[fe80::1%eth0]:50000") == "fe80::1%eth0"
    assert peer_address("[::1]:1") == "::1"
    assert peer_address("fe80::2") == "fe80::2"  # SDP senders come without a port


def test_a_peer_gets_its_lines_per_window_then_one_summary() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    # A new port per connection is still the same peer.
    allowed = [limiter.allow(f"[fe80::1]:{50000 + i}") for i in range(10)]
    assert allowed == [True] * 3 + [False] * 7
    assert limiter.allow("[fe80::2]:50000")  # another peer is not held back by the first
    assert limiter.due() == []  # the window is not over yet
    clock.now += 60.0
    (summary,) = limiter.due()
    assert (summary.peer, summary.count, summary.total) == ("fe80::1", 7, False)
    assert summary.describe() == "suppressed 7 more lines about fe80::1 (in 60 s)"
    assert limiter.due() == []  # handed out once
    assert limiter.allow("[fe80::1]:50010")  # a new window


def test_all_peers_together_are_capped_and_summarised_once() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, lines=3, total_lines=5, max_peers=100)
    allowed = [limiter.allow(f"[fe80::{i}]:1") for i in range(1, 21)]  # 20 peers, one line each
    assert allowed.count(True) == 5
    clock.now += 60.0
    (summary,) = limiter.due()
    assert summary.total and summary.count == 15
    assert "over the limit for all peers" in summary.describe()


def test_memory_is_bounded_by_max_peers() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, lines=1, total_lines=10_000, max_peers=4)
    for i in range(1, 1001):
        limiter.allow(f"[fe80::{i:x}]:1")
    assert limiter.tracked == 5  # four peers and the shared entry of all others
    clock.now += 60.0
    summaries = {s.peer: s.count for s in limiter.due()}
    assert summaries == {OTHER_PEERS: 995}
    assert limiter.tracked == 0


def test_everything_ends_every_window_now() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    for _ in range(5):
        limiter.allow("[fe80::1]:1")
    assert [s.count for s in limiter.due(everything=True)] == [2]


def test_peer_log_logs_the_limit_then_the_summary(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    peer_log = PeerLog(logging.getLogger("test.peerlog"), _limiter(clock))
    with caplog.at_level(logging.INFO, logger="test.peerlog"):
        for i in range(8):
            peer_log.warning(f"[fe80::1]:{i}", "refused %s", i)
        clock.now += 60.0
        peer_log.info("[fe80::2]:1", "another peer")  # carries the due summary out first
    lines = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert lines == [
        (logging.WARNING, "refused 0"),
        (logging.WARNING, "refused 1"),
        (logging.WARNING, "refused 2"),
        (logging.WARNING, "suppressed 5 more lines about fe80::1 (in 60 s)"),
        (logging.INFO, "another peer"),
    ]


def test_sdp_rejections_are_warnings_rate_limited_per_sender(caplog: pytest.LogCaptureFixture) -> None:
    server = SdpServer("lo", tcp_port=50000, address="fe80::1")
    with caplog.at_level(logging.INFO, logger="iso15118.transport.udp"):
        for _ in range(100):
            assert server.answer(b"\x02\xfd\x90\x00\x00\x00\x00\x02\x10\x00", peer="fe80::99") is None
        server.peer_log.flush(everything=True)
    assert server.ignored == 100
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 11
    assert all("rejected a datagram from fe80::99" in line for line in warnings[:10])
    assert warnings[10] == "suppressed 90 more lines about fe80::99 (in 60 s)"


@pytest.mark.asyncio
async def test_secc_refusals_are_warnings_naming_the_certificate(
    pki: TestPki, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A vehicle certificate our -20 profile check refuses after the handshake: its subject is known.
    chain, key = pki.defective(Defect.TOO_LARGE, Entity.VEHICLE_LEAF, tmp_path)
    subject = subject_of(load_certificates(chain.read_bytes(), source=str(chain))[0])
    client = EvccClientConfig(policy=TransportPolicy(tls=pki.evcc_tls(certificate_chain=chain, private_key=key)))
    with caplog.at_level(logging.INFO, logger="iso15118.transport.secc_server"):
        async with SeccServer(server_config(pki), SimpleEVSE) as server:
            client = dataclasses.replace(client, target=str(server.endpoint))
            await run_evcc(client, SimpleEV(), FAST)
            report = await asyncio.wait_for(server.next_report(), TIMEOUT)
    assert isinstance(report.error, SecurityError)
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert [r.levelno for r in refusals] == [logging.WARNING]
    assert subject in refusals[0].getMessage() and "too large" in refusals[0].getMessage()


def _report(peer: str, error: str) -> ConnectionReport:
    return ConnectionReport(peer=peer, started=0.0, ended=0.0, error=SecurityError(error))


def test_v2g_secc_prints_refusals_at_a_bounded_rate(capsys: pytest.CaptureFixture[str]) -> None:
    clock = FakeClock()
    lines = _Lines(_limiter(clock, lines=2, total_lines=50))
    for i in range(1000):
        lines.report(_report(f"[fe80::1]:{i}", "TLS handshake refused"))
    lines.report(_report("[fe80::2]:1", "TLS handshake refused"))
    clock.now += 60.0
    lines.flush()
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "secc [fe80::1]:0: error: TLS handshake refused",
        "secc [fe80::1]:1: error: TLS handshake refused",
        "secc [fe80::2]:1: error: TLS handshake refused",
        "secc fe80::1: 998 more refused or failed connections within 60 s (not printed)",
    ]
    assert lines.failures == 1001
