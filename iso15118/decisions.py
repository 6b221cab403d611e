"""The plumbing between pure protocol decisions and the runner that feeds them: inputs, needs, answers, effects.

Theory of operation
-------------------
Every SECC decision is a pure function ``(request, view) -> Answer | Need`` found in a handler table keyed by
the request's kind. The view holds the session context, the configuration, the time and the controller
*inputs* gathered so far. A decision that cannot be made without something only the charger application knows
(its limits, an authorization, whether the contactors closed) returns :class:`Need`; the runner asks the
controller, adds the value to the inputs and calls the same decision again. Decisions never await, never
read a clock and never touch a socket, so they are unit-tested by filling the inputs by hand.

An :class:`Answer` carries the response, the new session context and the :data:`Effect` values the runner
carries out after sending (reports to the controller, paused sessions to store, security warnings to log).

The EVCC side has the same shape (:class:`Step`): after a response its decision returns the new context and
what to send next — now, at a later time (the next charge-loop request, a retry after ``Ongoing``), or nothing
because the session is over.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from iso15118.controller import EVState, SessionReport
from iso15118.session.profile import Stream
from iso15118.session.selection import Selection

__all__ = [
    "Answer",
    "ApplyPower",
    "Effect",
    "EvccEnv",
    "EvccLogic",
    "Input",
    "Inputs",
    "Need",
    "PausedSession",
    "PeerIdentity",
    "Report",
    "SeccEnv",
    "SeccLogic",
    "Send",
    "Step",
    "StorePaused",
    "Summary",
    "TakePaused",
    "Warn",
    "settle",
]

C = TypeVar("C")


class Input(StrEnum):
    """What a decision may need from the controller or the runtime (the runner's call table maps each)."""

    LIMITS = "limits"
    """EVSELimits: the charger's power limits and capabilities."""
    AUTHORIZATION = "authorization"
    """AuthorizationDecision for (EVCCID, eMAID)."""
    POWER_DELIVERY = "power_delivery"
    """bool: the contactors did what PowerDeliveryRequest asked."""
    LOOP_COMMAND = "loop_command"
    """EvseCommand for one AC charge-loop step."""
    METER = "meter"
    """MeterReading."""
    PAUSED = "paused"
    """PausedSession | None: the paused session stored under a SessionID (from the runtime's store)."""
    DC_LIMITS = "dc_limits"
    """DCLimits: voltage, current and power limits of a DC charger."""
    CABLE_CHECK = "cable_check"
    """IsolationCheck: progress and result of the insulation test."""
    PRECHARGE = "precharge"
    """DCOutput: the output while precharging to the EV's target voltage."""
    DC_LOOP = "dc_loop"
    """DCCommand for one DC charge-loop step."""
    WELDING = "welding"
    """DCOutput: the output voltage while the EV checks its contactors for welding."""
    CERTIFICATE = "certificate"
    """CertificateAnswer for a CertificateRequest: the certificate provider's signed response."""


@dataclass(frozen=True, slots=True)
class Inputs:
    """Controller answers gathered for one decision."""

    values: Mapping[Input, Any] = field(default_factory=dict)

    def __contains__(self, what: object) -> bool:
        return what in self.values

    def get(self, what: Input) -> Any:
        """The value gathered for ``what`` (KeyError when it was not asked for: a decision bug)."""
        return self.values[what]

    def with_value(self, what: Input, value: Any) -> Inputs:
        """These inputs plus one more."""
        return Inputs({**self.values, what: value})


@dataclass(frozen=True, slots=True)
class Need:
    """A decision needs ``what`` (asked with ``arg``) before it can answer."""

    what: Input
    arg: Any = None
    also: tuple[Need, ...] = ()
    """Inputs needed whatever ``what`` turns out to be, gathered in the same round (after it, in order), so the
    decision is not run once per input. Only inputs that cannot change the decision's course belong here: a
    controller call with an effect (contactors, a power setpoint) must not be made for a request that the first
    answer may still refuse."""

    def all(self) -> tuple[Need, ...]:
        """This need and the ones gathered with it, in the order they are asked."""
        return (self, *self.also)


async def settle(
    decide: Callable[[Inputs], Answer[C] | Need], gather: Callable[[Need], Awaitable[Any]], *, rounds: int = 12
) -> Answer[C]:
    """Run a decision until it answers: each :class:`Need` is gathered (``gather`` asks the controller or the
    runtime) and the decision is run again with everything gathered so far. Both the runner and the conformance
    harness's tester charger answer decisions this way."""
    inputs = Inputs()
    for _ in range(rounds):
        decision = decide(inputs)
        if not isinstance(decision, Need):
            return decision
        for need in decision.all():
            inputs = inputs.with_value(need.what, await gather(need))
    raise RuntimeError(f"a decision keeps asking for inputs ({', '.join(sorted(inputs.values))})")


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerIdentity:
    """Who is at the other end, as far as TLS could tell (None fields: plain TCP, or no client certificate)."""

    address: str
    subject: str | None = None
    fingerprint: str | None = None
    """SHA-256 of the peer's leaf certificate (DER), hex."""
    common_name: str | None = None
    """The leaf's CN: for a vehicle certificate, its EVCCID [V2G20-2598]."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PausedSession:
    """A paused session as the SECC keeps it: bound to the vehicle that paused it [V2G20-2545]."""

    session_id: bytes
    evcc_id: str
    fingerprint: str | None
    """The vehicle certificate that authenticated the paused session (None: no TLS client certificate)."""
    paused_at: float
    expires_at: float
    context: Any
    """The generation's own record of what was negotiated (service, control mode, authorization...)."""


@dataclass(frozen=True, slots=True)
class Report:
    """Tell the controller how the session progresses."""

    report: SessionReport


@dataclass(frozen=True, slots=True)
class StorePaused:
    """Keep a paused session so that its EV may resume it."""

    session: PausedSession


@dataclass(frozen=True, slots=True)
class TakePaused:
    """Remove a paused session from the store: it was resumed."""

    session_id: bytes


@dataclass(frozen=True, slots=True)
class ApplyPower:
    """EVCC: follow a power target (None: keep the EV's own plan, e.g. its schedule)."""

    target_w: float | None


@dataclass(frozen=True, slots=True)
class Warn:
    """A security-relevant refusal: logged at WARNING with the peer's identity."""

    text: str
    requirement: str | None = None


Effect = Report | StorePaused | TakePaused | Warn | ApplyPower


@dataclass(frozen=True, slots=True)
class Answer(Generic[C]):
    """A decision's result: the response, the session context after it, and what to do once it is sent."""

    response: Any
    ctx: C
    effects: tuple[Effect, ...] = ()


@dataclass(frozen=True, slots=True)
class Send:
    """EVCC: send a request of ``kind`` on ``stream``, built when it is due (at ``at``; None: at once)."""

    kind: StrEnum
    stream: Stream = Stream.MAIN
    at: float | None = None


@dataclass(frozen=True, slots=True)
class Step(Generic[C]):
    """EVCC: what a response leads to: the new context, the requests to send, and effects (an
    :class:`ApplyPower` carries the charger's setpoint, the schedule or the DC power to the EV controller).
    ``stop``: why the session cannot go on as asked (the runner reports it and the outcome carries it).
    """

    ctx: C
    sends: tuple[Send, ...] = ()
    effects: tuple[Effect, ...] = ()
    stop: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """What a session did, for outcomes, summaries and journals."""

    negotiated: dict[str, Any] = field(default_factory=dict)
    """service id, energy mode, control mode, authorization, BPT channel, resumed..."""
    loops: int = 0
    meter: tuple[dict[str, Any], ...] = ()
    failure: str | None = None
    """Why the session did not do what was asked (exit non-zero), or None."""
    substitutions: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SeccEnv:
    """What the runner knows when it asks an SECC decision: time, header, session and gathered inputs."""

    now: float
    header: Any
    session_id: bytes
    selection: Selection
    inputs: Inputs
    peer: PeerIdentity | None
    entropy: bytes
    dc_capable: bool
    stopping: bool = False
    """The operator asked the charger to stop: the next loop response asks the EV to terminate."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EvccEnv:
    """What the runner knows when it asks an EVCC decision: time, header, session and the EV's state."""

    now: float
    header: Any
    session_id: bytes
    selection: Selection
    ev: EVState
    state: StrEnum | None = None
    """Where the main stream is in the generation's table (how a stop must begin)."""


class SeccLogic(Protocol):
    """One generation's SECC decisions, as the generic runner drives them."""

    def initial(self) -> Any:
        """The context of a new session."""
        ...

    def decide(self, kind: StrEnum, request: Any, ctx: Any, env: SeccEnv) -> Answer[Any] | Need:
        """Answer a request (or ask for an input first)."""
        ...

    def summary(self, ctx: Any) -> Summary:
        """What the session did."""
        ...


class EvccLogic(Protocol):
    """One generation's EVCC decisions, as the generic runner drives them."""

    def initial(self) -> Any:
        """The context of a new session."""
        ...

    def first(self, ctx: Any, env: EvccEnv) -> Step[Any]:
        """What follows SupportedAppProtocol."""
        ...

    def after(self, kind: StrEnum, stream: Stream, response: Any, request: Any, ctx: Any, env: EvccEnv) -> Step[Any]:
        """What follows a response."""
        ...

    def due(self, send: Send, ctx: Any, env: EvccEnv) -> Step[Any] | None:
        """A scheduled request is due: decide again (a Step), or None to build and send it as planned."""
        ...

    def build(self, kind: StrEnum, stream: Stream, ctx: Any, env: EvccEnv) -> Any:
        """Build a request of ``kind`` now."""
        ...

    def stop(self, ctx: Any, why: str, env: EvccEnv) -> Step[Any]:
        """The user asked to stop: end the session the standard's way from where it is."""
        ...

    def summary(self, ctx: Any) -> Summary:
        """What the session did."""
        ...
