"""Reading a payload into a message, strictly or tolerantly: what the core does between admitting a frame and
judging the message.

Strict decoding refuses a stream that deviates from its schema (a :class:`~iso15118.codec.SchemaDeviationError`
ends the session like any other decode error). Tolerant decoding (``SessionConfig.tolerant_decoding``) takes the
message as EXIficient reads it and reports each deviation as a :class:`SchemaDeviationTolerated` event, so the
transport logs it instead of dropping the connection; bit offsets count from the payload.
"""

from __future__ import annotations

from typing import Any

from iso15118.codec import SchemaDeviationError
from iso15118.session.events import SchemaDeviationTolerated
from iso15118.session.profile import Profile

__all__ = ["decode_payload"]


def decode_payload(
    profile: Profile, payload_type: int, payload: bytes, now: float, *, tolerant: bool
) -> tuple[Any, list[SchemaDeviationTolerated]]:
    """The message and the deviations tolerated in it; raises :class:`~iso15118.errors.CodecError` otherwise."""
    try:
        return profile.decode(payload_type, payload), []
    except SchemaDeviationError as exc:
        if not tolerant:
            raise
        deviations = [
            SchemaDeviationTolerated(
                at=now, path=d.path, bit_offset=d.bit_offset, what=f"{d.kind}: {d.detail}", payload_type=payload_type
            )
            for d in exc.deviations
        ]
        return exc.message, deviations
