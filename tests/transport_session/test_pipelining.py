"""Pipelined and arbitrarily split frames against the real SECC over TCP and TLS 1.3 on ::1.

A whole recorded EV side (every request of a session, as bytes) is sent to the SECC cut at hypothesis-chosen
byte boundaries, several frames per write and frames split across writes. The SECC must answer every request
in order, exactly as it answered the same requests one by one: same response kinds, same response codes, and a
regular end (issue "SECC hardening", defect 5).
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iso15118.codec import decode_message, encode_message
from iso15118.config import EvccConfig, SeccConfig
from iso15118.security.tls import TlsMode, evcc_context, secc_context
from iso15118.session.events import EndReason
from iso15118.simple import SimpleEV, SimpleEVSE
from iso15118.transport.driver import SessionOutcome
from iso15118.transport.runner import serve_secc_session
from iso15118.transport.tcp import accept_connection, make_endpoint, open_listener
from iso15118.v2gtp import Deframer, frame
from tests.session.recording import Recorded, Recorder, run_pair
from tests.support.netns import ipv6_loopback
from tests.transport_session.helpers import TestPki

pytestmark = pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback (::1) in this environment")


def _fixed_random(n: int) -> bytes:
    # The SECC's SessionID must be the recorded one for the replayed requests to carry it.
    return bytes(range(1, n + 1))


def _recorded_session() -> list[Recorded]:
    rec = Recorder()
    config = EvccConfig(max_loops=3, loop_interval_s=0.0, authorization_retry_s=0.0)
    out, secc = asyncio.run(
        run_pair(config, SimpleEV(), SimpleEVSE(), SeccConfig(), recorder=rec, random=_fixed_random)
    )
    assert out.ok and secc.ok
    return rec.messages


RECORDED = _recorded_session()
REQUESTS = b"".join(frame(r.payload_type, encode_message(r.message)) for r in RECORDED if r.sender == "evcc")
EXPECTED = [(type(r.message).__name__, str(r.message.response_code)) for r in RECORDED if r.sender == "secc"]


async def _serve_once(context: ssl.SSLContext | None) -> tuple[int, asyncio.Task[SessionOutcome]]:
    """One SECC session on a fresh port (TLS when ``context``), like SeccServer serves each connection."""
    sock = open_listener(make_endpoint("::1", 0))
    port = int(sock.getsockname()[1])
    done: asyncio.Future[SessionOutcome] = asyncio.get_running_loop().create_future()

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            link = await accept_connection(reader, writer, context, mode=TlsMode.STRICT, clock=time.time)
            done.set_result(await serve_secc_session(link, SimpleEVSE(), SeccConfig(), random=_fixed_random))
        except BaseException as exc:  # the test reports it
            if not done.done():
                done.set_exception(exc)

    server = await asyncio.start_server(accepted, sock=sock)

    async def outcome() -> SessionOutcome:
        try:
            return await done
        finally:
            server.close()

    return port, asyncio.ensure_future(outcome())


async def _replay(
    cuts: list[int], client: ssl.SSLContext | None = None, server: ssl.SSLContext | None = None
) -> tuple[list[tuple[str, str]], SessionOutcome]:
    port, outcome = await _serve_once(server)
    reader, writer = await asyncio.open_connection(
        "::1", port, ssl=client, server_hostname=None if client is None else ""
    )
    bounds = [0, *sorted(set(cuts)), len(REQUESTS)]
    for a, b in itertools.pairwise(bounds):
        writer.write(REQUESTS[a:b])
        await writer.drain()
    deframer = Deframer()
    answers: list[tuple[str, str]] = []
    while len(answers) < len(EXPECTED):
        chunk = await asyncio.wait_for(reader.read(65536), 20)
        if not chunk:
            break
        for fr in deframer.feed(chunk):
            msg: Any = decode_message(fr.payload, fr.payload_type)
            answers.append((type(msg).__name__, str(msg.response_code)))
    writer.close()
    return answers, await asyncio.wait_for(outcome, 20)


def _cuts() -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(1, len(REQUESTS) - 1), max_size=40)


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(cuts=_cuts())
def test_split_and_merged_requests_over_tcp(cuts: list[int]) -> None:
    answers, outcome = asyncio.run(_replay(cuts))
    assert answers == EXPECTED
    assert outcome.ended.reason is EndReason.TERMINATED


@pytest.mark.parametrize("per_write", [1, 3, 1000])
def test_every_byte_boundary_over_tcp(per_write: int) -> None:
    """Single-byte writes (every boundary), three bytes at a time, and the whole session in one write."""
    cuts = list(range(per_write, len(REQUESTS), per_write))
    answers, outcome = asyncio.run(_replay(cuts))
    assert answers == EXPECTED and outcome.ended.reason is EndReason.TERMINATED


def test_split_and_merged_requests_over_tls(pki: TestPki) -> None:
    server = secc_context(pki.secc_tls())
    client = evcc_context(pki.evcc_tls())
    client.check_hostname = False

    @settings(max_examples=12, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(cuts=_cuts())
    def check(cuts: list[int]) -> None:
        answers, outcome = asyncio.run(_replay(cuts, client, server))
        assert answers == EXPECTED
        assert outcome.ended.reason is EndReason.TERMINATED

    check()
    # The whole session in one TLS write, too.
    answers, _outcome = asyncio.run(_replay([], client, server))
    assert answers == EXPECTED
