"""Reusable step sequences: the default session from either side, and the openings and endings cases share.

The default session is the library's sequence table walked by :mod:`~harness.conformance.path`: as the EV the
tester walks it with :class:`~harness.conformance.steps.Walk`; as the SECC :func:`evse_session` expects its
requests one by one (a request the EV repeats while a side says Ongoing is answered by the runner).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.conformance.evcc_rules import PD_STOP, charging_session
from harness.conformance.path import response_kind, segment
from harness.conformance.steps import (
    Close,
    Expect,
    ExpectClosed,
    ExpectRequest,
    Respond,
    Send,
    Serve,
    ServeLoop,
    Step,
    Walk,
)
from iso15118.iso20.kinds import Kind
from iso15118.session.selection import EnergyFamily

__all__ = [
    "FAILED_CLOSES",
    "ev_refused",
    "ev_stop",
    "evse_end",
    "evse_finish",
    "evse_session",
    "evse_stop",
    "evse_to_loop",
    "garble_exi",
    "loop_kind",
]

#: The rule an SECC's closing after a FAILED response is checked against.
FAILED_CLOSES = "V2G20 8.6 (FAILED ends the session); ISO 15118-4: closed within 5 s"

Checks = Mapping[str, tuple[Any, ...]]


def loop_kind(family: EnergyFamily = EnergyFamily.AC) -> str:
    """The charge-loop request of a family (AC_ChargeLoopReq, DC_ChargeLoopReq)."""
    return next(hop.kind for hop in segment(family) if hop.loop)


def ev_stop(stop: str = "Terminate", *, preamble: bool = False) -> tuple[Step, ...]:
    """From the charge loop: PowerDelivery(Stop), [welding detection], SessionStop(``stop``), then the EV closes
    the connection [V2G20-1623/1633]."""
    return Walk(start=Kind.PowerDeliveryReq, past_loop=True, stop=stop, preamble=preamble), Close()


def ev_refused(send: Send, codes: tuple[str, ...], *, or_refused: bool = False) -> tuple[Step, ...]:
    """``send``, its response with one of ``codes``, then the SECC closes the connection within 5 s.

    ``or_refused``: closing without an answer passes too (a frame refused unread before decoding)."""
    return (
        send,
        Expect(kind=response_kind(send.kind), codes=codes, or_refused=or_refused),
        ExpectClosed(within=5.0, requirement=FAILED_CLOSES),
    )


def _expect_each(hops: tuple[Any, ...], checks: Checks) -> tuple[Step, ...]:
    steps: list[Step] = []
    for hop in hops:
        steps += [ExpectRequest(kind=hop.kind, checks=tuple(checks.get(hop.kind, ()))), Respond()]
    return tuple(steps)


def evse_session(
    *,
    family: EnergyFamily = EnergyFamily.AC,
    loops: int = 3,
    checks: Checks | None = None,
    loop_checks: tuple[Any, ...] = (),
    end: str = "Terminate",
    stop_checks: Checks | None = None,
) -> tuple[Step, ...]:
    """The tester SECC's side of a session it ends with an EVSE notification after ``loops`` charge loops.

    Every request is expected in order and answered with its default; ``checks`` per request kind (and
    ``stop_checks`` after the loop). After the notification (``Terminate`` or ``Pause``) the EV must stop the
    loop, end the session and close the connection itself [V2G20-1610] [V2G20-1633]."""
    hops = segment(family, until=loop_kind(family))
    end_steps = evse_end(loops, checks=loop_checks, end=end, family=family, stop_checks=stop_checks)
    return (*_expect_each(hops, checks or {}), *end_steps)


def evse_to_loop(*, family: EnergyFamily = EnergyFamily.AC, preamble: bool = True) -> tuple[Step, ...]:
    """Answer every request with its default up to the first charge-loop request, and that one too."""
    return Serve(until=loop_kind(family), preamble=preamble), Respond()


def evse_end(
    loops: int = 1,
    *,
    checks: tuple[Any, ...] = (),
    end: str = "Terminate",
    family: EnergyFamily = EnergyFamily.AC,
    stop_checks: Checks | None = None,
) -> tuple[Step, ...]:
    """``loops`` charge loops (``checks`` on each request), the last response notifying ``end``; :func:`evse_stop`."""
    return ServeLoop(count=loops, checks=checks, notify_last=end), *evse_stop(end, family=family, checks=stop_checks)


def evse_stop(
    end: str = "Terminate", *, family: EnergyFamily = EnergyFamily.AC, checks: Checks | None = None
) -> tuple[Step, ...]:
    """After an EVSE notification: PowerDelivery(Stop), then :func:`evse_finish`; ``checks`` by request kind."""
    wanted = {Kind.PowerDeliveryReq.value: (PD_STOP,), **(checks or {})}
    stop = segment(family, start=Kind.PowerDeliveryReq, past_loop=True)[:1]
    return (*_expect_each(stop, wanted), *evse_finish(end, family=family, checks=checks))


def evse_finish(
    end: str = "Terminate", *, family: EnergyFamily = EnergyFamily.AC, checks: Checks | None = None
) -> tuple[Step, ...]:
    """After PowerDelivery(Stop): whatever the last state admits before the end (DC welding detection, which the
    EV may run), served in sequence; SessionStop(``end``) checked; then the EV closing TCP [V2G20-1633]."""
    last = segment(family)[-1].kind
    wanted = (charging_session(end), *(checks or {}).get(last, ()))
    return (
        Serve(until=last, checks=wanted, admitted=True, preamble=False),
        Respond(),
        ExpectClosed(within=5.0, requirement="V2G20-1633", what="the EV closes TCP after SessionStopRes"),
    )


def garble_exi(exi: bytes) -> bytes:
    """Keep the EXI header byte, invert everything after it (a ``corrupt`` mutator)."""
    return exi[:1] + bytes(b ^ 0xFF for b in exi[1:])
