"""The rules a message must keep before the core lets it through, as pure functions over the profile's table.

:func:`check_request` is the one gate for both roles: the SECC runs it on every request it receives
(raising :class:`~iso15118.errors.RemoteProtocolError`, answered with the FAILED response), the EVCC on every
request it is asked to send (raising :class:`~iso15118.errors.LocalProtocolError` to the application). It reads
the session and never changes it. The rules:

- the profile's sequence table admits the request in the current state, for the session's selection (an AC
  session finds no row for a DC message);
- side-stream requests follow the table's side rows and run only beside a started charge loop [V2G20-1045];
- the SessionID matches the session's, except in SessionSetupReq [V2G20-457].

:func:`check_response` makes sure the SECC application answers the pending request with its own response kind
and the session's SessionID; :func:`foreign_session_id` tells the EVCC that a response carries another session's
ID [V2G20-457].
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from iso15118.errors import LocalProtocolError, ProtocolError
from iso15118.session.config import SessionConfig
from iso15118.session.context import Pending, SessionContext
from iso15118.session.profile import Rule, SideRule, Stream

__all__ = ["check_request", "check_response", "foreign_session_id"]


def check_request(
    s: SessionContext, config: SessionConfig, msg: Any, kind: StrEnum, stream: Stream, error: type[ProtocolError]
) -> Rule | SideRule:
    """The row that admits ``msg`` on ``stream`` now; raise ``error`` (with its FAILED response code) otherwise."""
    profile = s.profile
    found: Rule | SideRule | None
    if stream is Stream.MAIN:
        found = profile.table.rule(s.state, kind, s.selection, msg)
        if found is None:
            raise error(
                f"{kind} is not allowed in state {s.state} ({_mode(s)})",
                response_code=profile.sequence_error(),
                requirement=f"{profile.name} sequence table",
            )
    else:
        side = s.streams[stream].side
        found = profile.table.side.get((stream, side, kind)) if config.side_streams else None
        if found is None:
            raise error(f"{kind} is not allowed on the {stream} stream now", response_code=profile.sequence_error())
        if profile.table.side_needs_loop and not s.selection.loop_started:
            # Side streams run beside the charge loop only, after at least one ChargeLoopReq [V2G20-1045].
            raise error(
                f"{kind} on the {stream} stream outside the charge loop",
                response_code=profile.sequence_error(),
                requirement="V2G20-1045",
            )
    sid = profile.session_id(msg)
    if sid is not None and config.check_session_id and not profile.is_setup(kind) and sid != s.session_id:
        raise error(
            f"{kind} carries SessionID {sid.hex()}, the session's is {s.session_id.hex()}",
            response_code=profile.unknown_session(),
            requirement=profile.session_id_rule(),
        )
    return found


def _mode(s: SessionContext) -> str:
    mode = s.selection.mode
    return f"{s.profile.name}, {mode}" if mode is not None else s.profile.name


def check_response(s: SessionContext, message: Any, kind: StrEnum | None, stream: Stream) -> Pending:
    """SECC: the exchange ``message`` answers on ``stream``; raise LocalProtocolError if it answers none."""
    pending = s.streams[stream].pending
    if pending is None:
        raise LocalProtocolError(f"no request is waiting for an answer on the {stream} stream")
    expected = s.profile.response_of(pending.kind)
    if kind != expected:
        raise LocalProtocolError(f"{type(message).__name__} does not answer {pending.kind} (expected {expected})")
    sid = s.profile.session_id(message)
    if sid is not None and s.established and sid != s.session_id:
        raise LocalProtocolError(f"{kind} carries SessionID {sid.hex()}, not the session's")
    return pending


def foreign_session_id(s: SessionContext, config: SessionConfig, msg: Any, kind: StrEnum) -> str | None:
    """EVCC: why a response's SessionID is not the established session's [V2G20-457], or None if it is."""
    sid = s.profile.session_id(msg)
    if sid is not None and s.established and config.check_session_id and sid != s.session_id:
        return f"{kind} carries SessionID {sid.hex()}, not {s.session_id.hex()}"
    return None
