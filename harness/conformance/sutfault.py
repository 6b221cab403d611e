"""How a misbehaviour is injected into our own SECC or EVCC: the :class:`Fault` record and :class:`FaultyLink`.

A fault changes exactly one thing about the SUT, through the seams our drivers already have: session and
driver configuration, the controller, the TLS context, the SessionID/challenge randomness, the PnC verifier,
the paused-session store, or the byte link between the SUT and the tester. :class:`FaultyLink` sits on that
link: it decodes what the SUT sends (``outgoing``) or receives (``incoming``) as the run's protocol has it (DIN
and -2 share payload type 0x8001 with SupportedAppProtocol: once either direction carried an OK
supportedAppProtocolRes, 0x8001 payloads are read as the generation's), lets the fault rewrite the message,
re-encodes it and can delay it or keep the connection open after the SUT closed it. Bytes it cannot decode pass
through untouched, so framing tests see exactly what the tester sent.

The catalogue of faults is :mod:`harness.conformance.faulty`.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.conformance.model import SutRole
from harness.conformance.proto_iso20 import ISO20_PROTOCOL
from harness.conformance.protocol import Protocol
from iso15118.codec import encode_message
from iso15118.errors import V2GError
from iso15118.transport.link import Link
from iso15118.v2gtp import frame

__all__ = ["Fault", "FaultyLink", "Rewrite"]

Rewrite = Callable[[Any, dict[str, Any]], Any]
"""(message, the fault's memory for this connection) -> the message to pass on."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """One named misbehaviour of our own SUT; every field left at its default changes nothing."""

    name: str
    role: SutRole
    description: str
    session: Mapping[str, Any] = field(default_factory=dict)
    """SessionConfig fields (``check_session_id``, ``side_streams``)."""
    timing: Mapping[str, float] = field(default_factory=dict)
    """Timing fields of the SUT's session core."""
    driver: Mapping[str, Any] = field(default_factory=dict)
    """SeccConfig or EvccConfig fields."""
    outgoing: Rewrite | None = None
    incoming: Rewrite | None = None
    delay: Callable[[str], float] | None = None
    """Seconds to hold back each message the SUT sends, by message kind."""
    keep_open: bool = False
    """The tester never sees the SUT close the connection."""
    tls: Callable[[ssl.SSLContext], None] | None = None
    """Changes the SUT's TLS context after it was made."""
    tls_tolerant: bool = False
    controller: Callable[[Any], Any] | None = None
    """Wraps the SUT's controller."""
    random: Callable[[int], bytes] | None = None
    pnc: Callable[[Any], Any] | None = None
    """Makes the SECC's PnC verifier from the trusted MO roots."""
    store: Callable[[], Any] | None = None
    """Makes the SECC's paused-session store."""
    decisions: Callable[[Any], Any] | None = None
    """Wraps the SECC's protocol decisions (a SeccLogic)."""
    no_client_certificate: bool = False
    skip_peer_check: bool = False
    """The EVCC does not check the SECC's leaf after the handshake (validity, -20 profile)."""
    ignore_resume: bool = False
    """The EVCC forgets its paused session."""

    @property
    def touches_link(self) -> bool:
        """Whether the fault needs a :class:`FaultyLink`."""
        return bool(self.outgoing or self.incoming or self.delay or self.keep_open)


class _Rewriter:
    """Re-frames a byte stream message by message; anything it cannot parse passes through from then on."""

    def __init__(self, rewrite: Rewrite | None, memory: dict[str, Any]) -> None:
        self.protocol: Protocol = memory["protocol"]
        self.rewrite = rewrite
        self.memory = memory
        self.buffer = b""
        self.passthrough = rewrite is None

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        """(message name, bytes to forward) for every complete frame in ``data``."""
        if self.passthrough:
            return [("", data)]
        self.buffer += data
        out: list[tuple[str, bytes]] = []
        while len(self.buffer) >= 8:
            head = self.buffer[:8]
            length = int.from_bytes(head[4:8], "big")
            if head[:2] != b"\x01\xfe" or length > 65536:
                self.passthrough = True
                out.append(("", self.buffer))
                self.buffer = b""
                return out
            if len(self.buffer) < 8 + length:
                break
            payload_type = int.from_bytes(head[2:4], "big")
            payload, self.buffer = self.buffer[8 : 8 + length], self.buffer[8 + length :]
            out.append(self._one(payload_type, payload))
        return out

    def _one(self, payload_type: int, payload: bytes) -> tuple[str, bytes]:
        negotiated = bool(self.memory.get("negotiated"))
        try:
            msg = self.protocol.decode(payload_type, payload, negotiated=negotiated)
        except V2GError:
            return "", frame(payload_type, payload)
        assert self.rewrite is not None
        changed = self.rewrite(msg, self.memory)
        name = self.protocol.kind_of(changed) or type(changed).__name__
        if name == "supportedAppProtocolRes" and self.protocol.code_of(changed).startswith("OK"):
            self.memory["negotiated"] = True
        return name, frame(payload_type, encode_message(changed))


def _same(msg: Any, memory: dict[str, Any]) -> Any:
    return msg


class FaultyLink:
    """The SUT's end of a link, with the fault's rewrites, delays and keep-open applied."""

    def __init__(self, inner: Link, fault: Fault, protocol: Protocol = ISO20_PROTOCOL) -> None:
        self.inner = inner
        self.fault = fault
        memory: dict[str, Any] = {"protocol": protocol}
        self._out = _Rewriter(fault.outgoing or _same, memory) if fault.outgoing or fault.delay else None
        self._in = _Rewriter(fault.incoming, memory)
        self._closed = False

    @property
    def peer(self) -> str:
        return self.inner.peer

    async def send(self, data: bytes) -> None:
        if self._out is None:
            await self.inner.send(data)
            return
        for name, chunk in self._out.feed(data):
            if self.fault.delay is not None and name:
                await asyncio.sleep(self.fault.delay(name))
            await self.inner.send(chunk)

    async def receive(self) -> bytes:
        while True:
            data = await self.inner.receive()
            if not data:
                return b""
            parts = self._in.feed(data)
            if parts:
                return b"".join(chunk for _name, chunk in parts)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self.fault.keep_open:
            await self.inner.close()
