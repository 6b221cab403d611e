"""The step kinds test cases are written in: small frozen records the runners interpret.

The tester plays the EVCC when the SUT is an SECC and the SECC when the SUT is an EVCC. Steps for each:

==================  =========================================================================================
SUT = SECC          :class:`Walk` (preamble up to a request), :class:`Exchange` (send a request, expect its
                    response), :class:`Send` / :class:`Expect` (the two halves, for faults), :class:`Loop`
                    (charge-loop exchanges), :class:`Connect` / :class:`Reconnect`
SUT = EVCC          :class:`Accept`, :class:`Serve` (answer with defaults until a request arrives),
                    :class:`ExpectRequest`, :class:`Respond`, :class:`ServeLoop`, :class:`Stall`
both                :class:`SendRaw`, :class:`ExpectClosed`, :class:`Silence`, :class:`Close`,
                    :class:`ExpectRefused` (TLS), :class:`CheckTls`
==================  =========================================================================================

``fields`` give message fields by dotted path (``"header.session_id"``,
``"ac_cpd_req_energy_transfer_mode.ev_minimum_charge_power"``); a value may be a function of the tester's
:class:`~harness.conformance.context.Context`. A step marked ``preamble`` only brings the SUT into the state the
case needs: when it fails the verdict is inconclusive, not fail.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from iso15118.session.profile import Stream

__all__ = [
    "CLOSE_GRACE",
    "Accept",
    "CheckTls",
    "Close",
    "Connect",
    "Exchange",
    "Expect",
    "ExpectClosed",
    "ExpectRefused",
    "ExpectRequest",
    "Fields",
    "Loop",
    "Reconnect",
    "Respond",
    "Send",
    "SendRaw",
    "Serve",
    "ServeLoop",
    "Silence",
    "Stall",
    "Step",
    "TlsVariant",
    "Walk",
]

#: ISO 15118-4 expects a SUT to close the connection within 5 s after a failure or a timeout (fact sheet 1.3).
CLOSE_GRACE = 5.0

Fields = Mapping[str, Any]
"""Field overrides by dotted path; a callable value is called with the tester's context."""
Mutator = Callable[[bytes], bytes]


