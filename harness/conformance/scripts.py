"""Reusable step sequences: the default session from either side, and the openings and endings cases share.

The default session is the library's sequence table walked by :mod:`~harness.conformance.path`: as the EV the
tester walks it with :class:`~harness.conformance.steps.Walk`; as the SECC :func:`evse_session` expects its
requests one by one (a request the EV repeats while a side says Ongoing is answered by the runner).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.conformance.evcc_rules import PD_STOP, charging_session
from harness.conformance.path import segment
from harness.conformance.proto_iso20 import ISO20_PROTOCOL
from harness.conformance.protocol import Protocol
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


def loop_kind(family: EnergyFamily = EnergyFamily.AC, protocol: Protocol = ISO20_PROTOCOL) -> str:
    """The charge-loop request of a family (-20: AC_ChargeLoopReq, DC_ChargeLoopReq; -2: ChargingStatusReq,
    CurrentDemandReq)."""
    return next(hop.kind for hop in segment(family, protocol=protocol) if hop.loop)


def ev_stop(stop: str = "Terminate", *, preamble: bool = False) -> tuple[Step, ...]:
    """From the charge loop: PowerDelivery(Stop), [welding detection], SessionStop(``stop``), then the EV closes
    the connection [V2G20-1623/1633]."""
    return Walk(start="PowerDeliveryReq", past_loop=True, stop=stop, preamble=preamble), Close()


def ev_refused(
    send: Send,
    codes: tuple[str, ...],
    *,
    or_refused: bool = False,
    protocol: Protocol = ISO20_PROTOCOL,
    closes: str = FAILED_CLOSES,
) -> tuple[Step, ...]:
    """``send``, its response with one of ``codes``, then the SECC closes the connection within 5 s (the rule
    ``closes``).

    ``or_refused``: closing without an answer passes too (a frame refused unread before decoding)."""
    return (
        send,
        Expect(kind=protocol.response_kind(send.kind), codes=codes, or_refused=or_refused),
        ExpectClosed(within=5.0, requirement=closes),
    )


def _expect_each(hops: tuple[Any, ...], checks: Checks) -> tuple[Step, ...]:
    """Each hop expected and answered; a planned hop (DIN and -2 precharge, a value-added ServiceDetail) only
    when it is checked: otherwise the runner answers it in place when the EV sends it."""
    steps: list[Step] = []
    for hop in hops:
        if hop.planned and hop.kind not in checks:
            continue
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
    protocol: Protocol = ISO20_PROTOCOL,
) -> tuple[Step, ...]:
    """The tester SECC's side of a session it ends with an EVSE notification after ``loops`` charge loops.

    Every request is expected in order and answered with its default; ``checks`` per request kind (and
    ``stop_checks`` after the loop). After the notification (``Terminate`` or ``Pause``) the EV must stop the
    loop, end the session and close the connection itself [V2G20-1610] [V2G20-1633]."""
    hops = segment(family, until=loop_kind(family, protocol), protocol=protocol)
    end_steps = evse_end(loops, checks=loop_checks, end=end, family=family, stop_checks=stop_checks, protocol=protocol)
    return (*_expect_each(hops, checks or {}), *end_steps)


def evse_to_loop(
    *, family: EnergyFamily = EnergyFamily.AC, preamble: bool = True, protocol: Protocol = ISO20_PROTOCOL
) -> tuple[Step, ...]:
    """Answer every request with its default up to the first charge-loop request, and that one too."""
    return Serve(until=loop_kind(family, protocol), preamble=preamble), Respond()


def evse_end(
    loops: int = 1,
    *,
    checks: tuple[Any, ...] = (),
    end: str = "Terminate",
    family: EnergyFamily = EnergyFamily.AC,
    stop_checks: Checks | None = None,
    protocol: Protocol = ISO20_PROTOCOL,
) -> tuple[Step, ...]:
    """``loops`` charge loops (``checks`` on each request), the last response notifying ``end``; :func:`evse_stop`."""
    stop = evse_stop(end, family=family, checks=stop_checks, protocol=protocol)
    return ServeLoop(count=loops, checks=checks, notify_last=end), *stop


def evse_stop(
    end: str = "Terminate",
    *,
    family: EnergyFamily = EnergyFamily.AC,
    checks: Checks | None = None,
    protocol: Protocol = ISO20_PROTOCOL,
) -> tuple[Step, ...]:
    """After an EVSE notification: PowerDelivery(Stop), then :func:`evse_finish`; ``checks`` by request kind (a
    -20 PowerDelivery(Stop) is checked unless they name other checks)."""
    default = {"PowerDeliveryReq": (PD_STOP,)} if protocol is ISO20_PROTOCOL else {}
    wanted = {**default, **(checks or {})}
    stop = segment(family, start="PowerDeliveryReq", past_loop=True, protocol=protocol)[:1]
    return (*_expect_each(stop, wanted), *evse_finish(end, family=family, checks=checks, protocol=protocol))


def evse_finish(
    end: str = "Terminate",
    *,
    family: EnergyFamily = EnergyFamily.AC,
    checks: Checks | None = None,
    protocol: Protocol = ISO20_PROTOCOL,
    closes: str = "V2G20-1633",
) -> tuple[Step, ...]:
    """After PowerDelivery(Stop): whatever the last state admits before the end (DC welding detection, which the
    EV may run), served in sequence; SessionStop(``end``) checked (-20; other generations name their checks);
    then the EV closing TCP (the rule ``closes``)."""
    last = segment(family, protocol=protocol)[-1].kind
    default = (charging_session(end),) if protocol is ISO20_PROTOCOL else ()
    wanted = (*default, *(checks or {}).get(last, ()))
    return (
        Serve(until=last, checks=wanted, admitted=True, preamble=False),
        Respond(),
        ExpectClosed(within=5.0, requirement=closes, what="the EV closes TCP after SessionStopRes"),
    )


def garble_exi(exi: bytes) -> bytes:
    """Keep the EXI header byte, invert everything after it (a ``corrupt`` mutator)."""
    return exi[:1] + bytes(b ^ 0xFF for b in exi[1:])
