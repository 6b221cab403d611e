"""Physical values as -20 ``RationalNumberType`` (Value x 10^Exponent) and back.

``Value`` is an xs:short (-32768..32767) and ``Exponent`` an xs:byte, so 11 kW is ``{0, 11000}`` and
50 kW needs ``{1, 5000}``. :func:`rational` picks the smallest exponent that fits, keeping the most precision.
"""

from __future__ import annotations

from iso15118.messages.generated.iso20_types import RationalNumber

__all__ = ["rational", "value_of"]

_SHORT = 32767


def rational(value: float, *, max_fraction_digits: int = 3) -> RationalNumber:
    """The RationalNumber closest to ``value`` whose Value fits an xs:short."""
    if -_SHORT <= value <= _SHORT and value == int(value):
        return RationalNumber(exponent=0, value=int(value))  # the common case: whole watts, watt-hours, seconds
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"cannot express {value!r} as a RationalNumber")
    exponent = 0
    # Use negative exponents for fractions, as long as the Value still fits.
    while (
        exponent > -max_fraction_digits and value != round(value, -exponent) and abs(value) * 10 < _SHORT * 10**exponent
    ):
        exponent -= 1
    scaled = round(value / 10**exponent)
    while abs(scaled) > _SHORT:
        exponent += 1
        scaled = round(value / 10**exponent)
    if exponent > 127:
        raise ValueError(f"{value!r} is too large for a RationalNumber")
    return RationalNumber(exponent=exponent, value=scaled)


def value_of(number: RationalNumber | None, default: float = 0.0) -> float:
    """The float a RationalNumber stands for (``default`` when absent)."""
    if number is None:
        return default
    return float(number.value * 10**number.exponent) if number.exponent >= 0 else number.value / 10**-number.exponent