class TlsVariant(StrEnum):
    """How the tester sets up TLS for a connection."""

    NORMAL = "normal"
    """The run's own TLS configuration (or none on an in-memory / plain-TCP target)."""
    TLS12_ONLY = "tls12-only"
    """The tester allows TLS 1.2 only."""
    UNKNOWN_ROOT = "unknown-root"
    """The tester's certificate chains to a root nobody trusts."""
    EXPIRED = "expired"
    """The tester's certificate has expired."""
    WRONG_ALGORITHM = "wrong-algorithm"
    """The tester's certificate has a P-256 key (-2 / lab style), not secp521r1 or Ed448."""
    NO_CERTIFICATE = "no-certificate"
    """The tester (as EVCC) presents no certificate."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """Base of all steps."""

    preamble: bool = False
    """A failure here makes the case inconclusive: the SUT did not reach the state under test."""

    def describe(self) -> str:
        """One line for the evidence."""
        return type(self).__name__


# ---- SUT = SECC (the tester is the EV) --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Connect(Step):
    """Open a connection to the SUT (the runner does this before the first step unless a case says otherwise)."""

    tls: TlsVariant = TlsVariant.NORMAL
    preamble: bool = True

    def describe(self) -> str:
        return f"connect ({self.tls})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconnect(Step):
    """Close the connection (if open) and open a new one: a second session, or a resumption."""

    preamble: bool = True

    def describe(self) -> str:
        return "reconnect"


@dataclass(frozen=True, slots=True, kw_only=True)
class Send(Step):
    """Send a request built from its defaults and ``fields``; optionally mangled on the wire."""

    kind: str
    fields: Fields = field(default_factory=dict)
    context: Fields = field(default_factory=dict)
    """Values put into the tester's context before the request is built (e.g. ``contract``, ``challenge``)."""
    edit: Callable[[Any], Any] | None = None
    """Changes the built message (after ``fields``), e.g. to tamper with its signature."""
    stream: Stream = Stream.MAIN
    payload_type: int | None = None
    """Override the V2GTP payload type (default: the message's schema, or the side stream's type)."""
    corrupt: Mutator | None = None
    """Applied to the EXI payload before framing (the header's length follows the result)."""
    header: Mutator | None = None
    """Applied to the 8-byte V2GTP header after framing."""
    split: int | None = None
    """Send the frame in chunks of this many bytes, ``gap`` seconds apart."""
    gap: float = 0.0
    label: str = ""

    def describe(self) -> str:
        extra = f" ({self.label})" if self.label else ""
        return f"send {self.kind}{extra}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Expect(Step):
    """Receive the response to the last request: its type, response code and ``checks``."""

    kind: str
    codes: tuple[str, ...] = ("OK*",)
    """Acceptable response codes; a trailing ``*`` matches a prefix."""
    checks: tuple[Any, ...] = ()
    within: float | None = None
    """Seconds to wait (default: the EVCC's message timeout for the request)."""
    or_refused: bool = False
    """A close without an answer passes too: the SUT refused the frame unread (a payload type its state does not
    expect), which is the other reaction the standard allows."""

    def describe(self) -> str:
        refused = " or closed unread" if self.or_refused else ""
        return f"expect {self.kind} {'|'.join(self.codes)}{refused}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Exchange(Step):
    """Send a request and expect its response; Authorization and ScheduleExchange repeat while Ongoing."""

    kind: str
    fields: Fields = field(default_factory=dict)
    context: Fields = field(default_factory=dict)
    codes: tuple[str, ...] = ("OK*",)
    checks: tuple[Any, ...] = ()
    stream: Stream = Stream.MAIN

    def describe(self) -> str:
        stream = f" on {self.stream}" if self.stream is not Stream.MAIN else ""
        return f"{self.kind}{stream} -> {'|'.join(self.codes)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Walk(Step):
    """The default session (:func:`~harness.conformance.path.session_path` of the case's energy family) from
    ``start`` up to, not including, ``until``; a request is repeated while either side says Ongoing.

    When the walk passes the charge loop it sends ``loops`` loop requests, then the EV stops: PowerDelivery(Stop),
    welding detection in DC, and SessionStop(``stop``). With ``loops`` or ``past_loop``, ``start`` and ``until``
    name the requests after the loop (``until="PowerDeliveryReq"`` is the Stop one)."""

    until: str | None = None
    start: str | None = None
    loops: int = 0
    past_loop: bool = False
    stop: str = "Terminate"
    checks: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    """Response checks by request kind."""
    interval: float = 0.05
    """Seconds between charge-loop requests."""
    preamble: bool = True

    def describe(self) -> str:
        start = f" from {self.start}" if self.start else ""
        loops = f" with {self.loops} charge loop{'' if self.loops == 1 else 's'}" if self.loops else ""
        return f"walk the session{start} up to {self.until or 'its end'}{loops}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Loop(Step):
    """``count`` charge-loop exchanges (AC_ or DC_ChargeLoop: the session's), ``interval`` seconds apart, each
    response checked."""

    count: int = 3
    fields: Fields = field(default_factory=dict)
    codes: tuple[str, ...] = ("OK*",)
    checks: tuple[Any, ...] = ()
    interval: float = 0.05

    def describe(self) -> str:
        return f"{self.count} x ChargeLoop"


