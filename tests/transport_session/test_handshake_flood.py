"""TLS handshake floods: a legitimate session keeps its -20 message timing while 50 clients churn refused
handshakes, and the handshake limits (places, waiting, timeout) hold before any TLS state is spent."""

from __future__ import annotations

import asyncio
import logging
import socket
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from iso15118.config import EvccConfig
from iso15118.errors import SecurityError
from iso15118.iso20.kinds import Kind
from iso15118.iso20.profile import ISO20
from iso15118.session.events import Event, MessageReceived, MessageSent
from iso15118.session.timers import DEFAULT_TIMING
from iso15118.simple import SimpleEV, SimpleEVSE
from iso15118.transport.evcc_client import run_evcc
from iso15118.transport.secc_server import SeccServer
from tests.support.netns import free_port, ipv6_loopback
from tests.transport_session.helpers import TIMEOUT, TestPki, client_config, run_client, server_config
from tests.transport_session.load import flood_process, secc_process

pytestmark = pytest.mark.skipif(not ipv6_loopback(), reason="needs an IPv6 loopback (::1)")

FLOOD_CLIENTS = 50
LOOPS = 40


def _performance(name: str) -> float:
    """The SECC's message performance time for a request named ``name`` (-20 tables 215/216)."""
    if name == "supportedAppProtocolReq":
        return DEFAULT_TIMING.secc_performance
    return ISO20.timing(Kind(name), DEFAULT_TIMING).secc_performance


@dataclass
class RoundTrips:
    """An EVCC observer: each request's round trip (request queued -> response decoded), by message name."""

    trips: list[tuple[str, float]] = field(default_factory=list)
    first_sent: float | None = None
    _pending: tuple[str, float] | None = None

    async def observe(self, event: Event, *, role: str, peer: str) -> None:
        if isinstance(event, MessageSent):
            self.first_sent = self.first_sent or event.at
            self._pending = (type(event.message).__name__, event.at)
        elif isinstance(event, MessageReceived) and self._pending is not None:
            name, sent = self._pending
            self.trips.append((name, event.at - sent))
            self._pending = None

    def loop_trips(self) -> list[float]:
        return [t for name, t in self.trips if name == "AC_ChargeLoopReq"]


async def _timed_session(pki: TestPki, port: int) -> tuple[RoundTrips, bool, float]:
    """One strict TLS session of LOOPS charge loops; its round trips, whether it ended well, its set-up time."""
    trips = RoundTrips()
    started = time.time()
    run = await asyncio.wait_for(
        run_evcc(
            client_config(pki, f"[::1]:{port}"),
            SimpleEV(),
            EvccConfig(max_loops=LOOPS, loop_interval_s=0.05),
            observers=[trips],
        ),
        TIMEOUT,
    )
    setup = (trips.first_sent or started) - started  # TCP connect and TLS handshake
    return trips, run.ok, setup


def _figures(label: str, trips: RoundTrips, setup: float) -> str:
    loops = trips.loop_trips()
    return (
        f"{label}: TCP+TLS {setup * 1000:.0f} ms, charge loop round trip median "
        f"{statistics.median(loops) * 1000:.1f} ms, max {max(loops) * 1000:.1f} ms; slowest other request "
        f"{max(t for n, t in trips.trips if n != 'AC_ChargeLoopReq') * 1000:.1f} ms"
    )


@pytest.mark.slow
def test_a_session_keeps_its_timing_while_50_clients_churn_tls_handshakes(pki: TestPki, tmp_path: Path) -> None:
    port = free_port()
    pki_dir = pki.layout.directory
    argv = ["--listen", "::1", "--port", str(port), "--no-sdp", "--pki", str(pki_dir)]
    with secc_process(argv, tmp_path) as secc:  # `v2g secc` with the default handshake limits
        quiet, quiet_ok, quiet_setup = asyncio.run(_timed_session(pki, port))  # also loads the EV's codecs
        with flood_process(port, pki_dir, tmp_path, clients=FLOOD_CLIENTS, seconds=120) as flood:
            before = flood.refused()
            sessions = [asyncio.run(_timed_session(pki, port)) for _ in range(3)]
            during = flood.refused() - before
        printed = secc.lines()
    print(_figures("no flood", quiet, quiet_setup))
    for trips, _, setup in sessions:
        print(_figures(f"{FLOOD_CLIENTS} clients flooding", trips, setup))
    print(f"refused handshakes during the measured sessions: {during}; secc printed {len(printed)} lines")
    assert quiet_ok
    # The flood was on all along: at least a few hundred refused handshakes while the sessions ran.
    assert during >= 100, during
    for trips, ok, setup in sessions:
        assert ok  # the session completed (Terminate), so no EVCC message timeout fired
        assert setup < DEFAULT_TIMING.evcc_communication_setup
        assert len(trips.loop_trips()) == LOOPS
        # Every response within the SECC's message performance time (0.25 s for AC_ChargeLoopRes):
        # the round trip seen by the EV includes it.
        late = [(n, t) for n, t in trips.trips if t > _performance(n)]
        assert late == []
    assert len(printed) < 60  # thousands of refusals, a bounded number of lines


