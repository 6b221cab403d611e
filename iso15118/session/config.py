"""What a session core is told when it is made: which end it plays and its settings.

Both are frozen values passed down explicitly (no globals, no environment); the adapters and the harness
build them and hand them to :class:`~iso15118.session.connection.Connection`. ``profiles`` maps each protocol
namespace the session may negotiate to the :class:`~iso15118.session.profile.Profile` that speaks it;
:data:`iso15118.profiles.PROFILES` holds every generation this library implements.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from iso15118.session.profile import Profile
from iso15118.session.timers import DEFAULT_TIMING, Timing

__all__ = ["MAX_QUEUED_BYTES", "MAX_QUEUED_FRAMES", "Role", "SessionConfig"]

MAX_QUEUED_FRAMES: Final = 64
"""Complete frames the SECC holds while a request is being answered (a peer that pipelines more is refused)."""
MAX_QUEUED_BYTES: Final = 262144
"""...and the payload bytes they may hold together: two maximal ScheduleExchangeReq, a whole small session."""


class Role(StrEnum):
    """Which end of the connection this core plays."""

    EVCC = "evcc"
    SECC = "secc"


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionConfig:
    """Settings of one connection's session core."""

    profiles: Mapping[str, Profile] = field(default_factory=dict)
    """Namespace -> profile: what SupportedAppProtocol may switch the connection to."""
    timing: Timing = DEFAULT_TIMING
    max_payload_length: int = 131072
    """Largest V2GTP payload accepted in any state (a maximal -20 ScheduleExchangeReq is about 104 KB); each
    state has its own, smaller maximum from the profile."""
    check_session_id: bool = True
    """Reject a request whose SessionID differs from the session's [V2G20-457…462]."""
    side_streams: bool = True
    """Accept the schedule renegotiation and metering confirmation side streams."""
    max_queued_frames: int = MAX_QUEUED_FRAMES
    max_queued_bytes: int = MAX_QUEUED_BYTES
    tolerant_decoding: bool = False
    """Accept a message that deviates from its schema the way EXIficient writes it (non-strict undeclared
    productions, e.g. a FAILED response with an empty required list), reporting each deviation as a
    :class:`~iso15118.session.events.SchemaDeviationTolerated` event; strict (the default) ends the session."""
