"""The sans-I/O core shared by the EV and EVSE SLAC state machines.

Theory of operation (aioquic style): the owner feeds received frames with :meth:`SlacMachine.receive_frame`
and calls :meth:`SlacMachine.handle_timer` once the time from :meth:`SlacMachine.next_deadline` has come;
after each call it sends what :meth:`SlacMachine.frames_to_send` returns and acts on
:meth:`SlacMachine.events`. Time is always the ``now`` argument (seconds, any monotonic origin), random
bytes come from the injected ``random`` callable, and nothing here touches a socket or a clock.

Each role keeps two tables: ``(state, MMTYPE) -> handler`` for frames and ``state -> handler`` for the
one deadline of that state. A frame with no entry in the table, a malformed frame, or a frame of another
run is dropped and reported as :class:`~iso15118.slac.events.FrameIgnored` (ISO 15118-3 asks to ignore,
not to abort). A timer that expires fails the attempt (:class:`~iso15118.slac.events.AttemptFailed`);
the role then restarts matching cleanly until TT_matching_repetition is used up, and ends with
:class:`~iso15118.slac.events.MatchingFailed`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from enum import Enum, StrEnum
from typing import Any, ClassVar

from iso15118.errors import SlacError
from iso15118.slac.events import AttemptFailed, FrameIgnored, Matched, MatchingFailed, Noticed, SlacEvent, Step
from iso15118.slac.messages import RunMessage
from iso15118.slac.mme import (
    BROADCAST_MAC,
    LOCAL_MODEM_MAC,
    EthernetHeader,
    Mme,
    MmeError,
    MMType,
    SetKeyReq,
    pack_frame,
    unpack_frame,
)
from iso15118.slac.timers import SlacConfig

__all__ = ["Role", "SlacMachine", "State"]


class Role(StrEnum):
    """Which end of the link a machine plays."""

    EV = "ev"
    EVSE = "evse"


class State(Enum):
    """States of both roles (each role uses its own subset)."""

    IDLE = "idle"
    WAIT_SET_KEY_CNF = "waiting for CM_SET_KEY.CNF"
    SETTLE = "settling after CM_SET_KEY"
    WAIT_PARM_REQ = "waiting for CM_SLAC_PARM.REQ"
    WAIT_PARM_CNF = "waiting for CM_SLAC_PARM.CNF"
    WAIT_START_ATTEN_CHAR = "waiting for CM_START_ATTEN_CHAR.IND"
    SOUNDING = "sounding"
    WAIT_ATTEN_CHAR = "waiting for CM_ATTEN_CHAR.IND"
    WAIT_ATTEN_CHAR_RSP = "waiting for CM_ATTEN_CHAR.RSP"
    WAIT_MATCH_REQ = "waiting for CM_SLAC_MATCH.REQ"
    WAIT_MATCH_CNF = "waiting for CM_SLAC_MATCH.CNF"
    PAUSE = "pausing before the next attempt"
    MATCHED = "matched"
    FAILED = "failed"


FrameHandler = Callable[[Any, EthernetHeader, Any, float], None]
TimerHandler = Callable[[Any, float], None]


class SlacMachine:
    """Plumbing common to both roles: queues, deadline, steps, attempts, the dispatch tables, keying the modem."""

    ROLE: ClassVar[Role]
    _FRAMES: ClassVar[dict[tuple[State, MMType], FrameHandler]]
    _TIMERS: ClassVar[dict[State, TimerHandler]]

    def __init__(
        self, *, mac: bytes, config: SlacConfig | None = None, random: Callable[[int], bytes] = os.urandom
    ) -> None:
        if len(mac) != 6:
            raise SlacError(f"a station MAC address has 6 bytes, got {mac!r}")
        self.mac = bytes(mac)
        self.config = config or SlacConfig()
        self._random = random
        self._state = State.IDLE
        self._deadline: float | None = None
        self._frames: list[bytes] = []
        self._events: list[SlacEvent] = []
        self._steps: list[Step] = []
        self._attempt = 0
        self._window_start: float | None = None
        self._tries = 0
        self._run_id = b""
        self._key_started = 0.0

    # --- the owner's interface -------------------------------------------------------------------------

    @property
    def state(self) -> State:
        """The current state."""
        return self._state

    @property
    def steps(self) -> tuple[Step, ...]:
        """Every step so far (frames sent and received, failed attempts), with absolute times."""
        return tuple(self._steps)

    @property
    def finished(self) -> bool:
        """True once the machine has matched or given up."""
        return self._state in (State.MATCHED, State.FAILED)

    def start(self, now: float) -> None:
        """Begin matching at time ``now``."""
        if self._state is not State.IDLE:
            raise SlacError(f"the SLAC {self.ROLE} machine was already started (state: {self._state.value})")
        self._window_start = now
        self._on_start(now)

    def receive_frame(self, data: bytes, now: float) -> None:
        """Process one received Ethernet frame."""
        try:
            header, msg = unpack_frame(data)
        except MmeError as exc:
            self._events.append(FrameIgnored(at=now, reason=exc.reason, offset=exc.offset, rule=exc.rule))
            return
        if header.dst not in (self.mac, BROADCAST_MAC):
            self._ignore(now, msg, "addressed to another station")
            return
        handler = self._FRAMES.get((self._state, msg.MMTYPE))
        if handler is None:
            self._ignore(now, msg, f"not expected while {self._state.value}")
            return
        handler(self, header, msg, now)

    def handle_timer(self, now: float) -> None:
        """Act on the deadline if it has passed; calling it early does nothing."""
        if self._deadline is None or now < self._deadline:
            return
        self._deadline = None
        handler = self._TIMERS.get(self._state)
        if handler is not None:
            handler(self, now)

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` must be called next (None: only a frame can move the machine)."""
        return self._deadline

    def frames_to_send(self) -> list[bytes]:
        """Frames to put on the wire, in order (the queue is emptied)."""
        frames, self._frames = self._frames, []
        return frames

    def events(self) -> list[SlacEvent]:
        """Events since the last call (the queue is emptied)."""
        events, self._events = self._events, []
        return events

    # --- helpers for the roles -------------------------------------------------------------------------

    def _on_start(self, now: float) -> None:
        raise NotImplementedError

    def _restart(self, now: float) -> None:
        raise NotImplementedError

    def _network_key(self) -> tuple[bytes, bytes]:
        """NID and NMK of the logical network, which CM_SET_KEY.REQ puts into the local modem."""
        raise NotImplementedError

    def _send(self, msg: Mme, dst: bytes, now: float) -> None:
        self._frames.append(pack_frame(msg, self.mac, dst))
        self._steps.append(Step(name=f"{msg.name} sent", at=now))

    def _received(self, msg: Mme, now: float) -> None:
        self._steps.append(Step(name=f"{msg.name} received", at=now))

    def _notice(self, now: float, step: str, text: str) -> None:
        self._events.append(Noticed(at=now, step=step, text=text))

    def _ignore(self, now: float, msg: Mme, reason: str) -> None:
        self._events.append(FrameIgnored(at=now, mme=msg.name, reason=f"{msg.name} ignored: {reason}"))

    def _of_this_run(self, msg: RunMessage, now: float) -> bool:
        """True if ``msg`` carries this run's RunID; otherwise it is reported as ignored."""
        if msg.run_id == self._run_id:
            return True
        self._ignore(now, msg, f"RunID {msg.run_id.hex()} is not this run's {self._run_id.hex()}")
        return False

    def _goto(self, state: State, deadline: float | None) -> None:
        self._state = state
        self._deadline = deadline

    def _retry(self) -> bool:
        """Count one more repetition of a request; False once C_EV_match_retry repetitions are used."""
        if self._tries >= self.config.c_ev_match_retry:
            return False
        self._tries += 1
        return True

    def _fail_attempt(self, now: float, step: str, reason: str) -> None:
        """End the current attempt; restart within TT_matching_repetition, else give up [V2G3-A09-124/125]."""
        self._steps.append(Step(name=f"attempt {self._attempt} failed at {step}", at=now))
        self._events.append(AttemptFailed(at=now, attempt=self._attempt, step=step, reason=reason))
        start = now if self._window_start is None else self._window_start
        if now + self.config.tt_matching_rate < start + self.config.tt_matching_repetition:
            self._restart(now)
        else:
            self._exhausted(
                now,
                step,
                f"{reason}; no match within TT_matching_repetition "
                f"({self.config.tt_matching_repetition:g} s, {self._attempt} attempts)",
            )

    def _exhausted(self, now: float, step: str, reason: str) -> None:
        """TT_matching_repetition is used up: fail (the EVSE may be configured to start over instead)."""
        self._fail(now, step, reason)

    def _send_set_key(self, now: float) -> None:
        if self._state is not State.WAIT_SET_KEY_CNF:
            self._key_started = now
        nid, nmk = self._network_key()
        self._send(SetKeyReq(nid=nid, new_key=nmk, my_nonce=self._random(4)), LOCAL_MODEM_MAC, now)
        self._goto(State.WAIT_SET_KEY_CNF, now + self.config.set_key_timeout)

    def _on_set_key_timeout(self, now: float) -> None:
        if self._retry():
            self._send_set_key(now)
            return
        # Only the local modem failed, so a new matching attempt cannot help.
        self._fail(
            now,
            "CM_SET_KEY",
            f"the local modem did not answer CM_SET_KEY.REQ "
            f"({self._tries + 1} requests, {self.config.set_key_timeout:g} s each)",
        )

    def _match(
        self,
        now: float,
        *,
        peer_mac: bytes,
        attenuation_db: float,
        num_sounds: int,
        sound_times: Sequence[float],
        key_result: int | None,
        sounding_window: tuple[float, float] | None = None,
    ) -> None:
        """End the run as matched, with this run's network key, RunID, attempts and steps."""
        nid, nmk = self._network_key()
        self._goto(State.MATCHED, None)
        self._events.append(
            Matched(
                at=now,
                nid=nid,
                nmk=nmk,
                peer_mac=peer_mac,
                run_id=self._run_id,
                attenuation_db=attenuation_db,
                num_sounds=num_sounds,
                attempts=self._attempt,
                steps=tuple(self._steps),
                sound_times=tuple(sound_times),
                sounding_window=sounding_window,
                key_result=key_result,
            )
        )

    def _fail(self, now: float, step: str, reason: str) -> None:
        self._goto(State.FAILED, None)
        self._events.append(
            MatchingFailed(at=now, step=step, reason=reason, attempts=self._attempt, steps=tuple(self._steps))
        )
