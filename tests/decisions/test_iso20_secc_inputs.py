"""The -20 SECC decisions that depend on what was stored or gathered: resuming a paused session bound to the car
[V2G20-2545], and the answers built from controller inputs (DC loop, precharge, welding, AC loop)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from iso15118.config import SeccConfig
from iso15118.controller import (
    DCCommand,
    DCOutput,
    EvseCommand,
    MeterReading,
)
from iso15118.decisions import Input, Need, PausedSession, PeerIdentity, StorePaused, TakePaused, Warn
from iso15118.iso20.kinds import Kind
from iso15118.iso20.secc import HANDLERS
from iso15118.iso20.secc.setup import resume_refusal
from iso15118.iso20.services import AC_BPT, DC, DC_BPT
from iso15118.messages import iso20 as m
from iso15118.messages.units import rational
from tests.decisions.iso20_secc_support import (
    DC_LIMITS,
    DC_VIEW,
    NOW,
    PEER,
    SID,
    ac_loop,
    ctx_for,
    dc_loop,
    decide,
    req,
    stop_req,
    view,
)


# ---- resuming a paused session: bound to the EVCCID and the vehicle certificate [V2G20-2545] -----------------
def _paused(**changes: Any) -> PausedSession:
    base = PausedSession(
        session_id=SID,
        evcc_id="CAR",
        fingerprint=PEER.fingerprint,
        paused_at=NOW - 60,
        expires_at=NOW + 60,
        context=ctx_for(AC_BPT),
    )
    return dataclasses.replace(base, **changes)


def _resume_req(evcc_id: str = "CAR") -> m.SessionSetupReq:
    return req(m.SessionSetupReq, evcc_id=evcc_id)


def test_resume_needs_the_stored_pause_first() -> None:
    result = HANDLERS[Kind.SessionSetupReq](_resume_req(), view())
    assert result == Need(Input.PAUSED, SID)


def test_the_same_car_resumes() -> None:
    answer = decide(_resume_req(), view(inputs={Input.PAUSED: _paused()}))
    assert str(answer.response.response_code) == "OK_OldSessionJoined" and answer.response.header.session_id == SID
    assert answer.ctx.resumed and answer.ctx.service_id == AC_BPT and TakePaused(SID) in answer.effects


@pytest.mark.parametrize(
    ("pause", "evcc_id", "peer", "why"),
    [
        ({}, "OTHER", PEER, "EVCCID 'OTHER' is not the EVCCID 'CAR'"),
        ({}, "CAR", dataclasses.replace(PEER, subject="CN=CAR-B", fingerprint="bb" * 32), "not the one that paused it"),
        ({}, "CAR", dataclasses.replace(PEER, fingerprint=None), "presented no vehicle certificate"),
        ({"expires_at": NOW - 1}, "CAR", PEER, "the pause expired"),
        ({"fingerprint": None}, "CAR", PEER, "paused without a vehicle certificate"),
    ],
)
def test_another_car_or_an_expired_pause_gets_a_new_session(
    pause: dict[str, Any], evcc_id: str, peer: PeerIdentity, why: str
) -> None:
    answer = decide(_resume_req(evcc_id), view(inputs={Input.PAUSED: _paused(**pause)}, peer=peer))
    # The standard's answer to a resume it cannot honour: a new session [V2G20-2626/2627].
    assert str(answer.response.response_code) == "OK_NewSessionEstablished"
    assert answer.response.header.session_id != SID and not answer.ctx.resumed
    (warn,) = [e for e in answer.effects if isinstance(e, Warn)]
    assert why in warn.text and warn.requirement == "V2G20-2545"
    assert (peer.subject or "no certificate") in warn.text
    assert resume_refusal(_paused(**pause), evcc_id, peer.fingerprint, NOW) is not None


def test_an_unknown_session_id_gets_a_new_session_quietly() -> None:
    answer = decide(_resume_req(), view(inputs={Input.PAUSED: None}))
    assert str(answer.response.response_code) == "OK_NewSessionEstablished"
    assert not any(isinstance(e, Warn) for e in answer.effects)


def test_pause_binds_the_session_to_the_car_and_expires() -> None:
    answer = decide(stop_req("Pause"), view(ctx=ctx_for(AC_BPT, evcc_id="CAR"), config=SeccConfig(pause_expiry_s=300)))
    (stored,) = [e.session for e in answer.effects if isinstance(e, StorePaused)]
    assert (stored.session_id, stored.evcc_id, stored.fingerprint) == (SID, "CAR", PEER.fingerprint)
    assert stored.expires_at == NOW + 300


# ---- happy answers that depend on controller inputs ------------------------------------------------------------
def test_dc_loop_reports_the_output_and_carries_the_setpoint_in_dynamic_bpt() -> None:
    command = DCCommand(present_voltage_v=400, present_current_a=-25, target_power_w=-10_000)
    answer = decide(
        dc_loop(bpt=True, dynamic=True),
        view(
            **DC_VIEW, ctx=ctx_for(DC_BPT, discharge=True), inputs={Input.DC_LIMITS: DC_LIMITS, Input.DC_LOOP: command}
        ),
    )
    res = answer.response
    assert str(res.response_code) == "OK" and answer.ctx.loops == 1
    mode = res.bpt_dynamic_dc_cl_res_control_mode
    assert mode is not None
    # Discharge setpoint: nothing may be charged, 10 kW may be discharged.
    assert (
        mode.evse_maximum_charge_power.value,
        mode.evse_maximum_discharge_power.value * 10**mode.evse_maximum_discharge_power.exponent,
    ) == (0, 10_000)


def test_precharge_and_welding_report_the_output_voltage() -> None:
    v = view(
        **DC_VIEW,
        ctx=ctx_for(DC),
        inputs={Input.DC_LIMITS: DC_LIMITS, Input.PRECHARGE: DCOutput(present_voltage_v=250)},
    )
    precharge = decide(
        req(
            m.DC_PreChargeReq,
            ev_processing=m.Processing.Ongoing,
            ev_present_voltage=rational(400),
            ev_target_voltage=rational(400),
        ),
        v,
    )
    assert precharge.response.evse_present_voltage.value == 250
    welding = decide(
        req(m.DC_WeldingDetectionReq, ev_processing=m.Processing.Ongoing),
        view(**DC_VIEW, inputs={Input.WELDING: DCOutput(present_voltage_v=12)}),
    )
    assert welding.response.evse_present_voltage.value == 12


def test_ac_loop_answers_with_meter_info_and_the_notification() -> None:
    loop = dataclasses.replace(ac_loop(bpt=True, dynamic=True), meter_info_requested=True)
    command = EvseCommand(target_power_w=-3_000, notification=None)
    reading = MeterReading(meter_id="M", charged_wh=10, discharged_wh=5)
    answer = decide(loop, view(ctx=ctx_for(AC_BPT), inputs={Input.LOOP_COMMAND: command, Input.METER: reading}))
    res = answer.response
    assert res.bpt_dynamic_ac_cl_res_control_mode.evse_target_active_power.value == -3000
    assert res.meter_info.bpt_discharged_energy_reading_wh == 5 and answer.ctx.meter[-1]["charged_wh"] == 10


def test_an_evccid_that_is_not_the_certificate_cn_is_named_and_never_resumes() -> None:
    peer = dataclasses.replace(PEER, common_name="CAR")
    # A new session still starts, with a WARNING naming the broken tie [V2G20-2598].
    fresh = decide(
        req(m.SessionSetupReq, header=m.MessageHeader(session_id=bytes(8), time_stamp=1), evcc_id="OTHER"),
        view(peer=peer),
    )
    assert str(fresh.response.response_code) == "OK_NewSessionEstablished"
    (warn,) = [e for e in fresh.effects if isinstance(e, Warn)]
    assert "is not the CN 'CAR'" in warn.text and warn.requirement == "V2G20-2598"
    # The pause was made by EVCCID OTHER with this very certificate: still not resumed, the tie is broken.
    answer = decide(_resume_req("OTHER"), view(inputs={Input.PAUSED: _paused(evcc_id="OTHER")}, peer=peer))
    assert str(answer.response.response_code) == "OK_NewSessionEstablished"
    # With the matching CN it resumes.
    answer = decide(_resume_req("CAR"), view(inputs={Input.PAUSED: _paused()}, peer=peer))
    assert str(answer.response.response_code) == "OK_OldSessionJoined"
