"""How the virtual truck and its charger are joined for each session: in memory, TCP on ::1, or veth.

Owns :class:`LinkKind`, :class:`LinkSetup` (one session's connected pair and what setting it up saw) and
:func:`open_wiring`, an async context manager yielding a :class:`Wiring` whose :meth:`Wiring.connect`
makes a fresh pair per session:

* ``memory``: :func:`~iso15118.transport.link.memory_pair`, no I/O (no transport: each side offers and accepts
  every protocol it is configured with);
* ``loopback``: TCP on ``[::1]``, with the transport of the protocol generation: TLS 1.3 with mutual
  authentication for ISO 15118-20 (strict -20 contexts from a test PKI generated into a temporary directory
  unless one is given), TLS 1.2 for ISO 15118-2 (a -2 test PKI, secp256r1) or plain TCP for -2 and DIN 70121,
  as the truck's SDP request and the charger's answer say (:mod:`harness.virtual.transports`);
* ``veth``: SLAC, SDP and the same transports over IPv6 link-local between two network namespaces joined by a
  veth pair (root only), see :mod:`harness.virtual.veth`.

``pcap`` captures the traffic (``lo`` for loopback, the truck's veth end for veth) into a pcapng with the
TLS key log embedded as a Decryption Secrets Block and written next to it as ``FILE.keys``
(:class:`harness.capture.CaptureSession`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ssl
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv6Address
from pathlib import Path
from typing import Protocol

from harness.capture import CaptureSession, keys_path_for
from harness.netns import netns_available, veth_pair
from harness.virtual.generations import ProtocolPlan
from harness.virtual.transports import Acceptor, Identities, announced, connect_truck, make_identities
from iso15118.errors import ConfigError
from iso15118.security.pki import init_pki
from iso15118.security.tls import HandshakeInfo, prepare_keylog_file
from iso15118.session.connection import Role
from iso15118.session.selection import EnergyFamily
from iso15118.transport.evcc_client import Attempt
from iso15118.transport.generations import Standard, Transport
from iso15118.transport.link import Link, memory_pair
from iso15118.transport.negotiation import ConnectionTerms
from iso15118.transport.slac_link import SlacResult
from iso15118.transport.tcp import Endpoint, connect, make_endpoint, open_listener
from iso15118.transport.udp import SdpResult

__all__ = ["LinkKind", "LinkSetup", "Wiring", "WiringOptions", "open_wiring"]


class LinkKind(StrEnum):
    """Which link joins the two devices."""

    MEMORY = "memory"
    LOOPBACK = "loopback"
    VETH = "veth"


@dataclass(frozen=True, slots=True, kw_only=True)
class WiringOptions:
    """Set-up choices: capture file, PKI, key log, time limits."""

    pcap: Path | None = None
    pki_dir: Path | None = None
    """An existing PKI (``v2g pki init``); default: a fresh test PKI in a temporary directory."""
    keylog: Path | None = None
    """NSS key log to append to (ignored with ``pcap``, which writes ``FILE.keys``)."""
    slac_timeout_s: float = 15.0
    connect_timeout_s: float = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkSetup:
    """One session's connected pair, and what the set-up saw."""

    evcc: Link
    secc: Link
    tls: HandshakeInfo | None = None
    """The EVCC's view of the handshake (the SECC's certificate)."""
    secc_tls: HandshakeInfo | None = None
    """The SECC's view of the handshake (the vehicle's certificate)."""
    slac: SlacResult | None = None
    sdp: SdpResult | None = None
    setup_s: float = 0.0
    """Real seconds the set-up took."""
    evcc_terms: ConnectionTerms | None = None
    """The truck's transport and policy (what it may offer over this connection); None in memory."""
    secc_terms: ConnectionTerms | None = None
    """The charger's (what it may select)."""
    fallbacks: tuple[str, ...] = ()
    """The truck's connection attempts that failed before this one, and why."""

    def describe(self) -> str:
        """One line: how this pair was set up."""
        parts = []
        if self.slac is not None:
            parts.append(f"SLAC matched in {self.slac.duration * 1000:.0f} ms ({self.slac.attenuation_db:.0f} dB)")
        if self.sdp is not None:
            parts.append(f"SDP -> {self.sdp.host} port {self.sdp.response.port} after {self.sdp.tries} request(s)")
        parts.extend(self.fallbacks)
        if self.tls is not None:
            parts.append(f"{self.tls.version} {self.tls.cipher} {self.tls.group or ''}".rstrip())
            if self.secc_tls is not None and self.secc_tls.peer_subject:
                parts.append("vehicle certificate verified")
        elif self.evcc_terms is not None:
            parts.append("plain TCP")
        return ", ".join(parts) if parts else "in memory"


class Wiring(Protocol):
    """Makes a connected EVCC/SECC pair for each session."""

    kind: LinkKind
    description: str

    async def connect(self) -> LinkSetup:
        """A fresh connected pair (raises OSError / V2GError when the set-up fails)."""
        ...


# -- memory --------------------------------------------------------------------------------------------


class _MemoryWiring:
    kind = LinkKind.MEMORY
    description = "in-memory link"

    async def connect(self) -> LinkSetup:
        evcc, secc = memory_pair()
        return LinkSetup(evcc=evcc, secc=secc)


# -- TCP on ::1 -------------------------------------------------------------------------------------------


