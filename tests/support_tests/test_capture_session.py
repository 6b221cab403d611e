"""The AF_PACKET sniffer and CaptureSession, inside network namespaces joined by a veth pair (root only)."""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from scapy.layers.inet import UDP
from scapy.layers.inet6 import IPv6
from scapy.utils import rdpcap

from harness.capture import CaptureSession, Sniffer, keys_path_for
from harness.netns import VethPair, join_result, run_in_netns
from harness.pcapng import SECRETS_TLS_KEYLOG, BlockType, LinkType, iter_blocks, read_packets, read_secrets
from tests.support.netns import veth_or_skip

pytestmark = pytest.mark.root

KEYLOG = "CLIENT_TRAFFIC_SECRET_0 " + "11" * 32 + " " + "22" * 48 + "\n"


@pytest.fixture(scope="module")
def veth() -> Iterator[VethPair]:
    yield from veth_or_skip("cap")


def _send(ns: str, dest: str, port: int, payloads: list[bytes]) -> None:
    def send() -> None:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            for payload in payloads:
                sock.sendto(payload, (dest, port))

    thread, box = run_in_netns(ns, send)
    join_result(thread, box, timeout=10)


def _udp_payloads(path: Path) -> Counter[tuple[str, str, bytes]]:
    return Counter((p[IPv6].src, p[IPv6].dst, bytes(p[UDP].payload)) for p in rdpcap(str(path)) if p.haslayer(UDP))


def test_session_captures_both_directions_and_stores_the_key_log(veth: VethPair, tmp_path: Path) -> None:
    path = tmp_path / "run.pcapng"
    tls_keys = tmp_path / "tls-secrets.txt"
    tls_keys.write_text(KEYLOG)
    out = [f"out {i}".encode() for i in range(3)]
    into = [f"in {i}".encode() for i in range(3)]
    before = time.time()
    with CaptureSession(veth.if_a, path, tls_keys, netns=veth.ns_a) as capture:
        _send(veth.ns_a, f"{veth.lladdr_b}%{veth.if_a}", 40000, out)
        _send(veth.ns_b, f"{veth.lladdr_a}%{veth.if_b}", 40001, into)
    after = time.time()
    seen = _udp_payloads(path)
    expected = [(veth.lladdr_a, veth.lladdr_b, p) for p in out] + [(veth.lladdr_b, veth.lladdr_a, p) for p in into]
    assert {k: v for k, v in seen.items() if k[2] in out + into} == dict.fromkeys(expected, 1)
    packets = read_packets(path)
    assert capture.packets == len(packets) >= 6
    assert {p.link_type for p in packets} == {LinkType.ETHERNET}
    assert all(before - 1 <= p.timestamp <= after + 1 for p in packets)
    # The secrets are in the file (ahead of the packets) and next to it.
    assert read_secrets(path) == [(SECRETS_TLS_KEYLOG, KEYLOG.encode())]
    types = [b.type for b in iter_blocks(path)]
    assert types.index(BlockType.DECRYPTION_SECRETS) < types.index(BlockType.ENHANCED_PACKET)
    assert keys_path_for(path) == tmp_path / "run.keys"
    assert (tmp_path / "run.keys").read_text() == KEYLOG


def test_loopback_frames_are_kept_once(veth: VethPair, tmp_path: Path) -> None:
    path = tmp_path / "lo.pcapng"
    payloads = [f"lo {i}".encode() for i in range(4)]
    with CaptureSession("lo", path, netns=veth.ns_a):
        _send(veth.ns_a, "::1", 40002, payloads)
    seen = _udp_payloads(path)
    assert {k: v for k, v in seen.items() if k[2] in payloads} == {("::1", "::1", p): 1 for p in payloads}
    assert not (tmp_path / "lo.keys").exists()  # no secrets, no key file


def test_in_memory_secrets_only(veth: VethPair, tmp_path: Path) -> None:
    path = tmp_path / "mem.pcapng"
    with CaptureSession(veth.if_a, path, tmp_path / "never-written.keys", netns=veth.ns_a) as capture:
        capture.add_tls_keylog(KEYLOG.rstrip("\n"))
    assert read_secrets(path) == [(SECRETS_TLS_KEYLOG, KEYLOG.encode())]
    assert (tmp_path / "mem.keys").read_text() == KEYLOG


def test_sniffer_callback_and_stop(veth: VethPair) -> None:
    got: list[tuple[bytes, int]] = []
    sniffer = Sniffer(veth.if_b, netns=veth.ns_b)
    assert sniffer.open() is LinkType.ETHERNET
    sniffer.start(lambda data, stamp: got.append((data, stamp)))
    _send(veth.ns_a, f"{veth.lladdr_b}%{veth.if_a}", 40003, [b"to b"])
    sniffer.stop()
    assert any(data.endswith(b"to b") for data, _ in got)
    assert sniffer.packets == len(got)
    stamps = [stamp for _, stamp in got]
    assert stamps == sorted(stamps)


def test_unknown_interface_is_named(veth: VethPair, tmp_path: Path) -> None:
    with (
        pytest.raises(OSError, match="cannot capture on interface 'nosuch0'"),
        CaptureSession("nosuch0", tmp_path / "x.pcapng", netns=veth.ns_a),
    ):
        pass
    assert not (tmp_path / "x.pcapng").exists()
