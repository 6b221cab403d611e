"""The tester as SECC: answers an EVCC under test with scripted responses and checks every request.

Every request is checked against rules that hold for all of them: it is a request, it decodes on its payload
type (0x8001 SupportedAppProtocol, 0x8002 common, 0x8003 AC, 0x8004 DC; 0x8101/0x8102 only for the messages the
sequence table admits on the side streams), and once the session is established it carries the session's
SessionID. The tester waits for each request as long as an SECC's sequence timeout allows (60 s; 0.5 s after a
charge-loop response [V2G20-1499/1500]; the profile's timers) and measures the EV's pacing in the charge loop
against V2G_EVCC_Sequence_Performance_Time (0.25 s).

The tester follows the session in the library's sequence table of the case's protocol: a request the EV sends
again where the table admits it again (while a side says Ongoing: PowerDelivery [V2G20-1436], the cable check,
the precharge, welding detection; a further ServiceDetailReq before the selection [V2G20-1586]) is answered and
the next one awaited, unless a step expects it explicitly; in DIN and -2 so is a request the table admits in
place (the first PreChargeReq, a value-added ServiceDetailReq). Charge-loop requests are never skipped that way.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import Any

from harness.conformance.model import Measurement, SutRole
from harness.conformance.path import side_kinds
from harness.conformance.responses import build_response
from harness.conformance.runner import BaseRunner, StepFailed, StepInconclusive
from harness.conformance.scripts import loop_kind
from harness.conformance.steps import (
    Accept,
    ExpectRefused,
    ExpectRequest,
    Respond,
    Serve,
    ServeLoop,
    Stall,
    TlsVariant,
)
from harness.conformance.targets import HandshakeRefused, SutUnreachable
from harness.conformance.wire import Closed, Received, Wire, WireError
from iso15118.codec import encode_message
from iso15118.errors import ConfigError
from iso15118.session.profile import Rule, Stream
from iso15118.session.sap import SapKind
from iso15118.v2gtp import frame

__all__ = ["EvccRunner"]


@dataclass(frozen=True, slots=True)
class _Request:
    message: Any
    stream: Stream
    received: Received
    kind: str


class EvccRunner(BaseRunner):
    """Runs a case whose SUT is an EVCC."""

    role = SutRole.EVCC
    opening = Accept

    def __init__(self, case: Any, target: Any, config: Any) -> None:
        super().__init__(case, target, config)
        self.pending: _Request | None = None
        self.connected = False
        """The EVCC connected in this case (a later connection that does not come is not a lost SUT)."""
        self.last_kind: str = ""
        """The last main-stream request answered."""
        self.last_failed = False
        """Its response was a FAILED one."""
        self.handlers.update(
            {
                Accept: self.accept,
                Serve: self.serve,
                ExpectRequest: self.expect_request,
                Respond: self.respond,
                ServeLoop: self.serve_loop,
                Stall: self.stall,
                ExpectRefused: self.expect_refused,
            }
        )

    # ---- connections --------------------------------------------------------------------------------
    def role_tls_context(self, variant: TlsVariant) -> ssl.SSLContext:
        """The tester SECC's TLS context for ``variant``."""
        if self.config.credentials is None:
            raise StepInconclusive("the tester needs its PKI (--pki) to play a TLS SECC")
        return self.config.credentials.server_context(variant, tolerant=self.config.tolerant)

    async def _accept(self, variant: TlsVariant, resume: bool) -> Wire:
        hints: dict[str, Any] = {}
        if resume:
            hints = {"resume_session_id": self.ctx.paused_session_id, "resume_service_id": self.ctx.selected_service}
        context = self.tls_context(variant)
        try:
            connection = await self.target.accept(context, timeout=self.config.accept_timeout, hints=hints)
        except TimeoutError:
            if not self.connected:
                # Not even the case's first connection: the EVCC is not there (any more).
                raise SutUnreachable(self.target.unreachable(self.config.accept_timeout)) from None
            raise StepInconclusive(f"the EVCC did not connect again within {self.config.accept_timeout:g} s") from None
        except HandshakeRefused:
            self.connected = True
            raise
        self.connected = True
        return self.open_wire(connection, "the EVCC connected from")

    async def accept(self, step: Accept) -> None:
        """Step :class:`Accept`: wait for the EVCC's (next) connection."""
        if self.wire is not None:
            await self.wire.close()
        try:
            self.wire = await self._accept(step.tls, step.resume)
        except HandshakeRefused as exc:
            raise StepFailed(str(exc)) from None
        self.ctx.tls = self.wire.connection.tls
        self.ctx.established = self.ctx.negotiated = False
        self.ctx.selection = self.ctx.state = None
        self.last_kind = ""
        self.mark = self.rec.clock()

    async def expect_refused(self, step: ExpectRefused) -> None:
        """Step :class:`ExpectRefused`: the EV must refuse the tester's deviating TLS set-up."""
        try:
            wire = self.wire = await self._accept(step.tls, False)
        except HandshakeRefused as exc:
            self.rec.note(f"refused as expected: {exc}", direction="net")
            return
        await self.judge_refusal(wire, step, sut="the EV", reacted="sent")

    # ---- requests ------------------------------------------------------------------------------------
    def _wait(self) -> float:
        timing = self.config.timing
        if self.last_kind and not self.protocol.is_sap(self.last_kind):
            loop = self.protocol.timing(self.last_kind, timing).secc_sequence
            if loop is not None:
                return loop  # after a -20 charge-loop response [V2G20-1499/1500]
        return timing.secc_sequence_timeout  # [V2G20-441/443]

    def _request(self, item: Received) -> _Request:
        """The request in a frame the EV sent, recorded with the time since the tester's last frame."""
        msg = self.decode(item)
        stream = self.protocol.stream_of(item.payload_type)
        kind = self.protocol.kind_of(msg) or type(msg).__name__
        self.rec.frame(
            "rx", item.raw, at=item.at, message=msg, stream=str(stream), elapsed=item.at - self.mark, name=kind
        )
        return _Request(msg, stream, item, kind)

    def _global_checks(self, request: _Request) -> None:
        msg, kind = request.message, request.kind
        if self.protocol.kind_of(msg) is None or not self.protocol.is_request(kind):
            raise StepFailed(f"the EV sent {kind}, which is not a request")
        if request.stream is not Stream.MAIN and kind not in side_kinds(request.stream, self.protocol):
            raise StepFailed(
                f"{kind} on the {request.stream} stream (payload type "
                f"0x{request.received.payload_type:04x}) [V2G20-1040/1041]"
            )
        session_id: bytes | None = getattr(getattr(msg, "header", None), "session_id", None)
        if (
            session_id is not None
            and self.ctx.established
            and kind != "SessionSetupReq"
            and session_id != self.ctx.session_id
        ):
            raise StepFailed(
                f"{kind} carries SessionID {session_id.hex()}, the session's is {self.ctx.session_id.hex()} "
                f"[{self.protocol.profile.session_id_rule()}]"
            )

    def _rule(self, request: _Request) -> Rule | None:
        """The table row that admits a main-stream request where the session is (None: none does)."""
        state, selection = self.ctx.state, self.ctx.selection
        if not self._follows(request) or state is None or selection is None:
            return None
        return self.protocol.profile.table.rule(state, self.protocol.kinds(request.kind), selection, request.message)

    def _follows(self, request: _Request) -> bool:
        """A main-stream request of the generation (its table judges it), not SupportedAppProtocol."""
        return request.stream is Stream.MAIN and not self.protocol.is_sap(request.kind)

    def _again(self, request: _Request) -> bool:
        """The EV repeats its last main-stream request where the sequence table admits it again, or (DIN, -2)
        sends one the table admits in place (the first PreChargeReq, a value-added ServiceDetailReq)."""
        if request.kind in self.protocol.loop_kinds():
            return False
        rule = self._rule(request)
        if rule is None:
            return False
        if request.kind == self.last_kind:
            return True
        return self.protocol.stays_by_plan and all(t.target is None for t in rule.after)

    async def next_request(
        self, within: float | None = None, meanwhile: tuple[str, ...] = (), expected: tuple[str, ...] = ()
    ) -> _Request:
        """The EV's next request: main-stream ``meanwhile`` kinds and repeats the table admits (unless
        ``expected``) are answered with defaults and skipped."""
        wire = self.need_wire()
        while True:
            wait = within if within is not None else self._wait()
            item = await wire.next(self.mark + wait + self.config.slack - self.rec.clock())
            if item is None:
                raise StepFailed(f"no request from the EV within {wait:g} s")
            if isinstance(item, Closed):
                self._trace_incoming(item)
                raise StepFailed("the EV closed the connection")
            if isinstance(item, WireError):
                self._trace_incoming(item)
                raise StepFailed(f"the EV sent an invalid V2GTP frame: {item.error}")
            request = self._request(item)
            stream = request.stream
            self._pace(request)
            self._global_checks(request)
            self.protocol.learn_request(self.ctx, str(stream), request.message)
            self.mark = item.at
            main = stream is Stream.MAIN
            unmet = self._unmet(request, expected) if main else None
            if unmet is not None:
                raise StepInconclusive(unmet)
            if main and (request.kind in meanwhile or (request.kind not in expected and self._again(request))):
                if request.kind not in meanwhile:
                    self.rec.note(f"the EV sends {request.kind}, which the sequence table admits here: answered")
                self.pending = request
                await self.respond(Respond())
                continue
            return request

    def _unmet(self, request: _Request, expected: tuple[str, ...]) -> str | None:
        """Why the case cannot go on ("needs X: ...") when the EV shows it lacks what the case needs: its SAP offer
        lacks the case's namespace, or it ends the session (SessionStopReq) right after the tester's offer of
        authorization, services or control modes was answered OK (an EV may decline an offer it cannot use)."""
        family = self.ctx.profile.family
        if request.kind == SapKind.supportedAppProtocolReq:
            namespaces = sorted({o.protocol_namespace for o in request.message.app_protocol})
            if self.protocol.namespace(family) not in namespaces:
                label = self.protocol.needs_label(family)
                return f"needs {label}: the EV offers {', '.join(namespaces) or 'no protocol'} only"
            return None
        if request.kind != "SessionStopReq" or request.kind in expected or self.last_failed:
            return None
        return self.protocol.declined(self.ctx, self.last_kind)

    def _pace(self, request: _Request) -> None:
        kind = request.kind
        if request.stream is not Stream.MAIN or kind != self.last_kind or kind not in self.protocol.loop_kinds():
            return
        limit = self.protocol.timing(kind, self.config.timing).evcc_sequence
        if limit is None:
            return  # DIN and -2 set the EV no pacing of its own in the loop
        self.rec.measure(
            Measurement(
                what=f"{kind} after {self.protocol.response_kind(kind)}",
                measured=round(request.received.at - self.mark, 6),
                limit=limit,
                kind="pacing",
                requirement="V2G20 tables 216/217 (V2G_EVCC_Sequence_Performance_Time)",
            )
        )

    def _out_of_sequence(self, request: _Request) -> str | None:
        """Why the sequence table does not admit a main-stream request where the session is (None: it does)."""
        state, selection = self.ctx.state, self.ctx.selection
        if not self._follows(request) or state is None or selection is None:
            return None
        if self._rule(request) is not None:
            return None
        admitted = ", ".join(self.protocol.profile.table.kinds_in(state, selection)) or "nothing"
        return f"{request.kind} where the sequence table admits {admitted} ({self.protocol.label} sequence table)"

    async def serve(self, step: Serve) -> None:
        """Step :class:`Serve`: answer with defaults until the awaited request arrives."""
        while True:
            request = await self.next_request(expected=(step.until,))
            problem = self._out_of_sequence(request) if step.admitted else None
            if problem is not None:
                raise StepFailed(problem)
            if request.kind == step.until:
                self.pending = request
                self.run_checks(tuple(step.checks), request.message)
                return
            self.pending = request
            await self.respond(Respond(fields=step.respond.get(request.kind, {})))

    async def expect_request(self, step: ExpectRequest) -> None:
        """Step :class:`ExpectRequest`: the EV's next request, checked."""
        request = await self.next_request(step.within, step.meanwhile, tuple(step.kind.split("|")))
        if request.kind not in step.kind.split("|") or request.stream is not step.stream:
            raise StepFailed(
                f"expected {step.kind} on the {step.stream} stream, the EV sent {request.kind} "
                f"on the {request.stream} stream"
            )
        self.pending = request
        self.run_checks(tuple(step.checks), request.message)

    # ---- responses ------------------------------------------------------------------------------------
    async def respond(self, step: Respond) -> None:
        """Step :class:`Respond`: answer the pending request."""
        wire = self.need_wire()
        request = self.pending
        if request is None:
            raise StepInconclusive("no request is waiting for a response")
        try:
            msg = await build_response(
                request.message, self.ctx, step.fields, code=step.code, notification=step.notification, kind=step.kind
            )
        except ConfigError as exc:
            raise StepInconclusive(f"cannot build the response: {exc}") from None
        if step.delay:
            await asyncio.sleep(step.delay)
        payload_type = step.payload_type or request.received.payload_type
        exi = encode_message(msg)
        if step.corrupt is not None:
            exi = step.corrupt(exi)
        data = frame(payload_type, exi)
        if step.header is not None:
            data = step.header(data[:8]) + data[8:]
        at = await wire.send(data, split=step.split, gap=step.gap)
        mangled = step.corrupt is not None or step.header is not None
        kind = self.protocol.kind_of(msg) or type(msg).__name__
        name = kind + (f" ({step.label})" if step.label else "")
        self.rec.frame("tx", data, at=at, message=None if mangled else msg, name=name, stream=str(request.stream))
        self.pending = None
        self.mark = at
        if kind == "supportedAppProtocolRes" and self.protocol.code_of(msg).startswith("OK"):
            self.ctx.negotiated = True
        if request.stream is Stream.MAIN:
            self._advance(request, msg)

    def _advance(self, request: _Request, response: Any) -> None:
        """Follow the session in the sequence table (the state and selection after this exchange)."""
        profile = self.protocol.profile
        self.last_kind = request.kind
        failed = profile.is_failed(self.protocol.code_of(response) or None)
        self.last_failed = failed
        if request.kind not in self.protocol.loop_kinds():
            self.ctx.target_w = None  # a setpoint holds within one charge loop only
        state, selection = self.ctx.state, self.ctx.selection
        if state is None or selection is None or self.protocol.is_sap(request.kind):
            return
        kind = self.protocol.kinds(request.kind)
        rule = self._rule(request)
        if rule is not None and not failed:
            self.ctx.state = profile.table.next_state(state, rule, selection, request.message, response)
        self.ctx.selection = profile.note(selection, kind, request.message, response)

    async def serve_loop(self, step: ServeLoop) -> None:
        """Step :class:`ServeLoop`: answer charge loops, checking each request."""
        kind = loop_kind(self.ctx.profile.family, self.protocol)
        for index in range(step.count):
            await self.expect_request(ExpectRequest(kind=kind, checks=step.checks))
            last = index == step.count - 1
            await self.respond(Respond(fields=step.fields, notification=step.notify_last if last else None))

    async def stall(self, step: Stall) -> None:
        """Step :class:`Stall`: keep answering ``kind`` Ongoing; the EV must give up at ``timer``, not before."""
        wire = self.need_wire()
        timer = float(getattr(self.config.timing, step.timer))
        ongoing = {"evse_processing": self.protocol.ongoing}
        start: float | None = None
        if self.pending is not None and self.pending.kind == step.kind:
            # The request a Serve step left unanswered is the first one stalled.
            start = self.pending.received.at
            await self.respond(Respond(fields=ongoing))
        while True:
            limit = (start if start is not None else self.mark) + timer + step.grace + self.config.slack
            remaining = limit - self.rec.clock()
            item = await wire.next(remaining) if remaining > 0 else None
            if item is None or isinstance(item, (Closed, WireError)):
                if item is not None:
                    self._trace_incoming(item)
                gave_up = self.rec.clock() if item is None else item.at
                break
            self.pending = request = await self._stalled(item)
            if request.kind == step.kind:
                start = start if start is not None else request.received.at
                await self.respond(Respond(fields=ongoing))
                continue
            if request.kind == "SessionStopReq":
                gave_up = request.received.at
                await self.respond(Respond())
                break
            raise StepFailed(f"the EV sent {request.kind} while {step.kind} was answered Ongoing")
        if start is None:
            raise StepFailed(f"the EV sent no {step.kind}")
        measured = self.rec.measure(
            Measurement(
                what=f"{step.kind} answered Ongoing until the EV gave up",
                measured=round(gave_up - start, 6),
                limit=timer + step.grace + self.config.slack,
                lower=max(0.0, timer - self.config.slack),
                kind="timeout",
                requirement=step.requirement,
            )
        )
        if item is None:
            raise StepFailed(
                f"the connection is still open {measured.measured:.3f} s after the first Ongoing {step.kind}"
            )
        if not measured.ok:
            raise StepFailed(f"the EV gave up after {measured.measured:.3f} s, before the {timer:g} s it must wait")

    async def _stalled(self, item: Any) -> _Request:
        request = self._request(item)
        self._global_checks(request)
        self.mark = item.at
        return request
