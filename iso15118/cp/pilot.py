"""The EV's and the EVSE's Control Pilot state machines, sans-I/O (IEC 61851-1 Annex A).

Theory of operation: the owner (a backend runner in :mod:`iso15118.transport`) feeds what the pilot line
shows with ``observe(now, state, duty)`` and applies :attr:`output` to the line after every command; events
(:class:`PilotChanged`, :class:`OfferChanged`, :class:`PilotFault`) come from :meth:`events`. Nothing here
touches hardware or a clock.

EV: plug in (B) -> the EVSE's 5 % PWM asks for high-level communication -> SLAC, SDP, session -> C (or D)
when PowerDelivery starts the energy transfer -> B when it stops -> A when unplugged. EVSE: steady +12 V
(A) -> 5 % PWM (or a current offer) once the EV is connected -> PWM off when it leaves; F signals "not
available", and a short E/F pulse restarts matching in the AC 5 % mode (T_step_EF). E or F on the line ends
any session: the runner stops it cleanly when it sees :class:`PilotFault`.
"""

from __future__ import annotations

from dataclasses import dataclass

from iso15118.cp.duty import HLC_DUTY, Offer, OfferKind, duty_for_current, offer_for_duty
from iso15118.cp.states import CpState, Transition, transition
from iso15118.errors import ConfigError

__all__ = ["EvPilot", "EvseOutput", "EvsePilot", "OfferChanged", "PilotChanged", "PilotEvent", "PilotFault"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PilotEvent:
    """Base of the pilot events; ``at`` is when it was observed."""

    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PilotChanged(PilotEvent):
    """The line changed state; ``change.meaning`` says what that means, ``change.expected`` if it is listed."""

    change: Transition


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferChanged(PilotEvent):
    """The EV sees another duty cycle: ``duty`` (None: no PWM) and what it offers."""

    duty: float | None
    offer: Offer


@dataclass(frozen=True, slots=True, kw_only=True)
class PilotFault(PilotEvent):
    """State E or F on the line: the session must end."""

    state: CpState
    meaning: str


class _Observer:
    """What both roles share: the last line state, events, and the error check."""

    def __init__(self) -> None:
        self.line: CpState = CpState.A
        self._events: list[PilotEvent] = []

    def events(self) -> list[PilotEvent]:
        """Events since the last call (the queue is emptied)."""
        out, self._events = self._events, []
        return out

    def _see_state(self, now: float, state: CpState | None) -> None:
        if state is None or state is self.line:
            return
        change = transition(self.line, state)
        self.line = state
        self._events.append(PilotChanged(at=now, change=change))
        if state.error:
            self._events.append(PilotFault(at=now, state=state, meaning=change.meaning))


class EvPilot(_Observer):
    """The EV side: it chooses its resistor state (:attr:`output`) and reads the EVSE's PWM."""

    def __init__(self) -> None:
        super().__init__()
        self.output: CpState = CpState.A
        self.duty: float | None = None
        self.offer: Offer = offer_for_duty(None)

    @property
    def hlc_requested(self) -> bool:
        """The EVSE's duty cycle asks for high-level communication (5 %)."""
        return self.offer.kind is OfferKind.HLC

    def plug_in(self) -> CpState:
        """Connect: present state B."""
        self.output = CpState.B
        return self.output

    def start_charging(self, *, ventilation: bool = False) -> CpState:
        """Ask for energy (PowerDelivery Start): C, or D when the battery needs ventilation."""
        if self.output is CpState.A:
            raise ConfigError("the EV must be plugged in (state B) before it asks for energy")
        if self.line.error:
            raise ConfigError(f"the pilot is in state {self.line}: no energy transfer")
        self.output = CpState.D if ventilation else CpState.C
        return self.output

    def stop_charging(self) -> CpState:
        """Energy transfer stopped (PowerDelivery Stop): back to B."""
        if self.output is not CpState.A:
            self.output = CpState.B
        return self.output

    def unplug(self) -> CpState:
        """Disconnect: state A."""
        self.output = CpState.A
        return self.output

    def observe(self, now: float, state: CpState | None, duty: float | None) -> None:
        """What the line shows: its state (None: unknown) and the PWM duty (None: no PWM)."""
        self._see_state(now, state)
        if duty != self.duty:
            self.duty = duty
            offer = offer_for_duty(duty)
            if offer != self.offer or duty is None:
                self.offer = offer
                self._events.append(OfferChanged(at=now, duty=duty, offer=offer))


@dataclass(frozen=True, slots=True, kw_only=True)
class EvseOutput:
    """What the EVSE drives: a PWM duty (None: steady +12 V) or state F (-12 V)."""

    duty: float | None = None
    unavailable: bool = False


class EvsePilot(_Observer):
    """The EVSE side: it drives the PWM (:attr:`output`) and reads the EV's state from the line."""

    def __init__(self) -> None:
        super().__init__()
        self.output = EvseOutput()

    def offer_hlc(self) -> EvseOutput:
        """5 % PWM: the EV is to use high-level communication."""
        self.output = EvseOutput(duty=HLC_DUTY)
        return self.output

    def offer_current(self, amps: float) -> EvseOutput:
        """A PWM that allows ``amps`` (basic charging without high-level communication)."""
        self.output = EvseOutput(duty=duty_for_current(amps))
        return self.output

    def stop_pwm(self) -> EvseOutput:
        """Steady +12 V (no PWM): no EV, or charging not allowed."""
        self.output = EvseOutput()
        return self.output

    def unavailable(self) -> EvseOutput:
        """State F: -12 V, the EVSE is not available (also the E/F pulse of the AC 5 % retry)."""
        self.output = EvseOutput(unavailable=True)
        return self.output

    @property
    def ev_connected(self) -> bool:
        """An EV is connected (B, C or D)."""
        return self.line.connected

    @property
    def ev_ready(self) -> bool:
        """The EV asks for energy (C or D)."""
        return self.line.charging

    def observe(self, now: float, state: CpState | None) -> None:
        """The state measured on the line (None: a level between the windows, ignored)."""
        self._see_state(now, state)
