"""Complete DIN 70121 sessions in memory between our EVCC and SECC, both driven by the real runner, with the
simple EV and DC charger: the message flow real chargers run, the loops that repeat while the charger answers
Ongoing, the charger's refusals, and what the outcomes say."""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from typing import Any

import pytest

from iso15118.config import EvccConfig, SeccConfig
from iso15118.constants import NS_DIN, NS_ISO20_DC
from iso15118.controller import IsolationStatus, Notification
from iso15118.decisions import Answer, Need, SeccEnv, SeccLogic, Summary
from iso15118.din.profile import DIN
from iso15118.envelope.kinds import Kind
from iso15118.envelope.physical import value_of
from iso15118.errors import ConfigError
from iso15118.messages.generated import din as m
from iso15118.session.events import EndReason
from iso15118.session.selection import EnergyFamily
from iso15118.simple import SimpleEVSE, SimpleEVSEConfig
from tests.din.support import DIN_SECC, collapse, din_config, run_din, sent

FLOW = [
    "supportedAppProtocolReq",
    "SessionSetupReq",
    "ServiceDiscoveryReq",
    "ServicePaymentSelectionReq",
    "ContractAuthenticationReq",
    "ChargeParameterDiscoveryReq",
    "CableCheckReq",
    "PreChargeReq",
    "PowerDeliveryReq",
    "CurrentDemandReq",
    "PowerDeliveryReq",
    "WeldingDetectionReq",
    "SessionStopReq",
]


def _bodies(rec: Any, kind: str) -> list[Any]:
    """The Body elements of ``kind`` in a recorded session, in order."""
    found = []
    for r in rec.messages:
        opened = DIN.envelope.open(r.message)
        if opened is not None and opened[0] == kind:
            found.append(opened[1])
    return found


def test_a_full_din_session_charges_and_ends_with_session_stop() -> None:
    evse = SimpleEVSE(SimpleEVSEConfig(cable_check_requests=3, precharge_step_v=100.0))
    out, secc, rec = run_din(din_config(max_loops=5), evse=evse)
    assert out.ok and secc.ok, (out, secc)
    assert out.ended.reason is EndReason.TERMINATED and secc.ended.reason is EndReason.TERMINATED
    assert collapse(sent(rec, "evcc")) == FLOW
    assert out.loops == secc.loops == 5 and sent(rec, "evcc").count("CurrentDemandReq") == 5
    # Cable check repeated while Ongoing: three Ongoing answers, then Finished.
    checks = _bodies(rec, "CableCheckRes")
    assert [str(c.evse_processing) for c in checks] == ["Ongoing"] * 3 + ["Finished"]
    assert str(checks[-1].dc_evse_status.evse_isolation_status) == "Valid"
    # Precharge repeated until the output matched the battery (0 V -> ~400 V in 100 V steps).
    precharges = _bodies(rec, "PreChargeRes")
    assert len(precharges) >= 4
    volts = [value_of(p.evse_present_voltage) for p in precharges]
    assert volts == sorted(volts) and volts[0] == 100.0
    # PowerDelivery: ReadyToChargeState true, then false.
    assert [p.ready_to_charge_state for p in _bodies(rec, "PowerDeliveryReq")] == [True, False]
    # Welding detection until the output is below the safe voltage.
    welding = _bodies(rec, "WeldingDetectionRes")
    assert welding and value_of(welding[-1].evse_present_voltage) < 60.0
    assert evse.charged_wh > 0 and secc.meter_readings and secc.meter_readings[-1]["charged_wh"] >= 0


def test_outcomes_name_the_protocol_and_the_energy_mode() -> None:
    out, secc, _rec = run_din()
    for outcome in (out, secc):
        neg = outcome.negotiated
        assert neg["protocol"] == NS_DIN and neg["protocol_name"] == "DIN 70121"
        assert neg["energy_mode"] == "DC" and neg["service_id"] == 1 and neg["authorization"] == "EIM"
        assert neg["energy_transfer"] == "DC_extended"


