"""PhysicalValue of DIN 70121 and ISO 15118-2: the closest value that fits an xs:short and a multiplier -3..3."""

from __future__ import annotations

from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iso15118.envelope.physical import physical, value_of
from iso15118.messages.generated import din, iso2


@pytest.mark.parametrize("module", [din, iso2], ids=["din", "iso2"])
@pytest.mark.parametrize(
    ("value", "multiplier", "raw"),
    [(400, 0, 400), (27.5, -1, 275), (150_000, 1, 15_000), (0.025, -3, 25), (32_767_000, 3, 32_767), (-12.5, -1, -125)],
)
def test_the_smallest_multiplier_that_keeps_the_value(
    module: ModuleType, value: float, multiplier: int, raw: int
) -> None:
    pv = physical(module, value, "W")
    assert (pv.multiplier, pv.value, str(pv.unit)) == (multiplier, raw, "W")
    assert type(pv) is module.PhysicalValue and value_of(pv) == pytest.approx(value)


def test_values_no_physical_value_can_carry_are_refused() -> None:
    for bad in (40_000_000.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="PhysicalValue"):
            physical(din, bad, "W")


@given(st.floats(min_value=-30_000_000, max_value=30_000_000, allow_nan=False))
def test_any_value_in_range_comes_back_within_half_a_step(value: float) -> None:
    pv = physical(iso2, value, "A")
    assert -3 <= pv.multiplier <= 3 and -32768 <= pv.value <= 32767
    assert abs(value_of(pv) - value) <= 0.5 * 10.0**pv.multiplier + 1e-9
