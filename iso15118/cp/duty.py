"""Duty cycle <-> allowed current (IEC 61851-1 Table A.7 for the EVSE, Table A.8 for the EV's reading).

The EVSE announces the maximum current with the PWM duty cycle: 10-85 % means duty x 0.6 A, 85-96 % means
(duty - 64) x 2.5 A (capped at 80 A from 96 %), and 5 % means "use high-level communication" (ISO 15118 / DIN
70121 decide the current). The EV reads 8-10 % as 6 A and treats < 3 %, 7-8 % and > 97 % as "charging not
allowed"; 3-7 % is the digital-communication request. A steady level (no PWM) is duty ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from iso15118.errors import ConfigError

__all__ = ["HLC_DUTY", "Offer", "OfferKind", "duty_for_current", "offer_for_duty"]

#: The duty cycle that asks for high-level communication (SLAC, then ISO 15118 or DIN 70121).
HLC_DUTY: Final = 5.0


class OfferKind(StrEnum):
    """What a duty cycle tells the EV."""

    NO_PWM = "no PWM"
    NOT_ALLOWED = "charging not allowed"
    HLC = "high-level communication"
    CURRENT = "current"


@dataclass(frozen=True, slots=True, kw_only=True)
class Offer:
    """The EV's reading of a duty cycle: its kind and, for ``CURRENT``, the allowed amps."""

    kind: OfferKind
    amps: float | None = None

    def describe(self) -> str:
        """``16.0 A``, ``high-level communication``..."""
        return f"{self.amps:.1f} A" if self.amps is not None else str(self.kind)


def offer_for_duty(duty: float | None) -> Offer:
    """How an EV reads ``duty`` (percent; None: a steady level without PWM)."""
    if duty is None:
        return Offer(kind=OfferKind.NO_PWM)
    if 3.0 <= duty <= 7.0:
        return Offer(kind=OfferKind.HLC)
    if 8.0 <= duty < 10.0:
        return Offer(kind=OfferKind.CURRENT, amps=6.0)
    if 10.0 <= duty <= 85.0:
        return Offer(kind=OfferKind.CURRENT, amps=round(duty * 0.6, 2))
    if 85.0 < duty <= 96.0:
        return Offer(kind=OfferKind.CURRENT, amps=round((duty - 64.0) * 2.5, 2))
    if 96.0 < duty <= 97.0:
        return Offer(kind=OfferKind.CURRENT, amps=80.0)
    return Offer(kind=OfferKind.NOT_ALLOWED)


def duty_for_current(amps: float) -> float:
    """The duty cycle (percent) an EVSE sends to allow ``amps`` (6-80 A); ConfigError outside."""
    if not 6.0 <= amps <= 80.0:
        raise ConfigError(f"a PWM current offer is 6-80 A, got {amps:g} A")
    if amps <= 51.0:
        return round(amps / 0.6, 2)
    return round(amps / 2.5 + 64.0, 2)
