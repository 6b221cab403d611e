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
from collections.abc import Callable, Sequence
from dataclasses import replace
from enum import StrEnum
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
from iso15118.envelope.states import body_of
from iso15118.errors import ConfigError
from iso15118.profiles import Pnc, evcc_logic, secc_logic, session_config
from iso15118.quirks import Quirk, accepted_line, empty_evccid, refused_line
from iso15118.session.connection import Connection, Role, SessionConfig
from iso15118.session.events import (
    Event,
    RequestReceived,
    ResponseReceived,
    SessionEnded,
    SessionEstablished,
)
from iso15118.session.profile import Stream
from iso15118.session.sap import SAP, sap_request
from iso15118.transport.driver import Clock, Observer, Pump, SessionOutcome, outcome_of
from iso15118.transport.inputs import INPUT_CALLS, peer_identity
from iso15118.transport.link import Link
from iso15118.transport.negotiation import (
    ConnectionTerms,
    Negotiation,
    evcc_negotiation,
    evcc_offers,
    secc_negotiate,
)
from iso15118.transport.peerlog import PeerLog
from iso15118.transport.store import SessionStore

__all__ = ["INPUT_CALLS", "peer_identity", "run_evcc_session", "serve_secc_session"]

log = logging.getLogger(__name__)

_MAX_NEEDS: Final = len(Input) + 1
"""A decision asks each input at most once; more means a decision bug, reported as such."""

_NO_PROVIDER: Final = CertificateAnswer(
    status=CertificateStatus.UNAVAILABLE, detail="this SECC has no certificate provider"
)


# ---- SECC -------------------------------------------------------------------------------------------------------
class _Secc:
    def __init__(
        self,
        pump: Pump,
        controller: EVSEController,
        config: SeccConfig,
        store: SessionStore,
        pnc: Pnc | None,
        random: Callable[[int], bytes],
        peer: PeerIdentity,
        terms: ConnectionTerms | None,
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
        self.terms = terms
        self.negotiation: Negotiation | None = None
        self.quirks: list[str] = list(terms.notes) if terms is not None else []
        self.refused: str | None = None

    def log(self, level: int, text: str) -> None:
        if self.peer_log is not None:
            self.peer_log.log(level, self.peer.address, "SECC %s: %s", self.peer.address, text)
        else:
            log.log(level, "SECC %s: %s", self.peer.address, text)

    async def negotiate(self, event: RequestReceived) -> None:
        """Answer SupportedAppProtocol with what this SECC may select over this connection, and say what it did."""
        response, self.negotiation = secc_negotiate(
            event.message,
            self.config,
            dc_capable=self.dc_capable,
            terms=self.terms,
            profiles=self.conn.config.profiles,
        )
        self.log(logging.INFO, self.negotiation.describe())
        if self.negotiation.downgrade is not None:
            self.log(logging.WARNING, f"not ISO 15118-20: {self.negotiation.downgrade}")
        await self.pump.send(response, stream=event.stream)

    def screen(self, kind: StrEnum, message: Any) -> str | None:
        """The peer quirk a request shows: None when there is none or tolerant mode accepts it (logged), else why
        it is refused. Each quirk of a request is judged here and nowhere else."""
        seen = empty_evccid(str(kind), body_of(message))
        if seen is None:
            return None
        if self.terms is not None and self.terms.policy.accepts(Quirk.EMPTY_EVCCID):
            self.quirks.append(accepted_line(Quirk.EMPTY_EVCCID, seen))
            self.log(logging.WARNING, self.quirks[-1])
            return None
        return refused_line(Quirk.EMPTY_EVCCID, seen)

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
            await self.negotiate(event)
            return
        assert self.logic is not None
        kind = self.conn.kind_of(event.message)
        assert kind is not None
        refusal = self.screen(kind, event.message)
        if refusal is not None:
            self.refused = refusal
            self.log(logging.WARNING, refusal)
            now = self.pump.clock()
            failed = self.conn.profile.failure(event.message, kind, "FAILED", self.conn.header(now))
            await self.pump.send(failed, stream=event.stream)
            return
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
    pnc: Pnc | None = None,
    session_config: SessionConfig | None = None,
    clock: Clock = time.time,
    observers: Sequence[Observer] = (),
    random: Callable[[int], bytes] = os.urandom,
    peer: PeerIdentity | None = None,
    decisions: Callable[[SeccLogic], SeccLogic] | None = None,
    peer_log: PeerLog | None = None,
    on_start: Callable[[Any], None] | None = None,
    terms: ConnectionTerms | None = None,
    certificates: CertificateProvider | None = None,
) -> SessionOutcome:
    """Serve one connection as the SECC until the session ends and the connection closes.

    ``peer``: the TLS identity of the EV (paused sessions are bound to it); ``decisions`` wraps the negotiated
    generation's decisions (site rules of an application, fault injection in the conformance harness);
    ``peer_log`` rate-limits the security warnings per peer (the SECC server shares one across connections);
    ``on_start`` receives a handle whose ``request_stop(why)`` coroutine asks the EV to end the session (the
    next charge-loop response notifies Terminate); ``terms``: the connection's transport and policy, which decide
    what SupportedAppProtocol may select and which peer quirks are accepted (None, for links in memory: any
    transport, no quirk);
    ``certificates`` answers the EV's certificate requests when the controller is no
    :class:`~iso15118.certificates.CertificateProvider` itself.
    """
    conn = Connection(Role.SECC, now=clock(), config=_with_profiles(session_config))
    pump = Pump(conn, link, clock=clock, observers=observers)
    store = store if store is not None else SessionStore()
    who = peer or PeerIdentity(address=link.peer)
    secc = _Secc(pump, controller, config or SeccConfig(), store, pnc, random, who, terms, certificates)
    secc.wrap = decisions
    secc.peer_log = peer_log
    if on_start is not None:
        on_start(secc)
    ended = await pump.run(secc.handle)
    return outcome_of(conn, ended, secc.summary(), secc.interrupted, secc.negotiation, secc.quirks, secc.refused)


