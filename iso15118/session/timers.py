"""Every -20 timer as data, and the deadline bookkeeping the session core uses.

Values are ISO 15118-20 tables 215 (common), 216 (AC) and 217 (DC), as restated in the fact sheet; each carries
the requirement that defines it. Which value applies to which request is the profile's business
(:meth:`~iso15118.session.profile.Profile.timing`): this module only holds the values a user may override, and
the deadline bookkeeping. Time is always an argument (``now``, POSIX seconds): nothing here reads a clock.

SECC side: the sequence timeout restarts whenever a response is sent [V2G20-441] (60 s; 0.5 s after an
AC_ChargeLoopRes [V2G20-1499/1500]); when it expires the SECC stops the session [V2G20-443]. The message
performance time bounds how long the SECC may take to answer (1.5 s; 4.5 s for ServiceDetail and
CertificateInstallation; 0.25 s for AC_ChargeLoop) and the ongoing performance time how long it may answer
``Ongoing`` (55 s). EVCC side: the message timeout per request (2 s; 5 s; 0.5 s for AC_ChargeLoop), the
ongoing timeout (60 s of repeated requests answered ``Ongoing``), the sequence performance time (40 s, 0.25 s in
the charge loop) and the communication set-up timeout (20 s until SessionSetupRes).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Final

__all__ = ["DEFAULT_TIMING", "Deadlines", "Timer", "Timing"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Timing:
    """Timer values in seconds. The defaults are the standard's; field testers may relax them (tolerant mode)."""

    evcc_msg_timeout: float = 2.0
    """V2G_EVCC_Msg_Timeout, common messages [V2G20 table 215]."""
    evcc_msg_timeout_long: float = 5.0
    """V2G_EVCC_Msg_Timeout for ServiceDetailReq and CertificateInstallationReq [V2G20 table 215]."""
    evcc_msg_timeout_loop: float = 0.5
    """V2G_EVCC_Msg_Timeout for AC_ChargeLoopReq and DC_ChargeLoopReq [V2G20 tables 216/217]."""
    secc_performance: float = 1.5
    """V2G_SECC_Msg_Performance_Time, common messages [V2G20 table 215]."""
    secc_performance_long: float = 4.5
    """V2G_SECC_Msg_Performance_Time for ServiceDetailRes and CertificateInstallationRes."""
    secc_performance_loop: float = 0.25
    """V2G_SECC_Msg_Performance_Time for AC_ChargeLoopRes and DC_ChargeLoopRes [V2G20 tables 216/217]."""
    secc_sequence_timeout: float = 60.0
    """V2G_SECC_Sequence_Timeout [V2G20-441/443]."""
    secc_sequence_timeout_loop: float = 0.5
    """V2G_SECC_Sequence_Timeout after a ChargeLoopRes [V2G20-1499/1500] (the same 0.5 s in DC, table 217)."""
    evcc_sequence_performance: float = 40.0
    """V2G_EVCC_Sequence_Performance_Time (the EV should send its next request within this)."""
    evcc_sequence_performance_loop: float = 0.25
    """V2G_EVCC_Sequence_Performance_Time in the AC charge loop [V2G20 table 216]."""
    evcc_ongoing_timeout: float = 60.0
    """V2G_EVCC_Ongoing_Timeout: total time the EV repeats a request answered Ongoing."""
    secc_ongoing_performance: float = 55.0
    """V2G_SECC_Ongoing_Performance_Time: the SECC reaches Finished within this."""
    evcc_communication_setup: float = 20.0
    """V2G_EVCC_CommunicationSetup_Timeout: until SessionSetupRes (SDP, TLS and SAP included)."""
    secc_communication_setup: float = 20.0
    """V2G_SECC_CommunicationSetup_Performance_Time (-20 value unconfirmed; -2 uses 18 s)."""
    secc_close_after_stop: float = 5.0
    """After SessionStopRes the SECC waits this long for the EV to close TCP first [V2G20-1633]."""
    secc_close_after_failure: float = 0.0
    """After a FAILED response or a timeout the SECC closes the connection this soon (ISO 15118-4 expects
    the SUT to close within 5 s)."""

    scale: float = 1.0
    """How much every value here was stretched (tolerant mode). Profiles whose timers are not these -20 values
    (DIN 70121, ISO 15118-2) stretch their own tables by it."""

    def scaled(self, factor: float) -> Timing:
        """Every value multiplied by ``factor`` (for slow lab peers in tolerant mode); ``scale`` records it."""
        return replace(self, **{k: getattr(self, k) * factor for k in self.__dataclass_fields__})


DEFAULT_TIMING: Final = Timing()


class Timer(StrEnum):
    """The deadlines a session may be waiting for; each names its requirement in :data:`REQUIREMENT`."""

    SECC_SEQUENCE = "secc_sequence_timeout"
    SECC_PERFORMANCE = "secc_message_performance_time"
    SECC_ONGOING = "secc_ongoing_performance_time"
    SECC_COMMUNICATION_SETUP = "secc_communication_setup"
    EVCC_MESSAGE = "evcc_message_timeout"
    EVCC_ONGOING = "evcc_ongoing_timeout"
    EVCC_COMMUNICATION_SETUP = "evcc_communication_setup_timeout"
    CLOSE = "close_connection"


REQUIREMENT: Final[dict[Timer, str]] = {
    Timer.SECC_SEQUENCE: "V2G20-443",
    Timer.SECC_PERFORMANCE: "V2G20 tables 215-217",
    Timer.SECC_ONGOING: "V2G20 table 215",
    Timer.SECC_COMMUNICATION_SETUP: "V2G20-723",
    Timer.EVCC_MESSAGE: "V2G20-436",
    Timer.EVCC_ONGOING: "V2G20 table 215",
    Timer.EVCC_COMMUNICATION_SETUP: "V2G20 table 215",
    Timer.CLOSE: "V2G20-1633",
}


@dataclass
class Deadlines:
    """Armed deadlines, keyed by (timer, stream name)."""

    armed: dict[tuple[Timer, str], float] = field(default_factory=dict)

    def arm(self, timer: Timer, at: float, stream: str = "main") -> None:
        """Set (or reset) a deadline."""
        self.armed[(timer, stream)] = at

    def cancel(self, timer: Timer, stream: str = "main") -> None:
        """Disarm a deadline if armed."""
        self.armed.pop((timer, stream), None)

    def cancel_all(self, *, keep: tuple[Timer, ...] = ()) -> None:
        """Disarm every deadline except ``keep``."""
        self.armed = {k: v for k, v in self.armed.items() if k[0] in keep}

    def get(self, timer: Timer, stream: str = "main") -> float | None:
        """When a deadline expires, or None."""
        return self.armed.get((timer, stream))

    def next(self) -> float | None:
        """The earliest armed deadline."""
        return min(self.armed.values(), default=None)

    def expire(self, now: float) -> list[tuple[Timer, str, float]]:
        """Remove and return every deadline that has passed, earliest first."""
        due = sorted((at, timer, stream) for (timer, stream), at in self.armed.items() if at <= now)
        for _at, timer, stream in due:
            del self.armed[(timer, stream)]
        return [(timer, stream, at) for at, timer, stream in due]
