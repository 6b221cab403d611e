"""What a session core is told when it is made: which end it plays and its settings.

Both are frozen values passed down explicitly (no globals, no environment); the adapters and the harness
build them and hand them to :class:`~iso15118.session.connection.Connection`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from iso15118.session.timers import DEFAULT_TIMING, Timing

__all__ = ["Role", "SessionConfig"]


class Role(StrEnum):
    """Which end of the connection this core plays."""

    EVCC = "evcc"
    SECC = "secc"


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionConfig:
    """Settings of one connection's session core."""

    timing: Timing = DEFAULT_TIMING
    max_payload_length: int = 65536
    """Largest V2GTP payload accepted (the -20 PnC messages with chains need > 16 KiB)."""
    check_session_id: bool = True
    """Reject a request whose SessionID differs from the session's [V2G20-457…462]."""
    side_streams: bool = True
    """Accept the schedule renegotiation and metering confirmation side streams."""
