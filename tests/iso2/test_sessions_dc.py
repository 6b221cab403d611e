"""Complete ISO 15118-2 DC sessions in memory between our EVCC and SECC through the real runner, on the DC
decisions DIN and -2 share: the DC steps, -2's CurrentDemandRes fields, renegotiation without a second cable
check, pause and resume, the charger stopping the loop, and refusals."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from iso15118.constants import EnergyService
from iso15118.controller import IsolationStatus, Notification
from iso15118.decisions import Answer, Need, SeccEnv, SeccLogic, Summary
from iso15118.envelope.kinds import Kind
from iso15118.envelope.physical import value_of
from iso15118.envelope.states import body_of
from iso15118.iso2.profile import ISO2
from iso15118.session.events import EndReason
from iso15118.session.selection import EnergyFamily
from iso15118.simple import SimpleEV, SimpleEVSE, SimpleEVSEConfig
from iso15118.transport.store import SessionStore
from tests.iso2.support import bodies, evcc, kinds, run, secc

DC_EVCC = evcc(energy=EnergyFamily.DC, precharge_interval_s=0.0)
FLOW = [
    "supportedAppProtocolReq",
    "SessionSetupReq",
    "ServiceDiscoveryReq",
    "PaymentServiceSelectionReq",
    "AuthorizationReq",
    "ChargeParameterDiscoveryReq",
    "CableCheckReq",
    "PreChargeReq",
    "PowerDeliveryReq",
    "CurrentDemandReq",
    "PowerDeliveryReq",
    "WeldingDetectionReq",
    "SessionStopReq",
]


def dc(**changes: Any) -> Any:
    return replace(DC_EVCC, **changes)


def collapse(names: list[str]) -> list[str]:
    """Repeated requests as one."""
    return [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n]


def test_a_dc_session_runs_the_dc_steps_and_ends_with_session_stop() -> None:
    ev, evse = SimpleEV(), SimpleEVSE(SimpleEVSEConfig(cable_check_requests=2, precharge_step_v=150.0))
    out, charger, rec = run(dc(max_loops=4), ev=ev, evse=evse)
    assert out.ok and charger.ok and out.ended.reason is EndReason.TERMINATED, (out, charger)
    assert collapse(kinds(rec, "evcc")) == FLOW
    assert out.loops == charger.loops == 4 and kinds(rec, "evcc").count("CableCheckReq") == 3
    for side in (out, charger):
        assert side.negotiated["energy_mode"] == "DC" and side.negotiated["energy_transfer_mode"] == "DC_extended"
    assert [str(p.charge_progress) for p in bodies(rec, "evcc", "PowerDeliveryReq")] == ["Start", "Stop"]
    assert all(p.dc_ev_power_delivery_parameter is not None for p in bodies(rec, "evcc", "PowerDeliveryReq"))
    assert evse.charged_wh > 0 and ev.soc > 50.0 and evse.contactor_closed is False


def test_current_demand_res_carries_what_iso2_adds() -> None:
    out, _charger, rec = run(dc(max_loops=3))
    answers = bodies(rec, "secc", "CurrentDemandRes")
    assert len(answers) == 3 and out.ok
    for res in answers:
        assert res.evse_id == "DE*V2G*E0001*1" and res.sa_schedule_tuple_id == 1
        assert res.meter_info is not None and res.meter_info.meter_id == "METER-1"
        assert res.receipt_required is False  # EIM [V2G2-691]
        assert str(res.dc_evse_status.evse_notification) == "None"
    assert len(out.meter_readings) == 3
    (offer,) = bodies(rec, "secc", "ChargeParameterDiscoveryRes")
    pmax = offer.sa_schedule_list.sa_schedule_tuple[0].p_max_schedule.p_max_schedule_entry[0].p_max
    assert value_of(pmax) == value_of(offer.dc_evse_charge_parameter.evse_maximum_power_limit)


@pytest.mark.parametrize("how", ["ev", "charger"])
def test_a_dc_renegotiation_skips_the_second_cable_check_and_precharge(how: str) -> None:
    if how == "ev":
        out, charger, rec = run(dc(max_loops=4, renegotiate_schedule_after=2))
    else:
        evse = SimpleEVSE(SimpleEVSEConfig(notifications=((2, Notification.SCHEDULE_RENEGOTIATION),)))
        out, charger, rec = run(dc(max_loops=4), evse=evse)
        assert out.negotiated["notifications"] == ["ReNegotiation"]
    assert out.ok and charger.ok and out.loops == charger.loops == 4
    sent = kinds(rec, "evcc")
    at = sent.index("PowerDeliveryReq", sent.index("CurrentDemandReq"))
    assert sent[at : at + 4] == [
        "PowerDeliveryReq",
        "ChargeParameterDiscoveryReq",
        "PowerDeliveryReq",
        "CurrentDemandReq",
    ]
    assert sent.count("ChargeParameterDiscoveryReq") == 2 and collapse(sent).count("CableCheckReq") == 1
    progress = [str(p.charge_progress) for p in bodies(rec, "evcc", "PowerDeliveryReq")]
    assert progress == ["Start", "Renegotiate", "Start", "Stop"]


def test_the_charger_stops_the_dc_loop_with_stop_charging() -> None:
    evse = SimpleEVSE(SimpleEVSEConfig(notifications=((2, Notification.TERMINATE),)))
    out, charger, rec = run(dc(max_loops=10), evse=evse)
    assert out.ok and charger.ok and out.loops == 2 and out.negotiated["notifications"] == ["StopCharging"]
    assert collapse(kinds(rec, "evcc"))[-4:] == [
        "CurrentDemandReq",
        "PowerDeliveryReq",
        "WeldingDetectionReq",
        "SessionStopReq",
    ]


def test_an_insulation_fault_ends_the_session_before_any_energy() -> None:
    evse = SimpleEVSE(SimpleEVSEConfig(isolation=IsolationStatus.FAULT))
    out, charger, rec = run(dc(), evse=evse)
    assert out.ended.reason is EndReason.FAILED_RECEIVED and out.ended.response_code == "FAILED"
    assert charger.failure is not None and "insulation test ended Fault" in charger.failure
    assert "PreChargeReq" not in kinds(rec, "evcc") and evse.charged_wh == 0


def test_a_dc_pause_resumes_with_a_new_cable_check() -> None:
    store = SessionStore()
    first, _c, _ = run(dc(stop_with="Pause"), store=store)
    assert first.ended.reason is EndReason.PAUSED and len(store) == 1
    second, charger, rec = run(dc(resume_session_id=first.session_id), store=store)
    assert second.ok and charger.ok and second.negotiated["resumed"] is True
    (setup,) = bodies(rec, "secc", "SessionSetupRes")
    assert str(setup.response_code) == "OK_OldSessionJoined"
    # The contactors opened for the pause: the resumed session checks the cable and precharges again.
    assert collapse(kinds(rec, "evcc")) == FLOW


def test_a_dc_ev_at_an_ac_only_charger_stops_with_the_reason() -> None:
    out, _charger, rec = run(dc(), secc=secc(services=(int(EnergyService.AC),)))
    assert (
        out.ended_regularly
        and out.failure == "no DC energy transfer mode offered (the SECC offers AC_single_phase_core)"
    )
    assert kinds(rec, "evcc")[-1] == "SessionStopReq"


class _AsksForReceipts:
    """A charger that asks for a receipt in every CurrentDemandRes (ours does so only with Contract payment,
    [V2G2-691]); it wraps our decisions the way the conformance harness wraps them."""

    def __init__(self, logic: SeccLogic) -> None:
        self.logic = logic

    def initial(self) -> Any:
        return self.logic.initial()

    def decide(self, kind: Any, request: Any, ctx: Any, env: SeccEnv) -> Answer[Any] | Need:
        decided = self.logic.decide(kind, request, ctx, env)
        if kind is not Kind.CurrentDemandReq or not isinstance(decided, Answer):
            return decided
        res = replace(body_of(decided.response), receipt_required=True)
        return Answer(ISO2.envelope.wrap(decided.response.header, res), replace(decided.ctx, receipt_asked=True))

    def summary(self, ctx: Any) -> Summary:
        return self.logic.summary(ctx)


def test_a_metering_receipt_in_the_dc_loop() -> None:
    out, charger, rec = run(dc(max_loops=2), decisions=_AsksForReceipts)
    assert out.ok and charger.ok and out.negotiated["metering_receipts"] == 2
    assert collapse(kinds(rec, "evcc"))[9:14] == [
        "CurrentDemandReq",
        "MeteringReceiptReq",
        "CurrentDemandReq",
        "MeteringReceiptReq",
        "PowerDeliveryReq",
    ]
    assert all(r.dc_evse_status is not None for r in bodies(rec, "secc", "MeteringReceiptRes"))
