"""Paused sessions an SECC process keeps so that their EVs may resume them [V2G20-2545].

Bounded in time and size, because every entry was created by a peer: an entry expires at its
``expires_at`` (the SECC's ``pause_expiry_s`` after the pause), and once ``limit`` entries are held the oldest
pause is forgotten first. The store only keeps and hands out; whether the EV that asks may resume is a pure
decision (:func:`iso15118.iso20.secc.setup.resume_refusal`), which binds the pause to the EVCCID and to the
vehicle certificate that authenticated it.
"""

from __future__ import annotations

from collections import OrderedDict

from iso15118.decisions import PausedSession

__all__ = ["SessionStore"]

DEFAULT_LIMIT = 256


class SessionStore:
    """Paused sessions by SessionID, shared by the connections of one SECC."""

    def __init__(self, *, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError("a session store holds at least one paused session")
        self.limit = limit
        self._paused: OrderedDict[bytes, PausedSession] = OrderedDict()
        self.evicted = 0
        """Pauses forgotten because the store was full."""

    def pause(self, session: PausedSession) -> None:
        """Keep a paused session (replacing an older pause of the same SessionID)."""
        self._paused.pop(session.session_id, None)
        self._paused[session.session_id] = session
        while len(self._paused) > self.limit:
            self._paused.popitem(last=False)
            self.evicted += 1

    def get(self, session_id: bytes, now: float) -> PausedSession | None:
        """The paused session stored under ``session_id`` (expired ones are dropped, never returned)."""
        self.expire(now)
        return self._paused.get(session_id)

    def take(self, session_id: bytes) -> PausedSession | None:
        """Remove and return a paused session (it was resumed)."""
        return self._paused.pop(session_id, None)

    def expire(self, now: float) -> int:
        """Drop every pause that has expired; returns how many."""
        stale = [sid for sid, s in self._paused.items() if s.expires_at <= now]
        for sid in stale:
            del self._paused[sid]
        return len(stale)

    def __len__(self) -> int:
        return len(self._paused)

    def __bool__(self) -> bool:
        return True  # an empty store is still a store (callers test ``store or SessionStore()``)
