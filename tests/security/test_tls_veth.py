"""TLS 1.3 between two network namespaces joined by a veth pair, over IPv6 link-local addresses (root)."""

from __future__ import annotations

import datetime as dt
import socket
import threading

import pytest

from harness.netns import join_result, run_in_netns, veth_pair
from iso15118.security.tls import TlsMode, evcc_context, secc_context
from tests.support.netns import require_netns

from .conftest import PkiFixture
from .tlspair import Side, connect_once, serve_once

pytestmark = [pytest.mark.root, pytest.mark.timeout(90)]

FRAMES = [b"\x01\xfe\x80\x02\x00\x00\x00\x05hello", b"\x01\xfe\x80\x02\x00\x00\x00\x00"]


@pytest.fixture(scope="module")
def namespaces_ok() -> None:
    require_netns()


@pytest.mark.parametrize("mutual", [True, False], ids=["mutual", "server-only"])
def test_handshake_across_a_veth_pair(namespaces_ok: None, test_pki: PkiFixture, mutual: bool) -> None:
    now = dt.datetime.now(dt.UTC)
    server_context = secc_context(test_pki.secc_config(require_client_certificate=mutual))
    client_context = evcc_context(test_pki.evcc_config(vehicle_certificate=mutual))
    server, client = Side(), Side()
    with veth_pair("v2gtls") as link:
        listening = threading.Event()
        port: list[int] = []

        def serve() -> None:
            scope = socket.if_nametoindex(link.if_a)
            with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as listener:
                listener.bind((link.lladdr_a, 0, 0, scope))
                listener.listen(1)
                listener.settimeout(20)
                port.append(listener.getsockname()[1])
                listening.set()
                serve_once(listener, server_context, server, mode=TlsMode.STRICT, now=now)

        def connect() -> None:
            assert listening.wait(20)
            scope = socket.if_nametoindex(link.if_b)
            connect_once(
                (link.lladdr_a, port[0], 0, scope), client_context, client, FRAMES, mode=TlsMode.STRICT, now=now
            )

        server_thread, server_box = run_in_netns(link.ns_a, serve)
        client_thread, client_box = run_in_netns(link.ns_b, connect)
        join_result(client_thread, client_box, timeout=30)
        join_result(server_thread, server_box, timeout=30)
    assert server.error is None and client.error is None
    assert server.received == b"".join(FRAMES) and client.received == b"".join(FRAMES)
    assert client.info is not None and server.info is not None
    assert client.info.version == "TLSv1.3" and client.info.group == "secp521r1"
    assert client.info.cipher == "TLS_AES_256_GCM_SHA384"
    assert client.info.peer_key == test_pki.pki.algorithm.value
    assert (server.info.peer_subject is not None) is mutual
