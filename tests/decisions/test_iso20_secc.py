"""The -20 SECC decisions as pure functions: every FAILED and WARNING code they can return, without asyncio.

Each case builds a request, a view (context, configuration, gathered inputs) and checks the response code. A
last test reads the decision modules and fails when one of them can return a code no case here exercises.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from iso15118.certificates import CertificateAnswer, CertificateStatus
from iso15118.codec import encode_message
from iso15118.config import SeccConfig
from iso15118.controller import (
    AuthorizationDecision,
    DCCommand,
    DCLimits,
    DCOutput,
    EvseCommand,
    EVSELimits,
    IsolationCheck,
    IsolationStatus,
    MeterReading,
)
from iso15118.decisions import Answer, Input, Inputs, Need, PausedSession, PeerIdentity, StorePaused, TakePaused, Warn
from iso15118.iso20 import secc as secc_pkg
from iso15118.iso20.kinds import Kind, kind_of
from iso15118.iso20.pnc import PncOutcome
from iso15118.iso20.secc import HANDLERS, SeccContext, SeccView
from iso15118.iso20.secc.setup import resume_refusal
from iso15118.iso20.services import AC, AC_BPT, DC, DC_BPT
from iso15118.messages import iso20 as m
from iso15118.messages.units import rational
from iso15118.session.failures import minimal_instance
from iso15118.session.selection import EnergyFamily, Selection

NOW = 1_700_000_000.0
SID = bytes.fromhex("0102030405060708")
HEADER = m.MessageHeader(session_id=SID, time_stamp=int(NOW))
AC_LIMITS = EVSELimits(max_charge_w=11_000, min_charge_w=1_400, max_discharge_w=11_000, bidirectional=True)
DC_LIMITS = DCLimits(
    max_voltage_v=500,
    min_voltage_v=150,
    max_charge_current_a=200,
    max_charge_power_w=50_000,
    bidirectional=True,
    max_discharge_current_a=200,
    max_discharge_power_w=50_000,
)
PEER = PeerIdentity(address="[fe80::1]:50000", subject="CN=CAR-A", fingerprint="aa" * 32)


def view(
    *,
    family: EnergyFamily = EnergyFamily.AC,
    ctx: SeccContext | None = None,
    config: SeccConfig | None = None,
    inputs: dict[Input, Any] | None = None,
    peer: PeerIdentity | None = PEER,
    pnc: Any = None,
) -> SeccView:
    return SeccView(
        now=NOW,
        header=HEADER,
        ctx=ctx or SeccContext(),
        config=config or SeccConfig(),
        selection=Selection(family=family),
        session_id=SID,
        inputs=Inputs(inputs or {}),
        peer=peer,
        pnc=pnc,
        entropy=bytes(range(32)),
        dc_capable=True,
    )


def req(cls: type, **fields: Any) -> Any:
    """The smallest valid request of ``cls`` with the session's header and ``fields``."""
    return minimal_instance(cls, override={"header": HEADER, **fields})


def decide(request: Any, v: SeccView) -> Answer[SeccContext]:
    """Run the decision, answering its Needs from the view's inputs (a missing input is a test error)."""
    kind = kind_of(request)
    assert kind is not None
    result = HANDLERS[kind](request, v)
    assert isinstance(result, Answer), f"the decision still needs {result}"
    return result


def code(request: Any, v: SeccView) -> str:
    return str(decide(request, v).response.response_code)


def ctx_for(service: int, *, control: int = 2, **more: Any) -> SeccContext:
    return SeccContext(service_id=service, parameter_set=1, control_mode=control, **more)


class _Pnc:
    """A PncVerifier stand-in with a fixed verdict (the real one is tested in tests/security)."""

    def __init__(self, code: m.ResponseCode | None) -> None:
        self.code = code

    def verify_authorization(self, request: Any, now: float) -> PncOutcome:
        return PncOutcome(code=self.code, emaid="DE-ABC-C12345678-X" if self.code is None else None)

    def verify_metering(self, request: Any, chain: Any, now: float) -> PncOutcome:
        return PncOutcome(code=self.code)

    def verify_installation(self, response: Any, now: float) -> PncOutcome:
        return PncOutcome(code=self.code)


