"""Scheduled control mode: the ScheduleTuple an SECC offers and the power it allows an EV at a given time.

In Scheduled mode power follows the selected ScheduleTuple's ChargingSchedule and DischargingSchedule (fact sheet
6.3); ``EVSETargetActivePower`` in a Scheduled AC_ChargeLoopRes is only for grid-code or urgent limitations.
Powers are signed: positive EVSE to EV, negative EV to EVSE [V2G20-1034] [V2G20-1035], so DischargingSchedule
entries are <= 0 (fact sheet 6.1).
"""

from __future__ import annotations

from dataclasses import dataclass

from iso15118.messages import iso20 as m
from iso15118.messages.units import rational, value_of

__all__ = ["Interval", "allowed_power", "flat_price_levels", "intervals_of", "single_level_tuple"]


@dataclass(frozen=True, slots=True)
class Interval:
    """One PowerScheduleEntry placed in time: ``start <= t < end`` (POSIX seconds), ``power_w`` signed."""

    start: float
    end: float
    power_w: float


def flat_price_levels(anchor: int, duration_s: int) -> m.PriceLevelSchedule:
    """A PriceLevelSchedule with a single price level for the whole duration: a flat tariff, the least price
    information an SECC can give when it offers ``Pricing`` = 2 (price levels)."""
    entry = m.PriceLevelScheduleEntry(duration=duration_s, price_level=0)
    return m.PriceLevelSchedule(
        time_anchor=anchor,
        price_schedule_id=1,
        number_of_price_levels=1,
        price_level_schedule_entries=m.PriceLevelScheduleEntryList(price_level_schedule_entry=(entry,)),
    )


def single_level_tuple(
    tuple_id: int,
    anchor: int,
    duration_s: int,
    max_charge_w: float,
    max_discharge_w: float | None,
    *,
    price_levels: bool = False,
) -> m.ScheduleTuple:
    """A ScheduleTuple with one entry per direction from ``anchor``: the charge limit, and, when
    ``max_discharge_w`` is given (AC_BPT), the discharge limit as a power <= 0. With ``price_levels`` each
    schedule carries :func:`flat_price_levels` (the price schedule is optional in the XSD)."""
    prices = flat_price_levels(anchor, duration_s) if price_levels else None

    def schedule(power_w: float) -> m.ChargingSchedule:
        entry = m.PowerScheduleEntry(duration=duration_s, power=rational(power_w))
        entries = m.PowerScheduleEntryList(power_schedule_entry=(entry,))
        return m.ChargingSchedule(
            power_schedule=m.PowerSchedule(time_anchor=anchor, power_schedule_entries=entries),
            price_level_schedule=prices,
        )

    return m.ScheduleTuple(
        schedule_tuple_id=tuple_id,
        charging_schedule=schedule(max_charge_w),
        discharging_schedule=None if max_discharge_w is None else schedule(-abs(max_discharge_w)),
    )


def intervals_of(chosen: m.ScheduleTuple) -> tuple[Interval, ...]:
    """The entries of both schedules of ``chosen`` as consecutive intervals from each schedule's TimeAnchor."""
    found: list[Interval] = []
    for schedule in (chosen.charging_schedule, chosen.discharging_schedule):
        if schedule is None:
            continue
        start = float(schedule.power_schedule.time_anchor)
        for entry in schedule.power_schedule.power_schedule_entries.power_schedule_entry:
            found.append(Interval(start, start + entry.duration, value_of(entry.power)))
            start += entry.duration
    return tuple(found)


def allowed_power(intervals: tuple[Interval, ...], now: float, *, discharge: bool) -> float:
    """The power the schedule allows at ``now`` in the selected direction; 0 outside every interval.

    Charging follows the positive entries, discharging the negative ones (a discharging EV never takes a charging
    entry, nor the other way round).
    """
    for interval in intervals:
        if interval.start <= now < interval.end and interval.power_w != 0 and (interval.power_w < 0) == discharge:
            return interval.power_w
    return 0.0
