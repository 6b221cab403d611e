"""The sans-I/O session core: bytes and ``now`` in; events, bytes to send and the next deadline out.

::

    conn = Connection(Role.SECC, now=t, config=SessionConfig(profiles=PROFILES))
    events = conn.receive_data(chunk, now=t)     # -> RequestReceived, SessionEnded, CloseRequested...
    conn.send(response, now=t)                   # the application answers a RequestReceived
    wire = conn.data_to_send()                   # bytes for the socket
    conn.next_deadline(); conn.handle_timeout(t) # timers, as data

The core owns framing (V2GTP, incremental), the admission of frames, the sequence table, SessionID checks, the
generic FAILED responses and every timer. Everything that differs between protocol generations comes from the
:class:`~iso15118.session.profile.Profile` the connection is on: it starts on SupportedAppProtocol and switches
to the negotiated one. The core makes no decision an application owns: the SECC's answers and the EVCC's next
request come from outside, through :meth:`Connection.send`. It never blocks, reads no clock and opens no socket.

Every byte from the network is hostile, so work is refused before it is done:

* a frame's header is judged as soon as its 8 bytes are there: a payload type the state does not expect, or a
  payload longer than the state's maximum (the profile's ``max_payload``), ends the session before the payload
  is buffered, let alone decoded;
* the SECC answers requests strictly in order: a frame that arrives while a request is being answered waits
  (at most ``max_queued_frames`` of them; a peer that pipelines more is refused) and is processed — judged
  against the state it will then meet — once the answer is sent.

Both roles share the code and the table. The SECC treats sequence violations as the peer's
(:class:`~iso15118.errors.RemoteProtocolError`: answered with FAILED_SequenceError, then the session ends);
the EVCC treats them as its own (:class:`~iso15118.errors.LocalProtocolError` raised to the application).
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum
from typing import Any

from iso15118.errors import CodecError, FramingError, LocalProtocolError, ProtocolError, RemoteProtocolError
from iso15118.session.admission import RULE_STATE_PAYLOAD, RULE_STATE_SIZE, judge
from iso15118.session.config import Role, SessionConfig
from iso15118.session.context import CoreState, Pending, SessionContext
from iso15118.session.decoding import decode_payload
from iso15118.session.events import (
    CloseRequested,
    EndReason,
    Event,
    FrameIgnored,
    MessageReceived,
    MessageSent,
    PerformanceTimeExceeded,
    ProtocolNegotiated,
    RequestReceived,
    ResponseReceived,
    SessionEnded,
    SessionEstablished,
)
from iso15118.session.exchange import advance, next_request_due, track_ongoing
from iso15118.session.profile import MessageTiming, Profile, Rule, Stream
from iso15118.session.rules import check_request, check_response, foreign_session_id
from iso15118.session.sap import SAP, negotiation_failure, offered_protocol
from iso15118.session.selection import Selection
from iso15118.session.timers import Deadlines, Timer
from iso15118.v2gtp import Deframer, Frame, frame

__all__ = ["Connection", "Role", "SessionConfig"]


class Connection:
    """One V2G communication session over one connection, for either role."""

    def __init__(self, role: Role, *, now: float, config: SessionConfig | None = None) -> None:
        self.role = role
        self.config = config or SessionConfig()
        self._deframer = Deframer(max_payload_length=self.config.max_payload_length, admit=self._admit)
        self._queue: deque[Frame] = deque()
        self._out = bytearray()
        self._s = SessionContext(profile=SAP, state=SAP.initial_state)
        self._timers = Deadlines()
        self._ended: SessionEnded | None = None
        self._closing = False
        t = self.config.timing
        if role is Role.SECC:
            # The sequence timer already runs while waiting for supportedAppProtocolReq [V2G20-1483].
            self._timers.arm(Timer.SECC_SEQUENCE, now + t.secc_sequence_timeout)
            self._timers.arm(Timer.SECC_COMMUNICATION_SETUP, now + t.secc_communication_setup)
        else:
            self._timers.arm(Timer.EVCC_COMMUNICATION_SETUP, now + t.evcc_communication_setup)

    # ---- state ---------------------------------------------------------------------------------------
    @property
    def state(self) -> StrEnum:
        """Where the main stream is (the profile's state, or ``ended``)."""
        return self._s.state

    @property
    def profile(self) -> Profile:
        """The profile the connection is on (SupportedAppProtocol until a protocol is agreed)."""
        return self._s.profile

    @property
    def selection(self) -> Selection:
        """What the session agreed so far (namespace, energy family, service, control mode...)."""
        return self._s.selection

    @property
    def session_id(self) -> bytes:
        """The SessionID (eight zero bytes until SessionSetup succeeded)."""
        return self._s.session_id

    @property
    def negotiated_namespace(self) -> str | None:
        """The protocol SupportedAppProtocol agreed on."""
        return self._s.namespace

    @property
    def ended(self) -> SessionEnded | None:
        """The SessionEnded event, once the session is over."""
        return self._ended

    def pending_request(self, stream: Stream = Stream.MAIN) -> Any:
        """The request awaiting its response on a stream, or None."""
        pending = self._s.streams[stream].pending
        return pending.request if pending else None

    def kind_of(self, message: Any) -> StrEnum | None:
        """A message's kind under the current profile."""
        return self._s.profile.kind_of(message)

    def allowed(self, stream: Stream = Stream.MAIN) -> tuple[StrEnum, ...]:
        """The request kinds the table admits on the main stream now (for EVCC logic and tools)."""
        return self._s.profile.table.kinds_in(self._s.state, self._s.selection)

    def timing(self, kind: StrEnum) -> MessageTiming:
        """The timers of a request kind under the current profile and the session's timer values."""
        return self._s.profile.timing(kind, self.config.timing)

    # ---- I/O boundary --------------------------------------------------------------------------------
    def data_to_send(self) -> bytes:
        """Bytes queued for the peer (and clear the queue)."""
        data = bytes(self._out)
        self._out.clear()
        return data

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timeout` must be called next (None: no timer armed)."""
        return self._timers.next()

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Feed bytes from the peer; returns what happened."""
        if self._ended is not None or self._closing:
            return []
        try:
            frames = self._deframer.feed(data)
        except FramingError as exc:
            reason = EndReason.REFUSED if exc.rule in (RULE_STATE_PAYLOAD, RULE_STATE_SIZE) else EndReason.FRAMING_ERROR
            return self._end(now, reason, str(exc), requirement=exc.rule, close_in=0.0)
        self._queue.extend(frames)
        held = sum(len(f.payload) for f in self._queue)
        if len(self._queue) > self.config.max_queued_frames or held > self.config.max_queued_bytes:
            return self._end(
                now,
                EndReason.REFUSED,
                f"{len(self._queue)} requests ({held} bytes) pipelined without waiting for their responses "
                f"(at most {self.config.max_queued_frames} frames and {self.config.max_queued_bytes} bytes are held)",
                close_in=0.0,
            )
        return self._drain(now)

    def _drain(self, now: float) -> list[Event]:
        events: list[Event] = []
        while self._queue and self._ended is None:
            if self.role is Role.SECC and self._s.pending_anywhere():
                break  # answered strictly in order: the next request waits for this answer
            fr = self._queue.popleft()
            events += self._receive_frame(fr.payload_type, fr.payload, now)
        return events

    def connection_lost(self, now: float) -> list[Event]:
        """The transport lost the connection."""
        if self._ended is not None:
            return []
        self._queue.clear()
        self._timers.cancel_all()
        self._ended = SessionEnded(at=now, reason=EndReason.CONNECTION_LOST, detail="connection closed by the peer")
        return [self._ended]

    def abort(self, now: float, detail: str) -> list[Event]:
        """End the session from this side without the standard's ending, and close (nothing more is sent)."""
        self._queue.clear()
        return self._end(now, EndReason.ABORTED, detail, close_in=0.0)

    def header(self, now: float) -> Any:
        """A header with the session's SessionID and ``now`` as TimeStamp, for building messages."""
        return self._s.profile.header(self._s.session_id, now)

    # ---- admission -------------------------------------------------------------------------------------
    def _admit(self, payload_type: int, length: int, offset: int, earlier: int) -> None:
        """Deframer hook: judge a header before its payload is buffered (raises FramingError)."""
        if self.role is Role.EVCC:
            return  # the EV ignores what is not the response it waits for [V2G20-436…440], unread
        if not earlier and not self._queue and not self._s.pending_anywhere():
            # Processed at once, in the current state: judge it against that state now. Otherwise it is judged
            # when its turn comes, against the state (and profile) it then meets.
            self._judge(payload_type, length, offset)

    def _judge(self, payload_type: int, length: int, offset: int) -> Stream:
        return judge(self._s.profile, self._s.state, payload_type, length, offset)

    # ---- receiving -------------------------------------------------------------------------------------
    def _receive_frame(self, payload_type: int, payload: bytes, now: float) -> list[Event]:
        profile = self._s.profile
        stream = profile.stream_of(payload_type)
        if self.role is Role.SECC:
            try:
                # A frame that waited in the queue meets a later state: judge it again, still before decoding.
                stream = self._judge(payload_type, len(payload), 0)
            except FramingError as exc:
                return self._end(now, EndReason.REFUSED, exc.reason, requirement=exc.rule, close_in=0.0)
        elif stream is None or self._s.streams[stream].pending is None:
            # Not the response the EV waits for: ignored unread [V2G20-436…440].
            reason = f"payload type 0x{payload_type:04X} while expecting {self._expected()}"
            return [FrameIgnored(at=now, reason=reason, payload_type=payload_type)]
        try:
            msg, tolerated = decode_payload(profile, payload_type, payload, now, tolerant=self.config.tolerant_decoding)
        except CodecError as exc:
            # Nothing typed can be answered to an undecodable request: end the session and close.
            detail = f"payload type 0x{payload_type:04x} ({profile.name}), bit offsets count from the payload: {exc}"
            return self._end(now, EndReason.DECODE_ERROR, detail, close_in=0.0)
        kind = profile.kind_of(msg)
        stream = stream or Stream.MAIN
        events: list[Event] = [
            *tolerated,
            MessageReceived(at=now, message=msg, payload_type=payload_type, stream=stream, data=payload),
        ]
        if kind is None:
            return events + self._end(
                now, EndReason.PROTOCOL_ERROR, f"{type(msg).__name__} is not a message of {profile.name}", close_in=0.0
            )
        if self.role is Role.SECC:
            events += self._secc_receive(msg, kind, stream, payload_type, now)
        else:
            events += self._evcc_receive(msg, kind, stream, payload_type, now)
        return events

    def _secc_receive(self, msg: Any, kind: StrEnum, stream: Stream, payload_type: int, now: float) -> list[Event]:
        profile = self._s.profile
        if not profile.is_request(kind):
            return self._end(now, EndReason.PROTOCOL_ERROR, f"the EVCC sent a response ({kind})", close_in=0.0)
        try:
            rule = check_request(self._s, self.config, msg, kind, stream, RemoteProtocolError)
        except RemoteProtocolError as exc:
            return self._fail_request(msg, kind, payload_type, stream, exc, now)
        respond_by = now + self.timing(kind).secc_performance
        self._s.streams[stream].pending = Pending(
            msg, kind, payload_type, now, respond_by, rule if isinstance(rule, Rule) else None
        )
        self._timers.cancel(Timer.SECC_SEQUENCE)
        self._timers.arm(Timer.SECC_PERFORMANCE, respond_by, stream)
        return [RequestReceived(at=now, message=msg, stream=stream, payload_type=payload_type, respond_by=respond_by)]

    def _evcc_receive(self, msg: Any, kind: StrEnum, stream: Stream, payload_type: int, now: float) -> list[Event]:
        profile = self._s.profile
        st = self._s.streams[stream]
        pending = st.pending
        expected = profile.response_of(pending.kind) if pending is not None else None
        if pending is None or kind != expected:
            # Not the expected response: ignored [V2G20-436…440].
            return [
                FrameIgnored(
                    at=now, reason=f"{kind} while expecting {expected or 'nothing'}", payload_type=payload_type
                )
            ]
        st.pending = None
        self._timers.cancel(Timer.EVCC_MESSAGE, stream)
        foreign = foreign_session_id(self._s, self.config, msg, kind)
        if foreign is not None:
            return self._end(
                now, EndReason.PROTOCOL_ERROR, foreign, requirement=profile.session_id_rule(), close_in=0.0
            )
        events: list[Event] = []
        events += self._after_exchange(pending, msg, stream, now)
        code = profile.response_code(msg)
        if self._ended is None and profile.is_failed(code):
            events += self._end(now, EndReason.FAILED_RECEIVED, f"{kind}: {code}", response_code=code, close_in=0.0)
        ongoing = self._ended is None and stream is Stream.MAIN
        send_next_by = next_request_due(profile, pending.kind, self.config.timing, now) if ongoing else None
        events.insert(
            0,
            ResponseReceived(
                at=now,
                message=msg,
                request=pending.request,
                stream=stream,
                elapsed=now - pending.sent_or_received,
                send_next_by=send_next_by,
            ),
        )
        return events

    def _expected(self) -> str:
        pending = [st.pending for st in self._s.streams.values() if st.pending is not None]
        return ", ".join(str(self._s.profile.response_of(p.kind)) for p in pending) or "nothing"

    # ---- sending ---------------------------------------------------------------------------------------
    def send(self, message: Any, now: float, *, stream: Stream = Stream.MAIN) -> list[Event]:
        """Send a message: the SECC's response to the pending request, or the EVCC's next request.

        SECC: the events of requests that waited for this answer follow the send's own events.
        """
        if self._ended is not None:
            raise LocalProtocolError(f"the session has ended ({self._ended.reason}); nothing more can be sent")
        if self.role is Role.SECC:
            events = self._secc_send(message, now, stream)
            return events + self._drain(now)
        return self._evcc_send(message, now, stream)

    def _encode(self, message: Any, payload_type: int, stream: Stream, now: float) -> Event:
        data = self._s.profile.encode(message)
        self._out += frame(payload_type, data)
        return MessageSent(at=now, message=message, payload_type=payload_type, stream=stream, data=data)

    def _secc_send(self, message: Any, now: float, stream: Stream) -> list[Event]:
        profile = self._s.profile
        kind = profile.kind_of(message)
        pending = check_response(self._s, message, kind, stream)
        events: list[Event] = [self._encode(message, pending.payload_type, stream, now)]
        self._s.streams[stream].pending = None
        self._timers.cancel(Timer.SECC_PERFORMANCE, stream)
        took = now - pending.sent_or_received
        timing = profile.timing(pending.kind, self.config.timing)
        if took > timing.secc_performance:
            events.append(
                PerformanceTimeExceeded(
                    at=now,
                    what=f"{kind} after {took:.3f} s",
                    limit=timing.secc_performance,
                    actual=took,
                    requirement=profile.timer_requirement(Timer.SECC_PERFORMANCE),
                )
            )
        events += self._after_exchange(pending, message, stream, now)
        code = profile.response_code(message)
        if self._ended is None and profile.is_failed(code):
            events += self._end(
                now,
                EndReason.FAILED_SENT,
                f"{kind}: {code}",
                response_code=code,
                close_in=self.config.timing.secc_close_after_failure,
            )
        if self._ended is None:
            # The sequence timer restarts with every response [V2G20-441].
            after = (
                timing.secc_sequence if timing.secc_sequence is not None else self.config.timing.secc_sequence_timeout
            )
            self._timers.arm(Timer.SECC_SEQUENCE, now + after)
        return events

    def _evcc_send(self, message: Any, now: float, stream: Stream) -> list[Event]:
        profile = self._s.profile
        kind = profile.kind_of(message)
        if kind is None or not profile.is_request(kind):
            agreed = "" if profile is not SAP else " (no protocol agreed yet: supportedAppProtocolReq comes first)"
            raise LocalProtocolError(
                f"the EVCC sends requests of {profile.name}, not {type(message).__name__}{agreed}",
                response_code=profile.sequence_error(),
            )
        st = self._s.streams[stream]
        if st.pending is not None:
            raise LocalProtocolError(f"{st.pending.kind} is still waiting for its response on the {stream} stream")
        rule = check_request(self._s, self.config, message, kind, stream, LocalProtocolError)
        payload_type = profile.payload_type(kind, stream)
        events: list[Event] = [self._encode(message, payload_type, stream, now)]
        deadline = now + profile.timing(kind, self.config.timing).evcc_timeout
        st.pending = Pending(message, kind, payload_type, now, deadline, rule if isinstance(rule, Rule) else None)
        self._timers.arm(Timer.EVCC_MESSAGE, deadline, stream)
        if profile is SAP:
            self._s.sap_request = message
        return events

    # ---- state machine -----------------------------------------------------------------------------------
    def _after_exchange(self, pending: Pending, response: Any, stream: Stream, now: float) -> list[Event]:
        """Advance the state machine after a request/response pair (both roles)."""
        s = self._s
        processing = s.profile.processing(response)
        evcc = self.role is Role.EVCC
        track_ongoing(
            s.streams[stream], pending, processing, stream, now, self._timers, evcc=evcc, timing=self.config.timing
        )
        if s.profile is SAP and stream is Stream.MAIN:
            return self._negotiated(pending.request, response, now)
        done = advance(s, pending, response, stream)
        events: list[Event] = []
        if done.setup is not None:
            resumed, evcc_id, evse_id = done.setup
            self._timers.cancel(Timer.SECC_COMMUNICATION_SETUP)
            self._timers.cancel(Timer.EVCC_COMMUNICATION_SETUP)
            events.append(
                SessionEstablished(at=now, session_id=s.session_id, resumed=resumed, evcc_id=evcc_id, evse_id=evse_id)
            )
        if done.stopped is not None:
            reason = EndReason.PAUSED if done.stopped == "Pause" else EndReason.TERMINATED
            # After SessionStopRes the SECC waits for the EV to close TCP first [V2G20-1633].
            close_in = 0.0 if evcc else self.config.timing.secc_close_after_stop
            requirement = None if evcc else s.profile.timer_requirement(Timer.CLOSE)
            events += self._end(now, reason, f"SessionStop({done.stopped})", close_in=close_in, requirement=requirement)
        return events

    def _negotiated(self, request: Any, response: Any, now: float) -> list[Event]:
        s = self._s
        failure = negotiation_failure(request, response, self.config.profiles)
        if failure is not None:
            reason, detail, code = failure
            return self._end(now, reason, detail, response_code=code, close_in=0.0)
        proto = offered_protocol(request, response.schema_id)
        assert proto is not None  # negotiation_failure checked it
        s.namespace = proto.protocol_namespace
        s.profile = profile = self.config.profiles[proto.protocol_namespace]
        s.state = profile.initial_state
        s.selection = profile.selection_for(proto.protocol_namespace)
        version = (proto.version_number_major, proto.version_number_minor)
        return [
            ProtocolNegotiated(
                at=now,
                namespace=proto.protocol_namespace,
                schema_id=proto.schema_id,
                version=version,
                profile=profile.name,
            )
        ]

    # ---- ending ----------------------------------------------------------------------------------------
    def _fail_request(
        self, request: Any, kind: StrEnum, payload_type: int, stream: Stream, exc: ProtocolError, now: float
    ) -> list[Event]:
        """SECC: answer a rule-breaking request with its FAILED response, then end [V2G20-1483…]."""
        profile = self._s.profile
        response = profile.failure(request, kind, exc.response_code, self.header(now))
        code = profile.response_code(response)
        events: list[Event] = [self._encode(response, payload_type, stream, now)]
        events += self._end(
            now,
            EndReason.PROTOCOL_ERROR,
            str(exc),
            response_code=code,
            requirement=exc.requirement,
            close_in=self.config.timing.secc_close_after_failure,
        )
        return events

    def _end(
        self,
        now: float,
        reason: EndReason,
        detail: str,
        *,
        response_code: str | None = None,
        requirement: str | None = None,
        close_in: float = 0.0,
    ) -> list[Event]:
        if self._ended is not None:
            return []
        self._s.state = CoreState.ENDED
        self._queue.clear()
        self._timers.cancel_all()
        self._ended = SessionEnded(
            at=now, reason=reason, detail=detail, response_code=response_code, requirement=requirement
        )
        if close_in > 0:
            # Close later unless the peer closes first; handle_timeout reports the deadline again.
            self._timers.arm(Timer.CLOSE, now + close_in)
        else:
            self._closing = True
        return [self._ended, CloseRequested(at=now, close_at=now + close_in, requirement=requirement)]

    # ---- timers ------------------------------------------------------------------------------------------
    def handle_timeout(self, now: float) -> list[Event]:
        """Process every deadline that has passed."""
        events: list[Event] = []
        for timer, stream_name, at in self._timers.expire(now):
            requirement = self._s.profile.timer_requirement(timer)
            if timer is Timer.CLOSE:
                self._closing = True
                events.append(CloseRequested(at=now, close_at=at, requirement=requirement))
            elif timer is Timer.SECC_PERFORMANCE or timer is Timer.SECC_ONGOING:
                # The SECC's own lateness is reported; the session goes on (the EV's timers decide).
                pending = self._s.streams[Stream(stream_name)].pending
                if timer is Timer.SECC_ONGOING:
                    what, limit = "EVSEProcessing still Ongoing", self.config.timing.secc_ongoing_performance
                else:
                    what = f"answer to {pending.kind if pending else 'the request'} not sent"
                    limit = self.timing(pending.kind).secc_performance if pending else 0.0
                events.append(
                    PerformanceTimeExceeded(at=now, what=what, limit=limit, actual=limit, requirement=requirement)
                )
            else:
                close_in = self.config.timing.secc_close_after_failure if self.role is Role.SECC else 0.0
                detail = f"{timer} expired ({stream_name} stream)"
                events += self._end(now, EndReason.TIMEOUT, detail, requirement=requirement, close_in=close_in)
                break
        return events
