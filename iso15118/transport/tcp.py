"""TCP and TLS for V2G sessions: the handshake on both sides and the link a session runs over.

:func:`accept_connection` (SECC) and :func:`connect` (EVCC) turn a TCP connection into a :class:`TcpLink`,
running the TLS handshake when given a context and checking the peer's leaf with
:func:`~iso15118.security.tls.check_peer` afterwards. Endpoints and the listening socket live in
:mod:`iso15118.transport.endpoints` (re-exported here). Every failure is a
:class:`~iso15118.errors.SecurityError` (handshake, via :func:`~iso15118.security.tls.tls_failure`) or an
:class:`OSError` (TCP) whose message names the peer. Whether plain TCP is allowed at all is decided by
:mod:`iso15118.transport.policy`, not here.

The handshake's CPU-bound steps (key exchange, signatures, chain verification) run where a
:data:`~iso15118.transport.handshakes.HandshakeStep` says: inline by default, or in a thread pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import errno
import os
import socket
import ssl
from collections.abc import Callable

from iso15118.errors import SecurityError
from iso15118.security.certs import Purpose
from iso15118.security.tls import HandshakeInfo, TlsMode, check_peer, tls_failure
from iso15118.transport.endpoints import Endpoint, make_endpoint, open_listener, parse_endpoint
from iso15118.transport.handshakes import HandshakeStep, inline_step
from iso15118.transport.link import LinkClosed

__all__ = [
    "Endpoint",
    "TcpLink",
    "accept_connection",
    "connect",
    "make_endpoint",
    "open_listener",
    "open_stream",
    "parse_endpoint",
    "peer_name",
]

_CHUNK = 1 << 16


def _bare(exc: ssl.SSLError) -> ssl.SSLError:
    """The error without its traceback, whose frames would keep the link (and its TLS state) alive."""
    return exc.with_traceback(None)


class TcpLink:
    """A :class:`~iso15118.transport.link.Link` over TCP, with TLS run in memory (:class:`ssl.SSLObject`).

    TLS goes through memory BIOs rather than asyncio's SSL transport so that every alert reaches the peer
    before the connection closes, and a peer's alert surfaces here as the :class:`ssl.SSLError` it is.
    ``tls`` describes the handshake (None for plain TCP); ``error`` is the TLS error that ended the link,
    e.g. a refusal of the vehicle certificate, which TLS 1.3 delivers only after the EV's handshake.
    ``prefix``: bytes already read from the connection (the server peeks at the ClientHello to choose its
    context), replayed before anything else is read.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        peer: str,
        context: ssl.SSLContext | None = None,
        server_side: bool = False,
        prefix: bytes = b"",
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._peer = peer
        self._closed = False
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._ssl = (
            None if context is None else context.wrap_bio(self._incoming, self._outgoing, server_side=server_side)
        )
        self._prefix = prefix if self._ssl is None else b""
        if self._ssl is not None and prefix:
            self._incoming.write(prefix)
        self.tls: HandshakeInfo | None = None
        self.error: ssl.SSLError | None = None

    @property
    def peer(self) -> str:
        """``[ADDR]:PORT`` of the other end."""
        return self._peer

    @property
    def ssl_object(self) -> ssl.SSLObject | None:
        """The TLS session (None for plain TCP, and once the link is closed)."""
        return self._ssl

    async def _flush(self) -> None:
        data = self._outgoing.read()
        if data:
            self._writer.write(data)
            await self._writer.drain()

    async def _fill(self) -> None:
        data = await self._reader.read(_CHUNK)
        if data:
            self._incoming.write(data)
        else:
            self._incoming.write_eof()

    async def handshake(self, step: HandshakeStep = inline_step) -> None:
        """Run the TLS handshake; on failure the alert is sent before :class:`ssl.SSLError` propagates.

        ``step`` runs each ``do_handshake`` step (default: inline, on the event loop).
        """
        assert self._ssl is not None
        while (result := await step(self._ssl)) is not True:
            if result is False:  # our next flight is out; now the peer's
                await self._flush()
                await self._fill()
                continue
            with contextlib.suppress(OSError):
                await self._flush()  # the alert tells the peer why
            try:
                raise result
            finally:
                result = False  # this frame must not keep the error whose traceback holds this frame
        await self._flush()

    async def send(self, data: bytes) -> None:
        """Send bytes (encrypted when TLS); :class:`LinkClosed` when the link is down."""
        if self._closed or self._writer.is_closing():
            raise LinkClosed("link is closed")
        try:
            if self._ssl is None:
                self._writer.write(data)
                await self._writer.drain()
            else:
                self._ssl.write(data)
                await self._flush()
        except ssl.SSLError as exc:
            self.error = self.error or _bare(exc)
            raise LinkClosed(str(exc)) from exc
        except OSError as exc:
            raise LinkClosed(str(exc)) from exc

    async def receive(self) -> bytes:
        """The next bytes from the peer; ``b""`` when it closed, or when TLS failed (see ``error``)."""
        if self._closed:
            return b""
        tls = self._ssl  # close() drops it; a read in progress finishes on this one
        try:
            if tls is None:
                if self._prefix:
                    data, self._prefix = self._prefix, b""
                    return data
                return await self._reader.read(_CHUNK)
            while True:
                try:
                    return tls.read(_CHUNK)
                except ssl.SSLWantReadError:
                    await self._fill()
        except ssl.SSLZeroReturnError:
            return b""  # close_notify
        except ssl.SSLEOFError:
            return b""  # TCP closed without close_notify: a lost connection, not a TLS refusal
        except ssl.SSLError as exc:
            self.error = self.error or _bare(exc)
            with contextlib.suppress(OSError):
                await self._flush()
            return b""
        except OSError:
            return b""

    async def close(self) -> None:
        """Send close_notify (TLS) and close the connection; idempotent. The TLS state is freed here."""
        if self._closed:
            return
        self._closed = True
        if self._ssl is not None and self.error is None:
            with contextlib.suppress(ssl.SSLError, OSError, ValueError):
                self._ssl.unwrap()  # close_notify; we do not wait for the peer's
        with contextlib.suppress(OSError, ssl.SSLError):
            await self._flush()
        # Free OpenSSL's state now, not when the last reference to this link goes: whoever drove the link may
        # keep it in a reference cycle until the garbage collector runs.
        self._ssl = None
        self._writer.close()
        try:
            await asyncio.wait_for(self._writer.wait_closed(), 2.0)
        except TimeoutError:
            self._writer.transport.abort()  # a peer that reads nothing must not keep our buffers
        except OSError:
            pass

    def failure(self) -> SecurityError | None:
        """The link's TLS error as a clear :class:`SecurityError` (None when it broke for another reason)."""
        return tls_failure(self.error) if self.error is not None else None


