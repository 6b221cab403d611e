"""Case constructors and check groups the case modules share, whatever the SUT's role or the energy family.

A complete session (:func:`secc_full`, :func:`evcc_full`) and the energy-mode variants of each family
(:func:`secc_variants`), a pause and its resumption, a request the SECC must refuse at its place in the default
session (:func:`refusal`), the SUT going silent (:func:`closes_at`, :func:`loop_silence`, :func:`evcc_silent`),
and a plain case with the usual defaults (:func:`case`). The default session and its requirements come from the
library's sequence table (:mod:`~harness.conformance.path`); the check groups name, per request kind, what is
checked on every session (:data:`SECC_SESSION`, :data:`EVCC_SESSION`) -- checks that do not concern a family
pass on its messages.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from harness.conformance import evcc_rules as ev
from harness.conformance import secc_rules as se
from harness.conformance.model import Case, Category, Need, Profile, SutRole
from harness.conformance.path import path_requirements, response_kind, resumed_at
from harness.conformance.scripts import FAILED_CLOSES, ev_refused, ev_stop, evse_session, loop_kind
from harness.conformance.steps import CLOSE_GRACE, Close, Exchange, ExpectClosed, Loop, Reconnect, Send, Serve, Walk
from iso15118.iso20.services import FAMILY_SERVICES, mode_of_service
from iso15118.session.profile import Stream
from iso15118.session.selection import EnergyFamily

__all__ = [
    "EVCC_SESSION",
    "EV_LOOP",
    "EV_SCHEDULE",
    "SECC_LOOP",
    "SECC_SESSION",
    "case",
    "closes_at",
    "evcc_full",
    "evcc_silent",
    "loop_silence",
    "pause_and_resume",
    "refusal",
    "secc_full",
    "secc_variants",
]

Checks = Mapping[str, tuple[Any, ...]]

SECC_LOOP = (
    se.LOOP_MIRRORS_REQUEST,
    se.TARGET_WITHIN_LIMITS,
    se.NO_DISCHARGE_TARGET,
    se.CURRENT_WITHIN_LIMITS,
    se.METER_INFO,
)
"""Checks on every charge-loop response (AC or DC)."""
SECC_SESSION: Checks = {
    "supportedAppProtocolReq": (se.SAP_SCHEMA_ID,),
    "SessionSetupReq": (se.FRESH_SESSION_ID, se.EVSE_ID),
    "AC_ChargeParameterDiscoveryReq": (se.CPD_MATCHES_SERVICE, se.LIMITS_ORDERED),
    "DC_ChargeParameterDiscoveryReq": (se.CPD_MATCHES_SERVICE, se.LIMITS_ORDERED),
    "DC_PreChargeReq": (se.PRECHARGE_APPROACHES,),
    "AC_ChargeLoopReq": SECC_LOOP,
    "DC_ChargeLoopReq": SECC_LOOP,
}
"""SUT = SECC: the checks on the responses of a complete session, by request kind."""

EV_SCHEDULE = (ev.SCHEDULE_MATCHES_SELECTION, ev.SUPPORTING_POINTS, ev.DEPARTURE_TIME, ev.V2X_PAIRED, ev.ENERGY_ORDER)
"""Checks on every ScheduleExchangeReq."""
EV_LOOP = (
    ev.LOOP_MATCHES_SELECTION,
    ev.PRESENT_FOLLOWS_TARGET,
    ev.TARGETS_WITHIN_EVSE_LIMITS,
    ev.V2X_PAIRED,
    ev.ENERGY_ORDER,
    ev.NO_DISCHARGE_WITHOUT_BPT,
)
"""Checks on every charge-loop request (AC or DC)."""
EVCC_SESSION: Checks = {
    "supportedAppProtocolReq": (ev.OFFERS_NAMESPACE, ev.OFFER_PRIORITIES),
    "SessionSetupReq": (ev.NEW_SESSION_ZERO_ID, ev.EVCC_ID),
    "ServiceSelectionReq": (ev.SELECTS_OFFER,),
    "AC_ChargeParameterDiscoveryReq": (ev.CPD_MATCHES_SELECTION, ev.EV_LIMITS_ORDERED),
    "DC_ChargeParameterDiscoveryReq": (ev.CPD_MATCHES_SELECTION, ev.EV_LIMITS_ORDERED),
    "ScheduleExchangeReq": EV_SCHEDULE,
    "DC_PreChargeReq": (ev.PRECHARGE_TARGET_IN_WINDOWS,),
    "PowerDeliveryReq": (ev.PD_START, ev.NO_DISCHARGE_WITHOUT_BPT, ev.PRECHARGE_MATCHED),
}
"""SUT = EVCC: the checks on the requests of a complete session up to the charge loop, by request kind."""

#: The energy-mode variants of a family: (bidirectional service, Dynamic, discharging).
_VARIANTS = ((False, False, False), (False, True, False), (True, True, False), (True, True, True), (True, False, True))


def case(
    case_id: str,
    title: str,
    sut: SutRole,
    category: Category,
    *steps: Any,
    requirements: tuple[str, ...],
    stimulus: str,
    expected: str,
    profile: Profile | None = None,
    needs: frozenset[Need] = frozenset(),
    negative: bool = True,
    **more: Any,
) -> Case:
    """A case with the defaults most cases take (negative: it must be able to fail)."""
    return Case(
        id=case_id,
        title=title,
        sut=sut,
        category=category,
        requirements=requirements,
        needs=needs,
        profile=profile or Profile(),
        negative=negative,
        stimulus=stimulus,
        expected=expected,
        steps=steps,
        **more,
    )


def secc_full(
    case_id: str,
    title: str,
    profile: Profile,
    checks: Checks,
    needs: frozenset[Need],
    extra: tuple[str, ...] = (),
) -> Case:
    """SUT = SECC: a complete session of the profile's family, 3 charge loops, every response checked."""
    return case(
        case_id,
        title,
        SutRole.SECC,
        Category.HAPPY,
        Walk(loops=3, checks=checks, preamble=False),
        Close(),
        requirements=(*path_requirements(profile.family), *extra),
        needs=needs,
        profile=profile,
        negative=False,
        stimulus="a complete session: SupportedAppProtocol ... 3 charge loops ... PowerDelivery(Stop), "
        "SessionStop(Terminate)",
        expected="every response OK in time, on the request's payload type, with the session's SessionID; "
        "each response's content follows the selected service and control mode",
    )


