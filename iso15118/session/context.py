"""What one session remembers between messages: the main state, the SessionID and each stream's exchange.

These are the core's private bookkeeping, kept as plain mutable dataclasses so that
:class:`~iso15118.session.connection.Connection` and the pure checks in :mod:`~iso15118.session.rules`
share one picture of the session. The payload type tells which stream a frame belongs to: the schedule
renegotiation (0x8101) and metering confirmation (0x8102) side streams have their own V2GTP payload types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from iso15118.constants import PayloadType
from iso15118.session.states import State, Stream

__all__ = ["PAYLOAD_OF_STREAM", "STREAM_OF_PAYLOAD", "ZERO_SESSION", "Pending", "SessionContext", "StreamContext"]

ZERO_SESSION: Final = bytes(8)
"""The SessionID before SessionSetup succeeded."""

STREAM_OF_PAYLOAD: Final = {
    PayloadType.SCHEDULE_RENEGOTIATION: Stream.SCHEDULE_RENEGOTIATION,
    PayloadType.METERING_CONFIRMATION: Stream.METERING_CONFIRMATION,
}
"""Side streams by payload type; every other payload type belongs to the main stream."""
PAYLOAD_OF_STREAM: Final = {v: k for k, v in STREAM_OF_PAYLOAD.items()}


@dataclass
class Pending:
    """A request awaiting its response, and when it was sent (EVCC) or received (SECC)."""

    request: Any
    payload_type: int
    sent_or_received: float
    deadline: float


@dataclass
class StreamContext:
    """One stream's exchange in progress."""

    side: str = "idle"
    pending: Pending | None = None
    ongoing_since: float | None = None
    last_request: str = ""


@dataclass
class SessionContext:
    """The whole session: main-stream state, SessionID, negotiated protocol and every stream."""

    state: State = State.WAIT_SAP
    session_id: bytes = ZERO_SESSION
    established: bool = False
    namespace: str | None = None
    sap_request: Any = None
    streams: dict[Stream, StreamContext] = field(default_factory=lambda: {s: StreamContext() for s in Stream})
    loop_started: bool = False
