"""V2GTP frames out of pcapng captures (plain TCP, TLS decrypted by tshark, SDP over UDP), for tests.

:func:`extract_v2gtp_frames` asks tshark for every TCP/UDP packet of a capture (with TLS decrypted through a
key log, or through the capture's own Decryption Secrets Block), rebuilds each TCP direction as one byte
stream and splits it into V2GTP frames (8-byte header ``01 FE <type:2> <length:4>`` + payload; a frame may
span segments or TLS records, and one packet may carry several frames):

* plain TCP: reassembled here from the raw sequence numbers (retransmissions dropped, gaps reported);
* TLS: tshark reassembles and decrypts (``tcp.desegment_tcp_streams``), each decrypted record in order;
* UDP port 15118 (SDP) datagrams, each one frame, when asked for.

The shared DS5366/Josev TLS captures carry their TLS 1.3 secrets as NSS key-log lines in UDP datagrams on
port 52345; the ``.keys`` files next to them hold the same lines. :func:`keylog_from_udp` rebuilds the key log
from the capture itself. :func:`tshark_follow` returns tshark's own "Follow TCP/TLS stream" view for
cross-checks. Everything raises :class:`CaptureError` on bad input; :func:`require_tshark` skips the calling
test when tshark is absent.
"""

from __future__ import annotations

import enum
import functools
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pytest

__all__ = [
    "KEYLOG_UDP_PORT",
    "SDP_PORT",
    "CaptureError",
    "CapturedFrame",
    "Direction",
    "Transport",
    "extract_v2gtp_frames",
    "keylog_from_udp",
    "require_tshark",
    "split_v2gtp",
    "tshark_follow",
]

SDP_PORT: Final = 15118
KEYLOG_UDP_PORT: Final = 52345
V2GTP_HEADER_LEN: Final = 8
_TSHARK_TIMEOUT: Final = 120.0

_FIELDS: Final = (
    "frame.number",
    "frame.time_epoch",
    "tcp.stream",
    "ipv6.src",
    "ip.src",
    "tcp.srcport",
    "tcp.dstport",
    "udp.srcport",
    "udp.dstport",
    "tcp.flags.syn",
    "tcp.flags.ack",
    "tcp.seq_raw",
    "tcp.payload",
    "udp.payload",
    "tls.record.content_type",
    "data.data",
)


class CaptureError(RuntimeError):
    """A capture cannot be read or does not hold a well-formed V2GTP stream (the message says where)."""


class Direction(enum.StrEnum):
    """Who sent a frame: the TCP client (EVCC) or the server (SECC); for SDP, by port 15118."""

    EV_TO_EVSE = "ev->evse"
    EVSE_TO_EV = "evse->ev"


class Transport(enum.StrEnum):
    """How the frame travelled."""

    TCP = "tcp"
    TLS = "tls"
    UDP = "udp"


@dataclass(frozen=True, slots=True, kw_only=True)
class CapturedFrame:
    """One V2GTP frame as captured; ``frame_number``/``timestamp`` are those of the packet completing it."""

    header: bytes
    payload: bytes
    direction: Direction
    timestamp: float
    frame_number: int
    stream: int
    transport: Transport

    @property
    def payload_type(self) -> int:
        """The 16-bit V2GTP payload type of the header."""
        return int.from_bytes(self.header[2:4], "big")

    @property
    def wire(self) -> bytes:
        """Header and payload, as sent."""
        return self.header + self.payload


@dataclass(slots=True)
class _Packet:
    number: int
    time: float
    stream: int
    src: str
    dst_port: int
    syn: bool
    ack: bool
    seq: int | None
    tcp_payload: bytes
    udp_payload: bytes
    tls: bool
    data: list[bytes] = field(default_factory=list)


def tshark_executable() -> str | None:
    """Path of tshark, or None when it is not installed."""
    return shutil.which("tshark")


