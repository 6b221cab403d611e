"""Packet capture for the bench: an AF_PACKET sniffer and the ``--pcap FILE`` session around it.

:class:`Sniffer` opens a raw ``AF_PACKET``/``ETH_P_ALL`` socket on one interface (optionally inside a network
namespace, through :func:`harness.netns.run_in_netns`) and hands every frame it sees, sent or received, with
the kernel's receive time (``SO_TIMESTAMPNS``) to a callback from a background thread until stopped.

:class:`CaptureSession` ties a sniffer to a :class:`harness.pcapng.PcapngWriter`: entering starts the capture,
leaving stops it, adds the TLS key log (the file the TLS layer wrote, plus any text given to
:meth:`CaptureSession.add_tls_keylog`) to the pcapng as a Decryption Secrets Block and also writes it next to
the capture as ``FILE.keys`` (``run.pcapng`` -> ``run.keys``), so Wireshark decrypts the file either way. Both
hold session secrets and are made owner-only (0600).
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from harness.netns import join_result, run_in_netns
from harness.pcapng import LinkType, PcapngWriter
from iso15118.security.tls import prepare_keylog_file

__all__ = ["CaptureSession", "Sniffer", "keys_path_for"]

_ETH_P_ALL: Final = 0x0003
_SO_TIMESTAMPNS: Final = 35  # Linux <asm-generic/socket.h>; not exported by the socket module
_ARPHRD_ETHER: Final = 1
_ARPHRD_LOOPBACK: Final = 772
_RAW_IP_HATYPES: Final = frozenset({0xFFFE, 768, 769, 776, 778, 823})  # NONE, TUNNEL, TUNNEL6, SIT, IPGRE, IP6GRE
_SNAPLEN: Final = 262144
_RCVBUF: Final = 4 * 1024 * 1024

PacketSink = Callable[[bytes, int], None]
"""Receives each frame and its capture time in nanoseconds since the epoch."""


def keys_path_for(pcap: Path | str) -> Path:
    """Where the key log of a capture goes: the capture's name with the suffix ``.keys``."""
    return Path(pcap).with_suffix(".keys")


def _link_type(hatype: int) -> LinkType:
    if hatype in (_ARPHRD_ETHER, _ARPHRD_LOOPBACK):
        return LinkType.ETHERNET
    if hatype in _RAW_IP_HATYPES:
        return LinkType.RAW
    return LinkType.LINUX_SLL


def _open_packet_socket(iface: str) -> socket.socket:
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ALL))
    except PermissionError as exc:
        raise PermissionError(exc.errno, f"capturing on {iface!r} needs root or CAP_NET_RAW") from exc
    try:
        sock.bind((iface, 0))
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot capture on interface {iface!r}: {exc.strerror or exc}") from exc
    return sock


class Sniffer:
    """Captures every frame on one interface in a background thread (needs root or CAP_NET_RAW)."""

    def __init__(self, iface: str, *, netns: str | None = None) -> None:
        """Prepare a capture on ``iface``, inside network namespace ``netns`` when given."""
        self.iface = iface
        self.netns = netns
        self.link_type = LinkType.ETHERNET
        self.packets = 0
        self._sock: socket.socket | None = None
        self._hatype = 0
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._error: BaseException | None = None

    def open(self) -> LinkType:
        """Open and bind the socket (in the namespace) and return the interface's pcapng link type."""
        if self._sock is None:
            if self.netns is None:
                self._sock = _open_packet_socket(self.iface)
            else:
                thread, box = run_in_netns(
                    self.netns, lambda: _open_packet_socket(self.iface), name=f"sniffer-open-{self.iface}"
                )
                self._sock = join_result(thread, box, timeout=10)
            self._hatype = int(self._sock.getsockname()[3])
            self.link_type = _link_type(self._hatype)
        return self.link_type

    def start(self, sink: PacketSink) -> None:
        """Start delivering frames to ``sink`` (from the capture thread); opens the socket if needed."""
        self.open()
        if self._thread is not None:
            raise RuntimeError("the sniffer is already running")
        self._thread = threading.Thread(target=self._run, args=(sink,), name=f"sniffer-{self.iface}", daemon=True)
        self._thread.start()

    def stop(self, *, settle: float = 0.05, timeout: float = 5.0) -> None:
        """Wait ``settle`` s, deliver what the kernel still holds, close; re-raise a capture thread error."""
        if self._thread is not None:
            if settle > 0:
                time.sleep(settle)
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise TimeoutError(f"the capture thread on {self.iface} did not stop within {timeout} s")
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._wake_r.close()
        self._wake_w.close()
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _run(self, sink: PacketSink) -> None:
        assert self._sock is not None
        sock = self._sock
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(sock, selectors.EVENT_READ)
                selector.register(self._wake_r, selectors.EVENT_READ)
                while True:
                    ready = {key.fileobj for key, _ in selector.select()}
                    self._drain(sock, sink)
                    if self._wake_r in ready:
                        return
        except BaseException as exc:  # handed to stop()
            self._error = exc

    def _drain(self, sock: socket.socket, sink: PacketSink) -> None:
        ancillary = socket.CMSG_SPACE(16)
        while True:
            try:
                data, ancdata, _flags, address = sock.recvmsg(_SNAPLEN, ancillary)
            except (BlockingIOError, InterruptedError):
                return
            pkttype = int(address[2])
            if self._hatype == _ARPHRD_LOOPBACK and pkttype == socket.PACKET_OUTGOING:
                continue  # on lo every frame is seen leaving and arriving: keep one copy
            stamp = time.time_ns()
            for level, kind, value in ancdata:
                if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(value) >= 16:
                    seconds, nanos = struct.unpack("@qq", value[:16])
                    stamp = seconds * 10**9 + nanos
            if self.link_type is LinkType.LINUX_SLL:
                addr = bytes(address[4])[:8]
                header = struct.pack(">HHH8sH", pkttype, self._hatype, len(addr), addr.ljust(8, b"\0"), address[1])
                data = header + data
            self.packets += 1
            sink(data, stamp)


