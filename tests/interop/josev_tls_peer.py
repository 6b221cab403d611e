# mypy: ignore-errors
"""Runs inside Josev's virtual environment (``python -I``): one TLS handshake made with Josev's own contexts.

``iso15118`` here is Josev's package, not ours. Josev builds its contexts in
``iso15118.shared.security.get_ssl_context`` from ``PKI_PATH`` and ``ENABLE_TLS_1_3`` (read from the
environment); no JVM is involved, so a handshake takes well under a second.

    python -I josev_tls_peer.py server            # prints {"event": "listening", "port": N}, serves one handshake
    python -I josev_tls_peer.py client PORT       # connects to [::1]:PORT

Either way the last line is ``{"event": "handshake", "ok": ..., "version": ..., "cipher": ..., "peer": ...,
"error": ...}``.
"""

from __future__ import annotations

import json
import socket
import sys

from cryptography import x509
from iso15118.shared.security import get_ssl_context
from iso15118.shared.settings import load_shared_settings


def _say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def _report(tls) -> None:
    der = tls.getpeercert(binary_form=True)
    peer = x509.load_der_x509_certificate(der).subject.rfc4514_string() if der else None
    cipher = tls.cipher()
    _say(event="handshake", ok=True, version=tls.version(), cipher=cipher[0] if cipher else None, peer=peer, error=None)


def _failed(exc: Exception) -> None:
    _say(event="handshake", ok=False, version=None, cipher=None, peer=None, error=f"{type(exc).__name__}: {exc}")


def server() -> None:
    context = get_ssl_context(True)
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
        sock.bind(("::1", 0))
        sock.listen(1)
        sock.settimeout(30)
        _say(event="listening", port=sock.getsockname()[1])
        conn, _ = sock.accept()
        conn.settimeout(10)
        try:
            tls = context.wrap_socket(conn, server_side=True)
        except Exception as exc:  # reported to the test
            _failed(exc)
            conn.close()
            return
        _report(tls)
        tls.close()


def client(port: int) -> None:
    context = get_ssl_context(False)
    with socket.create_connection(("::1", port), timeout=10) as sock:
        try:
            tls = context.wrap_socket(sock, server_hostname=None)
            # TLS 1.3: a refusal of the client certificate arrives after the handshake; read to see it.
            tls.settimeout(1)
            try:
                tls.recv(1)
            except TimeoutError:
                pass
        except Exception as exc:  # reported to the test
            _failed(exc)
            return
        _report(tls)
        tls.close()


if __name__ == "__main__":
    load_shared_settings()
    if sys.argv[1] == "server":
        server()
    else:
        client(int(sys.argv[2]))
