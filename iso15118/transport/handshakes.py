"""How the SECC runs TLS handshakes: where their CPU-bound steps run, and how many may be in progress.

A TLS handshake is what an unauthenticated client can make the SECC do: a P-521 key exchange and signature
for each ClientHello, a chain verification for each certificate. A :data:`HandshakeStep` runs one step of a
handshake (``SSLObject.do_handshake``): :func:`inline_step` on the event loop, or :func:`threaded_steps` in
a thread pool, where OpenSSL runs without the GIL, so that the event loop keeps answering the sessions
already running within their message timeouts while a flood of handshakes is processed.
:class:`HandshakeGate` bounds how many handshakes are in progress at once (each holds its TLS state) and
how many connections may wait for a place, and for how long; the server closes a connection beyond those
limits at once, before any TLS state exists for it.

A step returns its outcome rather than raising it: an exception passed through a future keeps the frames
of its traceback, and with them the connection, alive in a reference cycle until the garbage collector
runs; a flood of refused handshakes would pile up their TLS state meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ThreadPoolExecutor

__all__ = ["HandshakeGate", "HandshakeStep", "inline_step", "threaded_steps"]

HandshakeStep = Callable[[ssl.SSLObject], Awaitable["bool | ssl.SSLError"]]
"""Runs one handshake step: True when the handshake is done, False when it needs the peer's next bytes,
or the :class:`ssl.SSLError` that ended it (without a traceback)."""


def _attempt(connection: ssl.SSLObject) -> bool | ssl.SSLError:
    try:
        connection.do_handshake()
    except ssl.SSLWantReadError:
        return False
    except ssl.SSLError as exc:
        return exc.with_traceback(None)
    return True


async def inline_step(connection: ssl.SSLObject) -> bool | ssl.SSLError:
    """Run the step on the event loop."""
    return _attempt(connection)


def threaded_steps(executor: Executor) -> HandshakeStep:
    """A :data:`HandshakeStep` running each step in ``executor`` while the event loop goes on.

    A step is never abandoned half-way: when the waiting task is cancelled (a handshake timeout, the server
    stopping), the cancellation waits for the thread to leave OpenSSL, because the connection is closed
    next, and an SSL object must never be used by two threads at once.
    """

    async def run(connection: ssl.SSLObject) -> bool | ssl.SSLError:
        return await _settled(asyncio.get_running_loop().run_in_executor(executor, _attempt, connection))

    return run


async def _settled(future: asyncio.Future[bool | ssl.SSLError]) -> bool | ssl.SSLError:
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        while not future.done():  # bounded: a step is milliseconds of CPU
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({future})
        raise


class HandshakeGate:
    """Admits TLS handshakes: ``limit`` in progress, ``backlog`` more waiting up to ``wait_s`` for a place.

    :meth:`reserve` is called when a connection is accepted, and refuses it at once when ``limit`` +
    ``backlog`` connections are in progress or waiting already; :meth:`enter` then waits (first come, first
    served) for a place, and :meth:`leave` gives it back. Also owns the ``threads`` that run the steps.
    """

    def __init__(self, *, limit: int, backlog: int, wait_s: float, threads: int) -> None:
        self.limit = limit
        self.backlog = backlog
        self.wait_s = wait_s
        self.threads = threads
        self.running = 0
        """Handshakes in progress now."""
        self.waiting = 0
        """Connections waiting for a place now."""
        self._places = asyncio.Semaphore(limit)
        self._pool: ThreadPoolExecutor | None = None
        self.step: HandshakeStep = inline_step
        """Where handshake steps run: inline until :meth:`open` (with ``threads`` > 0)."""

    def open(self) -> None:
        """Start the threads (if any)."""
        if self.threads > 0 and self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="secc-tls")
            self.step = threaded_steps(self._pool)

    def close(self) -> None:
        """Stop the threads; call once no handshake is left (each waits for its step to finish)."""
        pool, self._pool, self.step = self._pool, None, inline_step
        if pool is not None:
            pool.shutdown(wait=True)

    def reserve(self) -> str | None:
        """Hold a place in the queue for a new connection: None, or why it is refused."""
        if self.running + self.waiting >= self.limit + self.backlog:
            return f"{self.running} TLS handshakes in progress and {self.waiting} waiting (the limit)"
        self.waiting += 1
        return None

    async def enter(self) -> bool:
        """Wait (after :meth:`reserve`) for a place: True when the handshake may start, False after ``wait_s``."""
        try:
            async with asyncio.timeout(self.wait_s):
                await self._places.acquire()
        except TimeoutError:
            return False
        finally:
            self.waiting -= 1
        self.running += 1
        return True

    def leave(self) -> None:
        """Give back the place :meth:`enter` took."""
        self.running -= 1
        self._places.release()
