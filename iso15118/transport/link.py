"""Byte links a session runs over: asyncio streams (TCP, TLS) and an in-memory pair for tests and simulation.

A :class:`Link` moves bytes and nothing else; framing, decoding and timers belong to the session core.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

__all__ = ["Link", "LinkClosed", "MemoryLink", "StreamLink", "memory_pair"]


class LinkClosed(ConnectionError):
    """The link is closed (locally or by the peer)."""


class Link(Protocol):
    """A bidirectional byte stream."""

    async def send(self, data: bytes) -> None:
        """Send bytes (raises :class:`LinkClosed` when the link is down)."""
        ...

    async def receive(self) -> bytes:
        """The next chunk of bytes; ``b""`` when the peer closed the link."""
        ...

    async def close(self) -> None:
        """Close the link (idempotent)."""
        ...

    @property
    def peer(self) -> str:
        """A printable name of the peer."""
        ...


class StreamLink:
    """A link over an asyncio ``StreamReader``/``StreamWriter`` pair (plain TCP or TLS)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, chunk: int = 65536) -> None:
        self._reader = reader
        self._writer = writer
        self._chunk = chunk
        self._closed = False
        peer = writer.get_extra_info("peername")
        self._peer = f"[{peer[0]}]:{peer[1]}" if isinstance(peer, tuple) else str(peer)

    @property
    def peer(self) -> str:
        return self._peer

    @property
    def writer(self) -> asyncio.StreamWriter:
        """The underlying writer (for TLS details such as the peer certificate)."""
        return self._writer

    async def send(self, data: bytes) -> None:
        if self._closed or self._writer.is_closing():
            raise LinkClosed("link is closed")
        self._writer.write(data)
        try:
            await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            raise LinkClosed(str(exc)) from exc

    async def receive(self) -> bytes:
        if self._closed:
            return b""
        try:
            return await self._reader.read(self._chunk)
        except (ConnectionError, OSError):
            return b""

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError, asyncio.TimeoutError):
            await asyncio.wait_for(self._writer.wait_closed(), 2.0)


class MemoryLink:
    """One end of an in-memory link (see :func:`memory_pair`)."""

    def __init__(self, name: str, inbox: asyncio.Queue[bytes], outbox: asyncio.Queue[bytes], peer: str = "") -> None:
        self._name = name
        self._peer = peer
        self._inbox = inbox
        self._outbox = outbox
        self._closed = False
        self.sent = 0
        self.chunking: int | None = None
        """When set, every send is split into chunks of this size (exercises incremental framing)."""

    @property
    def peer(self) -> str:
        return f"memory:{self._peer or 'peer'}"

    async def send(self, data: bytes) -> None:
        if self._closed:
            raise LinkClosed("link is closed")
        self.sent += len(data)
        if self.chunking:
            for i in range(0, len(data), self.chunking):
                self._outbox.put_nowait(data[i : i + self.chunking])
        else:
            self._outbox.put_nowait(data)

    async def receive(self) -> bytes:
        if self._closed:
            return b""
        data = await self._inbox.get()
        if not data:
            self._closed = True
        return data

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._outbox.put_nowait(b"")


def memory_pair() -> tuple[MemoryLink, MemoryLink]:
    """Two connected in-memory link ends (EVCC side, SECC side)."""
    a: asyncio.Queue[bytes] = asyncio.Queue()
    b: asyncio.Queue[bytes] = asyncio.Queue()
    return MemoryLink("evcc", a, b, peer="secc"), MemoryLink("secc", b, a, peer="evcc")
