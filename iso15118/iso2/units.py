"""Physical values as -2 ``PhysicalValueType`` (Value x 10^Multiplier, with a unit) and back.

``Value`` is an xs:short (-32768..32767) and ``Multiplier`` lies in -3..3, so 11 kW is ``(0, W, 11000)``,
50 kW needs ``(1, W, 5000)`` and 16.5 A ``(-2, A, 1650)``. :func:`physical` keeps whole values whole and uses
the most precise multiplier that fits otherwise.
"""

from __future__ import annotations

from typing import Final

from iso15118.messages.generated import iso2 as m

__all__ = ["physical", "value_of"]

_SHORT: Final = 32767


def physical(value: float, unit: m.UnitSymbol) -> m.PhysicalValue:
    """The PhysicalValue closest to ``value`` whose Value fits an xs:short (ValueError when none does)."""
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"cannot express {value!r} {unit} as a PhysicalValue")
    if value == int(value) and abs(value) <= _SHORT:
        return m.PhysicalValue(multiplier=0, unit=unit, value=int(value))
    for multiplier in range(-3, 4):
        scaled = round(value / 10**multiplier)
        if abs(scaled) <= _SHORT:
            return m.PhysicalValue(multiplier=multiplier, unit=unit, value=scaled)
    raise ValueError(f"{value!r} {unit} is too large for a PhysicalValue")


def value_of(value: m.PhysicalValue | None, default: float = 0.0) -> float:
    """The float a PhysicalValue stands for (``default`` when absent)."""
    if value is None:
        return default
    return float(value.value * 10**value.multiplier) if value.multiplier >= 0 else value.value / 10**-value.multiplier
