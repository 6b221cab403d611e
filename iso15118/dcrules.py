"""The electrical rules of DC charging that every protocol generation shares, for both roles.

ISO 15118-20, ISO 15118-2 and DIN 70121 wrap the same DC steps in different messages: the charger drives its
output towards the EV's voltage with a small current (precharge), the EV closes its contactors only once the
two voltages match, and after the contactors opened the EV watches the output fall (welding detection). The
thresholds and timeouts of those steps do not depend on the generation, so they live here, once, as pure
functions of numbers; :mod:`iso15118.iso20` and :mod:`iso15118.envelope.dc` (DIN 70121, ISO 15118-2) apply them
to their own messages.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from iso15118.controller import DCLimits, EVState

__all__ = [
    "PRECHARGE_CURRENT_A",
    "Precharge",
    "precharge_progress",
    "precharge_target",
    "present_voltage",
    "timed_out_precharge",
    "voltage_window_refusal",
    "welding_finished",
    "welding_note",
]

PRECHARGE_CURRENT_A: Final = 2.0
"""The current a charger may drive while precharging (IEC 61851-23 limits it to 2 A)."""


class Precharge(StrEnum):
    """Where the EV's precharge stands after a response."""

    MATCHED = "matched"
    """The charger's output is within the tolerance of the target: the contactors may close."""
    WAITING = "waiting"
    """Still rising (or falling) towards the target."""
    TIMED_OUT = "timed_out"
    """It never got there in time (V2G_EVCC_PreCharge_Timeout): closing now would short battery and output."""


def precharge_target(ev: EVState) -> float:
    """The voltage the EV precharges to: its target, or its battery's present voltage."""
    target = ev.target_voltage_v if ev.target_voltage_v is not None else ev.present_voltage_v
    if target is None:
        raise ValueError("a DC session needs the EV's present or target voltage (EVState)")
    return target


def present_voltage(ev: EVState) -> float:
    """The battery's voltage now (its target when the EV does not say)."""
    return ev.present_voltage_v if ev.present_voltage_v is not None else precharge_target(ev)


def precharge_progress(
    voltage: float, target: float, elapsed_s: float, *, tolerance_v: float, timeout_s: float
) -> Precharge:
    """Whether a precharge that has run ``elapsed_s`` with the charger at ``voltage`` is done, goes on, or failed."""
    if abs(voltage - target) <= tolerance_v:
        return Precharge.MATCHED
    if elapsed_s >= timeout_s:
        return Precharge.TIMED_OUT
    return Precharge.WAITING


def timed_out_precharge(elapsed_s: float, voltage: float, target: float) -> str:
    """Why the EV stopped a precharge that never reached its target."""
    return f"precharge timed out after {elapsed_s:.1f} s at {voltage:g} V of {target:g} V"


def welding_finished(answered: int, voltage: float | None, *, safe_voltage_v: float, attempts: int) -> bool:
    """Welding detection may end: the output fell below the touch-safe voltage after at least one answer, or
    ``attempts`` answers came without it (some chargers never get there: field-quirks, ABB and Alpitronic)."""
    safe = answered > 0 and voltage is not None and voltage < safe_voltage_v
    return safe or answered >= attempts


def welding_note(voltage: float, answered: int, *, safe_voltage_v: float) -> str | None:
    """The note an EV keeps when welding detection ended above the safe voltage (None when it did not)."""
    if voltage < safe_voltage_v:
        return None
    return f"welding detection ended at {voltage:g} V after {answered} requests (not below {safe_voltage_v:g} V)"


def voltage_window_refusal(ev_min_v: float, ev_max_v: float, limits: DCLimits) -> str | None:
    """Why the EV's voltage window and the charger's cannot meet (None when they overlap)."""
    if ev_max_v < limits.min_voltage_v or ev_min_v > limits.max_voltage_v:
        ours = f"{limits.min_voltage_v:g}-{limits.max_voltage_v:g} V"
        return f"the EV's voltage window {ev_min_v:g}-{ev_max_v:g} V misses the charger's {ours}"
    return None
