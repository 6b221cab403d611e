"""Controllers that behave like the two sides of a captured DC session, built from its exchanges.

* :class:`CapturedCharger` is a DC charger for our SECC whose limits, insulation test, precharge ramp, charge-loop
  output and welding-detection voltage are those the captured charger reported, in the order it reported them:
  the insulation test answers Ongoing as often as the captured one did, the output voltage during precharge
  follows the captured values, and so on. It offers DC_BPT when the captured charger did (its discharge limits,
  which the capture does not show, are taken equal to the charge limits).
* :class:`CapturedEV` is an EV for our EVCC with the captured EV's limits (DC_ChargeParameterDiscoveryReq), its
  battery voltage (DC_PreChargeReq), its energy requests and departure time (ScheduleExchangeReq) and its state
  of charge at the start of the charge loop. It is charge-only (the captured EV selected DC where DC_BPT was
  offered) and never says it is finished: how many charge loops it runs is set by ``EvccConfig.max_loops``.

A controller asked for more outputs than the capture holds repeats the last one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from iso15118.controller import (
    AuthorizationDecision,
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
    PowerDeliveryRequest,
    SessionReport,
)
from iso15118.messages.units import value_of
from tests.support.capture_replay import Exchange, kind

__all__ = ["CapturedCharger", "CapturedEV", "messages_of"]


def messages_of(exchanges: Sequence[Exchange], name: str) -> list[Any]:
    """Every captured message named ``name`` (a request or a response kind), in order."""
    side = "request" if name.endswith("Req") else "response"
    return [getattr(e, side).message for e in exchanges if kind(getattr(e, side).message) == name]


def _first(exchanges: Sequence[Exchange], name: str) -> Any:
    found = messages_of(exchanges, name)
    if not found:
        raise ValueError(f"the capture has no {name}")
    return found[0]


def _next(values: list[Any], used: int) -> Any:
    return values[min(used, len(values) - 1)]


@dataclass
class CapturedCharger:
    """A DC charger replaying the captured charger's outputs (see the module docstring)."""

    limits: DCLimits
    insulation_ongoing: int
    """How many DC_CableCheckRes said Ongoing before the one that said Finished."""
    precharge_v: list[float]
    loop_outputs: list[DCCommand]
    welding_v: list[float]
    calls: dict[str, int] = field(default_factory=dict)
    reports: list[SessionReport] = field(default_factory=list)

    @classmethod
    def from_exchanges(cls, exchanges: Sequence[Exchange]) -> CapturedCharger:
        """The captured charger of ``exchanges``."""
        cpd = _first(exchanges, "DC_ChargeParameterDiscoveryRes")
        mode = cpd.dc_cpd_res_energy_transfer_mode or cpd.bpt_dc_cpd_res_energy_transfer_mode
        discovery = _first(exchanges, "ServiceDiscoveryRes")
        offered = {s.service_id for s in discovery.energy_transfer_service_list.service}
        bidirectional = 6 in offered  # DC_BPT
        max_current, max_power = value_of(mode.evse_maximum_charge_current), value_of(mode.evse_maximum_charge_power)
        limits = DCLimits(
            max_voltage_v=value_of(mode.evse_maximum_voltage),
            min_voltage_v=value_of(mode.evse_minimum_voltage),
            max_charge_current_a=max_current,
            max_charge_power_w=max_power,
            min_charge_current_a=value_of(mode.evse_minimum_charge_current),
            min_charge_power_w=value_of(mode.evse_minimum_charge_power),
            max_discharge_current_a=max_current if bidirectional else 0.0,
            max_discharge_power_w=max_power if bidirectional else 0.0,
            bidirectional=bidirectional,
        )
        checks = messages_of(exchanges, "DC_CableCheckRes")
        loops = [
            DCCommand(
                present_voltage_v=value_of(res.evse_present_voltage),
                present_current_a=value_of(res.evse_present_current),
                power_limit_achieved=res.evse_power_limit_achieved,
                current_limit_achieved=res.evse_current_limit_achieved,
                voltage_limit_achieved=res.evse_voltage_limit_achieved,
            )
            for res in messages_of(exchanges, "DC_ChargeLoopRes")
        ]
        return cls(
            limits=limits,
            insulation_ongoing=sum(1 for res in checks if str(res.evse_processing) == "Ongoing"),
            precharge_v=[value_of(r.evse_present_voltage) for r in messages_of(exchanges, "DC_PreChargeRes")],
            loop_outputs=loops,
            welding_v=[value_of(r.evse_present_voltage) for r in messages_of(exchanges, "DC_WeldingDetectionRes")],
        )

    def _count(self, what: str) -> int:
        used = self.calls.get(what, 0)
        self.calls[what] = used + 1
        return used

    async def evse_limits(self, now: float) -> EVSELimits:
        lim = self.limits
        return EVSELimits(
            max_charge_w=lim.max_charge_power_w,
            max_discharge_w=lim.max_discharge_power_w,
            bidirectional=lim.bidirectional,
        )

    async def authorize(self, evcc_id: str, emaid: str | None, now: float) -> AuthorizationDecision:
        return AuthorizationDecision.ACCEPTED

    async def power_delivery(self, request: PowerDeliveryRequest, now: float) -> bool:
        self._count(f"power_delivery:{request.progress}")
        return True

    async def charge_loop(self, ev_present_power_w: float, ev_state: dict[str, float], now: float) -> EvseCommand:
        raise AssertionError("a DC charger is not asked for an AC charge loop")

    async def meter(self, now: float) -> MeterReading:
        return MeterReading(meter_id="CAPTURED", charged_wh=0, timestamp=int(now))

    async def report(self, report: SessionReport) -> None:
        self.reports.append(report)

    async def dc_limits(self, now: float) -> DCLimits:
        return self.limits

    async def cable_check(self, now: float) -> IsolationCheck:
        if self._count("cable_check") < self.insulation_ongoing:
            return IsolationCheck(done=False)
        return IsolationCheck(done=True, status=IsolationStatus.VALID)

    async def precharge(self, target_voltage_v: float, target_current_a: float, now: float) -> DCOutput:
        return DCOutput(present_voltage_v=_next(self.precharge_v, self._count("precharge")))

    async def dc_charge_loop(self, request: DCLoopRequest, now: float) -> DCCommand:
        command: DCCommand = _next(self.loop_outputs, self._count("dc_charge_loop"))
        return command

    async def welding_detection(self, now: float) -> DCOutput:
        return DCOutput(present_voltage_v=_next(self.welding_v, self._count("welding_detection")))


