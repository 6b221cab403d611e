"""SDP server and client on the loopback interface, without root.

``lo`` normally has no MULTICAST flag, so an SDP request to ff02::1%lo cannot be sent: these tests drive
the server with unicast datagrams to ``::1`` (the server's request handling is the same for both), and
one test checks that multicast on ``lo`` either works or fails with a clear error. Real multicast SDP
runs over a veth pair in test_sdp_veth.py.
"""

from __future__ import annotations

import asyncio
import socket
import time
from ipaddress import IPv6Address
from pathlib import Path

import pytest

from iso15118.constants import PayloadType, SdpSecurity
from iso15118.errors import ConfigError, V2GError
from iso15118.sdp import (
    SdpRequest,
    SdpResponse,
    pack_request_datagram,
    pack_response_datagram,
    unpack_response_datagram,
)
from iso15118.transport.udp import (
    SdpServer,
    SdpTimeoutError,
    discover_secc,
    interface_addresses,
    link_local_address,
)
from iso15118.v2gtp import frame
from tests.support.netns import free_port

LOOPBACK = IPv6Address("::1")


def _peer_socket() -> socket.socket:
    """A non-blocking UDP socket on ::1 playing the other side."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.bind(("::1", 0))
    sock.setblocking(False)
    return sock


async def _recv(sock: socket.socket, timeout: float) -> tuple[bytes, tuple[str, int]] | None:
    loop = asyncio.get_running_loop()
    try:
        data, addr = await asyncio.wait_for(loop.sock_recvfrom(sock, 2048), timeout)
    except TimeoutError:
        return None
    return data, (str(addr[0]), int(addr[1]))


@pytest.mark.asyncio
async def test_client_finds_server_by_unicast() -> None:
    port = free_port(udp=True)
    async with SdpServer("lo", tcp_port=50000, address="::1", port=port) as server:
        serving = [server.serving]
        result = await discover_secc("lo", destination="::1", port=port, timeout_per_try=0.5, max_tries=3)
    serving.append(server.serving)
    assert serving == [True, False]
    assert result.response == SdpResponse(address=LOOPBACK, port=50000, security=SdpSecurity.TLS)
    assert (result.tries, result.responder, result.iface) == (1, "::1", "lo")
    assert result.host == "::1"
    assert result.sockaddr == ("::1", 50000, 0, 0)
    assert server.answered == 1


@pytest.mark.asyncio
async def test_server_answers_every_valid_request_and_ignores_the_rest() -> None:
    port = free_port(udp=True)
    invalid = [
        b"hello",
        pack_response_datagram(SdpResponse(address=LOOPBACK, port=1)),  # a response is no request
        frame(PayloadType.SDP_REQUEST_WIRELESS, bytes(30)),  # wireless SDP is not supported
        frame(PayloadType.SDP_REQUEST, b"\x05\x00"),  # unknown security byte
    ]
    loop = asyncio.get_running_loop()
    async with SdpServer("lo", tcp_port=51000, security=SdpSecurity.NONE, address="::1", port=port) as server:
        with _peer_socket() as peer:
            for datagram in invalid:
                await loop.sock_sendto(peer, datagram, ("::1", port))
            for security in (SdpSecurity.TLS, SdpSecurity.NONE, SdpSecurity.TLS):  # answer EVERY valid one
                await loop.sock_sendto(peer, pack_request_datagram(SdpRequest(security=security)), ("::1", port))
            answers = []
            while (received := await _recv(peer, 0.3)) is not None:
                answers.append(received)
    assert len(answers) == 3
    for data, source in answers:
        # Unicast from the SDP port back to the request's source [V2G20-143..151].
        assert source == ("::1", port)
        assert unpack_response_datagram(data) == SdpResponse(address=LOOPBACK, port=51000, security=SdpSecurity.NONE)
    assert (server.answered, server.ignored) == (3, 4)


@pytest.mark.asyncio
async def test_no_answer_gives_clear_error_after_max_tries() -> None:
    loop = asyncio.get_running_loop()
    with _peer_socket() as silent:
        port = silent.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(SdpTimeoutError) as info:
            await discover_secc("lo", destination="::1", port=port, timeout_per_try=0.05, max_tries=4)
        elapsed = time.monotonic() - start
        received = 0
        while True:
            try:
                await asyncio.wait_for(loop.sock_recvfrom(silent, 64), 0.05)
            except TimeoutError:
                break
            received += 1
    assert received == 4
    assert elapsed >= 4 * 0.05
    message = str(info.value)
    assert "on lo" in message and "4 requests" in message and "V2G20-161" in message
    assert isinstance(info.value, V2GError) and isinstance(info.value, TimeoutError)


@pytest.mark.asyncio
async def test_late_answer_to_earlier_try_is_accepted_and_junk_ignored() -> None:
    """The responder answers only the FIRST request, 2.5 tries late; junk arrives first [V2G20-126]."""
    loop = asyncio.get_running_loop()
    timeout = 0.1
    answer = SdpResponse(address=IPv6Address("fe80::99"), port=60000)
    with _peer_socket() as responder:
        port = responder.getsockname()[1]

        async def respond() -> int:
            first, addr = await loop.sock_recvfrom(responder, 64)
            assert first == pack_request_datagram(SdpRequest())
            await loop.sock_sendto(responder, b"junk", addr)
            await asyncio.sleep(2.5 * timeout)
            await loop.sock_sendto(responder, pack_response_datagram(answer), addr)
            requests = 1
            while await _recv(responder, 3 * timeout) is not None:
                requests += 1
            return requests

        task = asyncio.create_task(respond())
        result = await discover_secc("lo", destination="::1", port=port, timeout_per_try=timeout, max_tries=20)
        requests = await task
    assert result.response == answer
    assert result.tries >= 2  # accepted while a later try was pending (the answer is to try 1 only)
    assert requests == result.tries  # every later request reached the responder and stayed unanswered
    assert result.host == "fe80::99%lo"
    assert result.sockaddr == ("fe80::99", 60000, 0, socket.if_nametoindex("lo"))


@pytest.mark.asyncio
async def test_multicast_on_loopback_works_or_fails_clearly() -> None:
    flags = int(Path("/sys/class/net/lo/flags").read_text(), 16)
    port = free_port(udp=True)
    async with SdpServer("lo", tcp_port=50000, address="::1", port=port):
        if flags & 0x1000:  # IFF_MULTICAST: then the whole path must work
            result = await discover_secc("lo", port=port, timeout_per_try=0.2, max_tries=5)
            assert result.response.address == LOOPBACK
        else:
            with pytest.raises(OSError, match="cannot send an SDP request to ff02::1 on lo"):
                await discover_secc("lo", port=port, timeout_per_try=0.05, max_tries=2)


@pytest.mark.asyncio
async def test_port_in_use_and_restart() -> None:
    port = free_port(udp=True)
    server = SdpServer("lo", tcp_port=50000, address="::1", port=port)
    await server.start()
    await server.start()  # idempotent
    with pytest.raises(OSError, match=f"cannot bind UDP port {port} on lo"):
        await SdpServer("lo", tcp_port=50001, address="::1", port=port).start()
    await server.stop()
    await server.stop()  # idempotent
    async with SdpServer("lo", tcp_port=50002, address="::1", port=port):  # the port is free again
        result = await discover_secc("lo", destination="::1", port=port, timeout_per_try=0.5, max_tries=2)
    assert result.response.port == 50002


@pytest.mark.asyncio
async def test_configuration_errors() -> None:
    with pytest.raises(ConfigError, match="lo has no IPv6 link-local address"):
        await SdpServer("lo", tcp_port=50000, port=free_port(udp=True)).start()
    with pytest.raises(ConfigError, match="no network interface named 'nosuch0'"):
        await SdpServer("nosuch0", tcp_port=50000, address="::1").start()
    with pytest.raises(ConfigError, match="no network interface named 'nosuch0'"):
        await discover_secc("nosuch0")
    with pytest.raises(ConfigError, match="max_tries >= 1"):
        await discover_secc("lo", max_tries=0)
    with pytest.raises(ConfigError, match="timeout_per_try > 0"):
        await discover_secc("lo", timeout_per_try=0)


def test_answer_without_sockets() -> None:
    server = SdpServer("lo", tcp_port=50000, address="::1")
    assert server.answer(b"\x01\xfe") is None
    answer = server.answer(pack_request_datagram(SdpRequest()))
    assert answer is not None
    assert unpack_response_datagram(answer) == SdpResponse(address=LOOPBACK, port=50000)
    assert (server.answered, server.ignored) == (1, 1)


def test_interface_addresses_on_loopback() -> None:
    addresses = interface_addresses("lo")
    if not any(a.address == LOOPBACK for a in addresses):
        pytest.skip("IPv6 is disabled on lo here")
    assert all(a.usable for a in addresses if a.address == LOOPBACK)
    assert interface_addresses("nosuch0") == []
    with pytest.raises(ConfigError, match="lo has no IPv6 link-local address"):
        link_local_address("lo")