def evcc_full(
    case_id: str,
    title: str,
    profile: Profile,
    needs: frozenset[Need],
    checks: Checks,
    expected: str,
    extra: tuple[str, ...] = (),
    *,
    loop_checks: tuple[Any, ...] = (),
    stop_checks: Checks | None = None,
) -> Case:
    """SUT = EVCC: the tester SECC serves a complete session of the profile's family and checks every request."""
    return case(
        case_id,
        title,
        SutRole.EVCC,
        Category.HAPPY,
        *evse_session(family=profile.family, checks=checks, loop_checks=loop_checks, stop_checks=stop_checks),
        requirements=(*path_requirements(profile.family), "V2G20-1610", "V2G20-1633", *extra),
        needs=needs,
        profile=profile,
        negative=False,
        stimulus="the tester SECC answers every request; after 3 charge loops it notifies Terminate",
        expected="every request in sequence, on its payload type, with the session's SessionID; "
        "PowerDelivery(Stop), SessionStop(Terminate), then the EV closes TCP. " + expected,
    )


def refusal(
    case_id: str,
    title: str,
    request: str,
    *,
    codes: tuple[str, ...],
    requirements: tuple[str, ...],
    category: Category,
    after: str | None = None,
    loops: int = 0,
    fields: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    stream: Stream = Stream.MAIN,
    stimulus: str = "",
    expected: str = "",
    or_refused: bool = False,
    profile: Profile | None = None,
    needs: frozenset[Need] = frozenset(),
    before: tuple[Any, ...] = (),
) -> Case:
    """SUT = SECC: the default session up to ``after`` (the request itself unless told; ``loops`` charge loops
    on the way), then ``before``, then ``request`` with ``fields`` (and ``context`` values, e.g. ``as_if``): its
    response carries one of ``codes`` and the SECC closes the connection."""
    where = after or request
    return case(
        case_id,
        title,
        SutRole.SECC,
        category,
        Walk(until=where, loops=loops),
        *before,
        *ev_refused(
            Send(kind=request, fields=fields or {}, context=context or {}, stream=stream), codes, or_refused=or_refused
        ),
        requirements=(*requirements, FAILED_CLOSES),
        needs=needs,
        profile=profile,
        stimulus=stimulus or f"{request} where the SECC expects {where}",
        expected=expected or f"{response_kind(request)} with {' or '.join(codes)}, then the SECC closes the connection",
    )


def pause_and_resume(
    case_id: str, title: str, profile: Profile, loop_checks: tuple[Any, ...], *, needs: frozenset[Need]
) -> Case:
    """SUT = SECC: charge, pause, and resume on a new connection; after OK_OldSessionJoined the session goes on
    from the charge parameters (authorization and service negotiation are skipped) [V2G20-1032]."""
    family = profile.family
    charge_parameters = resumed_at(family)
    return case(
        case_id,
        title,
        SutRole.SECC,
        Category.HAPPY,
        Walk(until=loop_kind(family)),
        Loop(count=2, checks=loop_checks),
        *ev_stop("Pause"),
        Reconnect(),
        Exchange(kind="supportedAppProtocolReq", codes=("OK_SuccessfulNegotiation",)),
        Exchange(
            kind="SessionSetupReq",
            fields={"header.session_id": lambda ctx: ctx.paused_session_id},
            codes=("OK_OldSessionJoined",),
            checks=(se.OLD_SESSION_ID,),
        ),
        Walk(start=charge_parameters, until=loop_kind(family), preamble=False),
        Loop(count=2, checks=loop_checks),
        *ev_stop(),
        requirements=("V2G20-1032", "V2G20-1843", "V2G20-2097", "V2G20-1844", "V2G20-2545"),
        needs=needs,
        profile=profile,
        negative=False,
        stimulus="charge, PowerDelivery(Stop), SessionStop(Pause), close; reconnect and SessionSetupReq with the "
        "paused SessionID",
        expected=f"OK_OldSessionJoined with the same SessionID, then {charge_parameters} is accepted directly "
        "(authorization and service negotiation are skipped) and the session runs to its end",
    )