def require_tshark() -> str:
    """Path of tshark, or skip the calling test with the reason."""
    path = tshark_executable()
    if path is None:
        pytest.skip("tshark is not installed (scripts/install-test-prereqs apt-installs it when run as root)")
    return path


def _tshark(args: Sequence[str]) -> str:
    tshark = tshark_executable()
    if tshark is None:
        raise CaptureError("tshark is not installed")
    try:
        done = subprocess.run(
            [tshark, "-n", *args], capture_output=True, text=True, timeout=_TSHARK_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise CaptureError(f"tshark did not finish within {_TSHARK_TIMEOUT:.0f} s: {' '.join(args)}") from exc
    if done.returncode != 0:
        detail = " | ".join(ln for ln in done.stderr.splitlines() if "This could be dangerous" not in ln)
        raise CaptureError(f"tshark failed (status {done.returncode}): {detail.strip()}")
    return done.stdout


def _prefs(keylog: Path | None) -> list[str]:
    prefs = ["-o", "tcp.desegment_tcp_streams:TRUE", "-o", "tcp.reassemble_out_of_order:TRUE"]
    if keylog is not None:
        if not keylog.is_file():
            raise CaptureError(f"key log {keylog} does not exist")
        prefs += ["-o", f"tls.keylog_file:{keylog}"]
    return prefs


def _hexes(value: str) -> list[bytes]:
    return [bytes.fromhex(part) for part in value.split(",") if part]


def _packets(pcapng: Path, keylog: Path | None) -> list[_Packet]:
    if not pcapng.is_file():
        raise CaptureError(f"capture {pcapng} does not exist")
    wanted = f"(tcp or udp.port == {SDP_PORT}) and not icmp and not icmpv6"  # not ICMP errors quoting them
    output = ["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,", "-E", "separator=/t"]
    columns = [arg for name in _FIELDS for arg in ("-e", name)]
    out = _tshark(["-r", str(pcapng), *_prefs(keylog), "-Y", wanted, *output, *columns])
    packets = []
    for line in out.splitlines():
        cols = line.split("\t")
        if len(cols) != len(_FIELDS):
            raise CaptureError(f"unexpected tshark output line {line[:120]!r}")
        row = dict(zip(_FIELDS, cols, strict=True))
        tcp = bool(row["tcp.stream"])
        addr_src = row["ipv6.src"] or row["ip.src"]
        src_port = row["tcp.srcport"] if tcp else row["udp.srcport"]
        dst_port = row["tcp.dstport"] if tcp else row["udp.dstport"]
        packets.append(
            _Packet(
                number=int(row["frame.number"]),
                time=float(row["frame.time_epoch"]),
                stream=int(row["tcp.stream"]) if tcp else -1,
                src=f"[{addr_src}]:{src_port}",
                dst_port=int(dst_port or 0),
                syn=row["tcp.flags.syn"] in ("1", "True"),
                ack=row["tcp.flags.ack"] in ("1", "True"),
                seq=int(row["tcp.seq_raw"]) if row["tcp.seq_raw"] else None,
                tcp_payload=b"".join(_hexes(row["tcp.payload"])),
                udp_payload=b"".join(_hexes(row["udp.payload"])),
                tls=bool(row["tls.record.content_type"]),
                data=_hexes(row["data.data"]),
            )
        )
    return packets


def split_v2gtp(data: bytes, *, where: str = "stream") -> list[tuple[bytes, bytes]]:
    """Split a complete byte stream into (header, payload) pairs; raise on a bad header or a cut-off frame."""
    frames = []
    offset = 0
    while offset < len(data):
        header = data[offset : offset + V2GTP_HEADER_LEN]
        if len(header) < V2GTP_HEADER_LEN:
            raise CaptureError(f"{where}: {len(header)} trailing bytes at offset {offset}, less than a header")
        if header[0] != 0x01 or header[1] != 0xFE:
            raise CaptureError(f"{where}: bad V2GTP version bytes {header[:2].hex()} at offset {offset}")
        length = int.from_bytes(header[4:8], "big")
        end = offset + V2GTP_HEADER_LEN + length
        if end > len(data):
            have = len(data) - offset - V2GTP_HEADER_LEN
            raise CaptureError(f"{where}: frame at offset {offset} needs {length} payload bytes, has {have}")
        frames.append((header, data[offset + V2GTP_HEADER_LEN : end]))
        offset = end
    return frames


# A chunk of one direction's byte stream: (bytes, time, frame number of the packet that delivered it).
_Chunk = tuple[bytes, float, int]


def _reassemble_tcp(segments: list[_Packet], isn: int | None, where: str) -> list[_Chunk]:
    """Order one direction's segments by sequence number, dropping retransmitted bytes; gaps raise."""
    carrying = [p for p in segments if p.tcp_payload and p.seq is not None]
    if not carrying:
        return []
    base = isn if isn is not None else min(p.seq for p in carrying if p.seq is not None)
    ordered = sorted(carrying, key=lambda p: ((p.seq or 0) - base) % (1 << 32))
    chunks: list[_Chunk] = []
    cursor = 0
    for packet in ordered:
        start = ((packet.seq or 0) - base) % (1 << 32)
        end = start + len(packet.tcp_payload)
        if end <= cursor:
            continue  # a retransmission of bytes we already have
        if start > cursor:
            raise CaptureError(f"{where}: {start - cursor} bytes missing at stream offset {cursor}")
        chunks.append((packet.tcp_payload[cursor - start :], packet.time, packet.number))
        cursor = end
    return chunks


def _deframe(chunks: list[_Chunk], where: str) -> list[tuple[bytes, bytes, float, int]]:
    """Frames of one direction with the time and number of the packet that completed each.

    A frame is complete when the last of the packets carrying its bytes has arrived (segments may have
    come out of order), i.e. at the highest frame number among them.
    """
    buffer = b""
    spans: list[tuple[int, int, float, int]] = []  # (start, end offset in the stream, time, frame number)
    for data, time, number in chunks:
        spans.append((len(buffer), len(buffer) + len(data), time, number))
        buffer += data
    result = []
    start = 0
    first = 0  # the first span that may overlap the current frame
    for header, payload in split_v2gtp(buffer, where=where):
        end = start + len(header) + len(payload)
        while spans[first][1] <= start:
            first += 1
        last = first
        while last + 1 < len(spans) and spans[last + 1][0] < end:
            last += 1
        _, _, time, number = max(spans[first : last + 1], key=lambda span: span[3])
        result.append((header, payload, time, number))
        start = end
    return result


@functools.lru_cache(maxsize=32)
def _extract_cached(
    pcapng: Path, keylog: Path | None, include_sdp: bool, _stamp: tuple[float, ...]
) -> tuple[CapturedFrame, ...]:
    packets = _packets(pcapng, keylog)
    frames: list[CapturedFrame] = []
    streams: dict[int, list[_Packet]] = defaultdict(list)
    for packet in packets:
        if packet.stream >= 0:
            streams[packet.stream].append(packet)
        elif include_sdp and packet.udp_payload:
            direction = Direction.EV_TO_EVSE if packet.dst_port == SDP_PORT else Direction.EVSE_TO_EV
            where = f"{pcapng.name} UDP frame {packet.number}"
            for header, payload in split_v2gtp(packet.udp_payload, where=where):
                frames.append(
                    CapturedFrame(
                        header=header,
                        payload=payload,
                        direction=direction,
                        timestamp=packet.time,
                        frame_number=packet.number,
                        stream=-1,
                        transport=Transport.UDP,
                    )
                )
    for stream, members in sorted(streams.items()):
        syn = next((p for p in members if p.syn and not p.ack), None)
        first = syn or next((p for p in members if p.tcp_payload), None)
        if first is None:
            continue  # a connection that never carried data
        client = first.src
        tls = any(p.tls for p in members)
        if tls and not any(p.data for p in members):
            raise CaptureError(
                f"{pcapng.name} TCP stream {stream}: nothing of its TLS traffic was decrypted "
                "(pass the key log, or it does not belong to this session)"
            )
        for direction in Direction:
            ours = [p for p in members if (p.src == client) == (direction is Direction.EV_TO_EVSE)]
            where = f"{pcapng.name} TCP stream {stream} {direction.value}"
            if tls:
                chunks = [(d, p.time, p.number) for p in ours for d in p.data]
            else:
                isn_packet = next((p for p in ours if p.syn), None)
                isn = (isn_packet.seq or 0) + 1 if isn_packet is not None else None
                chunks = _reassemble_tcp(ours, isn, where)
            transport = Transport.TLS if tls else Transport.TCP
            for header, payload, time, number in _deframe(chunks, where):
                frames.append(
                    CapturedFrame(
                        header=header,
                        payload=payload,
                        direction=direction,
                        timestamp=time,
                        frame_number=number,
                        stream=stream,
                        transport=transport,
                    )
                )
    frames.sort(key=lambda f: f.frame_number)  # stable: frames completed by one packet keep their order
    return tuple(frames)


def extract_v2gtp_frames(pcapng: Path, keylog: Path | None = None, *, include_sdp: bool = False) -> list[CapturedFrame]:
    """Every V2GTP frame of every TCP connection in ``pcapng``, in capture order (plus SDP if asked).

    ``keylog`` is an NSS key log for TLS connections (not needed for plain TCP, nor for a capture whose
    Decryption Secrets Block carries the secrets). Results are cached per file state within the process.
    """
    stamps = tuple(p.stat().st_mtime_ns for p in (pcapng, keylog) if p is not None and p.exists())
    resolved = keylog.resolve() if keylog is not None else None
    return list(_extract_cached(pcapng.resolve(), resolved, include_sdp, stamps))


def keylog_from_udp(pcapng: Path, port: int = KEYLOG_UDP_PORT) -> str:
    """The NSS key log a capture carries in UDP datagrams to ``port`` (one key-log line per datagram)."""
    out = _tshark(["-r", str(pcapng), "-Y", f"udp.dstport == {port}", "-T", "fields", "-e", "udp.payload"])
    lines: list[str] = []
    for row in out.splitlines():
        if not row.strip():
            continue
        try:
            text = bytes.fromhex(row.replace(",", "").strip()).decode("ascii")
        except (ValueError, UnicodeDecodeError) as exc:
            raise CaptureError(f"{pcapng.name}: UDP datagram to port {port} is not a key-log line: {exc}") from exc
        lines.extend(ln.strip() for ln in text.splitlines() if ln.strip())
    bad = [ln for ln in lines if len(ln.split()) != 3]
    if bad:
        raise CaptureError(f"{pcapng.name}: not an NSS key-log line: {bad[0][:80]!r}")
    return "".join(f"{ln}\n" for ln in lines)


def tshark_follow(pcapng: Path, stream: int, keylog: Path | None = None, *, tls: bool = False) -> tuple[bytes, bytes]:
    """tshark's "Follow TCP (or TLS) stream" bytes of one connection: (node 0's bytes, node 1's bytes).

    Which node is the client is not reliable across tshark versions (TLS follow numbers them by the first
    decrypted record), so callers compare the pair as a set.
    """
    mode = "tls" if tls else "tcp"
    out = _tshark(["-r", str(pcapng), *_prefs(keylog), "-q", "-z", f"follow,{mode},raw,{stream}"])
    sides: tuple[list[bytes], list[bytes]] = ([], [])
    body = False
    for line in out.splitlines():
        if line.startswith("Node 1:"):
            body = True
            continue
        if not body or not line.strip():
            continue
        if line.startswith("===="):
            break
        side = 1 if line.startswith("\t") else 0
        sides[side].append(bytes.fromhex(line.strip()))
    if not body:
        raise CaptureError(f"tshark printed no follow,{mode} view for stream {stream} of {pcapng.name}")
    return b"".join(sides[0]), b"".join(sides[1])
