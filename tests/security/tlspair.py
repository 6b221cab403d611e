"""Run one TLS session between a server and a client context over real sockets, in two threads.

The server accepts one connection, completes the handshake, checks the peer, then echoes every V2GTP-style
frame it reads until the client closes. Each side's outcome (handshake report, error, bytes received) is
recorded instead of raised, so a test can assert on both ends of a refused handshake; a failed handshake is
also translated by :func:`~iso15118.security.tls.tls_failure` while its connection is still open (``failure``),
which is how the runtime names a refused peer.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from iso15118.errors import SecurityError
from iso15118.security.certs import Purpose
from iso15118.security.tls import HandshakeInfo, TlsMode, check_peer, tls_failure

TIMEOUT = 10.0


@dataclass
class Side:
    """The outcome on one end."""

    info: HandshakeInfo | None = None
    error: BaseException | None = None
    failure: SecurityError | None = None
    """The handshake's :class:`ssl.SSLError` as tls_failure(error, connection) reports it."""
    received: bytes = b""
    frames: list[bytes] = field(default_factory=list)


def _recv_exact(conn: ssl.SSLSocket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _handshake(conn: ssl.SSLSocket, side: Side) -> None:
    try:
        conn.do_handshake()
    except ssl.SSLError as exc:
        side.failure = tls_failure(exc, conn)
        raise


def serve_once(
    listener: socket.socket, context: ssl.SSLContext, side: Side, *, mode: TlsMode, now: dt.datetime
) -> None:
    """Accept one client on ``listener`` and echo frames (8-byte header with a 4-byte length at 4)."""
    try:
        raw, _ = listener.accept()
        raw.settimeout(TIMEOUT)
        with context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False) as conn:
            _handshake(conn, side)
            side.info = check_peer(conn, purpose=Purpose.VEHICLE_TLS, now=now, mode=mode)
            while True:
                header = _recv_exact(conn, 8)
                if len(header) < 8:
                    break
                payload = _recv_exact(conn, int.from_bytes(header[4:8], "big"))
                side.frames.append(header + payload)
                side.received += header + payload
                conn.sendall(header + payload)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        side.error = exc
    except Exception as exc:  # V2GError from check_peer and anything unexpected: recorded, not lost
        side.error = exc


def connect_once(
    address: tuple[str, int] | tuple[str, int, int, int],
    context: ssl.SSLContext,
    side: Side,
    frames: Sequence[bytes],
    *,
    mode: TlsMode,
    now: dt.datetime,
) -> None:
    """Connect, handshake, send ``frames`` and read each echo back."""
    try:
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        raw = socket.socket(family, socket.SOCK_STREAM)
        raw.settimeout(TIMEOUT)
        raw.connect(address)
        with context.wrap_socket(raw, server_side=False, do_handshake_on_connect=False) as conn:
            _handshake(conn, side)
            side.info = check_peer(conn, purpose=Purpose.SECC_TLS, now=now, mode=mode)
            # Without frames, wait for the server's verdict on our certificate (TLS 1.3 sends it after
            # our Finished, so a refusal arrives as an alert on the first read).
            if not frames and conn.recv(1) == b"":
                side.error = ConnectionAbortedError("the server closed the connection")
            for frame in frames:
                conn.sendall(frame)
                echo = _recv_exact(conn, len(frame))
                side.received += echo
                if len(echo) < len(frame):
                    # TLS 1.3 client auth fails after the client's handshake: the alert arrives on read.
                    conn.recv(1)
    except Exception as exc:
        side.error = exc


def run_pair(
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
    *,
    frames: Sequence[bytes] = (b"\x01\xfe\x80\x02\x00\x00\x00\x04ping",),
    host: str = "::1",
    mode: TlsMode = TlsMode.STRICT,
    now: dt.datetime | None = None,
    port: int = 0,
    on_listening: Callable[[int], None] | None = None,
) -> tuple[Side, Side]:
    """One session over ``host``; returns (server side, client side)."""
    moment = now or dt.datetime.now(dt.UTC)
    server, client = Side(), Side()
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(1)
        listener.settimeout(TIMEOUT)
        bound = listener.getsockname()[1]
        if on_listening is not None:
            on_listening(bound)
        thread = threading.Thread(
            target=serve_once,
            args=(listener, server_context, server),
            kwargs={"mode": mode, "now": moment},
            daemon=True,
        )
        thread.start()
        connect_once((host, bound), client_context, client, frames, mode=mode, now=moment)
        thread.join(TIMEOUT + 5)
        if thread.is_alive():
            raise TimeoutError("TLS server thread did not finish")
    return server, client