class CaptureSession:
    """Capture one interface into a pcapng file for the duration of a ``with`` block.

    On exit the TLS secrets (``keylog_path``'s content, if that file exists, plus text passed to
    :meth:`add_tls_keylog`) go into the pcapng as a DSB and into :attr:`keys_path` next to it.
    """

    def __init__(
        self,
        iface: str,
        path: Path | str,
        keylog_path: Path | str | None = None,
        *,
        netns: str | None = None,
        settle: float = 0.05,
    ) -> None:
        """Prepare a capture of ``iface`` (in ``netns`` if given) into ``path``; it starts when entered."""
        self.iface = iface
        self.path = Path(path)
        self.keylog_path = Path(keylog_path) if keylog_path is not None else None
        self.keys_path = keys_path_for(self.path)
        self.netns = netns
        self.settle = settle
        self._sniffer: Sniffer | None = None
        self._writer: PcapngWriter | None = None
        self._extra_secrets: list[str] = []
        self._final_count = 0

    @property
    def packets(self) -> int:
        """Frames captured so far (or in total, once the session has ended)."""
        return self._sniffer.packets if self._sniffer is not None else self._final_count

    def add_tls_keylog(self, text: str) -> None:
        """Add key-log lines known in memory (written on exit, after those of ``keylog_path``)."""
        self._extra_secrets.append(text if text.endswith("\n") else text + "\n")

    def __enter__(self) -> CaptureSession:
        sniffer = Sniffer(self.iface, netns=self.netns)
        link_type = sniffer.open()
        writer = PcapngWriter(self.path)
        iface_id = writer.add_interface(link_type, name=self.iface, nanoseconds=True)

        def sink(data: bytes, stamp_ns: int) -> None:
            writer.write_packet(data, interface=iface_id, timestamp_ns=stamp_ns)

        try:
            sniffer.start(sink)
        except BaseException:
            sniffer.stop(settle=0)
            writer.close()
            raise
        self._sniffer, self._writer = sniffer, writer
        return self

    def __exit__(self, *exc_info: object) -> None:
        sniffer, writer = self._sniffer, self._writer
        self._sniffer = self._writer = None
        if writer is None:
            return
        try:
            if sniffer is not None:
                sniffer.stop(settle=self.settle)
                self._final_count = sniffer.packets
        finally:
            secrets = self._secrets()
            if secrets:
                # Session secrets: the capture that embeds them and the .keys file are owner-only (0600).
                self.path.chmod(0o600)
                writer.add_tls_keylog(secrets)
                if self.keylog_path is None or self.keylog_path.resolve() != self.keys_path.resolve():
                    prepare_keylog_file(self.keys_path).write_text(secrets, encoding="ascii")
            writer.close()
            if secrets:
                self.path.chmod(0o600)  # close() may have rewritten the file to put the secrets first

    def _secrets(self) -> str:
        text = ""
        if self.keylog_path is not None and self.keylog_path.is_file():
            text = self.keylog_path.read_text(encoding="ascii", errors="replace")
            if text and not text.endswith("\n"):
                text += "\n"
        return text + "".join(self._extra_secrets)
