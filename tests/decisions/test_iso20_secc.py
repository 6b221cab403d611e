"""The -20 SECC decisions as pure functions: every FAILED and WARNING code they can return, without asyncio.

Each case builds a request, a view (context, configuration, gathered inputs) and checks the response code. A
last test reads the decision modules and fails when one of them can return a code no case here exercises.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from iso15118.certificates import CertificateAnswer, CertificateStatus
from iso15118.codec import encode_message
from iso15118.config import SeccConfig
from iso15118.controller import (
    AuthorizationDecision,
    IsolationCheck,
    IsolationStatus,
)
from iso15118.decisions import Input
from iso15118.iso20 import secc as secc_pkg
from iso15118.iso20.services import AC, AC_BPT, DC, DC_BPT
from iso15118.messages import iso20 as m
from iso15118.messages.units import rational
from iso15118.session.failures import minimal_instance
from iso15118.session.selection import EnergyFamily
from tests.decisions.iso20_secc_support import (
    AC_LIMITS,
    DC_LIMITS,
    DC_VIEW,
    HEADER,
    PNC_CONFIG,
    PNC_CTX,
    FixedPnc,
    ac_cpd,
    ac_loop,
    code,
    ctx_for,
    dc_cpd,
    dc_loop,
    eim_req,
    pnc_req,
    power_delivery,
    req,
    selection_req,
    stop_req,
    view,
)


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


CASES: list[tuple[str, Callable[[], Any], dict[str, Any], str]] = [
    # --- set-up
    (
        "new session",
        lambda: req(m.SessionSetupReq, header=m.MessageHeader(session_id=bytes(8), time_stamp=1), evcc_id="CAR"),
        {},
        "OK_NewSessionEstablished",
    ),
    ("selection not offered", pnc_req, {}, "WARNING_AuthorizationSelectionInvalid"),
    (
        "PnC without a verifier",
        pnc_req,
        {"config": PNC_CONFIG, "ctx": PNC_CTX},
        "WARNING_GeneralPnCAuthorizationError",
    ),
    (
        "PnC challenge mismatch",
        lambda: pnc_req(b"x" * 16),
        {"config": PNC_CONFIG, "ctx": PNC_CTX, "pnc": FixedPnc(None)},
        "WARNING_ChallengeInvalid",
    ),
    (
        "PnC chain expired",
        pnc_req,
        {"config": PNC_CONFIG, "ctx": PNC_CTX, "pnc": FixedPnc(m.ResponseCode.WARNING_CertificateExpired)},
        "WARNING_CertificateExpired",
    ),
    (
        "PnC chain not yet valid",
        pnc_req,
        {"config": PNC_CONFIG, "ctx": PNC_CTX, "pnc": FixedPnc(m.ResponseCode.WARNING_CertificateNotYetValid)},
        "WARNING_CertificateNotYetValid",
    ),
    (
        "PnC chain invalid",
        pnc_req,
        {"config": PNC_CONFIG, "ctx": PNC_CTX, "pnc": FixedPnc(m.ResponseCode.WARNING_CertificateValidationError)},
        "WARNING_CertificateValidationError",
    ),
    (
        "PnC signature invalid",
        pnc_req,
        {"config": PNC_CONFIG, "ctx": PNC_CTX, "pnc": FixedPnc(m.ResponseCode.FAILED_SignatureError)},
        "FAILED_SignatureError",
    ),
    (
        "PnC contract revoked (OCSP)",
        pnc_req,
        {
            "config": PNC_CONFIG,
            "ctx": PNC_CTX,
            "pnc": FixedPnc(None),
            "inputs": {Input.AUTHORIZATION: AuthorizationDecision.REVOKED},
        },
        "WARNING_CertificateRevoked",
    ),
    (
        "PnC rejected by the charger",
        pnc_req,
        {
            "config": PNC_CONFIG,
            "ctx": PNC_CTX,
            "pnc": FixedPnc(None),
            "inputs": {Input.AUTHORIZATION: AuthorizationDecision.REJECTED},
        },
        "WARNING_GeneralPnCAuthorizationError",
    ),
    (
        "EIM rejected",
        eim_req,
        {"inputs": {Input.AUTHORIZATION: AuthorizationDecision.REJECTED}},
        "WARNING_EIMAuthorizationFailure",
    ),
    ("EIM accepted", eim_req, {"inputs": {Input.AUTHORIZATION: AuthorizationDecision.ACCEPTED}}, "OK"),
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
            "pnc": FixedPnc(m.ResponseCode.FAILED_SignatureError),
        },
        "FAILED_SignatureError",
    ),
    (
        "certificate installation, the CPS chain of the response is not trusted",
        _installation,
        {
            "config": _INSTALL,
            "inputs": _provider(CertificateStatus.PROVIDED),
            "pnc": FixedPnc(m.ResponseCode.WARNING_CertificateValidationError),
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
        lambda: selection_req(DC_BPT),
        {"inputs": {Input.LIMITS: AC_LIMITS}},
        "FAILED_ServiceIDInvalid",
    ),
    (
        "undefined parameter set",
        lambda: selection_req(AC, 9),
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
        lambda: power_delivery(channel="Discharge"),
        {"ctx": ctx_for(AC, control=2)},
        "FAILED_WrongChargeParameter",
    ),
    (
        "unknown schedule tuple",
        lambda: power_delivery(schedule=7),
        {"ctx": ctx_for(AC, control=1, schedule_ids=(1,))},
        "FAILED_ScheduleSelectionInvalid",
    ),
    (
        "standby not allowed",
        lambda: power_delivery("Standby"),
        {"ctx": ctx_for(AC), "config": SeccConfig(standby_allowed=False)},
        "WARNING_StandbyNotAllowed",
    ),
    (
        "contactors failed",
        lambda: power_delivery("Start"),
        {"ctx": ctx_for(AC), "inputs": {Input.POWER_DELIVERY: False}},
        "FAILED_ContactorError",
    ),
    # --- AC
    (
        "AC parameters do not match the service",
        lambda: ac_cpd(bpt=False),
        {"ctx": ctx_for(AC_BPT)},
        "FAILED_WrongChargeParameter",
    ),
    (
        "AC minimum above the charger's maximum",
        lambda: ac_cpd(bpt=False, min_power=20_000),
        {"ctx": ctx_for(AC), "inputs": {Input.LIMITS: AC_LIMITS}},
        "FAILED_WrongChargeParameter",
    ),
    (
        "AC loop in the wrong control mode",
        lambda: ac_loop(bpt=True, dynamic=False),
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
        lambda: dc_cpd(bpt=True),
        {**DC_VIEW, "ctx": ctx_for(DC)},
        "FAILED_WrongChargeParameter",
    ),
    (
        "DC voltage windows do not overlap",
        lambda: dc_cpd(bpt=False, max_v=900, min_v=600),
        {**DC_VIEW, "ctx": ctx_for(DC), "inputs": {Input.DC_LIMITS: DC_LIMITS}},
        "FAILED_WrongChargeParameter",
    ),
    (
        "DC minimum current above the charger's",
        lambda: dc_cpd(bpt=False, min_current=400),
        {**DC_VIEW, "ctx": ctx_for(DC), "inputs": {Input.DC_LIMITS: DC_LIMITS}},
        "FAILED_WrongChargeParameter",
    ),
    (
        "insulation fault",
        lambda: req(m.DC_CableCheckReq),
        {
            **DC_VIEW,
            "ctx": ctx_for(DC),
            "inputs": {Input.CABLE_CHECK: IsolationCheck(done=True, status=IsolationStatus.FAULT)},
        },
        "FAILED",
    ),
    (
        "insulation test running",
        lambda: req(m.DC_CableCheckReq),
        {**DC_VIEW, "ctx": ctx_for(DC), "inputs": {Input.CABLE_CHECK: IsolationCheck(done=False)}},
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
        {**DC_VIEW, "ctx": ctx_for(DC), "inputs": {Input.DC_LIMITS: DC_LIMITS}},
        "FAILED_WrongChargeParameter",
    ),
    (
        "DC loop in the wrong control mode",
        lambda: dc_loop(bpt=False, dynamic=False),
        {**DC_VIEW, "ctx": ctx_for(DC, control=2)},
        "FAILED_WrongChargeParameter",
    ),
    (
        "DC loop without a control mode",
        lambda: req(m.DC_ChargeLoopReq, meter_info_requested=False, ev_present_voltage=rational(400)),
        {**DC_VIEW, "ctx": ctx_for(DC)},
        "FAILED_WrongChargeParameter",
    ),
    # --- stop and metering
    (
        "pause not allowed",
        lambda: stop_req("Pause"),
        {"config": SeccConfig(pause_allowed=False)},
        "FAILED_PauseNotAllowed",
    ),
    (
        "no service renegotiation",
        lambda: stop_req("ServiceRenegotiation"),
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
