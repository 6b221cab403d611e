"""What the SECC server says about each connection: a :class:`ConnectionReport` (the handshake, then the session's
outcome or the error that ended it) and its one-line description."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from iso15118.security.tls import HandshakeInfo
from iso15118.transport.driver import SessionOutcome

__all__ = ["ConnectionReport", "ReportCallback", "describe_report", "detached"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionReport:
    """How one connection went: the handshake, then the session's outcome, or the error that ended it.

    ``error`` carries no traceback (nor do the errors it was raised from): a report outlives its connection.
    """

    peer: str
    started: float
    ended: float
    tls: HandshakeInfo | None = None
    outcome: SessionOutcome | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        """True when a session ran and ended regularly (Terminate or Pause)."""
        return self.error is None and self.outcome is not None and self.outcome.ok


ReportCallback = Callable[[ConnectionReport], Awaitable[None] | None]


def detached(exc: Exception) -> Exception:
    """``exc`` without tracebacks along its chain: their frames would keep the connection's objects alive."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        link.__traceback__ = None
        link = link.__cause__ or link.__context__
    return exc


def describe_report(report: ConnectionReport) -> str:
    """One line about a connection: peer, then the session's end or the error."""
    if report.outcome is None:
        return f"{report.peer}: refused: {report.error}"
    ended = report.outcome.ended
    text = f"{report.peer}: session {report.outcome.session_id.hex()} {ended.reason} ({ended.detail})"
    return text + (f"; {report.error}" if report.error is not None else "")
