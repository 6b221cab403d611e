"""EVCC under test, happy paths: the tester SECC offers a session variant and checks every request of the EV."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.conformance.cases.common import EV_LOOP, EV_SCHEDULE, EVCC_SESSION, evcc_full
from harness.conformance.evcc_rules import (
    CPD_MATCHES_SELECTION,
    ECHOES_CHALLENGE,
    ENERGY_ORDER,
    METERING_SIGNATURE,
    PD_SCHEDULE_TUPLE,
    PD_START,
    PD_STOP,
    PNC_SIGNATURE,
    RESUMES_PAUSED_SESSION,
    V2X_PAIRED,
    charging_session,
)
from harness.conformance.model import Case, Category, Need, Profile, SutRole
from harness.conformance.scripts import evse_end, evse_to_loop
from harness.conformance.steps import Accept, ExpectRequest, Respond, Serve, ServeLoop
from iso15118.iso20.services import AC, AC_BPT
from iso15118.messages import iso20 as m
from iso15118.session.profile import Stream

__all__ = ["CASES"]


def _full(
    case_id: str,
    title: str,
    profile: Profile,
    needs: frozenset[Need],
    checks: Mapping[str, tuple[Any, ...]],
    expected: str,
    extra: tuple[str, ...] = (),
) -> Case:
    return evcc_full(case_id, title, profile, needs, checks, expected, extra, loop_checks=EV_LOOP)


#: BPT cases offer AC_BPT alone: an EV that supports both may prefer AC when both are offered.
_BPT = Profile(offered_services=(AC_BPT,))


CASES: tuple[Case, ...] = (
    _full(
        "EVCC-HP-01",
        "EIM, AC_BPT, Dynamic: complete session ended by the SECC's Terminate",
        _BPT,
        frozenset({Need.BPT, Need.DYNAMIC}),
        EVCC_SESSION,
        "The EV selects AC_BPT (the only service offered) and follows the Dynamic setpoint.",
    ),
    _full(
        "EVCC-HP-02",
        "EIM, AC_BPT, Scheduled: the EV selects an offered schedule tuple",
        Profile(offered_services=(AC_BPT,), offered_modes=(1,)),
        frozenset({Need.BPT, Need.SCHEDULED}),
        {**EVCC_SESSION, "PowerDeliveryReq": (PD_START, PD_SCHEDULE_TUPLE)},
        "The EV uses the Scheduled elements and selects ScheduleTupleID 1.",
        ("V2G20-2176",),
    ),
    _full(
        "EVCC-HP-03",
        "EIM, AC only offered: the EV charges without BPT elements",
        Profile(offered_services=(AC,)),
        frozenset({Need.DYNAMIC}),
        EVCC_SESSION,
        "The EV selects AC and sends no BPT element and no discharge.",
        ("V2G20-1034",),
    ),
    _full(
        "EVCC-HP-04",
        "AC_BPT, Dynamic: the EV discharges when the SECC's setpoint is negative",
        Profile(offered_services=(AC_BPT,), target_w=-5000.0),
        frozenset({Need.BPT, Need.DYNAMIC}),
        EVCC_SESSION,
        "EVPresentActivePower becomes negative (discharging) and stays within the setpoint.",
        ("V2G20-1035",),
    ),
    _full(
        "EVCC-HP-05",
        "PnC: the EV echoes the GenChallenge and signs with its contract key",
        Profile(offered_auth=("PnC",)),
        frozenset({Need.PNC, Need.PKI}),
        {**EVCC_SESSION, "AuthorizationReq": (ECHOES_CHALLENGE, PNC_SIGNATURE)},
        "The PnC AuthorizationReq verifies against the MO root.",
        ("V2G20-1063", "V2G20-697"),
    ),
    Case(
        id="EVCC-HP-06",
        title="Pause and resume: the EV pauses on the SECC's Pause and later resumes with its SessionID",
        sut=SutRole.EVCC,
        category=Category.HAPPY,
        requirements=("V2G20-1032", "V2G20-2539", "V2G20-1843", "V2G20-1844"),
        needs=frozenset({Need.PAUSE, Need.RECONNECT}),
        stimulus="Pause notification after 2 charge loops; the EV reconnects",
        expected="PowerDelivery(Stop), SessionStop(Pause); on the new connection SessionSetupReq carries the paused "
        "SessionID and, after OK_OldSessionJoined, the EV goes on with AC_ChargeParameterDiscovery",
        steps=(
            *evse_to_loop(),
            *evse_end(2, checks=EV_LOOP, end="Pause"),
            Accept(resume=True),
            ExpectRequest(kind="supportedAppProtocolReq"),
            Respond(),
            ExpectRequest(kind="SessionSetupReq", checks=(RESUMES_PAUSED_SESSION,)),
            Respond(),
            ExpectRequest(kind="AC_ChargeParameterDiscoveryReq", checks=(CPD_MATCHES_SELECTION,)),
            Respond(),
            ExpectRequest(kind="ScheduleExchangeReq", checks=EV_SCHEDULE),
            Respond(),
            ExpectRequest(kind="PowerDeliveryReq", checks=(PD_START,)),
            Respond(),
            *evse_end(2, checks=EV_LOOP),
        ),
    ),
    Case(
        id="EVCC-HP-07",
        title="Schedule renegotiation: on the SECC's notification the EV renegotiates on side stream 0x8101",
        sut=SutRole.EVCC,
        category=Category.HAPPY,
        requirements=("V2G20-1045", "V2G20-1046", "V2G20-2317", "V2G20-1041"),
        needs=frozenset({Need.SIDE_STREAMS}),
        stimulus="ScheduleRenegotiation notification in an AC_ChargeLoopRes",
        expected="ScheduleExchangeReq then PowerDeliveryReq(ScheduleRenegotiation) on payload type 0x8101 while "
        "the charge loop goes on",
        steps=(
            *evse_to_loop(),
            ServeLoop(count=2, checks=EV_LOOP, notify_last="ScheduleRenegotiation"),
            ExpectRequest(
                kind="ScheduleExchangeReq",
                stream=Stream.SCHEDULE_RENEGOTIATION,
                meanwhile=("AC_ChargeLoopReq",),
                checks=(V2X_PAIRED, ENERGY_ORDER),
            ),
            Respond(),
            ExpectRequest(
                kind="PowerDeliveryReq", stream=Stream.SCHEDULE_RENEGOTIATION, meanwhile=("AC_ChargeLoopReq",)
            ),
            Respond(),
            *evse_end(2, checks=EV_LOOP),
        ),
    ),
    Case(
        id="EVCC-HP-08",
        title="Metering confirmation: on the SECC's notification the EV sends signed metering data on 0x8102",
        sut=SutRole.EVCC,
        category=Category.HAPPY,
        requirements=("V2G20-2704", "V2G20-1042"),
        needs=frozenset({Need.PNC, Need.PKI, Need.SIDE_STREAMS}),
        profile=Profile(offered_auth=("PnC",)),
        stimulus="a PnC session; MeteringConfirmation notification in an AC_ChargeLoopRes",
        expected="MeteringConfirmationReq on payload type 0x8102 whose SignedMeteringData carries the SessionID "
        "and verifies with the contract key of the session",
        steps=(
            Serve(until="AuthorizationReq", checks=(ECHOES_CHALLENGE, PNC_SIGNATURE), preamble=False),
            Respond(),
            *evse_to_loop(),
            ServeLoop(count=2, checks=EV_LOOP, notify_last="MeteringConfirmation"),
            ExpectRequest(
                kind="MeteringConfirmationReq",
                stream=Stream.METERING_CONFIRMATION,
                meanwhile=("AC_ChargeLoopReq",),
                checks=(METERING_SIGNATURE,),
            ),
            Respond(),
            *evse_end(1, checks=EV_LOOP),
        ),
    ),
    Case(
        id="EVCC-HP-09",
        title="Service renegotiation: on the SECC's notification the EV negotiates the service again",
        sut=SutRole.EVCC,
        category=Category.HAPPY,
        requirements=("V2G20-1641", "V2G20-1643", "V2G20-1931"),
        needs=frozenset({Need.SERVICE_RENEGOTIATION}),
        stimulus="ServiceRenegotiation notification in an AC_ChargeLoopRes (ServiceRenegotiationSupported was true)",
        expected="PowerDelivery(Stop), SessionStop(ServiceRenegotiation), then ServiceDiscoveryReq on the same "
        "connection and a new negotiation up to the charge loop",
        steps=(
            *evse_to_loop(),
            ServeLoop(count=2, checks=EV_LOOP, notify_last="ServiceRenegotiation"),
            ExpectRequest(kind="PowerDeliveryReq", checks=(PD_STOP,)),
            Respond(),
            ExpectRequest(kind="SessionStopReq", checks=(charging_session("ServiceRenegotiation"),)),
            Respond(),
            ExpectRequest(kind="ServiceDiscoveryReq"),
            Respond(),
            *evse_to_loop(preamble=False),
            *evse_end(1, checks=EV_LOOP),
        ),
    ),
    Case(
        id="EVCC-HP-10",
        title="Authorization Ongoing: the EV repeats AuthorizationReq until Finished",
        sut=SutRole.EVCC,
        category=Category.HAPPY,
        requirements=("V2G20-1582",),
        stimulus="AuthorizationRes with EVSEProcessing=Ongoing twice, then Finished",
        expected="AuthorizationReq again after each Ongoing, then ServiceDiscoveryReq after Finished",
        steps=(
            Serve(until="AuthorizationReq"),
            Respond(fields={"evse_processing": m.Processing.Ongoing}),
            ExpectRequest(kind="AuthorizationReq"),
            Respond(fields={"evse_processing": m.Processing.Ongoing}),
            ExpectRequest(kind="AuthorizationReq"),
            Respond(),
            ExpectRequest(kind="ServiceDiscoveryReq"),
            Respond(),
            *evse_to_loop(),
            *evse_end(1, checks=EV_LOOP),
        ),
    ),
    Case(
        id="EVCC-HP-11",
        title="ScheduleExchange Ongoing: the EV repeats ScheduleExchangeReq until Finished",
        sut=SutRole.EVCC,
        category=Category.HAPPY,
        requirements=("V2G20-1593",),
        stimulus="ScheduleExchangeRes with EVSEProcessing=Ongoing, then Finished",
        expected="ScheduleExchangeReq again after Ongoing, then PowerDelivery(Start)",
        steps=(
            Serve(until="ScheduleExchangeReq"),
            Respond(fields={"evse_processing": m.Processing.Ongoing}),
            ExpectRequest(kind="ScheduleExchangeReq", checks=EV_SCHEDULE),
            Respond(),
            ExpectRequest(kind="PowerDeliveryReq", checks=(PD_START,)),
            Respond(),
            *evse_end(1, checks=EV_LOOP),
        ),
    ),
)