def _installation() -> m.CertificateInstallationReq:
    return minimal_instance(m.CertificateInstallationReq, override={"header": HEADER})


def _provider(status: CertificateStatus, code: str | None = None) -> dict[Input, Any]:
    exi = None
    if status is CertificateStatus.PROVIDED:
        res = minimal_instance(
            m.CertificateInstallationRes,
            override={"header": HEADER, "response_code": m.ResponseCode.OK, "evse_processing": m.Processing.Finished},
        )
        exi = encode_message(res)
    return {Input.CERTIFICATE: CertificateAnswer(status=status, exi=exi, response_code=code)}


_INSTALL = SeccConfig(certificate_installation=True)


def _pnc_req(challenge: bytes = b"c" * 16) -> m.AuthorizationReq:
    chain = m.ContractCertificateChain(
        certificate=b"\x30\x00", sub_certificates=m.SubCertificates(certificate=(b"\x30\x00",))
    )
    mode = m.PnC_AReqAuthorizationMode(id="id1", gen_challenge=challenge, contract_certificate_chain=chain)
    return req(
        m.AuthorizationReq, selected_authorization_service=m.Authorization.PnC, pnc_a_req_authorization_mode=mode
    )


def _eim_req() -> m.AuthorizationReq:
    return req(
        m.AuthorizationReq,
        selected_authorization_service=m.Authorization.EIM,
        eim_a_req_authorization_mode=m.EIM_AReqAuthorizationMode(),
    )


PNC_CONFIG = SeccConfig(authorization=("EIM", "PnC"))
PNC_CTX = SeccContext(gen_challenge=b"c" * 16, evcc_id="CAR")


def _selection(service: int, parameter_set: int = 1) -> m.ServiceSelectionReq:
    sel = m.SelectedService(service_id=service, parameter_set_id=parameter_set)
    return req(m.ServiceSelectionReq, selected_energy_transfer_service=sel)


def _ac_cpd(bpt: bool, min_power: float = 1_400) -> m.AC_ChargeParameterDiscoveryReq:
    common = {"ev_maximum_charge_power": rational(11_000), "ev_minimum_charge_power": rational(min_power)}
    if bpt:
        mode = m.BPT_AC_CPDReqEnergyTransferMode(
            **common, ev_maximum_discharge_power=rational(11_000), ev_minimum_discharge_power=rational(0)
        )
        return req(m.AC_ChargeParameterDiscoveryReq, bpt_ac_cpd_req_energy_transfer_mode=mode)
    return req(
        m.AC_ChargeParameterDiscoveryReq, ac_cpd_req_energy_transfer_mode=m.AC_CPDReqEnergyTransferMode(**common)
    )


def _dc_cpd(
    bpt: bool, *, max_v: float = 450, min_v: float = 300, min_current: float = 0
) -> m.DC_ChargeParameterDiscoveryReq:
    common = {
        "ev_maximum_charge_power": rational(50_000),
        "ev_minimum_charge_power": rational(0),
        "ev_maximum_charge_current": rational(150),
        "ev_minimum_charge_current": rational(min_current),
        "ev_maximum_voltage": rational(max_v),
        "ev_minimum_voltage": rational(min_v),
    }
    if bpt:
        mode = m.BPT_DC_CPDReqEnergyTransferMode(
            **common,
            ev_maximum_discharge_power=rational(20_000),
            ev_minimum_discharge_power=rational(0),
            ev_maximum_discharge_current=rational(50),
            ev_minimum_discharge_current=rational(0),
        )
        return req(m.DC_ChargeParameterDiscoveryReq, bpt_dc_cpd_req_energy_transfer_mode=mode)
    return req(
        m.DC_ChargeParameterDiscoveryReq, dc_cpd_req_energy_transfer_mode=m.DC_CPDReqEnergyTransferMode(**common)
    )


