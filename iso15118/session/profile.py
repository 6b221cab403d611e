"""The seam between the generic session core and one protocol generation: :class:`Profile`.

Theory of operation
-------------------
:class:`~iso15118.session.connection.Connection` knows framing, timers, pending requests, SessionIDs and the
shape of a request/response exchange; it knows nothing of any message. Everything that differs between DIN
70121, ISO 15118-2 and ISO 15118-20 is asked of the profile the connection is on: how a payload is decoded
(payload type *and* the negotiated namespace: -2 and DIN share 0x8001 with SupportedAppProtocol), how a message's
kind is named (a typed enum, never ``type(msg).__name__``: -2 and DIN wrap every body in ``V2G_Message``), where
its header and SessionID live, which request may come in which state (:class:`Table`), how long each exchange may
take (:class:`MessageTiming`), which payload types form side streams, and how a FAILED response is built.

A connection starts on the SupportedAppProtocol profile (:mod:`~iso15118.session.sap`) and switches to the one
registered for the negotiated namespace (``SessionConfig.profiles``).

The table
---------
One table per protocol generation serves both roles (h11's rule): the SECC reads it as "what may I accept",
the EVCC as "what may I send". It is keyed by (state, kind); each key holds one or more :class:`Rule` rows whose
*guard* is a named condition on the session's :class:`Selection` (the negotiated energy family, the selected
service...). That is how energy modes add rows instead of copies: the DC rows of -20 are guarded ``dc`` and
the AC rows ``ac``, so an AC session that receives DC_WeldingDetectionReq finds no row and answers
FAILED_SequenceError. After an exchange the first rule whose guard holds gives the ordered transitions
(condition on request, response and selection -> next state).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Protocol

from iso15118.session.selection import Selection
from iso15118.session.timers import Timer, Timing

__all__ = [
    "ALWAYS",
    "Condition",
    "Guard",
    "MessageTiming",
    "Profile",
    "Rule",
    "SideRule",
    "Stream",
    "Table",
    "Transition",
]


class Stream(StrEnum):
    """The main stream and the -20 side streams [V2G20-1040/1041/1042]."""

    MAIN = "main"
    SCHEDULE_RENEGOTIATION = "schedule_renegotiation"
    METERING_CONFIRMATION = "metering_confirmation"


Guard = Callable[[Selection, Any], bool]
"""Whether a row applies to a request, given the session's selection (its energy family, service...)."""
Condition = Callable[[Selection, Any, Any], bool]
"""A condition on (selection, request, response) that picks a transition."""

ALWAYS: Final = "any"
"""The name of the guard and of the condition that always hold."""


