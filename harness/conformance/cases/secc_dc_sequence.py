"""SECC under test, the DC sequence and DC timing.

Sequence (the library's table, rows guarded by the session's family): the cable check comes after the schedule,
the precharge after the insulation test is Finished, PowerDelivery(Start) after the EV ended its precharge,
the charge loop after PowerDelivery(Start), welding detection after PowerDelivery(Stop) and only in a DC
session; AC messages have no place in a DC session nor DC messages in an AC one. Each is answered
``FAILED_SequenceError`` (or, where the payload type itself is foreign to the session, refused unread) and the
SECC closes the connection.

Timing (V2G20 table 217): DC_CableCheck, DC_PreCharge and DC_WeldingDetection 2 s / 1.5 s; DC_ChargeLoop
0.5 s / 0.25 s and the 0.5 s sequence timeout in the loop; the insulation test reaches Finished within
V2G_SECC_Ongoing_Performance_Time.
"""

from __future__ import annotations

from typing import Any

from harness.conformance.cases.common import case, closes_at, loop_silence, refusal
from harness.conformance.model import Case, Category, Need, Profile, SutRole, dc_profile
from harness.conformance.secc_rules import CABLE_CHECK_ONGOING
from harness.conformance.steps import Close, Exchange, Expect, Send, Walk
from iso15118.iso20.services import DC
from iso15118.session.selection import EnergyFamily

__all__ = ["CASES"]

_DC = dc_profile(service=DC)
_REFUSED = ("FAILED_SequenceError",)
_DC_TIMING = "V2G20 table 217"


def _case(case_id: str, title: str, request: str, **how: Any) -> Case:
    """``request`` out of the DC sequence: FAILED_SequenceError, then closed (a DC session unless told)."""
    how.setdefault("codes", _REFUSED)
    how.setdefault("profile", _DC)
    dc = how["profile"].family is EnergyFamily.DC
    how["needs"] = how.get("needs", frozenset()) | ({Need.DC} if dc else set())
    how.setdefault("requirements", ("V2G20 DC sequence",))
    return refusal(case_id, title, request, category=Category.SEQUENCE, **how)


def _foreign(case_id: str, title: str, request: str, **how: Any) -> Case:
    """A message of the other energy family: FAILED_SequenceError, or the frame refused unread."""
    how["expected"] = (
        f"{request} has no row in this session's table: FAILED_SequenceError then closed, or the frame (a "
        "payload type the session does not expect) refused unread and the connection closed"
    )
    return _case(case_id, title, request, or_refused=True, **how)


def _timing(case_id: str, title: str, *steps: Any, **how: Any) -> Case:
    how.setdefault("profile", _DC)
    how["needs"] = how.get("needs", frozenset()) | {Need.DC}
    return case(case_id, title, SutRole.SECC, Category.TIMING, *steps, **how)


