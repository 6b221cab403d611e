"""What a new connection opens with: a TLS ClientHello (and which TLS versions it offers) or plain V2GTP.

The SECC serves ISO 15118-20 over TLS 1.3 (its secp521r1/Ed448 identity), ISO 15118-2 over TLS 1.2 (its
secp256r1 identity) and DIN 70121 / -2 over plain TCP on ONE port, the one it announces in SDP: the -20
standard lets an SECC accept TLS 1.2 beside 1.3 on its listener for -2 [V2G20-2359]. OpenSSL picks the protocol
version inside a handshake but not the certificate chain per version, so the server reads the connection's
first bytes before any TLS state exists (:func:`peek_first_flight`) and chooses the context from them: a TLS
record (content type 22) is a ClientHello; ``supported_versions`` containing TLS 1.3 (0x0304, which a -20 EVCC
must offer [V2G20-2365]) selects the -20 context, a ClientHello without it the -2 one. Anything else is plain
V2GTP (version 0x01, inverse 0xFE). The bytes read are handed to the link, which replays them.

:func:`parse_client_hello` is pure and never raises: a malformed hello is reported as such and left to
OpenSSL, whose alert then tells the peer what was wrong.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final

from iso15118.errors import SecurityError

__all__ = ["MAX_CLIENT_HELLO", "FirstFlight", "parse_client_hello", "peek_first_flight"]

MAX_CLIENT_HELLO: Final = 16384
"""The largest ClientHello read before choosing a context (ours are about 300 bytes); a larger one is refused."""

_HANDSHAKE: Final = 22
_CLIENT_HELLO: Final = 1
_SUPPORTED_VERSIONS: Final = 43
_TLS13: Final = 0x0304
_TLS12: Final = 0x0303
_RECORD_HEADER: Final = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class FirstFlight:
    """The opening bytes of a connection and what they are."""

    data: bytes
    tls: bool
    """A TLS handshake record: a ClientHello (or something claiming to be one)."""
    versions: frozenset[int] = frozenset()
    """The TLS versions the ClientHello offers (``supported_versions``, else its legacy version); empty when it
    could not be parsed."""

    @property
    def offers_tls13(self) -> bool:
        return _TLS13 in self.versions

    @property
    def offers_tls12(self) -> bool:
        return _TLS12 in self.versions


def _handshake_bytes(data: bytes) -> bytes:
    """The concatenated fragments of the leading handshake records of ``data``."""
    out = bytearray()
    at = 0
    while at + _RECORD_HEADER <= len(data) and data[at] == _HANDSHAKE:
        length = int.from_bytes(data[at + 3 : at + 5], "big")
        out += data[at + _RECORD_HEADER : at + _RECORD_HEADER + length]
        at += _RECORD_HEADER + length
    return bytes(out)


def _versions(hello: bytes) -> frozenset[int]:
    """The versions a ClientHello body offers; empty when it is malformed."""
    try:
        legacy = int.from_bytes(hello[0:2], "big")
        at = 2 + 32
        at += 1 + hello[at]  # session id
        at += 2 + int.from_bytes(hello[at : at + 2], "big")  # cipher suites
        at += 1 + hello[at]  # compression methods
        if at == len(hello):
            return frozenset({legacy})  # no extensions at all
        end = at + 2 + int.from_bytes(hello[at : at + 2], "big")
        at += 2
        while at + 4 <= min(end, len(hello)):
            kind = int.from_bytes(hello[at : at + 2], "big")
            size = int.from_bytes(hello[at + 2 : at + 4], "big")
            body = hello[at + 4 : at + 4 + size]
            if kind == _SUPPORTED_VERSIONS and body:
                listed = body[1 : 1 + body[0]]
                return frozenset(int.from_bytes(listed[i : i + 2], "big") for i in range(0, len(listed) - 1, 2))
            at += 4 + size
        return frozenset({legacy})
    except IndexError:
        return frozenset()


def parse_client_hello(data: bytes) -> FirstFlight:
    """What ``data`` (a connection's opening bytes: whole handshake records) is."""
    if not data or data[0] != _HANDSHAKE:
        return FirstFlight(data=data, tls=False)
    handshake = _handshake_bytes(data)
    if len(handshake) < 4 or handshake[0] != _CLIENT_HELLO:
        return FirstFlight(data=data, tls=True)
    length = int.from_bytes(handshake[1:4], "big")
    return FirstFlight(data=data, tls=True, versions=_versions(handshake[4 : 4 + length]))


async def _read_hello(reader: asyncio.StreamReader, first: bytes) -> bytes:
    """Read whole handshake records after ``first`` (a record header) until the ClientHello is complete."""
    data = bytearray(first)
    while True:
        length = int.from_bytes(data[-2:], "big")
        data += await reader.readexactly(length)
        handshake = _handshake_bytes(bytes(data))
        needed = 4 + int.from_bytes(handshake[1:4], "big") if len(handshake) >= 4 else 4
        if len(handshake) >= needed:
            return bytes(data)
        if len(data) > MAX_CLIENT_HELLO:
            raise SecurityError(f"ClientHello larger than {MAX_CLIENT_HELLO} bytes refused")
        header = await reader.readexactly(_RECORD_HEADER)
        if header[0] != _HANDSHAKE:
            return bytes(data + header)  # not a handshake record: OpenSSL will say what is wrong
        data += header


async def peek_first_flight(reader: asyncio.StreamReader, *, peer: str, timeout: float) -> FirstFlight:
    """Read a new connection's opening bytes (a whole ClientHello, or the first bytes of plain V2GTP) within
    ``timeout``; :class:`SecurityError` when the peer sends nothing in time or closes first."""
    try:
        async with asyncio.timeout(timeout):
            first = await reader.readexactly(_RECORD_HEADER)
            data = await _read_hello(reader, first) if first[0] == _HANDSHAKE else first
    except TimeoutError:
        raise SecurityError(f"no handshake within {timeout:g} s: {peer} sent nothing after connecting") from None
    except asyncio.IncompleteReadError:
        raise SecurityError(f"{peer} closed the connection before its first message was complete") from None
    except OSError as exc:
        raise SecurityError(f"reading from {peer} failed: {exc.strerror or exc!r}") from None
    return parse_client_hello(data)