def evcc_silent(
    case_id: str,
    title: str,
    request: str,
    timer: str,
    table: str,
    limit: str,
    *before: Any,
    profile: Profile | None = None,
    needs: frozenset[Need] = frozenset(),
) -> Case:
    """SUT = EVCC: the tester never answers ``request``; the EV gives up when its message timeout (the run's
    ``timer``, ``limit`` in the standard's ``table``) expires, not before, and closes the connection."""
    requirement = "V2G20-436 (the EV stops when V2G_EVCC_Msg_Timeout expires)"
    return case(
        case_id,
        title,
        SutRole.EVCC,
        Category.TIMING,
        *before,
        Serve(until=request),
        closes_at(timer, requirement, f"V2G_EVCC_Msg_Timeout ({request})"),
        requirements=(requirement, table),
        stimulus=f"the tester never answers {request}",
        expected=f"the EV waits V2G_EVCC_Msg_Timeout ({limit}), sends nothing more and closes the connection "
        "within 5 s (ISO 15118-4)",
        profile=profile,
        needs=needs,
    )


def secc_variants(prefix: str, family: EnergyFamily, *, extra: tuple[str, ...] = ()) -> tuple[Case, ...]:
    """SUT = SECC: a complete EIM session in each energy-mode variant of ``family`` (``prefix``-01 ... -05):
    plain Scheduled and Dynamic, the BPT service Dynamic charging and discharging, Scheduled discharging."""
    cases = []
    for index, (bpt, dynamic, discharge) in enumerate(_VARIANTS, start=1):
        service = FAMILY_SERVICES[family][int(bpt)]
        checks = dict(SECC_SESSION)
        if not dynamic:
            checks["ScheduleExchangeReq"] = (
                se.SCHEDULED_TUPLES,
                *((se.DISCHARGE_SCHEDULE_NOT_POSITIVE,) if bpt else ()),
            )
        if bpt:
            checks["ServiceDiscoveryReq"] = (se.OFFERS_BPT,)
        needs = {Need.DYNAMIC if dynamic else Need.SCHEDULED} | ({Need.BPT} if bpt else set())
        direction = ", discharging (BPT_ChannelSelection Discharge)" if discharge else ", charging" if bpt else ""
        rule = ("V2G20-1035",) if discharge else ("V2G20-1034",) if bpt else ()
        title = f"EIM, {mode_of_service(service)}, {'Dynamic' if dynamic else 'Scheduled'}{direction}"
        if discharge and not dynamic:
            title += ": the discharging schedule is <= 0"
        profile = Profile(family=family, service=service, dynamic=dynamic, discharge=discharge)
        if family is EnergyFamily.DC:
            needs.add(Need.DC)
            profile = dataclasses.replace(profile, offered_services=FAMILY_SERVICES[family])
        cases.append(secc_full(f"{prefix}-{index:02d}", title, profile, checks, frozenset(needs), (*rule, *extra)))
    return tuple(cases)


def closes_at(timer: str, requirement: str, what: str, *, lower: bool = True) -> ExpectClosed:
    """The SUT closes the connection when the run's ``timer`` expires (not before, with ``lower``), within the
    5 s ISO 15118-4 allows for closing."""
    return ExpectClosed(timer=timer, grace=CLOSE_GRACE, lower=lower, requirement=requirement, what=what)


def loop_silence(case_id: str, profile: Profile, *, needs: frozenset[Need] = frozenset(), **how: Any) -> Case:
    """SUT = SECC: the EV goes silent after two charge loops; the SECC ends the session within the loop's
    0.5 s sequence timeout [V2G20-1499/1500]."""
    kind = loop_kind(profile.family)
    return case(
        case_id,
        f"The EV goes silent in the charge loop: the SECC ends the session within 0.5 s ({profile.family})",
        SutRole.SECC,
        Category.TIMING,
        Walk(until=kind),
        Loop(count=2),
        closes_at("secc_sequence_timeout_loop", "V2G20-1500", f"V2G_SECC_Sequence_Timeout ({kind})"),
        requirements=("V2G20-1499", "V2G20-1500", "V2G20-443", *how.pop("extra", ())),
        stimulus=f"after two {response_kind(kind)} the tester sends nothing",
        expected="the SECC ends the session when V2G_SECC_Sequence_Timeout of the charge loop (0.5 s) expires and "
        "closes the connection within 5 s (ISO 15118-4)",
        profile=profile,
        needs=needs,
        **how,
    )
