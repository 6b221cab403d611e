"""SECC under test, happy paths: complete sessions in every variant the -20 AC sequence has."""

from __future__ import annotations

from harness.conformance.cases.common import SECC_LOOP, SECC_SESSION, pause_and_resume, secc_full, secc_variants
from harness.conformance.model import Case, Category, Need, Profile, SutRole
from harness.conformance.scripts import ev_stop
from harness.conformance.secc_rules import CHALLENGE, CPD_MATCHES_SERVICE, OFFERS_BPT
from harness.conformance.steps import Exchange, Loop, Walk
from iso15118.messages import iso20 as m
from iso15118.session.profile import Stream
from iso15118.session.selection import EnergyFamily

__all__ = ["CASES"]


def _negotiation(start: str) -> Walk:
    """The default session's exchanges from ``start`` up to the charge loop, the charge parameters checked."""
    checks = {"AC_ChargeParameterDiscoveryReq": (CPD_MATCHES_SERVICE,)}
    return Walk(start=start, until="AC_ChargeLoopReq", checks=checks, preamble=False)


CASES: tuple[Case, ...] = (
    *secc_variants("SECC-HP", EnergyFamily.AC),
    secc_full(
        "SECC-HP-06",
        "PnC, AC_BPT, Dynamic: signed contract authorization",
        Profile(auth="PnC"),
        {**SECC_SESSION, "ServiceDiscoveryReq": (OFFERS_BPT,), "AuthorizationSetupReq": (CHALLENGE,)},
        frozenset({Need.PNC, Need.PKI}),
        ("V2G20-1063",),
    ),
    pause_and_resume(
        "SECC-HP-07",
        "Pause and resume: SessionStop(Pause), then a new connection resumes the session",
        Profile(),
        SECC_LOOP,
        needs=frozenset({Need.PAUSE}),
    ),
    Case(
        id="SECC-HP-08",
        title="Schedule renegotiation on the side stream 0x8101 during the charge loop",
        sut=SutRole.SECC,
        category=Category.HAPPY,
        requirements=("V2G20-1045", "V2G20-1046", "V2G20-2317", "V2G20-1041"),
        needs=frozenset({Need.SIDE_STREAMS}),
        stimulus="after two charge loops: ScheduleExchangeReq and PowerDeliveryReq(ScheduleRenegotiation) on "
        "payload type 0x8101, the charge loop going on between them",
        expected="both side-stream requests answered OK on 0x8101; the charge loop continues",
        steps=(
            Walk(until="AC_ChargeLoopReq"),
            Loop(count=2, checks=SECC_LOOP),
            Exchange(kind="ScheduleExchangeReq", stream=Stream.SCHEDULE_RENEGOTIATION),
            Loop(count=1, checks=SECC_LOOP),
            Exchange(
                kind="PowerDeliveryReq",
                fields={"charge_progress": m.ChargeProgress.ScheduleRenegotiation},
                stream=Stream.SCHEDULE_RENEGOTIATION,
            ),
            Loop(count=2, checks=SECC_LOOP),
            *ev_stop(),
        ),
    ),
    Case(
        id="SECC-HP-09",
        title="Metering confirmation (PnC) on the side stream 0x8102",
        sut=SutRole.SECC,
        category=Category.HAPPY,
        requirements=("V2G20-2704", "V2G20-1042"),
        needs=frozenset({Need.PNC, Need.PKI, Need.SIDE_STREAMS}),
        profile=Profile(auth="PnC"),
        stimulus="a PnC session; after two charge loops a MeteringConfirmationReq signed with the contract key on "
        "payload type 0x8102",
        expected="MeteringConfirmationRes OK on 0x8102; the charge loop continues",
        steps=(
            Walk(until="AC_ChargeLoopReq"),
            Loop(count=2, checks=SECC_LOOP),
            Exchange(kind="MeteringConfirmationReq", stream=Stream.METERING_CONFIRMATION),
            Loop(count=1, checks=SECC_LOOP),
            *ev_stop(),
        ),
    ),
    Case(
        id="SECC-HP-10",
        title="Service renegotiation: SessionStop(ServiceRenegotiation), then service discovery again",
        sut=SutRole.SECC,
        category=Category.HAPPY,
        requirements=("V2G20-1643", "V2G20-1931"),
        needs=frozenset({Need.SERVICE_RENEGOTIATION}),
        stimulus="charge, PowerDelivery(Stop), SessionStop(ServiceRenegotiation), then ServiceDiscovery ... charge "
        "loop again on the same connection",
        expected="SessionStopRes OK and the SECC accepts ServiceDiscoveryReq and a second negotiation",
        steps=(
            Walk(until="AC_ChargeLoopReq"),
            Loop(count=1, checks=SECC_LOOP),
            Walk(start="PowerDeliveryReq", past_loop=True, stop="ServiceRenegotiation", preamble=False),
            _negotiation(start="ServiceDiscoveryReq"),
            Loop(count=1, checks=SECC_LOOP),
            *ev_stop(),
        ),
    ),
    Case(
        id="SECC-HP-11",
        title="PowerDelivery(Standby) during the charge loop, then the loop goes on",
        sut=SutRole.SECC,
        category=Category.HAPPY,
        requirements=("V2G20-2116", "V2G20-2192"),
        stimulus="PowerDeliveryReq(Standby) between charge loops, then AC_ChargeLoopReq",
        expected="OK, or WARNING_StandbyNotAllowed for an SECC without standby; then the charge loop continues",
        steps=(
            Walk(until="AC_ChargeLoopReq"),
            Loop(count=1, checks=SECC_LOOP),
            Exchange(
                kind="PowerDeliveryReq",
                fields={"charge_progress": m.ChargeProgress.Standby},
                codes=("OK", "WARNING_StandbyNotAllowed"),
            ),
            Loop(count=2, checks=SECC_LOOP),
            *ev_stop(),
        ),
    ),
)
