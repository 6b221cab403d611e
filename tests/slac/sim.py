"""An in-memory, virtual-time link for the SLAC machines: EV host -- modem stand-in -- EVSE host.

Frames take ``latency`` seconds per hop; ``tamper(direction, frame)`` may drop a frame (return None) or
replace it, to inject faults. Nothing here sleeps: time jumps from one deadline or delivery to the next.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from iso15118.slac.ev import EvMachine
from iso15118.slac.events import SlacEvent
from iso15118.slac.evse import EvseMachine
from iso15118.slac.machine import SlacMachine
from iso15118.slac.modem import ModemStandIn
from iso15118.slac.timers import SlacConfig

from .helpers import EV_MAC, EVSE_MAC, counter_random

__all__ = ["EVSE_MAC", "EV_MAC", "SimLink", "counter_random", "make_link"]

Tamper = Callable[[str, bytes], bytes | None]


@dataclass
class SimLink:
    """Runs an EV machine and an EVSE machine over a modem stand-in in virtual time."""

    ev: EvMachine
    evse: EvseMachine
    modem: ModemStandIn = field(default_factory=lambda: ModemStandIn(["ev", "evse"]))
    latency: float = 0.0001
    tamper: Tamper | None = None
    now: float = 0.0
    ev_events: list[SlacEvent] = field(default_factory=list)
    evse_events: list[SlacEvent] = field(default_factory=list)
    # (time, "ev->" / "evse->" / "modem->ev" / "modem->evse", frame): everything put on a link
    wire: list[tuple[float, str, bytes]] = field(default_factory=list)
    _queue: list[tuple[float, int, str, bytes]] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=itertools.count)

    def _flush(self, machine: SlacMachine, port: str) -> None:
        for frame in machine.frames_to_send():
            self.wire.append((self.now, f"{port}->", frame))
            if self.tamper is not None:
                tampered = self.tamper(f"{port}->", frame)
                if tampered is None:
                    continue
                frame = tampered
            heapq.heappush(self._queue, (self.now + self.latency, next(self._seq), f"modem:{port}", frame))
        (self.ev_events if machine is self.ev else self.evse_events).extend(machine.events())

    def _deliver(self, target: str, frame: bytes) -> None:
        if target.startswith("start:"):
            machine = self.ev if target == "start:ev" else self.evse
            machine.start(self.now)
            self._flush(machine, target[6:])
        elif target.startswith("modem:"):
            for port, out in self.modem.receive(target[6:], frame, self.now):
                self.wire.append((self.now, f"modem->{port}", out))
                heapq.heappush(self._queue, (self.now + self.latency, next(self._seq), port, out))
        else:
            machine = self.ev if target == "ev" else self.evse
            machine.receive_frame(frame, self.now)
            self._flush(machine, target)

    def start(self, *, ev_at: float | None = 0.0, evse_at: float | None = 0.0) -> None:
        """Schedule the start of each machine (None: that machine is started by the test itself)."""
        for at, port in ((evse_at, "evse"), (ev_at, "ev")):
            if at is not None:
                heapq.heappush(self._queue, (at, next(self._seq), f"start:{port}", b""))

    def inject(self, target: str, frame: bytes, at: float) -> None:
        """Deliver ``frame`` to ``target`` ("ev", "evse" or "modem:<port>") at time ``at``."""
        heapq.heappush(self._queue, (at, next(self._seq), target, frame))

    def run(self, until: float) -> None:
        """Advance virtual time until both machines finish or ``until`` is reached."""
        while not (self.ev.finished and self.evse.finished):
            options: list[tuple[float, str]] = []
            if self._queue:
                options.append((self._queue[0][0], "frame"))
            for machine, name in ((self.ev, "ev"), (self.evse, "evse")):
                deadline = machine.next_deadline()
                if deadline is not None:
                    options.append((deadline, name))
            if not options:
                return
            at, what = min(options)
            if at > until:
                self.now = until
                return
            self.now = max(self.now, at)
            if what == "frame":
                _, _, target, frame = heapq.heappop(self._queue)
                self._deliver(target, frame)
            else:
                machine = self.ev if what == "ev" else self.evse
                machine.handle_timer(self.now)
                self._flush(machine, what)


def make_link(
    *,
    ev_config: SlacConfig | None = None,
    evse_config: SlacConfig | None = None,
    modem: ModemStandIn | None = None,
    tamper: Tamper | None = None,
) -> SimLink:
    """An EV and an EVSE machine with deterministic randomness over a two-port modem stand-in."""
    return SimLink(
        ev=EvMachine(mac=EV_MAC, config=ev_config, random=counter_random(1)),
        evse=EvseMachine(mac=EVSE_MAC, config=evse_config, random=counter_random(1000)),
        modem=modem or ModemStandIn(["ev", "evse"]),
        tamper=tamper,
    )
