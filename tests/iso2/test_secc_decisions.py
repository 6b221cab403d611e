"""The -2 SECC decisions one by one: each FAILED code where the request breaks a rule, the inputs they ask for,
and what they remember."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from iso15118.controller import EvseCommand, EVSELimits, MeterReading, Notification
from iso15118.decisions import Answer, Input, Inputs, Need, StorePaused, Warn
from iso15118.envelope.kinds import Kind
from iso15118.envelope.physical import physical, value_of
from iso15118.envelope.states import body_of
from iso15118.iso2.profile import ISO2
from iso15118.iso2.secc import SeccContext, SeccView, decide
from iso15118.messages.generated import iso2 as m
from iso15118.session.selection import EnergyFamily, Selection
from tests.iso2.support import SECC, secc

SID = bytes.fromhex("0102030405060708")
AC1 = "AC_single_phase_core"
LIMITS = EVSELimits(max_charge_w=11_000)
_R = m.ResponseCode


def view(element: Any, ctx: SeccContext | None = None, **changes: Any) -> SeccView:
    header = ISO2.envelope.header(SID)
    values: dict[str, Any] = {
        "now": 1000.0,
        "request": ISO2.envelope.wrap(header, element),
        "header": header,
        "ctx": ctx or SeccContext(),
        "config": SECC,
        "selection": Selection(namespace="urn:iso:15118:2:2013:MsgDef"),
        "session_id": SID,
    }
    values.update(changes)
    return SeccView(**values)


def answered(element: Any, ctx: SeccContext | None = None, **inputs: Any) -> Answer[SeccContext]:
    """Decide, feeding the inputs asked for from ``inputs`` (by Input name, lower case)."""
    gathered = Inputs()
    v = view(element, ctx)
    kind = ISO2.envelope.kind(element)
    for _ in range(len(Input)):
        decided = decide(kind, replace(v, inputs=gathered))
        if not isinstance(decided, Need):
            return decided
        gathered = gathered.with_value(decided.what, inputs[decided.what.name.lower()])
    raise AssertionError("asks too often")


def code(a: Answer[SeccContext]) -> str:
    return str(body_of(a.response).response_code)


def selection(option: str = "ExternalPayment", *ids: int) -> m.PaymentServiceSelectionReq:
    services = tuple(m.SelectedService(service_id=i) for i in ids or (1,))
    return m.PaymentServiceSelectionReq(
        selected_payment_option=m.PaymentOption(option),
        selected_service_list=m.SelectedServiceList(selected_service=services),
    )


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (selection("Contract"), "FAILED_PaymentSelectionInvalid"),
        (selection("ExternalPayment", 2), "FAILED_NoChargeServiceSelected"),
        (selection("ExternalPayment", 1, 2), "FAILED_ServiceSelectionInvalid"),
        (selection(), "OK"),
    ],
)
def test_payment_service_selection(request_: Any, expected: str) -> None:
    a = answered(request_, SeccContext(offered_payment=("ExternalPayment",)))
    assert code(a) == expected
    assert (a.ctx.payment == "ExternalPayment") is (expected == "OK")


def test_service_detail_knows_only_the_charge_service() -> None:
    assert code(answered(m.ServiceDetailReq(service_id=1))) == "OK"
    refused = answered(m.ServiceDetailReq(service_id=3))
    assert code(refused) == "FAILED_ServiceIDInvalid" and "[V2G2-425]" in (refused.ctx.refusal or "")


def _cpd(mode: str = AC1, *, max_a: float = 16, min_a: float = 6, dc: bool = False) -> m.ChargeParameterDiscoveryReq:
    ac = m.AC_EVChargeParameter(
        e_amount=physical(m, 20_000, "Wh"),
        ev_max_voltage=physical(m, 400, "V"),
        ev_max_current=physical(m, max_a, "A"),
        ev_min_current=physical(m, min_a, "A"),
    )
    return m.ChargeParameterDiscoveryReq(
        requested_energy_transfer_mode=m.EnergyTransferMode(mode), ac_ev_charge_parameter=None if dc else ac
    )


OFFERED = SeccContext(offered_modes=(AC1,), payment="ExternalPayment", authorized=True)


def test_charge_parameters_offer_one_schedule_at_the_chargers_maximum() -> None:
    a = answered(_cpd(), OFFERED, limits=LIMITS)
    res = body_of(a.response)
    assert code(a) == "OK" and str(res.evse_processing) == "Finished"
    (offer,) = res.sa_schedule_list.sa_schedule_tuple
    (entry,) = offer.p_max_schedule.p_max_schedule_entry
    assert value_of(entry.p_max) == 11_000 and entry.relative_time_interval.duration == 86_400
    assert value_of(res.ac_evse_charge_parameter.evse_max_current) == pytest.approx(11_000 / 230, abs=0.05)
    assert a.ctx.schedule_ids == (1,) and a.ctx.ev_max_w == pytest.approx(16 * 230)


@pytest.mark.parametrize(
    ("request_", "ctx", "expected"),
    [
        (_cpd("AC_three_phase_core"), OFFERED, "FAILED_WrongEnergyTransferMode"),  # not offered
        (_cpd(dc=True), OFFERED, "FAILED_WrongChargeParameter"),  # [V2G2-477]
        (_cpd(min_a=60), OFFERED, "FAILED_WrongChargeParameter"),  # above the charger's 47.8 A
        # A DC mode with AC parameters [V2G2-477].
        (_cpd("DC_extended"), replace(OFFERED, offered_modes=(AC1, "DC_extended")), "FAILED_WrongChargeParameter"),
    ],
)
def test_charge_parameters_refused(request_: Any, ctx: SeccContext, expected: str) -> None:
    assert code(answered(request_, ctx, limits=LIMITS)) == expected


def test_a_renegotiation_keeps_the_family() -> None:
    v = view(_cpd("DC_extended"), replace(OFFERED, offered_modes=(AC1, "DC_extended")))
    v = replace(v, selection=replace(v.selection, family=EnergyFamily.AC))
    a = decide(Kind.ChargeParameterDiscoveryReq, v)
    assert isinstance(a, Answer) and code(a) == "FAILED_WrongEnergyTransferMode"
    assert "in a AC session" in (a.ctx.refusal or "")


SCHEDULED = replace(OFFERED, schedule_ids=(1,), pmax_w=11_000, ev_max_w=3680, granted_w=3680, energy_mode=AC1)


def _start(tuple_id: int = 1, peak_w: float | None = None) -> m.PowerDeliveryReq:
    profile = None
    if peak_w is not None:
        entry = m.ProfileEntry(
            charging_profile_entry_start=0, charging_profile_entry_max_power=physical(m, peak_w, "W")
        )
        profile = m.ChargingProfile(profile_entry=(entry,))
    return m.PowerDeliveryReq(
        charge_progress=m.ChargeProgress.Start, sa_schedule_tuple_id=tuple_id, charging_profile=profile
    )


@pytest.mark.parametrize(
    ("request_", "contactors", "expected"),
    [
        (_start(2), True, "FAILED_TariffSelectionInvalid"),
        (_start(1, peak_w=12_000), True, "FAILED_ChargingProfileInvalid"),  # above the PMax [V2G2-225]
        (_start(1, peak_w=11_000), False, "FAILED_PowerDeliveryNotApplied"),
        (_start(1, peak_w=11_000), True, "OK"),
    ],
)
def test_power_delivery_start(request_: Any, contactors: bool, expected: str) -> None:
    a = answered(request_, SCHEDULED, power_delivery=contactors)
    assert code(a) == expected
    assert (a.ctx.schedule_tuple_id == 1) is (expected == "OK")


def test_renegotiate_leaves_the_contactors_alone() -> None:
    a = answered(m.PowerDeliveryReq(charge_progress=m.ChargeProgress.Renegotiate, sa_schedule_tuple_id=1), SCHEDULED)
    assert code(a) == "OK" and a.ctx.renegotiations == 1  # no input asked: ``answered`` would have failed


LOOPING = replace(SCHEDULED, schedule_tuple_id=1)
READING = MeterReading(meter_id="METER-1", charged_wh=1234, timestamp=1000)


@pytest.mark.parametrize(
    ("command", "notification"),
    [
        (EvseCommand(), "None"),
        (EvseCommand(notification=Notification.TERMINATE), "StopCharging"),
        (EvseCommand(notification=Notification.SCHEDULE_RENEGOTIATION), "ReNegotiation"),
        (EvseCommand(notification=Notification.EXIT_STANDBY), "None"),
    ],
)
def test_charging_status_notifications(command: EvseCommand, notification: str) -> None:
    a = answered(m.ChargingStatusReq(), LOOPING, loop_command=command, meter=READING)
    res = body_of(a.response)
    assert str(res.ac_evse_status.evse_notification) == notification
    assert res.meter_info.meter_reading == 1234 and res.sa_schedule_tuple_id == 1 and res.evse_max_current is None


def test_charging_status_limits_the_current_and_the_granted_power() -> None:
    a = answered(m.ChargingStatusReq(), LOOPING, loop_command=EvseCommand(target_power_w=2300), meter=READING)
    assert value_of(body_of(a.response).evse_max_current) == 10.0 and a.ctx.granted_w == 2300


def test_an_operator_stop_notifies_stop_charging_at_once() -> None:
    v = replace(view(m.ChargingStatusReq(), LOOPING), stopping=True)
    v = replace(v, inputs=Inputs({Input.LOOP_COMMAND: EvseCommand(), Input.METER: READING}))
    a = decide(Kind.ChargingStatusReq, v)
    assert isinstance(a, Answer)
    status = body_of(a.response).ac_evse_status
    assert str(status.evse_notification) == "StopCharging" and status.notification_max_delay == 0


@pytest.mark.parametrize(("payment", "asked"), [("ExternalPayment", False), ("Contract", True)])
def test_receipts_are_asked_only_with_contract_payment(payment: str, asked: bool) -> None:
    ctx = replace(LOOPING, payment=payment)
    with_receipts = view(m.ChargingStatusReq(), ctx, config=secc(receipt_required=True))
    v = replace(with_receipts, inputs=Inputs({Input.LOOP_COMMAND: EvseCommand(), Input.METER: READING}))
    a = decide(Kind.ChargingStatusReq, v)
    assert isinstance(a, Answer) and body_of(a.response).receipt_required is asked  # [V2G2-691]
    assert a.ctx.receipt_asked is asked


def _receipt() -> m.MeteringReceiptReq:
    return m.MeteringReceiptReq(session_id=SID, meter_info=m.MeterInfo(meter_id="METER-1", meter_reading=1234))


@pytest.mark.parametrize(
    ("ctx", "expected"),
    [
        (LOOPING, "FAILED_SequenceError"),  # nobody asked for it
        (replace(LOOPING, receipt_asked=True, payment="Contract"), "FAILED_MeteringSignatureNotValid"),
        (replace(LOOPING, receipt_asked=True), "OK"),
    ],
)
def test_metering_receipt(ctx: SeccContext, expected: str) -> None:
    a = answered(_receipt(), ctx)
    assert code(a) == expected
    if expected == "OK":
        assert a.ctx.receipt_asked is False and body_of(a.response).ac_evse_status is not None


def test_pausing_keeps_the_session_unless_the_charger_forbids_it() -> None:
    pause = m.SessionStopReq(charging_session=m.ChargingSession.Pause)
    a = answered(pause, replace(LOOPING, evcc_id="020000000001"))
    (stored,) = [e for e in a.effects if isinstance(e, StorePaused)]
    assert stored.session.session_id == SID and stored.session.evcc_id == "020000000001"
    assert stored.session.expires_at == 1000.0 + SECC.pause_expiry_s
    v = view(pause, LOOPING, config=secc(pause_allowed=False))
    refused = decide(Kind.SessionStopReq, v)
    assert isinstance(refused, Answer) and code(refused) == "FAILED"


def test_a_new_session_id_is_never_zero() -> None:
    setup = m.SessionSetupReq(evcc_id=bytes.fromhex("020000000001"))
    v = replace(view(setup), request=ISO2.envelope.wrap(ISO2.envelope.header(bytes(8)), setup), entropy=bytes(32))
    a = decide(Kind.SessionSetupReq, v)
    assert isinstance(a, Answer) and a.response.header.session_id == bytes([1]) + bytes(7)
    assert str(body_of(a.response).response_code) == "OK_NewSessionEstablished" and a.ctx.evcc_id == "020000000001"


def test_the_pnc_requests_are_refused_by_a_charger_that_never_offered_contract() -> None:
    details = m.PaymentDetailsReq(
        emaid="DEABCC123ABC560", contract_signature_cert_chain=m.CertificateChain(certificate=b"\x30")
    )
    a = answered(details, OFFERED)
    assert code(a) == "FAILED" and "Contract was not offered" in (a.ctx.refusal or "")
    assert any(isinstance(e, Warn) for e in a.effects)
