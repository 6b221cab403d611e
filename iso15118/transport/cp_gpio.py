"""The Linux GPIO pilot backend (EV side), through ``gpiod`` (libgpiod 2 bindings, imported only here).

``--cp gpio:/dev/gpiochip0?c=17&pwm=27[&d=22]``: line ``c`` closes the switch that adds the state-C resistor
(1.3 kOhm parallel to the fixed 2.74 kOhm, as pyPLC's "DieterLV" board does), optional line ``d`` the
ventilation resistor, and input line ``pwm`` sees the pilot through a comparator. The duty cycle is measured
from edge timestamps (:func:`duty_from_edges`). The line level itself needs an ADC, which GPIO does not
have: reports carry the state this EV drives. The EVSE role needs a PWM generator (a PWM chip, or a board
on ``serial:``); it is refused here with that advice.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from iso15118.cp.states import CpState
from iso15118.cp.wire import Command, PilotReport
from iso15118.transport.cp_line import PilotError

__all__ = ["GpioPilot", "duty_from_edges"]


def duty_from_edges(edges: Sequence[tuple[bool, int]]) -> float | None:
    """The duty cycle (percent) of a PWM from ``(rising, timestamp_ns)`` edges; None without a full period."""
    rises = [t for rising, t in edges if rising]
    if len(rises) < 2:
        return None
    high = total = 0
    for start, end in itertools.pairwise(rises):
        falls = [t for rising, t in edges if not rising and start < t < end]
        if falls:
            high += falls[0] - start
            total += end - start
    return round(100.0 * high / total, 1) if total else None


class GpioPilot:
    """The EV's pilot on GPIO lines of ``chip`` (``c``, ``pwm``, optional ``d`` line offsets in ``options``)."""

    def __init__(self, chip: str, options: dict[str, str], role: str) -> None:
        if role != "ev":
            raise PilotError("gpio: drives the EV side only; the EVSE's PWM needs a PWM chip or a serial board")
        try:
            self.lines = {name: int(options[name]) for name in ("c", "pwm")}
            if "d" in options:
                self.lines["d"] = int(options["d"])
        except (KeyError, ValueError):
            raise PilotError(f"gpio:{chip} needs integer line offsets c=N and pwm=N (and optionally d=N)") from None
        self.chip = chip
        self.description = f"GPIO pilot on {chip} (C line {self.lines['c']}, PWM input {self.lines['pwm']})"
        self._state = CpState.A
        self._reports: asyncio.Queue[PilotReport] = asyncio.Queue()
        self._request: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    async def __aenter__(self) -> Self:
        try:
            import gpiod
            from gpiod.line import Direction, Edge, Value
        except ImportError:
            raise PilotError("--cp gpio: needs the gpiod package (libgpiod 2 Python bindings)") from None
        config: dict[Any, Any] = {
            self.lines["pwm"]: gpiod.LineSettings(direction=Direction.INPUT, edge_detection=Edge.BOTH),
        }
        for name in ("c", "d"):
            if name in self.lines:
                config[self.lines[name]] = gpiod.LineSettings(direction=Direction.OUTPUT, output_value=Value.INACTIVE)
        try:
            self._request = gpiod.request_lines(self.chip, consumer="v2g-cp", config=config)
        except OSError as exc:
            raise PilotError(f"cannot request lines on {self.chip}: {exc.strerror or exc}") from None
        loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._measure, args=(loop,), daemon=True, name="gpio-pwm")
        self._thread.start()
        return self

    def _measure(self, loop: asyncio.AbstractEventLoop) -> None:
        from gpiod.edge_event import EdgeEvent

        last: float | None = -1.0
        while not self._stop.is_set():
            edges: list[tuple[bool, int]] = []
            if self._request.wait_edge_events(0.05):
                for event in self._request.read_edge_events():
                    edges.append((event.event_type is EdgeEvent.Type.RISING_EDGE, event.timestamp_ns))
            duty = duty_from_edges(edges)
            if duty != last:
                last = duty
                report = PilotReport(state=self._state, duty=duty)
                loop.call_soon_threadsafe(self._reports.put_nowait, report)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 1.0)
        if self._request is not None:
            with contextlib.suppress(OSError):
                self._request.release()

    async def send(self, command: Command) -> None:
        from gpiod.line import Value

        if command.verb != "STATE" or command.state not in (CpState.A, CpState.B, CpState.C, CpState.D):
            if command.verb == "GET":
                return
            raise PilotError(f"gpio: the EV side switches states A-D, it cannot carry out {command.verb}")
        self._state = command.state
        on, off = Value.ACTIVE, Value.INACTIVE
        self._request.set_value(self.lines["c"], on if command.state in (CpState.C, CpState.D) else off)
        if "d" in self.lines:
            self._request.set_value(self.lines["d"], on if command.state is CpState.D else off)

    async def next_report(self) -> PilotReport:
        return await self._reports.get()
