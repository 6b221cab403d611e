"""The EVCC runtime: optional SLAC, SDP (or an explicit target), TCP, TLS 1.3, then one session.

:func:`run_evcc` finds the SECC on an interface with SDP [V2G20-139..161] (or connects to a target given as
``[ADDR%IF]:PORT``), connects, runs the TLS handshake (presenting the vehicle certificate when configured),
checks the SECC's certificate against the -20 profile, and runs
:func:`~iso15118.transport.runner.run_evcc_session`. With ``slac=True`` it first matches with the EVSE over
the interface (ISO 15118-3). TCP problems raise :class:`OSError`, TLS problems
:class:`~iso15118.errors.SecurityError` -- including a refusal of the vehicle certificate that TLS 1.3
only delivers after the handshake, when the session's first read fails.
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
from iso15118.security.tls import HandshakeInfo, evcc_context
from iso15118.session.connection import Role, SessionConfig
from iso15118.session.events import EndReason
from iso15118.transport.driver import Clock, Observer, SessionOutcome
from iso15118.transport.policy import TransportPolicy
from iso15118.transport.runner import run_evcc_session
from iso15118.transport.tcp import Endpoint, connect, make_endpoint, parse_endpoint
from iso15118.transport.udp import SDP_MAX_TRIES, SDP_TIMEOUT_PER_TRY, SdpResult, discover_secc

if TYPE_CHECKING:
    from iso15118.transport.slac_link import SlacResult

__all__ = ["EvccClientConfig", "EvccRun", "run_evcc"]

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

    @property
    def ok(self) -> bool:
        """True when the session ended regularly."""
        return self.outcome.ok


async def _discover(config: EvccClientConfig) -> tuple[Endpoint, SdpResult]:
    if config.iface is None:
        raise ConfigError("the EVCC needs an interface (--iface) for SDP, or a target [ADDR%IF]:PORT")
    wanted = SdpSecurity.TLS if config.policy.tls is not None else SdpSecurity.NONE
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
    if response.security is not wanted:
        if wanted is SdpSecurity.NONE:
            raise SecurityError("the SECC announced TLS in SDP, but this EVCC has no TLS configuration (--pki)")
        if not config.policy.tolerant:
            raise SecurityError(
                "the SECC announced no transport security in SDP; ISO 15118-20 requires TLS 1.3 [V2G20-1264] "
                "(tolerant mode would connect without TLS)"
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
    on_start: Callable[[Any], None] | None = None,
) -> EvccRun:
    """SLAC (optional), SDP or the target, TCP, TLS, check the SECC, then run one session.

    ``context`` reuses a TLS context made by :func:`~iso15118.security.tls.evcc_context` from the policy's
    TLS configuration (many sessions of one process); by default one is made per call. ``on_start`` gets the
    session's handle (its ``request_stop(why)`` coroutine ends the session cleanly).
    """
    policy = config.policy
    policy.check(Role.EVCC)
    tls = policy.tls_config()
    if tls is None:
        context = None
    elif context is None:
        context = evcc_context(tls)
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
    sdp_result = None
    if config.target is not None:
        endpoint = parse_endpoint(config.target, iface=config.iface)
    else:
        endpoint, sdp_result = await _discover(config)
        if sdp_result.response.security is SdpSecurity.NONE and context is not None:
            log.warning("EVCC: tolerant mode deviation plain-tcp: the SECC offers no TLS")
            context = None
    started_at = clock()
    link = await connect(endpoint, context, mode=policy.tls_mode, timeout=config.connect_timeout_s, clock=clock)
    if link.tls is not None:
        log.info("EVCC: TLS with %s: %s", endpoint, link.tls.summary())
    outcome = await run_evcc_session(
        link,
        controller,
        evcc,
        session_config=policy.session_config(session_config),
        clock=clock,
        observers=observers,
        on_start=on_start,
    )
    refused = link.failure()
    if refused is not None and outcome.ended.reason is EndReason.CONNECTION_LOST:
        raise SecurityError(f"the SECC {endpoint} ended the TLS connection: {refused}")
    return EvccRun(
        endpoint=endpoint, tls=link.tls, outcome=outcome, started_at=started_at, sdp=sdp_result, slac=slac_result
    )
