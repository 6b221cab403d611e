"""SECC under test, DC and DC_BPT: complete sessions and the DC parameter rules.

The DC sequence (the library's table: ScheduleExchange, then DC_CableCheck until the insulation test is
Finished, DC_PreCharge until the EV says Finished, PowerDelivery(Start), DC_ChargeLoop, PowerDelivery(Stop),
DC_WeldingDetection, SessionStop) and the DC rules of the charger: the charge-parameter element matches the
selected service, the EV's voltage window must overlap the charger's and its precharge target must lie in it,
the loop's control-mode element matches the selection (``FAILED_WrongChargeParameter`` otherwise); the output
approaches the EV's target in the precharge; the present current stays within what the EV asked for and the
charger announced. Timing: V2G20 table 217.
"""

from __future__ import annotations

from typing import Any

from harness.conformance.cases.common import SECC_LOOP, case, pause_and_resume, refusal, secc_variants
from harness.conformance.model import Case, Category, Need, SutRole, dc_profile
from harness.conformance.scripts import ev_stop
from harness.conformance.secc_rules import (
    BPT_PARAMETERS,
    CPD_MATCHES_SERVICE,
    CURRENT_WITHIN_LIMITS,
    LIMITS_ORDERED,
    LOOP_MIRRORS_REQUEST,
    METER_INFO,
    PRECHARGE_APPROACHES,
)
from harness.conformance.steps import Close, Exchange, Loop, Walk
from iso15118.iso20.services import DC, DC_BPT
from iso15118.messages.units import rational
from iso15118.session.selection import EnergyFamily

__all__ = ["CASES"]

_DC_ONLY = frozenset({Need.DC})
_WRONG = ("FAILED_WrongChargeParameter",)
_CPD = "DC_ChargeParameterDiscoveryReq"


def _refusal(case_id: str, title: str, request: str, **how: Any) -> Case:
    """The SECC refuses a DC request with FAILED_WrongChargeParameter at its place, and closes."""
    how.setdefault("codes", _WRONG)
    how["needs"] = how.get("needs", frozenset()) | _DC_ONLY
    return refusal(case_id, title, request, category=Category.PARAMETERS, **how)


def _observe(case_id: str, title: str, *steps: Any, **how: Any) -> Case:
    how["needs"] = how.get("needs", frozenset()) | _DC_ONLY
    return case(case_id, title, SutRole.SECC, Category.PARAMETERS, *steps, **how)


def _loops(checks: tuple[Any, ...], count: int = 3) -> tuple[Any, ...]:
    """Up to the charge loop (preamble), ``count`` loops with ``checks``, then the EV stops."""
    return Walk(until="DC_ChargeLoopReq"), Loop(count=count, checks=checks), *ev_stop()


