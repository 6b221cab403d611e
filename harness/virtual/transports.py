"""The transports of the network links per protocol generation: TLS 1.3 for ISO 15118-20, TLS 1.2 or plain TCP
for ISO 15118-2, plain TCP for DIN 70121.

Owns :class:`Identities` (each side's :class:`~iso15118.transport.policy.TransportPolicy` from the -20 PKI and, when
-2 is spoken, a -2 PKI), :class:`Acceptor` (the charger's listener: the library's one-port
:class:`~iso15118.transport.acceptor.Acceptor`, which picks the TLS identity from what the connection opens with,
its results queued for the session that waits for them) and :func:`connect_truck` (the truck's connection attempts
in the order of the EVCC's own plan, :func:`~iso15118.transport.evcc_client.plan_attempts`, each failure kept for
the negotiation record). The charger's SDP answer is :func:`announced`, the rule of
:class:`~iso15118.transport.udp.SdpServer` (what the EV asked for when served, else what is served).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from harness.virtual.generations import ProtocolPlan
from iso15118.constants import SdpSecurity
from iso15118.errors import SecurityError
from iso15118.security.pki import load_pki
from iso15118.security.profiles import SECC_ANCHORS, VEHICLE_ANCHORS, Entity
from iso15118.security.tls import HandshakeInfo, TlsConfig, TlsMode, evcc_context
from iso15118.session.connection import Role
from iso15118.transport.acceptor import Acceptor as OnePortAcceptor
from iso15118.transport.evcc_client import Attempt, plan_attempts
from iso15118.transport.generations import Standard, Transport
from iso15118.transport.handshakes import HandshakeGate
from iso15118.transport.link import Link
from iso15118.transport.negotiation import ConnectionTerms
from iso15118.transport.policy import TransportPolicy
from iso15118.transport.tcp import TcpLink, peer_name

__all__ = ["Acceptor", "Connected", "DeferredLink", "Identities", "announced", "connect_truck", "make_identities"]

_TRANSPORT_NAMES: Final = {Transport.TLS13: "TLS 1.3", Transport.TLS12: "TLS 1.2", Transport.TCP: "plain TCP"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Identities:
    """Both sides' transport policies (strict) and the protocols they are for."""

    plan: ProtocolPlan
    secc: TransportPolicy
    """The charger: the -20 TLS 1.3 identity when it speaks -20, the -2 TLS 1.2 one when it speaks -2, plain TCP
    when it speaks -2 or DIN."""
    evcc: TransportPolicy
    """The truck: its vehicle certificate for TLS 1.3, the -2 V2G root for TLS 1.2."""

    def served(self) -> tuple[SdpSecurity, ...]:
        """What the charger's SDP server may announce, preferred first."""
        tls = self.secc.tls is not None or self.secc.tls_iso2 is not None
        plain = self.secc.serves_plain_tcp(self.plan.charger_namespaces)
        return (*((SdpSecurity.TLS,) if tls else ()), *((SdpSecurity.NONE,) if plain else ()))

    def terms(self, role: Role, transport: Transport) -> ConnectionTerms:
        """One side's terms for a connection over ``transport`` (what SupportedAppProtocol may select)."""
        return ConnectionTerms(transport=transport, policy=self.evcc if role is Role.EVCC else self.secc)


def make_identities(plan: ProtocolPlan, pki_dir: Path, iso2_pki_dir: Path | None, keylog: Path | None) -> Identities:
    """The identities of a run: the -20 PKI in ``pki_dir``; the -2 PKI in ``iso2_pki_dir`` (needed when either
    side speaks -2). The truck writes its TLS secrets to ``keylog`` (both generations)."""
    layout = load_pki(pki_dir)
    secc_leaf, vehicle = layout[Entity.SECC_LEAF], layout[Entity.VEHICLE_LEAF]
    secc_tls = TlsConfig(
        certificate_chain=secc_leaf.chain_pem,
        private_key=secc_leaf.key_pem,
        trust_roots=tuple(layout.roots(*VEHICLE_ANCHORS)),
    )
    evcc_tls = TlsConfig(
        certificate_chain=vehicle.chain_pem,
        private_key=vehicle.key_pem,
        trust_roots=tuple(layout.roots(*SECC_ANCHORS)),
        keylog_filename=keylog,
    )
    secc_iso2 = evcc_iso2 = None
    if iso2_pki_dir is not None:
        iso2 = load_pki(iso2_pki_dir)
        leaf = iso2[Entity.SECC_LEAF]
        # -2 TLS authenticates the SECC only; the EV trusts the -2 V2G root.
        secc_iso2 = TlsConfig(certificate_chain=leaf.chain_pem, private_key=leaf.key_pem, mode=TlsMode.ISO2)
        evcc_iso2 = TlsConfig(trust_roots=tuple(iso2.roots(Entity.V2G_ROOT)), mode=TlsMode.ISO2, keylog_filename=keylog)
    charger = set(plan.charger)
    secc = TransportPolicy(
        tls=secc_tls if Standard.ISO20 in charger else None,
        tls_iso2=secc_iso2 if Standard.ISO2 in charger else None,
    )
    evcc = TransportPolicy(tls=evcc_tls, tls_iso2=evcc_iso2)
    secc.check(Role.SECC, plan.charger_namespaces)
    evcc.check(Role.EVCC, plan.ev_namespaces)
    return Identities(plan=plan, secc=secc, evcc=evcc)