def _power_delivery(progress: str = "Start", *, channel: str | None = None, schedule: int | None = None) -> Any:
    profile = None
    if schedule is not None:
        entries = m.EVPowerProfileEntryList(
            ev_power_profile_entry=(m.PowerScheduleEntry(duration=60, power=rational(0)),)
        )
        profile = m.EVPowerProfile(
            time_anchor=0,
            scheduled_evppt_control_mode=m.Scheduled_EVPPTControlMode(selected_schedule_tuple_id=schedule),
            ev_power_profile_entries=entries,
        )
    return req(
        m.PowerDeliveryReq,
        ev_processing=m.Processing.Finished,
        charge_progress=m.ChargeProgress(progress),
        bpt_channel_selection=m.ChannelSelection(channel) if channel else None,
        ev_power_profile=profile,
    )


def _ac_loop(bpt: bool, dynamic: bool) -> m.AC_ChargeLoopReq:
    cls = {
        (False, False): m.Scheduled_AC_CLReqControlMode,
        (True, False): m.BPT_Scheduled_AC_CLReqControlMode,
        (False, True): m.Dynamic_AC_CLReqControlMode,
        (True, True): m.BPT_Dynamic_AC_CLReqControlMode,
    }[(bpt, dynamic)]
    element = minimal_instance(cls)
    field_name = ("bpt_" if bpt else "") + ("dynamic" if dynamic else "scheduled") + "_ac_cl_req_control_mode"
    return req(m.AC_ChargeLoopReq, meter_info_requested=False, **{field_name: element})


def _dc_loop(bpt: bool, dynamic: bool) -> m.DC_ChargeLoopReq:
    cls = {
        (False, False): m.Scheduled_DC_CLReqControlMode,
        (True, False): m.BPT_Scheduled_DC_CLReqControlMode,
        (False, True): m.Dynamic_DC_CLReqControlMode,
        (True, True): m.BPT_Dynamic_DC_CLReqControlMode,
    }[(bpt, dynamic)]
    element = minimal_instance(cls)
    field_name = ("bpt_" if bpt else "") + ("dynamic" if dynamic else "scheduled") + "_dc_cl_req_control_mode"
    return req(
        m.DC_ChargeLoopReq, meter_info_requested=False, ev_present_voltage=rational(400), **{field_name: element}
    )


def _stop(how: str) -> m.SessionStopReq:
    return req(m.SessionStopReq, charging_session=m.ChargingSession(how))


_DC_VIEW = {"family": EnergyFamily.DC}