# ---- SUT = EVCC (the tester is the SECC) ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Accept(Step):
    """Wait for the EVCC to connect (the runner does this before the first step unless a case says otherwise)."""

    tls: TlsVariant = TlsVariant.NORMAL
    resume: bool = False
    """The EV is expected to resume the session paused on the previous connection."""
    preamble: bool = True

    def describe(self) -> str:
        return "accept the EVCC's connection" + (" (resumption)" if self.resume else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class Serve(Step):
    """Answer every request with the default response until ``until`` arrives (left unanswered)."""

    until: str
    respond: Mapping[str, Fields] = field(default_factory=dict)
    """Field overrides of the default response, by request kind."""
    checks: tuple[Any, ...] = ()
    """Checks on the ``until`` request."""
    admitted: bool = False
    """Every request must be one the sequence table admits where the session is (else the step fails)."""
    preamble: bool = True

    def describe(self) -> str:
        return f"serve the EV until it sends {self.until}" + (" (in sequence)" if self.admitted else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectRequest(Step):
    """Receive the EV's next request: its type (``A|B``: either), stream and ``checks``; left unanswered."""

    kind: str
    checks: tuple[Any, ...] = ()
    stream: Stream = Stream.MAIN
    within: float | None = None
    meanwhile: tuple[str, ...] = ()
    """Main-stream request kinds answered with defaults while waiting (the charge loop goes on)."""

    def describe(self) -> str:
        stream = f" on {self.stream}" if self.stream is not Stream.MAIN else ""
        return f"expect {self.kind}{stream}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Respond(Step):
    """Answer the pending request with its default response and ``fields``; optionally mangled on the wire."""

    fields: Fields = field(default_factory=dict)
    code: str | None = None
    notification: str | None = None
    """EVSENotification to put in EVSEStatus (a ChargeLoopRes)."""
    delay: float = 0.0
    payload_type: int | None = None
    corrupt: Mutator | None = None
    header: Mutator | None = None
    split: int | None = None
    gap: float = 0.0
    kind: str | None = None
    """Answer with this response type instead of the matching one."""
    label: str = ""

    def describe(self) -> str:
        what = self.kind or "the response"
        extra = f" {self.code}" if self.code else ""
        extra += f" notifying {self.notification}" if self.notification else ""
        extra += f" ({self.label})" if self.label else ""
        return f"respond with {what}{extra}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServeLoop(Step):
    """Answer ``count`` charge-loop requests with ``fields``, checking each request; the last may notify."""

    count: int = 3
    fields: Fields = field(default_factory=dict)
    checks: tuple[Any, ...] = ()
    notify_last: str | None = None
    """EVSENotification in the last response (e.g. Terminate, Pause)."""

    def describe(self) -> str:
        tail = f", the last one notifying {self.notify_last}" if self.notify_last else ""
        return f"serve {self.count} x ChargeLoop{tail}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Stall(Step):
    """Answer every ``kind`` request with EVSEProcessing=Ongoing; the EV must give up (SessionStopReq, answered,
    or closing the connection) when the run's ``timer`` expires, not before, and close within ``grace`` after."""

    kind: str
    timer: str = "evcc_ongoing_timeout"
    grace: float = CLOSE_GRACE
    requirement: str = ""

    def describe(self) -> str:
        return f"answer every {self.kind} Ongoing until the EV gives up ({self.timer})"


# ---- both roles ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SendRaw(Step):
    """Send bytes as they are (a hand-made frame), optionally in chunks."""

    data: bytes | Callable[[Any], bytes]
    label: str = "raw bytes"
    split: int | None = None
    gap: float = 0.0

    def describe(self) -> str:
        return f"send {self.label}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectClosed(Step):
    """The SUT closes the connection within ``within`` seconds (or a timer of the run's timing).

    Frames received meanwhile: a response with a FAILED code is recorded when ``allow_failed``; anything
    else fails the step (the SUT went on).
    """

    within: float = 5.0
    timer: str | None = None
    """A :class:`~iso15118.session.timers.Timing` field: ``within`` is that timer of the run's timing."""
    timeout_of: str | None = None
    """A request kind: ``within`` is the EV's message timeout of that request as the case's protocol has it
    (DIN and -2 keep their own per-request timers, e.g. CurrentDemand's 0.25 s)."""
    factor: float = 1.0
    """``within`` is ``factor`` times the timer."""
    lower: bool = False
    """The SUT must not close before the timer (less the run's slack) either."""
    grace: float = 0.0
    """Seconds the SUT may take to close after the timer expired (:data:`CLOSE_GRACE` for timeouts)."""
    allow_failed: bool = True
    requirement: str = ""
    what: str = "connection closed"

    def limits(self, timing: Any) -> tuple[float, float]:
        """(upper, lower) bound in seconds for ``timing``."""
        if self.timer is None:
            return self.within, 0.0
        value = float(getattr(timing, self.timer))
        return value * self.factor + self.grace, value if self.lower else 0.0

    def describe(self) -> str:
        timer = self.timer or (f"V2G_EVCC_Msg_Timeout of {self.timeout_of}" if self.timeout_of else None)
        if timer is None:
            return f"expect the SUT to close the connection within {self.within:g} s"
        bound = f"{self.factor:g} x {timer}" if self.factor != 1 else timer
        bound += f" + {self.grace:g} s" if self.grace else ""
        lower = f", not before {timer}" if self.lower else ""
        return f"expect the SUT to close the connection within {bound}{lower}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Silence(Step):
    """The tester stays silent for ``seconds``; the SUT must send nothing (closing is allowed)."""

    seconds: float

    def describe(self) -> str:
        return f"stay silent for {self.seconds:g} s"


@dataclass(frozen=True, slots=True, kw_only=True)
class Close(Step):
    """The tester closes the connection (the EV closes TCP after SessionStopRes)."""

    def describe(self) -> str:
        return "close the connection"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectRefused(Step):
    """Connect (SUT = SECC) or accept (SUT = EVCC) with a deviating TLS set-up; the SUT must refuse it.

    Refusing means: the handshake fails, or the SUT closes the connection without exchanging a V2G
    message (TLS 1.3 reports a refused client certificate only after the client's handshake finished).
    """

    tls: TlsVariant
    within: float = 5.0

    def describe(self) -> str:
        return f"expect the SUT to refuse a TLS peer with variant {self.tls}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckTls(Step):
    """Check the negotiated TLS session (version, suite, group, the SUT's certificate)."""

    checks: tuple[Any, ...] = ()

    def describe(self) -> str:
        return "check the TLS session"
