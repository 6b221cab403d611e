"""The tester as SECC: answers an EVCC under test with scripted responses and checks every request.

Every request is checked against rules that hold for all of them: it is a request, it decodes on its payload
type (0x8001 SupportedAppProtocol, 0x8002 common, 0x8003 AC, 0x8004 DC; 0x8101/0x8102 only for the messages the
sequence table admits on the side streams), and once the session is established it carries the session's
SessionID. The tester waits for each request as long as an SECC's sequence timeout allows (60 s; 0.5 s after a
charge-loop response [V2G20-1499/1500]; the profile's timers) and measures the EV's pacing in the charge loop
against V2G_EVCC_Sequence_Performance_Time (0.25 s).

The tester follows the session in the library's sequence table: a request the EV sends again where the table
admits it again (while a side says Ongoing: PowerDelivery [V2G20-1436], the cable check, the precharge, welding
detection; a further ServiceDetailReq before the selection [V2G20-1586]) is answered and the next one awaited,
unless a step expects it explicitly. Charge-loop requests are never skipped that way.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import Any

from harness.conformance.context import learn_request
from harness.conformance.model import Measurement, Need, SutRole
from harness.conformance.path import NAMESPACE, kind_of, response_kind, side_kinds
from harness.conformance.responses import build_response
from harness.conformance.runner import BaseRunner, StepFailed, StepInconclusive, decode, stream_of
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
from iso15118.iso20.kinds import Kind
from iso15118.iso20.profile import ISO20
from iso15118.iso20.services import FAMILY_SERVICES, mode_of_service
from iso15118.iso20.table import TABLE
from iso15118.messages import iso20 as m
from iso15118.session.profile import Stream
from iso15118.session.sap import SAP, SapKind
from iso15118.v2gtp import frame

__all__ = ["EvccRunner"]


@dataclass(frozen=True, slots=True)
class _Request:
    message: Any
    stream: Stream
    received: Received

    @property
    def kind(self) -> str:
        return kind_of(self.message) or type(self.message).__name__


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
        self.ctx.established = False
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
        if self.last_kind in Kind.__members__:
            loop = ISO20.timing(Kind(self.last_kind), timing).secc_sequence
            if loop is not None:
                return loop  # after a charge-loop response [V2G20-1499/1500]
        return timing.secc_sequence_timeout  # [V2G20-441/443]

    def _global_checks(self, request: _Request) -> None:
        msg, kind = request.message, request.kind
        found = ISO20.kind_of(msg) or SAP.kind_of(msg)
        if found is None or not (ISO20.is_request(found) or SAP.is_request(found)):
            raise StepFailed(f"the EV sent {kind}, which is not a request")
        if request.stream is not Stream.MAIN and kind not in side_kinds(request.stream):
            raise StepFailed(
                f"{kind} on the {request.stream} stream (payload type "
                f"0x{request.received.payload_type:04x}) [V2G20-1040/1041]"
            )
        session_id: bytes | None = getattr(getattr(msg, "header", None), "session_id", None)
        if (
            session_id is not None
            and self.ctx.established
            and kind != Kind.SessionSetupReq
            and session_id != self.ctx.session_id
        ):
            raise StepFailed(
                f"{kind} carries SessionID {session_id.hex()}, the session's is {self.ctx.session_id.hex()} [V2G20-457]"
            )

    def _again(self, request: _Request) -> bool:
        """The EV repeats its last main-stream request where the sequence table admits it again."""
        state, selection = self.ctx.state, self.ctx.selection
        if request.kind != self.last_kind or state is None or selection is None:
            return False
        kind = Kind(request.kind)
        return kind not in ISO20.loop_kinds() and TABLE.rule(state, kind, selection, request.message) is not None

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
            msg = decode(item, self.rec)
            stream = stream_of(item.payload_type)
            self.rec.frame("rx", item.raw, at=item.at, message=msg, stream=str(stream), elapsed=item.at - self.mark)
            request = _Request(msg, stream, item)
            self._pace(request)
            self._global_checks(request)
            learn_request(self.ctx, str(stream), msg)
            self.mark = item.at
            main = stream is Stream.MAIN
            unmet = self._unmet(request, expected) if main else None
            if unmet is not None:
                raise StepInconclusive(unmet)
            if main and (request.kind in meanwhile or (request.kind not in expected and self._again(request))):
                if request.kind not in meanwhile:
                    self.rec.note(f"the EV sends {request.kind} again, as the sequence table admits: answered")
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
            if NAMESPACE[family] not in namespaces:
                return f"needs -20 {family}: the EV offers {', '.join(namespaces) or 'no protocol'} only"
            return None
        if request.kind != Kind.SessionStopReq or request.kind in expected or self.last_failed:
            return None
        p, needs = self.ctx.profile, self.ctx.needs
        if self.last_kind == Kind.AuthorizationSetupReq:
            offered = ", ".join(p.offered_auth)
            wanted = "PnC" if Need.PNC in needs else offered
        elif self.last_kind == Kind.ServiceDiscoveryReq:
            offered = ", ".join(str(mode_of_service(s) or s) for s in p.offered_services)
            bpt = FAMILY_SERVICES[family][1]
            wanted = str(mode_of_service(bpt)) if Need.BPT in needs and bpt in p.offered_services else offered
        elif self.last_kind == Kind.ServiceDetailReq:
            offered = ", ".join("Dynamic" if mode == 2 else "Scheduled" for mode in p.offered_modes)
            modes = [f"{n.value.capitalize()} control" for n in (Need.DYNAMIC, Need.SCHEDULED) if n in needs]
            wanted = modes[0] if modes else offered
        else:
            return None
        return f"needs {wanted}: the EV ended the session when offered {offered}"

    def _pace(self, request: _Request) -> None:
        kind = request.kind
        if request.stream is not Stream.MAIN or kind != self.last_kind or kind not in ISO20.loop_kinds():
            return
        limit = ISO20.timing(Kind(kind), self.config.timing).evcc_sequence
        assert limit is not None  # the charge loop has its own pacing
        self.rec.measure(
            Measurement(
                what=f"{kind} after {response_kind(kind)}",
                measured=round(request.received.at - self.mark, 6),
                limit=limit,
                kind="pacing",
                requirement="V2G20 tables 216/217 (V2G_EVCC_Sequence_Performance_Time)",
            )
        )

    def _out_of_sequence(self, request: _Request) -> str | None:
        """Why the sequence table does not admit a main-stream request where the session is (None: it does)."""
        state, selection = self.ctx.state, self.ctx.selection
        kind = ISO20.kind_of(request.message)
        if request.stream is not Stream.MAIN or state is None or selection is None or kind is None:
            return None
        if TABLE.rule(state, kind, selection, request.message) is not None:
            return None
        admitted = ", ".join(TABLE.kinds_in(state, selection)) or "nothing"
        return f"{request.kind} where the sequence table admits {admitted} (V2G20 sequence table)"

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
        name = type(msg).__name__ + (f" ({step.label})" if step.label else "")
        self.rec.frame("tx", data, at=at, message=None if mangled else msg, name=name, stream=str(request.stream))
        self.pending = None
        self.mark = at
        if request.stream is Stream.MAIN:
            self._advance(request, msg)

    def _advance(self, request: _Request, response: Any) -> None:
        """Follow the session in the sequence table (the state and selection after this exchange)."""
        self.last_kind = request.kind
        self.last_failed = ISO20.is_failed(ISO20.response_code(response))
        if request.kind not in ISO20.loop_kinds():
            self.ctx.target_w = None  # a setpoint holds within one charge loop only
        state, selection = self.ctx.state, self.ctx.selection
        kind = ISO20.kind_of(request.message)
        if state is None or selection is None or kind is None:
            return
        rule = TABLE.rule(state, kind, selection, request.message)
        if rule is not None and not ISO20.is_failed(ISO20.response_code(response)):
            self.ctx.state = TABLE.next_state(state, rule, selection, request.message, response)
        self.ctx.selection = ISO20.note(selection, kind, request.message, response)

    async def serve_loop(self, step: ServeLoop) -> None:
        """Step :class:`ServeLoop`: answer charge loops, checking each request."""
        kind = loop_kind(self.ctx.profile.family)
        for index in range(step.count):
            await self.expect_request(ExpectRequest(kind=kind, checks=step.checks))
            last = index == step.count - 1
            await self.respond(Respond(fields=step.fields, notification=step.notify_last if last else None))

    async def stall(self, step: Stall) -> None:
        """Step :class:`Stall`: keep answering ``kind`` Ongoing; the EV must give up at ``timer``, not before."""
        wire = self.need_wire()
        timer = float(getattr(self.config.timing, step.timer))
        start: float | None = None
        if self.pending is not None and self.pending.kind == step.kind:
            # The request a Serve step left unanswered is the first one stalled.
            start = self.pending.received.at
            await self.respond(Respond(fields={"evse_processing": m.Processing.Ongoing}))
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
                await self.respond(Respond(fields={"evse_processing": m.Processing.Ongoing}))
                continue
            if request.kind == Kind.SessionStopReq:
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
        msg = decode(item, self.rec)
        stream = stream_of(item.payload_type)
        self.rec.frame("rx", item.raw, at=item.at, message=msg, stream=str(stream), elapsed=item.at - self.mark)
        request = _Request(msg, stream, item)
        self._global_checks(request)
        self.mark = item.at
        return request
