"""The EV's pacing against the SECC's sequence timeouts: a warning before `v2g evcc` starts, an explanation after.

The SECC waits a bounded time for the EV's next request after each response (V2G_SECC_Sequence_Timeout: 60 s,
0.5 s after a charge-loop response [V2G20-1499/1500]) and then closes the connection [V2G20-443]. An EV paced
slower than that (``--loop-interval 5``) sees only a lost connection, while only the SECC knows why.
:func:`pacing_warnings` names the offending setting, the timeout and the requirement before the run starts;
:class:`SequenceGap` watches the session and explains a connection lost after such a silence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from iso15118.config import EvccConfig
from iso15118.iso20.kinds import Kind
from iso15118.iso20.profile import ISO20, LOOP_KINDS
from iso15118.session.events import EndReason, Event, MessageReceived, MessageSent, SessionEnded
from iso15118.session.timers import Timing

__all__ = ["SequenceGap", "pacing_warnings"]

_LOOP_RULE: Final = "V2G20-1499/1500"
_GENERAL_RULE: Final = "V2G20-443"
_MARGIN: Final = 0.9
"""A silence counts as the SECC's timeout from this fraction of it on (the EV sees the close one latency later
than the SECC's clock starts, and its own clock reads the response one latency late: the two cancel out)."""


def pacing_warnings(config: EvccConfig, timing: Timing) -> list[str]:
    """One sentence per EV pause the SECC will not (or need not) tolerate; ``timing`` as the policy scales it."""
    loop = ISO20.timing(Kind.AC_ChargeLoopReq, timing)  # table 217 gives DC the same values
    general = ISO20.timing(Kind.PowerDeliveryReq, timing).secc_sequence or timing.secc_sequence_timeout
    found = []
    interval = config.loop_interval_s
    if loop.secc_sequence is not None and interval >= loop.secc_sequence:
        found.append(
            f"the loop interval ({interval:g} s, --loop-interval / [evcc] loop_interval_s) is not shorter than the "
            f"SECC's charge-loop sequence timeout ({loop.secc_sequence:g} s, V2G_SECC_Sequence_Timeout "
            f"[{_LOOP_RULE}]): the SECC will close the session after the first loop. The EV must send its next "
            f"charge-loop request within {loop.evcc_sequence:g} s (V2G_EVCC_Sequence_Performance_Time, table 216)"
        )
    elif loop.evcc_sequence is not None and interval > loop.evcc_sequence:
        found.append(
            f"the loop interval ({interval:g} s) exceeds the EV's charge-loop sequence performance time "
            f"({loop.evcc_sequence:g} s, V2G_EVCC_Sequence_Performance_Time, table 216); the SECC tolerates up to "
            f"{loop.secc_sequence:g} s [{_LOOP_RULE}]"
        )
    retries = (
        (
            "the pause before repeating a request answered Ongoing ([evcc] authorization_retry_s)",
            config.authorization_retry_s,
        ),
        ("the precharge interval ([evcc] precharge_interval_s)", config.precharge_interval_s),
    )
    for what, seconds in retries:
        if seconds >= general:
            found.append(
                f"{what} is {seconds:g} s, not shorter than the SECC's sequence timeout ({general:g} s, "
                f"V2G_SECC_Sequence_Timeout [{_GENERAL_RULE}]): the SECC will close the session"
            )
    return found


@dataclass
class _Last:
    response: str
    at: float


class SequenceGap:
    """An event watcher that explains a connection the SECC closed after the EV stayed silent too long."""

    def __init__(self, timing: Timing) -> None:
        self.timing = timing
        self._last: _Last | None = None
        self.explanation: str | None = None
        """Set when the session ended connection_lost after a silence as long as the SECC's sequence timeout."""

    async def observe(self, event: Event, *, role: str, peer: str) -> None:
        """The watcher hook."""
        self.update(event)

    def update(self, event: Event) -> None:
        """Follow one event of the EV's session."""
        if isinstance(event, MessageSent):
            self._last = None
        elif isinstance(event, MessageReceived):
            self._last = _Last(response=type(event.message).__name__, at=event.at)
        elif isinstance(event, SessionEnded) and event.reason is EndReason.CONNECTION_LOST and self._last:
            self.explanation = self._explain(self._last, event.at)

    def _explain(self, last: _Last, at: float) -> str | None:
        request = last.response.removesuffix("Res") + "Req"
        try:
            kind: Kind | None = Kind(request)
        except ValueError:
            kind = None  # SupportedAppProtocol: the -20 general value applies
        loop = kind in LOOP_KINDS
        timing = ISO20.timing(kind, self.timing) if kind is not None else None
        timeout = (timing.secc_sequence if timing else None) or self.timing.secc_sequence_timeout
        silence = at - last.at
        if silence < _MARGIN * timeout:
            return None
        return (
            f"the SECC closed the connection on its sequence timeout: the EV sent nothing for {silence:.2f} s after "
            f"{last.response}, and the SECC waits at most {timeout:g} s for the next request "
            f"(V2G_SECC_Sequence_Timeout [{_LOOP_RULE if loop else _GENERAL_RULE}])"
        )