class _LoopbackWiring:
    kind = LinkKind.LOOPBACK

    def __init__(self, identities: Identities, options: WiringOptions) -> None:
        self._ids = identities
        self._options = options
        self._acceptor = Acceptor(identities, options.connect_timeout_s)
        self._endpoint: Endpoint | None = None
        self.description = f"TCP on [::1] ({self._acceptor.describe()})"

    async def start(self) -> None:
        listener = open_listener(make_endpoint("::1", 0))
        self._endpoint = Endpoint(address=IPv6Address("::1"), port=listener.getsockname()[1])
        self.description = f"TCP on {self._endpoint} ({self._acceptor.describe()})"
        await self._acceptor.start(listener)

    async def connect(self) -> LinkSetup:
        endpoint = self._endpoint
        assert endpoint is not None
        started = time.perf_counter()
        timeout = self._options.connect_timeout_s
        # No SDP on ::1: the charger's answer to the truck's request follows the SDP server's rule.
        security = announced(self._ids.plan.sdp_security, self._ids.served())

        async def opener(attempt: Attempt, context: ssl.SSLContext | None) -> tuple[Link, HandshakeInfo | None]:
            link = await connect(endpoint, context, mode=attempt.mode, timeout=timeout, clock=time.time)
            return link, link.tls

        truck, secc = await connect_truck(self._ids, security, self._acceptor, opener)
        return setup_of(self._ids, truck.link, secc, truck.tls, truck.transport, truck.fallbacks, started)

    async def close(self) -> None:
        await self._acceptor.close()


def setup_of(
    ids: Identities,
    evcc: Link,
    secc: Link,
    tls: HandshakeInfo | None,
    transport: Transport,
    fallbacks: tuple[str, ...],
    started: float,
    *,
    slac: SlacResult | None = None,
    sdp: SdpResult | None = None,
) -> LinkSetup:
    """A network link's set-up: both ends, the handshake as each saw it, each side's terms."""
    secc_tls = getattr(secc, "tls", None)
    return LinkSetup(
        evcc=evcc,
        secc=secc,
        tls=tls,
        secc_tls=secc_tls if isinstance(secc_tls, HandshakeInfo) else None,
        slac=slac,
        sdp=sdp,
        setup_s=time.perf_counter() - started,
        evcc_terms=ids.terms(Role.EVCC, transport),
        secc_terms=ids.terms(Role.SECC, transport),
        fallbacks=fallbacks,
    )


# -- set-up and tear-down ----------------------------------------------------------------------------


def _fresh_pki(directory: Path, *, kind: str = "iso20") -> Path:
    # Valid from a few minutes ago, so that a clock a little behind still accepts it.
    now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5)
    if kind == "iso2":
        init_pki(directory, now=now, kind="iso2")  # -2: secp256r1
    else:
        init_pki(directory, algorithm="secp521r1", now=now)
    return directory


_ISO20_ONLY = ProtocolPlan(
    family=EnergyFamily.AC, ev=(Standard.ISO20,), charger=(Standard.ISO20,), expected=Standard.ISO20, transport=None
)
"""The identities of a run without a port session (its wiring is never asked for a pair)."""


def _keylog_for(options: WiringOptions) -> Path | None:
    if options.pcap is None:
        return options.keylog
    keys = keys_path_for(options.pcap)
    keys.parent.mkdir(parents=True, exist_ok=True)
    prepare_keylog_file(keys).write_text("", encoding="ascii")  # 0600; OpenSSL appends: start this run's log empty
    return keys


@contextlib.asynccontextmanager
async def open_wiring(
    kind: LinkKind, options: WiringOptions | None = None, plan: ProtocolPlan | None = None
) -> AsyncIterator[Wiring]:
    """Set up the link kind (PKI, namespaces, listener, capture) and tear everything down afterwards."""
    opts = options or WiringOptions()
    if kind is LinkKind.MEMORY:
        if opts.pcap is not None:
            raise ConfigError("--pcap needs a network link: use --link loopback or --link veth")
        yield _MemoryWiring()
        return
    if kind is LinkKind.VETH or opts.pcap is not None:
        ok, reason = netns_available() if kind is LinkKind.VETH else (True, "")
        if not ok:
            raise ConfigError(f"--link veth: {reason}")
    plan = plan or _ISO20_ONLY
    with contextlib.ExitStack() as stack:
        temporary = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="v2g-sim-")))
        pki_dir = opts.pki_dir or _fresh_pki(temporary / "pki")
        speaks_iso2 = Standard.ISO2 in (*plan.ev, *plan.charger)
        iso2_dir = _fresh_pki(temporary / "pki-iso2", kind="iso2") if speaks_iso2 else None
        keylog = _keylog_for(opts)
        ids = make_identities(plan, pki_dir, iso2_dir, keylog)
        wiring: _LoopbackWiring | VethWiring
        if kind is LinkKind.LOOPBACK:
            wiring = _LoopbackWiring(ids, opts)
            iface, netns = "lo", None
        else:
            from harness.virtual.veth import VethWiring

            pair = stack.enter_context(veth_pair("sim"))
            wiring = VethWiring(pair, ids, opts)
            iface, netns = pair.if_a, pair.ns_a
        if opts.pcap is not None:
            stack.enter_context(CaptureSession(iface, opts.pcap, keylog, netns=netns))
        await wiring.start()
        try:
            yield wiring
        finally:
            await wiring.close()