@dataclass
class CapturedEV:
    """An EV with the captured EV's limits, voltage and energy requests (see the module docstring)."""

    state: EVState
    applied: list[float | None] = field(default_factory=list)
    reports: list[SessionReport] = field(default_factory=list)

    @classmethod
    def from_exchanges(cls, exchanges: Sequence[Exchange]) -> CapturedEV:
        """The captured EV of ``exchanges``."""
        cpd = _first(exchanges, "DC_ChargeParameterDiscoveryReq").dc_cpd_req_energy_transfer_mode
        if cpd is None:
            raise ValueError("the captured EV asked for DC_BPT; CapturedEV models a charge-only EV")
        precharge = _first(exchanges, "DC_PreChargeReq")
        schedule = _first(exchanges, "ScheduleExchangeReq").dynamic_se_req_control_mode
        if schedule is None:
            raise ValueError("the captured EV did not ask for Dynamic mode")
        loop = _first(exchanges, "DC_ChargeLoopReq")
        limits = EVLimits(
            max_charge_w=value_of(cpd.ev_maximum_charge_power),
            min_charge_w=value_of(cpd.ev_minimum_charge_power),
            max_voltage_v=value_of(cpd.ev_maximum_voltage),
            min_voltage_v=value_of(cpd.ev_minimum_voltage),
            max_charge_current_a=value_of(cpd.ev_maximum_charge_current),
            min_charge_current_a=value_of(cpd.ev_minimum_charge_current),
        )
        state = EVState(
            soc=float(loop.display_parameters.present_soc if loop.display_parameters else 50),
            present_power_w=0.0,
            target_energy_wh=value_of(schedule.ev_target_energy_request),
            max_energy_wh=value_of(schedule.ev_maximum_energy_request),
            min_energy_wh=value_of(schedule.ev_minimum_energy_request),
            limits=limits,
            departure_s=schedule.departure_time,
            present_voltage_v=value_of(precharge.ev_present_voltage),
            target_voltage_v=value_of(precharge.ev_target_voltage),
        )
        return cls(state=state)

    async def ev_state(self, now: float) -> EVState:
        return self.state

    async def apply_power(self, target_w: float | None, now: float) -> float:
        self.applied.append(target_w)
        return target_w or 0.0

    async def report(self, report: SessionReport) -> None:
        self.reports.append(report)