def announced(asked: SdpSecurity, served: tuple[SdpSecurity, ...]) -> SdpSecurity:
    """The charger's SDP answer: what the truck asked for when it serves that, else the first it serves."""
    return asked if asked in served else served[0]


class Acceptor:
    """The charger's listening side: every accepted connection's link (or why it failed), queued."""

    def __init__(self, identities: Identities, timeout: float) -> None:
        self._timeout = timeout
        self._gate = HandshakeGate(limit=4, backlog=4, wait_s=timeout, threads=0)
        self._inner = OnePortAcceptor(
            identities.secc,
            identities.plan.charger_namespaces,
            self._gate,
            handshake_timeout=timeout,
            clock=time.time,
        )
        self._inner.open()
        self._accepted: asyncio.Queue[TcpLink | BaseException] = asyncio.Queue()
        self._server: asyncio.Server | None = None

    def describe(self) -> str:
        """What the charger serves, e.g. ``TLS 1.3 (ISO 15118-20), plain TCP``."""
        return self._inner.describe()

    async def start(self, listener: socket.socket) -> None:
        """Serve connections on ``listener`` (a listening socket, possibly made in another namespace)."""
        self._server = await asyncio.start_server(self._on_connection, sock=listener)

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        refused = self._gate.reserve() if self._inner.tls else None
        try:
            if refused is not None:
                writer.transport.abort()
                raise SecurityError(f"connection refused: {refused}")
            link = await self._inner.accept(reader, writer, peer_name(writer))
        except Exception as exc:  # handed to the session that is waiting for this connection
            self._accepted.put_nowait(exc)
            return
        self._accepted.put_nowait(link)

    async def next(self) -> TcpLink:
        """The next connection that was set up; its error (or OSError after the timeout) otherwise."""
        try:
            got = await asyncio.wait_for(self._accepted.get(), self._timeout)
        except TimeoutError:
            raise OSError(f"the SECC accepted no connection within {self._timeout:g} s") from None
        if isinstance(got, BaseException):
            raise got
        return got

    async def discard(self) -> None:
        """Drop the charger's side of a connection attempt the truck gave up on (its error, or its link)."""
        with contextlib.suppress(Exception):
            link = await self.next()
            await link.close()

    async def close(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self._gate.close()


class DeferredLink:
    """The charger's end of a plain TCP connection, before the charger has it: the one-port acceptor tells TLS from
    plain V2GTP by what the connection opens with, i.e. only once the truck has sent SupportedAppProtocolReq."""

    def __init__(self, pending: asyncio.Task[TcpLink], peer: str) -> None:
        self._pending = pending
        self._peer = peer

    @property
    def peer(self) -> str:
        """The truck, as the charger will see it."""
        return self._peer

    async def send(self, data: bytes) -> None:
        """Send once the connection is the charger's."""
        await (await self._pending).send(data)

    async def receive(self) -> bytes:
        """Receive once the connection is the charger's (raises why it could not be set up)."""
        return await (await self._pending).receive()

    async def close(self) -> None:
        """Close the connection, or give up waiting for it."""
        if not self._pending.done():
            self._pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pending
            return
        if self._pending.cancelled() or self._pending.exception() is not None:
            return
        await self._pending.result().close()


@dataclass(frozen=True, slots=True, kw_only=True)
class Connected:
    """The truck's connection: its link, its view of the TLS handshake, the transport, and failed attempts."""

    link: Link
    tls: HandshakeInfo | None
    transport: Transport
    fallbacks: tuple[str, ...] = ()


Opener = Callable[[Attempt, ssl.SSLContext | None], Awaitable[tuple[Link, HandshakeInfo | None]]]
"""Opens one attempt's connection (a fresh TCP connection, TLS with the context unless None)."""


async def connect_truck(
    identities: Identities, security: SdpSecurity, acceptor: Acceptor, opener: Opener
) -> tuple[Connected, Link]:
    """The truck's attempts for the announced ``security``, in order, until one is set up; returns both ends.

    A TLS attempt the charger refuses (a TLS 1.3 hello to a -2 charger) is noted and the next one tried, as the
    EVCC runtime does; the charger's side of it is dropped. TCP failures (OSError) end the set-up. Over plain TCP
    the charger's end is a :class:`DeferredLink`."""
    attempts = plan_attempts(security, identities.plan.ev_namespaces, identities.evcc)
    if not attempts:
        raise SecurityError(f"the truck has no way to connect to a charger announcing {security.name} in SDP")
    fallbacks: list[str] = []
    for number, attempt in enumerate(attempts, start=1):
        context = evcc_context(attempt.tls) if attempt.tls is not None else None
        try:
            link, info = await opener(attempt, context)
        except SecurityError as exc:
            await acceptor.discard()
            if number == len(attempts):
                raise
            fallbacks.append(f"{_TRANSPORT_NAMES[attempt.transport]} failed: {exc}")
            continue
        secc: Link
        if attempt.transport is Transport.TCP:
            secc = DeferredLink(asyncio.create_task(acceptor.next()), peer="the truck (plain TCP)")
        else:
            try:
                secc = await acceptor.next()
            except BaseException:
                await link.close()
                raise
        return Connected(link=link, tls=info, transport=attempt.transport, fallbacks=tuple(fallbacks)), secc
    raise AssertionError("unreachable: the last attempt raises")  # pragma: no cover
