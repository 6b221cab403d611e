"""The pilot board protocol: a small line-based text protocol for a serial board or an MQTT bridge.

An Arduino-class board that switches the EV's pilot resistors, or makes the EVSE's PWM and measures the
level, speaks it at 115200 baud 8N1 (any baud works; the host sets 115200); MQTT carries the same lines
as message payloads. ASCII, one message per line ending in ``\\n`` (``\\r\\n`` accepted).

Host to board::

    STATE A|B|C|D     EV board: switch the resistors for that state (A: open)
    STATE F           EVSE board: drive -12 V (not available)
    PWM <percent>     EVSE board: PWM with that duty cycle, e.g. ``PWM 5`` (high-level communication)
    PWM OFF           EVSE board: steady +12 V
    GET               ask for a report now

Board to host::

    CP <state> <duty|->   what the line shows: state A-F and the PWM duty in percent (``-``: no PWM); sent
                          on every change and after GET, e.g. ``CP B 5.0``
    OK                    a command was carried out
    ERR <text>            a command was refused (the text says why)

Lines starting with ``#`` are comments (a board may log that way) and are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from iso15118.cp.states import CpState
from iso15118.errors import V2GError

__all__ = [
    "Ack",
    "Command",
    "PilotReport",
    "Refused",
    "WireError",
    "format_command",
    "format_report",
    "parse_command",
    "parse_reply",
]


class WireError(V2GError):
    """A line that does not follow the pilot board protocol (the message quotes it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """A host command: ``STATE`` with a state, ``PWM`` with a duty (None: OFF), or ``GET``."""

    verb: str
    state: CpState | None = None
    duty: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PilotReport:
    """``CP <state> <duty>``: what the line shows."""

    state: CpState
    duty: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Ack:
    """``OK``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Refused:
    """``ERR <text>``."""

    text: str


def format_command(command: Command) -> str:
    """The line for ``command`` (with its newline)."""
    if command.verb == "STATE" and command.state is not None:
        return f"STATE {command.state}\n"
    if command.verb == "PWM":
        return "PWM OFF\n" if command.duty is None else f"PWM {command.duty:g}\n"
    if command.verb == "GET":
        return "GET\n"
    raise WireError(f"cannot format pilot command {command!r}")


def _duty(text: str, line: str) -> float | None:
    if text in ("-", "OFF"):
        return None
    try:
        duty = float(text)
    except ValueError:
        raise WireError(f"pilot line {line!r}: duty {text!r} is not a number") from None
    if not 0.0 <= duty <= 100.0:
        raise WireError(f"pilot line {line!r}: duty {duty:g} % is outside 0-100 %")
    return duty


def _state(text: str, line: str) -> CpState:
    try:
        return CpState(text.upper())
    except ValueError:
        raise WireError(f"pilot line {line!r}: {text!r} is not a pilot state A-F") from None


def parse_command(line: str) -> Command | None:
    """A host command (board side); None for a blank or comment line."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    verb, _, arg = text.partition(" ")
    verb = verb.upper()
    if verb == "STATE":
        return Command(verb=verb, state=_state(arg.strip(), line))
    if verb == "PWM":
        return Command(verb=verb, duty=_duty(arg.strip().upper(), line))
    if verb == "GET" and not arg:
        return Command(verb=verb)
    raise WireError(f"pilot line {line!r}: unknown command (STATE, PWM or GET)")


def format_report(report: PilotReport) -> str:
    """``CP B 5.0\\n`` (board side)."""
    duty = "-" if report.duty is None else f"{report.duty:.1f}"
    return f"CP {report.state} {duty}\n"


def parse_reply(line: str) -> PilotReport | Ack | Refused | None:
    """A board line (host side); None for a blank or comment line."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    if text == "OK":
        return Ack()
    if text.startswith("ERR"):
        return Refused(text=text[3:].strip() or "refused")
    parts = text.split()
    if len(parts) == 3 and parts[0] == "CP":
        return PilotReport(state=_state(parts[1], line), duty=_duty(parts[2], line))
    raise WireError(f"pilot line {line!r}: expected CP <state> <duty>, OK or ERR <text>")
