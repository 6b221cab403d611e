"""SECC under test, parameter rules: protocol negotiation, services, charge parameters, control modes, limits."""

from __future__ import annotations

from typing import Any

from harness.conformance.cases.common import case, refusal
from harness.conformance.model import Case, Category, Need, Profile, SutRole
from harness.conformance.scripts import FAILED_CLOSES, ev_refused, ev_stop
from harness.conformance.secc_rules import (
    BPT_PARAMETERS,
    CPD_MATCHES_SERVICE,
    LOOP_MIRRORS_REQUEST,
    METER_INFO,
    MOBILITY_NEEDS,
    NO_DISCHARGE_TARGET,
    TARGET_WITHIN_LIMITS,
    schema_id_of,
)
from harness.conformance.steps import Close, Exchange, Loop, Send, Walk
from iso15118.constants import NS_ISO20_AC
from iso15118.iso20.services import AC
from iso15118.messages import iso20 as m
from iso15118.messages.app_protocol import AppProtocol
from iso15118.messages.units import rational

__all__ = ["CASES"]


def _offer(namespace: str, schema_id: int, priority: int, minor: int = 0) -> AppProtocol:
    return AppProtocol(
        protocol_namespace=namespace,
        version_number_major=1,
        version_number_minor=minor,
        schema_id=schema_id,
        priority=priority,
    )


def _dynamic_element(bpt: bool) -> Any:
    power = rational(11_000)
    fields: dict[str, Any] = {
        "ev_target_energy_request": rational(20_000),
        "ev_maximum_energy_request": rational(30_000),
        "ev_minimum_energy_request": rational(-10_000),
        "ev_maximum_charge_power": power,
        "ev_minimum_charge_power": rational(1_400),
        "ev_present_active_power": power,
        "ev_present_reactive_power": rational(0),
    }
    if bpt:
        fields |= {"ev_maximum_discharge_power": power, "ev_minimum_discharge_power": rational(1_400)}
        return m.BPT_Dynamic_AC_CLReqControlMode(**fields)
    return m.Dynamic_AC_CLReqControlMode(**fields)


def _refusal(case_id: str, title: str, request: str, **how: Any) -> Case:
    """The SECC refuses ``request`` at its place in the default session, and closes."""
    return refusal(case_id, title, request, category=Category.PARAMETERS, **how)


def _observe(case_id: str, title: str, *, steps: tuple[Any, ...], **how: Any) -> Case:
    """A session in which the SECC's responses are checked (the SUT is not led into an error)."""
    return case(case_id, title, SutRole.SECC, Category.PARAMETERS, *steps, **how)


_AC = Profile(service=AC)
_LOOP_TO_END = (Loop(count=3, checks=(LOOP_MIRRORS_REQUEST, TARGET_WITHIN_LIMITS, NO_DISCHARGE_TARGET)), *ev_stop())

