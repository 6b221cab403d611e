"""The EVCC runtime: optional SLAC, SDP (or an explicit target), TCP, TLS as the generation needs, one session.

:func:`run_evcc` finds the SECC on an interface with SDP [V2G20-139..161] (or connects to a target given as
``[ADDR%IF]:PORT``), connects, runs the TLS handshake (presenting the vehicle certificate when configured),
checks the SECC's certificate against the profile of the generation it is for, and runs
:func:`~iso15118.transport.runner.run_evcc_session`, which offers only the protocols the connection's transport
is valid for.

Security per generation: the SDP request asks for TLS when the most preferred protocol needs it (ISO 15118-20;
ISO 15118-2 with Plug & Charge), else for none (DIN 70121; -2 with EIM) -- :func:`sdp_security`, or
``EvccClientConfig.security``. What the SECC answers decides the connection attempts (:func:`plan_attempts`):
with TLS, TLS 1.3 for -20 (the policy's ``tls``) and then, should that handshake fail, TLS 1.2 for -2
(``tls_iso2``); without TLS, plain TCP for the protocols valid over it (-2, DIN; -20 only in tolerant mode). A
target given without SDP is tried the same way, with plain TCP last. Each fallback is logged and ends up in the
session's negotiation record, so a -20 session is never replaced by another generation silently.
When SupportedAppProtocol over TLS finds nothing in common and a protocol withheld from that connection runs over
plain TCP (an EV offering DIN 70121 at a DIN-only charger that answered TLS in SDP), the EVCC asks SDP for plain
TCP (or, with a target, connects to it without TLS) and runs the session there; the reason is a fallback too.

With ``slac=True`` it first matches with the EVSE over the interface (ISO 15118-3). TCP problems raise
:class:`OSError`, TLS problems :class:`~iso15118.errors.SecurityError` -- including a refusal of the vehicle
certificate that TLS 1.3 only delivers after the handshake, when the session's first read fails.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iso15118.config import EvccConfig
from iso15118.constants import SDP_MULTICAST_ADDRESS, SDP_SERVER_PORT, SdpSecurity
from iso15118.controller import EVController
from iso15118.errors import ConfigError, SecurityError
from iso15118.security.tls import HandshakeInfo, TlsConfig, TlsMode, evcc_context
from iso15118.session.connection import Role, SessionConfig
from iso15118.session.events import EndReason
from iso15118.transport.driver import Clock, Observer, SessionOutcome
from iso15118.transport.generations import Standard, Transport, describe_namespace, standard_of, transport_of
from iso15118.transport.negotiation import ConnectionTerms
from iso15118.transport.policy import TransportPolicy
from iso15118.transport.runner import run_evcc_session
from iso15118.transport.tcp import Endpoint, TcpLink, connect, make_endpoint, parse_endpoint
from iso15118.transport.udp import SDP_MAX_TRIES, SDP_TIMEOUT_PER_TRY, SdpResult, discover_secc

if TYPE_CHECKING:
    from iso15118.transport.slac_link import SlacResult

__all__ = ["Attempt", "EvccClientConfig", "EvccRun", "plan_attempts", "run_evcc", "sdp_security", "transport_order"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class EvccClientConfig:
    """How the EVCC finds and reaches the SECC.

    ``target`` (``[ADDR%IF]:PORT``) skips SDP; otherwise SDP runs on ``iface``, sending to
    ``sdp_destination`` (the all-nodes group; tests may use a unicast address) on ``sdp_port``.
    """

    policy: TransportPolicy
    iface: str | None = None
    target: str | None = None
    slac: bool = False
    slac_timeout_s: float | None = None
    modem_standin: bool = False
    """SLAC: play the PLC modem in-process (links without modems, e.g. veth)."""
    sdp_tries: int = SDP_MAX_TRIES
    sdp_timeout_per_try_s: float = SDP_TIMEOUT_PER_TRY
    sdp_destination: str = SDP_MULTICAST_ADDRESS
    sdp_port: int = SDP_SERVER_PORT
    connect_timeout_s: float = 10.0
    security: SdpSecurity | None = None
    """What the SDP request asks for; None: from the most preferred protocol (:func:`sdp_security`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EvccRun:
    """One EVCC run: where it connected, the TLS handshake, the session's outcome, SDP and SLAC results."""

    endpoint: Endpoint
    tls: HandshakeInfo | None
    outcome: SessionOutcome
    started_at: float
    """When the TCP connect began (clock seconds)."""
    sdp: SdpResult | None = None
    slac: SlacResult | None = None
    fallbacks: tuple[str, ...] = ()
    """Connection attempts that failed before this one (a TLS 1.3 handshake a -2 charger refused...), why."""

    @property
    def ok(self) -> bool:
        """True when the session ended regularly."""
        return self.outcome.ok


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """One way of connecting: the transport, and the TLS configuration and peer-check mode for it."""

    transport: Transport
    tls: TlsConfig | None = None
    mode: TlsMode = TlsMode.STRICT

    def describe(self) -> str:
        return {Transport.TLS13: "TLS 1.3 (ISO 15118-20)", Transport.TLS12: "TLS 1.2 (ISO 15118-2)"}.get(
            self.transport, "plain TCP"
        )


def sdp_security(protocols: tuple[str, ...], authorization: str, policy: TransportPolicy) -> SdpSecurity:
    """What the SDP request asks for: TLS when the most preferred protocol needs it -- ISO 15118-20 [V2G20-1264],
    ISO 15118-2 with Plug & Charge (with a -2 TLS configuration) -- else none (DIN 70121, -2 with EIM, and -20
    in tolerant mode without a TLS configuration)."""
    first = standard_of(protocols[0]) if protocols else None
    if first is Standard.ISO20 and policy.tls is not None:
        return SdpSecurity.TLS
    if first is Standard.ISO2 and authorization == "PnC" and policy.tls_iso2 is not None:
        return SdpSecurity.TLS
    return SdpSecurity.NONE


def transport_order(
    announced: SdpSecurity, standards: Sequence[Standard], policy: TransportPolicy, *, plain_last: bool = False
) -> list[Transport]:
    """The transports to try, in order, for an SECC that announced ``announced``, offering ``standards`` (the EV's
    priority): TLS 1.3 when -20 is offered and configured, TLS 1.2 when -2 is, in that priority; plain TCP when
    the SECC has no TLS and some offered generation is valid over it, or (``plain_last``: a target without SDP)
    after the TLS attempts when -2 or DIN is offered."""
    offered = set(standards)
    order: list[Transport] = []
    if announced is SdpSecurity.TLS:
        # The EV's priority decides which TLS comes first: an EV preferring -2 to -20 tries TLS 1.2 first.
        configured = {Standard.ISO20: (Transport.TLS13, policy.tls), Standard.ISO2: (Transport.TLS12, policy.tls_iso2)}
        for standard in dict.fromkeys(standards):
            transport, tls = configured.get(standard, (None, None))
            if transport is not None and tls is not None:
                order.append(transport)
    if announced is SdpSecurity.NONE:
        if any(policy.admits(s, Transport.TCP).allowed for s in offered):
            order.append(Transport.TCP)
    elif plain_last and offered & {Standard.ISO2, Standard.DIN}:
        order.append(Transport.TCP)  # a generation that runs over plain TCP in strict mode
    return order


def plan_attempts(
    announced: SdpSecurity, protocols: tuple[str, ...], policy: TransportPolicy, *, plain_last: bool = False
) -> list[Attempt]:
    """The connection attempts of :func:`transport_order` for the offered ``protocols``, each with its TLS
    configuration and peer-check mode."""
    standards = [s for s in map(standard_of, protocols) if s is not None]
    return [_attempt(t, policy) for t in transport_order(announced, standards, policy, plain_last=plain_last)]


def _attempt(transport: Transport, policy: TransportPolicy) -> Attempt:
    if transport is Transport.TLS13:
        return Attempt(transport=transport, tls=policy.tls_config(), mode=policy.tls_mode)
    if transport is Transport.TLS12:
        return Attempt(transport=transport, tls=policy.tls_iso2, mode=TlsMode.ISO2)
    return Attempt(transport=transport)


def _no_attempt(announced: SdpSecurity, wanted: SdpSecurity, tolerant: bool) -> SecurityError:
    if announced is SdpSecurity.NONE:
        return SecurityError(
            "the SECC announced no transport security in SDP; ISO 15118-20 requires TLS 1.3 [V2G20-1264] "
            + ("and nothing else is offered" if tolerant else "(tolerant mode would connect without TLS)")
        )
    if wanted is SdpSecurity.NONE:
        return SecurityError("the SECC announced TLS in SDP, but this EVCC has no TLS configuration (--pki)")
    return SecurityError("the SECC announced TLS, but this EVCC has no TLS configuration for what it offers")


async def _discover(config: EvccClientConfig, wanted: SdpSecurity) -> tuple[Endpoint, SdpResult]:
    if config.iface is None:
        raise ConfigError("the EVCC needs an interface (--iface) for SDP, or a target [ADDR%IF]:PORT")
    found = await discover_secc(
        config.iface,
        security=wanted,
        timeout_per_try=config.sdp_timeout_per_try_s,
        max_tries=config.sdp_tries,
        destination=config.sdp_destination,
        port=config.sdp_port,
    )
    response = found.response
    log.info(
        "EVCC: SDP found %s port %d (%s) after %d tries",
        response.address,
        response.port,
        response.security.name,
        found.tries,
    )
    endpoint = make_endpoint(str(response.address), response.port, iface=config.iface)
    return endpoint, found


async def run_evcc(
    config: EvccClientConfig,
    controller: EVController,
    evcc: EvccConfig | None = None,
    *,
    session_config: SessionConfig | None = None,
    observers: Sequence[Observer] = (),
    clock: Clock = time.time,
    context: ssl.SSLContext | None = None,
    context_iso2: ssl.SSLContext | None = None,
    on_start: Callable[[Any], None] | None = None,
) -> EvccRun:
    """SLAC (optional), SDP or the target, TCP, TLS, check the SECC, then run one session.

    ``context`` / ``context_iso2`` reuse TLS contexts made by :func:`~iso15118.security.tls.evcc_context` from the
    policy's ``tls`` / ``tls_iso2`` (many sessions of one process); by default they are made when needed.
    ``on_start`` receives the session's handle once connected
    (:func:`~iso15118.transport.runner.run_evcc_session`: its ``request_stop``).
    """
    evcc = evcc or EvccConfig()
    protocols = evcc.offered_protocols
    policy = config.policy
    policy.check(Role.EVCC, protocols)
    policy.log_deviations(Role.EVCC)
    slac_result = None
    if config.slac:
        if config.iface is None:
            raise ConfigError("SLAC needs the interface (--iface)")
        from iso15118.transport.slac_link import run_slac

        slac_result = await run_slac(
            config.iface, "ev", modem_standin=config.modem_standin, timeout=config.slac_timeout_s
        )
        log.info("EVCC: SLAC matched in %.3f s", slac_result.duration)
    # SdpSecurity.TLS is 0x00: test for None, not for truth.
    wanted = config.security if config.security is not None else sdp_security(protocols, evcc.authorization, policy)
    sdp_result = None
    if config.target is not None:
        endpoint = parse_endpoint(config.target, iface=config.iface)
        attempts = plan_attempts(wanted, protocols, policy, plain_last=True)
    else:
        endpoint, sdp_result = await _discover(config, wanted)
        attempts = plan_attempts(sdp_result.response.security, protocols, policy)
    if not attempts:
        raise _no_attempt(sdp_result.response.security if sdp_result else wanted, wanted, policy.tolerant)
    contexts = {Transport.TLS13: context, Transport.TLS12: context_iso2}
    fallbacks: list[str] = []
    link, started_at = await _connect_any(config, endpoint, attempts, contexts, clock, fallbacks)

    async def session(link: TcpLink) -> SessionOutcome:
        terms = ConnectionTerms(transport=transport_of(link.tls), policy=policy)
        outcome = await run_evcc_session(
            link,
            controller,
            evcc,
            session_config=policy.session_config(session_config),
            clock=clock,
            observers=observers,
            on_start=on_start,
            terms=terms,
            earlier=fallbacks,
        )
        refused = link.failure()
        if refused is not None and outcome.ended.reason is EndReason.CONNECTION_LOST:
            raise SecurityError(f"the SECC {endpoint} ended the TLS connection: {refused}")
        return outcome

    outcome = await session(link)
    why = _plain_tcp_would_help(outcome, policy)
    if why is not None:
        # A protocol withheld from the TLS connection runs over plain TCP: ask for it, as an EV that offers DIN
        # 70121 must to reach a DIN-only charger that nevertheless answers TLS in SDP (Josev's SECC does).
        fallbacks.append(why)
        if config.target is None:
            log.warning("EVCC: %s; asking SDP for plain TCP", why)
            endpoint, sdp_result = await _discover(config, SdpSecurity.NONE)
        else:
            log.warning("EVCC: %s; trying plain TCP", why)
        if sdp_result is None or sdp_result.response.security is SdpSecurity.NONE:
            started_at = clock()
            link = await _connect(config, endpoint, Attempt(transport=Transport.TCP), contexts, clock)
            outcome = await session(link)
    return EvccRun(
        endpoint=endpoint,
        tls=link.tls,
        outcome=outcome,
        started_at=started_at,
        sdp=sdp_result,
        slac=slac_result,
        fallbacks=tuple(fallbacks),
    )


def _plain_tcp_would_help(outcome: SessionOutcome, policy: TransportPolicy) -> str | None:
    """Why a plain TCP connection should follow a TLS one: SupportedAppProtocol found nothing in common and a
    protocol was withheld from the TLS connection that plain TCP admits (DIN 70121; -2 withheld from TLS 1.3).
    None: no such case."""
    record = outcome.negotiation
    if outcome.ended.reason is not EndReason.NO_PROTOCOL or record is None or record.transport in (None, Transport.TCP):
        return None
    over_tcp = [ns for ns, _ in record.withheld if policy.admits(standard_of(ns), Transport.TCP).allowed]
    if not over_tcp:
        return None
    names = ", ".join(describe_namespace(ns) for ns in over_tcp)
    return (
        f"SupportedAppProtocol over {record.transport} found no common protocol ({record.response_code}); "
        f"{names} can run over plain TCP"
    )


async def _connect_any(
    config: EvccClientConfig,
    endpoint: Endpoint,
    attempts: Sequence[Attempt],
    contexts: dict[Transport, ssl.SSLContext | None],
    clock: Clock,
    fallbacks: list[str],
) -> tuple[TcpLink, float]:
    """The first of ``attempts`` that connects, and when its TCP connect began; each failure before it is
    logged and added to ``fallbacks``."""
    for number, attempt in enumerate(attempts, start=1):
        started_at = clock()
        try:
            return await _connect(config, endpoint, attempt, contexts, clock), started_at
        except SecurityError as exc:
            if number == len(attempts):
                raise
            fallbacks.append(f"{attempt.describe()} failed: {exc}")
            log.warning("EVCC: %s; trying %s", fallbacks[-1], attempts[number].describe())
    raise AssertionError("no connection attempt")  # plan_attempts() returned none: refused before


async def _connect(
    config: EvccClientConfig,
    endpoint: Endpoint,
    attempt: Attempt,
    contexts: dict[Transport, ssl.SSLContext | None],
    clock: Clock,
) -> TcpLink:
    context = None
    if attempt.tls is not None:
        context = contexts[attempt.transport] or evcc_context(attempt.tls)
        contexts[attempt.transport] = context
    link = await connect(endpoint, context, mode=attempt.mode, timeout=config.connect_timeout_s, clock=clock)
    if link.tls is not None:
        log.info("EVCC: TLS with %s: %s", endpoint, link.tls.summary())
    return link
