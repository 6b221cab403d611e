"""How the SECC turns an accepted TCP connection into a link: which TLS identity, if any, and within which limits.

One port serves ISO 15118-20 over TLS 1.3 (the policy's ``tls``: secp521r1/Ed448), ISO 15118-2 over TLS 1.2
(``tls_iso2``: secp256r1) and plain TCP when the SECC speaks a generation that runs over it (DIN 70121, -2):
the :class:`Acceptor` reads what the connection opens with (:func:`~iso15118.transport.tlspeek.peek_first_flight`)
and picks the context from it -- a ClientHello offering TLS 1.3 gets the -20 identity, one offering TLS 1.2 only
the -2 identity, plain V2GTP no TLS -- then runs the handshake within the :class:`HandshakeGate`'s limits and
checks the peer's certificate with the rules of the chosen profile. A combination the SECC does not serve (plain
TCP to a TLS-only SECC, TLS to a plain-only one) is refused with a :class:`SecurityError` naming both.

Why not two ports: SDP announces one port per answer, and the -20 standard lets an SECC accept TLS 1.2 for -2
beside TLS 1.3 on its listener [V2G20-2359]. Why not one OpenSSL context for both versions: a context has one
certificate chain, and -20 and -2 need different ones (P-521/Ed448 versus P-256).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterable

from iso15118.errors import SecurityError
from iso15118.security.tls import TlsMode, secc_context
from iso15118.transport.handshakes import HandshakeGate
from iso15118.transport.policy import TransportPolicy
from iso15118.transport.tcp import TcpLink, accept_connection
from iso15118.transport.tlspeek import FirstFlight, peek_first_flight

__all__ = ["Acceptor"]


class Acceptor:
    """Opens the SECC's connections (see the module docstring); :meth:`open` builds the TLS contexts."""

    def __init__(
        self,
        policy: TransportPolicy,
        protocols: Iterable[str],
        gate: HandshakeGate,
        *,
        handshake_timeout: float,
        clock: Callable[[], float],
    ) -> None:
        self.policy = policy
        self.gate = gate
        self.handshake_timeout = handshake_timeout
        self.clock = clock
        self.plain = policy.serves_plain_tcp(protocols)
        """Plain TCP connections are served."""
        self.context: ssl.SSLContext | None = None
        """ISO 15118-20's TLS 1.3 context (strict, or tolerant with TLS 1.2 too)."""
        self.context_iso2: ssl.SSLContext | None = None
        """ISO 15118-2's TLS 1.2 context."""

    def open(self) -> None:
        """Build the TLS contexts (raises :class:`~iso15118.errors.ConfigError` on a bad identity) and start the
        handshake threads."""
        tls = self.policy.tls_config()
        self.context = secc_context(tls) if tls is not None else None
        self.context_iso2 = secc_context(self.policy.tls_iso2) if self.policy.tls_iso2 is not None else None
        if self.tls:
            self.gate.open()

    @property
    def tls(self) -> bool:
        """Some TLS is served."""
        return self.context is not None or self.context_iso2 is not None

    def describe(self) -> str:
        """What is served, e.g. ``TLS 1.3 (ISO 15118-20), plain TCP``."""
        kinds = ["TLS 1.3 (ISO 15118-20)"] if self.context is not None else []
        kinds += ["TLS 1.2 (ISO 15118-2)"] if self.context_iso2 is not None else []
        kinds += ["plain TCP"] if self.plain else []
        return ", ".join(kinds)

    def choose(self, flight: FirstFlight, name: str) -> tuple[ssl.SSLContext | None, TlsMode]:
        """The context (None: plain TCP) and the peer check's mode for what the connection opened with."""
        if not flight.tls:
            if not self.plain:
                raise SecurityError(
                    f"TLS handshake failed: {name} opened plain TCP, this SECC serves {self.describe()} only"
                )
            return None, self.policy.tls_mode
        iso20 = (self.context, self.policy.tls_mode)
        iso2 = (self.context_iso2, TlsMode.ISO2)
        # TLS 1.3 offered: an ISO 15118-20 EV [V2G20-2365]; TLS 1.2 only: an ISO 15118-2 EV. A hello we could not
        # read goes to the -20 context, whose alert tells the peer what was wrong.
        order = (iso20, iso2) if flight.offers_tls13 or not flight.versions else (iso2, iso20)
        for context, mode in order:
            if context is not None:
                return context, mode
        raise SecurityError(f"{name} opened a TLS handshake; this SECC serves plain TCP only")

    async def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str) -> TcpLink:
        """The link of an accepted connection (after :meth:`HandshakeGate.reserve` when :attr:`tls`); raises
        :class:`SecurityError` (the connection is closed) when it cannot be served."""
        if self.tls and not await self.gate.enter():
            writer.transport.abort()
            raise SecurityError(
                f"TLS handshake with {name} refused: no place within {self.gate.wait_s:g} s "
                f"({self.gate.running} handshakes in progress, {self.gate.waiting} waiting)"
            )
        try:
            try:
                flight = await peek_first_flight(reader, peer=name, timeout=self.handshake_timeout)
                context, mode = self.choose(flight, name)
            except SecurityError:
                writer.transport.abort()
                raise
            return await accept_connection(
                reader,
                writer,
                context,
                mode=mode,
                handshake_timeout=self.handshake_timeout,
                clock=self.clock,
                step=self.gate.step,
                prefix=flight.data,
            )
        finally:
            if self.tls:
                self.gate.leave()
