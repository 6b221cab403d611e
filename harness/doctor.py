"""Environment checks behind `v2g doctor`: what most often breaks a first run, each with a concrete fix.

:func:`run_checks` returns one :class:`CheckResult` per check (OK / FAIL / SKIP); :func:`format_report`
renders them and :func:`exit_code` is 0 when nothing failed. Network checks run in the calling thread's
network namespace (sockets, ioctls and ``/proc/thread-self``), so tests can run them inside a namespace.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import importlib
import importlib.metadata
import re
import secrets
import socket
import struct
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final, cast

from iso15118.constants import SDP_MULTICAST_ADDRESS, SDP_SERVER_PORT
from iso15118.errors import ConfigError, V2GError
from iso15118.transport.udp import interface_addresses, interface_index, open_sdp_server_socket

__all__ = [
    "CheckResult",
    "Status",
    "exit_code",
    "format_report",
    "interface_problem",
    "preflight_interface",
    "run_checks",
]

_SIOCGIFFLAGS: Final = 0x8913
_IFF_UP: Final = 0x1
_IFF_LOOPBACK: Final = 0x8
_IFF_RUNNING: Final = 0x40
_IFF_MULTICAST: Final = 0x1000
_ETH_P_HOMEPLUG_GP: Final = 0x88E1
#: (distribution, minimum version, exact pin) for the runtime dependencies in pyproject.toml.
_LIBRARIES: Final = (
    ("lxml", "5", None),
    ("construct", "2.10.70", "2.10.70"),
    ("cryptography", "42", None),
    ("scapy", "2.6", None),
    ("matplotlib", "3.8", None),
)


class Status(StrEnum):
    """Outcome of one check."""

    OK = "OK"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """One check: its name, outcome, what was found, and (for FAIL/SKIP) how to fix it."""

    name: str
    status: Status
    detail: str
    fix: str = ""


def _ok(name: str, detail: str) -> CheckResult:
    return CheckResult(name=name, status=Status.OK, detail=detail)


def _fail(name: str, detail: str, fix: str) -> CheckResult:
    return CheckResult(name=name, status=Status.FAIL, detail=detail, fix=fix)


def _skip(name: str, detail: str, fix: str = "") -> CheckResult:
    return CheckResult(name=name, status=Status.SKIP, detail=detail, fix=fix)


def _interface_flags(iface: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        ifreq = struct.pack("16sH14x", iface.encode()[:15], 0)
        result = fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, ifreq)
    return int(struct.unpack_from("16sH", result)[1])


def _ipv6_sysctl(iface: str, key: str) -> str | None:
    # /proc/sys/net follows the calling thread's network namespace.
    try:
        return Path(f"/proc/sys/net/ipv6/conf/{iface}/{key}").read_text().strip()
    except OSError:
        return None


def _interface_names() -> str:
    return ", ".join(sorted(n for _, n in socket.if_nameindex()))


def _ipv6_disabled(iface: str) -> bool:
    return _ipv6_sysctl(iface, "disable_ipv6") == "1"


def _enable_ipv6(iface: str) -> str:
    return f"sysctl -w net.ipv6.conf.{iface}.disable_ipv6=0"


_NO_CARRIER_FIX: Final = "connect the cable / power the PLC modem (for a veth end: bring its peer up)"


def interface_problem(iface: str) -> tuple[str, str] | None:
    """Why a session cannot run on ``iface`` and how to fix it, as (problem, fix); None when it can.

    The causes, in the order they are checked: no such interface, link down, IPv6 disabled, no carrier.
    """
    try:
        interface_index(iface)
        flags = _interface_flags(iface)
    except (V2GError, OSError):
        return f"no such interface: {iface}", f"available: {_interface_names()} (see `ip link`)"
    if not flags & _IFF_UP:
        return f"{iface} is down", f"bring it up: ip link set {iface} up"
    if _ipv6_disabled(iface):
        return f"IPv6 is disabled on {iface}", f"enable it: {_enable_ipv6(iface)}"
    if not flags & _IFF_RUNNING:
        return f"{iface} is up but has no carrier", _NO_CARRIER_FIX
    return None


def preflight_interface(iface: str) -> None:
    """Refuse an interface a session cannot run on with one line naming the cause and the fix.

    Raises :class:`~iso15118.errors.ConfigError`; `v2g secc` and `v2g evcc` call it before they start.
    """
    found = interface_problem(iface)
    if found is not None:
        problem, fix = found
        raise ConfigError(f"{problem}; {fix}")


def check_interface(iface: str) -> CheckResult:
    """The interface exists, is administratively up and has a carrier."""
    name = "interface"
    try:
        index = interface_index(iface)
        flags = _interface_flags(iface)
    except (V2GError, OSError):
        return _fail(name, f"{iface} does not exist", f"pick one of: {_interface_names()} (see `ip link`)")
    if not flags & _IFF_UP:
        return _fail(name, f"{iface} (index {index}) is down", f"ip link set {iface} up")
    if not flags & _IFF_RUNNING:
        return _fail(name, f"{iface} is up but has no carrier", _NO_CARRIER_FIX)
    kind = "loopback" if flags & _IFF_LOOPBACK else "multicast-capable" if flags & _IFF_MULTICAST else "no multicast"
    return _ok(name, f"{iface} (index {index}) is up with carrier, {kind}")


def check_link_local(iface: str) -> CheckResult:
    """The interface has a usable (non-tentative) IPv6 link-local address; reports the DAD state."""
    name = "link-local"
    if _ipv6_disabled(iface):
        return _fail(name, f"IPv6 is disabled on {iface}", _enable_ipv6(iface))
    dad = "DAD off" if _ipv6_sysctl(iface, "accept_dad") == "0" else "DAD on"
    link_local = [a for a in interface_addresses(iface) if a.address.is_link_local]
    usable = [a for a in link_local if a.usable]
    if usable:
        return _ok(name, f"{usable[0].address}%{iface} ({dad}, address usable)")
    if any(a.dad_failed for a in link_local):
        return _fail(
            name,
            f"{link_local[0].address} on {iface} failed DAD: another node uses it",
            f"find the duplicate on the link, or regenerate: ip link set {iface} addrgenmode random",
        )
    if link_local:
        return _fail(
            name,
            f"{link_local[0].address} on {iface} is tentative ({dad}): not usable until DAD ends",
            f"wait about 2 s and re-run, or turn DAD off: sysctl -w net.ipv6.conf.{iface}.accept_dad=0",
        )
    if _interface_flags(iface) & _IFF_LOOPBACK:
        return _fail(
            name,
            f"{iface} is a loopback interface: it has no link-local address (only ::1)",
            "SDP and TLS need a link: use the PLC interface or one end of a veth pair",
        )
    return _fail(
        name,
        f"{iface} has no IPv6 link-local address ({dad})",
        f"bring the link up (ip link set {iface} up); if it is up: ip link set {iface} addrgenmode eui64, then down/up",
    )


def check_udp_bind(iface: str, port: int = SDP_SERVER_PORT) -> CheckResult:
    """UDP ``port`` (15118) can be bound on the interface the way the SDP server binds it."""
    name = f"udp {port}"
    try:
        sock = open_sdp_server_socket(iface, port)
    except V2GError as exc:
        return _fail(name, str(exc), "fix the interface first")
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return _fail(
                name,
                str(exc),
                f"another process serves SDP on {iface}: find it with `ss -uapn 'sport = :{port}'`, stop it",
            )
        if _ipv6_disabled(iface):
            return _fail(name, f"{exc}: IPv6 is disabled on {iface}", _enable_ipv6(iface))
        return _fail(name, str(exc), "run as root (binding to one interface needs it on kernels before 5.7)")
    sock.close()
    return _ok(name, f"bound [::]:{port} on {iface} and joined {SDP_MULTICAST_ADDRESS}")


def check_multicast(iface: str, timeout: float = 1.0) -> CheckResult:
    """A datagram sent to ff02::1 on the interface comes back through IPV6_MULTICAST_LOOP."""
    name = "multicast"
    try:
        index = interface_index(iface)
    except V2GError as exc:
        return _fail(name, str(exc), "fix the interface first")
    token = secrets.token_bytes(16)
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        try:
            with contextlib.suppress(PermissionError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
            sock.bind(("::", 0))
            mreq = socket.inet_pton(socket.AF_INET6, SDP_MULTICAST_ADDRESS) + struct.pack("@I", index)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 1)
            sock.sendto(token, (SDP_MULTICAST_ADDRESS, sock.getsockname()[1], 0, index))
        except OSError as exc:
            why, fix = _multicast_failure(iface)
            return _fail(name, f"cannot send to {SDP_MULTICAST_ADDRESS}%{iface}: {exc.strerror}{why}", fix)
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            sock.settimeout(remaining)
            try:
                data, _ = sock.recvfrom(64)
            except TimeoutError:
                break
            if data == token:
                return _ok(name, f"sent to {SDP_MULTICAST_ADDRESS}%{iface} and received it back")
    return _fail(
        name,
        f"a datagram to {SDP_MULTICAST_ADDRESS}%{iface} did not come back within {timeout:g} s",
        "check firewall rules for UDP/ICMPv6 (ip6tables -L; nft list ruleset) and that IPv6 is enabled",
    )


def _multicast_failure(iface: str) -> tuple[str, str]:
    """Why sending to ff02::1 on ``iface`` failed, and the fix for that cause (not one fix for all)."""
    flags = _interface_flags(iface)
    if not flags & _IFF_UP:
        return " (the interface is down)", f"ip link set {iface} up"
    if _ipv6_disabled(iface):
        return " (IPv6 is disabled on the interface)", _enable_ipv6(iface)
    if not flags & _IFF_RUNNING:
        return " (the interface has no carrier)", _NO_CARRIER_FIX
    if not flags & _IFF_MULTICAST:
        return (
            " (the interface has no MULTICAST flag)",
            f"use a multicast-capable interface (PLC modem, veth); lo only serves unicast tests "
            f"(or: ip link set {iface} multicast on)",
        )
    return "", "check the routes and firewall rules for ff02::/16 on the interface (ip -6 route; nft list ruleset)"


def check_raw_socket() -> CheckResult:
    """An AF_PACKET raw socket (needed by SLAC) can be opened: root or CAP_NET_RAW."""
    name = "raw socket"
    family = getattr(socket, "AF_PACKET", None)
    if family is None:
        return _skip(name, "AF_PACKET does not exist on this platform (SLAC needs Linux)")
    try:
        socket.socket(family, socket.SOCK_RAW, socket.htons(_ETH_P_HOMEPLUG_GP)).close()
    except PermissionError:
        python = Path(sys.executable).resolve()
        return _fail(
            name,
            "opening an AF_PACKET socket was refused: SLAC cannot run",
            f"run as root, or grant the capability: sudo setcap cap_net_raw+ep {python}",
        )
    except OSError as exc:
        return _fail(name, f"AF_PACKET socket: {exc}", "check that the kernel has packet socket support")
    return _ok(name, "AF_PACKET raw socket can be opened (root or CAP_NET_RAW)")


def check_pki(directory: Path) -> CheckResult:
    """The PKI folder is complete and valid (``iso15118.security.pki.verify_pki_layout``)."""
    name = "pki"
    try:
        module = importlib.import_module("iso15118.security.pki")
        verify = cast(Callable[[Path], list[str]], module.verify_pki_layout)
    except (ImportError, AttributeError):
        return _skip(name, "this build has no iso15118.security.pki.verify_pki_layout yet; PKI not checked")
    if not directory.is_dir():
        return _fail(name, f"{directory} is not a directory", "pass the folder that holds the PKI with --pki")
    try:
        problems = verify(directory)
    except (V2GError, OSError, ValueError) as exc:
        return _fail(name, f"{directory}: {exc}", "regenerate the PKI folder")
    if problems:
        return _fail(name, f"{directory}: " + "; ".join(problems), "fix or regenerate the files listed")
    return _ok(name, f"{directory} is complete and valid")


def check_python() -> CheckResult:
    """Which interpreter runs (the package itself requires Python 3.11 or newer to import)."""
    version = ".".join(str(v) for v in sys.version_info[:3])
    return _ok("python", f"Python {version} at {sys.executable}")


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def check_library(distribution: str, minimum: str, pin: str | None = None) -> CheckResult:
    """A runtime dependency is installed, at least ``minimum`` (exactly ``pin`` when pinned)."""
    name = distribution
    try:
        version = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return _fail(name, "not installed", "pip install -e . (inside the project's venv)")
    if pin is not None and version != pin:
        return _fail(name, f"{version} installed, {pin} required", f"pip install {distribution}=={pin}")
    if _version_tuple(version) < _version_tuple(minimum):
        return _fail(name, f"{version} installed, >= {minimum} required", f"pip install -U '{distribution}>={minimum}'")
    return _ok(name, version)


def run_checks(
    iface: str | None = None,
    pki: Path | None = None,
    *,
    port: int = SDP_SERVER_PORT,
    multicast_timeout: float = 1.0,
) -> list[CheckResult]:
    """Run every check and return the results in report order."""
    results: list[CheckResult] = []
    network = ("interface", "link-local", f"udp {port}", "multicast")
    if iface is None:
        names = ", ".join(n for _, n in socket.if_nameindex())
        results.append(_skip(network[0], "no --iface given", f"pass --iface IF (here: {names})"))
        results += [_skip(n, "no --iface given") for n in network[1:]]
    else:
        first = check_interface(iface)
        results.append(first)
        if first.status is Status.FAIL and "does not exist" in first.detail:
            results += [_skip(n, f"{iface} does not exist") for n in network[1:]]
        else:
            results += [
                check_link_local(iface),
                check_udp_bind(iface, port),
                check_multicast(iface, multicast_timeout),
            ]
    results.append(check_raw_socket())
    results.append(check_pki(pki) if pki is not None else _skip("pki", "no --pki given", "pass --pki DIR"))
    results.append(check_python())
    results += [check_library(*spec) for spec in _LIBRARIES]
    return results


def format_report(results: Sequence[CheckResult]) -> str:
    """One line per check (``STATUS  name  detail``), an indented ``fix:`` line where given, and a tally."""
    width = max((len(r.name) for r in results), default=0)
    lines = []
    for result in results:
        lines.append(f"{result.status.value:<4}  {result.name:<{width}}  {result.detail}")
        if result.fix and result.status is not Status.OK:
            lines.append(f"{'':<4}  {'':<{width}}  fix: {result.fix}")
    tally = {status: sum(r.status is status for r in results) for status in Status}
    lines.append(", ".join(f"{count} {status.value}" for status, count in tally.items()))
    return "\n".join(lines)


def exit_code(results: Sequence[CheckResult]) -> int:
    """0 when no check failed (SKIP is not a failure), else 1."""
    return 1 if any(r.status is Status.FAIL for r in results) else 0
