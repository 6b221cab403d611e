"""The sans-I/O session core: bytes and ``now`` in; events, bytes to send and the next deadline out.

::

    conn = Connection(Role.SECC, now=t)          # one TCP/TLS connection
    events = conn.receive_data(chunk, now=t)     # -> RequestReceived, SessionEnded, CloseRequested...
    conn.send(response, now=t)                   # the application answers a RequestReceived
    wire = conn.data_to_send()                   # bytes for the socket
    conn.next_deadline(); conn.handle_timeout(t) # timers, as data

The core owns framing (V2GTP, incremental), the codec (the payload type picks the grammar), the sequence
table (:mod:`~iso15118.session.states`), SessionID checks, the generic FAILED responses
(:mod:`~iso15118.session.failures`) and every timer (:mod:`~iso15118.session.timers`). It makes no decision
an application owns: the SECC's answers and the EVCC's next request come from outside, through
:meth:`Connection.send`. It never blocks, reads no clock and opens no socket.

Both roles share the code and the table. The SECC treats sequence violations as the peer's
(:class:`~iso15118.errors.RemoteProtocolError`: answered with FAILED_SequenceError, then the session ends);
the EVCC treats them as its own (:class:`~iso15118.errors.LocalProtocolError` raised to the application).
"""

from __future__ import annotations

from typing import Any

from iso15118.codec import decode_message, encode_message, payload_type_of
from iso15118.constants import PayloadType
from iso15118.errors import (
    CodecError,
    FramingError,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
)
from iso15118.messages.iso20 import MessageHeader
from iso15118.session.config import Role, SessionConfig
from iso15118.session.context import PAYLOAD_OF_STREAM, STREAM_OF_PAYLOAD, Pending, SessionContext, StreamContext
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
from iso15118.session.failures import failure_response, response_kind
from iso15118.session.rules import check_request, check_response, foreign_session_id, offered_protocol
from iso15118.session.states import State, Stream, is_failed, next_side_state, next_state
from iso15118.session.timers import REQUIREMENT, Deadlines, Timer
from iso15118.v2gtp import Deframer, frame

# Role and SessionConfig live in :mod:`~iso15118.session.config`; they are re-exported here because
# adapters, the harness and tests import them next to Connection.
__all__ = ["Connection", "Role", "SessionConfig"]


