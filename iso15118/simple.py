"""Simple EV and EVSE controllers: a battery that charges or discharges, and a charger with fixed limits.

They are the defaults of `v2g evcc` / `v2g secc` (configurable from TOML), the examples' starting point
and the session tests' peers. Pure Python: state advances with the ``now`` the drivers pass in.

The EV's battery has a voltage that rises with its state of charge, so it can take part in DC sessions; the
charger has an AC side (power limits, a setpoint) and a DC output (voltage, current and power limits, an
insulation test that takes a few requests, a precharge that ramps the output towards the EV's voltage, and an
output that falls once its contactors open).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from iso15118.controller import (
    AuthorizationDecision,
    ChargeDirection,
    DCCommand,
    DCLimits,
    DCLoopRequest,
    DCOutput,
    EVLimits,
    EvseCommand,
    EVSELimits,
    EVState,
    IsolationCheck,
    IsolationStatus,
    MeterReading,
    Notification,
    PowerDeliveryRequest,
    SessionReport,
)

__all__ = ["SimpleEV", "SimpleEVConfig", "SimpleEVSE", "SimpleEVSEConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SimpleEVConfig:
    """A battery EV."""

    capacity_wh: float = 75_000.0
    soc: float = 50.0
    target_soc: float = 80.0
    min_soc: float = 20.0
    """The user's minimum reserve: discharge stops here."""
    max_charge_w: float = 11_000.0
    min_charge_w: float = 1_400.0
    max_discharge_w: float = 11_000.0
    min_discharge_w: float = 1_400.0
    bidirectional: bool = True
    direction: ChargeDirection = ChargeDirection.CHARGE
    departure_s: int = 7200
    pause_when_done: bool = False
    battery_min_voltage_v: float = 350.0
    """Battery voltage when empty (DC); it rises linearly with the state of charge."""
    battery_max_voltage_v: float = 450.0
    """Battery voltage when full; also EVMaximumVoltage."""
    max_current_a: float = 250.0
    """DC current limit of the inlet and battery, both directions."""


@dataclass
class SimpleEV:
    """An :class:`~iso15118.controller.EVController` around a battery model."""

    config: SimpleEVConfig = field(default_factory=SimpleEVConfig)
    soc: float = field(init=False)
    power_w: float = field(default=0.0, init=False)
    last: float | None = field(default=None, init=False)
    reports: list[SessionReport] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.soc = self.config.soc

    def _advance(self, now: float) -> None:
        if self.last is not None and now > self.last:
            energy = self.power_w * (now - self.last) / 3600.0
            self.soc = min(100.0, max(0.0, self.soc + 100.0 * energy / self.config.capacity_wh))
        self.last = now

    def _energy_to(self, soc: float) -> float:
        return (soc - self.soc) / 100.0 * self.config.capacity_wh

    def voltage(self) -> float:
        """The battery's voltage at its present state of charge."""
        c = self.config
        return c.battery_min_voltage_v + (c.battery_max_voltage_v - c.battery_min_voltage_v) * self.soc / 100.0

    def limits(self) -> EVLimits:
        """The battery's limits now (discharge off at the reserve)."""
        c = self.config
        can_discharge = c.bidirectional and self.soc > c.min_soc
        max_charge_w = c.max_charge_w if self.soc < 100 else 0.0
        max_discharge_w = c.max_discharge_w if can_discharge else 0.0
        volts = self.voltage()
        return EVLimits(
            max_charge_w=max_charge_w,
            min_charge_w=c.min_charge_w,
            max_discharge_w=max_discharge_w,
            min_discharge_w=c.min_discharge_w,
            bidirectional=c.bidirectional,
            max_voltage_v=c.battery_max_voltage_v,
            min_voltage_v=c.battery_min_voltage_v,
            max_charge_current_a=min(c.max_current_a, max_charge_w / volts),
            min_charge_current_a=0.0,
            max_discharge_current_a=min(c.max_current_a, max_discharge_w / volts),
            min_discharge_current_a=0.0,
        )

    def done(self) -> bool:
        """Target reached (charging) or reserve reached (discharging)."""
        c = self.config
        if c.direction is ChargeDirection.DISCHARGE:
            return self.soc <= c.min_soc
        return self.soc >= c.target_soc

    async def ev_state(self, now: float) -> EVState:
        self._advance(now)
        c = self.config
        return EVState(
            soc=self.soc,
            present_power_w=self.power_w,
            target_energy_wh=self._energy_to(c.target_soc),
            max_energy_wh=self._energy_to(100.0),
            min_energy_wh=self._energy_to(c.min_soc),
            limits=self.limits(),
            direction=c.direction,
            departure_s=c.departure_s,
            min_soc=c.min_soc,
            target_soc=c.target_soc,
            max_v2x_energy_wh=self._energy_to(c.target_soc) if c.bidirectional else None,
            min_v2x_energy_wh=self._energy_to(c.min_soc) if c.bidirectional else None,
            battery_capacity_wh=c.capacity_wh,
            finished=self.done(),
            pause=c.pause_when_done,
            present_voltage_v=self.voltage(),
            target_voltage_v=self.voltage(),
        )

    async def apply_power(self, target_w: float | None, now: float) -> float:
        self._advance(now)
        lim = self.limits()
        c = self.config
        if target_w is None:
            wanted = -lim.max_discharge_w if c.direction is ChargeDirection.DISCHARGE else lim.max_charge_w
        else:
            wanted = target_w
        if wanted >= 0:
            self.power_w = min(wanted, lim.max_charge_w)
        else:
            self.power_w = -min(-wanted, lim.max_discharge_w)
        return self.power_w

    async def report(self, report: SessionReport) -> None:
        self.reports.append(report)


