"""Reusable step sequences: the default session from either side, and the pieces cases build on.

:func:`ev_session` is the -20 AC sequence (fact sheet 2.5) as the tester EV's
:class:`~harness.conformance.steps.Exchange` steps; :class:`~harness.conformance.steps.Walk` runs a prefix of it
as the preamble of a case. :func:`evse_session` is the same sequence as the tester SECC expects it. The smaller
pieces (:func:`ev_refused`, :func:`evse_to_loop`, :func:`evse_end`, ...) are the openings and endings many cases
share.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.conformance.evcc_rules import PD_STOP, charging_session
from harness.conformance.steps import (
    Close,
    Exchange,
    Expect,
    ExpectClosed,
    ExpectRequest,
    Respond,
    Send,
    Serve,
    ServeLoop,
    Step,
)
from iso15118.messages import iso20 as m
from iso15118.session.failures import response_kind

__all__ = [
    "EV_REQUESTS",
    "FAILED_CLOSES",
    "SEQUENCE_LABELS",
    "SEQUENCE_REQUIREMENTS",
    "ev_refused",
    "ev_session",
    "ev_stop",
    "evse_end",
    "evse_session",
    "evse_stop",
    "evse_to_loop",
    "garble_exi",
    "label_of",
]

#: Labels of the default session, in order (``PowerDeliveryReq`` is the Start one).
SEQUENCE_LABELS = (
    "supportedAppProtocolReq",
    "SessionSetupReq",
    "AuthorizationSetupReq",
    "AuthorizationReq",
    "ServiceDiscoveryReq",
    "ServiceDetailReq",
    "ServiceSelectionReq",
    "AC_ChargeParameterDiscoveryReq",
    "ScheduleExchangeReq",
    "PowerDeliveryReq",
    "AC_ChargeLoopReq",
    "PowerDeliveryReq(Stop)",
    "SessionStopReq",
)

#: The requirements that put the default session's requests in order, SupportedAppProtocol to the charge loop.
SEQUENCE_REQUIREMENTS = (
    "V2G20-1483",
    "V2G20-1484",
    "V2G20-1486",
    "V2G20-2221",
    "V2G20-1584",
    "V2G20-1587",
    "V2G20-1590",
    "V2G20-2658",
    "V2G20-1596",
    "V2G20-1437",
)

#: The rule an SECC's closing after a FAILED response is checked against.
FAILED_CLOSES = "V2G20 8.6 (FAILED ends the session); ISO 15118-4: closed within 5 s"

_CODES: dict[str, tuple[str, ...]] = {
    # -20 never answers WithMinorDeviation [V2G20-1089].
    "supportedAppProtocolReq": ("OK_SuccessfulNegotiation",),
    "SessionSetupReq": ("OK_NewSessionEstablished",),
    "AuthorizationReq": ("OK",),
}


def label_of(step: Exchange) -> str:
    """The sequence label of an exchange (PowerDelivery(Stop) is told apart from Start)."""
    if step.kind == "PowerDeliveryReq" and str(step.fields.get("charge_progress", "")) == "Stop":
        return "PowerDeliveryReq(Stop)"
    return step.kind


def ev_session(
    *,
    loops: int = 3,
    stop: str = "Terminate",
    checks: Mapping[str, tuple[Any, ...]] | None = None,
    until: str | None = None,
    start: str | None = None,
    preamble: bool = False,
) -> tuple[Step, ...]:
    """The default session as exchanges: SAP ... ``loops`` charge loops ... SessionStop(``stop``).

    ``checks`` adds response checks per label; the sequence runs from ``start`` to just before ``until``.
    """
    checks = checks or {}
    steps: list[Step] = []
    started = start is None
    for label in SEQUENCE_LABELS:
        if label == until:
            break
        started = started or label == start
        if not started:
            continue
        kind: str = label
        fields: dict[str, Any] = {}
        if label == "PowerDeliveryReq(Stop)":
            kind, fields = "PowerDeliveryReq", {"charge_progress": m.ChargeProgress.Stop}
        elif label == "SessionStopReq":
            fields = {"charging_session": m.ChargingSession(stop)}
        count = loops if label == "AC_ChargeLoopReq" else 1
        for _ in range(count):
            steps.append(
                Exchange(
                    kind=kind,
                    fields=fields,
                    codes=_CODES.get(label, ("OK*",)),
                    checks=tuple(checks.get(label, ())),
                    preamble=preamble,
                )
            )
    return tuple(steps)


def ev_stop(stop: str = "Terminate", *, preamble: bool = False) -> tuple[Step, ...]:
    """PowerDelivery(Stop), SessionStop(``stop``), then the EV closes the connection [V2G20-1623/1633]."""
    return (
        Exchange(kind="PowerDeliveryReq", fields={"charge_progress": m.ChargeProgress.Stop}, preamble=preamble),
        Exchange(kind="SessionStopReq", fields={"charging_session": m.ChargingSession(stop)}, preamble=preamble),
        Close(),
    )


def ev_refused(send: Send, codes: tuple[str, ...], *, or_refused: bool = False) -> tuple[Step, ...]:
    """``send``, its response with one of ``codes``, then the SECC closes the connection within 5 s.

    ``or_refused``: closing without an answer passes too (a frame refused unread before decoding)."""
    return (
        send,
        Expect(kind=response_kind(send.kind), codes=codes, or_refused=or_refused),
        ExpectClosed(within=5.0, requirement=FAILED_CLOSES),
    )


#: Requests of the default session as the tester SECC sees them, up to the charge loop (PowerDeliveryReq is the
#: Start one).
EV_REQUESTS = SEQUENCE_LABELS[: SEQUENCE_LABELS.index("AC_ChargeLoopReq")]


def evse_session(
    *,
    loops: int = 3,
    checks: Mapping[str, tuple[Any, ...]] | None = None,
    loop_checks: tuple[Any, ...] = (),
    end: str = "Terminate",
) -> tuple[Step, ...]:
    """The tester SECC's side of a session it ends with an EVSE notification after ``loops`` charge loops.

    Every request is expected in order and answered with its default; ``checks`` per request kind. After
    the notification (``Terminate`` or ``Pause``) the EV must send PowerDelivery(Stop) and SessionStop and
    then close the connection itself [V2G20-1610] [V2G20-1633].
    """
    checks = checks or {}
    steps: list[Step] = []
    for kind in EV_REQUESTS:
        steps += [ExpectRequest(kind=kind, checks=tuple(checks.get(kind, ()))), Respond()]
    steps += evse_end(loops, checks=loop_checks, end=end)
    return tuple(steps)


def evse_to_loop(*, preamble: bool = True) -> tuple[Step, ...]:
    """Answer every request with its default up to the first AC_ChargeLoopReq, and that one too."""
    return (Serve(until="AC_ChargeLoopReq", preamble=preamble), Respond())


def evse_end(loops: int = 1, *, checks: tuple[Any, ...] = (), end: str = "Terminate") -> tuple[Step, ...]:
    """``loops`` charge loops (``checks`` on each request), the last response notifying ``end``; :func:`evse_stop`."""
    return (ServeLoop(count=loops, checks=checks, notify_last=end), *evse_stop(end))


def evse_stop(end: str = "Terminate") -> tuple[Step, ...]:
    """After an EVSE notification: expect PowerDelivery(Stop), SessionStop(``end``), and the EV closing TCP."""
    return (
        ExpectRequest(kind="PowerDeliveryReq", checks=(PD_STOP,)),
        Respond(),
        ExpectRequest(kind="SessionStopReq", checks=(charging_session(end),)),
        Respond(),
        ExpectClosed(within=5.0, requirement="V2G20-1633", what="the EV closes TCP after SessionStopRes"),
    )


def garble_exi(exi: bytes) -> bytes:
    """Keep the EXI header byte, invert everything after it (a ``corrupt`` mutator)."""
    return exi[:1] + bytes(b ^ 0xFF for b in exi[1:])