class Connection:
    """One V2G communication session over one connection, for either role."""

    def __init__(self, role: Role, *, now: float, config: SessionConfig | None = None) -> None:
        self.role = role
        self.config = config or SessionConfig()
        self._deframer = Deframer(max_payload_length=self.config.max_payload_length)
        self._out = bytearray()
        self._s = SessionContext()
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
    def state(self) -> State:
        """Where the main stream is."""
        return self._s.state

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
            return self._end(now, EndReason.FRAMING_ERROR, str(exc), close_in=0.0)
        events: list[Event] = []
        for fr in frames:
            events += self._receive_frame(fr.payload_type, fr.payload, now)
            if self._done():
                break
        return events

    def _done(self) -> bool:
        return self._ended is not None

    def connection_lost(self, now: float) -> list[Event]:
        """The transport lost the connection."""
        if self._ended is not None:
            return []
        self._timers.cancel_all()
        self._ended = SessionEnded(at=now, reason=EndReason.CONNECTION_LOST, detail="connection closed by the peer")
        return [self._ended]

    def header(self, now: float) -> MessageHeader:
        """A MessageHeader with the session's SessionID and ``now`` as TimeStamp, for building messages."""
        return MessageHeader(session_id=self._s.session_id, time_stamp=int(now))

    # ---- receiving -------------------------------------------------------------------------------------
    def _receive_frame(self, payload_type: int, payload: bytes, now: float) -> list[Event]:
        try:
            msg = decode_message(payload, payload_type)
        except CodecError as exc:
            # Nothing typed can be answered to an undecodable request: end the session and close.
            return self._end(now, EndReason.DECODE_ERROR, f"payload type 0x{payload_type:04x}: {exc}", close_in=0.0)
        stream = STREAM_OF_PAYLOAD.get(PayloadType(payload_type), Stream.MAIN)
        events: list[Event] = [
            MessageReceived(at=now, message=msg, payload_type=payload_type, stream=stream, data=payload)
        ]
        kind = type(msg).__name__
        if self.role is Role.SECC:
            events += self._secc_receive(msg, kind, stream, payload_type, now)
        else:
            events += self._evcc_receive(msg, kind, stream, payload_type, now)
        return events

    def _secc_receive(self, msg: Any, kind: str, stream: Stream, payload_type: int, now: float) -> list[Event]:
        if not kind.endswith("Req"):
            return self._end(now, EndReason.PROTOCOL_ERROR, f"the EVCC sent a response ({kind})", close_in=0.0)
        st = self._s.streams[stream]
        try:
            if st.pending is not None:
                raise RemoteProtocolError(
                    f"{kind} arrived before {type(st.pending.request).__name__} was answered",
                    response_code="FAILED_SequenceError",
                )
            check_request(self._s, self.config, msg, kind, stream, RemoteProtocolError)
        except RemoteProtocolError as exc:
            return self._fail_request(msg, payload_type, exc, now)
        t = self.config.timing
        respond_by = now + t.secc_performance_for(kind)
        st.pending = Pending(msg, payload_type, now, respond_by)
        self._timers.cancel(Timer.SECC_SEQUENCE)
        self._timers.arm(Timer.SECC_PERFORMANCE, respond_by, stream)
        return [RequestReceived(at=now, message=msg, stream=stream, payload_type=payload_type, respond_by=respond_by)]

    def _evcc_receive(self, msg: Any, kind: str, stream: Stream, payload_type: int, now: float) -> list[Event]:
        st = self._s.streams[stream]
        pending = st.pending
        if pending is None or kind != response_kind(type(pending.request).__name__):
            # Not the expected response: ignored [V2G20-436…440].
            expected = response_kind(type(pending.request).__name__) if pending else "nothing"
            return [FrameIgnored(at=now, reason=f"{kind} while expecting {expected}", payload_type=payload_type)]
        st.pending = None
        self._timers.cancel(Timer.EVCC_MESSAGE, stream)
        request = pending.request
        code = str(getattr(msg, "response_code", "") or "")
        events: list[Event] = []
        foreign = foreign_session_id(self._s, self.config, msg, kind)
        if foreign is not None:
            return self._end(now, EndReason.PROTOCOL_ERROR, foreign, requirement="V2G20-457", close_in=0.0)
        events += self._after_exchange(request, msg, stream, now)
        if self._ended is None and is_failed(code):
            events += self._end(now, EndReason.FAILED_RECEIVED, f"{kind}: {code}", response_code=code, close_in=0.0)
        send_next_by: float | None = None
        if self._ended is None and stream is Stream.MAIN:
            send_next_by = now + self.config.timing.evcc_sequence_for(type(request).__name__)
        events.insert(
            0,
            ResponseReceived(
                at=now,
                message=msg,
                request=request,
                stream=stream,
                elapsed=now - pending.sent_or_received,
                send_next_by=send_next_by,
            ),
        )
        return events

    # ---- sending ---------------------------------------------------------------------------------------
    def send(self, message: Any, now: float, *, stream: Stream = Stream.MAIN) -> list[Event]:
        """Send a message: the SECC's response to the pending request, or the EVCC's next request."""
        if self._ended is not None:
            raise LocalProtocolError(f"the session has ended ({self._ended.reason}); nothing more can be sent")
        if self.role is Role.SECC:
            return self._secc_send(message, now, stream)
        return self._evcc_send(message, now, stream)

    def _encode(self, message: Any, payload_type: int, stream: Stream, now: float) -> Event:
        data = encode_message(message)
        self._out += frame(payload_type, data)
        return MessageSent(at=now, message=message, payload_type=payload_type, stream=stream, data=data)

    def _secc_send(self, message: Any, now: float, stream: Stream) -> list[Event]:
        st = self._s.streams[stream]
        pending = check_response(self._s, message, stream)
        kind = type(message).__name__
        events: list[Event] = [self._encode(message, pending.payload_type, stream, now)]
        st.pending = None
        self._timers.cancel(Timer.SECC_PERFORMANCE, stream)
        took = now - pending.sent_or_received
        limit = self.config.timing.secc_performance_for(type(pending.request).__name__)
        if took > limit:
            events.append(
                PerformanceTimeExceeded(
                    at=now,
                    what=f"{kind} after {took:.3f} s",
                    limit=limit,
                    actual=took,
                    requirement="V2G20 table 215/216",
                )
            )
        events += self._after_exchange(pending.request, message, stream, now)
        code = str(getattr(message, "response_code", "") or "")
        if self._ended is None and is_failed(code):
            events += self._end(
                now,
                EndReason.FAILED_SENT,
                f"{kind}: {code}",
                response_code=code,
                close_in=self.config.timing.secc_close_after_failure,
            )
        if self._ended is None:
            t = self.config.timing
            # The sequence timer restarts with every response [V2G20-441].
            self._timers.arm(Timer.SECC_SEQUENCE, now + t.secc_sequence_for(type(pending.request).__name__))
        return events

    def _evcc_send(self, message: Any, now: float, stream: Stream) -> list[Event]:
        kind = type(message).__name__
        if not kind.endswith("Req"):
            raise LocalProtocolError(f"the EVCC sends requests, not {kind}")
        st = self._s.streams[stream]
        if st.pending is not None:
            raise LocalProtocolError(
                f"{type(st.pending.request).__name__} is still waiting for its response on the {stream} stream"
            )
        check_request(self._s, self.config, message, kind, stream, LocalProtocolError)
        payload_type = PAYLOAD_OF_STREAM.get(stream) or payload_type_of(message)
        events: list[Event] = [self._encode(message, payload_type, stream, now)]
        t = self.config.timing
        deadline = now + t.evcc_timeout_for(kind)
        st.pending = Pending(message, payload_type, now, deadline)
        self._timers.arm(Timer.EVCC_MESSAGE, deadline, stream)
        if kind == "supportedAppProtocolReq":
            self._s.sap_request = message
        return events

    # ---- state machine -----------------------------------------------------------------------------------
    def _after_exchange(self, request: Any, response: Any, stream: Stream, now: float) -> list[Event]:
        """Advance the state machine after a request/response pair (both roles)."""
        s = self._s
        kind = type(request).__name__
        events: list[Event] = []
        st = s.streams[stream]
        processing = str(getattr(response, "evse_processing", "") or "")
        self._track_ongoing(st, kind, processing, stream, now)
        if stream is not Stream.MAIN:
            st.side = next_side_state(stream, st.side, request, response)
            return events
        previous = s.state
        s.state = next_state(previous, request, response)
        st.last_request = kind
        if kind == "AC_ChargeLoopReq":
            s.loop_started = True
        if kind == "supportedAppProtocolReq":
            events += self._negotiated(request, response, now)
        elif kind == "SessionSetupReq" and s.state is not State.ENDED:
            s.session_id = response.header.session_id
            s.established = True
            self._timers.cancel(Timer.SECC_COMMUNICATION_SETUP)
            self._timers.cancel(Timer.EVCC_COMMUNICATION_SETUP)
            resumed = str(response.response_code) == "OK_OldSessionJoined"
            events.append(
                SessionEstablished(
                    at=now, session_id=s.session_id, resumed=resumed, evcc_id=request.evcc_id, evse_id=response.evse_id
                )
            )
        if (
            kind == "SessionStopReq"
            and s.state is State.ENDED
            and not is_failed(getattr(response, "response_code", ""))
        ):
            pause = str(getattr(request, "charging_session", "")) == "Pause"
            reason = EndReason.PAUSED if pause else EndReason.TERMINATED
            # After SessionStopRes the SECC waits for the EV to close TCP first [V2G20-1633].
            close_in = self.config.timing.secc_close_after_stop if self.role is Role.SECC else 0.0
            events += self._end(
                now,
                reason,
                f"SessionStop({request.charging_session})",
                close_in=close_in,
                requirement="V2G20-1633" if self.role is Role.SECC else None,
            )
        return events

    def _negotiated(self, request: Any, response: Any, now: float) -> list[Event]:
        s = self._s
        if is_failed(response.response_code) or response.schema_id is None:
            return self._end(
                now,
                EndReason.NO_PROTOCOL,
                f"SupportedAppProtocol: {response.response_code}",
                response_code=str(response.response_code),
                close_in=0.0,
            )
        proto = offered_protocol(request, response.schema_id)
        if proto is None:
            return self._end(
                now, EndReason.PROTOCOL_ERROR, f"SchemaID {response.schema_id} was not offered", close_in=0.0
            )
        s.namespace = proto.protocol_namespace
        version = (proto.version_number_major, proto.version_number_minor)
        return [
            ProtocolNegotiated(at=now, namespace=proto.protocol_namespace, schema_id=proto.schema_id, version=version)
        ]

    def _track_ongoing(self, st: StreamContext, kind: str, processing: str, stream: Stream, now: float) -> None:
        t = self.config.timing
        if processing.startswith("Ongoing"):
            if st.ongoing_since is None or st.last_request != kind:
                st.ongoing_since = now
                timer = Timer.EVCC_ONGOING if self.role is Role.EVCC else Timer.SECC_ONGOING
                limit = t.evcc_ongoing_timeout if self.role is Role.EVCC else t.secc_ongoing_performance
                self._timers.arm(timer, now + limit, stream)
        else:
            st.ongoing_since = None
            self._timers.cancel(Timer.EVCC_ONGOING, stream)
            self._timers.cancel(Timer.SECC_ONGOING, stream)
        st.last_request = kind

    # ---- ending ----------------------------------------------------------------------------------------
    def _fail_request(self, request: Any, payload_type: int, exc: ProtocolError, now: float) -> list[Event]:
        """SECC: answer a rule-breaking request with its FAILED response, then end [V2G20-1483…]."""
        header = None if type(request).__name__ == "supportedAppProtocolReq" else self.header(now)
        code = exc.response_code if header is not None else "Failed_NoNegotiation"
        response = failure_response(request, code, header)
        stream = STREAM_OF_PAYLOAD.get(PayloadType(payload_type), Stream.MAIN)
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
        self._s.state = State.ENDED
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
            if timer is Timer.CLOSE:
                self._closing = True
                events.append(CloseRequested(at=now, close_at=at, requirement=REQUIREMENT[timer]))
                continue
            if timer is Timer.SECC_PERFORMANCE:
                pending = self._s.streams[Stream(stream_name)].pending
                what = type(pending.request).__name__ if pending else "response"
                limit = self.config.timing.secc_performance_for(what)
                events.append(
                    PerformanceTimeExceeded(
                        at=now,
                        what=f"answer to {what} not sent",
                        limit=limit,
                        actual=limit,
                        requirement=REQUIREMENT[timer],
                    )
                )
                continue
            if timer is Timer.SECC_ONGOING:
                events.append(
                    PerformanceTimeExceeded(
                        at=now,
                        what="EVSEProcessing still Ongoing",
                        limit=self.config.timing.secc_ongoing_performance,
                        actual=self.config.timing.secc_ongoing_performance,
                        requirement=REQUIREMENT[timer],
                    )
                )
                continue
            close_in = self.config.timing.secc_close_after_failure if self.role is Role.SECC else 0.0
            events += self._end(
                now,
                EndReason.TIMEOUT,
                f"{timer} expired ({stream_name} stream)",
                requirement=REQUIREMENT[timer],
                close_in=close_in,
            )
            break
        return events