@dataclass(frozen=True, slots=True, kw_only=True)
class SimpleEVSEConfig:
    """A wallbox with fixed limits and a fixed setpoint."""

    max_charge_w: float = 11_000.0
    min_charge_w: float = 1_400.0
    max_discharge_w: float = 11_000.0
    min_discharge_w: float = 1_400.0
    bidirectional: bool = True
    setpoint_w: float | None = None
    """Dynamic-mode target: positive charges, negative discharges; None: follow the EV's direction at max."""
    nominal_voltage_v: float = 230.0
    three_phase: bool = False
    authorization_delay: int = 0
    """Answer ``pending`` this many times before deciding (exercises EVSEProcessing=Ongoing)."""
    reject: bool = False
    notifications: tuple[tuple[int, Notification], ...] = ()
    """(charge-loop count, notification) pairs: the SECC notifies the EV at those loops."""
    meter_id: str = "METER-1"
    max_voltage_v: float = 500.0
    """DC output: highest voltage."""
    min_voltage_v: float = 150.0
    """DC output: lowest voltage."""
    max_current_a: float = 200.0
    """DC output: current limit, both directions."""
    cable_check_requests: int = 2
    """DC: the insulation test answers Ongoing this many times before its result."""
    isolation: IsolationStatus = IsolationStatus.VALID
    """DC: the insulation test's result (Fault refuses to charge)."""
    precharge_step_v: float = 150.0
    """DC: how far the output moves towards the EV's voltage per precharge request."""


