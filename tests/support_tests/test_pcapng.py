"""The pcapng writer: files read back by tshark, scapy and our reader; DSB secrets decrypt TLS."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest
from scapy.layers.inet import TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.utils import PcapNgReader, rdpcap

from harness.pcapng import (
    SECRETS_TLS_KEYLOG,
    BlockType,
    LinkType,
    PcapngError,
    PcapngWriter,
    iter_blocks,
    read_packets,
    read_secrets,
)
from tests.support.captures import Direction, Transport, extract_v2gtp_frames, require_tshark
from tests.support.shared import shared_path

EV, EVSE = "fe80::1", "fe80::2"
EV_MAC, EVSE_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
KEYLOG = "CLIENT_RANDOM " + "ab" * 32 + " " + "cd" * 48 + "\n"
T0 = 1_700_000_000.123456


def _udp(payload: bytes, sport: int = 15118, dport: int = 15118) -> bytes:
    return bytes(Ether(src=EV_MAC, dst=EVSE_MAC) / IPv6(src=EV, dst=EVSE) / UDP(sport=sport, dport=dport) / payload)


def _write_sample(path: Path, *, nanoseconds: bool = False) -> list[bytes]:
    frames = [_udp(f"datagram {i}".encode()) for i in range(4)]
    with PcapngWriter(path) as writer:
        iface = writer.add_interface(LinkType.ETHERNET, name="veth0", nanoseconds=nanoseconds)
        for i, frame in enumerate(frames):
            writer.write_packet(frame, interface=iface, timestamp=T0 + i)
        writer.add_tls_keylog(KEYLOG)
    return frames


def _tshark(*args: str) -> list[str]:
    tshark = require_tshark()
    done = subprocess.run([tshark, "-n", *args], capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.splitlines()


def test_tshark_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sample.pcapng"
    _write_sample(path)
    lines = _tshark("-r", str(path), "-c", "4", "-T", "fields", "-e", "frame.time_epoch", "-e", "udp.payload")
    assert [line.split("\t") for line in lines] == [
        [f"{T0 + i:.6f}000", f"datagram {i}".encode().hex()] for i in range(4)
    ]
    assert len(_tshark("-r", str(path), "-c", "2")) == 2


@pytest.mark.parametrize("nanoseconds", [False, True])
def test_scapy_reads_the_file(tmp_path: Path, nanoseconds: bool) -> None:
    path = tmp_path / "sample.pcapng"
    frames = _write_sample(path, nanoseconds=nanoseconds)
    packets = rdpcap(str(path))
    assert [bytes(p) for p in packets] == frames
    assert [float(p.time) for p in packets] == pytest.approx([T0 + i for i in range(4)], abs=1e-6)
    with PcapNgReader(str(path)) as reader:
        again = list(reader)
    assert [p[UDP].load for p in again] == [f"datagram {i}".encode() for i in range(4)]


def test_our_reader_sees_blocks_packets_and_secrets(tmp_path: Path) -> None:
    path = tmp_path / "sample.pcapng"
    frames = _write_sample(path, nanoseconds=True)
    types = [block.type for block in iter_blocks(path)]
    # The key log arrived after the packets, so close() moved it in front of them.
    assert types == [
        BlockType.SECTION_HEADER,
        BlockType.INTERFACE_DESCRIPTION,
        BlockType.DECRYPTION_SECRETS,
        *[BlockType.ENHANCED_PACKET] * 4,
    ]
    assert read_secrets(path) == [(SECRETS_TLS_KEYLOG, KEYLOG.encode())]
    packets = read_packets(path)
    assert [p.data for p in packets] == frames
    assert [p.link_type for p in packets] == [LinkType.ETHERNET] * 4
    assert packets[1].timestamp_ns == round((T0 + 1) * 1e9)


def test_secrets_given_before_packets_are_written_in_place(tmp_path: Path) -> None:
    path = tmp_path / "early.pcapng"
    with PcapngWriter(path) as writer:
        writer.add_tls_keylog(KEYLOG.rstrip("\n"))  # a missing final newline is added
        writer.add_interface()
        writer.write_packet(_udp(b"x"), timestamp=T0)
        writer.flush()
        assert [b.type for b in iter_blocks(path)][-1] == BlockType.ENHANCED_PACKET  # readable while open
    assert [b.type for b in iter_blocks(path)][1] == BlockType.DECRYPTION_SECRETS
    assert read_secrets(path) == [(SECRETS_TLS_KEYLOG, KEYLOG.encode())]


def test_raw_ipv6_link_type(tmp_path: Path) -> None:
    path = tmp_path / "raw.pcapng"
    packet = bytes(IPv6(src=EV, dst=EVSE) / TCP(sport=50000, dport=55118, flags="PA", seq=1) / b"\x01\xfe")
    with PcapngWriter(path) as writer:
        writer.add_interface(LinkType.IPV6, name="pair")
        writer.write_packet(packet, timestamp=T0)
    assert _tshark("-r", str(path), "-T", "fields", "-e", "ipv6.dst", "-e", "tcp.dstport") == [f"{EVSE}\t55118"]
    assert read_packets(path)[0].link_type == LinkType.IPV6


def test_writer_and_reader_reject_misuse(tmp_path: Path) -> None:
    path = tmp_path / "bad.pcapng"
    writer = PcapngWriter(path)
    with pytest.raises(PcapngError, match="no interface 0"):
        writer.write_packet(b"\0" * 14)
    writer.add_interface()
    writer.write_packet(b"\0" * 14, timestamp=T0)
    writer.close()
    with pytest.raises(PcapngError, match="closed"):
        writer.write_packet(b"\0" * 14)
    data = path.read_bytes()
    path.write_bytes(data[:-3])
    with pytest.raises(PcapngError, match=r"bad pcapng at byte \d+: "):
        list(iter_blocks(path))
    path.write_bytes(b"\x06\x00\x00\x00" + data[4:])
    with pytest.raises(PcapngError, match="at byte 0: the file does not start with a Section Header Block"):
        read_packets(path)
    broken = bytearray(data)
    struct.pack_into("<I", broken, len(broken) - 4, 999)
    path.write_bytes(bytes(broken))
    with pytest.raises(PcapngError, match="trailing length 999"):
        read_packets(path)


def test_dsb_lets_tshark_decrypt_without_a_key_file(tmp_path: Path) -> None:
    """Copy a shared TLS 1.3 capture through the writer with its key log as DSB: same frames, no .keys."""
    require_tshark()
    original = shared_path("captures", "ISO-20_TLS13_DC_DS5366_Josev.pcapng")
    keys = shared_path("captures", "ISO-20_TLS13_DC_DS5366_Josev.keys")
    copy = tmp_path / "copy.pcapng"
    with PcapngWriter(copy) as writer:
        writer.add_interface(LinkType.ETHERNET, name="eth0", nanoseconds=True)
        for packet in read_packets(original):
            writer.write_packet(packet.data, timestamp_ns=packet.timestamp_ns)
        writer.add_tls_keylog(keys.read_text())
    frames = extract_v2gtp_frames(copy, None)
    assert frames == extract_v2gtp_frames(original, keys)
    assert len(frames) > 100 and {f.transport for f in frames} == {Transport.TLS}


def test_plain_tcp_reassembly_handles_split_retransmitted_and_reordered_segments(tmp_path: Path) -> None:
    """A hand-built TCP session: frames split across segments, a retransmission, reordering."""
    require_tshark()
    req = bytes.fromhex("01fe8001000000258000f3ab9371d34b9b79d39ba321d34b9b79d189a98989c1d1699181d20a18010000040040")
    res = bytes.fromhex("01fe80010000000480400040")
    req2 = bytes.fromhex("01fe800200000011800804121319d232ca97fb0b2f3f7c7062")
    isn_c, isn_s = 1000, 5000

    def seg(src: str, sport: int, dport: int, seq: int, flags: str, data: bytes = b"") -> bytes:
        ip = IPv6(src=src, dst=EVSE if src == EV else EV)
        return bytes(Ether(src=EV_MAC, dst=EVSE_MAC) / ip / TCP(sport=sport, dport=dport, seq=seq, flags=flags) / data)

    c, s = (EV, 50000, 55118), (EVSE, 55118, 50000)
    stream = req + req2
    wire = [
        seg(*c, isn_c, "S"),
        seg(*s, isn_s, "SA"),
        seg(*c, isn_c + 1, "PA", stream[:10]),  # the SAP request split in three
        seg(*c, isn_c + 1 + 30, "PA", stream[30:45]),  # arrives before the middle part
        seg(*c, isn_c + 1 + 10, "PA", stream[10:30]),
        seg(*c, isn_c + 1, "PA", stream[:10]),  # a retransmission
        seg(*s, isn_s + 1, "PA", res),
        seg(*c, isn_c + 1 + 45, "PA", stream[45:]),  # the rest of the request, then the next frame whole
    ]
    path = tmp_path / "tcp.pcapng"
    with PcapngWriter(path) as writer:
        writer.add_interface()
        for i, packet in enumerate(wire):
            writer.write_packet(packet, timestamp=T0 + i / 10)
    frames = extract_v2gtp_frames(path, None)
    assert [(f.direction, f.wire) for f in frames] == [
        (Direction.EV_TO_EVSE, req),
        (Direction.EVSE_TO_EV, res),
        (Direction.EV_TO_EVSE, req2),
    ]
    # The request is complete only with packet 5 (the middle part); req2 with the last packet.
    assert [f.frame_number for f in frames] == [5, 7, 8]
    assert frames[0].timestamp == pytest.approx(T0 + 0.4)