def peer_name(writer: asyncio.StreamWriter) -> str:
    """``[ADDR]:PORT`` of a stream's peer."""
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"[{peer[0]}]:{peer[1]}"
    return str(peer)


async def _secure(
    link: TcpLink,
    *,
    purpose: Purpose,
    mode: TlsMode,
    timeout: float,
    clock: Callable[[], float],
    step: HandshakeStep = inline_step,
) -> None:
    """Handshake within ``timeout`` and check the peer; closes the link and raises SecurityError on failure."""
    try:
        try:
            async with asyncio.timeout(timeout):
                await link.handshake(step)
        except ssl.SSLEOFError:
            raise SecurityError(f"TLS handshake with {link.peer} failed: the peer closed the connection") from None
        except ssl.SSLError as exc:
            raise tls_failure(_bare(exc), link.ssl_object) from None
        except TimeoutError:
            raise SecurityError(f"TLS handshake with {link.peer} failed: no handshake within {timeout:g} s") from None
        except OSError as exc:
            raise SecurityError(f"TLS handshake with {link.peer} failed: {exc.strerror or exc!r}") from None
        assert link.ssl_object is not None
        # The -20 profile of the peer's leaf, which OpenSSL does not check [V2G20-1264].
        link.tls = check_peer(
            link.ssl_object, purpose=purpose, now=dt.datetime.fromtimestamp(clock(), tz=dt.UTC), mode=mode
        )
    except BaseException:
        await link.close()
        raise


async def accept_connection(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    context: ssl.SSLContext | None,
    *,
    mode: TlsMode = TlsMode.STRICT,
    handshake_timeout: float = 10.0,
    clock: Callable[[], float],
    step: HandshakeStep = inline_step,
    prefix: bytes = b"",
) -> TcpLink:
    """SECC side: run the TLS handshake on an accepted connection (unless ``context`` is None).

    Raises :class:`SecurityError` (the connection is closed) when the handshake or the peer check fails.
    ``step`` runs the handshake's CPU-bound steps (default: inline, on the event loop); ``prefix``: the bytes
    already read from the connection (:mod:`iso15118.transport.tlspeek`).
    """
    link = TcpLink(reader, writer, peer=peer_name(writer), context=context, server_side=True, prefix=prefix)
    if context is not None:
        await _secure(link, purpose=Purpose.VEHICLE_TLS, mode=mode, timeout=handshake_timeout, clock=clock, step=step)
    return link


async def open_stream(
    endpoint: Endpoint, *, timeout: float = 10.0
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP connection to ``endpoint`` (Nagle off), as asyncio streams; no TLS yet.

    Raises :class:`OSError` naming the endpoint when the connection fails or takes longer than ``timeout``.
    """
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, endpoint.sockaddr), timeout)
        except TimeoutError:
            raise OSError(errno.ETIMEDOUT, f"cannot connect to {endpoint}: no answer within {timeout:g} s") from None
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise OSError(exc.errno, f"cannot connect to {endpoint}: {reason}") from None
        return await asyncio.open_connection(sock=sock, limit=_CHUNK)
    except BaseException:
        sock.close()
        raise


async def connect(
    endpoint: Endpoint,
    context: ssl.SSLContext | None,
    *,
    mode: TlsMode = TlsMode.STRICT,
    timeout: float = 10.0,
    clock: Callable[[], float],
) -> TcpLink:
    """EVCC side: connect to ``endpoint`` and run the TLS handshake (unless ``context`` is None).

    Raises :class:`OSError` when TCP fails and :class:`SecurityError` when TLS or the peer check fails.
    """
    reader, writer = await open_stream(endpoint, timeout=timeout)
    link = TcpLink(reader, writer, peer=str(endpoint), context=context)
    if context is not None:
        await _secure(link, purpose=Purpose.SECC_TLS, mode=mode, timeout=timeout, clock=clock)
    return link
