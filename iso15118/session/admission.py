"""Judging a frame by its V2GTP header alone, before a byte of its payload is buffered or decoded.

A peer is hostile until proven otherwise: the header says which stream the frame belongs to and how long it is,
and that is enough to refuse it when the state the session is in expects no such payload type, or nothing that
long (the profile's ``max_payload`` for the state). The SECC judges a frame when it arrives if it will be
processed at once, and again when its turn comes if it had to wait behind an unanswered request -- against the
state (and the profile) it then meets.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from iso15118.errors import FramingError
from iso15118.session.profile import Profile, Stream

__all__ = ["RULE_STATE_PAYLOAD", "RULE_STATE_SIZE", "judge"]

RULE_STATE_PAYLOAD: Final = "payload type expected in the session's state"
RULE_STATE_SIZE: Final = "payload length within the state's maximum"


def judge(profile: Profile, state: StrEnum, payload_type: int, length: int, offset: int) -> Stream:
    """The stream of a frame ``state`` admits; FramingError (naming the rule and the header's offset) otherwise."""
    stream = profile.stream_of(payload_type)
    if stream is None:
        raise FramingError(
            f"payload type 0x{payload_type:04X} is not used by {profile.name}",
            offset=offset + 2,
            rule=RULE_STATE_PAYLOAD,
        )
    limit = profile.max_payload(state, stream, payload_type)
    if limit is None:
        raise FramingError(
            f"payload type 0x{payload_type:04X} is not expected in state {state} ({profile.name})",
            offset=offset + 2,
            rule=RULE_STATE_PAYLOAD,
        )
    if length > limit:
        raise FramingError(
            f"payload of {length} bytes exceeds the {limit} bytes allowed in state {state}",
            offset=offset + 4,
            rule=RULE_STATE_SIZE,
        )
    return stream