#: (name, request factory, view keyword arguments, the code the decision must answer)
CASES: list[tuple[str, Callable[[], Any], dict[str, Any], str]] = [
    # --- set-up
    (
        "new session",
        lambda: req(m.SessionSetupReq, header=m.MessageHeader(session_id=bytes(8), time_stamp=1), evcc_id="CAR"),
        {},
        "OK_NewSessionEstablished",
    ),
    ("selection not offered", _pnc_req, {}, "WARNING_AuthorizationSelectionInvalid"),
    (
        "PnC without a verifier",
        _pnc_req,
        {"config": PNC_CONFIG, "ctx": PNC_CTX},
        "WARNING_GeneralPnCAuthorizationError",
    ),
    (
        "PnC challenge mismatch",
        lambda: _pnc_req(b"x" * 16),
        {"config": PNC_CONFIG, "ctx": PNC_CTX, "pnc": _Pnc(None)},
        "WARNING_ChallengeInvalid",
    ),
    (
        "PnC chain expired",
        _pnc_req,
        {"config": PNC_CONFIG, "ctx": PNC_CTX, "pnc": _Pnc(m.ResponseCode.WARNING_CertificateExpired)},
        "WARNING_CertificateExpired",
    ),
    (
        "PnC chain not yet valid",
        _pnc_req,
        {"config": PNC_CONFIG, "ctx": PNC_CTX, "pnc": _Pnc(m.ResponseCode.WARNING_CertificateNotYetValid)},
        "WARNING_CertificateNotYetValid",
    ),
    (
        "PnC chain invalid",
        _pnc_req,
        {"config": PNC_CONFIG, "ctx": PNC_CTX, "pnc": _Pnc(m.ResponseCode.WARNING_CertificateValidationError)},
        "WARNING_CertificateValidationError",
    ),
    (
        "PnC signature invalid",
        _pnc_req,
        {"config": PNC_CONFIG, "ctx": PNC_CTX, "pnc": _Pnc(m.ResponseCode.FAILED_SignatureError)},
        "FAILED_SignatureError",
    ),
    (
        "PnC rejected by the charger",
        _pnc_req,
        {
            "config": PNC_CONFIG,
            "ctx": PNC_CTX,
            "pnc": _Pnc(None),
            "inputs": {Input.AUTHORIZATION: AuthorizationDecision.REJECTED},
        },
        "WARNING_GeneralPnCAuthorizationError",
    ),
    (
        "PnC contract revoked (OCSP)",
        _pnc_req,
        {
            "config": PNC_CONFIG,
            "ctx": PNC_CTX,
            "pnc": _Pnc(None),
            "inputs": {Input.AUTHORIZATION: AuthorizationDecision.REVOKED},
        },
        "WARNING_CertificateRevoked",
    ),
    (
        "EIM rejected",
        _eim_req,
        {"inputs": {Input.AUTHORIZATION: AuthorizationDecision.REJECTED}},
        "WARNING_EIMAuthorizationFailure",
    ),
    ("EIM accepted", _eim_req, {"inputs": {Input.AUTHORIZATION: AuthorizationDecision.ACCEPTED}}, "OK"),
    (
        "certificate installation not offered",
        lambda: minimal_instance(m.CertificateInstallationReq, override={"header": HEADER}),
        {},
        "FAILED_SequenceError",
    ),
    (
        "certificate installation, no provider",
        _installation,
        {"config": _INSTALL, "inputs": _provider(CertificateStatus.UNAVAILABLE)},
        "WARNING_NoCertificateAvailable",
    ),
    (
        "certificate installation, the provider refuses the provisioning certificate",
        _installation,
        {"config": _INSTALL, "inputs": _provider(CertificateStatus.FAILED, "WARNING_CertificateValidationError")},
        "WARNING_CertificateValidationError",
    ),
    (
        "certificate installation, the provider refuses the request's signature",
        _installation,
        {"config": _INSTALL, "inputs": _provider(CertificateStatus.FAILED, "FAILED_SignatureError")},
        "FAILED_SignatureError",
    ),
    (
        "certificate installation, the provider is still working",
        _installation,
        {"config": _INSTALL, "inputs": _provider(CertificateStatus.PENDING)},
        "OK",
    ),
    (
        "certificate installation relayed",
        _installation,
        {"config": _INSTALL, "inputs": _provider(CertificateStatus.PROVIDED)},
        "OK",
    ),
    (
        "certificate installation, the CPS signature of the response does not verify",
        _installation,
        {
            "config": _INSTALL,
            "inputs": _provider(CertificateStatus.PROVIDED),
            "pnc": _Pnc(m.ResponseCode.FAILED_SignatureError),
        },
        "FAILED_SignatureError",
    ),
    (
        "certificate installation, the CPS chain of the response is not trusted",
        _installation,
        {
            "config": _INSTALL,
            "inputs": _provider(CertificateStatus.PROVIDED),
            "pnc": _Pnc(m.ResponseCode.WARNING_CertificateValidationError),
        },
        "WARNING_CertificateValidationError",
    ),
    # --- services
    (
        "no DC output for a DC session",
        lambda: req(m.ServiceDiscoveryReq),
        {
            "family": EnergyFamily.DC,
            "inputs": {Input.DC_LIMITS: DC_LIMITS},
            "config": SeccConfig(services=(AC, AC_BPT)),
        },
        "FAILED_NoEnergyTransferServiceSelected",
    ),
    (
        "detail of a service not offered",
        lambda: req(m.ServiceDetailReq, service_id=DC),
        {"inputs": {Input.LIMITS: AC_LIMITS}},
        "FAILED_ServiceIDInvalid",
    ),
    (
        "selection of a service not offered",
        lambda: _selection(DC_BPT),
        {"inputs": {Input.LIMITS: AC_LIMITS}},
        "FAILED_ServiceIDInvalid",
    ),
    (
        "undefined parameter set",
        lambda: _selection(AC, 9),
        {"inputs": {Input.LIMITS: AC_LIMITS}},
        "FAILED_ServiceSelectionInvalid",
    ),
    # --- schedule and power delivery
    (
        "schedule in the wrong control mode",
        lambda: req(
            m.ScheduleExchangeReq,
            maximum_supporting_points=12,
            scheduled_se_req_control_mode=m.Scheduled_SEReqControlMode(),
        ),
        {"ctx": ctx_for(AC_BPT, control=2)},
        "FAILED_WrongChargeParameter",
    ),
    (
        "discharge without a BPT service",
        lambda: _power_delivery(channel="Discharge"),
        {"ctx": ctx_for(AC, control=2)},
        "FAILED_WrongChargeParameter",
    ),
    (
        "unknown schedule tuple",
        lambda: _power_delivery(schedule=7),
        {"ctx": ctx_for(AC, control=1, schedule_ids=(1,))},
        "FAILED_ScheduleSelectionInvalid",
    ),
    (
        "standby not allowed",
        lambda: _power_delivery("Standby"),
        {"ctx": ctx_for(AC), "config": SeccConfig(standby_allowed=False)},
        "WARNING_StandbyNotAllowed",
    ),
    (
        "contactors failed",
        lambda: _power_delivery("Start"),
        {"ctx": ctx_for(AC), "inputs": {Input.POWER_DELIVERY: False}},
        "FAILED_ContactorError",
    ),
    # --- AC
    (
        "AC parameters do not match the service",
        lambda: _ac_cpd(bpt=False),
        {"ctx": ctx_for(AC_BPT)},
        "FAILED_WrongChargeParameter",
    ),
    (
        "AC minimum above the charger's maximum",
        lambda: _ac_cpd(bpt=False, min_power=20_000),
        {"ctx": ctx_for(AC), "inputs": {Input.LIMITS: AC_LIMITS}},
        "FAILED_WrongChargeParameter",
    ),
    (
        "AC loop in the wrong control mode",
        lambda: _ac_loop(bpt=True, dynamic=False),
        {"ctx": ctx_for(AC_BPT, control=2)},
        "FAILED_WrongChargeParameter",
    ),
    (
        "AC loop without a control mode",
        lambda: req(m.AC_ChargeLoopReq, meter_info_requested=False),
        {"ctx": ctx_for(AC)},
        "FAILED_WrongChargeParameter",
    ),
    # --- DC
    (
        "DC parameters do not match the service",
        lambda: _dc_cpd(bpt=True),
        {**_DC_VIEW, "ctx": ctx_for(DC)},
        "FAILED_WrongChargeParameter",
    ),
    (
        "DC voltage windows do not overlap",
        lambda: _dc_cpd(bpt=False, max_v=900, min_v=600),
        {**_DC_VIEW, "ctx": ctx_for(DC), "inputs": {Input.DC_LIMITS: DC_LIMITS}},
        "FAILED_WrongChargeParameter",
    ),
    (
        "DC minimum current above the charger's",
        lambda: _dc_cpd(bpt=False, min_current=400),
        {**_DC_VIEW, "ctx": ctx_for(DC), "inputs": {Input.DC_LIMITS: DC_LIMITS}},
        "FAILED_WrongChargeParameter",
    ),
    (
        "insulation fault",
        lambda: req(m.DC_CableCheckReq),
        {
            **_DC_VIEW,
            "ctx": ctx_for(DC),
            "inputs": {Input.CABLE_CHECK: IsolationCheck(done=True, status=IsolationStatus.FAULT)},
        },
        "FAILED",
    ),
    (
        "insulation test running",
        lambda: req(m.DC_CableCheckReq),
        {**_DC_VIEW, "ctx": ctx_for(DC), "inputs": {Input.CABLE_CHECK: IsolationCheck(done=False)}},
        "OK",
    ),
    (
        "precharge target outside the window",
        lambda: req(
            m.DC_PreChargeReq,
            ev_processing=m.Processing.Ongoing,
            ev_present_voltage=rational(400),
            ev_target_voltage=rational(900),
        ),
        {**_DC_VIEW, "ctx": ctx_for(DC), "inputs": {Input.DC_LIMITS: DC_LIMITS}},
        "FAILED_WrongChargeParameter",
    ),
    (
        "DC loop in the wrong control mode",
        lambda: _dc_loop(bpt=False, dynamic=False),
        {**_DC_VIEW, "ctx": ctx_for(DC, control=2)},
        "FAILED_WrongChargeParameter",
    ),
    (
        "DC loop without a control mode",
        lambda: req(m.DC_ChargeLoopReq, meter_info_requested=False, ev_present_voltage=rational(400)),
        {**_DC_VIEW, "ctx": ctx_for(DC)},
        "FAILED_WrongChargeParameter",
    ),
    # --- stop and metering
    (
        "pause not allowed",
        lambda: _stop("Pause"),
        {"config": SeccConfig(pause_allowed=False)},
        "FAILED_PauseNotAllowed",
    ),
    (
        "no service renegotiation",
        lambda: _stop("ServiceRenegotiation"),
        {"config": SeccConfig(service_renegotiation=False)},
        "FAILED_NoServiceRenegotiationSupported",
    ),
    (
        "metering confirmation without a contract",
        lambda: minimal_instance(m.MeteringConfirmationReq, override={"header": HEADER}),
        {},
        "FAILED_MeteringSignatureNotValid",
    ),
]


