"""EVCC under test, parameter rules: no discharge without AC_BPT, following the setpoint and the schedule, energies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.conformance.cases.common import case
from harness.conformance.evcc_rules import (
    CPD_MATCHES_SELECTION,
    ENERGY_ORDER,
    NO_DISCHARGE_WITHOUT_BPT,
    PD_SCHEDULE_TUPLE,
    PRESENT_FOLLOWS_TARGET,
    PRESENT_WITHIN_SCHEDULE,
    V2X_PAIRED,
)
from harness.conformance.model import Case, Category, Need, Profile, SutRole
from harness.conformance.path import segment
from harness.conformance.scripts import evse_end, evse_to_loop, loop_kind
from harness.conformance.steps import ExpectRequest, Respond, Serve
from iso15118.iso20.services import AC, AC_BPT
from iso15118.session.selection import EnergyFamily

__all__ = ["CASES"]


def _case(
    case_id: str,
    title: str,
    profile: Profile,
    requirements: tuple[str, ...],
    stimulus: str,
    expected: str,
    *steps: object,
    needs: frozenset[Need] = frozenset(),
) -> Case:
    return case(
        case_id,
        title,
        SutRole.EVCC,
        Category.PARAMETERS,
        *steps,
        requirements=requirements,
        stimulus=stimulus,
        expected=expected,
        profile=profile,
        needs=needs,
    )


def _to_loop(checks: Mapping[str, tuple[Any, ...]]) -> tuple[object, ...]:
    """Serve up to the charge parameters, then expect them and every request up to the loop, with checks."""
    cpd = checks.get("AC_ChargeParameterDiscoveryReq", ())
    steps: list[object] = [Serve(until="AC_ChargeParameterDiscoveryReq", checks=cpd, preamble=not cpd), Respond()]
    for hop in segment(EnergyFamily.AC, start="ScheduleExchangeReq", until=loop_kind()):
        steps += [ExpectRequest(kind=hop.kind, checks=checks.get(hop.kind, ())), Respond()]
    return tuple(steps)


CASES: tuple[Case, ...] = (
    _case(
        "EVCC-PAR-01",
        "AC only offered: no BPT element and no discharge",
        Profile(offered_services=(AC,)),
        ("V2G20-1034", "V2G20-1035", "fact sheet 2.7/2.8 (BPT elements iff AC_BPT)"),
        "the tester offers only AC (service 1)",
        "AC_CPDReqEnergyTransferMode, no BPT_ChannelSelection, AC charge-loop elements, no negative present power",
        *_to_loop(
            {
                "AC_ChargeParameterDiscoveryReq": (CPD_MATCHES_SELECTION,),
                "PowerDeliveryReq": (NO_DISCHARGE_WITHOUT_BPT,),
            }
        ),
        *evse_end(3, checks=(NO_DISCHARGE_WITHOUT_BPT,)),
    ),
    _case(
        "EVCC-PAR-02",
        "Dynamic: a non-zero setpoint gets a non-zero present power of the same sign",
        Profile(offered_services=(AC_BPT,), target_w=5_000.0),
        ("fact sheet 6.3 (the EV follows EVSETargetActivePower within its limits)",),
        "Dynamic AC_BPT; EVSETargetActivePower 5 kW in every AC_ChargeLoopRes",
        "from the second loop on, EVPresentActivePower is positive and at most 5 kW",
        *evse_to_loop(),
        *evse_end(4, checks=(PRESENT_FOLLOWS_TARGET,)),
        needs=frozenset({Need.DYNAMIC, Need.BPT}),
    ),
    _case(
        "EVCC-PAR-03",
        "Scheduled: the EV stays within the EVSE's schedule",
        Profile(offered_modes=(1,), schedule_w=3_700.0, schedule_tuple_id=7),
        (
            "fact sheet 6.3 (Scheduled: power follows the selected ScheduleTuple)",
            "fact sheet 2.7 (FAILED_ScheduleSelectionInvalid)",
        ),
        "only Scheduled offered; the one schedule tuple (ID 7) allows 3.7 kW; no EVSETargetActivePower",
        "PowerDelivery(Start) selects tuple 7 and EVPresentActivePower never exceeds 3.7 kW",
        *_to_loop({"PowerDeliveryReq": (PD_SCHEDULE_TUPLE,)}),
        *evse_end(4, checks=(PRESENT_WITHIN_SCHEDULE,)),
        needs=frozenset({Need.SCHEDULED}),
    ),
    _case(
        "EVCC-PAR-04",
        "V2X energy requests paired and ordered",
        Profile(offered_services=(AC_BPT,)),
        ("V2G20-2124", "V2G20-2125", "V2G20-2681"),
        "Dynamic AC_BPT session",
        "in ScheduleExchangeReq and every AC_ChargeLoopReq the two V2X energy requests "
        "come together, and Min <= MinV2X <= MaxV2X <= Max",
        *_to_loop({"ScheduleExchangeReq": (V2X_PAIRED, ENERGY_ORDER)}),
        *evse_end(3, checks=(V2X_PAIRED, ENERGY_ORDER)),
        needs=frozenset({Need.DYNAMIC, Need.BPT}),
    ),
)
