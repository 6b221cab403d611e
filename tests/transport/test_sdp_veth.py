"""SDP with real link-local multicast between two network namespaces joined by a veth pair (root only).

Namespace ``a`` plays the SECC (SdpServer, or a hand-written responder), namespace ``b`` the EVCC
(discover_secc). Each side runs its own asyncio loop in a thread that joined its namespace.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import threading
from collections.abc import Callable, Coroutine, Iterator
from ipaddress import IPv6Address
from typing import Any, TypeVar

import pytest

from harness.netns import VethPair, join_result, run_in_netns
from iso15118.constants import SDP_SERVER_PORT, SdpSecurity
from iso15118.sdp import SdpRequest, SdpResponse, pack_request_datagram, pack_response_datagram
from iso15118.transport import udp
from iso15118.transport.udp import SDP_MAX_TRIES, SdpResult, SdpServer, SdpTimeoutError, discover_secc
from tests.support.netns import veth_or_skip

pytestmark = pytest.mark.root

T = TypeVar("T")


@pytest.fixture(scope="module")
def veth() -> Iterator[VethPair]:
    yield from veth_or_skip("sdp")


def _start(ns: str, factory: Callable[[], Coroutine[Any, Any, T]]) -> tuple[threading.Thread, list[T]]:
    return run_in_netns(ns, lambda: asyncio.run(factory()))


async def _serve(iface: str, stop: threading.Event, ready: threading.Event, tcp_port: int) -> int:
    async with SdpServer(iface, tcp_port=tcp_port) as server:
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.01)
        return server.answered


def _responder_socket(iface: str) -> socket.socket:
    """A bare UDP socket on [::]:15118 of ``iface`` in the group ff02::1 (for hand-made SECC behaviour)."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    sock.bind(("::", SDP_SERVER_PORT))
    mreq = socket.inet_pton(socket.AF_INET6, "ff02::1") + struct.pack("@I", socket.if_nametoindex(iface))
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
    return sock


def test_client_finds_server_by_multicast(veth: VethPair) -> None:
    stop, ready = threading.Event(), threading.Event()
    server = _start(veth.ns_a, lambda: _serve(veth.if_a, stop, ready, 50123))
    try:
        assert ready.wait(10), "SDP server did not start"
        # Spec timing: 250 ms per try, at most 50 tries.
        client = _start(veth.ns_b, lambda: discover_secc(veth.if_b))
        result: SdpResult = join_result(*client, timeout=SDP_MAX_TRIES * 0.25 + 5)
    finally:
        stop.set()
    answered = join_result(*server, timeout=10)
    assert result.response == SdpResponse(address=IPv6Address(veth.lladdr_a), port=50123, security=SdpSecurity.TLS)
    assert result.responder == veth.lladdr_a
    assert 1 <= result.tries <= SDP_MAX_TRIES
    assert 1 <= answered <= result.tries
    assert result.host == f"{veth.lladdr_a}%{veth.if_b}"

    # The announced endpoint is reachable from the EVCC side with the returned sockaddr (scope id set).
    listening = threading.Event()

    def accept_one() -> bytes:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as listener:
            listener.bind((veth.lladdr_a, 50123, 0, socket.if_nametoindex(veth.if_a)))
            listener.listen(1)
            listener.settimeout(10)
            listening.set()
            conn, _ = listener.accept()
            with conn:
                return conn.recv(16)

    def connect() -> bool:
        listening.wait(10)
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(result.sockaddr)
            sock.sendall(b"hello SECC")
        return True

    acceptor = run_in_netns(veth.ns_a, accept_one)
    connector = run_in_netns(veth.ns_b, connect)
    assert join_result(*acceptor, timeout=15) == b"hello SECC"
    assert join_result(*connector, timeout=15)


