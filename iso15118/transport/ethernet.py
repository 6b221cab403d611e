"""Raw Ethernet on Linux: one AF_PACKET socket per interface, opened once, padded sends, typed receives.

Two receive modes, because AF_PACKET differs in what a socket sees:

- bound to one ethertype (0x88E1 by default): frames *received* by the interface with that type only,
  never the frames this host sends; enough for a SLAC host;
- ``ethertype=None`` binds ETH_P_ALL: every frame on the interface, including copies of frames that other
  sockets of this host send (``PACKET_OUTGOING``); it is the only mode that sees traffic on a bridge port.
  ``only`` then installs a classic BPF filter so that the kernel passes just that ethertype.

No scapy is needed here: the plain ``socket`` module does it in one system call per frame (scapy's
``sendp`` opens a socket per call, too slow for the 20 ms sound interval).
"""

from __future__ import annotations

import asyncio
import ctypes
import socket
import struct
from collections.abc import Callable
from types import TracebackType
from typing import Final, Self

from iso15118.slac.mme import ETHERTYPE_HOMEPLUG, MIN_FRAME_LENGTH

__all__ = [
    "ETH_P_ALL",
    "PACKET_OUTGOING",
    "RawEthernetSocket",
]

ETH_P_ALL: Final = 0x0003
#: ``pkttype`` of a frame this host transmitted (seen by ETH_P_ALL sockets only).
PACKET_OUTGOING: Final = 4
_SO_ATTACH_FILTER: Final = 26
_MAX_FRAME: Final = 65536


def _ethertype_filter(ethertype: int) -> list[bytes]:
    """cBPF: accept the frame when the 16-bit word at offset 12 equals ``ethertype``."""

    def insn(code: int, jt: int, jf: int, k: int) -> bytes:
        return struct.pack("HBBI", code, jt, jf, k)

    return [
        insn(0x28, 0, 0, 12),  # ldh [12]
        insn(0x15, 0, 1, ethertype),  # jeq #ethertype, accept, drop
        insn(0x06, 0, 0, 0x40000),  # ret #262144 (accept whole frame)
        insn(0x06, 0, 0, 0),  # ret #0 (drop)
    ]


class RawEthernetSocket:
    """A non-blocking AF_PACKET socket bound to ``iface``; needs root or CAP_NET_RAW.

    ``ethertype`` selects the protocol binding (None: ETH_P_ALL); with ETH_P_ALL, ``only`` filters in
    the kernel to one ethertype and ``include_outgoing`` keeps copies of frames the host itself sent.
    """

    def __init__(
        self,
        iface: str,
        *,
        ethertype: int | None = ETHERTYPE_HOMEPLUG,
        only: int | None = None,
        include_outgoing: bool = False,
    ) -> None:
        proto = ETH_P_ALL if ethertype is None else ethertype
        self.iface = iface
        self.include_outgoing = include_outgoing
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(proto))
        except PermissionError as exc:
            raise PermissionError(exc.errno, f"raw Ethernet on {iface} needs root or CAP_NET_RAW") from exc
        try:
            if ethertype is None and only is not None:
                program = b"".join(_ethertype_filter(only))
                buffer = ctypes.create_string_buffer(program)
                fprog = struct.pack("HL", len(program) // 8, ctypes.addressof(buffer))
                sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)
            sock.bind((iface, proto))
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise OSError(exc.errno, f"cannot open raw socket on {iface!r}: {exc.strerror}") from exc
        self._sock = sock
        self.mac: bytes = sock.getsockname()[4]

    def fileno(self) -> int:
        """The socket's file descriptor (for ``loop.add_reader``)."""
        return self._sock.fileno()

    def send(self, frame: bytes) -> None:
        """Transmit one frame, zero-padded to the 60-byte Ethernet minimum (veth does not pad)."""
        if len(frame) < MIN_FRAME_LENGTH:
            frame = frame + b"\x00" * (MIN_FRAME_LENGTH - len(frame))
        self._sock.send(frame)

    def recv(self) -> bytes | None:
        """The next received frame, or None when none is waiting (outgoing copies skipped unless kept)."""
        while True:
            try:
                data, address = self._sock.recvfrom(_MAX_FRAME)
            except BlockingIOError:
                return None
            if address[2] == PACKET_OUTGOING and not self.include_outgoing:
                continue
            return data

    def close(self) -> None:
        """Close the socket."""
        self._sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def add_reader(self, loop: asyncio.AbstractEventLoop, callback: Callable[[bytes], None]) -> None:
        """Call ``callback(frame)`` from ``loop`` for every received frame until :meth:`remove_reader`."""

        def drain() -> None:
            while (frame := self.recv()) is not None:
                callback(frame)

        loop.add_reader(self.fileno(), drain)

    def remove_reader(self, loop: asyncio.AbstractEventLoop) -> None:
        """Stop the callback installed by :meth:`add_reader`."""
        loop.remove_reader(self.fileno())
