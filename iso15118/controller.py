"""How an application steers a session: the EV and EVSE controller interfaces, and the data they exchange.

The session drivers in :mod:`iso15118.transport` consult these ``typing.Protocol`` objects; nothing else in
the library calls them. Values follow the -20 sign convention: positive power and energy flow EVSE -> EV
(charging), negative EV -> EVSE (discharging) [V2G20-1034/1035]. Powers are in W, energies in Wh, times in
POSIX seconds.

A controller answers quickly: a decision that takes time (a customer authorizing at a terminal, a grid
operator's schedule) is reported as *pending* and the driver answers the EV with ``Ongoing`` meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

__all__ = [
    "AuthorizationDecision",
    "ChargeDirection",
    "ControlMode",
    "EVController",
    "EVLimits",
    "EVSEController",
    "EVSELimits",
    "EVState",
    "EvseCommand",
    "MeterReading",
    "Notification",
    "PowerDeliveryRequest",
    "SessionReport",
]


class ControlMode(StrEnum):
    """AC control modes [V2G20 table 205: ControlMode 1 = Scheduled, 2 = Dynamic]."""

    SCHEDULED = "scheduled"
    DYNAMIC = "dynamic"


class ChargeDirection(StrEnum):
    """What the EV wants from the session."""

    CHARGE = "charge"
    DISCHARGE = "discharge"
    IDLE = "idle"


class Notification(StrEnum):
    """EVSE notifications in EVSEStatus (CommonTypes ``evseNotificationType``)."""

    PAUSE = "Pause"
    EXIT_STANDBY = "ExitStandby"
    TERMINATE = "Terminate"
    SCHEDULE_RENEGOTIATION = "ScheduleRenegotiation"
    SERVICE_RENEGOTIATION = "ServiceRenegotiation"
    METERING_CONFIRMATION = "MeteringConfirmation"


class AuthorizationDecision(StrEnum):
    """An EVSE's answer to an authorization request."""

    ACCEPTED = "accepted"
    PENDING = "pending"
    """Not decided yet: the EV is answered Ongoing and asks again."""
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True, kw_only=True)
class EVLimits:
    """The EV's power limits (magnitudes >= 0; discharge limits are magnitudes too)."""

    max_charge_w: float
    min_charge_w: float = 0.0
    max_discharge_w: float = 0.0
    min_discharge_w: float = 0.0
    bidirectional: bool = False
    """Whether the EV offers AC_BPT at all."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EVState:
    """The EV's state for one message: battery, energy requests, present power and what it wants."""

    soc: float
    """State of charge in percent."""
    present_power_w: float
    """Power flowing now (positive charging, negative discharging)."""
    target_energy_wh: float
    """Energy to reach the target SoC (negative: above it) [V2G20 EVTargetEnergyRequest]."""
    max_energy_wh: float
    """Energy to full."""
    min_energy_wh: float
    """Energy to the minimum SoC (negative when above it)."""
    limits: EVLimits
    direction: ChargeDirection = ChargeDirection.CHARGE
    departure_s: int | None = None
    """Seconds from now until departure."""
    min_soc: float | None = None
    target_soc: float | None = None
    max_v2x_energy_wh: float | None = None
    """Energy to the upper end of the SoC window the EV allows for V2X [V2G20-2124/2125]."""
    min_v2x_energy_wh: float | None = None
    """Energy to the lower end of that window (the user's reserve): discharge stops there."""
    battery_capacity_wh: float | None = None
    finished: bool = False
    """The EV wants to end the session (done charging, user unplugs...)."""
    pause: bool = False
    """The EV wants to pause the session (SessionStop Pause) rather than terminate it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EVSELimits:
    """The EVSE's capabilities and limits (magnitudes >= 0)."""

    max_charge_w: float
    min_charge_w: float = 0.0
    max_discharge_w: float = 0.0
    min_discharge_w: float = 0.0
    nominal_voltage_v: float = 230.0
    nominal_frequency_hz: float = 50.0
    three_phase: bool = False
    bidirectional: bool = False
    present_power_w: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EvseCommand:
    """What the EVSE wants during the charge loop."""

    target_power_w: float | None = None
    """Dynamic mode: the setpoint (negative requests discharge). Scheduled mode: only for urgent limits."""
    notification: Notification | None = None
    notification_max_delay_s: int = 0
    """NotificationMaxDelay: after this the EV must act (e.g. stop for Terminate) [V2G20-1610]."""
    frequency_hz: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterReading:
    """A meter reading for MeterInfo."""

    meter_id: str
    charged_wh: int
    discharged_wh: int = 0
    timestamp: int | None = None
    signature: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerDeliveryRequest:
    """What the EV asked in PowerDeliveryReq."""

    progress: str
    """Start, Stop, Standby or ScheduleRenegotiation."""
    discharge: bool
    """BPT_ChannelSelection = Discharge."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionReport:
    """What a driver tells its controller as the session progresses (for logs, journals, UIs)."""

    event: str
    detail: str = ""
    values: dict[str, object] = field(default_factory=dict)


@runtime_checkable
class EVController(Protocol):
    """The EV application (battery management, user wishes) as the EVCC driver sees it."""

    async def ev_state(self, now: float) -> EVState:
        """The EV's state for the next request."""
        ...

    async def apply_power(self, target_w: float | None, now: float) -> float:
        """Follow a power target from the EVSE (None: keep the schedule); returns the power actually flowing.

        The EV clamps the target to its own limits (never below its minimum reserve when discharging).
        """
        ...

    async def report(self, report: SessionReport) -> None:
        """Session progress (negotiated service, notifications, end)."""
        ...


@runtime_checkable
class EVSEController(Protocol):
    """The charging station application (power electronics, grid, authorization) as the SECC driver sees it."""

    async def evse_limits(self, now: float) -> EVSELimits:
        """The EVSE's current capabilities."""
        ...

    async def authorize(self, evcc_id: str, emaid: str | None, now: float) -> AuthorizationDecision:
        """Decide an authorization (EIM: ``emaid`` is None; PnC: the contract's eMAID, already verified)."""
        ...

    async def power_delivery(self, request: PowerDeliveryRequest, now: float) -> bool:
        """Close or open the contactors for Start / Stop / Standby; False if that failed."""
        ...

    async def charge_loop(self, ev_present_power_w: float, ev_state: dict[str, float], now: float) -> EvseCommand:
        """One charge-loop step: the EV's present power and requests in, the EVSE's command out."""
        ...

    async def meter(self, now: float) -> MeterReading:
        """The current meter reading."""
        ...

    async def report(self, report: SessionReport) -> None:
        """Session progress (negotiated service, end, reasons)."""
        ...
