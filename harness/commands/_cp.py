"""The ``--cp`` option of `v2g evcc` and `v2g secc`: run the session gated by the Control Pilot.

EVCC: plug in (state B) -> wait for the EVSE's 5 % PWM -> SLAC (with ``--slac``), SDP, the session; C when
PowerDelivery starts the energy transfer, B when it stops -> unplug (A). A pilot fault (E/F) stops the session
cleanly. SECC: 5 % PWM while an EV is connected, steady +12 V when it leaves. Pilot changes are printed to
stderr as they happen (stdout keeps the session summary lines).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from harness.commands._argtypes import seconds
from iso15118.cp.pilot import OfferChanged, PilotChanged, PilotEvent, PilotFault
from iso15118.transport.cp_line import open_pilot
from iso15118.transport.cp_run import EvPilotRunner, EvsePilotRunner
from iso15118.transport.driver import Observer
from iso15118.transport.evcc_client import EvccRun

__all__ = ["add_cp_option", "evcc_with_pilot", "secc_pilot"]

SPEC_HELP = "sim | serial:DEVICE | mqtt://HOST[:PORT]/TOPIC | gpio:CHIP?c=N&pwm=N"


def add_cp_option(parser: argparse.ArgumentParser, role: str) -> None:
    """Add ``--cp`` (and ``--cp-timeout``) to ``parser``."""
    what = (
        "plug in (B), wait for 5 %% PWM, C at PowerDelivery start, B at stop, then unplug (A)"
        if role == "evcc"
        else "offer 5 %% PWM while an EV is connected (B/C/D), steady +12 V otherwise"
    )
    parser.add_argument("--cp", metavar="BACKEND", help=f"drive the Control Pilot: {what}. BACKEND: {SPEC_HELP}")
    parser.add_argument(
        "--cp-timeout",
        type=seconds(positive=True),
        default=30.0,
        metavar="S",
        help="wait this long for the pilot (default 30 s)",
    )


def _printer(who: str) -> Callable[[PilotEvent], None]:
    def show(event: PilotEvent) -> None:
        if isinstance(event, PilotChanged):
            flag = "" if event.change.expected else " (unexpected)"
            text = f"{event.change.old} -> {event.change.new}: {event.change.meaning}{flag}"
        elif isinstance(event, OfferChanged):
            text = f"PWM {'off' if event.duty is None else f'{event.duty:g} %'}: {event.offer.describe()}"
        elif isinstance(event, PilotFault):
            text = f"fault: state {event.state}, the session ends"
        else:
            return
        print(f"{who} pilot: {text}", file=sys.stderr, flush=True)

    return show


async def evcc_with_pilot(
    spec: str, timeout: float, run: Callable[[Sequence[Observer], Callable[[Any], None]], Awaitable[EvccRun]]
) -> EvccRun:
    """Plug in, wait for 5 %, run the session (``run(observers, on_start)``) gated by the pilot, unplug."""
    async with EvPilotRunner(open_pilot(spec, "ev"), on_event=_printer("evcc")) as pilot:
        try:
            await pilot.plug_in(timeout=timeout)
            return await run([pilot], pilot.bind)
        finally:
            with contextlib.suppress(Exception):  # the line may be gone; the session's result matters
                await pilot.stop_charging()
                await pilot.unplug()


@contextlib.asynccontextmanager
async def secc_pilot(spec: str | None) -> AsyncIterator[EvsePilotRunner | None]:
    """While inside: serve the pilot (5 % PWM while an EV is connected); nothing when ``spec`` is None."""
    if spec is None:
        yield None
        return
    async with EvsePilotRunner(open_pilot(spec, "evse"), on_event=_printer("secc")) as pilot:
        task = asyncio.create_task(pilot.serve())
        try:
            yield pilot
        finally:
            task.cancel()
            await asyncio.wait({task}, timeout=5.0)
