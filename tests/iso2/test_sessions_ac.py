"""Complete ISO 15118-2 AC sessions in memory between our EVCC and SECC through the real runner: EIM, the
authorization loop, the ChargingStatus loop, MeteringReceipt, renegotiation, pause and resume, and the ways a
session ends early."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from iso15118.controller import Notification
from iso15118.decisions import Answer, Need, SeccEnv, SeccLogic, Summary
from iso15118.envelope.kinds import Kind
from iso15118.envelope.states import body_of
from iso15118.errors import ConfigError
from iso15118.iso2.logic import Iso2Evcc
from iso15118.iso2.profile import ISO2
from iso15118.messages.generated import iso2 as m
from iso15118.session.events import EndReason
from iso15118.simple import SimpleEV, SimpleEVConfig, SimpleEVSE, SimpleEVSEConfig
from iso15118.transport.store import SessionStore
from tests.iso2.support import bodies, evcc, kinds, run, secc

SEQUENCE = [
    "supportedAppProtocolReq",
    "SessionSetupReq",
    "ServiceDiscoveryReq",
    "PaymentServiceSelectionReq",
    "AuthorizationReq",
    "ChargeParameterDiscoveryReq",
    "PowerDeliveryReq",
    "ChargingStatusReq",
    "ChargingStatusReq",
    "ChargingStatusReq",
    "PowerDeliveryReq",
    "SessionStopReq",
]


def test_an_eim_ac_session_runs_the_whole_sequence() -> None:
    ev, evse = SimpleEV(), SimpleEVSE()
    out, charger, rec = run(ev=ev, evse=evse)
    assert out.ok and charger.ok and out.ended.reason is EndReason.TERMINATED, (out, charger)
    assert kinds(rec, "evcc") == SEQUENCE
    assert out.negotiated["protocol"] == "urn:iso:15118:2:2013:MsgDef"
    for side in (out, charger):
        assert side.negotiated["energy_mode"] == "AC" and side.negotiated["payment_option"] == "ExternalPayment"
        assert side.negotiated["energy_transfer_mode"] == "AC_single_phase_core"
        assert side.negotiated["sa_schedule_tuple_id"] == 1 and side.loops == 3
    # Energy flowed while the loop ran; PowerDelivery(Stop) opened the contactors and the EV stopped drawing.
    assert len(out.meter_readings) == 3 and ev.soc > 50.0 and evse.charged_wh > 0
    assert evse.contactor_closed is False and ev.power_w == 0
    (setup,) = bodies(rec, "secc", "SessionSetupRes")
    assert str(setup.response_code) == "OK_NewSessionEstablished" and len(out.session_id) == 8
    (start, stop) = bodies(rec, "evcc", "PowerDeliveryReq")
    assert (str(start.charge_progress), str(stop.charge_progress)) == ("Start", "Stop")
    # The ChargingProfile stays within the offered PMax [V2G2-225].
    (offer,) = bodies(rec, "secc", "ChargeParameterDiscoveryRes")
    pmax = offer.sa_schedule_list.sa_schedule_tuple[0].p_max_schedule.p_max_schedule_entry[0].p_max
    assert start.charging_profile.profile_entry[0].charging_profile_entry_max_power.value <= pmax.value
    assert all(s.receipt_required is False for s in bodies(rec, "secc", "ChargingStatusRes"))  # EIM [V2G2-691]


def test_a_three_phase_charger_is_used_on_three_phases() -> None:
    evse = SimpleEVSE(SimpleEVSEConfig(three_phase=True, max_charge_w=22_000))
    out, charger, rec = run(evse=evse)
    assert out.ok and charger.ok and charger.negotiated["energy_transfer_mode"] == "AC_three_phase_core"
    (discovery,) = bodies(rec, "secc", "ServiceDiscoveryRes")
    modes = [str(m) for m in discovery.charge_service.supported_energy_transfer_mode.energy_transfer_mode]
    assert modes == ["AC_single_phase_core", "AC_three_phase_core", "DC_extended"]  # SimpleEVSE has a DC output
    (offer,) = bodies(rec, "secc", "ChargeParameterDiscoveryRes")
    current = offer.ac_evse_charge_parameter.evse_max_current
    assert current.value * 10**current.multiplier == pytest.approx(22_000 / (3 * 230), abs=0.1)


def test_authorization_is_repeated_while_the_customer_is_awaited() -> None:
    evse = SimpleEVSE(SimpleEVSEConfig(authorization_delay=2))
    out, charger, rec = run(evse=evse)
    assert out.ok and charger.ok
    answers = [str(a.evse_processing) for a in bodies(rec, "secc", "AuthorizationRes")]
    assert answers == ["Ongoing_WaitingForCustomerInteraction"] * 2 + ["Finished"]
    assert kinds(rec, "evcc").count("AuthorizationReq") == 3 and evse.auth_calls == 3


def test_a_refused_authorization_ends_the_session_before_any_energy() -> None:
    out, charger, rec = run(evse=SimpleEVSE(SimpleEVSEConfig(reject=True)))
    assert out.ended.reason is EndReason.FAILED_RECEIVED and out.ended.response_code == "FAILED"
    assert charger.failure == "FAILED: the charger refused the authorization"
    assert "ChargeParameterDiscoveryReq" not in kinds(rec, "evcc")


def test_the_ev_stops_when_it_reaches_its_target() -> None:
    ev = SimpleEV(SimpleEVConfig(soc=79.99999, target_soc=80.0))
    out, _charger, rec = run(evcc(max_loops=None, loop_interval_s=0.05), ev=ev)
    assert out.ok and out.loops >= 1 and ev.soc >= 80.0
    assert kinds(rec, "evcc")[-2:] == ["PowerDeliveryReq", "SessionStopReq"]


@pytest.mark.parametrize("how", ["ev", "charger"])
def test_renegotiation_goes_back_to_the_charge_parameters_and_starts_again(how: str) -> None:
    if how == "ev":
        out, charger, rec = run(evcc(max_loops=4, renegotiate_schedule_after=2))
    else:
        evse = SimpleEVSE(SimpleEVSEConfig(notifications=((2, Notification.SCHEDULE_RENEGOTIATION),)))
        out, charger, rec = run(evcc(max_loops=4), evse=evse)
        assert out.negotiated["notifications"] == ["ReNegotiation"]
    assert out.ok and charger.ok and out.loops == charger.loops == 4
    sent = kinds(rec, "evcc")
    at = sent.index("PowerDeliveryReq", sent.index("ChargingStatusReq"))
    assert sent[at : at + 4] == [
        "PowerDeliveryReq",
        "ChargeParameterDiscoveryReq",
        "PowerDeliveryReq",
        "ChargingStatusReq",
    ]
    progress = [str(p.charge_progress) for p in bodies(rec, "evcc", "PowerDeliveryReq")]
    assert progress == ["Start", "Renegotiate", "Start", "Stop"]
    assert out.negotiated["renegotiations"] == charger.negotiated["renegotiations"] == 1


def test_the_charger_stops_the_ev_with_stop_charging() -> None:
    evse = SimpleEVSE(SimpleEVSEConfig(notifications=((2, Notification.TERMINATE),)))
    out, charger, rec = run(evcc(max_loops=10), evse=evse)
    assert out.ok and charger.ok and out.loops == charger.loops == 2
    assert out.negotiated["notifications"] == ["StopCharging"]
    assert kinds(rec, "evcc")[-2:] == ["PowerDeliveryReq", "SessionStopReq"]


def test_pause_then_resume_on_a_second_connection() -> None:
    store = SessionStore()
    evse = SimpleEVSE()
    first, charger1, _ = run(evcc(stop_with="Pause"), evse=evse, store=store)
    assert first.ended.reason is EndReason.PAUSED and charger1.ended.reason is EndReason.PAUSED and len(store) == 1
    calls = evse.auth_calls
    second, charger2, rec = run(evcc(resume_session_id=first.session_id), evse=evse, store=store)
    assert second.ok and charger2.ok and second.session_id == first.session_id and len(store) == 0
    (setup,) = bodies(rec, "secc", "SessionSetupRes")
    assert str(setup.response_code) == "OK_OldSessionJoined"
    assert second.negotiated["resumed"] is True and charger2.negotiated["resumed"] is True
    # What was agreed carries over [V2G2-741]: the payment option alone is offered, the authorization stands,
    # the SAScheduleTupleID is the same; this connection counts its own loops.
    (discovery,) = bodies(rec, "secc", "ServiceDiscoveryRes")
    assert [str(o) for o in discovery.payment_option_list.payment_option] == ["ExternalPayment"]
    assert evse.auth_calls == calls
    assert second.negotiated["sa_schedule_tuple_id"] == first.negotiated["sa_schedule_tuple_id"]
    assert charger2.loops == 3 and len(charger2.meter_readings) == 3


def test_a_resume_by_another_ev_starts_a_new_session() -> None:
    store = SessionStore()
    first, _c, _ = run(evcc(stop_with="Pause"), store=store)
    stranger = evcc(resume_session_id=first.session_id, evcc_mac=bytes.fromhex("020000000002"))
    out, charger, rec = run(stranger, store=store)
    (setup,) = bodies(rec, "secc", "SessionSetupRes")
    assert str(setup.response_code) == "OK_NewSessionEstablished" and out.session_id != first.session_id
    assert any("resume refused" in n and "is not the EVCCID" in n for n in charger.notes)
    assert len(store) == 1  # still there for its own EV
    # The EV asked to resume: by default it stops and says why; with fallbacks it goes on.
    assert out.ended_regularly and out.failure is not None and "did not resume" in out.failure
    out, _c, _ = run(replace(stranger, accept_fallback=True), store=store)
    assert out.ok and out.substitutions and "did not resume" in out.substitutions[0]


def test_pnc_asked_of_a_charger_without_contract_stops_the_ev_unless_it_accepts_eim() -> None:
    out, _c, rec = run(evcc(authorization="PnC"))
    assert out.ended_regularly and out.failure == "PnC asked, the SECC offers ExternalPayment"
    assert kinds(rec, "evcc")[-1] == "SessionStopReq"
    out, _c, _ = run(evcc(authorization="PnC", accept_fallback=True))
    assert out.ok and out.negotiated["authorization"] == "EIM" and "EIM used instead" in out.substitutions[0]


def test_a_charger_configured_for_pnc_only_offers_nothing_it_cannot_serve() -> None:
    # No -2 PnC checks (contract roots) were given to the runner: Contract cannot be verified, so not offered.
    out, charger, _ = run(secc=secc(authorization=("PnC",)))
    assert out.ended.response_code == "FAILED" and charger.failure is not None
    assert "no payment option this SECC can serve for PnC" in charger.failure


class _AsksForReceipts:
    """A charger that asks for a receipt in every ChargingStatusRes: ours does so only in PnC sessions
    [V2G2-691]; this wraps our decisions the way the conformance harness wraps them."""

    def __init__(self, logic: SeccLogic) -> None:
        self.logic = logic

    def initial(self) -> Any:
        return self.logic.initial()

    def decide(self, kind: Any, request: Any, ctx: Any, env: SeccEnv) -> Answer[Any] | Need:
        decided = self.logic.decide(kind, request, ctx, env)
        if kind is not Kind.ChargingStatusReq or not isinstance(decided, Answer):
            return decided
        status = replace(body_of(decided.response), receipt_required=True)
        response = ISO2.envelope.wrap(decided.response.header, status)
        return Answer(response, replace(decided.ctx, receipt_asked=True), decided.effects)

    def summary(self, ctx: Any) -> Summary:
        return self.logic.summary(ctx)


def test_a_metering_receipt_follows_every_response_that_asks_for_one() -> None:
    out, charger, rec = run(decisions=_AsksForReceipts)
    assert out.ok and charger.ok and out.negotiated["metering_receipts"] == 3
    sent = kinds(rec, "evcc")
    assert sent[7:13] == ["ChargingStatusReq", "MeteringReceiptReq"] * 3
    statuses, receipts = bodies(rec, "secc", "ChargingStatusRes"), bodies(rec, "evcc", "MeteringReceiptReq")
    for status, receipt in zip(statuses, receipts, strict=True):
        assert receipt.meter_info == status.meter_info and receipt.session_id == out.session_id
    assert all(str(r.response_code) == "OK" for r in bodies(rec, "secc", "MeteringReceiptRes"))


def test_an_evccid_longer_than_a_mac_address_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="EVCCID is 1 to 6 bytes"):
        Iso2Evcc(evcc(evcc_mac=bytes(8)))


class _SchedulesLater:
    """A charger whose first two ChargeParameterDiscoveryRes say Ongoing (its schedule is not ready yet)."""

    def __init__(self, logic: SeccLogic) -> None:
        self.logic = logic
        self.ongoing = 2

    def initial(self) -> Any:
        return self.logic.initial()

    def decide(self, kind: Any, request: Any, ctx: Any, env: SeccEnv) -> Answer[Any] | Need:
        decided = self.logic.decide(kind, request, ctx, env)
        if kind is not Kind.ChargeParameterDiscoveryReq or not isinstance(decided, Answer) or not self.ongoing:
            return decided
        self.ongoing -= 1
        ongoing = replace(body_of(decided.response), evse_processing=m.EVSEProcessing.Ongoing, sa_schedule_list=None)
        return Answer(ISO2.envelope.wrap(decided.response.header, ongoing), ctx, decided.effects)

    def summary(self, ctx: Any) -> Summary:
        return self.logic.summary(ctx)


def test_charge_parameter_discovery_is_repeated_while_the_charger_says_ongoing() -> None:
    out, charger, rec = run(decisions=_SchedulesLater)
    assert out.ok and charger.ok
    answers = [str(r.evse_processing) for r in bodies(rec, "secc", "ChargeParameterDiscoveryRes")]
    assert answers == ["Ongoing", "Ongoing", "Finished"]
    assert kinds(rec, "evcc").count("ChargeParameterDiscoveryReq") == 3 and out.negotiated["energy_mode"] == "AC"
