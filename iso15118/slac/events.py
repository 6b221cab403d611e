"""What the SLAC state machines report: frozen, past-tense events with the time (``at``) they happened.

:class:`Matched` and :class:`MatchingFailed` end a machine's run. :class:`AttemptFailed` marks a failed
attempt that is followed by a clean restart, and :class:`FrameIgnored` a frame that was dropped (malformed,
unexpected in the current state, or for another run) as the standard asks, with the reason why.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AttemptFailed", "FrameIgnored", "Matched", "MatchingFailed", "Noticed", "SlacEvent", "Step"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One protocol step (a frame sent or received, a timer) and when it happened."""

    name: str
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SlacEvent:
    """Base of every SLAC event."""

    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameIgnored(SlacEvent):
    """A received frame was dropped; ``offset``/``rule`` are set when it was malformed."""

    reason: str
    mme: str | None = None
    offset: int | None = None
    rule: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Noticed(SlacEvent):
    """Something a field tester should know that does not stop matching: still waiting for the modem,
    implausible attenuation values, a fallback in effect, a reset instead of a failure (``step`` names where)."""

    step: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptFailed(SlacEvent):
    """Matching attempt ``attempt`` failed at ``step``; the machine restarts matching."""

    attempt: int
    step: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Matched(SlacEvent):
    """Matching succeeded: the logical network (NID, NMK) and the peer host's MAC.

    ``attenuation_db`` is the average of the CM_ATTEN_CHAR.IND groups, ``num_sounds`` the sounds the EVSE
    counted. ``sound_times`` are when the EV sent (EV) or the EVSE received (EVSE) each CM_MNBC_SOUND.IND,
    ``sounding_window`` (EVSE only) the start and end of TT_EVSE_match_MNBC. ``key_result`` is the Result
    of the local modem's CM_SET_KEY.CNF.
    """

    nid: bytes
    nmk: bytes
    peer_mac: bytes
    run_id: bytes
    attenuation_db: float
    num_sounds: int
    attempts: int
    steps: tuple[Step, ...]
    sound_times: tuple[float, ...] = ()
    sounding_window: tuple[float, float] | None = None
    key_result: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchingFailed(SlacEvent):
    """Matching gave up at ``step`` for ``reason``; no further attempt follows."""

    step: str
    reason: str
    attempts: int
    steps: tuple[Step, ...]
