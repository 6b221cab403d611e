"""Scheduled mode: the ScheduleTuple an SECC offers and the power it allows the EV over time."""

from __future__ import annotations

from iso15118.iso20.schedules import Interval, allowed_power, intervals_of, single_level_tuple
from iso15118.messages import iso20 as m
from iso15118.messages.units import rational, value_of

T0 = 1_700_000_000


def test_single_level_tuple_signs_the_discharging_schedule_negative() -> None:
    tuple_ = single_level_tuple(7, T0, 3600, 11_000.0, 9_600.0)
    assert tuple_.schedule_tuple_id == 7
    charging, discharging = tuple_.charging_schedule, tuple_.discharging_schedule
    assert discharging is not None
    [c_entry] = charging.power_schedule.power_schedule_entries.power_schedule_entry
    [d_entry] = discharging.power_schedule.power_schedule_entries.power_schedule_entry
    assert (c_entry.duration, value_of(c_entry.power)) == (3600, 11_000.0)
    # DischargingSchedule entries are <= 0 (fact sheet 6.1), whichever sign the limit came with.
    assert value_of(d_entry.power) == -9_600.0
    negative_limit = single_level_tuple(1, T0, 60, 1.0, -9_600.0).discharging_schedule
    assert negative_limit is not None
    assert value_of(negative_limit.power_schedule.power_schedule_entries.power_schedule_entry[0].power) == -9_600.0
    assert single_level_tuple(1, T0, 60, 11_000.0, None).discharging_schedule is None


def _schedule(anchor: int, *entries: tuple[int, float]) -> m.ChargingSchedule:
    listed = tuple(m.PowerScheduleEntry(duration=d, power=rational(p)) for d, p in entries)
    return m.ChargingSchedule(
        power_schedule=m.PowerSchedule(
            time_anchor=anchor, power_schedule_entries=m.PowerScheduleEntryList(power_schedule_entry=listed)
        )
    )


def test_intervals_follow_each_schedule_from_its_anchor() -> None:
    tuple_ = m.ScheduleTuple(
        schedule_tuple_id=1,
        charging_schedule=_schedule(T0, (600, 11_000.0), (1200, 3_000.0)),
        discharging_schedule=_schedule(T0 + 300, (900, -5_000.0)),
    )
    assert intervals_of(tuple_) == (
        Interval(T0, T0 + 600, 11_000.0),
        Interval(T0 + 600, T0 + 1800, 3_000.0),
        Interval(T0 + 300, T0 + 1200, -5_000.0),
    )


def test_allowed_power_by_direction_and_time() -> None:
    intervals = (
        Interval(T0, T0 + 600, 11_000.0),
        Interval(T0 + 600, T0 + 1800, 0.0),
        Interval(T0 + 300, T0 + 1200, -5_000.0),
    )
    assert allowed_power(intervals, T0, discharge=False) == 11_000.0
    assert allowed_power(intervals, T0 + 599.9, discharge=False) == 11_000.0
    assert allowed_power(intervals, T0 + 600, discharge=False) == 0.0  # a zero entry: nothing may flow
    assert allowed_power(intervals, T0 + 100, discharge=True) == 0.0  # discharge starts at +300 s
    assert allowed_power(intervals, T0 + 300, discharge=True) == -5_000.0
    assert allowed_power(intervals, T0 + 1200, discharge=True) == 0.0  # end is exclusive
    assert allowed_power(intervals, T0 - 1, discharge=False) == 0.0  # before the anchor
    assert allowed_power((), T0, discharge=False) == 0.0