CASES: tuple[Case, ...] = (
    _case(
        "SECC-DC-19",
        "DC_CableCheckReq before ScheduleExchange",
        "DC_CableCheckReq",
        after="ScheduleExchangeReq",
        requirements=("V2G20-2658", "V2G20 DC sequence"),
    ),
    _case(
        "SECC-DC-20",
        "DC_PreChargeReq while the insulation test is still Ongoing",
        "DC_PreChargeReq",
        after="DC_CableCheckReq",
        before=(
            Send(kind="DC_CableCheckReq", preamble=True),
            Expect(kind="DC_CableCheckRes", checks=(CABLE_CHECK_ONGOING,), preamble=True),
        ),
        stimulus="one DC_CableCheckReq answered EVSEProcessing Ongoing, then DC_PreChargeReq (the charger has not "
        "finished its insulation test)",
    ),
    _case(
        "SECC-DC-21",
        "PowerDelivery(Start) while the EV's precharge is still Ongoing",
        "PowerDeliveryReq",
        after="DC_PreChargeReq",
        before=(Send(kind="DC_PreChargeReq", preamble=True), Expect(kind="DC_PreChargeRes", preamble=True)),
        stimulus="one DC_PreChargeReq with EVProcessing Ongoing, then PowerDeliveryReq(Start)",
    ),
    _case(
        "SECC-DC-22",
        "PowerDelivery(Start) right after the cable check: the precharge skipped",
        "PowerDeliveryReq",
        after="DC_PreChargeReq",
        stimulus="DC_CableCheck until Finished, then PowerDeliveryReq(Start) without any DC_PreChargeReq",
    ),
    _case(
        "SECC-DC-23",
        "DC_ChargeLoopReq before PowerDelivery(Start)",
        "DC_ChargeLoopReq",
        after="PowerDeliveryReq",
        requirements=("V2G20-1596", "V2G20-1437"),
    ),
    _case(
        "SECC-DC-24",
        "DC_WeldingDetectionReq during the charge loop",
        "DC_WeldingDetectionReq",
        after="PowerDeliveryReq",
        loops=2,
        requirements=("V2G20-1437", "V2G20 DC sequence (welding detection after PowerDelivery(Stop))"),
        stimulus="DC_WeldingDetectionReq after two DC_ChargeLoop exchanges, before PowerDelivery(Stop)",
    ),
    _case(
        "SECC-DC-25",
        "DC_PreChargeReq in the charge loop",
        "DC_PreChargeReq",
        after="PowerDeliveryReq",
        loops=1,
        requirements=("V2G20-1437", "V2G20-2012"),
        stimulus="DC_PreChargeReq after a DC_ChargeLoop exchange",
    ),
    _foreign(
        "SECC-DC-26",
        "DC_WeldingDetectionReq in an AC session",
        "DC_WeldingDetectionReq",
        profile=Profile(),
        after="SessionStopReq",
        loops=1,
        stimulus="AC session: after PowerDelivery(Stop), DC_WeldingDetectionReq on payload type 0x8004",
    ),
    _foreign(
        "SECC-DC-27",
        "DC_CableCheckReq in an AC session",
        "DC_CableCheckReq",
        profile=Profile(),
        after="PowerDeliveryReq",
        stimulus="AC session: after ScheduleExchange, DC_CableCheckReq on payload type 0x8004",
    ),
    _foreign(
        "SECC-DC-28",
        "AC_ChargeParameterDiscoveryReq in a DC session",
        "AC_ChargeParameterDiscoveryReq",
        after="DC_ChargeParameterDiscoveryReq",
        stimulus="DC session: after ServiceSelection, AC_ChargeParameterDiscoveryReq on payload type 0x8003",
    ),
    _foreign(
        "SECC-DC-29",
        "AC_ChargeLoopReq in a DC session",
        "AC_ChargeLoopReq",
        after="PowerDeliveryReq",
        loops=1,
        stimulus="DC session: after a DC_ChargeLoop exchange, AC_ChargeLoopReq on payload type 0x8003",
    ),
    _case(
        "SECC-DC-30",
        "Wrong SessionID in DC_PreChargeReq",
        "DC_PreChargeReq",
        fields={"header.session_id": bytes.fromhex("DEADBEEF00000001")},
        codes=("FAILED_UnknownSession",),
        requirements=("V2G20-457", "V2G20-462"),
        stimulus="DC_PreChargeReq whose SessionID is not the session's",
    ),
    _timing(
        "SECC-DC-31",
        "Message performance time of every response in a complete DC_BPT session",
        Walk(loops=5, preamble=False),
        Close(),
        profile=dc_profile(),
        needs=frozenset({Need.BPT}),
        strict_performance=True,
        requirements=(_DC_TIMING, "V2G20 table 215"),
        stimulus="a complete DC_BPT Dynamic session with 5 charge loops",
        expected="every response within V2G_SECC_Msg_Performance_Time: 1.5 s (DC_CableCheck, DC_PreCharge, "
        "DC_WeldingDetection too; ServiceDetail 4.5 s), DC_ChargeLoop 0.25 s; the insulation test Finished within "
        "V2G_SECC_Ongoing_Performance_Time",
    ),
    loop_silence("SECC-DC-32", _DC, needs=frozenset({Need.DC}), extra=(_DC_TIMING,)),
    _timing(
        "SECC-DC-33",
        "The insulation test reaches Finished within V2G_SECC_Ongoing_Performance_Time",
        Walk(until="DC_CableCheckReq"),
        Exchange(kind="DC_CableCheckReq"),
        Close(),
        strict_performance=True,
        requirements=(_DC_TIMING, "V2G20 table 215 (V2G_SECC_Ongoing_Performance_Time)"),
        stimulus="DC_CableCheckReq repeated while the SECC answers Ongoing (for at most V2G_EVCC_Ongoing_Timeout)",
        expected="DC_CableCheckRes Finished within V2G_SECC_Ongoing_Performance_Time (55 s) of the first request",
    ),
    _timing(
        "SECC-DC-35",
        "DC_CableCheckRes and DC_PreChargeRes within their performance time",
        Walk(until="PowerDeliveryReq", preamble=False),
        Close(),
        strict_performance=True,
        requirements=(_DC_TIMING,),
        stimulus="the DC session up to PowerDelivery(Start): the cable check and the precharge, each repeated "
        "while a side says Ongoing",
        expected="every DC_CableCheckRes and DC_PreChargeRes within V2G_SECC_Msg_Performance_Time (1.5 s)",
    ),
    _timing(
        "SECC-DC-34",
        "The EV goes silent during the cable check: the SECC ends the session at its sequence timeout",
        Walk(until="DC_CableCheckReq"),
        Send(kind="DC_CableCheckReq", preamble=True),
        Expect(kind="DC_CableCheckRes", preamble=True),
        closes_at("secc_sequence_timeout", "V2G20-443", "V2G_SECC_Sequence_Timeout (DC_CableCheck)"),
        requirements=("V2G20-441", "V2G20-443", _DC_TIMING),
        stimulus="after one DC_CableCheckRes the tester sends nothing",
        expected="the SECC ends the session when V2G_SECC_Sequence_Timeout (60 s; not the loop's 0.5 s) expires, "
        "not before, and closes the connection within 5 s",
        timeout_s=400.0,
    ),
)
