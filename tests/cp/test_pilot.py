"""The Control Pilot machines (IEC 61851-1 Annex A): every state change, every duty cycle, both roles."""

from __future__ import annotations

import itertools

import pytest

from iso15118.cp.duty import HLC_DUTY, OfferKind, duty_for_current, offer_for_duty
from iso15118.cp.pilot import EvPilot, EvsePilot, OfferChanged, PilotChanged, PilotFault
from iso15118.cp.states import TRANSITIONS, CpState, classify_voltage, transition
from iso15118.errors import ConfigError

S = list(CpState)


@pytest.mark.parametrize(("old", "new"), [(a, b) for a, b in itertools.product(S, S) if a is not b])
def test_every_state_change_is_reported_with_its_meaning(old: CpState, new: CpState) -> None:
    for pilot in (EvsePilot(), EvPilot()):
        if isinstance(pilot, EvsePilot):
            pilot.observe(0.0, old)
            pilot.events()
            pilot.observe(1.0, new)
        else:
            pilot.observe(0.0, old, None)
            pilot.events()
            pilot.observe(1.0, new, None)
        events = pilot.events()
        change = events[0]
        assert isinstance(change, PilotChanged) and (change.change.old, change.change.new) == (old, new)
        listed = (old, new) in TRANSITIONS
        assert change.change.expected is listed
        assert change.change.meaning == (TRANSITIONS[(old, new)] if listed else f"unexpected change {old} -> {new}")
        # E and F end any session: a fault follows the change, and only then.
        faults = [e for e in events if isinstance(e, PilotFault)]
        assert [f.state for f in faults] == ([new] if new in (CpState.E, CpState.F) else [])
        assert pilot.line is new


def test_the_listed_changes_are_the_annex_a_sequences() -> None:
    assert transition(CpState.A, CpState.B).meaning == "EV plugged in"
    assert transition(CpState.B, CpState.C).meaning == "EV ready to charge"
    assert transition(CpState.C, CpState.B).meaning == "EV stopped charging"
    assert transition(CpState.B, CpState.A).meaning == "EV unplugged"
    assert not transition(CpState.A, CpState.C).expected  # C without B: followed, but flagged
    assert len(TRANSITIONS) == 24


@pytest.mark.parametrize(
    ("volts", "state"),
    [(12, "A"), (11.2, "A"), (9, "B"), (8.1, "B"), (6, "C"), (3, "D"), (0, "E"), (-12, "F"), (10.5, None), (-5, None)],
)
def test_voltages_map_to_states_within_the_windows(volts: float, state: str | None) -> None:
    assert classify_voltage(volts) == (None if state is None else CpState(state))
    if state is not None:
        assert classify_voltage(CpState(state).volts) is CpState(state)


def _duty_points() -> list[float]:
    return [x / 2 for x in range(0, 201)]


@pytest.mark.parametrize("duty", _duty_points())
def test_every_duty_cycle_reads_as_iec_61851_1_table_a8(duty: float) -> None:
    offer = offer_for_duty(duty)
    if 3 <= duty <= 7:
        assert offer.kind is OfferKind.HLC and offer.amps is None
    elif 8 <= duty < 10:
        assert offer.amps == 6.0
    elif 10 <= duty <= 85:
        assert offer.amps == pytest.approx(duty * 0.6)
    elif 85 < duty <= 96:
        assert offer.amps == pytest.approx((duty - 64) * 2.5)
    elif 96 < duty <= 97:
        assert offer.amps == 80.0
    else:
        assert offer.kind is OfferKind.NOT_ALLOWED and offer.amps is None


@pytest.mark.parametrize("amps", [6, 10, 16, 32, 51, 53, 63, 80])
def test_the_evse_duty_for_a_current_reads_back_as_that_current(amps: float) -> None:
    duty = duty_for_current(amps)
    assert offer_for_duty(duty).amps == pytest.approx(amps, abs=0.01)
    assert duty == pytest.approx(amps / 0.6 if amps <= 51 else amps / 2.5 + 64, abs=0.01)


def test_the_standards_two_formulas_meet_with_a_step_just_above_51_amps() -> None:
    # 52 A is sent as 52 / 2.5 + 64 = 84.8 %, which the EV's table reads with the 0.6 A/% slope: 50.88 A.
    assert duty_for_current(52) == 84.8 and offer_for_duty(84.8).amps == pytest.approx(50.88)


@pytest.mark.parametrize("amps", [0, 5.9, 80.5])
def test_a_current_outside_6_to_80_amps_cannot_be_offered(amps: float) -> None:
    with pytest.raises(ConfigError, match="6-80 A"):
        duty_for_current(amps)


def test_the_ev_sequence_plug_in_hlc_charge_stop_unplug() -> None:
    ev = EvPilot()
    with pytest.raises(ConfigError, match="plugged in"):
        ev.start_charging()
    assert ev.plug_in() is CpState.B
    ev.observe(0.0, CpState.B, None)
    ev.observe(0.1, CpState.B, HLC_DUTY)
    offers = [e for e in ev.events() if isinstance(e, OfferChanged)]
    assert offers[-1].offer.kind is OfferKind.HLC and ev.hlc_requested
    assert ev.start_charging() is CpState.C and ev.start_charging(ventilation=True) is CpState.D
    assert ev.stop_charging() is CpState.B and ev.unplug() is CpState.A
    ev.observe(1.0, CpState.E, None)
    assert any(isinstance(e, PilotFault) for e in ev.events())
    ev.plug_in()
    with pytest.raises(ConfigError, match="state E"):
        ev.start_charging()


def test_the_evse_outputs() -> None:
    evse = EvsePilot()
    assert evse.offer_hlc().duty == 5.0 and evse.offer_current(16).duty == pytest.approx(26.67, abs=0.01)
    assert evse.stop_pwm().duty is None and evse.unavailable().unavailable
    evse.observe(0.0, CpState.C)
    assert evse.ev_connected and evse.ev_ready
    evse.observe(0.1, None)  # a level between the windows changes nothing
    assert evse.line is CpState.C