@dataclass
class SimpleEVSE:
    """An :class:`~iso15118.controller.EVSEController` with fixed limits and an energy meter."""

    config: SimpleEVSEConfig = field(default_factory=SimpleEVSEConfig)
    charged_wh: float = field(default=0.0, init=False)
    discharged_wh: float = field(default=0.0, init=False)
    loops: int = field(default=0, init=False)
    last: float | None = field(default=None, init=False)
    power_w: float = field(default=0.0, init=False)
    auth_calls: int = field(default=0, init=False)
    contactor_closed: bool = field(default=False, init=False)
    discharge: bool = field(default=False, init=False)
    reports: list[SessionReport] = field(default_factory=list, init=False)
    output_v: float = field(default=0.0, init=False)
    """DC output voltage now."""
    cable_checks: int = field(default=0, init=False)

    async def evse_limits(self, now: float) -> EVSELimits:
        c = self.config
        return EVSELimits(
            max_charge_w=c.max_charge_w,
            min_charge_w=c.min_charge_w,
            max_discharge_w=c.max_discharge_w,
            min_discharge_w=c.min_discharge_w,
            nominal_voltage_v=c.nominal_voltage_v,
            three_phase=c.three_phase,
            bidirectional=c.bidirectional,
        )

    async def authorize(self, evcc_id: str, emaid: str | None, now: float) -> AuthorizationDecision:
        self.auth_calls += 1
        if self.auth_calls <= self.config.authorization_delay:
            return AuthorizationDecision.PENDING
        return AuthorizationDecision.REJECTED if self.config.reject else AuthorizationDecision.ACCEPTED

    async def power_delivery(self, request: PowerDeliveryRequest, now: float) -> bool:
        self.contactor_closed = request.progress in ("Start", "Standby")
        self.discharge = request.discharge
        if not self.contactor_closed:
            self._meter(now)
            self.power_w = 0.0
        return True

    def _meter(self, now: float) -> None:
        if self.last is not None and now > self.last:
            energy = self.power_w * (now - self.last) / 3600.0
            if energy >= 0:
                self.charged_wh += energy
            else:
                self.discharged_wh -= energy
        self.last = now

    async def charge_loop(self, ev_present_power_w: float, ev_state: dict[str, float], now: float) -> EvseCommand:
        self._meter(now)
        self.power_w = ev_present_power_w
        self.loops += 1
        c = self.config
        if c.setpoint_w is not None:
            target = max(-c.max_discharge_w, min(c.max_charge_w, c.setpoint_w))
        else:
            target = -c.max_discharge_w if self.discharge else c.max_charge_w
        note = next((n for at, n in c.notifications if at == self.loops), None)
        return EvseCommand(target_power_w=target, notification=note)

    async def meter(self, now: float) -> MeterReading:
        self._meter(now)
        return MeterReading(
            meter_id=self.config.meter_id,
            charged_wh=round(self.charged_wh),
            discharged_wh=round(self.discharged_wh),
            timestamp=int(now),
        )

    async def report(self, report: SessionReport) -> None:
        self.reports.append(report)

    # ---- DC output ---------------------------------------------------------------------------------------
    async def dc_limits(self, now: float) -> DCLimits:
        c = self.config
        return DCLimits(
            max_voltage_v=c.max_voltage_v,
            min_voltage_v=c.min_voltage_v,
            max_charge_current_a=c.max_current_a,
            max_charge_power_w=c.max_charge_w,
            min_charge_power_w=0.0,
            max_discharge_current_a=c.max_current_a if c.bidirectional else 0.0,
            max_discharge_power_w=c.max_discharge_w if c.bidirectional else 0.0,
            bidirectional=c.bidirectional,
        )

    async def cable_check(self, now: float) -> IsolationCheck:
        self.cable_checks += 1
        if self.cable_checks <= self.config.cable_check_requests:
            return IsolationCheck(done=False)
        return IsolationCheck(done=True, status=self.config.isolation)

    async def precharge(self, target_voltage_v: float, target_current_a: float, now: float) -> DCOutput:
        step = self.config.precharge_step_v
        gap = target_voltage_v - self.output_v
        self.output_v += max(-step, min(step, gap))
        return DCOutput(present_voltage_v=self.output_v, present_current_a=min(target_current_a, 2.0))

    async def dc_charge_loop(self, request: DCLoopRequest, now: float) -> DCCommand:
        self._meter(now)
        c = self.config
        self.loops += 1
        volts = max(request.present_voltage_v, 1.0)
        self.output_v = volts
        max_charge = min(c.max_current_a, c.max_charge_w / volts)
        max_discharge = min(c.max_current_a, c.max_discharge_w / volts) if c.bidirectional else 0.0
        target_power: float | None = None
        if request.dynamic:
            if c.setpoint_w is not None:
                target_power = max(-c.max_discharge_w, min(c.max_charge_w, c.setpoint_w))
            else:
                target_power = -c.max_discharge_w if self.discharge else c.max_charge_w
            wanted = target_power / volts
            if wanted >= 0 and request.max_charge_current_a is not None:
                wanted = min(wanted, request.max_charge_current_a)
            if wanted < 0 and request.max_discharge_current_a is not None:
                wanted = max(wanted, -abs(request.max_discharge_current_a))
        else:
            wanted = request.target_current_a or 0.0
        current = max(-max_discharge, min(max_charge, wanted))
        self.power_w = volts * current
        note = next((n for at, n in c.notifications if at == self.loops), None)
        return DCCommand(
            present_voltage_v=volts,
            present_current_a=current,
            target_power_w=target_power,
            current_limit_achieved=current != wanted,
            notification=note,
        )

    async def welding_detection(self, now: float) -> DCOutput:
        # The output discharges through the charger's bleeder once the contactors are open.
        self.output_v = 0.0 if self.output_v < 60.0 else self.output_v / 4.0
        return DCOutput(present_voltage_v=self.output_v)
