"""Memory per connection is bounded and released: refused TLS handshakes, bad V2GTP headers and complete
sessions leave nothing behind in the SECC, neither as live objects (in-process census) nor as resident
memory of a `v2g secc` process (RSS before and after thousands of connections)."""

from __future__ import annotations

import asyncio
import collections
import gc
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from iso15118.simple import SimpleEVSE
from iso15118.transport.policy import TransportPolicy
from iso15118.transport.secc_server import ConnectionReport, SeccServer
from iso15118.transport.tcp import TcpLink
from tests.support.netns import free_port, ipv6_loopback
from tests.transport_session.helpers import TIMEOUT, TestPki, server_config
from tests.transport_session.load import (
    anonymous_context,
    bad_header,
    refused_handshake,
    run_many,
    secc_process,
    session_client,
)

pytestmark = pytest.mark.skipif(not ipv6_loopback(), reason="needs an IPv6 loopback (::1)")

PLAIN = TransportPolicy(tls=None, tolerant=True)  # bad headers: plain TCP, no handshake to get through first
LOADS = ["refused", "bad_header", "session"]


def _client(load: str, pki: TestPki, port: int) -> Callable[[], Awaitable[None]]:
    if load == "refused":
        context = anonymous_context(pki.layout)
        return lambda: refused_handshake(port, context)
    if load == "bad_header":
        return lambda: bad_header(port)
    return session_client(pki.layout, port)


def _census() -> collections.Counter[type]:
    return collections.Counter(type(o) for o in gc.get_objects())


@contextmanager
def _no_collector() -> Iterator[None]:
    """Only reference counting frees objects here: what a reference cycle holds stays visible."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _tracebacks(error: BaseException | None) -> list[object]:
    """The tracebacks along an error's chain (its cause or context, theirs...)."""
    found: list[object] = []
    while error is not None:
        if error.__traceback__ is not None:
            found.append(error.__traceback__)
        error = error.__cause__ or error.__context__
    return found


async def _idle(server: SeccServer) -> None:
    deadline = time.monotonic() + TIMEOUT
    while server.active and time.monotonic() < deadline:
        await asyncio.sleep(0.005)  # polling until the last connection task ended
    assert server.active == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("load", LOADS)
async def test_no_connection_outlives_itself(pki: TestPki, load: str) -> None:
    backlog = 8
    config = server_config(pki, report_backlog=backlog)
    if load == "bad_header":
        config = server_config(pki, report_backlog=backlog, policy=PLAIN)
    async with SeccServer(config, SimpleEVSE) as server:
        assert server.endpoint is not None
        client = _client(load, pki, server.endpoint.port)
        await run_many(client, 4, concurrency=2)  # warm-up: codecs, contexts, caches
        await _idle(server)
        with _no_collector():
            before = _census()
            await run_many(client, 40, concurrency=4)
            await _idle(server)
            # TLS state is freed when its connection closes, not when a collector finds a cycle holding it.
            held = _census()
            assert held[ssl.SSLObject] <= before[ssl.SSLObject]
        gc.collect()
        after = _census()
        for kind in (TcpLink, ssl.SSLObject, ssl.MemoryBIO, asyncio.StreamReader, asyncio.StreamWriter):
            assert after[kind] <= before[kind], kind
        # Reports nobody asked for: the newest `backlog` only, errors without tracebacks.
        assert after[ConnectionReport] <= before[ConnectionReport] + backlog
        reports = [await server.next_report() for _ in range(backlog)]
        assert [_tracebacks(r.error) for r in reports] == [[]] * backlog
        assert server.connections == 44


# Counts and warm-ups of the RSS measurement; the warm-up brings the allocator to its working size.
RSS_LOADS = {"refused": (5000, 500, 8), "bad_header": (20_000, 2000, 8), "session": (1000, 100, 4)}
RSS_SLACK_KIB = 3 * 1024


@pytest.mark.slow
@pytest.mark.parametrize("load", LOADS)
def test_resident_memory_stays_flat_under_thousands_of_connections(pki: TestPki, tmp_path: Path, load: str) -> None:
    count, warmup, concurrency = RSS_LOADS[load]
    port = free_port()
    argv = ["--listen", "::1", "--port", str(port), "--no-sdp", "--pki", str(pki.layout.directory)]
    if load == "bad_header":
        argv += ["--no-tls", "--tolerant"]
    client = _client(load, pki, port)
    started = time.monotonic()
    with secc_process(argv, tmp_path) as secc:
        asyncio.run(run_many(client, warmup, concurrency=concurrency))
        before = secc.rss_kib()
        rate = asyncio.run(run_many(client, count, concurrency=concurrency))
        after = secc.rss_kib()
        printed = secc.lines()
    print(
        f"{load}: {count} connections at {rate:.0f}/s, VmRSS {before} -> {after} KiB "
        f"({after - before:+d} KiB), {len(printed)} stdout lines, {time.monotonic() - started:.0f} s"
    )
    assert after - before < RSS_SLACK_KIB
    if load != "session":  # refusals and failures: a bounded number of lines, not one per connection
        assert len(printed) < 30