CASES: tuple[Case, ...] = (
    Case(
        id="SECC-PAR-01",
        title="SupportedAppProtocol with no protocol in common",
        sut=SutRole.SECC,
        category=Category.PARAMETERS,
        requirements=("V2G20-169", FAILED_CLOSES),
        negative=True,
        stimulus="supportedAppProtocolReq offering only urn:example:unknown:protocol",
        expected="supportedAppProtocolRes Failed_NoNegotiation without SchemaID, then the SECC closes",
        steps=ev_refused(
            Send(
                kind="supportedAppProtocolReq", fields={"app_protocol": (_offer("urn:example:unknown:protocol", 7, 1),)}
            ),
            ("Failed_NoNegotiation",),
        ),
    ),
    Case(
        id="SECC-PAR-02",
        title="A differing minor version is success, never WithMinorDeviation in -20",
        sut=SutRole.SECC,
        category=Category.PARAMETERS,
        requirements=("V2G20-170", "V2G20-1089"),
        negative=True,
        stimulus="supportedAppProtocolReq offering urn:iso:std:iso:15118:-20:AC version 1.1",
        expected="OK_SuccessfulNegotiation (not OK_SuccessfulNegotiationWithMinorDeviation) with that SchemaID",
        steps=(
            Exchange(
                kind="supportedAppProtocolReq",
                fields={"app_protocol": (_offer(NS_ISO20_AC, 3, 1, 1),)},
                codes=("OK_SuccessfulNegotiation",),
                checks=(schema_id_of(NS_ISO20_AC),),
            ),
            Close(),
        ),
    ),
    Case(
        id="SECC-PAR-03",
        title="SupportedAppProtocol: unsupported offers are dropped, the supported one chosen",
        sut=SutRole.SECC,
        category=Category.PARAMETERS,
        requirements=("V2G20-169", "V2G20-167"),
        negative=True,
        stimulus="offers: urn:example:unknown:protocol (SchemaID 11, priority 1), -20 AC (SchemaID 10, priority 2)",
        expected="OK_SuccessfulNegotiation with SchemaID 10",
        steps=(
            Exchange(
                kind="supportedAppProtocolReq",
                fields={"app_protocol": (_offer("urn:example:unknown:protocol", 11, 1), _offer(NS_ISO20_AC, 10, 2))},
                codes=("OK_SuccessfulNegotiation",),
                checks=(schema_id_of(NS_ISO20_AC),),
            ),
            Close(),
        ),
    ),
    _refusal(
        "SECC-PAR-04",
        "EVMinimumChargePower above the EVSE's maximum",
        "AC_ChargeParameterDiscoveryReq",
        needs=frozenset({Need.BPT}),  # the stimulus sits in the BPT element
        fields={
            "bpt_ac_cpd_req_energy_transfer_mode.ev_minimum_charge_power": rational(500_000),
            "bpt_ac_cpd_req_energy_transfer_mode.ev_maximum_charge_power": rational(600_000),
        },
        codes=("FAILED_WrongChargeParameter",),
        requirements=("fact sheet 2.7 (incompatible parameters)",),
        stimulus="AC_ChargeParameterDiscoveryReq with EVMinimumChargePower 500 kW (above any AC EVSE)",
    ),
    _observe(
        "SECC-PAR-05",
        "The EV asks for more than the EVSE's maximum: the setpoint stays within the EVSE's",
        requirements=("fact sheet 2.7/6.3 (EVSEMaximumChargePower bounds the setpoint)",),
        stimulus="EVMaximumChargePower 43 kW in AC_ChargeParameterDiscovery and every AC_ChargeLoopReq",
        expected="EVSETargetActivePower never above the EVSEMaximumChargePower announced in "
        "AC_ChargeParameterDiscoveryRes",
        profile=Profile(ev_max_charge_w=43_000.0),
        needs=frozenset({Need.DYNAMIC}),
        steps=(Walk(until="AC_ChargeLoopReq"), *_LOOP_TO_END),
    ),
    _refusal(
        "SECC-PAR-06",
        "Discharge requested although AC (not AC_BPT) was selected",
        "PowerDeliveryReq",
        profile=_AC,
        fields={"bpt_channel_selection": m.ChannelSelection.Discharge},
        codes=("FAILED*",),
        requirements=("V2G20-1034", "V2G20-1035", "fact sheet 2.7"),
        stimulus="AC session (service 1); PowerDeliveryReq(Start) with BPT_ChannelSelection=Discharge",
    ),
    _refusal(
        "SECC-PAR-07",
        "BPT charge parameters although AC was selected",
        "AC_ChargeParameterDiscoveryReq",
        profile=_AC,
        fields={
            "ac_cpd_req_energy_transfer_mode": None,
            "bpt_ac_cpd_req_energy_transfer_mode": m.BPT_AC_CPDReqEnergyTransferMode(
                ev_maximum_charge_power=rational(11_000),
                ev_minimum_charge_power=rational(1_400),
                ev_maximum_discharge_power=rational(11_000),
                ev_minimum_discharge_power=rational(1_400),
            ),
        },
        codes=("FAILED*",),
        requirements=("fact sheet 2.7 (BPT element iff AC_BPT)",),
        stimulus="AC session (service 1); AC_ChargeParameterDiscoveryReq with BPT_AC_CPDReqEnergyTransferMode",
    ),
    _refusal(
        "SECC-PAR-08",
        "Dynamic charge-loop element after selecting Scheduled",
        "AC_ChargeLoopReq",
        profile=Profile(dynamic=False),
        needs=frozenset({Need.SCHEDULED, Need.BPT}),
        fields={
            "bpt_scheduled_ac_cl_req_control_mode": None,
            "bpt_dynamic_ac_cl_req_control_mode": _dynamic_element(True),
        },
        codes=("FAILED*",),
        requirements=("fact sheet 2.8 (control mode matches the selection)",),
        stimulus="Scheduled AC_BPT session; AC_ChargeLoopReq with BPT_Dynamic_AC_CLReqControlMode",
    ),
    _refusal(
        "SECC-PAR-09",
        "BPT charge-loop element although AC was selected",
        "AC_ChargeLoopReq",
        profile=_AC,
        fields={"dynamic_ac_cl_req_control_mode": None, "bpt_dynamic_ac_cl_req_control_mode": _dynamic_element(True)},
        codes=("FAILED*",),
        requirements=("fact sheet 2.8 (BPT_* iff AC_BPT)",),
        stimulus="Dynamic AC session (service 1); AC_ChargeLoopReq with BPT_Dynamic_AC_CLReqControlMode",
    ),
    _refusal(
        "SECC-PAR-10",
        "ServiceDetailReq for a service that was not offered",
        "ServiceDetailReq",
        fields={"service_id": 3},
        codes=("FAILED_ServiceIDInvalid",),
        requirements=("fact sheet 2.6 (FAILED_ServiceIDInvalid)",),
        stimulus="ServiceDetailReq for ServiceID 3 (WPT), which an AC SECC does not offer",
    ),
    _refusal(
        "SECC-PAR-11",
        "ServiceSelection of an undefined ParameterSetID",
        "ServiceSelectionReq",
        fields={"selected_energy_transfer_service.parameter_set_id": 999},
        codes=("FAILED_ServiceSelectionInvalid",),
        requirements=("fact sheet 2.6 (FAILED_ServiceSelectionInvalid)",),
        stimulus="ServiceSelectionReq with ParameterSetID 999",
    ),
    _refusal(
        "SECC-PAR-12",
        "ServiceSelection of a service that was not offered",
        "ServiceSelectionReq",
        fields={"selected_energy_transfer_service.service_id": 3},
        codes=("FAILED_ServiceIDInvalid",),
        requirements=("fact sheet 2.6 (details/selection of an ID not offered)",),
        stimulus="ServiceSelectionReq for ServiceID 3 (WPT)",
    ),
    _refusal(
        "SECC-PAR-13",
        "PowerDelivery selects a schedule tuple that was not offered",
        "PowerDeliveryReq",
        profile=Profile(dynamic=False),
        needs=frozenset({Need.SCHEDULED}),
        fields={"ev_power_profile.scheduled_evppt_control_mode.selected_schedule_tuple_id": 250},
        codes=("FAILED_ScheduleSelectionInvalid",),
        requirements=("fact sheet 2.7 (FAILED_ScheduleSelectionInvalid)",),
        stimulus="Scheduled session; PowerDeliveryReq(Start) with SelectedScheduleTupleID 250",
    ),
    _refusal(
        "SECC-PAR-14",
        "ScheduleExchange in the other control mode",
        "ScheduleExchangeReq",
        profile=Profile(dynamic=False),
        needs=frozenset({Need.SCHEDULED}),
        fields={
            "scheduled_se_req_control_mode": None,
            "dynamic_se_req_control_mode": m.Dynamic_SEReqControlMode(
                departure_time=7200,
                ev_target_energy_request=rational(20_000),
                ev_maximum_energy_request=rational(30_000),
                ev_minimum_energy_request=rational(-10_000),
            ),
        },
        codes=("FAILED*",),
        requirements=("fact sheet 2.7 (the control mode of the selection)",),
        stimulus="Scheduled selected; ScheduleExchangeReq with Dynamic_SEReqControlMode",
    ),
    _observe(
        "SECC-PAR-15",
        "AC_BPT parameter sets carry the BPT parameters; MobilityNeedsMode follows the rule",
        requirements=("V2G20 table 206", "V2G20-2663", "V2G20-2652"),
        stimulus="ServiceDetailReq for AC_BPT (5)",
        expected="every parameter set has BPTChannel, GeneratorMode and GridCodeIslandingDetectionMethod; "
        "MobilityNeedsMode 2 only with ControlMode 2",
        needs=frozenset({Need.BPT}),
        steps=(
            Walk(until="ServiceDetailReq"),
            Exchange(kind="ServiceDetailReq", checks=(BPT_PARAMETERS, MOBILITY_NEEDS)),
            Close(),
        ),
    ),
    _observe(
        "SECC-PAR-16",
        "AC selected: the charge parameters come without BPT limits",
        requirements=("fact sheet 2.7 (the element matches the service)",),
        stimulus="AC session (service 1); AC_ChargeParameterDiscoveryReq with AC_CPDReqEnergyTransferMode",
        expected="AC_ChargeParameterDiscoveryRes with AC_CPDResEnergyTransferMode (no discharge limits)",
        profile=_AC,
        steps=(
            Walk(until="AC_ChargeParameterDiscoveryReq"),
            Exchange(kind="AC_ChargeParameterDiscoveryReq", checks=(CPD_MATCHES_SERVICE,)),
            Close(),
        ),
    ),
    _observe(
        "SECC-PAR-17",
        "MeterInfo in every AC_ChargeLoopRes when MeterInfoRequested is true",
        requirements=("V2G20-1081", "V2G20-1082", "V2G20-1833"),
        stimulus="three AC_ChargeLoopReq with MeterInfoRequested=true",
        expected="each AC_ChargeLoopRes carries MeterInfo",
        steps=(Walk(until="AC_ChargeLoopReq"), Loop(count=3, checks=(METER_INFO,)), *ev_stop()),
    ),
    _observe(
        "SECC-PAR-18",
        "The charge-loop response mirrors the request's control mode (AC, Scheduled)",
        requirements=("fact sheet 2.8 (response variant matches the request)",),
        stimulus="AC Scheduled session; three AC_ChargeLoopReq with Scheduled_AC_CLReqControlMode",
        expected="each AC_ChargeLoopRes carries Scheduled_AC_CLResControlMode, no discharge setpoint",
        profile=Profile(service=AC, dynamic=False),
        needs=frozenset({Need.SCHEDULED}),
        steps=(Walk(until="AC_ChargeLoopReq"), *_LOOP_TO_END),
    ),
    _observe(
        "SECC-PAR-19",
        "AC Dynamic: no discharge setpoint in an AC session",
        requirements=("V2G20-1034", "V2G20-1035", "fact sheet 6.3"),
        stimulus="AC Dynamic session (service 1), three charge loops",
        expected="EVSETargetActivePower >= 0 and within the EVSE's limits in every AC_ChargeLoopRes",
        profile=Profile(service=AC),
        needs=frozenset({Need.DYNAMIC}),
        steps=(Walk(until="AC_ChargeLoopReq"), *_LOOP_TO_END),
    ),
    Case(
        id="SECC-PAR-20",
        title="PowerDelivery(Start) without the optional PowerToleranceAcceptance is accepted",
        sut=SutRole.SECC,
        category=Category.PARAMETERS,
        requirements=("XSD: Scheduled_EVPPTControlMode/PowerToleranceAcceptance minOccurs=0", "V2G20-1596"),
        needs=frozenset({Need.SCHEDULED}),
        profile=Profile(dynamic=False),
        stimulus="Scheduled AC_BPT session; PowerDeliveryReq(Start) whose Scheduled_EVPPTControlMode carries only "
        "SelectedScheduleTupleID",
        expected="PowerDeliveryRes OK (an optional element may be left out), then the charge loop",
        steps=(
            Walk(until="PowerDeliveryReq"),
            Exchange(
                kind="PowerDeliveryReq",
                fields={"ev_power_profile.scheduled_evppt_control_mode.power_tolerance_acceptance": None},
            ),
            Loop(count=1),
            *ev_stop(),
        ),
    ),
)
