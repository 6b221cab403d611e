"""The one runner that drives any protocol generation over a link, for either role.

It owns no protocol rule. It pumps bytes through the sans-I/O core (:class:`~iso15118.transport.driver.Pump`),
and when the core reports an exchange it asks the negotiated generation's pure decisions
(:class:`~iso15118.decisions.SeccLogic` / :class:`~iso15118.decisions.EvccLogic`, found through
:mod:`iso15118.profiles`) what to answer or send next. Decisions that need the application are fed through the
input table below, which maps each :class:`~iso15118.decisions.Input` to one controller call; effects (reports,
paused sessions, security warnings) are carried out once the response is decided, before it is sent.

The EVCC's scheduled requests (the next charge-loop request, a repeat after ``Ongoing``) are deadlines the pump
waits for beside the core's own; nothing here sleeps.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any, Final

from iso15118.certificates import CertificateAnswer, CertificateProvider, CertificateStatus
from iso15118.config import EvccConfig, SeccConfig
from iso15118.controller import DCEVSEController, EVController, EVSEController, SessionReport
from iso15118.decisions import (
    Answer,
    ApplyPower,
    Effect,
    EvccEnv,
    EvccLogic,
    Input,
    Inputs,
    Need,
    PeerIdentity,
    Report,
    SeccEnv,
    SeccLogic,
    Send,
    Step,
    StorePaused,
    Summary,
    TakePaused,
    Warn,
    settle,
)
from iso15118.errors import ConfigError
from iso15118.iso20.pnc import PncVerifier
from iso15118.profiles import OFFERS, evcc_logic, secc_logic, session_config
from iso15118.security.identity import certificate_identity
from iso15118.security.tls import HandshakeInfo
from iso15118.session.connection import Connection, Role, SessionConfig
from iso15118.session.events import (
    Event,
    RequestReceived,
    ResponseReceived,
    SessionEnded,
    SessionEstablished,
)
from iso15118.session.profile import Stream
from iso15118.session.sap import SAP, answer_sap, sap_request
from iso15118.session.selection import EnergyFamily
from iso15118.transport.driver import Clock, Observer, Pump, SessionOutcome
from iso15118.transport.link import Link
from iso15118.transport.peerlog import PeerLog
from iso15118.transport.store import SessionStore

__all__ = ["peer_identity", "run_evcc_session", "serve_secc_session"]

log = logging.getLogger(__name__)

_MAX_NEEDS: Final = len(Input) + 1
"""A decision asks each input at most once; more means a decision bug, reported as such."""

InputCall = Callable[[EVSEController, Any, float], Awaitable[Any]]


def _dc(controller: EVSEController) -> DCEVSEController:
    if not isinstance(controller, DCEVSEController):
        raise ConfigError(f"{type(controller).__name__} has no DC output (DCEVSEController) for a DC session")
    return controller


INPUT_CALLS: Final[dict[Input, InputCall]] = {
    Input.LIMITS: lambda c, arg, now: c.evse_limits(now),
    Input.AUTHORIZATION: lambda c, arg, now: c.authorize(arg[0], arg[1], now),
    Input.POWER_DELIVERY: lambda c, arg, now: c.power_delivery(arg, now),
    Input.LOOP_COMMAND: lambda c, arg, now: c.charge_loop(arg[0], arg[1], now),
    Input.METER: lambda c, arg, now: c.meter(now),
    Input.DC_LIMITS: lambda c, arg, now: _dc(c).dc_limits(now),
    Input.CABLE_CHECK: lambda c, arg, now: _dc(c).cable_check(now),
    Input.PRECHARGE: lambda c, arg, now: _dc(c).precharge(arg[0], arg[1], now),
    Input.DC_LOOP: lambda c, arg, now: _dc(c).dc_charge_loop(arg, now),
    Input.WELDING: lambda c, arg, now: _dc(c).welding_detection(now),
}
"""Every controller input a decision may need; PAUSED comes from the session store, CERTIFICATE from the certificate
provider (the controller when it is one, else the runner's ``certificates``), not from these calls."""

_NO_PROVIDER: Final = CertificateAnswer(
    status=CertificateStatus.UNAVAILABLE, detail="this SECC has no certificate provider"
)


def peer_identity(address: str, tls: HandshakeInfo | None) -> PeerIdentity:
    """Who is at the other end: the address, and the vehicle certificate's subject, CN and SHA-256 fingerprint."""
    if tls is None or tls.peer_certificate is None:
        return PeerIdentity(address=address, subject=tls.peer_subject if tls else None)
    identity = certificate_identity(tls.peer_certificate)
    return PeerIdentity(
        address=address, subject=identity.subject, fingerprint=identity.fingerprint, common_name=identity.common_name
    )


def _outcome(conn: Connection, ended: SessionEnded, summary: Summary, interrupted: str | None = None) -> SessionOutcome:
    negotiated = dict(summary.negotiated)
    namespace = conn.negotiated_namespace
    if namespace is not None:
        negotiated["protocol"] = namespace
        # A printable name beside the namespace (``DIN 70121``, ``ISO 15118-20``) for summary lines.
        negotiated["protocol_name"] = conn.config.profiles[namespace].name
    return SessionOutcome(
        ended=ended,
        session_id=conn.session_id,
        negotiated=negotiated,
        meter_readings=summary.meter,
        loops=summary.loops,
        failure=summary.failure,
        substitutions=summary.substitutions,
        notes=summary.notes,
        interrupted=interrupted,
    )


# ---- SECC -------------------------------------------------------------------------------------------------------
class _Secc:
    def __init__(
        self,
        pump: Pump,
        controller: EVSEController,
        config: SeccConfig,
        store: SessionStore,
        pnc: PncVerifier | None,
        random: Callable[[int], bytes],
        peer: PeerIdentity,
        certificates: CertificateProvider | None = None,
    ) -> None:
        self.pump = pump
        self.conn = pump.conn
        self.controller = controller
        self.config = config
        self.store = store
        self.pnc = pnc
        self.random = random
        self.peer = peer
        self.certificates = controller if isinstance(controller, CertificateProvider) else certificates
        self.dc_capable = isinstance(controller, DCEVSEController)
        self.logic: SeccLogic | None = None
        self.ctx: Any = None
        self.wrap: Callable[[SeccLogic], SeccLogic] | None = None
        self.peer_log: PeerLog | None = None
        self.interrupted: str | None = None

    def offers(self) -> list[Any]:
        """What this SECC can agree on in SupportedAppProtocol: configured, and DC only with a DC output."""
        found = []
        for namespace in self.config.protocols:
            offer = OFFERS.get(namespace)
            if offer is None:
                continue
            family_dc = self.conn.config.profiles[namespace].selection_for(namespace).family is EnergyFamily.DC
            if family_dc and not self.dc_capable:
                continue
            found.append(offer)
        return found

    async def handle(self, event: Event) -> None:
        if self.logic is None and self.conn.profile is not SAP:
            logic = secc_logic(self.conn.profile, self.config, self.pnc)
            self.logic = self.wrap(logic) if self.wrap is not None else logic
            self.ctx = self.logic.initial()
        if isinstance(event, SessionEstablished):
            await self.controller.report(SessionReport(event="session_established", detail=event.session_id.hex()))
        elif isinstance(event, SessionEnded):
            await self.controller.report(SessionReport(event="session_ended", detail=f"{event.reason}: {event.detail}"))
        if not isinstance(event, RequestReceived):
            return
        if self.conn.profile is SAP:
            response, _namespace = answer_sap(event.message, self.offers())
            await self.pump.send(response, stream=event.stream)
            return
        assert self.logic is not None
        answer = await self.decide(event)
        self.ctx = answer.ctx
        # Effects first: the controller hears "session_stop" before the send ends the session.
        for effect in answer.effects:
            await self.carry_out(effect)
        await self.pump.send(answer.response, stream=event.stream)

    async def decide(self, event: RequestReceived) -> Answer[Any]:
        logic = self.logic
        assert logic is not None
        kind = self.conn.kind_of(event.message)
        assert kind is not None
        entropy = self.random(32)

        def decide(inputs: Inputs) -> Answer[Any] | Need:
            now = self.pump.clock()
            env = SeccEnv(
                now=now,
                header=self.conn.header(now),
                session_id=self.conn.session_id,
                selection=self.conn.selection,
                inputs=inputs,
                peer=self.peer,
                entropy=entropy,
                dc_capable=self.dc_capable,
                stopping=self.interrupted is not None,
            )
            return logic.decide(kind, event.message, self.ctx, env)

        return await settle(decide, lambda need: self.gather(need, self.pump.clock()), rounds=_MAX_NEEDS)

    async def gather(self, need: Need, now: float) -> Any:
        if need.what is Input.PAUSED:
            return self.store.get(need.arg, now)
        if need.what is Input.CERTIFICATE:
            if self.certificates is None:
                return _NO_PROVIDER
            return await self.certificates.provide_certificate(need.arg, now)
        return await INPUT_CALLS[need.what](self.controller, need.arg, now)

    async def carry_out(self, effect: Effect) -> None:
        if isinstance(effect, Report):
            await self.controller.report(effect.report)
        elif isinstance(effect, StorePaused):
            self.store.pause(effect.session)
        elif isinstance(effect, TakePaused):
            self.store.take(effect.session_id)
        elif isinstance(effect, Warn):
            req = f" [{effect.requirement}]" if effect.requirement else ""
            if self.peer_log is not None:
                self.peer_log.warning(self.peer.address, "SECC %s: %s%s", self.peer.address, effect.text, req)
            else:
                log.warning("SECC %s: %s%s", self.peer.address, effect.text, req)

    def summary(self) -> Summary:
        return self.logic.summary(self.ctx) if self.logic is not None else Summary()

    async def request_stop(self, why: str) -> None:
        """The operator stops the charger: the EV is asked to terminate at its next charge-loop request."""
        self.interrupted = self.interrupted or why

    def abort(self, why: str) -> None:
        """Give up on the session now (the EV did not end it in time): it ends ``aborted`` -- observers and the
        journal see the end -- and the connection closes."""
        self.interrupted = self.interrupted or why
        self.pump.abort(why)


async def serve_secc_session(
    link: Link,
    controller: EVSEController,
    config: SeccConfig | None = None,
    *,
    store: SessionStore | None = None,
    pnc: PncVerifier | None = None,
    session_config: SessionConfig | None = None,
    clock: Clock = time.time,
    observers: Sequence[Observer] = (),
    random: Callable[[int], bytes] = os.urandom,
    peer: PeerIdentity | None = None,
    decisions: Callable[[SeccLogic], SeccLogic] | None = None,
    peer_log: PeerLog | None = None,
    on_start: Callable[[Any], None] | None = None,
    certificates: CertificateProvider | None = None,
) -> SessionOutcome:
    """Serve one connection as the SECC until the session ends and the connection closes.

    ``peer``: the TLS identity of the EV (paused sessions are bound to it); ``decisions`` wraps the negotiated
    generation's decisions (site rules of an application, fault injection in the conformance harness);
    ``peer_log`` rate-limits the security warnings per peer (the SECC server shares one across connections);
    ``on_start`` receives a handle whose ``request_stop(why)`` coroutine asks the EV to end the session (the
    next charge-loop response notifies Terminate); ``certificates`` answers the EV's certificate requests when the
    controller is no :class:`~iso15118.certificates.CertificateProvider` itself.
    """
    conn = Connection(Role.SECC, now=clock(), config=_with_profiles(session_config))
    pump = Pump(conn, link, clock=clock, observers=observers)
    store = store if store is not None else SessionStore()
    who = peer or PeerIdentity(address=link.peer)
    secc = _Secc(pump, controller, config or SeccConfig(), store, pnc, random, who, certificates)
    secc.wrap = decisions
    secc.peer_log = peer_log
    if on_start is not None:
        on_start(secc)
    ended = await pump.run(secc.handle)
    return _outcome(conn, ended, secc.summary(), secc.interrupted)


def _with_profiles(config: SessionConfig | None) -> SessionConfig:
    """``config`` (default: the standard's settings), speaking every generation this library implements unless
    it names its own profiles."""
    if config is not None and config.profiles:
        return config
    return session_config(config)


# ---- EVCC -------------------------------------------------------------------------------------------------------
class _Evcc:
    def __init__(self, pump: Pump, controller: EVController, config: EvccConfig) -> None:
        self.pump = pump
        self.conn = pump.conn
        self.controller = controller
        self.config = config
        self.logic: EvccLogic | None = None
        self.ctx: Any = None
        self.scheduled: list[tuple[float, int, Send]] = []
        self._order = 0
        self.stop_reason: str | None = None
        self.interrupted: str | None = None
        self._stop_pending = False

    async def env(self, now: float) -> EvccEnv:
        return EvccEnv(
            now=now,
            header=self.conn.header(now),
            session_id=self.conn.session_id,
            selection=self.conn.selection,
            ev=await self.controller.ev_state(now),
            state=self.conn.state,
        )

    async def start(self) -> None:
        offers = []
        for namespace in self.config.offered_protocols:
            if namespace not in OFFERS:
                raise ConfigError(f"this EVCC does not speak {namespace} (it speaks {', '.join(OFFERS)})")
            offers.append(OFFERS[namespace])
        await self.pump.send(sap_request(offers))

    async def handle(self, event: Event) -> None:
        if self.logic is None and self.conn.profile is not SAP:
            # ResponseReceived(SupportedAppProtocol) comes before ProtocolNegotiated: the profile already switched.
            self.logic = evcc_logic(self.conn.profile, self.config)
            self.ctx = self.logic.initial()
        if isinstance(event, SessionEstablished):
            await self.controller.report(SessionReport(event="session_established", detail=event.session_id.hex()))
            return
        if isinstance(event, SessionEnded):
            self.scheduled.clear()
            await self.controller.report(SessionReport(event="session_ended", detail=f"{event.reason}: {event.detail}"))
            return
        if not isinstance(event, ResponseReceived) or self.conn.ended is not None or self.logic is None:
            return
        now = self.pump.clock()
        env = await self.env(now)
        if self.conn.profile.kind_of(event.request) is None:  # the SupportedAppProtocol exchange
            step = self.logic.first(self.ctx, env)
        else:
            kind = self.conn.kind_of(event.message)
            assert kind is not None
            step = self.logic.after(kind, event.stream, event.message, event.request, self.ctx, env)
        if self._stop_pending and event.stream is Stream.MAIN and step.stop is None and self._established():
            self.ctx = step.ctx
            await self._apply_effects(step, now)
            self._stop_pending = False
            step = self.logic.stop(self.ctx, self.interrupted or "stop requested", await self.env(now))
        await self.apply(step, now)

    def _established(self) -> bool:
        """SessionSetup succeeded: from here on SessionStop is accepted [V2G20-2645] (the ID is no longer zero)."""
        return any(self.conn.session_id)

    async def _apply_effects(self, step: Step[Any], now: float) -> None:
        for effect in step.effects:
            if isinstance(effect, Report):
                await self.controller.report(effect.report)
            elif isinstance(effect, ApplyPower):
                await self.controller.apply_power(effect.target_w, now)

    async def apply(self, step: Step[Any], now: float) -> None:
        self.ctx = step.ctx
        await self._apply_effects(step, now)
        if step.stop is not None:
            self.stop_reason = self.stop_reason or step.stop
            await self.controller.report(SessionReport(event="stopping", detail=step.stop))
            self.scheduled.clear()
        for send in step.sends:
            if send.at is None or send.at <= now:
                await self.fire(send, now)
            else:
                self._order += 1
                self.scheduled.append((send.at, self._order, send))
        self.scheduled.sort(key=lambda item: item[:2])

    async def fire(self, send: Send, now: float, *, decided: bool = False) -> None:
        assert self.logic is not None
        if self.conn.ended is not None:
            return
        env = await self.env(now)
        if not decided:
            again = self.logic.due(send, self.ctx, env)
            if again is not None:
                self.ctx = again.ctx
                for s in again.sends:
                    await self.fire(s, now, decided=True)
                return
        message = self.logic.build(send.kind, send.stream, self.ctx, env)
        await self.pump.send(message, stream=send.stream)

    def wake_at(self) -> float | None:
        return self.scheduled[0][0] if self.scheduled else None

    async def on_wake(self, now: float) -> None:
        # Nothing outstanding: the stop replaces the due request.
        idle = self.conn.pending_request() is None
        if self._stop_pending and self.logic is not None and self._established() and idle:
            self._stop_pending = False
            self.scheduled.clear()
            why = self.interrupted or "stop requested"
            await self.apply(self.logic.stop(self.ctx, why, await self.env(now)), now)
            return
        while self.scheduled and self.scheduled[0][0] <= now and self.conn.ended is None:
            _at, _order, send = self.scheduled.pop(0)
            await self.fire(send, now)

    async def request_stop(self, why: str) -> None:
        """End the session the standard's way from where it is (a first SIGINT/SIGTERM).

        The stop is decided where the pump hands over control, never in the middle of its work (a response may be
        in and not yet handled while an observer writes it): at the next main-stream response, or at the next due
        request when nothing is outstanding. Before SessionSetup succeeded the session is set up first, since
        SessionStop is only accepted after it [V2G20-2645].
        """
        if self.interrupted is not None or self.conn.ended is not None:
            return
        self.interrupted = why
        self._stop_pending = True

    def summary(self) -> Summary:
        return self.logic.summary(self.ctx) if self.logic is not None else Summary()


async def run_evcc_session(
    link: Link,
    controller: EVController,
    config: EvccConfig | None = None,
    *,
    session_config: SessionConfig | None = None,
    clock: Clock = time.time,
    observers: Sequence[Observer] = (),
    on_start: Callable[[Any], None] | None = None,
) -> SessionOutcome:
    """Run one session as the EVCC over ``link`` (already connected: TCP, TLS or in memory).

    ``on_start`` receives a handle whose ``request_stop(why)`` coroutine ends the session cleanly (the CLI wires
    SIGINT/SIGTERM to it).
    """
    conn = Connection(Role.EVCC, now=clock(), config=_with_profiles(session_config))
    pump = Pump(conn, link, clock=clock, observers=observers)
    evcc = _Evcc(pump, controller, config or EvccConfig())
    if on_start is not None:
        on_start(evcc)
    ended = await pump.run(evcc.handle, start=evcc.start, wake_at=evcc.wake_at, on_wake=evcc.on_wake)
    summary = evcc.summary()
    if evcc.stop_reason is not None and summary.failure is None and evcc.interrupted is None:
        summary = replace(summary, failure=evcc.stop_reason)
    return _outcome(conn, ended, summary, evcc.interrupted)
