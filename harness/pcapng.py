"""pcapng files: a writer for the bench's ``--pcap`` captures and a small reader for checking them.

Blocks written (draft-ietf-opsawg-pcapng, little-endian, one section):

* Section Header Block (SHB) with ``shb_userappl``;
* Interface Description Blocks (IDB), one per :meth:`PcapngWriter.add_interface`, with ``if_name`` and
  ``if_tsresol`` (microseconds or nanoseconds);
* Enhanced Packet Blocks (EPB) with the packet's timestamp and original length;
* Decryption Secrets Blocks (DSB) of type TLS key log (``0x544c534b``), so that Wireshark/tshark decrypt the
  capture's TLS sessions without a separate key-log file.

A reader decrypts a TLS record only if the secrets came before it. Secrets that arrive after the first packet
(the usual case: the key log is complete only when the session ends) are therefore held back and placed in
front of the first packet when the file is closed; until then the file on disk is a valid capture without
them. :func:`iter_blocks` and :func:`read_packets` read such files back (either byte order, any sections).
"""

from __future__ import annotations

import enum
import os
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

__all__ = [
    "SECRETS_TLS_KEYLOG",
    "Block",
    "BlockType",
    "LinkType",
    "PacketRecord",
    "PcapngError",
    "PcapngWriter",
    "iter_blocks",
    "read_packets",
    "read_secrets",
]

SECRETS_TLS_KEYLOG: Final = 0x544C534B  # "TLSK"
_BYTE_ORDER_MAGIC: Final = 0x1A2B3C4D
_OPT_END: Final = 0
_OPT_COMMENT: Final = 1
_SHB_USERAPPL: Final = 4
_IF_NAME: Final = 2
_IF_DESCRIPTION: Final = 3
_IF_TSRESOL: Final = 9
_DEFAULT_SNAPLEN: Final = 262144


class BlockType(enum.IntEnum):
    """pcapng block types used here."""

    INTERFACE_DESCRIPTION = 0x00000001
    SIMPLE_PACKET = 0x00000003
    ENHANCED_PACKET = 0x00000006
    DECRYPTION_SECRETS = 0x0000000A
    SECTION_HEADER = 0x0A0D0D0A


class LinkType(enum.IntEnum):
    """LINKTYPE_* values (tcpdump.org link-layer header types) for IDBs."""

    NULL = 0  # BSD loopback: 4-byte host-order address family, then the IP packet
    ETHERNET = 1  # also Linux ``lo`` (it carries an all-zero Ethernet header)
    RAW = 101  # an IPv4 or IPv6 packet, no link header
    LINUX_SLL = 113
    IPV4 = 228
    IPV6 = 229


class PcapngError(ValueError):
    """A pcapng file is malformed; ``offset`` is the byte offset of the offending block."""

    def __init__(self, reason: str, *, offset: int | None = None) -> None:
        self.offset = offset
        where = f" at byte {offset}" if offset is not None else ""
        super().__init__(f"bad pcapng{where}: {reason}")


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _options(options: list[tuple[int, bytes]]) -> bytes:
    if not options:
        return b""
    out = b"".join(struct.pack("<HH", code, len(value)) + _pad(value) for code, value in options)
    return out + struct.pack("<HH", _OPT_END, 0)


def _block(block_type: int, body: bytes) -> bytes:
    total = 12 + len(body)
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)


def _dsb(secrets_type: int, secrets: bytes) -> bytes:
    return _block(BlockType.DECRYPTION_SECRETS, struct.pack("<II", secrets_type, len(secrets)) + _pad(secrets))


