"""The -2 profile's data: its offer, Table 109 timers, payload limits, what exchanges teach the session, and the
table's guards before and after the energy family is known."""

from __future__ import annotations

import pytest

from iso15118.constants import NS_ISO2
from iso15118.envelope.kinds import Kind
from iso15118.envelope.states import State
from iso15118.iso2.profile import ISO2, LIMIT_CHAINS, LIMIT_SMALL, OFFER, learn
from iso15118.messages.generated import iso2 as m
from iso15118.profiles import OFFERS, PROFILES, evcc_logic, secc_logic
from iso15118.session.profile import Stream
from iso15118.session.selection import EnergyFamily, Selection
from iso15118.session.timers import Timer, Timing
from tests.iso2.support import EVCC, SECC


def test_registered_with_its_decisions() -> None:
    assert PROFILES[NS_ISO2] is ISO2 and OFFERS[NS_ISO2] is OFFER and OFFER.major == 2
    assert type(secc_logic(ISO2, SECC)).__name__ == "Iso2Secc"
    assert type(evcc_logic(ISO2, EVCC)).__name__ == "Iso2Evcc"
    assert ISO2.selection_for(NS_ISO2).family is None  # learnt from ChargeParameterDiscoveryReq


@pytest.mark.parametrize(
    ("kind", "evcc", "secc"),
    [
        (Kind.SessionSetupReq, 2.0, 1.5),
        (Kind.ChargingStatusReq, 2.0, 1.5),
        (Kind.ServiceDetailReq, 5.0, 4.5),
        (Kind.PaymentDetailsReq, 5.0, 4.5),
        (Kind.CertificateInstallationReq, 5.0, 4.5),
        (Kind.CertificateUpdateReq, 5.0, 4.5),
        (Kind.PowerDeliveryReq, 5.0, 4.5),
        (Kind.CurrentDemandReq, 0.25, 0.025),
    ],
)
def test_table_109_timers(kind: Kind, evcc: float, secc: float) -> None:
    timing = ISO2.timing(kind, Timing())
    assert (timing.evcc_timeout, timing.secc_performance) == (evcc, secc)
    assert timing.secc_sequence is None  # the session-wide 60 s [V2G2-443]
    assert ISO2.timing(kind, Timing().scaled(3.0)).evcc_timeout == pytest.approx(3 * evcc)
    assert ISO2.timer_requirement(Timer.SECC_SEQUENCE) == "V2G2-443"


def test_certificate_chains_may_be_larger_than_anything_else() -> None:
    assert ISO2.max_payload(State.WAIT_PAYMENT_DETAILS, Stream.MAIN, 0x8001) == LIMIT_CHAINS
    for state in (State.WAIT_SESSION_SETUP, State.WAIT_AUTHORIZATION, State.CHARGE_LOOP):
        assert ISO2.max_payload(state, Stream.MAIN, 0x8001) == LIMIT_SMALL
    assert ISO2.max_payload(State.CHARGE_LOOP, Stream.MAIN, 0x8002) is None


def _cpd(mode: str) -> m.ChargeParameterDiscoveryReq:
    return m.ChargeParameterDiscoveryReq(requested_energy_transfer_mode=m.EnergyTransferMode(mode))


def _res(processing: str) -> m.ChargeParameterDiscoveryRes:
    return m.ChargeParameterDiscoveryRes(response_code=m.ResponseCode.OK, evse_processing=m.EVSEProcessing(processing))


def test_the_family_is_learnt_once_charge_parameter_discovery_is_finished() -> None:
    fresh = Selection(namespace=NS_ISO2)
    assert learn(fresh, Kind.ChargeParameterDiscoveryReq, _cpd("DC_extended"), _res("Ongoing")).family is None
    ac = learn(fresh, Kind.ChargeParameterDiscoveryReq, _cpd("AC_three_phase_core"), _res("Finished"))
    assert ac.family is EnergyFamily.AC
    # A renegotiation keeps it (the SECC refuses another family's mode).
    assert learn(ac, Kind.ChargeParameterDiscoveryReq, _cpd("DC_core"), _res("Finished")).family is EnergyFamily.AC
    selected = m.PaymentServiceSelectionReq(
        selected_payment_option=m.PaymentOption.ExternalPayment,
        selected_service_list=m.SelectedServiceList(selected_service=(m.SelectedService(service_id=1),)),
    )
    assert learn(fresh, Kind.PaymentServiceSelectionReq, selected, None).service_id == 1


def _wrapped(element: object) -> object:
    return ISO2.envelope.wrap(ISO2.envelope.header(bytes(8)), element)


def test_guards_read_the_requested_mode_until_the_family_is_known() -> None:
    table, fresh = ISO2.table, Selection(namespace=NS_ISO2)
    state = State.WAIT_CHARGE_PARAMETER
    ac_rule = table.rule(state, Kind.ChargeParameterDiscoveryReq, fresh, _wrapped(_cpd("AC_single_phase_core")))
    dc_rule = table.rule(state, Kind.ChargeParameterDiscoveryReq, fresh, _wrapped(_cpd("DC_extended")))
    assert ac_rule is not None and ac_rule.guard == "AC" and dc_rule is not None and dc_rule.guard == "DC"
    # Once the session runs AC, DC rows no longer apply, whatever is asked.
    ac = Selection(namespace=NS_ISO2, family=EnergyFamily.AC)
    status = m.DC_EVStatus(ev_ready=True, ev_error_code=m.DC_EVErrorCode.NO_ERROR, evresssoc=50)
    assert table.rule(State.CHARGE_LOOP, Kind.CurrentDemandReq, ac, None) is None
    assert (
        table.rule(State.WAIT_CABLE_CHECK, Kind.CableCheckReq, ac, _wrapped(m.CableCheckReq(dc_ev_status=status)))
        is None
    )
    rule = table.rule(State.WAIT_CHARGE_PARAMETER, Kind.ChargeParameterDiscoveryReq, ac, _wrapped(_cpd("DC_core")))
    assert rule is not None and rule.guard == "AC"


def test_a_dc_renegotiation_skips_the_cable_check() -> None:
    table = ISO2.table
    cpd, finished = _wrapped(_cpd("DC_extended")), _wrapped(_res("Finished"))
    fresh, dc = Selection(namespace=NS_ISO2), Selection(namespace=NS_ISO2, family=EnergyFamily.DC)
    state = State.WAIT_CHARGE_PARAMETER
    first = table.rule(state, Kind.ChargeParameterDiscoveryReq, fresh, cpd)
    again = table.rule(state, Kind.ChargeParameterDiscoveryReq, dc, cpd)
    assert first is not None and again is not None
    assert table.next_state(state, first, fresh, cpd, finished) is State.WAIT_CABLE_CHECK
    assert table.next_state(state, again, dc, cpd, finished) is State.WAIT_POWER_DELIVERY
