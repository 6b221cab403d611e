"""Events the session core reports: frozen dataclasses, named in the past tense.

Every event carries ``at``, the ``now`` passed to the call that produced it (POSIX seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from iso15118.session.profile import Stream

__all__ = [
    "CloseRequested",
    "EndReason",
    "Event",
    "FrameIgnored",
    "MessageReceived",
    "MessageSent",
    "PerformanceTimeExceeded",
    "ProtocolNegotiated",
    "RequestReceived",
    "ResponseReceived",
    "SchemaDeviationTolerated",
    "SessionEnded",
    "SessionEstablished",
]


class EndReason(StrEnum):
    """Why a session ended."""

    TERMINATED = "terminated"
    """SessionStop(Terminate) answered: the normal end."""
    PAUSED = "paused"
    """SessionStop(Pause) answered: the session may be resumed by its SessionID."""
    FAILED_SENT = "failed_response_sent"
    """The SECC answered with a FAILED response code."""
    FAILED_RECEIVED = "failed_response_received"
    """The EVCC received a FAILED response code."""
    PROTOCOL_ERROR = "protocol_error"
    """The peer broke a sequence or session rule."""
    DECODE_ERROR = "decode_error"
    """A message could not be decoded."""
    FRAMING_ERROR = "framing_error"
    """A V2GTP header was invalid."""
    REFUSED = "refused"
    """A frame was refused before decoding: its payload type or size is not expected in the session's state."""
    TIMEOUT = "timeout"
    """A timer of the standard expired."""
    CONNECTION_LOST = "connection_lost"
    """The transport lost the connection before the session ended."""
    ABORTED = "aborted"
    """This side gave up on the session without the standard's ending (an operator's stop that the peer did not
    follow in time): the connection is closed."""
    NO_PROTOCOL = "no_common_protocol"
    """SupportedAppProtocol found nothing in common."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base class of all session events."""

    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageReceived(Event):
    """A message arrived and was decoded (for traces: direction in, raw EXI and decoded message)."""

    message: Any
    payload_type: int
    stream: Stream
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageSent(Event):
    """A message was encoded and queued for sending (for traces)."""

    message: Any
    payload_type: int
    stream: Stream
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestReceived(Event):
    """SECC: a request arrived in sequence; answer it with :meth:`Connection.send`."""

    message: Any
    stream: Stream
    payload_type: int
    respond_by: float
    """The message performance time: the response is due before this."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseReceived(Event):
    """EVCC: the response to the pending request arrived."""

    message: Any
    request: Any
    stream: Stream
    elapsed: float
    """Seconds between sending the request and receiving the response."""
    send_next_by: float | None
    """The EVCC sequence performance time: the next request should be sent before this."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolNegotiated(Event):
    """SupportedAppProtocol agreed on a protocol."""

    namespace: str
    schema_id: int
    version: tuple[int, int]
    profile: str = ""
    """The name of the profile the connection switched to."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionEstablished(Event):
    """SessionSetup succeeded."""

    session_id: bytes
    resumed: bool
    evcc_id: str
    evse_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionEnded(Event):
    """The session is over; ``response_code`` is the FAILED code sent or received, if any."""

    reason: EndReason
    detail: str
    response_code: str | None = None
    requirement: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseRequested(Event):
    """The transport should close the connection at ``close_at`` (already due when ``close_at <= at``)."""

    close_at: float
    requirement: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PerformanceTimeExceeded(Event):
    """A performance time of the standard was exceeded (reported; the session goes on)."""

    what: str
    limit: float
    actual: float
    requirement: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameIgnored(Event):
    """A frame that is not the expected response was ignored (EVCC) [V2G20-436…440]."""

    reason: str
    payload_type: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SchemaDeviationTolerated(Event):
    """A received message deviates from its schema and was accepted because decoding is tolerant.

    ``path`` is the element path (outermost first), ``bit_offset`` the position in the payload's EXI stream,
    ``what`` the kind of deviation and its description.
    """

    path: tuple[str, ...]
    bit_offset: int
    what: str
    payload_type: int
