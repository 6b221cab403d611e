"""Network topologies and runners for the live SLAC tests (root only).

:func:`bridged_link` builds EV namespace -- middle namespace (kernel bridge) -- EVSE namespace: two veth
links whose middle ends are ports of one bridge, so hosts see each other as on one powerline segment.
The bridge holds 00:B0:52:00:00:01 as a local address, so an MME sent to "the local modem" is never
forwarded to the other host (each host's own modem consumes it on a real cable). The modem stand-in then
runs in the middle namespace on the two bridge ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from harness.netns import join_result, run_in_netns
from iso15118.slac.timers import SlacConfig
from iso15118.transport.slac_link import ModemModel, SlacResult, run_modem_standin, run_slac

T = TypeVar("T")


@dataclass(frozen=True)
class BridgedLink:
    """Namespaces and interface names of :func:`bridged_link`."""

    ns_ev: str
    ns_mid: str
    ns_evse: str
    if_ev: str
    if_evse: str
    port_ev: str
    port_evse: str


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=20)


@contextlib.contextmanager
def bridged_link(prefix: str = "slb", *, kernel_bridge: bool = True) -> Iterator[BridgedLink]:
    """Create EV -- middle -- EVSE namespaces and remove them afterwards (even on failure).

    Without ``kernel_bridge`` the middle namespace only holds the two port interfaces, and whatever
    runs there (a user-space bridge) must forward the frames.
    """
    tag = secrets.token_hex(3)
    link = BridgedLink(
        ns_ev=f"{prefix}e{tag}",
        ns_mid=f"{prefix}m{tag}",
        ns_evse=f"{prefix}s{tag}",
        if_ev=f"{prefix}ev{tag}",
        if_evse=f"{prefix}se{tag}",
        port_ev=f"{prefix}pe{tag}",
        port_evse=f"{prefix}ps{tag}",
    )
    created: list[str] = []
    try:
        for ns in (link.ns_ev, link.ns_mid, link.ns_evse):
            _ip("netns", "add", ns)
            created.append(ns)
        if kernel_bridge:
            _ip("-n", link.ns_mid, "link", "add", "br0", "type", "bridge")
        for host_ns, host_if, port in (
            (link.ns_ev, link.if_ev, link.port_ev),
            (link.ns_evse, link.if_evse, link.port_evse),
        ):
            _ip("link", "add", host_if, "netns", host_ns, "type", "veth", "peer", "name", port, "netns", link.ns_mid)
            if kernel_bridge:
                _ip("-n", link.ns_mid, "link", "set", port, "master", "br0")
            _ip("-n", link.ns_mid, "link", "set", port, "up")
            _ip("-n", host_ns, "link", "set", host_if, "up")
        if kernel_bridge:
            _ip("-n", link.ns_mid, "link", "set", "br0", "up")
            subprocess.run(
                [
                    "ip",
                    "netns",
                    "exec",
                    link.ns_mid,
                    "bridge",
                    "fdb",
                    "add",
                    "00:b0:52:00:00:01",
                    "dev",
                    "br0",
                    "self",
                    "local",
                ],
                check=True,
                capture_output=True,
                timeout=20,
            )
        yield link
    finally:
        for ns in created:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True, timeout=20)


def slac_in(
    ns: str,
    iface: str,
    role: Literal["ev", "evse"],
    *,
    modem_standin: bool = False,
    timeout: float = 15.0,
    config: SlacConfig | None = None,
) -> tuple[threading.Thread, list[SlacResult]]:
    """Start :func:`run_slac` in a thread inside namespace ``ns``."""
    return run_in_netns(
        ns, lambda: asyncio.run(run_slac(iface, role, modem_standin=modem_standin, timeout=timeout, config=config))
    )


class StandInService:
    """:func:`run_modem_standin` in a thread inside a namespace, stopped by :meth:`stop`."""

    def __init__(self, ns: str, ifaces: list[str], model: ModemModel) -> None:
        """Start serving ``ifaces`` of namespace ``ns`` with ``model`` (its ``forward`` flag decides)."""
        self.model = model
        self.frames: list[tuple[str, bytes]] = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        real_receive = model.receive

        def recording(port: str, frame: bytes, now: float) -> list[tuple[str, bytes]]:
            self.frames.append((port, frame))
            return real_receive(port, frame, now)

        model.receive = recording  # type: ignore[method-assign]

        async def serve() -> None:
            task = asyncio.create_task(run_modem_standin(ifaces, modem=model, on_ready=self._ready.set))
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, self._stop.wait)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        self._thread, self._box = run_in_netns(ns, lambda: asyncio.run(serve()))

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until the sockets are open and read; re-raise what the service raised if it never got there."""
        while not self._ready.wait(0.05):
            if not self._thread.is_alive() or (timeout := timeout - 0.05) <= 0:
                self.stop()
                raise AssertionError("the modem service did not open its sockets")

    def stop(self) -> None:
        """Stop the service and re-raise what it raised, if anything."""
        self._stop.set()
        join_result(self._thread, self._box, timeout=10)


def wait_for_packet_socket(pid: int, who: str, timeout: float = 60.0) -> None:
    """Wait until the namespace of process ``pid`` has a raw packet socket open (``who`` is listening)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if len(Path(f"/proc/{pid}/net/packet").read_text().splitlines()) > 1:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{who} did not open its packet socket within {timeout:g} s")


def join_all(*pairs: tuple[threading.Thread, list[T]], timeout: float = 30.0) -> list[T]:
    """Results of several :func:`run_in_netns` threads, in order."""
    return [join_result(thread, box, timeout) for thread, box in pairs]