def test_late_answer_to_first_try_is_accepted(veth: VethPair) -> None:
    """The responder answers only the first request, 2.5 tries late [V2G20-126]."""
    timeout = 0.1
    answer = SdpResponse(address=IPv6Address(veth.lladdr_a), port=60001)
    ready, stop = threading.Event(), threading.Event()

    def respond() -> tuple[int, int]:
        with _responder_socket(veth.if_a) as sock:
            ready.set()
            sock.settimeout(10)
            first, addr = sock.recvfrom(64)
            assert first == pack_request_datagram(SdpRequest())
            stop.wait(2.5 * timeout)
            sock.sendto(pack_response_datagram(answer), addr)
            requests, answers = 1, 1
            sock.settimeout(0.3)
            while True:
                try:
                    sock.recvfrom(64)
                except TimeoutError:
                    return requests, answers
                requests += 1

    responder = run_in_netns(veth.ns_a, respond)
    assert ready.wait(10)
    client = _start(veth.ns_b, lambda: discover_secc(veth.if_b, timeout_per_try=timeout, max_tries=20))
    result: SdpResult = join_result(*client, timeout=10)
    requests, answers = join_result(*responder, timeout=10)
    assert result.response == answer
    assert result.tries >= 2  # accepted while a later try was pending (the answer is to try 1 only)
    assert (requests, answers) == (result.tries, 1)


def test_silent_secc_gives_clear_error_after_configured_tries(veth: VethPair) -> None:
    ready = threading.Event()

    def count_requests() -> int:
        with _responder_socket(veth.if_a) as sock:
            ready.set()
            sock.settimeout(0.3)
            count = 0
            while True:
                try:
                    data, _ = sock.recvfrom(64)
                except TimeoutError:
                    return count
                assert data == pack_request_datagram(SdpRequest())
                count += 1

    counter = run_in_netns(veth.ns_a, count_requests)
    assert ready.wait(10)
    client = _start(veth.ns_b, lambda: discover_secc(veth.if_b, timeout_per_try=0.05, max_tries=4))
    with pytest.raises(SdpTimeoutError) as info:
        join_result(*client, timeout=10)
    assert join_result(*counter, timeout=10) == 4
    message = str(info.value)
    assert f"on {veth.if_b}" in message and "4 requests" in message


def test_server_listens_on_its_interface_only(veth: VethPair) -> None:
    """A server bound to the veth end does not answer a request that arrives on lo of the same namespace."""
    stop, ready = threading.Event(), threading.Event()
    server = _start(veth.ns_a, lambda: _serve(veth.if_a, stop, ready, 50124))
    try:
        assert ready.wait(10), "SDP server did not start"
        probe = _start(
            veth.ns_a,
            lambda: discover_secc("lo", destination="::1", port=SDP_SERVER_PORT, timeout_per_try=0.05, max_tries=2),
        )
        with pytest.raises(SdpTimeoutError):
            join_result(*probe, timeout=10)
    finally:
        stop.set()
    assert join_result(*server, timeout=10) == 0


def test_fallback_when_bindtodevice_is_refused(
    veth: VethPair, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Without SO_BINDTODEVICE (old kernel, no privilege) the server binds to ff02::1%iface instead."""
    caplog.set_level(logging.INFO, logger=udp.__name__)
    monkeypatch.setattr(udp, "_bind_to_device", lambda sock, iface: False)
    stop, ready = threading.Event(), threading.Event()
    server = _start(veth.ns_a, lambda: _serve(veth.if_a, stop, ready, 50125))
    try:
        assert ready.wait(10), "SDP server did not start"
        client = _start(veth.ns_b, lambda: discover_secc(veth.if_b, timeout_per_try=0.25, max_tries=8))
        result: SdpResult = join_result(*client, timeout=10)
    finally:
        stop.set()
    assert join_result(*server, timeout=10) >= 1
    assert result.response == SdpResponse(address=IPv6Address(veth.lladdr_a), port=50125)
    assert f"binding to ff02::1%{veth.if_a}" in caplog.text
