"""What a finished request/response pair does to the session, for both roles: the table's next state, what the
session learnt (its selection), the SessionID once SessionSetup succeeded, a side stream's next state, and the
ongoing timer of a request the other side keeps answering ``Ongoing``.

The connection owns the events and the ending; these functions only update the session's bookkeeping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from iso15118.session.context import CoreState, Pending, SessionContext, StreamContext
from iso15118.session.profile import Profile, SideRule, Stream
from iso15118.session.timers import Deadlines, Timer, Timing

__all__ = ["Advanced", "advance", "next_request_due", "track_ongoing"]


@dataclass(frozen=True, slots=True)
class Advanced:
    """What an exchange on the main stream settled."""

    failed: bool
    """The response carried a FAILED code: the session is over."""
    setup: tuple[bool, str, str] | None = None
    """SessionSetup succeeded: (resumed, EVCCID, EVSEID); the SessionID is the session's now."""
    stopped: str | None = None
    """SessionStop ended the session regularly: ``Terminate`` or ``Pause``."""


def advance(s: SessionContext, pending: Pending, response: Any, stream: Stream) -> Advanced:
    """Move the session on after ``pending`` was answered by ``response`` (never for SupportedAppProtocol)."""
    profile = s.profile
    request, kind = pending.request, pending.kind
    failed = profile.is_failed(profile.response_code(response))
    if stream is not Stream.MAIN:
        st = s.streams[stream]
        side = profile.table.side.get((stream, st.side, kind)) if not failed else None
        st.side = side.next if isinstance(side, SideRule) else "idle"
        return Advanced(failed=failed)
    rule = pending.rule
    if failed or rule is None:
        s.state = CoreState.ENDED  # any FAILED response code ends the session
    else:
        s.state = profile.table.next_state(s.state, rule, s.selection, request, response)
    s.selection = profile.note(s.selection, kind, request, response)
    setup = profile.session_setup(kind, request, response) if not failed else None
    if setup is not None:
        s.session_id = profile.session_id(response) or s.session_id
        s.established = True
    how = profile.session_stop(kind, request)
    stopped = how if how is not None and s.state is CoreState.ENDED and not failed else None
    return Advanced(failed=failed, setup=setup, stopped=stopped)


def track_ongoing(
    st: StreamContext,
    pending: Pending,
    processing: str | None,
    stream: Stream,
    now: float,
    timers: Deadlines,
    *,
    evcc: bool,
    timing: Timing,
) -> None:
    """Arm the ongoing timer when a request is first answered ``Ongoing``; disarm it once it is not."""
    if processing is not None and processing.startswith("Ongoing"):
        if st.ongoing_since is None or st.last_request != pending.kind:
            st.ongoing_since = now
            if evcc:
                timers.arm(Timer.EVCC_ONGOING, now + timing.evcc_ongoing_timeout, stream)
            else:
                timers.arm(Timer.SECC_ONGOING, now + timing.secc_ongoing_performance, stream)
    else:
        st.ongoing_since = None
        timers.cancel(Timer.EVCC_ONGOING, stream)
        timers.cancel(Timer.SECC_ONGOING, stream)
    st.last_request = pending.kind


def next_request_due(profile: Profile, answered: Any, timing: Timing, now: float) -> float:
    """When the EV must send its next main-stream request after the response to ``answered``: the kind's own
    sequence performance time where the profile's table gives one, else the session-wide one."""
    own = profile.timing(answered, timing).evcc_sequence
    return now + (own if own is not None else timing.evcc_sequence_performance)
