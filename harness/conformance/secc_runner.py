"""The tester as EV: drives an SECC under test with scripted requests and checks every response.

Every response is checked against rules that hold for all of them, whatever the case: it arrives within the
EVCC's message timeout, on the request's payload type, is the response to that request, and (once the session
is established) carries the session's SessionID. Its time is measured against the SECC's message performance
time (the case's protocol's: -20 tables 215-217, -2 Table 109, DIN 70121 table 75). Each case adds its own
expectations (response codes, checks).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from harness.conformance.checks import code_matches
from harness.conformance.fields import resolve
from harness.conformance.model import Measurement, Need, SutRole
from harness.conformance.path import Hop, segment
from harness.conformance.requests import build_request, learn, reset_ev, stopping
from harness.conformance.runner import BaseRunner, StepFailed, StepInconclusive, decode
from harness.conformance.scripts import loop_kind
from harness.conformance.steps import (
    Connect,
    Exchange,
    Expect,
    ExpectRefused,
    Loop,
    Reconnect,
    Send,
    TlsVariant,
    Walk,
)
from harness.conformance.targets import HandshakeRefused
from harness.conformance.wire import Closed, Received, Wire, WireError
from iso15118.codec import encode_message
from iso15118.errors import ConfigError
from iso15118.messages.app_protocol import ResponseCode as SapCode
from iso15118.session.profile import Stream
from iso15118.session.sap import SAP, SapKind, sap_request
from iso15118.session.timers import Timer
from iso15118.v2gtp import frame

__all__ = ["SeccRunner"]

_REPEATS = 50
"""The tester EV repeats a request it says Ongoing for (precharge, welding detection) at most this often."""
_ONGOING_PAUSE = 0.1

#: What the tester expects of the default session's requests (any OK code for the others): -20 never answers
#: WithMinorDeviation [V2G20-1089]; a new session, and a finished authorization.
_CODES: dict[str, tuple[str, ...]] = {
    SapKind.supportedAppProtocolReq: (SapCode.OK_SuccessfulNegotiation,),
    "SessionSetupReq": ("OK_NewSessionEstablished",),
    "AuthorizationReq": ("OK",),
}


class _Pending:
    __slots__ = ("kind", "payload_type", "request", "sent_at", "stream")

    def __init__(self, request: Any, kind: str, payload_type: int, sent_at: float, stream: Stream) -> None:
        self.request = request
        self.kind = kind
        self.payload_type = payload_type
        self.sent_at = sent_at
        self.stream = stream


class SeccRunner(BaseRunner):
    """Runs a case whose SUT is an SECC."""

    role = SutRole.SECC
    opening = Connect

    def __init__(self, case: Any, target: Any, config: Any) -> None:
        super().__init__(case, target, config)
        self.pending: _Pending | None = None
        self.handlers.update(
            {
                Connect: self.connect,
                Reconnect: self.reconnect,
                Send: self.send,
                Expect: self.expect,
                Exchange: self.exchange,
                Walk: self.walk,
                Loop: self.loop,
                ExpectRefused: self.expect_refused,
            }
        )

    # ---- connections --------------------------------------------------------------------------------
    def role_tls_context(self, variant: TlsVariant) -> ssl.SSLContext:
        """The tester EV's TLS context for ``variant`` (without a PKI: anonymous, for the normal set-up only)."""
        creds = self.config.credentials
        if creds is None:
            if variant is not TlsVariant.NORMAL:
                raise StepInconclusive("TLS variants need the tester's PKI (--pki)")
            return _anonymous_client(self.config.tolerant)
        return creds.client_context(variant, tolerant=self.config.tolerant)

    async def _open(self, variant: TlsVariant) -> Wire:
        context = self.tls_context(variant)
        try:
            connection = await self.target.connect(context)
        except HandshakeRefused as exc:
            raise StepFailed(str(exc)) from None
        except (OSError, ConfigError) as exc:
            raise StepInconclusive(f"cannot connect: {exc}") from None
        return self.open_wire(connection, "connected to")

    async def connect(self, step: Connect) -> None:
        """Step :class:`Connect`: open a connection to the SECC."""
        self.wire = await self._open(step.tls)
        self.ctx.tls = self.wire.connection.tls
        self.mark = self.rec.clock()

    async def reconnect(self, step: Reconnect) -> None:
        """Step :class:`Reconnect`: close the connection and open a new one (a new session)."""
        if self.wire is not None:
            await self.wire.close()
            self.rec.note("the tester closed the connection", direction="net")
        self.ctx.session_id = bytes(8)
        self.ctx.established = self.ctx.negotiated = False
        reset_ev(self.ctx)  # a new session of the same EV
        await self.connect(Connect())

    async def expect_refused(self, step: ExpectRefused) -> None:
        """Step :class:`ExpectRefused`: the SECC must refuse the tester's deviating TLS set-up."""
        context = self.tls_context(step.tls)
        try:
            connection = await self.target.connect(context)
        except HandshakeRefused as exc:
            self.rec.note(f"refused as expected: {exc}", direction="net")
            return
        except (OSError, ConfigError) as exc:
            raise StepInconclusive(f"cannot connect: {exc}") from None
        self.rec.note(
            f"the TLS handshake completed on the tester's side: {connection.tls.summary() if connection.tls else ''}",
            direction="net",
        )
        wire = self.wire = Wire(connection, self.rec.clock)
        # TLS 1.3 reports a refused client certificate after the client's handshake: probe with SAP.
        await self.send(Send(kind="supportedAppProtocolReq"))
        await self.judge_refusal(wire, step, sut="the SUT", reacted="answered with")

    # ---- requests and responses ----------------------------------------------------------------------
    async def send(self, step: Send) -> None:
        """Step :class:`Send`: build, encode, frame (and mangle) a request and send it."""
        wire = self.need_wire()
        for key, value in step.context.items():
            self.ctx.values[key] = resolve(value, self.ctx)
        msg = build_request(step.kind, self.ctx, step.fields, step.stream)
        if step.edit is not None:
            msg = step.edit(msg)
        if self.protocol.kind_of(msg) != step.kind:
            raise StepInconclusive(f"the tester built {type(msg).__name__} for a {step.kind}")
        payload_type = step.payload_type or self.protocol.payload_type(step.kind, step.stream)
        exi = encode_message(msg)
        if step.corrupt is not None:
            exi = step.corrupt(exi)
        data = frame(payload_type, exi)
        if step.header is not None:
            data = step.header(data[:8]) + data[8:]
        at = await wire.send(data, split=step.split, gap=step.gap)
        mangled = step.corrupt is not None or step.header is not None
        name = f"{step.kind} ({step.label})" if step.label else step.kind
        self.rec.frame("tx", data, at=at, message=None if mangled else msg, name=name, stream=str(step.stream))
        self.pending = _Pending(msg, step.kind, payload_type, at, step.stream)
        self.mark = at
        self.ctx.last_request = msg
        if step.kind == "supportedAppProtocolReq":
            self.ctx.values["sap_offers"] = {o.protocol_namespace: o.schema_id for o in msg.app_protocol}

    async def expect(self, step: Expect) -> Any:
        """Step :class:`Expect`: receive and judge the response to the last request."""
        wire = self.need_wire()
        pending = self.pending
        if pending is None:
            raise StepInconclusive("no request is waiting for a response")
        timing = self.config.timing
        limits = self.protocol.timing(pending.kind, timing)
        wait = step.within if step.within is not None else limits.evcc_timeout
        item = await wire.next(pending.sent_at + wait + self.config.slack - self.rec.clock())
        if item is None:
            raise StepFailed(f"no response to {pending.kind} within {wait:g} s (V2G_EVCC_Msg_Timeout)")
        if isinstance(item, Closed):
            self._trace_incoming(item)
            if step.or_refused:
                self.rec.note(f"the SUT refused {pending.kind} unread and closed the connection")
                return None
            raise StepFailed(f"the SUT closed the connection instead of answering {pending.kind}")
        if isinstance(item, WireError):
            self._trace_incoming(item)
            raise StepFailed(f"the SUT sent an invalid V2GTP frame: {item.error}")
        msg = self.decode(item)
        elapsed = item.at - pending.sent_at
        name = self.protocol.kind_of(msg) or type(msg).__name__
        self.rec.frame("rx", item.raw, at=item.at, message=msg, stream=str(pending.stream), elapsed=elapsed, name=name)
        self.rec.measure(
            Measurement(
                what=name,
                measured=round(elapsed, 6),
                limit=limits.secc_performance,
                kind="performance",
                requirement=self._performance_rule(pending.kind),
            )
        )
        self.pending = None
        self.mark = item.at
        if item.payload_type != pending.payload_type:
            raise StepFailed(
                f"{name} came with payload type 0x{item.payload_type:04x}, the request had 0x{pending.payload_type:04x}"
            )
        code = self.protocol.code_of(msg)
        if name != step.kind:
            raise StepFailed(f"expected {step.kind}, got {name} {code}".rstrip())
        if not code_matches(code, step.codes):
            await self._unmet_by(pending, code)
            raise StepFailed(f"{name} answered {code}, expected {' or '.join(step.codes)}")
        if name == "supportedAppProtocolRes" and not code.startswith("Failed"):
            self.ctx.negotiated = True
        self._check_session_id(msg, name, code)
        self.run_checks(tuple(step.checks), msg)
        self.protocol.learn_response(self.ctx, pending.request, msg)
        learn(self.ctx, pending.stream, pending.request, msg)
        return msg

    def _performance_rule(self, kind: str) -> str:
        if self.protocol.is_sap(kind):
            return "V2G_SECC_Msg_Performance_Time"
        return f"{self.protocol.profile.timer_requirement(Timer.SECC_PERFORMANCE)} (V2G_SECC_Msg_Performance_Time)"

    async def _unmet_by(self, pending: _Pending, code: str) -> None:
        """StepInconclusive when an unexpected ``code`` is the SUT saying it does not support what the case needs
        (the -20 namespace of the case's family, pausing, service renegotiation) rather than breaking a rule."""
        request = pending.request
        if pending.kind == SapKind.supportedAppProtocolReq and code == SapCode.Failed_NoNegotiation:
            family = self.ctx.profile.family
            namespace = self.protocol.namespace(family)
            if namespace not in {o.protocol_namespace for o in request.app_protocol}:
                return
            # The tester's own offer (the namespace alone) refused settles it; any other offer is judged only
            # when the SUT accepts that plain offer on a new connection.
            offer = self.protocol.offer(family)
            if request != sap_request((offer,)) and await self._accepts(offer):
                return
            label = self.protocol.needs_label(family)
            raise StepInconclusive(f"needs {label}: the SUT does not accept {namespace} ({code})")
        refusals = {
            "FAILED_PauseNotAllowed": ("Pause", Need.PAUSE),
            "FAILED_NoServiceRenegotiationSupported": ("ServiceRenegotiation", Need.SERVICE_RENEGOTIATION),
        }
        asked = str(getattr(self.protocol.body(request), "charging_session", ""))
        if code in refusals and asked == refusals[code][0]:
            raise StepInconclusive(f"needs {refusals[code][1].value}: the SUT does not allow it ({code})")

    async def _accepts(self, offer: Any) -> bool:
        """Probe on a new connection whether the SUT accepts the plain ``offer`` (True when the probe cannot tell,
        so that the case's verdict stands)."""
        namespace = offer.namespace
        try:
            connection = await self.target.connect(self.tls_context(TlsVariant.NORMAL))
        except (HandshakeRefused, OSError, ConfigError, StepInconclusive):
            return True
        wire = Wire(connection, self.rec.clock)
        try:
            sap = sap_request((offer,))
            await wire.send(frame(self.protocol.payload_type(SapKind.supportedAppProtocolReq), encode_message(sap)))
            item = await wire.next(SAP.timing(SapKind.supportedAppProtocolReq, self.config.timing).evcc_timeout)
            code = str(getattr(decode(item), "response_code", "")) if isinstance(item, Received) else ""
        except (StepFailed, OSError, ConnectionError):
            return True
        finally:
            await wire.close()
        self.rec.note(f"probe on a new connection: an offer of {namespace} alone is answered {code or 'not at all'}")
        return code != SapCode.Failed_NoNegotiation

    def _check_session_id(self, msg: Any, name: str, code: str) -> None:
        header = getattr(msg, "header", None)
        if header is None or not self.ctx.established or name == "SessionSetupRes" or code.upper().startswith("FAIL"):
            return
        if header.session_id != self.ctx.session_id:
            raise StepFailed(
                f"{name} carries SessionID {header.session_id.hex()}, the session's is "
                f"{self.ctx.session_id.hex()} [{self.protocol.profile.session_id_rule()}]"
            )

    async def exchange(self, step: Exchange) -> None:
        """Step :class:`Exchange`: a request and its response, repeated while the EV or the SECC says Ongoing.

        The EV repeats while the SECC answers Ongoing [V2G20-1582/1593] for at most V2G_EVCC_Ongoing_Timeout (the
        time it took is measured against V2G_SECC_Ongoing_Performance_Time), and while it is not done itself
        (precharge, welding detection: up to 50 requests): a -20 request says so (EVProcessing Ongoing); in DIN
        and -2 the library EV plans the same request again."""
        timing = self.config.timing
        started = self.rec.clock()
        waited, own = False, 0
        response = self.protocol.response_kind(step.kind)
        while True:
            await self.send(Send(kind=step.kind, fields=step.fields, context=step.context, stream=step.stream))
            request = self.ctx.last_request
            msg = await self.expect(Expect(kind=response, codes=step.codes, checks=step.checks))
            elapsed = self.rec.clock() - started
            if self.protocol.processing(msg).startswith("Ongoing"):
                waited = True
                if elapsed > timing.evcc_ongoing_timeout:
                    limit = f"{timing.evcc_ongoing_timeout:g} s (V2G_EVCC_Ongoing_Timeout)"
                    raise StepFailed(f"{step.kind} still Ongoing after {limit}")
            elif self._ev_not_done(step.kind, request):
                if self.ctx.ev_stop is not None:
                    raise StepFailed(f"the tester EV gives up: {self.ctx.ev_stop}")
                own += 1
                if own >= _REPEATS:
                    raise StepFailed(f"{step.kind} still Ongoing on the EV's side after {_REPEATS} requests")
            else:
                break
            await asyncio.sleep(_ONGOING_PAUSE)
        if waited:
            self.rec.measure(
                Measurement(
                    what=f"{response} Ongoing until Finished",
                    measured=round(elapsed, 6),
                    limit=timing.secc_ongoing_performance,
                    kind="ongoing",
                    requirement=f"{self.protocol.profile.timer_requirement(Timer.SECC_ONGOING)} "
                    "(V2G_SECC_Ongoing_Performance_Time)",
                )
            )

    def _ev_not_done(self, kind: str, request: Any) -> bool:
        """The tester EV is not done with ``kind`` yet: its request said EVProcessing Ongoing (-20), or the library
        EV plans the same request again (DIN and -2 precharge and welding detection; never a charge loop, whose
        repetitions are the steps')."""
        body = self.protocol.body(request)
        if str(getattr(body, "ev_processing", "") or "").startswith("Ongoing"):
            return True
        return self.protocol.stays_by_plan and kind not in self.protocol.loop_kinds() and self.ctx.ev_next == kind

    async def walk(self, step: Walk) -> None:
        """Step :class:`Walk`: the default session from ``start`` to ``until``."""
        family = self.ctx.profile.family
        past = step.past_loop or step.loops > 0
        for hop in segment(family, step.start, step.until, past_loop=past, protocol=self.protocol):
            try:
                await self._hop(hop, step)
            except StepFailed as exc:
                raise StepFailed(f"{hop.kind}: {exc}") from None

    async def _hop(self, hop: Hop, step: Walk) -> None:
        checks = tuple(step.checks.get(hop.kind, ()))
        if hop.loop:
            await self.loop(Loop(count=step.loops, checks=checks, interval=step.interval))
            return
        if hop.planned and self.ctx.ev_next != hop.kind:
            return  # the library EV does not send it here (a value-added ServiceDetail it does not want)
        if hop.ends_loop:
            stopping(self.ctx, step.stop)  # the EV has looped enough [V2G20-1610]
        await self.exchange(Exchange(kind=hop.kind, codes=_CODES.get(hop.kind, ("OK*",)), checks=checks))

    async def loop(self, step: Loop) -> None:
        """Step :class:`Loop`: charge-loop exchanges."""
        kind = loop_kind(self.ctx.profile.family, self.protocol)
        for index in range(step.count):
            if index and step.interval:
                await asyncio.sleep(step.interval)
            await self.exchange(Exchange(kind=kind, fields=step.fields, codes=step.codes, checks=step.checks))


def _anonymous_client(tolerant: bool) -> ssl.SSLContext:
    """TLS without a PKI: no client certificate, the SECC's certificate not verified (lab peers only)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2 if tolerant else ssl.TLSVersion.TLSv1_3
    return context