@pytest.mark.parametrize(("name", "make", "tweak", "expected"), CASES, ids=[c[0] for c in CASES])
def test_decision_answers_the_code(name: str, make: Callable[[], Any], tweak: dict[str, Any], expected: str) -> None:
    assert code(make(), view(**tweak)) == expected


def test_every_code_a_decision_can_return_has_a_case() -> None:
    package = Path(secc_pkg.__file__).parent
    returned: set[str] = set()
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "_R":
                returned.add(node.attr)
    tested = {c[3] for c in CASES}
    # Codes that reach the decisions from the PnC verifier are listed in the cases above as well.
    missing = {c for c in returned if c.startswith(("FAILED", "WARNING")) and c not in tested}
    assert missing == set(), f"decision codes without a unit case: {sorted(missing)}"


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
    answer = decide(_stop("Pause"), view(ctx=ctx_for(AC_BPT, evcc_id="CAR"), config=SeccConfig(pause_expiry_s=300)))
    (stored,) = [e.session for e in answer.effects if isinstance(e, StorePaused)]
    assert (stored.session_id, stored.evcc_id, stored.fingerprint) == (SID, "CAR", PEER.fingerprint)
    assert stored.expires_at == NOW + 300


# ---- happy answers that depend on controller inputs ------------------------------------------------------------
def test_dc_loop_reports_the_output_and_carries_the_setpoint_in_dynamic_bpt() -> None:
    command = DCCommand(present_voltage_v=400, present_current_a=-25, target_power_w=-10_000)
    answer = decide(
        _dc_loop(bpt=True, dynamic=True),
        view(
            **_DC_VIEW, ctx=ctx_for(DC_BPT, discharge=True), inputs={Input.DC_LIMITS: DC_LIMITS, Input.DC_LOOP: command}
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
        **_DC_VIEW,
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
        view(**_DC_VIEW, inputs={Input.WELDING: DCOutput(present_voltage_v=12)}),
    )
    assert welding.response.evse_present_voltage.value == 12


def test_ac_loop_answers_with_meter_info_and_the_notification() -> None:
    loop = dataclasses.replace(_ac_loop(bpt=True, dynamic=True), meter_info_requested=True)
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
