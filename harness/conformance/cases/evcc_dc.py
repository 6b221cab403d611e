"""EVCC under test, DC and DC_BPT: the tester SECC serves a DC session and checks every request of the EV.

Behaviour: the EV repeats DC_CableCheckReq while the insulation test is Ongoing, precharges until the output
matches its target and says so (EVProcessing Finished) before PowerDelivery(Start), runs its welding detection
after PowerDelivery(Stop) and ends it only after a measurement, stays within the charger's announced limits,
and stops on a FAILED answer. Timing (V2G20 table 217): 2 s for DC_CableCheck and DC_PreCharge, 0.5 s for
DC_ChargeLoop, the 0.25 s pacing of the loop, and V2G_EVCC_Ongoing_Timeout for an insulation test that never
ends.
"""

from __future__ import annotations

from typing import Any

from harness.conformance.cases.common import EV_LOOP, EVCC_SESSION, case, evcc_full, evcc_silent
from harness.conformance.evcc_rules import (
    CPD_MATCHES_SELECTION,
    NO_DISCHARGE_WITHOUT_BPT,
    PD_SCHEDULE_TUPLE,
    PD_START,
    PD_STOP,
    PRECHARGE_MATCHED,
    PRECHARGE_TARGET_IN_WINDOWS,
    TARGETS_WITHIN_EVSE_LIMITS,
    WELDING_CHECKED,
)
from harness.conformance.model import Case, Category, Need, SutRole, dc_profile
from harness.conformance.scripts import evse_end, evse_finish, evse_session, evse_to_loop
from harness.conformance.steps import (
    CLOSE_GRACE,
    ExpectClosed,
    ExpectRequest,
    Respond,
    Serve,
    ServeLoop,
    Stall,
)
from iso15118.constants import PayloadType
from iso15118.iso20.services import DC, DC_BPT
from iso15118.session.selection import EnergyFamily

__all__ = ["CASES"]

_DC = EnergyFamily.DC
_TABLE = "V2G20 table 217"
_STOP = "fact sheet 2.4 (the EV stops on a FAILED response code)"
_MSG = "evcc_msg_timeout"
_WELDING = {"SessionStopReq": (WELDING_CHECKED,)}
#: BPT cases offer DC_BPT alone: an EV that supports both may prefer DC when both are offered.
_BPT = dc_profile(offered=(DC_BPT,))


def _case(case_id: str, title: str, category: Category, *steps: Any, **how: Any) -> Case:
    how.setdefault("profile", _BPT)
    how["needs"] = how.get("needs", frozenset()) | {Need.DC}
    return case(case_id, title, SutRole.EVCC, category, *steps, **how)


def _failed(case_id: str, title: str, request: str, code: str, *before: Any) -> Case:
    """The tester answers ``request`` with ``code``: the EV sends nothing more and closes the connection."""
    return _case(
        case_id,
        title,
        Category.SEQUENCE,
        *before,
        Serve(until=request, preamble=not before),
        Respond(code=code),
        ExpectClosed(within=5.0, requirement=_STOP, what="the EV closes after a FAILED response"),
        requirements=(_STOP, "V2G20 DC sequence"),
        stimulus=f"{request} answered {code}",
        expected="no further request; the EV closes the connection",
    )


def _silent(case_id: str, title: str, request: str, timer: str, limit: str, *before: Any) -> Case:
    return evcc_silent(case_id, title, request, timer, _TABLE, limit, *before, profile=_BPT, needs=frozenset({Need.DC}))


