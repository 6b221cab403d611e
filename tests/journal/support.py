"""Helpers of the journal and trace tests: an in-memory session pair and an EVSE whose meter readings are unique."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from iso15118.config import EvccConfig, SeccConfig
from iso15118.controller import MeterReading
from iso15118.session.events import Event, MessageReceived, MessageSent
from iso15118.simple import SimpleEV, SimpleEVSE
from iso15118.transport.driver import Observer, SessionOutcome
from iso15118.transport.link import memory_pair
from iso15118.transport.runner import run_evcc_session, serve_secc_session
from iso15118.transport.store import SessionStore

__all__ = ["CountingEVSE", "Recorder", "run_pair"]


@dataclass
class CountingEVSE(SimpleEVSE):
    """A SimpleEVSE whose meter register advances by a distinct step on every reading (readings are unique)."""

    readings: int = field(default=0, init=False)

    async def meter(self, now: float) -> MeterReading:
        self.readings += 1
        n = self.readings
        return MeterReading(
            meter_id="TEST-METER", charged_wh=1000 + 7 * n, discharged_wh=3 * n, timestamp=int(now), signature=None
        )


class Recorder:
    """An observer that keeps (role, peer, event) of everything it sees."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, Event]] = []

    async def observe(self, event: Event, *, role: str, peer: str) -> None:
        self.events.append((role, peer, event))

    def messages(self, role: str) -> list[MessageSent | MessageReceived]:
        """The message events of one side, in order."""
        return [e for r, _p, e in self.events if r == role and isinstance(e, MessageSent | MessageReceived)]


async def run_pair(
    evcc: EvccConfig,
    *,
    ev: SimpleEV | None = None,
    evse: SimpleEVSE | None = None,
    secc: SeccConfig | None = None,
    store: SessionStore | None = None,
    secc_observers: Sequence[Observer] = (),
    evcc_observers: Sequence[Observer] = (),
    **secc_kwargs: Any,
) -> tuple[SessionOutcome, SessionOutcome]:
    """One in-memory session between our drivers; returns (EVCC outcome, SECC outcome)."""
    a, b = memory_pair()
    task = asyncio.create_task(
        serve_secc_session(
            b, evse or SimpleEVSE(), secc or SeccConfig(), store=store, observers=secc_observers, **secc_kwargs
        )
    )
    out = await run_evcc_session(a, ev or SimpleEV(), evcc, observers=evcc_observers)
    return out, await task