def _silent_connection(port: int) -> socket.socket:
    """A TCP connection that never says a word (it takes a handshake place until the timeout)."""
    return socket.create_connection(("::1", port))


def _closed_by_peer(sock: socket.socket, timeout: float) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@pytest.mark.asyncio
async def test_handshakes_beyond_the_limit_wait_then_are_refused_cheaply(
    pki: TestPki, caplog: pytest.LogCaptureFixture
) -> None:
    config = server_config(pki, max_handshakes=2, handshake_backlog=1, handshake_wait_s=0.5, handshake_timeout_s=30)
    async with SeccServer(config, SimpleEVSE) as server:
        assert server.endpoint is not None
        port = server.endpoint.port
        holders = [await asyncio.to_thread(_silent_connection, port) for _ in range(2)]
        waiting = await asyncio.to_thread(_silent_connection, port)
        with caplog.at_level(logging.WARNING, logger="iso15118.transport.secc_server"):
            extra = [await asyncio.to_thread(_silent_connection, port) for _ in range(20)]
            # Beyond places and backlog: closed at once, before any TLS state exists for them.
            assert all([await asyncio.to_thread(_closed_by_peer, s, TIMEOUT) for s in extra])
            assert server.turned_away == 20
            # The waiting one is refused after handshake_wait_s, with a report.
            report = await asyncio.wait_for(server.next_report(), TIMEOUT)
            assert await asyncio.to_thread(_closed_by_peer, waiting, TIMEOUT)
        assert isinstance(report.error, SecurityError) and "no place within 0.5 s" in str(report.error)
        assert server.handshaking == 2
        turned_away = [r for r in caplog.records if "turned away" in r.getMessage()]
        # 20 connections, one line each up to the peer's budget (the rest is summarised later).
        assert len(turned_away) == server.peer_log.limiter.lines < 20
        assert all(r.levelno == logging.WARNING for r in turned_away)
        for sock in [*holders, waiting, *extra]:
            sock.close()
        # Places free again: a real EV gets its session.
        run, good = await run_client(pki, server, EvccConfig(max_loops=2, loop_interval_s=0.0))
        while not good.ok:  # the two silent connections' reports may come first
            good = await asyncio.wait_for(server.next_report(), TIMEOUT)
        assert run.ok and server.handshaking == 0


@pytest.mark.asyncio
async def test_a_silent_connection_is_closed_after_the_handshake_timeout(pki: TestPki) -> None:
    async with SeccServer(server_config(pki, handshake_timeout_s=0.3), SimpleEVSE) as server:
        assert server.endpoint is not None
        sock = await asyncio.to_thread(_silent_connection, server.endpoint.port)
        with sock:
            report = await asyncio.wait_for(server.next_report(), TIMEOUT)
            assert await asyncio.to_thread(_closed_by_peer, sock, TIMEOUT)
        assert "no handshake within 0.3 s" in str(report.error)
        assert server.handshaking == 0


@pytest.mark.asyncio
async def test_stopping_during_threaded_handshakes_is_clean(pki: TestPki) -> None:
    server = SeccServer(server_config(pki, handshake_threads=2), SimpleEVSE)
    async with server:
        assert server.endpoint is not None
        clients = [
            asyncio.ensure_future(run_evcc(client_config(pki, str(server.endpoint)), SimpleEV(), EvccConfig()))
            for _ in range(8)
        ]
        while server.handshaking == 0 and server.active == 0:
            await asyncio.sleep(0.001)  # polling until the first connection is in
    # stop() cancelled the handshakes, each after its step left OpenSSL; nothing is left running.
    assert server.active == 0 and server.handshaking == 0
    results = await asyncio.gather(*clients, return_exceptions=True)
    assert all(isinstance(r, Exception) or not r.ok for r in results)
