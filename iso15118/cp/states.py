"""IEC 61851-1 Control Pilot states, their nominal voltages, and what each transition means.

The EV pulls the pilot's +12 V level down with resistors (2.74 kOhm: B, plus 1.3 kOhm: C, plus 270 Ohm: D);
the EVSE sees the level and drives the PWM whose duty cycle announces the allowed current. E (0 V) is a short
or a failed supply, F (-12 V) the EVSE saying it is not available. :data:`TRANSITIONS` names every change of
state the EVSE can observe with its meaning; a change not listed there (A to C without B, say) is still
followed, and reported as unexpected.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = ["TRANSITIONS", "CpState", "Transition", "classify_voltage", "transition"]


class CpState(StrEnum):
    """The pilot states of IEC 61851-1 Table A.3."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"
    F = "F"

    @property
    def volts(self) -> float:
        """The nominal positive pilot level (F: -12 V)."""
        return _VOLTS[self]

    @property
    def connected(self) -> bool:
        """An EV is connected (B, C, D)."""
        return self in (CpState.B, CpState.C, CpState.D)

    @property
    def charging(self) -> bool:
        """The EV asks for energy (C, or D with ventilation)."""
        return self in (CpState.C, CpState.D)

    @property
    def error(self) -> bool:
        """E or F: a session must end."""
        return self in (CpState.E, CpState.F)


_VOLTS: Final = {CpState.A: 12.0, CpState.B: 9.0, CpState.C: 6.0, CpState.D: 3.0, CpState.E: 0.0, CpState.F: -12.0}
#: The EVSE's measurement windows around each nominal level (IEC 61851-1 Table A.4: +-1 V).
_WINDOWS: Final = ((CpState.A, 11.0, 13.0), (CpState.B, 8.0, 10.0), (CpState.C, 5.0, 7.0), (CpState.D, 2.0, 4.0))


def classify_voltage(volts: float) -> CpState | None:
    """The state a measured positive pilot level means; None between the windows (not a valid level)."""
    for state, low, high in _WINDOWS:
        if low <= volts <= high:
            return state
    if -1.0 <= volts <= 1.0:
        return CpState.E
    if -13.0 <= volts <= -11.0:
        return CpState.F
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """A change of pilot state and what it means; ``expected`` is False for jumps the standard does not list."""

    old: CpState
    new: CpState
    meaning: str
    expected: bool = True


_S = CpState
#: Every observable change with its meaning (IEC 61851-1 Annex A sequences).
TRANSITIONS: Final[dict[tuple[CpState, CpState], str]] = {
    (_S.A, _S.B): "EV plugged in",
    (_S.B, _S.A): "EV unplugged",
    (_S.B, _S.C): "EV ready to charge",
    (_S.B, _S.D): "EV ready to charge, ventilation required",
    (_S.C, _S.B): "EV stopped charging",
    (_S.D, _S.B): "EV stopped charging",
    (_S.C, _S.D): "EV asks for ventilation",
    (_S.D, _S.C): "EV no longer needs ventilation",
    (_S.C, _S.A): "EV unplugged while charging",
    (_S.D, _S.A): "EV unplugged while charging",
    **{(s, _S.E): "pilot short-circuited or supply lost (state E)" for s in (_S.A, _S.B, _S.C, _S.D, _S.F)},
    **{(s, _S.F): "EVSE not available (state F)" for s in (_S.A, _S.B, _S.C, _S.D, _S.E)},
    **{(_S.E, s): "pilot recovered from state E" for s in (_S.A, _S.B)},
    **{(_S.F, s): "EVSE available again" for s in (_S.A, _S.B)},
}


def transition(old: CpState, new: CpState) -> Transition:
    """The meaning of ``old -> new``; an unlisted jump is described and flagged ``expected=False``."""
    meaning = TRANSITIONS.get((old, new))
    if meaning is not None:
        return Transition(old=old, new=new, meaning=meaning)
    return Transition(old=old, new=new, meaning=f"unexpected change {old} -> {new}", expected=False)