@dataclass(frozen=True, slots=True)
class Transition:
    """After an exchange: if ``condition`` holds, go to ``target`` (None: stay), by ``requirement``."""

    condition: str
    target: StrEnum | None
    requirement: str


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of a sequence table: a request kind is accepted in a state, under a guard."""

    requirement: str
    """The requirement that allows the request in this state."""
    after: tuple[Transition, ...]
    """Ordered: the first transition whose condition holds gives the next state (none: the state stays)."""
    guard: str = ALWAYS
    """Named guard on the selection (the profile's ``guards``)."""


@dataclass(frozen=True, slots=True)
class SideRule:
    """A side-stream row: ``kind`` is accepted on ``stream`` in side state ``side``, then the side state is ``next``."""

    requirement: str
    next: str = "idle"


@dataclass(frozen=True, slots=True)
class Table:
    """A protocol generation's sequence: rows keyed by (state, kind), named guards and conditions, side streams."""

    rows: Mapping[tuple[StrEnum, StrEnum], tuple[Rule, ...]]
    guards: Mapping[str, Guard]
    conditions: Mapping[str, Condition]
    side: Mapping[tuple[Stream, str, StrEnum], SideRule] = field(default_factory=dict)
    side_needs_loop: bool = True
    """Side-stream requests only beside a started charge loop [V2G20-1045]."""

    def rule(self, state: StrEnum, kind: StrEnum, selection: Selection, request: Any) -> Rule | None:
        """The row that admits ``request`` (of ``kind``) in ``state`` for this selection, or None (a sequence error)."""
        for rule in self.rows.get((state, kind), ()):
            if self.guards[rule.guard](selection, request):
                return rule
        return None

    def next_state(self, state: StrEnum, rule: Rule, selection: Selection, request: Any, response: Any) -> StrEnum:
        """The state after ``request`` (admitted by ``rule``) was answered by ``response``."""
        for transition in rule.after:
            if self.conditions[transition.condition](selection, request, response):
                return state if transition.target is None else transition.target
        return state

    def kinds_in(self, state: StrEnum, selection: Selection | None = None) -> tuple[StrEnum, ...]:
        """The request kinds some row admits in ``state`` (for this selection, when given)."""
        found: list[StrEnum] = []
        for (st, kind), rules in self.rows.items():
            if st != state or kind in found:
                continue
            if selection is None or any(self.guards[r.guard](selection, None) for r in rules):
                found.append(kind)
        return tuple(found)

    def states(self) -> tuple[StrEnum, ...]:
        """Every state that appears in a row, in table order."""
        seen: dict[StrEnum, None] = {}
        for st, _kind in self.rows:
            seen.setdefault(st, None)
        return tuple(seen)


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageTiming:
    """The timers of one request kind (seconds, before any tolerant-mode scaling)."""

    evcc_timeout: float
    """V2G_EVCC_Msg_Timeout: the EV waits this long for the response."""
    secc_performance: float
    """V2G_SECC_Msg_Performance_Time: the SECC answers within this."""
    secc_sequence: float | None = None
    """V2G_SECC_Sequence_Timeout after the response (None: the session-wide value)."""
    evcc_sequence: float | None = None
    """V2G_EVCC_Sequence_Performance_Time after the response (None: the session-wide value)."""


class Profile(Protocol):
    """Everything the session core asks of one protocol generation (see the module docstring)."""

    @property
    def name(self) -> str:
        """A short printable name (``ISO 15118-20``)."""
        ...

    @property
    def table(self) -> Table:
        """The sequence table."""
        ...

    @property
    def initial_state(self) -> StrEnum:
        """Where the main stream starts on this profile."""
        ...

    @property
    def setup_state(self) -> StrEnum:
        """States before this one are session set-up (SessionStop is not yet meaningful)."""
        ...

    def selection_for(self, namespace: str) -> Selection:
        """The session's selection right after SupportedAppProtocol picked ``namespace``."""
        ...

    def stream_of(self, payload_type: int) -> Stream | None:
        """The stream a payload type belongs to; None if this profile does not carry it at all."""
        ...

    def payload_type(self, kind: StrEnum, stream: Stream) -> int:
        """The payload type a message of ``kind`` travels in on ``stream``."""
        ...

    def max_payload(self, state: StrEnum, stream: Stream, payload_type: int) -> int | None:
        """The largest payload accepted in ``state`` on ``stream`` (None: this payload type is not expected)."""
        ...

    def decode(self, payload_type: int, data: bytes) -> Any:
        """Decode a payload (raises CodecError)."""
        ...

    def encode(self, message: Any) -> bytes:
        """Encode a message (raises CodecError)."""
        ...

    def kind_of(self, message: Any) -> StrEnum | None:
        """The message's kind, or None when this profile does not know the message."""
        ...

    def is_request(self, kind: StrEnum) -> bool:
        """True for request kinds."""
        ...

    def response_of(self, kind: StrEnum) -> StrEnum:
        """The response kind that answers a request kind."""
        ...

    def session_id(self, message: Any) -> bytes | None:
        """The SessionID in the message's header (None: the message has no header)."""
        ...

    def header(self, session_id: bytes, now: float) -> Any:
        """A header for an outgoing message."""
        ...

    def response_code(self, message: Any) -> str | None:
        """The response code of a response (None for requests)."""
        ...

    def is_failed(self, code: str | None) -> bool:
        """True when a response code ends the session."""
        ...

    def processing(self, message: Any) -> str | None:
        """``Ongoing``/``Finished`` of a response that reports processing, else None."""
        ...

    def timing(self, kind: StrEnum, timing: Timing) -> MessageTiming:
        """The timers of a request kind, from the session's timer values."""
        ...

    def timer_requirement(self, timer: Timer) -> str:
        """The requirement that defines a timer in this generation (for logs and ended sessions)."""
        ...

    def loop_kinds(self) -> frozenset[StrEnum]:
        """The charge-loop request kinds (side streams may only start once one was answered)."""
        ...

    def note(self, selection: Selection, kind: StrEnum, request: Any, response: Any) -> Selection:
        """What an exchange teaches the session (the selected service, a started loop...)."""
        ...

    def session_setup(self, kind: StrEnum, request: Any, response: Any) -> tuple[bool, str, str] | None:
        """For the SessionSetup exchange: (resumed, EVCCID, EVSEID); None for every other kind."""
        ...

    def is_setup(self, kind: StrEnum) -> bool:
        """True for SessionSetupReq: the one request whose SessionID is not the session's yet [V2G20-457]."""
        ...

    def session_stop(self, kind: StrEnum, request: Any) -> str | None:
        """For a SessionStop exchange that ends the connection: ``Terminate`` or ``Pause``; else None."""
        ...

    def failure(self, request: Any, kind: StrEnum, code: str, header: Any) -> Any:
        """The response to ``request`` carrying the failure ``code`` and only its mandatory elements."""
        ...

    def sequence_error(self) -> str:
        """The response code for a request out of sequence."""
        ...

    def unknown_session(self) -> str:
        """The response code for a request with another session's SessionID."""
        ...

    def session_id_rule(self) -> str:
        """The requirement that ties a request's SessionID to the session's."""
        ...
