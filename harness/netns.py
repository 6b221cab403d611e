"""Network namespaces joined by a veth pair, for tests and for the harness's ``--link veth``.

Needs root and iproute2. :func:`netns_available` says whether they can be used here and, if not, why;
:func:`veth_pair` creates two namespaces joined by a veth pair with IPv6 duplicate address detection off,
waits until both link-local addresses are usable, and removes everything again, even on failure.
Code runs inside a namespace either as a subprocess (:func:`ns_command`) or in a thread that has
joined the namespace (:func:`run_in_netns`), so that sockets it opens live there.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

__all__ = [
    "VethPair",
    "join_result",
    "namespace",
    "netns_available",
    "ns_command",
    "run_in_netns",
    "veth_pair",
]

T = TypeVar("T")
_CLONE_NEWNET = 0x40000000


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True, timeout=20)


def netns_available() -> tuple[bool, str]:
    """Return (True, "") when namespaces and veth pairs can be created here, else (False, reason)."""
    if os.geteuid() != 0:
        return False, "needs root to create network namespaces (run the tests as root)"
    if shutil.which("ip") is None:
        return False, "iproute2 ('ip') is not installed: apt-get install iproute2"
    name = f"v2gprobe{secrets.token_hex(3)}"
    try:
        _ip("netns", "add", name)
    except (subprocess.CalledProcessError, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        return False, f"cannot create a network namespace: {detail.strip()}"
    finally:
        _ip("netns", "del", name, check=False)
    return True, ""


@dataclass(frozen=True)
class VethPair:
    """Two namespaces joined by one veth link; ``a`` and ``b`` name the two ends."""

    ns_a: str
    ns_b: str
    if_a: str
    if_b: str
    mac_a: str
    mac_b: str
    lladdr_a: str
    lladdr_b: str


def _link_info(ns: str, ifname: str) -> tuple[str, str | None]:
    out = _ip("-n", ns, "-j", "addr", "show", "dev", ifname).stdout
    info = json.loads(out)[0]
    mac = str(info.get("address", ""))
    for addr in info.get("addr_info", []):
        local = str(addr.get("local", ""))
        if addr.get("family") == "inet6" and local.startswith("fe80") and not addr.get("tentative", False):
            return mac, local
    return mac, None


def _sysctl(ns: str, key: str, value: str) -> None:
    subprocess.run(
        ["ip", "netns", "exec", ns, "sysctl", "-q", "-w", f"{key}={value}"],
        check=False,
        capture_output=True,
        timeout=20,
    )


@contextlib.contextmanager
def veth_pair(prefix: str = "v2g", *, timeout: float = 10.0) -> Iterator[VethPair]:
    """Create two namespaces joined by a veth pair and remove them afterwards.

    Names are unique per call so that parallel runs do not collide.
    """
    tag = secrets.token_hex(3)
    ns_a, ns_b = f"{prefix}a{tag}", f"{prefix}b{tag}"
    if_a, if_b = f"{prefix[:4]}a{tag}", f"{prefix[:4]}b{tag}"
    created: list[str] = []
    try:
        for ns in (ns_a, ns_b):
            _ip("netns", "add", ns)
            created.append(ns)
        _ip("link", "add", if_a, "netns", ns_a, "type", "veth", "peer", "name", if_b, "netns", ns_b)
        for ns, ifname in ((ns_a, if_a), (ns_b, if_b)):
            _sysctl(ns, f"net.ipv6.conf.{ifname}.accept_dad", "0")
            _sysctl(ns, "net.ipv6.conf.all.accept_dad", "0")
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "set", ifname, "up")
        deadline = time.monotonic() + timeout
        while True:
            mac_a, ll_a = _link_info(ns_a, if_a)
            mac_b, ll_b = _link_info(ns_b, if_b)
            if ll_a and ll_b:
                break
            if time.monotonic() > deadline:
                raise TimeoutError("veth link-local addresses did not become usable in time")
            time.sleep(0.05)
        yield VethPair(ns_a, ns_b, if_a, if_b, mac_a, mac_b, ll_a, ll_b)
    finally:
        for ns in created:
            _ip("netns", "del", ns, check=False)


@contextlib.contextmanager
def namespace(prefix: str = "v2g") -> Iterator[str]:
    """An empty network namespace (only ``lo``, down) with a unique name; removed afterwards with its links.

    For tests that need links in odd states (down, IPv6 disabled, no carrier): ``ip -n NS link add ...``.
    """
    name = f"{prefix}{secrets.token_hex(3)}"
    _ip("netns", "add", name)
    try:
        yield name
    finally:
        _ip("netns", "del", name, check=False)


def ns_command(ns: str, argv: Sequence[str]) -> list[str]:
    """The argv that runs ``argv`` inside namespace ``ns``."""
    return ["ip", "netns", "exec", ns, *argv]


def _setns(ns: str) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    fd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({ns}) failed: {os.strerror(err)}")
    finally:
        os.close(fd)


def run_in_netns(ns: str, func: Callable[[], T], *, name: str | None = None) -> tuple[threading.Thread, list[T]]:
    """Start ``func`` in a new thread that has joined namespace ``ns``; returns the thread and a result box.

    Sockets opened by ``func`` belong to ``ns``. The result (or nothing, if ``func`` raised) lands in the
    returned list once the thread ends; an exception is re-raised by :func:`join_result`.
    """
    box: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            _setns(ns)
            box.append(func())
        except BaseException as exc:  # handed to the joining thread
            errors.append(exc)

    thread = threading.Thread(target=target, name=name or f"netns-{ns}", daemon=True)
    thread.errors = errors  # type: ignore[attr-defined]
    thread.start()
    return thread, box


def join_result(thread: threading.Thread, box: list[T], timeout: float | None = None) -> T:
    """Wait for a :func:`run_in_netns` thread and return its result, re-raising its exception."""
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"{thread.name} did not finish within {timeout} s")
    errors: list[BaseException] = thread.errors  # type: ignore[attr-defined]
    if errors:
        raise errors[0]
    return box[0]