CASES: tuple[Case, ...] = (
    *secc_variants("SECC-DC", EnergyFamily.DC, extra=("V2G20 table 217",)),
    pause_and_resume(
        "SECC-DC-06",
        "Pause and resume a DC session: cable check and precharge run again after OK_OldSessionJoined",
        dc_profile(),
        SECC_LOOP,
        needs=frozenset({Need.DC, Need.PAUSE}),
    ),
    _refusal(
        "SECC-DC-07",
        "The DC_BPT charge-parameter element although DC was selected",
        _CPD,
        profile=dc_profile(service=DC),
        context={"as_if": {"service_id": DC_BPT}},
        requirements=("V2G20 DC_ChargeParameterDiscovery (the BPT element iff DC_BPT)",),
        stimulus="DC session (service 2); DC_ChargeParameterDiscoveryReq with BPT_DC_CPDReqEnergyTransferMode",
    ),
    _refusal(
        "SECC-DC-08",
        "The plain charge-parameter element although DC_BPT was selected",
        _CPD,
        needs=frozenset({Need.BPT}),
        profile=dc_profile(),
        context={"as_if": {"service_id": DC}},
        requirements=("V2G20 DC_ChargeParameterDiscovery (the BPT element iff DC_BPT)",),
        stimulus="DC_BPT session (service 6); DC_ChargeParameterDiscoveryReq with DC_CPDReqEnergyTransferMode",
    ),
    _refusal(
        "SECC-DC-09",
        "The EV's voltage window does not overlap the charger's",
        _CPD,
        profile=dc_profile(service=DC, ev_min_voltage_v=20.0, ev_max_voltage_v=60.0, ev_voltage_v=48.0),
        requirements=("V2G20 DC_ChargeParameterDiscovery (incompatible parameters)",),
        stimulus="a 48 V EV: DC_ChargeParameterDiscoveryReq with EVMinimumVoltage 20 V, EVMaximumVoltage 60 V "
        "(no DC charger's output goes that low)",
    ),
    _refusal(
        "SECC-DC-10",
        "A precharge target above the charger's maximum voltage",
        "DC_PreChargeReq",
        profile=dc_profile(service=DC),
        fields={"ev_target_voltage": rational(2_000)},
        requirements=("V2G20 DC_PreCharge (EVTargetVoltage within the EVSE's voltage window)",),
        stimulus="DC_PreChargeReq with EVTargetVoltage 2000 V (above any charger's EVSEMaximumVoltage)",
    ),
    _refusal(
        "SECC-DC-11",
        "A Dynamic charge-loop element after selecting Scheduled",
        "DC_ChargeLoopReq",
        profile=dc_profile(service=DC, dynamic=False),
        needs=frozenset({Need.SCHEDULED}),
        context={"as_if": {"dynamic": True}},
        requirements=("fact sheet 2.8 (the control mode matches the selection; DC likewise)",),
        stimulus="Scheduled DC session; DC_ChargeLoopReq with Dynamic_DC_CLReqControlMode",
    ),
    _refusal(
        "SECC-DC-12",
        "A BPT charge-loop element although DC was selected",
        "DC_ChargeLoopReq",
        profile=dc_profile(service=DC),
        context={"as_if": {"service_id": DC_BPT}},
        requirements=("fact sheet 2.8 (BPT_* iff the BPT service; DC likewise)",),
        stimulus="Dynamic DC session (service 2); DC_ChargeLoopReq with BPT_Dynamic_DC_CLReqControlMode",
    ),
    _observe(
        "SECC-DC-13",
        "Precharge: the charger's output approaches the EV's target voltage until it is reached",
        Walk(until="DC_PreChargeReq"),
        Exchange(kind="DC_PreChargeReq", checks=(PRECHARGE_APPROACHES,)),
        Close(),
        profile=dc_profile(service=DC),
        requirements=("V2G20 DC_PreCharge (the EVSE adapts its output to EVTargetVoltage)",),
        stimulus="DC_PreChargeReq for the EV's 400 V, repeated with EVProcessing Ongoing until the output is "
        "within 10 V",
        expected="each DC_PreChargeRes's EVSEPresentVoltage is closer to 400 V than the one before, until within "
        "10 V (within 50 requests)",
    ),
    _observe(
        "SECC-DC-14",
        "Scheduled DC: the present current stays within the EV's target and the charger's maximum",
        *_loops((CURRENT_WITHIN_LIMITS,)),
        profile=dc_profile(service=DC, dynamic=False),
        needs=frozenset({Need.SCHEDULED}),
        requirements=("V2G20 DC_ChargeLoop (EVTargetCurrent; EVSEMaximumChargeCurrent)",),
        stimulus="Scheduled DC session, three DC_ChargeLoopReq with an EVTargetCurrent",
        expected="EVSEPresentCurrent never above EVTargetCurrent nor the EVSEMaximumChargeCurrent announced in "
        "DC_ChargeParameterDiscoveryRes (1 A tolerance)",
    ),
    _observe(
        "SECC-DC-15",
        "MeterInfo in every DC_ChargeLoopRes when MeterInfoRequested is true",
        *_loops((METER_INFO,)),
        profile=dc_profile(),
        requirements=("V2G20-1081", "V2G20-1082"),
        stimulus="three DC_ChargeLoopReq with MeterInfoRequested=true",
        expected="each DC_ChargeLoopRes carries MeterInfo",
    ),
    _observe(
        "SECC-DC-16",
        "The DC charge-loop response mirrors the request's control mode (Scheduled)",
        *_loops((LOOP_MIRRORS_REQUEST,)),
        profile=dc_profile(service=DC, dynamic=False),
        needs=frozenset({Need.SCHEDULED}),
        requirements=("fact sheet 2.8 (response variant matches the request; DC likewise)",),
        stimulus="Scheduled DC session; three DC_ChargeLoopReq with Scheduled_DC_CLReqControlMode",
        expected="each DC_ChargeLoopRes carries Scheduled_DC_CLResControlMode",
    ),
    _observe(
        "SECC-DC-17",
        "DC_BPT parameter sets carry BPTChannel and GeneratorMode",
        Walk(until="ServiceDetailReq"),
        Exchange(kind="ServiceDetailReq", checks=(BPT_PARAMETERS,)),
        Close(),
        profile=dc_profile(),
        needs=frozenset({Need.BPT}),
        requirements=("V2G20 DC_BPT service parameters",),
        stimulus="ServiceDetailReq for DC_BPT (6)",
        expected="every parameter set has BPTChannel and GeneratorMode",
    ),
    _observe(
        "SECC-DC-18",
        "DC selected: the charge parameters come without BPT limits",
        Walk(until=_CPD),
        Exchange(kind=_CPD, checks=(CPD_MATCHES_SERVICE, LIMITS_ORDERED)),
        Close(),
        profile=dc_profile(service=DC),
        requirements=("V2G20 DC_ChargeParameterDiscovery (the element matches the service)",),
        stimulus="DC session (service 2); DC_ChargeParameterDiscoveryReq with DC_CPDReqEnergyTransferMode",
        expected="DC_ChargeParameterDiscoveryRes with DC_CPDResEnergyTransferMode (no discharge limits), its "
        "minimum limits not above its maxima",
    ),
)
