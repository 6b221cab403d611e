"""The virtual DC charger as the SECC sees it: a :class:`~iso15118.controller.DCEVSEController` over the bench.

Owns :class:`VirtualDCCharger`. Its power stage is the bench's :class:`~harness.bench.dccharger.DCCharger`, and
each DC step is coupled to the bench's physics like the wall connector's charge loop:

* **DC_CableCheck** starts (or continues) the insulation test and lets one DC step of simulated time pass; the
  answer is Ongoing until the test has run for the charger's ``insulation_test_s``.
* **DC_PreCharge** drives the output towards the EV's target voltage at the charger's ramp rate, with at most
  the precharge current the SECC asks for (2 A), for one DC step.
* **PowerDelivery(Start)** closes the contactors (both sides): the output joins the pack; **Stop** opens them.
* **DC_ChargeLoop** sets the output current for the next step: the policy's setpoint
  (:meth:`~harness.bench.bench.Bench.dc_decision`) within the charger's limits and the EV's, as the truck
  reported them in this very request (maximum voltage, current and power in each direction). The truck's
  answer to the response moves the physics.
* **DC_WeldingDetection** lets one DC step pass with the contactors open: the output bleeds down.

The meter is the DC energy at the charger's output (a DC meter), cumulative both ways. When the session ends,
however it ends, the output stage is switched off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from harness.bench.dccharger import DCCharger, EVDCLimits
from harness.virtual.coupling import Coupling
from iso15118.controller import (
    AuthorizationDecision,
    DCCommand,
    DCLimits,
    DCLoopRequest,
    DCOutput,
    EvseCommand,
    EVSELimits,
    IsolationCheck,
    IsolationStatus,
    MeterReading,
    PowerDeliveryRequest,
    SessionReport,
)

__all__ = ["VirtualDCCharger"]


@dataclass
class VirtualDCCharger:
    """An EVSE controller with a DC output over the bench's DC charger and DC policy."""

    coupling: Coupling
    meter_id: str = "DCFC-METER-1"
    reports: list[SessionReport] = field(default_factory=list, init=False)
    refusal: str | None = field(default=None, init=False)
    """Why the charger refused to deliver energy: its insulation test ended in a fault."""
    refusal_code: ClassVar[str] = "FAILED"
    """What the SECC answers to DC_CableCheckReq then (-20 has no more specific code for it)."""
    lost_power_at: float | None = field(default=None, init=False)
    """Never set: the DC charger is not on the home's panel."""
    setpoints: int = field(default=0, init=False)
    cable_checks: int = field(default=0, init=False)
    precharges: int = field(default=0, init=False)
    welding_checks: int = field(default=0, init=False)

    @property
    def charger(self) -> DCCharger:
        """The bench's DC output stage."""
        charger = self.coupling.bench.dc_charger
        if charger is None:
            raise RuntimeError(f"scenario {self.coupling.bench.scenario.name} has no DC charger")
        return charger

    async def evse_limits(self, now: float) -> EVSELimits:
        """The output's power limits (what an AC-minded caller asks; the DC session uses :meth:`dc_limits`)."""
        p = self.charger.params
        return EVSELimits(
            max_charge_w=p.max_charge_power_w,
            max_discharge_w=p.max_discharge_power_w if p.bidirectional else 0.0,
            nominal_voltage_v=p.max_voltage_v,
            bidirectional=p.bidirectional,
        )

    async def dc_limits(self, now: float) -> DCLimits:
        """The output's window and limits, from the charger's data."""
        p = self.charger.params
        return DCLimits(
            max_voltage_v=p.max_voltage_v,
            min_voltage_v=p.min_voltage_v,
            max_charge_current_a=p.max_charge_current_a,
            max_charge_power_w=p.max_charge_power_w,
            max_discharge_current_a=p.max_discharge_current_a if p.bidirectional else 0.0,
            max_discharge_power_w=p.max_discharge_power_w if p.bidirectional else 0.0,
            bidirectional=p.bidirectional,
        )

    async def authorize(self, evcc_id: str, emaid: str | None, now: float) -> AuthorizationDecision:
        """A free-vend charger on the bench: every EIM request is accepted."""
        return AuthorizationDecision.ACCEPTED

    async def cable_check(self, now: float) -> IsolationCheck:
        """Run the insulation test for one DC step; done once it ran for its declared time."""
        self.cable_checks += 1
        self.charger.start_cable_check()
        await self.coupling.advance_dc_step()
        check = self.charger.insulation()
        if check.done and check.status not in (IsolationStatus.VALID, IsolationStatus.WARNING):
            self.refusal = f"the insulation test ended {check.status}"
        return check

    async def precharge(self, target_voltage_v: float, target_current_a: float, now: float) -> DCOutput:
        """Ramp the output towards the EV's voltage for one DC step, with at most the precharge current."""
        self.precharges += 1
        charger = self.charger
        charger.start_precharge(target_voltage_v, target_current_a)
        await self.coupling.advance_dc_step()
        return DCOutput(present_voltage_v=charger.output_v, present_current_a=charger.output_a)

    async def power_delivery(self, request: PowerDeliveryRequest, now: float) -> bool:
        """Start closes the contactors on the (precharged) output; Stop and Standby open them."""
        if request.progress == "Start":
            self.charger.close(self.coupling.bench.vehicle.pack_voltage())
        else:
            self.charger.open()
        return True

    async def charge_loop(self, ev_present_power_w: float, ev_state: dict[str, float], now: float) -> EvseCommand:
        """No AC output: a DC charger offers only the DC namespace, so this is never asked for power."""
        return EvseCommand(target_power_w=0.0)

    async def dc_charge_loop(self, request: DCLoopRequest, now: float) -> DCCommand:
        """The policy's setpoint as an output current within the charger's limits and the EV's reported ones."""
        c = self.coupling
        decision = c.bench.dc_decision(c.now, c.next_loop_dt() or None)
        command = self.charger.command(decision.setpoint_w, self.ev_limits(request))
        self.setpoints += 1
        return DCCommand(
            present_voltage_v=command.voltage_v,
            present_current_a=command.current_a,
            target_power_w=decision.setpoint_w,
            power_limit_achieved=command.power_limited,
            current_limit_achieved=command.current_limited,
            voltage_limit_achieved=command.voltage_limited,
        )

    @staticmethod
    def ev_limits(request: DCLoopRequest) -> EVDCLimits:
        """The EV's limits from its charge-loop request (magnitudes; absent ones allow nothing)."""

        def magnitude(value: float | None) -> float:
            return abs(value) if value is not None else 0.0

        return EVDCLimits(
            max_voltage_v=magnitude(request.max_voltage_v),
            max_charge_current_a=magnitude(request.max_charge_current_a),
            max_charge_w=magnitude(request.max_charge_power_w),
            max_discharge_current_a=magnitude(request.max_discharge_current_a),
            max_discharge_w=magnitude(request.max_discharge_power_w),
        )

    async def welding_detection(self, now: float) -> DCOutput:
        """One DC step with the contactors open: the output bleeds down."""
        self.welding_checks += 1
        await self.coupling.advance_dc_step()
        return DCOutput(present_voltage_v=self.charger.output_v)

    async def meter(self, now: float) -> MeterReading:
        """DC energy at the output since the scenario started (Wh, both directions)."""
        ledger = self.coupling.bench.ledger
        return MeterReading(
            meter_id=self.meter_id,
            charged_wh=round(ledger.dc_in_wh),
            discharged_wh=round(ledger.dc_out_wh),
            timestamp=int(now),
        )

    async def report(self, report: SessionReport) -> None:
        """Keep the session's progress reports; when the session ends the output is switched off."""
        self.reports.append(report)
        if report.event == "session_ended":
            self.charger.end()
