"""The tester's side of one connection: bytes out, V2GTP frames in, and the evidence of both.

:class:`Wire` reads the link in the background, deframes what the SUT sends with its own
:class:`~iso15118.v2gtp.Deframer`, and queues every frame, framing error and the end of the connection with the
time it arrived, so steps can wait for "the next thing" with a deadline and timing is measured where the bytes
arrive. :class:`Recorder` keeps the case's trace and measurements.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.conformance.model import Measurement, TraceEntry
from iso15118.codec import to_json
from iso15118.errors import FramingError, V2GError
from iso15118.security.tls import HandshakeInfo
from iso15118.transport.link import Link, LinkClosed
from iso15118.v2gtp import Deframer, pack_header

__all__ = ["Closed", "Connection", "Incoming", "Received", "Recorder", "Wire", "WireError"]

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    """A complete V2GTP frame from the SUT."""

    at: float
    payload_type: int
    payload: bytes

    @property
    def raw(self) -> bytes:
        """The frame as it was on the wire (header and payload)."""
        return pack_header(self.payload_type, len(self.payload)) + self.payload


@dataclass(frozen=True, slots=True, kw_only=True)
class WireError:
    """The SUT sent bytes that are not a valid V2GTP frame."""

    at: float
    error: FramingError


@dataclass(frozen=True, slots=True, kw_only=True)
class Closed:
    """The SUT closed the connection (or it broke: ``error`` says how)."""

    at: float
    error: str = ""


Incoming = Received | WireError | Closed


@dataclass(frozen=True, slots=True, kw_only=True)
class Connection:
    """A connection a target opened for the tester: the byte link and the TLS session, if any."""

    link: Link
    tls: HandshakeInfo | None = None
    ssl_object: Any = None
    """The :class:`ssl.SSLObject` of a TLS connection (to read the peer's chain)."""
    error: Callable[[], str] | None = None
    """Reports the transport error that ended the link (e.g. a TLS alert), if the link knows it."""


class Recorder:
    """The evidence of one case: trace entries and measurements, timed from the case's start."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.t0 = clock()
        self.trace: list[TraceEntry] = []
        self.measurements: list[Measurement] = []

    def since(self, at: float) -> float:
        """Seconds from the case's start to clock time ``at``."""
        return round(at - self.t0, 6)

    def note(self, text: str, *, direction: str = "note", at: float | None = None) -> None:
        """Record a note (``note``) or a connection event (``net``)."""
        self.trace.append(TraceEntry(at=self.since(self.clock() if at is None else at), direction=direction, text=text))

    def frame(
        self,
        direction: str,
        raw: bytes,
        *,
        at: float,
        message: Any = None,
        name: str | None = None,
        stream: str | None = None,
        elapsed: float | None = None,
    ) -> None:
        """Record a frame sent (``tx``) or received (``rx``), with the decoded message when there is one."""
        decoded: dict[str, Any] | None = None
        if message is not None:
            with contextlib.suppress(V2GError, ValueError, TypeError, KeyError):
                decoded = to_json(message)
        payload_type = int.from_bytes(raw[2:4], "big") if len(raw) >= 4 else None
        text = name or (type(message).__name__ if message is not None else f"{len(raw)} bytes")
        self.trace.append(
            TraceEntry(
                at=self.since(at),
                direction=direction,
                text=text,
                payload_type=payload_type,
                stream=stream,
                hex=raw.hex(),
                decoded=decoded,
                elapsed=None if elapsed is None else round(elapsed, 6),
            )
        )

    def measure(self, measurement: Measurement) -> Measurement:
        """Keep a measurement and return it."""
        self.measurements.append(measurement)
        return measurement


class Wire:
    """Frames over one connection, with a background reader feeding a queue of :data:`Incoming`."""

    def __init__(self, connection: Connection, clock: Clock = time.monotonic) -> None:
        self.connection = connection
        self.link = connection.link
        self.clock = clock
        self._queue: asyncio.Queue[Incoming] = asyncio.Queue()
        self._deframer = Deframer()
        self._reader = asyncio.ensure_future(self._read())
        self.closed: Closed | None = None
        self._closing = False

    async def _read(self) -> None:
        failed = False
        while True:
            try:
                data = await self.link.receive()
            except (OSError, LinkClosed) as exc:
                data, reason = b"", str(exc)
            else:
                reason = ""
            now = self.clock()
            if not data:
                if not reason and self.connection.error is not None:
                    reason = self.connection.error()
                self.closed = Closed(at=now, error=reason)
                await self._queue.put(self.closed)
                return
            if failed:
                continue
            try:
                frames = self._deframer.feed(data)
            except FramingError as exc:
                failed = True
                await self._queue.put(WireError(at=now, error=exc))
                continue
            for fr in frames:
                await self._queue.put(Received(at=now, payload_type=int(fr.payload_type), payload=fr.payload))

    async def next(self, timeout: float) -> Incoming | None:
        """The next thing from the SUT, or None when nothing came within ``timeout`` seconds."""
        if not self._queue.empty():
            return self._queue.get_nowait()
        if self.closed is not None and self._queue.empty():
            return self.closed
        try:
            return await asyncio.wait_for(self._queue.get(), max(0.0, timeout))
        except TimeoutError:
            return None

    def pending(self) -> list[Incoming]:
        """Everything queued and not yet taken (for the evidence at the end of a case)."""
        items: list[Incoming] = []
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        return items

    async def send(self, data: bytes, *, split: int | None = None, gap: float = 0.0) -> float:
        """Send bytes (in chunks of ``split`` bytes, ``gap`` seconds apart); returns when the last byte went."""
        chunks = [data] if not split else [data[i : i + split] for i in range(0, len(data), split)]
        for index, chunk in enumerate(chunks):
            if index and gap:
                await asyncio.sleep(gap)
            await self.link.send(chunk)
        return self.clock()

    async def close(self) -> None:
        """Close the link and stop reading."""
        if self._closing:
            return
        self._closing = True
        with contextlib.suppress(OSError, LinkClosed):
            await self.link.close()
        if not self._reader.done():
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