def test_din_messages_carry_what_din_requires() -> None:
    _out, _secc, rec = run_din()
    (setup,) = _bodies(rec, "SessionSetupReq")
    assert setup.evcc_id == EvccConfig().evcc_mac  # the EV's MAC, hexBinary
    (res,) = _bodies(rec, "SessionSetupRes")
    assert res.evse_id == SeccConfig().evse_id.encode()
    header = next(
        r.message.header
        for r in rec.messages
        if DIN.envelope.kind_of_class.get(type(DIN.envelope.body(r.message))) is Kind.SessionSetupRes
    )
    assert len(header.session_id) == 8 and header.session_id != bytes(8)
    (discovery,) = _bodies(rec, "ServiceDiscoveryRes")
    assert [str(p) for p in discovery.payment_options.payment_option] == ["ExternalPayment"]
    assert discovery.service_list is None and discovery.charge_service.service_tag.service_scope is None
    (parameters,) = _bodies(rec, "ChargeParameterDiscoveryRes")
    (entry,) = parameters.sa_schedule_list.sa_schedule_tuple[0].p_max_schedule.p_max_schedule_entry
    assert entry.relative_time_interval.start == 0 and entry.relative_time_interval.duration >= 86400
    assert (
        parameters.dc_evse_charge_parameter is not None
        and parameters.sa_schedule_list.sa_schedule_tuple[0].sales_tariff is None
    )
    (request,) = _bodies(rec, "ChargeParameterDiscoveryReq")
    ev = request.dc_ev_charge_parameter
    assert None not in (
        ev.ev_maximum_power_limit,
        ev.ev_energy_capacity,
        ev.ev_energy_request,
        ev.full_soc,
        ev.bulk_soc,
    )
    for demand in _bodies(rec, "CurrentDemandRes"):
        assert str(demand.dc_evse_status.evse_notification) == "None"  # [V2G-DC-500]
        assert demand.evse_maximum_current_limit is not None


def test_contract_authentication_repeats_while_the_charger_decides() -> None:
    out, secc, rec = run_din(evse=SimpleEVSE(SimpleEVSEConfig(authorization_delay=3)))
    assert out.ok and secc.ok
    answers = [str(a.evse_processing) for a in _bodies(rec, "ContractAuthenticationRes")]
    assert answers == ["Ongoing"] * 3 + ["Finished"]


def test_a_refused_authorization_ends_the_session_before_any_energy() -> None:
    evse = SimpleEVSE(SimpleEVSEConfig(reject=True))
    out, secc, rec = run_din(evse=evse)
    assert out.ended.reason is EndReason.FAILED_RECEIVED and out.ended.response_code == "FAILED"
    assert secc.ended.reason is EndReason.FAILED_SENT and not secc.ok
    assert secc.failure == "FAILED: the charger refused the authorization"
    assert "ChargeParameterDiscoveryReq" not in sent(rec, "evcc") and evse.charged_wh == 0


def test_a_failed_cable_check_ends_the_session_before_any_energy() -> None:
    evse = SimpleEVSE(SimpleEVSEConfig(isolation=IsolationStatus.FAULT))
    out, secc, rec = run_din(evse=evse)
    assert out.ended.reason is EndReason.FAILED_RECEIVED and out.ended.response_code == "FAILED"
    assert secc.failure is not None and "insulation test ended Fault" in secc.failure
    (failed,) = [c for c in _bodies(rec, "CableCheckRes") if str(c.response_code) == "FAILED"]
    assert str(failed.dc_evse_status.evse_isolation_status) == "Fault"
    assert "PreChargeReq" not in sent(rec, "evcc") and evse.charged_wh == 0