class PcapngWriter:
    """Writes one pcapng section to ``path``; thread-safe. Use as a context manager or call :meth:`close`."""

    def __init__(self, path: Path | str, *, application: str = "v2gstack") -> None:
        """Create (truncate) ``path`` and write the Section Header Block."""
        self.path = Path(path)
        self._lock = threading.Lock()
        self._file: BinaryIO | None = self.path.open("wb")
        self._interfaces: list[int] = []  # ticks per second of each interface
        self._first_packet_at: int | None = None
        self._held_secrets: list[bytes] = []
        self.packets_written = 0
        body = struct.pack("<IHHq", _BYTE_ORDER_MAGIC, 1, 0, -1)
        body += _options([(_SHB_USERAPPL, application.encode())])
        self._write(_block(BlockType.SECTION_HEADER, body))

    def add_interface(
        self,
        link_type: LinkType = LinkType.ETHERNET,
        *,
        name: str | None = None,
        description: str | None = None,
        snaplen: int = _DEFAULT_SNAPLEN,
        nanoseconds: bool = False,
    ) -> int:
        """Write an Interface Description Block and return its interface id (0, 1, ...)."""
        options: list[tuple[int, bytes]] = []
        if name:
            options.append((_IF_NAME, name.encode()))
        if description:
            options.append((_IF_DESCRIPTION, description.encode()))
        options.append((_IF_TSRESOL, bytes([9 if nanoseconds else 6])))
        body = struct.pack("<HHI", int(link_type), 0, snaplen) + _options(options)
        with self._lock:
            self._write(_block(BlockType.INTERFACE_DESCRIPTION, body))
            self._interfaces.append(10**9 if nanoseconds else 10**6)
            return len(self._interfaces) - 1

    def write_packet(
        self,
        data: bytes,
        *,
        interface: int = 0,
        timestamp: float | None = None,
        timestamp_ns: int | None = None,
        original_length: int | None = None,
        comment: str | None = None,
    ) -> None:
        """Write one Enhanced Packet Block; time defaults to now; ``timestamp_ns`` wins over ``timestamp``."""
        with self._lock:
            if not 0 <= interface < len(self._interfaces):
                raise PcapngError(f"no interface {interface}: call add_interface() first")
            if timestamp_ns is None:
                timestamp_ns = time.time_ns() if timestamp is None else round(timestamp * 1e9)
            ticks = timestamp_ns * self._interfaces[interface] // 10**9
            options = [(_OPT_COMMENT, comment.encode())] if comment else []
            length = len(data) if original_length is None else max(original_length, len(data))
            body = struct.pack("<IIIII", interface, ticks >> 32, ticks & 0xFFFFFFFF, len(data), length)
            body += _pad(bytes(data)) + _options(options)
            if self._first_packet_at is None and self._file is not None:
                self._first_packet_at = self._file.tell()
            self._write(_block(BlockType.ENHANCED_PACKET, body))
            self.packets_written += 1

    def add_tls_keylog(self, text: str | bytes) -> None:
        """Add an NSS key log (``CLIENT_RANDOM ...``/``*_TRAFFIC_SECRET_* ...`` lines) as a DSB."""
        secrets = text.encode("ascii") if isinstance(text, str) else bytes(text)
        if not secrets.strip():
            return
        if not secrets.endswith(b"\n"):
            secrets += b"\n"
        with self._lock:
            if self._first_packet_at is None:
                self._write(_dsb(SECRETS_TLS_KEYLOG, secrets))
            else:
                self._held_secrets.append(secrets)

    def flush(self) -> None:
        """Push everything written so far to the file (held-back secrets are written by :meth:`close`)."""
        with self._lock:
            if self._file is not None:
                self._file.flush()

    def close(self) -> None:
        """Write held-back secrets in front of the first packet and close the file."""
        with self._lock:
            file, self._file = self._file, None
            if file is None:
                return
            file.close()
            if self._held_secrets and self._first_packet_at is not None:
                self._insert(self._first_packet_at, b"".join(_dsb(SECRETS_TLS_KEYLOG, s) for s in self._held_secrets))
                self._held_secrets = []

    def _insert(self, offset: int, blocks: bytes) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with self.path.open("rb") as src, tmp.open("wb") as dst:
            dst.write(src.read(offset))
            dst.write(blocks)
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        os.replace(tmp, self.path)

    def _write(self, data: bytes) -> None:
        if self._file is None:
            raise PcapngError(f"{self.path} is closed")
        self._file.write(data)

    def __enter__(self) -> PcapngWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# -- reading ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Block:
    """One block as stored: type, body (between the length fields), offset, and its section's byte order."""

    type: int
    body: bytes
    offset: int
    endian: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PacketRecord:
    """One captured packet: interface id, link type, time in nanoseconds since the epoch, bytes."""

    interface: int
    link_type: int
    timestamp_ns: int
    data: bytes
    original_length: int

    @property
    def timestamp(self) -> float:
        """The time in seconds since the epoch."""
        return self.timestamp_ns / 1e9


