"""Physical values of DIN 70121 and ISO 15118-2 (``PhysicalValueType``: Value x 10^Multiplier, with a unit).

Both generations share the shape: ``Value`` is an xs:short (-32768..32767), ``Multiplier`` -3..3, and a
``Unit`` (optional in DIN 70121, mandatory in -2). 400 V is ``{0, 400, V}``, 150 kW needs ``{1, 15000, W}``.
:func:`physical` picks the smallest multiplier that keeps the most precision; it is given the generated module
so that each generation gets its own classes.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Final

__all__ = ["physical", "value_of"]

_SHORT: Final = 32767
_MIN_MULTIPLIER: Final = -3
_MAX_MULTIPLIER: Final = 3


def physical(module: ModuleType, value: float, unit: str) -> Any:
    """``module.PhysicalValue`` closest to ``value`` in ``unit`` (``V``, ``A``, ``W``, ``Wh``, ``s``...).

    Raises ValueError for a value no PhysicalValue can carry (beyond 32767 x 10^3, or not a number).
    """
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"cannot express {value!r} {unit} as a PhysicalValue")
    multiplier = 0
    if not (-_SHORT <= value <= _SHORT and value == int(value)):
        # Fractions: smaller multipliers while the Value still fits; large values: larger ones.
        while (
            multiplier > _MIN_MULTIPLIER
            and value != round(value, -multiplier)
            and abs(value) * 10 < _SHORT * 10**multiplier
        ):
            multiplier -= 1
    scaled = round(value / 10**multiplier)
    while abs(scaled) > _SHORT:
        multiplier += 1
        scaled = round(value / 10**multiplier)
    if multiplier > _MAX_MULTIPLIER:
        raise ValueError(f"{value!r} {unit} is too large for a PhysicalValue")
    return module.PhysicalValue(multiplier=multiplier, value=scaled, unit=module.UnitSymbol(unit))


def value_of(number: Any, default: float = 0.0) -> float:
    """The float a PhysicalValue stands for (``default`` when absent)."""
    if number is None:
        return default
    multiplier: int = number.multiplier
    value = float(number.value)
    return value * 10.0**multiplier if multiplier >= 0 else value / 10.0**-multiplier
