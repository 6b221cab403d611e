"""What one session remembers between messages: the main state, the SessionID and each stream's exchange.

These are the core's private bookkeeping, kept as plain mutable dataclasses so that
:class:`~iso15118.session.connection.Connection` and the pure checks in :mod:`~iso15118.session.rules`
share one picture of the session. The profile the connection is on says which stream a payload type belongs to
(the -20 schedule renegotiation 0x8101 and metering confirmation 0x8102 side streams have their own).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from iso15118.session.profile import Profile, Rule, Stream
from iso15118.session.selection import Selection

__all__ = ["ZERO_SESSION", "CoreState", "Pending", "SessionContext", "StreamContext"]

ZERO_SESSION: Final = bytes(8)
"""The SessionID before SessionSetup succeeded."""


class CoreState(StrEnum):
    """The states every profile shares: the terminal one."""

    ENDED = "ended"


@dataclass
class Pending:
    """A request awaiting its response, and when it was sent (EVCC) or received (SECC)."""

    request: Any
    kind: StrEnum
    payload_type: int
    sent_or_received: float
    deadline: float
    rule: Rule | None = None
    """The table row that admitted it (main stream)."""


@dataclass
class StreamContext:
    """One stream's exchange in progress."""

    side: str = "idle"
    pending: Pending | None = None
    ongoing_since: float | None = None
    last_request: StrEnum | None = None


@dataclass
class SessionContext:
    """The whole session: profile, main-stream state, SessionID, what was selected, and every stream."""

    profile: Profile
    state: StrEnum
    session_id: bytes = ZERO_SESSION
    established: bool = False
    namespace: str | None = None
    selection: Selection = field(default_factory=Selection)
    sap_request: Any = None
    streams: dict[Stream, StreamContext] = field(default_factory=lambda: {s: StreamContext() for s in Stream})

    def pending_anywhere(self) -> bool:
        """True while any stream waits for a response."""
        return any(st.pending is not None for st in self.streams.values())
