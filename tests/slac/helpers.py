"""Small drivers for unit-testing one SLAC machine by hand with a fake clock."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from iso15118.slac.events import SlacEvent
from iso15118.slac.machine import SlacMachine
from iso15118.slac.mme import EthernetHeader, Mme, pack_frame, unpack_frame

EV_MAC = bytes.fromhex("02000000ee01")
EVSE_MAC = bytes.fromhex("02000000ee02")


def counter_random(seed: int = 1) -> Callable[[int], bytes]:
    """Deterministic, never-repeating stand-in for os.urandom."""
    counter = itertools.count(seed)

    def rnd(n: int) -> bytes:
        value = next(counter)
        return bytes((value >> (8 * (i % 4))) & 0xFF ^ (i * 29) & 0xFF for i in range(n))

    return rnd


@dataclass
class Sent:
    """A frame the machine sent, decoded, with the fake-clock time it was sent at."""

    at: float
    header: EthernetHeader
    msg: Mme


@dataclass
class Driver:
    """Feeds frames and timer ticks into a machine and records everything that comes out."""

    machine: SlacMachine
    sent: list[Sent] = field(default_factory=list)
    events: list[SlacEvent] = field(default_factory=list)
    now: float = 0.0

    def _collect(self) -> None:
        for frame in self.machine.frames_to_send():
            header, msg = unpack_frame(frame)
            self.sent.append(Sent(self.now, header, msg))
        self.events.extend(self.machine.events())

    def start(self, at: float = 0.0) -> None:
        """Start the machine at ``at``."""
        self.now = at
        self.machine.start(at)
        self._collect()

    def feed(self, msg: Mme, at: float, *, src: bytes, dst: bytes | None = None) -> None:
        """Deliver ``msg`` from ``src`` (to the machine's MAC unless ``dst`` is given) at time ``at``."""
        self.advance(at)
        self.feed_raw(pack_frame(msg, src, dst or self.machine.mac), at)

    def feed_raw(self, frame: bytes, at: float) -> None:
        """Deliver raw bytes at ``at``."""
        self.advance(at)
        self.machine.receive_frame(frame, at)
        self._collect()

    def advance(self, to: float) -> None:
        """Fire every deadline up to and including ``to``, in order, then set the clock to ``to``."""
        while (deadline := self.machine.next_deadline()) is not None and deadline <= to:
            self.now = max(self.now, deadline)
            self.machine.handle_timer(self.now)
            self._collect()
        self.now = max(self.now, to)

    def take(self) -> list[Sent]:
        """Frames sent since the last call."""
        out, self.sent = self.sent, []
        return out

    def take_events(self) -> list[SlacEvent]:
        """Events since the last call."""
        out, self.events = self.events, []
        return out
