"""Case constructors the case modules share, whatever the SUT's role or the session's energy family.

A complete session (:func:`secc_full`, :func:`evcc_full`), a request the SECC must refuse at its place in the
default session (:func:`refusal`), and a plain case with the usual defaults (:func:`case`). The default
session and its requirements come from the library's sequence table (:mod:`~harness.conformance.path`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.conformance.model import Case, Category, Need, Profile, SutRole
from harness.conformance.path import path_requirements, response_kind, resumed_at
from harness.conformance.scripts import FAILED_CLOSES, ev_refused, ev_stop, evse_session, loop_kind
from harness.conformance.secc_rules import OLD_SESSION_ID
from harness.conformance.steps import CLOSE_GRACE, Close, Exchange, ExpectClosed, Loop, Reconnect, Send, Serve, Walk
from iso15118.session.profile import Stream

__all__ = ["case", "evcc_full", "evcc_silent", "pause_and_resume", "refusal", "secc_full"]

Checks = Mapping[str, tuple[Any, ...]]


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
            checks=(OLD_SESSION_ID,),
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
        ExpectClosed(
            timer=timer,
            lower=True,
            grace=CLOSE_GRACE,
            requirement=requirement,
            what=f"V2G_EVCC_Msg_Timeout ({request})",
        ),
        requirements=(requirement, table),
        stimulus=f"the tester never answers {request}",
        expected=f"the EV waits V2G_EVCC_Msg_Timeout ({limit}), sends nothing more and closes the connection "
        "within 5 s (ISO 15118-4)",
        profile=profile,
        needs=needs,
    )
