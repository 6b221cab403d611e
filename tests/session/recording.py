"""Record complete in-memory sessions (both drivers, simple controllers) as the ordered list of messages."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from iso15118.config import EvccConfig, SeccConfig
from iso15118.session.events import Event, MessageSent
from iso15118.session.selection import EnergyMode
from iso15118.simple import SimpleEV, SimpleEVConfig, SimpleEVSE, SimpleEVSEConfig
from iso15118.transport.driver import SessionOutcome
from iso15118.transport.link import memory_pair
from iso15118.transport.runner import run_evcc_session, serve_secc_session
from iso15118.transport.store import SessionStore

__all__ = ["Recorded", "Recorder", "record_session", "run_pair"]


@dataclass(frozen=True)
class Recorded:
    """One message of a recorded session."""

    sender: str
    message: Any
    payload_type: int
    stream: str
    at: float


class Recorder:
    """An Observer keeping every sent message of both sides, in order."""

    def __init__(self) -> None:
        self.messages: list[Recorded] = []
        self.events: list[tuple[str, Event]] = []

    async def observe(self, event: Event, *, role: str, peer: str) -> None:
        self.events.append((role, event))
        if isinstance(event, MessageSent):
            self.messages.append(Recorded(role, event.message, event.payload_type, str(event.stream), event.at))


async def run_pair(
    evcc: EvccConfig,
    ev: SimpleEV | None = None,
    evse: SimpleEVSE | None = None,
    secc: SeccConfig | None = None,
    *,
    store: SessionStore | None = None,
    recorder: Recorder | None = None,
    chunking: int | None = None,
    **secc_kwargs: Any,
) -> tuple[SessionOutcome, SessionOutcome]:
    """Run one in-memory session; returns (EVCC outcome, SECC outcome). ``chunking`` splits every write."""
    a, b = memory_pair()
    a.chunking = b.chunking = chunking
    observers = [recorder] if recorder else []
    task = asyncio.create_task(
        serve_secc_session(
            b, evse or SimpleEVSE(), secc or SeccConfig(), store=store, observers=observers, **secc_kwargs
        )
    )
    out = await run_evcc_session(a, ev or SimpleEV(), evcc, observers=observers)
    return out, await task


def record_session(
    dynamic: bool = True, *, loops: int = 2, discharge: bool = False, mode: EnergyMode = EnergyMode.AC_BPT
) -> list[Recorded]:
    """The messages of a complete session in an energy mode (AC_BPT by default)."""
    from iso15118.controller import ChargeDirection, ControlMode

    rec = Recorder()
    control = ControlMode.DYNAMIC if dynamic else ControlMode.SCHEDULED
    direction = ChargeDirection.DISCHARGE if discharge else ChargeDirection.CHARGE
    asyncio.run(
        run_pair(
            EvccConfig(
                control_mode=control,
                max_loops=loops,
                loop_interval_s=0.0,
                energy=mode.family,
                bidirectional=mode.bidirectional,
                precharge_interval_s=0.0,
                authorization_retry_s=0.0,
            ),
            SimpleEV(SimpleEVConfig(direction=direction)),
            SimpleEVSE(SimpleEVSEConfig()),
            recorder=rec,
        )
    )
    return rec.messages
