"""Complete ISO 15118-20 DC and DC_BPT sessions in memory between our EVCC and SECC: charge and discharge,
Scheduled and Dynamic, EIM and PnC, and the DC steps (cable check, precharge, welding detection) as the wire
shows them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from iso15118.config import EvccConfig, SeccConfig
from iso15118.controller import ChargeDirection, ControlMode, IsolationStatus
from iso15118.iso20.pnc import PncVerifier
from iso15118.security.credentials import ContractCredentials
from iso15118.security.pki import Pki, build_pki
from iso15118.security.profiles import Entity
from iso15118.session.events import EndReason
from iso15118.session.selection import EnergyFamily
from iso15118.simple import SimpleEV, SimpleEVConfig, SimpleEVSE, SimpleEVSEConfig
from tests.session.recording import Recorder, run_pair

FAST = {"loop_interval_s": 0.0, "authorization_retry_s": 0.0, "precharge_interval_s": 0.0, "energy": EnergyFamily.DC}


def _run(evcc: EvccConfig, **kwargs: Any) -> tuple[Any, Any, Recorder]:
    rec = Recorder()
    out, secc = asyncio.run(run_pair(evcc, recorder=rec, **kwargs))
    return out, secc, rec


def _sent(rec: Recorder, role: str) -> list[str]:
    return [type(r.message).__name__ for r in rec.messages if r.sender == role]


def _collapse(names: list[str]) -> list[str]:
    """Repeated requests as one."""
    out: list[str] = []
    for name in names:
        if not out or out[-1] != name:
            out.append(name)
    return out


@pytest.mark.parametrize("control", [ControlMode.SCHEDULED, ControlMode.DYNAMIC])
@pytest.mark.parametrize("direction", [ChargeDirection.CHARGE, ChargeDirection.DISCHARGE])
def test_dc_session(control: ControlMode, direction: ChargeDirection) -> None:
    ev = SimpleEV(SimpleEVConfig(direction=direction))
    evse = SimpleEVSE()
    out, secc, rec = _run(EvccConfig(control_mode=control, max_loops=4, **FAST), ev=ev, evse=evse)
    assert out.ok and secc.ok and out.ended.reason is EndReason.TERMINATED, (out, secc)
    assert out.negotiated["energy_mode"] == "DC_BPT" and out.negotiated["control_mode"] == str(control)
    assert out.loops == secc.loops == 4
    assert _collapse(_sent(rec, "evcc")) == [
        "supportedAppProtocolReq",
        "SessionSetupReq",
        "AuthorizationSetupReq",
        "AuthorizationReq",
        "ServiceDiscoveryReq",
        "ServiceDetailReq",
        "ServiceSelectionReq",
        "DC_ChargeParameterDiscoveryReq",
        "ScheduleExchangeReq",
        "DC_CableCheckReq",
        "DC_PreChargeReq",
        "PowerDeliveryReq",
        "DC_ChargeLoopReq",
        "PowerDeliveryReq",
        "DC_WeldingDetectionReq",
        "SessionStopReq",
    ]
    if direction is ChargeDirection.DISCHARGE:
        assert ev.power_w <= 0 and evse.discharged_wh > 0 and evse.charged_wh == 0
        assert secc.negotiated["bpt_channel"] == "Discharge"
    else:
        assert evse.charged_wh > 0 and evse.discharged_wh == 0


def test_dc_charge_only_ev_selects_plain_dc() -> None:
    out, secc, _ = _run(EvccConfig(max_loops=2, **FAST), ev=SimpleEV(SimpleEVConfig(bidirectional=False)))
    assert out.ok and out.negotiated["energy_mode"] == "DC" and secc.negotiated["service_id"] == 2


def test_precharge_repeats_until_the_voltage_matches_then_finishes() -> None:
    evse = SimpleEVSE(SimpleEVSEConfig(precharge_step_v=50.0))
    out, _secc, rec = _run(EvccConfig(max_loops=1, **FAST), evse=evse)
    precharges = [r.message for r in rec.messages if type(r.message).__name__ == "DC_PreChargeReq"]
    # 0 -> 400 V in 50 V steps: 8 requests Ongoing, then one Finished.
    assert [str(p.ev_processing) for p in precharges] == ["Ongoing"] * 8 + ["Finished"]
    assert out.ok


def test_cable_check_repeats_while_the_insulation_test_runs() -> None:
    out, _s, rec = _run(EvccConfig(max_loops=1, **FAST), evse=SimpleEVSE(SimpleEVSEConfig(cable_check_requests=5)))
    assert out.ok and _sent(rec, "evcc").count("DC_CableCheckReq") == 6


def test_an_insulation_fault_ends_the_session_before_any_energy() -> None:
    evse = SimpleEVSE(SimpleEVSEConfig(isolation=IsolationStatus.FAULT))
    out, secc, rec = _run(EvccConfig(max_loops=2, **FAST), evse=evse)
    assert out.ended.reason is EndReason.FAILED_RECEIVED and out.ended.response_code == "FAILED"
    assert secc.failure is not None and "insulation test ended Fault" in secc.failure
    assert "DC_PreChargeReq" not in _sent(rec, "evcc") and evse.charged_wh == 0


def test_welding_detection_until_the_output_is_safe() -> None:
    out, _s, rec = _run(EvccConfig(max_loops=1, **FAST))
    welding = [r.message for r in rec.messages if type(r.message).__name__ == "DC_WeldingDetectionRes"]
    assert out.ok and welding[-1].evse_present_voltage.value * 10 ** welding[-1].evse_present_voltage.exponent < 60


def test_an_ac_only_charger_is_not_offered_to_a_dc_ev() -> None:
    out, secc, _ = _run(EvccConfig(max_loops=1, **FAST), secc=SeccConfig(protocols=("urn:iso:std:iso:15118:-20:AC",)))
    assert out.ended.reason is EndReason.NO_PROTOCOL and secc.ended.reason is EndReason.NO_PROTOCOL


def test_discharge_against_a_charge_only_dc_charger_stops_with_the_reason() -> None:
    ev = SimpleEV(SimpleEVConfig(direction=ChargeDirection.DISCHARGE))
    charge_only = SimpleEVSE(SimpleEVSEConfig(bidirectional=False))
    out, _secc, rec = _run(EvccConfig(max_loops=1, **FAST), ev=ev, evse=charge_only)
    assert out.ended_regularly and not out.ok
    assert out.failure == "discharge needs DC_BPT; the SECC offers DC"
    assert _sent(rec, "evcc")[-1] == "SessionStopReq"
    out, _secc, _ = _run(
        EvccConfig(max_loops=1, accept_fallback=True, **FAST),
        ev=ev,
        evse=SimpleEVSE(SimpleEVSEConfig(bidirectional=False)),
    )
    assert out.ok and out.substitutions and "discharge asked" in out.substitutions[0]


@pytest.fixture(scope="module")
def pki() -> Pki:
    return build_pki(algorithm="secp521r1")


def test_dc_pnc(pki: Pki) -> None:
    chain = tuple(c.public_bytes(serialization.Encoding.DER) for c in pki.chain(Entity.CONTRACT_LEAF))
    creds = ContractCredentials(chain=chain, key=pki[Entity.CONTRACT_LEAF].key)
    evcc = EvccConfig(authorization="PnC", credentials=creds, max_loops=3, metering_confirmation_after=2, **FAST)
    out, secc, _ = _run(
        evcc, secc=SeccConfig(authorization=("PnC",)), pnc=PncVerifier([pki[Entity.MO_ROOT].certificate])
    )
    assert out.ok and secc.ok and secc.negotiated["authorization"] == "PnC"
    assert out.negotiated["side_streams"] == ["metering_confirmation:MeteringConfirmationRes:OK"]


def test_a_charger_that_never_reaches_the_voltage_ends_the_precharge_in_time() -> None:
    # A charger stuck at 1 V (Josev's SECC does this, J21): the EV gives up after its precharge timeout.
    evse = SimpleEVSE(SimpleEVSEConfig(precharge_step_v=0.0))
    config = EvccConfig(max_loops=1, precharge_timeout_s=0.3, **{**FAST, "precharge_interval_s": 0.01})
    out, _secc, rec = _run(config, evse=evse)
    assert out.ended_regularly and not out.ok
    assert out.failure is not None and out.failure.startswith("precharge timed out after")
    sent = _sent(rec, "evcc")
    assert "PowerDeliveryReq" not in sent and sent[-1] == "SessionStopReq" and evse.charged_wh == 0
