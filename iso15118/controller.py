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
    "DCCommand",
    "DCEVSEController",
    "DCLimits",
    "DCLoopRequest",
    "DCOutput",
    "EVController",
    "EVLimits",
    "EVSEController",
    "EVSELimits",
    "EVState",
    "EvseCommand",
    "IsolationCheck",
    "IsolationStatus",
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
    REVOKED = "revoked"
    """PnC: the contract certificate is revoked (an OCSP answer said so); refused with the generation's
    certificate-revoked response code."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EVLimits:
    """The EV's power limits (magnitudes >= 0; discharge limits are magnitudes too)."""

    max_charge_w: float
    min_charge_w: float = 0.0
    max_discharge_w: float = 0.0
    min_discharge_w: float = 0.0
    bidirectional: bool = False
    """Whether the EV offers bidirectional power transfer (AC_BPT / DC_BPT) at all."""
    max_voltage_v: float | None = None
    """DC: the highest voltage the battery may see (EVMaximumVoltage)."""
    min_voltage_v: float | None = None
    """DC: the lowest voltage the EV accepts (EVMinimumVoltage)."""
    max_charge_current_a: float | None = None
    """DC: EVMaximumChargeCurrent."""
    min_charge_current_a: float | None = None
    """DC: EVMinimumChargeCurrent."""
    max_discharge_current_a: float | None = None
    """DC_BPT: EVMaximumDischargeCurrent (a magnitude)."""
    min_discharge_current_a: float | None = None
    """DC_BPT: EVMinimumDischargeCurrent (a magnitude)."""


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
    present_voltage_v: float | None = None
    """DC: the battery's voltage now (EVPresentVoltage; the RESS state of charge is ``soc``)."""
    target_voltage_v: float | None = None
    """DC: the voltage the EV asks for (EVTargetVoltage, also the precharge target)."""
    target_current_a: float | None = None
    """DC: the current the EV asks for (EVTargetCurrent; negative discharges)."""


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


class IsolationStatus(StrEnum):
    """Result of the DC insulation test (IEC 61851-23 / the -2 and DIN ``isolationLevelType``)."""

    INVALID = "Invalid"
    VALID = "Valid"
    WARNING = "Warning"
    FAULT = "Fault"


@dataclass(frozen=True, slots=True, kw_only=True)
class DCLimits:
    """A DC charger's limits (magnitudes >= 0, V / A / W)."""

    max_voltage_v: float
    min_voltage_v: float
    max_charge_current_a: float
    max_charge_power_w: float
    min_charge_current_a: float = 0.0
    min_charge_power_w: float = 0.0
    max_discharge_current_a: float = 0.0
    min_discharge_current_a: float = 0.0
    max_discharge_power_w: float = 0.0
    min_discharge_power_w: float = 0.0
    bidirectional: bool = False
    power_ramp_limitation_w_per_s: float | None = None
    peak_current_ripple_a: float = 1.0
    """EVSEPeakCurrentRipple (DIN 70121 and -2 ChargeParameterDiscoveryRes; mandatory there). The default is our
    choice for a charger that does not say."""
    current_regulation_tolerance_a: float | None = None
    """EVSECurrentRegulationTolerance (DIN 70121 and -2; optional)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IsolationCheck:
    """Progress of the insulation test: ``done`` once ``status`` is final."""

    done: bool
    status: IsolationStatus = IsolationStatus.INVALID


@dataclass(frozen=True, slots=True, kw_only=True)
class DCOutput:
    """What the DC output does now."""

    present_voltage_v: float
    present_current_a: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class DCLoopRequest:
    """What the EV asked in one DC charge-loop request (signed: negative current and power discharge)."""

    present_voltage_v: float
    target_voltage_v: float | None = None
    """Scheduled mode: EVTargetVoltage."""
    target_current_a: float | None = None
    """Scheduled mode: EVTargetCurrent."""
    max_charge_power_w: float | None = None
    min_charge_power_w: float | None = None
    max_charge_current_a: float | None = None
    max_voltage_v: float | None = None
    min_voltage_v: float | None = None
    max_discharge_power_w: float | None = None
    min_discharge_power_w: float | None = None
    max_discharge_current_a: float | None = None
    discharge: bool = False
    """The BPT channel selected at PowerDelivery is Discharge."""
    dynamic: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DCCommand:
    """One DC charge-loop step of the charger: its output, its limits reached, and what it wants."""

    present_voltage_v: float
    present_current_a: float
    target_power_w: float | None = None
    """Dynamic mode: the setpoint the EV follows (negative discharges)."""
    power_limit_achieved: bool = False
    current_limit_achieved: bool = False
    voltage_limit_achieved: bool = False
    notification: Notification | None = None
    notification_max_delay_s: int = 0


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


@runtime_checkable
class DCEVSEController(EVSEController, Protocol):
    """A DC charger: an :class:`EVSEController` that also has a DC output, an insulation monitor and limits.

    An SECC offers the DC services only with a controller of this kind.
    """

    async def dc_limits(self, now: float) -> DCLimits:
        """The DC output's limits now."""
        ...

    async def cable_check(self, now: float) -> IsolationCheck:
        """Run (or continue) the insulation test of the cable; ``done`` once the result is final."""
        ...

    async def precharge(self, target_voltage_v: float, target_current_a: float, now: float) -> DCOutput:
        """Drive the output towards the EV's voltage with a small current (contactors of the EV open)."""
        ...

    async def dc_charge_loop(self, request: DCLoopRequest, now: float) -> DCCommand:
        """One DC charge-loop step."""
        ...

    async def welding_detection(self, now: float) -> DCOutput:
        """The output voltage while the EV checks its contactors (the charger has switched its output off)."""
        ...
