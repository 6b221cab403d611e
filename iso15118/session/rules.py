"""The rules a message must keep before the core lets it through, as pure functions.

:func:`check_request` is the one gate for both roles: the SECC runs it on every request it receives
(raising :class:`~iso15118.errors.RemoteProtocolError`, answered with the FAILED response), the EVCC on
every request it is asked to send (raising :class:`~iso15118.errors.LocalProtocolError` to the
application). It reads the session and never changes it. The rules:

- the sequence table (:data:`~iso15118.session.states.SEQUENCE`) admits the request in the current
  state [V2G20-1483…1623];
- ``PowerDelivery(ScheduleRenegotiation)`` never travels on the main stream [V2G20-2018];
- side-stream requests follow :data:`~iso15118.session.states.SIDE_SEQUENCE` and run only beside a
  started charge loop [V2G20-1045];
- the SessionID matches the session's, except in SessionSetupReq [V2G20-457].

Responses: :func:`check_response` makes sure the SECC application answers the pending request with its
own response type and the session's SessionID; :func:`foreign_session_id` tells the EVCC that a response
carries another session's ID [V2G20-457]. :func:`offered_protocol` finds the SupportedAppProtocol entry
the SECC's SchemaID picked.
"""

from __future__ import annotations

from typing import Any

from iso15118.errors import LocalProtocolError, ProtocolError
from iso15118.messages.app_protocol import AppProtocol, supportedAppProtocolReq
from iso15118.session.config import SessionConfig
from iso15118.session.context import Pending, SessionContext
from iso15118.session.failures import response_kind
from iso15118.session.states import SEQUENCE, SIDE_SEQUENCE, State, Stream

__all__ = ["check_request", "check_response", "foreign_session_id", "offered_protocol"]


def check_request(
    s: SessionContext, config: SessionConfig, msg: Any, kind: str, stream: Stream, error: type[ProtocolError]
) -> None:
    """Raise ``error`` (with its FAILED response code) if ``msg`` may not be sent on ``stream`` now."""
    if stream is Stream.MAIN:
        requirement = SEQUENCE.get((s.state, kind))
        if requirement is None:
            raise error(
                f"{kind} is not allowed in state {s.state}",
                response_code="FAILED_SequenceError",
                requirement="V2G20-1483…1623",
            )
        if kind == "PowerDeliveryReq" and str(getattr(msg, "charge_progress", "")) == "ScheduleRenegotiation":
            # Schedule renegotiation happens on its side stream, never on the main stream [V2G20-2018].
            raise error(
                "PowerDelivery(ScheduleRenegotiation) on the main stream",
                response_code="FAILED_SequenceError",
                requirement="V2G20-2018",
            )
    else:
        side = s.streams[stream].side
        if not config.side_streams or (stream, side, kind) not in SIDE_SEQUENCE:
            raise error(f"{kind} is not allowed on the {stream} stream now", response_code="FAILED_SequenceError")
        if s.state is not State.CHARGE_LOOP or not s.loop_started:
            # Side streams run beside the charge loop only, after at least one ChargeLoopReq [V2G20-1045].
            raise error(
                f"{kind} on the {stream} stream outside the charge loop",
                response_code="FAILED_SequenceError",
                requirement="V2G20-1045",
            )
    header = getattr(msg, "header", None)
    if header is None or not config.check_session_id:
        return
    if kind == "SessionSetupReq":
        return
    if header.session_id != s.session_id:
        raise error(
            f"{kind} carries SessionID {header.session_id.hex()}, the session's is {s.session_id.hex()}",
            response_code="FAILED_UnknownSession",
            requirement="V2G20-457",
        )


def check_response(s: SessionContext, message: Any, stream: Stream) -> Pending:
    """SECC: the exchange ``message`` answers on ``stream``; raise LocalProtocolError if it answers none."""
    pending = s.streams[stream].pending
    kind = type(message).__name__
    if pending is None:
        raise LocalProtocolError(f"no request is waiting for an answer on the {stream} stream")
    expected = response_kind(type(pending.request).__name__)
    if kind != expected:
        raise LocalProtocolError(f"{kind} does not answer {type(pending.request).__name__} (expected {expected})")
    header = getattr(message, "header", None)
    if header is not None and s.established and header.session_id != s.session_id:
        raise LocalProtocolError(f"{kind} carries SessionID {header.session_id.hex()}, not the session's")
    return pending


def foreign_session_id(s: SessionContext, config: SessionConfig, msg: Any, kind: str) -> str | None:
    """EVCC: why a response's SessionID is not the established session's [V2G20-457], or None if it is."""
    header = getattr(msg, "header", None)
    if header is not None and s.established and config.check_session_id and header.session_id != s.session_id:
        return f"{kind} carries SessionID {header.session_id.hex()}, not {s.session_id.hex()}"
    return None


def offered_protocol(request: supportedAppProtocolReq, schema_id: int) -> AppProtocol | None:
    """The protocol the EVCC offered under ``schema_id``, or None if it offered none under that ID."""
    for proto in request.app_protocol:
        if proto.schema_id == schema_id:
            return proto
    return None
