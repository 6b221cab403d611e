"""The tester as SECC: answers an EVCC under test with scripted responses and checks every request.

Every request is checked against rules that hold for all of them: it is a request, it decodes on its payload
type (0x8001 SupportedAppProtocol, 0x8002 common, 0x8003 AC; 0x8101/0x8102 only for the side streams' messages),
and once the session is established it carries the session's SessionID. The tester waits for each request as
long as an SECC's sequence timeout allows (60 s; 0.5 s after an AC_ChargeLoopRes [V2G20-1499/1500]) and
measures the EV's pacing in the charge loop against V2G_EVCC_Sequence_Performance_Time (0.25 s). A
PowerDeliveryReq with EVProcessing=Ongoing is answered and the repeated request awaited [V2G20-1436], and so is
a further ServiceDetailReq before the selection [V2G20-1586].
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import Any

from harness.conformance.context import learn_request
from harness.conformance.model import Measurement, SutRole
from harness.conformance.responses import build_response
from harness.conformance.runner import STREAM_OF_PAYLOAD, BaseRunner, StepFailed, StepInconclusive, decode
from harness.conformance.steps import (
    Accept,
    ExpectRefused,
    ExpectRequest,
    Respond,
    Serve,
    ServeLoop,
    TlsVariant,
)
from harness.conformance.targets import HandshakeRefused
from harness.conformance.wire import Closed, Received, Wire, WireError
from iso15118.codec import encode_message
from iso15118.errors import ConfigError
from iso15118.session.profile import Stream
from iso15118.v2gtp import frame

__all__ = ["EvccRunner"]

_SIDE_KINDS = {
    Stream.SCHEDULE_RENEGOTIATION: ("ScheduleExchangeReq", "PowerDeliveryReq"),
    Stream.METERING_CONFIRMATION: ("MeteringConfirmationReq",),
}


@dataclass(frozen=True, slots=True)
class _Request:
    message: Any
    stream: Stream
    received: Received

    @property
    def kind(self) -> str:
        return type(self.message).__name__


def _ongoing(msg: Any) -> bool:
    return str(getattr(msg, "ev_processing", "") or "") == "Ongoing"


class EvccRunner(BaseRunner):
    """Runs a case whose SUT is an EVCC."""

    role = SutRole.EVCC
    opening = Accept

    def __init__(self, case: Any, target: Any, config: Any) -> None:
        super().__init__(case, target, config)
        self.pending: _Request | None = None
        self.last_response: str = ""
        self.handlers.update(
            {
                Accept: self.accept,
                Serve: self.serve,
                ExpectRequest: self.expect_request,
                Respond: self.respond,
                ServeLoop: self.serve_loop,
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
        self.ctx.values["resume_expected"] = resume
        context = self.tls_context(variant)
        try:
            connection = await self.target.accept(context, timeout=self.config.accept_timeout, hints=hints)
        except TimeoutError:
            raise StepInconclusive(f"the EVCC did not connect within {self.config.accept_timeout:g} s") from None
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
        self.last_response = ""
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
        if self.last_response == "AC_ChargeLoopRes":
            return timing.secc_sequence_timeout_loop  # [V2G20-1499/1500]
        return timing.secc_sequence_timeout  # [V2G20-441/443]

    def _global_checks(self, request: _Request) -> None:
        msg, kind = request.message, request.kind
        if not kind.endswith("Req"):
            raise StepFailed(f"the EV sent {kind}, which is not a request")
        if request.stream is not Stream.MAIN and kind not in _SIDE_KINDS[request.stream]:
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
                f"{kind} carries SessionID {session_id.hex()}, the session's is {self.ctx.session_id.hex()} [V2G20-457]"
            )

    async def next_request(
        self, within: float | None = None, meanwhile: tuple[str, ...] = (), expected: tuple[str, ...] = ()
    ) -> _Request:
        """The EV's next request: main-stream ``meanwhile`` kinds, repeated ServiceDetailReq (unless ``expected``)
        and PowerDeliveryReq(Ongoing) are answered with defaults and skipped."""
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
            stream = STREAM_OF_PAYLOAD.get(item.payload_type, Stream.MAIN)
            self.rec.frame("rx", item.raw, at=item.at, message=msg, stream=str(stream), elapsed=item.at - self.mark)
            request = _Request(msg, stream, item)
            self._pace(request)
            self._global_checks(request)
            learn_request(self.ctx, str(stream), msg)
            self.mark = item.at
            if stream is Stream.MAIN and request.kind in meanwhile:
                self.pending = request
                await self.respond(Respond())
                continue
            if (
                stream is Stream.MAIN
                and request.kind == "ServiceDetailReq"
                and request.kind not in expected
                and self.last_response == "ServiceDetailRes"
            ):
                # Details of one more service before the selection [V2G20-1586].
                self.rec.note("another ServiceDetailReq: answered [V2G20-1586]")
                self.pending = request
                await self.respond(Respond())
                continue
            if stream is Stream.MAIN and request.kind == "PowerDeliveryReq" and _ongoing(msg):
                # The EV still computes its profile and sends PowerDeliveryReq again [V2G20-1436].
                self.rec.note("PowerDeliveryReq with EVProcessing=Ongoing: answered, the EV repeats it [V2G20-1436]")
                self.pending = request
                await self.respond(Respond())
                continue
            return request

    def _pace(self, request: _Request) -> None:
        if (
            request.kind == "AC_ChargeLoopReq"
            and request.stream is Stream.MAIN
            and self.last_response == "AC_ChargeLoopRes"
        ):
            self.rec.measure(
                Measurement(
                    what="AC_ChargeLoopReq after AC_ChargeLoopRes",
                    measured=round(request.received.at - self.mark, 6),
                    limit=self.config.timing.evcc_sequence_performance_loop,
                    kind="pacing",
                    requirement="V2G20 table 216 (V2G_EVCC_Sequence_Performance_Time)",
                )
            )

    async def serve(self, step: Serve) -> None:
        """Step :class:`Serve`: answer with defaults until the awaited request arrives."""
        while True:
            request = await self.next_request(expected=(step.until,))
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
            msg = build_response(
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
            self.last_response = type(msg).__name__
            if self.last_response != "AC_ChargeLoopRes":
                self.ctx.target_w = None  # a setpoint holds within one charge loop only

    async def serve_loop(self, step: ServeLoop) -> None:
        """Step :class:`ServeLoop`: answer charge loops, checking each request."""
        for index in range(step.count):
            await self.expect_request(ExpectRequest(kind="AC_ChargeLoopReq", checks=step.checks))
            last = index == step.count - 1
            await self.respond(Respond(fields=step.fields, notification=step.notify_last if last else None))