def _with_profiles(config: SessionConfig | None) -> SessionConfig:
    """``config`` (default: the standard's settings), speaking every generation this library implements unless
    it names its own profiles."""
    if config is not None and config.profiles:
        return config
    return session_config(config)


# ---- EVCC -------------------------------------------------------------------------------------------------------
class _Evcc:
    def __init__(self, pump: Pump, controller: EVController, config: EvccConfig, terms: ConnectionTerms | None) -> None:
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
        self.terms = terms
        self.earlier: tuple[str, ...] = ()
        self.withheld: tuple[tuple[str, str], ...] = ()
        self.negotiation: Negotiation | None = None

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
        offers, self.withheld = evcc_offers(self.config.offered_protocols, self.terms)
        if not offers:
            why = "; ".join(f"{ns}: {reason}" for ns, reason in self.withheld)
            raise ConfigError(f"the EVCC has nothing to offer over this connection ({why})")
        await self.pump.send(sap_request(offers))

    def negotiated(self, event: ResponseReceived) -> None:
        """Record (and log) how SupportedAppProtocol went."""
        protocols = self.config.offered_protocols
        record = evcc_negotiation(protocols, event.request, event.message, self.withheld, self.terms, self.earlier)
        self.negotiation = record
        log.info("EVCC: %s", record.describe())
        if record.downgrade is not None:
            log.warning("EVCC: not ISO 15118-20: %s", record.downgrade)

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
        if isinstance(event, ResponseReceived) and self.negotiation is None:
            self.negotiated(event)
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
    terms: ConnectionTerms | None = None,
    earlier: Sequence[str] = (),
) -> SessionOutcome:
    """Run one session as the EVCC over ``link`` (already connected: TCP, TLS or in memory).

    ``on_start`` receives a handle whose ``request_stop(why)`` coroutine ends the session cleanly (the CLI wires
    SIGINT/SIGTERM to it). ``terms``: the connection's transport and policy; only the protocols valid over it are
    offered (None, for links in memory: every configured one). ``earlier``: why earlier connection attempts of
    this run failed, for the negotiation's record.
    """
    conn = Connection(Role.EVCC, now=clock(), config=_with_profiles(session_config))
    pump = Pump(conn, link, clock=clock, observers=observers)
    evcc = _Evcc(pump, controller, config or EvccConfig(), terms)
    evcc.earlier = tuple(earlier)
    if on_start is not None:
        on_start(evcc)
    ended = await pump.run(evcc.handle, start=evcc.start, wake_at=evcc.wake_at, on_wake=evcc.on_wake)
    summary = evcc.summary()
    if evcc.stop_reason is not None and summary.failure is None and evcc.interrupted is None:
        summary = replace(summary, failure=evcc.stop_reason)
    quirks = terms.notes if terms is not None else ()
    return outcome_of(conn, ended, summary, evcc.interrupted, evcc.negotiation, quirks)