def iter_blocks(path: Path | str) -> Iterator[Block]:
    """Every block of the file in order; raises :class:`PcapngError` naming the offset of a bad block."""
    data = Path(path).read_bytes()
    offset = 0
    endian = "<"
    while offset < len(data):
        if len(data) - offset < 12:
            raise PcapngError(f"{len(data) - offset} trailing bytes, less than a block", offset=offset)
        if data[offset : offset + 4] == b"\x0a\x0d\x0d\x0a":
            magic = data[offset + 8 : offset + 12]
            if magic == b"\x4d\x3c\x2b\x1a":
                endian = "<"
            elif magic == b"\x1a\x2b\x3c\x4d":
                endian = ">"
            else:
                raise PcapngError(f"bad byte-order magic {magic.hex()}", offset=offset)
        elif offset == 0:
            raise PcapngError("the file does not start with a Section Header Block", offset=0)
        block_type, total = struct.unpack_from(endian + "II", data, offset)
        if total < 12 or total % 4 or offset + total > len(data):
            raise PcapngError(f"block length {total} is invalid for a file of {len(data)} bytes", offset=offset)
        (trailer,) = struct.unpack_from(endian + "I", data, offset + total - 4)
        if trailer != total:
            raise PcapngError(f"block length {total} and trailing length {trailer} differ", offset=offset)
        yield Block(type=block_type, body=data[offset + 8 : offset + total - 4], offset=offset, endian=endian)
        offset += total


def _tsresol(block: Block) -> int:
    """Ticks per second from an IDB's ``if_tsresol`` option (default 10^6)."""
    pos = 8
    while pos + 4 <= len(block.body):
        code, length = struct.unpack_from(block.endian + "HH", block.body, pos)
        if code == _OPT_END:
            break
        if code == _IF_TSRESOL and length >= 1:
            value: int = block.body[pos + 4]
            return 1 << (value & 0x7F) if value & 0x80 else int(10**value)
        pos += 4 + length + (-length % 4)
    return 10**6


def read_packets(path: Path | str) -> list[PacketRecord]:
    """The Enhanced (and Simple) Packet Blocks of the file with their interface's link type and clock."""
    interfaces: list[tuple[int, int]] = []  # (link type, ticks per second)
    packets = []
    for block in iter_blocks(path):
        if block.type == BlockType.SECTION_HEADER:
            interfaces = []
        elif block.type == BlockType.INTERFACE_DESCRIPTION:
            (link_type,) = struct.unpack_from(block.endian + "H", block.body, 0)
            interfaces.append((link_type, _tsresol(block)))
        elif block.type == BlockType.ENHANCED_PACKET:
            iface, high, low, caplen, length = struct.unpack_from(block.endian + "IIIII", block.body, 0)
            if iface >= len(interfaces) or 20 + caplen > len(block.body):
                raise PcapngError(f"packet for interface {iface} ({caplen} bytes) does not fit", offset=block.offset)
            link_type, ticks = interfaces[iface]
            packets.append(
                PacketRecord(
                    interface=iface,
                    link_type=link_type,
                    timestamp_ns=((high << 32) | low) * 10**9 // ticks,
                    data=block.body[20 : 20 + caplen],
                    original_length=length,
                )
            )
        elif block.type == BlockType.SIMPLE_PACKET and interfaces:
            (length,) = struct.unpack_from(block.endian + "I", block.body, 0)
            data = block.body[4 : 4 + length]
            packets.append(
                PacketRecord(interface=0, link_type=interfaces[0][0], timestamp_ns=0, data=data, original_length=length)
            )
    return packets


def read_secrets(path: Path | str) -> list[tuple[int, bytes]]:
    """The (secrets type, secrets) pairs of every Decryption Secrets Block, in file order."""
    found = []
    for block in iter_blocks(path):
        if block.type == BlockType.DECRYPTION_SECRETS:
            kind, length = struct.unpack_from(block.endian + "II", block.body, 0)
            if 8 + length > len(block.body):
                raise PcapngError(f"secrets length {length} exceeds its block", offset=block.offset)
            found.append((kind, block.body[8 : 8 + length]))
    return found
