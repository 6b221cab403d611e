"""The SECC's look at a connection's first bytes: the ClientHellos our own EV contexts send (-20 strict, -2,
tolerant), plain V2GTP, and broken or hostile openings, read from a real stream."""

from __future__ import annotations

import asyncio
import ssl

import pytest

from iso15118.errors import SecurityError
from iso15118.security.tls import TlsMode, evcc_context
from iso15118.transport.tlspeek import MAX_CLIENT_HELLO, parse_client_hello, peek_first_flight
from tests.negotiation.support import Pkis, iso2_evcc_tls


def _client_hello(context: ssl.SSLContext) -> bytes:
    """The first flight ``context`` sends as a client."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    conn = context.wrap_bio(incoming, outgoing, server_side=False)
    with pytest.raises(ssl.SSLWantReadError):
        conn.do_handshake()
    return outgoing.read()


def _record(payload: bytes) -> bytes:
    return bytes([22, 3, 1]) + len(payload).to_bytes(2, "big") + payload


def test_our_evs_client_hellos_say_which_generation_they_are(pkis: Pkis) -> None:
    iso20 = parse_client_hello(_client_hello(evcc_context(pkis.iso20.evcc_tls())))
    assert iso20.tls and iso20.offers_tls13 and not iso20.offers_tls12  # strict -20: TLS 1.3 only
    iso2 = parse_client_hello(_client_hello(evcc_context(iso2_evcc_tls(pkis.iso2))))
    assert iso2.tls and iso2.offers_tls12 and not iso2.offers_tls13  # -2: TLS 1.2 only
    lab = parse_client_hello(_client_hello(evcc_context(pkis.iso20.evcc_tls(mode=TlsMode.TOLERANT))))
    assert lab.offers_tls13 and lab.offers_tls12


def test_plain_v2gtp_and_malformed_hellos() -> None:
    plain = parse_client_hello(bytes.fromhex("01fe8001000000"))
    assert not plain.tls and plain.data == bytes.fromhex("01fe8001000000")
    assert not parse_client_hello(b"").tls
    truncated = parse_client_hello(_record(bytes([1, 0, 0, 40, 3, 3]) + bytes(10)))
    assert truncated.tls and truncated.versions == frozenset()  # left to OpenSSL's alert
    not_a_hello = parse_client_hello(_record(bytes([2, 0, 0, 0])))
    assert not_a_hello.tls and not not_a_hello.versions


async def _peek(data: bytes, *, eof: bool = True, timeout: float = 2.0) -> object:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    if eof:
        reader.feed_eof()
    return await peek_first_flight(reader, peer="[::1]:1", timeout=timeout)


@pytest.mark.asyncio
async def test_a_hello_split_over_records_is_read_whole(pkis: Pkis) -> None:
    hello = _client_hello(evcc_context(pkis.iso20.evcc_tls()))
    body = hello[5:]
    split = _record(body[:7]) + _record(body[7:50]) + _record(body[50:])
    flight = await _peek(split + b"trailing bytes stay unread", eof=False)
    assert flight.data == split and flight.offers_tls13


@pytest.mark.asyncio
async def test_openings_the_server_refuses() -> None:
    with pytest.raises(SecurityError, match="closed the connection"):
        await _peek(b"\x01\xfe")
    with pytest.raises(SecurityError, match=r"no handshake within 0\.05 s"):
        await _peek(b"", eof=False, timeout=0.05)
    # A "ClientHello" that announces more than the server reads before choosing a context.
    huge = bytes([1]) + (MAX_CLIENT_HELLO * 2).to_bytes(3, "big") + bytes(16000)
    records = b"".join(_record(huge[i : i + 16000]) for i in range(0, len(huge), 16000))
    with pytest.raises(SecurityError, match="larger than"):
        await _peek(records + _record(bytes(16000)) * 2)
