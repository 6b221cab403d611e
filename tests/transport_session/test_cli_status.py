"""The status line of `v2g evcc` / `v2g secc` (issue 13, item 3: signs of life): rewritten in place on a
terminal, one line at the session's start, its first loop and then every 10 s otherwise.

The events are those of a real session (in memory, -20 AC and DC), replayed with chosen timestamps so that the
periods are exact without waiting.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import re

import pytest

from harness.commands._progress import NON_TTY_PERIOD_S, StatusLine
from iso15118.config import EvccConfig, SeccConfig
from iso15118.session.events import Event, MessageReceived
from iso15118.session.selection import EnergyFamily
from iso15118.simple import SimpleEV, SimpleEVSE
from iso15118.transport.link import memory_pair
from iso15118.transport.runner import run_evcc_session, serve_secc_session

_LOOPS = 5
_STEP = 4.0  # seconds between two charge loops in the replay
_SETUP_STEP = 0.05  # seconds between two events of the set-up


class _Events:
    def __init__(self) -> None:
        self.seen: list[Event] = []

    async def observe(self, event: Event, *, role: str, peer: str) -> None:
        self.seen.append(event)


def _session(energy: EnergyFamily) -> list[Event]:
    """The EVCC's events of a complete session with ``_LOOPS`` charge loops, timed: set-up at 0, the n-th
    charge-loop response (and what follows it) at n x ``_STEP``."""
    events = _Events()
    a, b = memory_pair()
    config = EvccConfig(
        energy=energy, max_loops=_LOOPS, loop_interval_s=0.0, precharge_interval_s=0.0, authorization_retry_s=0.0
    )

    async def run() -> None:
        await asyncio.gather(
            serve_secc_session(b, SimpleEVSE(), SeccConfig()),
            run_evcc_session(a, SimpleEV(), config, observers=[events]),
        )

    asyncio.run(run())
    timed, loop = [], 0
    for index, event in enumerate(events.seen):
        if isinstance(event, MessageReceived) and type(event.message).__name__.endswith("ChargeLoopRes"):
            loop += 1
        # The set-up takes 50 ms per event (under 4 s in all), then the loops come every _STEP.
        timed.append(dataclasses.replace(event, at=loop * _STEP if loop else index * _SETUP_STEP))
    assert timed[-1].at < (_LOOPS + 1) * _STEP and max(e.at for e in timed if e.at < _STEP) < _STEP
    return timed


@pytest.mark.parametrize("energy", [EnergyFamily.AC, EnergyFamily.DC])
def test_not_a_terminal_one_line_at_start_first_loop_then_every_period(energy: EnergyFamily) -> None:
    stream = io.StringIO()
    status = StatusLine("evcc", stream=stream, tty=False)
    for event in _session(energy):
        status.update(event, "[::1]:1")
    lines = stream.getvalue().splitlines()
    # Established at 0 s, loop 1 at 4 s, then the first loop at least 10 s later: loop 4 at 16 s.
    assert NON_TTY_PERIOD_S == 10.0 and len(lines) == 3, lines
    session = r"evcc \[::1\]:1: session [0-9a-f]{16}"
    assert re.fullmatch(rf"{session}, established, 0 loops", lines[0])
    mode = "AC" if energy is EnergyFamily.AC else "DC"
    power = r"-?\d+\.\d kW"
    assert re.fullmatch(rf"{session}, {mode}_ChargeLoop, 1 loop, {power}, charged 0 Wh, SoC \d+ %", lines[1])
    assert re.fullmatch(rf"{session}, {mode}_ChargeLoop, 4 loops, {power}, charged \d+ Wh, SoC \d+ %", lines[2])
    if energy is EnergyFamily.DC:
        assert not lines[2].endswith(", 0.0 kW") and " 0.0 kW" not in lines[2]  # DC: voltage x current flows
    assert status.text("[::1]:1") is None  # the ended session is forgotten


def test_on_a_terminal_the_line_is_rewritten_in_place_and_erased_at_the_end() -> None:
    stream = io.StringIO()
    status = StatusLine("secc", stream=stream, tty=True)
    for event in _session(EnergyFamily.AC):
        status.update(event, "[::1]:2")
    text = stream.getvalue()
    assert "\n" not in text
    frames = text.split("\r")[1:]
    assert all(frame.endswith("\x1b[K") for frame in frames) and frames[-1] == "\x1b[K"  # erased at the end
    states = [frame.split(", ")[1] for frame in frames[:-1]]
    established = states.index("established")
    # The set-up steps show (at most every 0.2 s), then every loop (4 s apart, more than the refresh).
    assert states[0] == "supportedAppProtocol" and "Authorization" in states[established:]
    loops = [frame for frame in frames if "_ChargeLoop, " in frame]
    assert [frame.split(", ")[2] for frame in loops] == ["1 loop", *(f"{n} loops" for n in range(2, _LOOPS + 1))]
    assert loops[-1].startswith("secc [::1]:2: session ")