class _ParametersOngoing:
    """The charger's decisions, but ChargeParameterDiscovery answered Ongoing ``times`` times first."""

    def __init__(self, inner: SeccLogic, times: int) -> None:
        self.inner, self.left = inner, times

    def initial(self) -> Any:
        return self.inner.initial()

    def decide(self, kind: StrEnum, request: Any, ctx: Any, env: SeccEnv) -> Answer[Any] | Need:
        decided = self.inner.decide(kind, request, ctx, env)
        if kind is Kind.ChargeParameterDiscoveryReq and self.left and isinstance(decided, Answer):
            self.left -= 1
            body = dataclasses.replace(DIN.envelope.body(decided.response), evse_processing=m.EVSEProcessing.Ongoing)
            return dataclasses.replace(decided, response=DIN.envelope.wrap(decided.response.header, body))
        return decided

    def summary(self, ctx: Any) -> Summary:
        return self.inner.summary(ctx)


def test_charge_parameter_discovery_repeats_while_ongoing() -> None:
    out, secc, rec = run_din(decisions=lambda logic: _ParametersOngoing(logic, 2))
    assert out.ok and secc.ok
    assert [str(a.evse_processing) for a in _bodies(rec, "ChargeParameterDiscoveryRes")] == ["Ongoing"] * 2 + [
        "Finished"
    ]


def test_the_charger_stops_the_loop_with_evse_shutdown() -> None:
    evse = SimpleEVSE(SimpleEVSEConfig(notifications=((2, Notification.TERMINATE),)))
    out, secc, rec = run_din(din_config(max_loops=10), evse=evse)
    assert out.ok and secc.ok and out.loops == 2
    statuses = [str(d.dc_evse_status.evse_status_code) for d in _bodies(rec, "CurrentDemandRes")]
    assert statuses == ["EVSE_Ready", "EVSE_Shutdown"]
    assert any("the charger ended the loop (EVSE_Shutdown)" in n for n in out.notes)
    assert collapse(sent(rec, "evcc"))[-3:] == ["PowerDeliveryReq", "WeldingDetectionReq", "SessionStopReq"]


def test_a_charger_that_never_reaches_the_battery_voltage_ends_the_precharge_in_time() -> None:
    evse = SimpleEVSE(SimpleEVSEConfig(precharge_step_v=0.0))
    out, _secc, rec = run_din(din_config(precharge_timeout_s=0.2, precharge_interval_s=0.01), evse=evse)
    assert out.ended_regularly and not out.ok
    assert out.failure is not None and out.failure.startswith("precharge timed out after")
    assert "PowerDeliveryReq" not in sent(rec, "evcc") and sent(rec, "evcc")[-1] == "SessionStopReq"


def test_plug_and_charge_is_not_available_over_din() -> None:
    out, _secc, rec = run_din(din_config(authorization="PnC"))
    assert out.ended_regularly and out.failure == "PnC asked; DIN 70121 has external payment only"
    assert sent(rec, "evcc")[-1] == "SessionStopReq"
    out, _secc, _rec = run_din(din_config(authorization="PnC", accept_fallback=True))
    assert out.ok and out.substitutions == ("PnC asked; DIN 70121 has external payment only; EIM used instead",)


def test_din_is_dc_only() -> None:
    with pytest.raises(ConfigError, match="DIN 70121, which is DC only"):
        EvccConfig(energy=EnergyFamily.AC, protocols=(NS_DIN,))


class _AcOnly:
    """A charger controller without a DC output."""

    def __init__(self) -> None:
        self.evse = SimpleEVSE()

    def __getattr__(self, name: str) -> Any:
        if name in ("evse_limits", "authorize", "power_delivery", "charge_loop", "meter", "report"):
            return getattr(self.evse, name)
        raise AttributeError(name)


def test_a_charger_without_a_dc_output_does_not_offer_din() -> None:
    out, secc, _rec = run_din(evse=_AcOnly())  # type: ignore[arg-type]
    assert out.ended.reason is EndReason.NO_PROTOCOL and secc.ended.reason is EndReason.NO_PROTOCOL


def test_an_ev_offering_iso20_and_din_gets_din_from_a_din_only_charger() -> None:
    out, secc, _rec = run_din(din_config(protocols=(NS_ISO20_DC, NS_DIN)), secc=DIN_SECC)
    assert out.ok and secc.ok and out.negotiated["protocol"] == NS_DIN