CASES: tuple[Case, ...] = (
    evcc_full(
        "EVCC-DC-01",
        "EIM, DC_BPT, Dynamic: complete session with cable check, precharge and welding detection",
        _BPT,
        frozenset({Need.DC, Need.BPT, Need.DYNAMIC}),
        EVCC_SESSION,
        "The EV selects DC_BPT, precharges to matched voltages and checks its contactors after PowerDelivery(Stop).",
        (_TABLE,),
        loop_checks=EV_LOOP,
        stop_checks=_WELDING,
    ),
    evcc_full(
        "EVCC-DC-02",
        "EIM, DC_BPT, Scheduled: the EV selects the offered schedule tuple and stays within the charger's limits",
        dc_profile(offered=(DC_BPT,), offered_modes=(1,), schedule_tuple_id=7),
        frozenset({Need.DC, Need.BPT, Need.SCHEDULED}),
        {**EVCC_SESSION, "PowerDeliveryReq": (PD_START, PD_SCHEDULE_TUPLE, PRECHARGE_MATCHED)},
        "The EV uses the Scheduled elements, selects ScheduleTupleID 7 and asks for no more than the charger's "
        "maximum voltage and current.",
        loop_checks=EV_LOOP,
        stop_checks=_WELDING,
    ),
    _case(
        "EVCC-DC-03",
        "DC only offered: no BPT element and no discharge",
        Category.PARAMETERS,
        *evse_session(
            family=_DC,
            loops=3,
            checks={
                "DC_ChargeParameterDiscoveryReq": (CPD_MATCHES_SELECTION,),
                "PowerDeliveryReq": (NO_DISCHARGE_WITHOUT_BPT,),
            },
            loop_checks=(NO_DISCHARGE_WITHOUT_BPT,),
        ),
        profile=dc_profile(offered=(DC,)),
        requirements=("V2G20-1034", "V2G20-1035", "V2G20 DC_ChargeParameterDiscovery (BPT elements iff DC_BPT)"),
        stimulus="the tester offers only DC (service 2)",
        expected="DC_CPDReqEnergyTransferMode, no BPT_ChannelSelection, DC charge-loop elements without BPT, no "
        "negative target current",
    ),
    _case(
        "EVCC-DC-04",
        "The EV repeats DC_CableCheckReq while the insulation test is Ongoing",
        Category.SEQUENCE,
        Serve(until="DC_CableCheckReq"),
        *(step for _ in range(3) for step in (Respond(), ExpectRequest(kind="DC_CableCheckReq"))),
        Respond(),
        ExpectRequest(kind="DC_PreChargeReq"),
        Respond(),
        *evse_to_loop(family=_DC, preamble=False),
        *evse_end(1, family=_DC),
        profile=dc_profile(offered=(DC_BPT,), cable_check_ongoing=3),
        requirements=("V2G20 DC sequence (DC_CableCheck until Finished)",),
        stimulus="DC_CableCheckRes with EVSEProcessing Ongoing three times, then Finished",
        expected="DC_CableCheckReq again after each Ongoing, DC_PreChargeReq only after Finished",
    ),
    _case(
        "EVCC-DC-05",
        "The EV precharges until the output matches its target, then says Finished before PowerDelivery(Start)",
        Category.PARAMETERS,
        *evse_session(
            family=_DC,
            loops=1,
            checks={
                "DC_PreChargeReq": (PRECHARGE_TARGET_IN_WINDOWS,),
                "PowerDeliveryReq": (PD_START, PRECHARGE_MATCHED),
            },
        ),
        requirements=("V2G20 DC sequence (DC_PreCharge until EVProcessing Finished)", "V2G20 DC_PreCharge"),
        stimulus="the tester's output moves 150 V towards the EV's target per DC_PreChargeReq",
        expected="DC_PreChargeReq with EVProcessing Ongoing until EVSEPresentVoltage is within 20 V of "
        "EVTargetVoltage, a last one with Finished, then PowerDeliveryReq(Start)",
    ),
    _case(
        "EVCC-DC-06",
        "Welding detection after PowerDelivery(Stop), ended only after a measurement",
        Category.SEQUENCE,
        *evse_to_loop(family=_DC),
        ServeLoop(count=2, notify_last="Terminate"),
        ExpectRequest(kind="PowerDeliveryReq", checks=(PD_STOP,)),
        Respond(),
        ExpectRequest(kind="DC_WeldingDetectionReq"),
        Respond(),
        *evse_finish(family=_DC, checks=_WELDING),
        requirements=("V2G20 DC sequence (DC_WeldingDetection after PowerDelivery(Stop))", "V2G20-1610"),
        stimulus="Terminate notification in a DC_ChargeLoopRes; the tester's output falls by 3/4 per "
        "DC_WeldingDetectionRes",
        expected="PowerDelivery(Stop), DC_WeldingDetectionReq (repeated while EVProcessing Ongoing), its Finished "
        "one only after a DC_WeldingDetectionRes, then SessionStop(Terminate)",
    ),
    _failed("EVCC-DC-07", "FAILED DC_CableCheckRes (insulation fault): the EV stops", "DC_CableCheckReq", "FAILED"),
    _failed(
        "EVCC-DC-08",
        "FAILED_WrongChargeParameter in DC_PreChargeRes: the EV stops",
        "DC_PreChargeReq",
        "FAILED_WrongChargeParameter",
    ),
    _failed(
        "EVCC-DC-09",
        "FAILED in a DC_ChargeLoopRes: the EV stops",
        "DC_ChargeLoopReq",
        "FAILED",
        *evse_to_loop(family=_DC),
        ServeLoop(count=1),
    ),
    _silent(
        "EVCC-DC-10", "No DC_CableCheckRes: the EV gives up after 2 s", "DC_CableCheckReq", "evcc_msg_timeout", "2 s"
    ),
    _silent(
        "EVCC-DC-11", "No DC_PreChargeRes: the EV gives up after 2 s", "DC_PreChargeReq", "evcc_msg_timeout", "2 s"
    ),
    _silent(
        "EVCC-DC-12",
        "No DC_ChargeLoopRes: the EV gives up after 0.5 s",
        "DC_ChargeLoopReq",
        "evcc_msg_timeout_loop",
        "0.5 s",
        *evse_to_loop(family=_DC),
        ServeLoop(count=1),
    ),
    _case(
        "EVCC-DC-13",
        "The EV's pacing in the DC charge loop",
        Category.TIMING,
        *evse_to_loop(family=_DC),
        *evse_end(6, family=_DC),
        strict_performance=True,
        requirements=(_TABLE, "V2G20-1499 (V2G_EVCC_Sequence_Performance_Time 0.25 s in the loop)"),
        stimulus="six DC charge loops answered at once",
        expected="every DC_ChargeLoopReq within 0.25 s of the previous DC_ChargeLoopRes",
    ),
    _case(
        "EVCC-DC-14",
        "An insulation test that never ends: the EV gives up after V2G_EVCC_Ongoing_Timeout",
        Category.TIMING,
        Serve(until="DC_CableCheckReq"),
        Stall(kind="DC_CableCheckReq", requirement="V2G20 table 215 (V2G_EVCC_Ongoing_Timeout)"),
        requirements=("V2G20 table 215 (V2G_EVCC_Ongoing_Timeout)", _TABLE),
        stimulus="every DC_CableCheckRes says EVSEProcessing Ongoing",
        expected="the EV repeats DC_CableCheckReq until V2G_EVCC_Ongoing_Timeout (60 s) expires, not before; then "
        "it sends SessionStopReq or closes the connection (within 5 s)",
        timeout_s=200.0,
    ),
    _case(
        "EVCC-DC-15",
        "Scheduled DC: EVTargetVoltage and EVTargetCurrent within the charger's announced maxima",
        Category.PARAMETERS,
        *evse_to_loop(family=_DC),
        *evse_end(4, family=_DC, checks=(TARGETS_WITHIN_EVSE_LIMITS,)),
        profile=dc_profile(offered=(DC_BPT,), offered_modes=(1,), evse_max_current_a=60.0),
        needs=frozenset({Need.SCHEDULED}),
        requirements=("V2G20 DC_ChargeParameterDiscovery (EVSEMaximumVoltage, EVSEMaximumChargeCurrent)",),
        stimulus="the tester announces 500 V and 60 A; Scheduled DC_BPT session",
        expected="no DC_ChargeLoopReq asks for more than 500 V or 60 A",
    ),
    _case(
        "EVCC-DC-16",
        "The precharge target lies within the EV's and the charger's voltage windows",
        Category.PARAMETERS,
        Serve(until="DC_PreChargeReq", checks=(PRECHARGE_TARGET_IN_WINDOWS,), preamble=False),
        Respond(),
        *evse_to_loop(family=_DC, preamble=False),
        *evse_end(1, family=_DC),
        requirements=("V2G20 DC_PreCharge (EVTargetVoltage)", "V2G20 DC_ChargeParameterDiscovery"),
        stimulus="the EV announced its voltage window in DC_ChargeParameterDiscoveryReq, the tester 150-500 V",
        expected="the DC_PreChargeReq's EVTargetVoltage lies in both windows",
    ),
    _case(
        "EVCC-DC-17",
        "A DC response on the common payload type is not processed",
        Category.FRAMING,
        Serve(until="DC_CableCheckReq"),
        Respond(payload_type=int(PayloadType.ISO20_COMMON), label="payload type 0x8002"),
        ExpectClosed(
            timer="evcc_msg_timeout",
            grace=CLOSE_GRACE,
            requirement="fact sheet 1.2 (payload type chooses the grammar)",
            what="the EV gives up",
        ),
        requirements=("fact sheet 1.2 (0x8004 carries the DC messages)", "fact sheet 1.1 (frame not processed)"),
        stimulus="DC_CableCheckRes framed with payload type 0x8002 instead of 0x8004",
        expected="no DC_PreChargeReq; the EV closes the connection (at once, or when its 2 s message timeout expires)",
    ),
)
