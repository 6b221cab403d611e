"""A dumpcap capture that is provably running before the test traffic starts and complete when it stops.

dumpcap reports "Capturing on ..." before its socket filter sees packets, and hands packets on in blocks
(about 0.25 s late). So the capture writes to a pipe that a thread drains, and marker datagrams to a UDP
port inside the capture filter are sent until the first one shows up in the stream (start) and once more at
the end (stop), so every packet in between is known to be in the file.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import types
from pathlib import Path

import pytest

MARKER_PORT = 15999


def require_dumpcap() -> str:
    """Path of dumpcap (or skip the test with the reason)."""
    exe = shutil.which("dumpcap")
    if exe is None or shutil.which("tshark") is None:
        pytest.skip("tshark/dumpcap is not installed (scripts/install-test-prereqs installs it when root)")
    return exe


class LiveCapture:
    """Capture ``tcp port <port>`` plus the marker port on ``interface`` into ``path``."""

    def __init__(
        self,
        path: Path,
        *,
        interface: str,
        tcp_port: int,
        marker_host: str = "::1",
        argv_prefix: tuple[str, ...] = (),
        marker_scope: int = 0,
        timeout: float = 10.0,
    ) -> None:
        self.path = path
        self.interface = interface
        self.tcp_port = tcp_port
        self.marker_host = marker_host
        self.marker_scope = marker_scope
        self.argv_prefix = argv_prefix
        self.timeout = timeout
        self._data = bytearray()
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._count = 0

    def _drain(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while chunk := os.read(fd, 65536):
            with self._lock:
                self._data.extend(chunk)

    def _mark_until_seen(self, sock: socket.socket) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            self._count += 1
            marker = b"v2gstack-capture-marker-%06d" % self._count
            sock.sendto(marker, (self.marker_host, MARKER_PORT, 0, self.marker_scope))
            end = time.monotonic() + 0.05
            while time.monotonic() < end:
                with self._lock:
                    if b"v2gstack-capture-marker-" in self._data[-65536 * 4 :] and self._seen(marker):
                        return
                time.sleep(0.01)
            if time.monotonic() > deadline:
                raise TimeoutError(f"dumpcap on {self.interface} did not deliver packets within {self.timeout} s")

    def _seen(self, marker: bytes) -> bool:
        return marker in self._data

    def __enter__(self) -> LiveCapture:
        exe = require_dumpcap()
        bpf = f"tcp port {self.tcp_port} or udp port {MARKER_PORT}"
        argv = [*self.argv_prefix, exe, "-q", "-i", self.interface, "-f", bpf, "-w", "-"]
        self._proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            try:
                self._mark_until_seen(sock)
            except BaseException:
                self._stop()
                raise
        return self

    def _stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
        try:
            self._proc.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._thread is not None:
            self._thread.join(self.timeout)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        try:
            if exc_type is None:
                with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
                    self._mark_until_seen(sock)
        finally:
            self._stop()
            with self._lock:
                self.path.write_bytes(bytes(self._data))
