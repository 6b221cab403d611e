"""Signs of life while `v2g evcc` / `v2g secc` sessions run: a status line on stderr, per session.

:class:`StatusLine` is an event watcher (:class:`~iso15118.transport.driver.EventWatcher`) that follows each
session's messages: where it is (the last request, e.g. ``AC_ChargeLoop``), the charge loops, the power (AC: the
EV's present active power; DC: the charger's present voltage x current; negative while discharging), the energy
metered since the session's first meter reading, and the EV's state of charge.

On a terminal the line is rewritten in place at most every 0.2 s (at each step of the set-up, then at each charge
loop) and erased before a summary line is printed.
Otherwise (a pipe, a file, a CI log) it prints one line when the session is established, one at the first
charge loop, then one every ``period_s`` seconds (10 s) while the session runs: a two-hour session logs about 700
lines, whatever its loop interval. stdout keeps only the listening and summary lines, so scripts that parse them
are not disturbed. ``--quiet`` turns it off.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Final, TextIO

from iso15118.iso20.services import loop_request_mode
from iso15118.messages.units import value_of
from iso15118.session.events import Event, MessageReceived, MessageSent, SessionEnded, SessionEstablished

__all__ = ["NON_TTY_PERIOD_S", "StatusLine"]

NON_TTY_PERIOD_S: Final = 10.0
"""Seconds between two status lines of a session when stderr is not a terminal."""
_TTY_REFRESH_S: Final = 0.2
_MAX_SESSIONS: Final = 4096
"""Sessions followed at once (a server under a connection flood keeps no more)."""


@dataclass
class _Session:
    """What the status line of one session shows."""

    session_id: str = ""
    state: str = "connecting"
    loops: int = 0
    power_w: float | None = None
    first_meter: tuple[int, int] | None = None
    meter: tuple[int, int] | None = None
    soc: int | None = None
    printed_at: float | None = None
    printed_loops: int = 0


def _loop_power(message: Any) -> float | None:
    """The power a charge-loop message tells (W), or None."""
    name = type(message).__name__
    if name == "AC_ChargeLoopReq":
        found = loop_request_mode(message)
        present = getattr(found[2], "ev_present_active_power", None) if found else None
        return value_of(present) if present is not None else None
    if name == "DC_ChargeLoopRes":
        return value_of(message.evse_present_voltage) * value_of(message.evse_present_current)
    return None


class StatusLine:
    """The status line of every session of one process (see the module docstring)."""

    def __init__(
        self,
        role: str,
        *,
        stream: TextIO | None = None,
        tty: bool | None = None,
        period_s: float = NON_TTY_PERIOD_S,
    ) -> None:
        self.role = role
        self.stream = stream if stream is not None else sys.stderr
        self.tty = tty if tty is not None else self.stream.isatty()
        self.period_s = period_s
        self._sessions: dict[str, _Session] = {}
        self._shown = False  # a terminal line is on screen
        self._tty_at = float("-inf")

    async def observe(self, event: Event, *, role: str, peer: str) -> None:
        """The watcher hook: follow the event, print when due."""
        self.update(event, peer)

    def update(self, event: Event, peer: str) -> None:
        """Follow one event of the session with ``peer``."""
        if isinstance(event, SessionEnded):
            self._sessions.pop(peer, None)
            if self.tty:
                self.clear()
            return
        live = self._sessions.get(peer)
        if live is None:
            # Messages and SessionEstablished open a session's line; the tail of an ended one (the close) does not.
            opens = isinstance(event, SessionEstablished | MessageReceived | MessageSent)
            if not opens or len(self._sessions) >= _MAX_SESSIONS:
                return
            live = self._sessions[peer] = _Session()
        if isinstance(event, SessionEstablished):
            live.session_id = event.session_id.hex()
            live.state = "established"
            self._emit(peer, live, event.at, force=True)
            return
        if not isinstance(event, MessageReceived | MessageSent):
            return
        message = event.message
        name = type(message).__name__
        if name.endswith("Req"):
            live.state = name[:-3]
            display = getattr(message, "display_parameters", None)
            if display is not None and display.present_soc is not None:
                live.soc = display.present_soc
            if self.tty and not name.endswith("ChargeLoopReq"):  # set-up steps too (cable check, precharge...)
                self._emit(peer, live, event.at)
        power = _loop_power(message)
        if power is not None:
            live.power_w = power
        if name.endswith("ChargeLoopRes"):
            self._loop_response(live, message)
            self._emit(peer, live, event.at, force=live.loops == 1 and live.printed_loops == 0)

    def _loop_response(self, live: _Session, message: Any) -> None:
        if str(message.response_code).startswith("OK"):
            live.loops += 1
        info = message.meter_info
        if info is not None:
            reading = (info.charged_energy_reading_wh, info.bpt_discharged_energy_reading_wh or 0)
            live.first_meter = live.first_meter or reading
            live.meter = reading

    def text(self, peer: str) -> str | None:
        """The status of the session with ``peer`` (None when it is not followed)."""
        live = self._sessions.get(peer)
        return None if live is None else self._text(peer, live)

    def _text(self, peer: str, live: _Session) -> str:
        parts = [f"{self.role} {peer}: session {live.session_id or '-'}", live.state]
        loops = "1 loop" if live.loops == 1 else f"{live.loops} loops"
        parts.append(loops)
        if live.power_w is not None:
            parts.append(f"{live.power_w / 1000:.1f} kW")
        if live.meter is not None and live.first_meter is not None:
            charged = live.meter[0] - live.first_meter[0]
            discharged = live.meter[1] - live.first_meter[1]
            parts.append(f"charged {charged} Wh" + (f", discharged {discharged} Wh" if discharged else ""))
        if live.soc is not None:
            parts.append(f"SoC {live.soc} %")
        return ", ".join(parts)

    def _emit(self, peer: str, live: _Session, now: float, *, force: bool = False) -> None:
        if self.tty:
            if force or now - self._tty_at >= _TTY_REFRESH_S:
                self._tty_at = now
                others = len(self._sessions) - 1
                more = f" (+{others} more sessions)" if others > 0 else ""
                self._write(f"\r{self._text(peer, live)}{more}\x1b[K")
                self._shown = True
            return
        due = live.printed_at is None or now - live.printed_at >= self.period_s
        if force or (due and live.loops > live.printed_loops):
            live.printed_at = now
            live.printed_loops = live.loops
            self._write(self._text(peer, live) + "\n")

    def clear(self) -> None:
        """Erase the terminal line (before a summary line goes to the same screen)."""
        if self.tty and self._shown:
            self._write("\r\x1b[K")
            self._shown = False

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken stderr must not end the session
