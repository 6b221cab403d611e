"""Log lines rate-limited per peer, so that a client flooding the SECC cannot flood its log (or stdout) too.

A peer is its address without the port (``[fe80::1%eth0]:50000`` and ``[fe80::1%eth0]:50001`` are one
peer): a client reconnecting many times a second is still one client. :class:`PeerRateLimiter` lets each
peer through ``lines`` times per window of ``window_s`` seconds (the window starts at the peer's first line)
and all peers together ``total_lines`` times per window. What it holds back it counts, and
:meth:`PeerRateLimiter.due` hands out one :class:`Suppressed` summary per peer (plus one for the global cap)
once their windows are over. Its memory is bounded: at most ``max_peers`` peers are tracked at once, any
further peer shares the one :data:`OTHER_PEERS` entry.

:class:`PeerLog` puts a :class:`logging.Logger` behind a limiter. The SECC server logs security-relevant
refusals through one at WARNING (TLS and certificate refusals, SDP rejections); session-hijack attempts
belong there too (:meth:`PeerLog.warning`). Summaries go out with the next line, or when :meth:`PeerLog.flush`
is called (the SECC server calls it once per window, so a flood that stopped is still summarised).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["OTHER_PEERS", "PeerLog", "PeerRateLimiter", "Suppressed", "peer_address"]

OTHER_PEERS: Final = "other peers"
"""The entry shared by peers beyond ``max_peers``."""


def peer_address(peer: str) -> str:
    """The peer's address without the port: ``[ADDR]:PORT`` -> ``ADDR``; anything else is returned as is."""
    if peer.startswith("["):
        end = peer.find("]")
        if end > 0:
            return peer[1:end]
    return peer


@dataclass(frozen=True, slots=True, kw_only=True)
class Suppressed:
    """Lines held back in one window: for one peer, or (``total``) by the cap on all peers together."""

    peer: str
    count: int
    level: int
    window_s: float
    total: bool = False

    def describe(self) -> str:
        """One line for the log."""
        if self.total:
            return f"suppressed {self.count} more lines (over the limit for all peers in {self.window_s:g} s)"
        return f"suppressed {self.count} more lines about {self.peer} (in {self.window_s:g} s)"


@dataclass(slots=True)
class _Window:
    start: float
    lines: int = 0
    held: int = 0
    level: int = logging.NOTSET

    def hold(self, level: int) -> None:
        self.held += 1
        self.level = max(self.level, level)


class PeerRateLimiter:
    """Decides which lines go out: ``lines`` per peer and ``total_lines`` in all, per ``window_s`` seconds."""

    def __init__(
        self,
        *,
        lines: int = 10,
        total_lines: int = 100,
        window_s: float = 60.0,
        max_peers: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if lines < 1 or total_lines < 1 or max_peers < 1 or not window_s > 0:
            raise ValueError("a PeerRateLimiter needs lines, total_lines and max_peers >= 1 and window_s > 0")
        self.lines = lines
        self.total_lines = total_lines
        self.window_s = window_s
        self.max_peers = max_peers
        self._clock = clock
        now = clock()
        self._peers: dict[str, _Window] = {}
        self._total = _Window(now)
        self._due: list[Suppressed] = []
        # Windows are closed in sweeps, at most eight per window length: O(max_peers) work each.
        self._next_sweep = now + window_s / 8

    def allow(self, peer: str, level: int = logging.WARNING) -> bool:
        """True when a line about ``peer`` may go out now; otherwise it is counted for a summary."""
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        key = peer_address(peer)
        window = self._peers.get(key)
        if window is None:
            if len(self._peers) >= self.max_peers:
                key = OTHER_PEERS
            window = self._peers.get(key)
            if window is None:
                window = self._peers[key] = _Window(now)
        if window.lines >= self.lines:
            window.hold(level)
            return False
        if self._total.lines >= self.total_lines:
            self._total.hold(level)
            return False
        window.lines += 1
        self._total.lines += 1
        return True

    def _sweep(self, now: float, *, everything: bool = False) -> None:
        self._next_sweep = now + self.window_s / 8
        for key in [k for k, w in self._peers.items() if everything or now - w.start >= self.window_s]:
            window = self._peers.pop(key)
            if window.held:
                self._due.append(Suppressed(peer=key, count=window.held, level=window.level, window_s=self.window_s))
        if everything or now - self._total.start >= self.window_s:
            held, self._total = self._total, _Window(now)
            if held.held:
                self._due.append(
                    Suppressed(peer=OTHER_PEERS, count=held.held, level=held.level, window_s=self.window_s, total=True)
                )

    def due(self, *, everything: bool = False) -> list[Suppressed]:
        """The summaries of windows that are over (each handed out once); ``everything`` ends every window."""
        now = self._clock()
        if everything or now >= self._next_sweep:
            self._sweep(now, everything=everything)
        found, self._due = self._due, []
        return found

    @property
    def tracked(self) -> int:
        """Peers tracked now (at most ``max_peers`` + 1)."""
        return len(self._peers)


class PeerLog:
    """A logger behind a :class:`PeerRateLimiter`: ``log(level, peer, msg, *args)`` like ``Logger.log``."""

    def __init__(self, logger: logging.Logger, limiter: PeerRateLimiter | None = None) -> None:
        self.logger = logger
        self.limiter = limiter if limiter is not None else PeerRateLimiter()

    def log(self, level: int, peer: str, msg: str, *args: object, exc_info: BaseException | None = None) -> bool:
        """Log the line unless ``peer`` (or everyone) is over the limit; True when it was logged."""
        self.flush()
        if not self.logger.isEnabledFor(level):
            return False
        if not self.limiter.allow(peer, level):
            return False
        self.logger.log(level, msg, *args, exc_info=exc_info)
        return True

    def warning(self, peer: str, msg: str, *args: object) -> bool:
        """:meth:`log` at WARNING: for refusals and attacks (bad certificates, hijacked session IDs...)."""
        return self.log(logging.WARNING, peer, msg, *args)

    def info(self, peer: str, msg: str, *args: object) -> bool:
        """:meth:`log` at INFO."""
        return self.log(logging.INFO, peer, msg, *args)

    def flush(self, *, everything: bool = False) -> None:
        """Log the summaries that are due ("suppressed K more lines about PEER"); ``everything``: all now."""
        for summary in self.limiter.due(everything=everything):
            self.logger.log(summary.level, "%s", summary.describe())
