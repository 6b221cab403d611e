"""The virtual Universal Wall Connector as the SECC sees it: an :class:`~iso15118.controller.EVSEController`.

Owns :class:`VirtualWallConnector`. Its decisions are the bench's wall connector, Powershare Gateway and
policy (:meth:`~harness.bench.bench.Bench.decision`: charge, carry the home in an outage, answer a grid
event, follow the Powerwall's threshold rules); the EV side of each decision comes from the protocol: the
setpoint is bounded by the maximum charge and discharge powers the truck reported in the very
AC_ChargeLoopReq being answered. Meter readings are the bench's AC energy through the charge port
(cumulative, like a real meter register).

Two behaviours matter beyond the happy path:

* **Power loss.** The connector hangs on the home's panel. When the home stays dark longer than the
  gateway's transfer time (no backup, or the truck reached its reserve), the connector is off: it stops
  answering, exactly like a box without power, and the truck's V2G_EVCC_Msg_Timeout ends the session.
* **The loop myth.** Fed from the truck's own outlet, the connector has no energy it may offer to that
  truck: it reports 0 W in both directions (and no AC_BPT). The truck's minimum charge power is above
  that, so the SECC answers AC_ChargeParameterDiscoveryReq with ``FAILED_WrongChargeParameter`` and the
  session ends before any power flows.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import ClassVar, Final

from harness.bench import Reason
from harness.virtual.coupling import Coupling
from iso15118.controller import (
    AuthorizationDecision,
    EvseCommand,
    EVSELimits,
    MeterReading,
    PowerDeliveryRequest,
    SessionReport,
)

__all__ = ["NOMINAL_FREQUENCY_HZ", "VirtualWallConnector"]

NOMINAL_FREQUENCY_HZ: Final = 60.0
"""North American split-phase supply (the bench's data give 240 V and no frequency)."""


@dataclass
class VirtualWallConnector:
    """An EVSE controller over the bench's wall connector, gateway and policy."""

    coupling: Coupling
    meter_id: str = "UWC-METER-1"
    reports: list[SessionReport] = field(default_factory=list, init=False)
    refusal: str | None = field(default=None, init=False)
    """Why the connector offered no power (the loop myth), if it did so."""
    refusal_code: ClassVar[str] = "FAILED_WrongChargeParameter"
    """What the SECC answers then (to AC_ChargeParameterDiscoveryReq: 0 W cannot meet the truck's minimum)."""
    lost_power_at: float | None = field(default=None, init=False)
    """Simulated time at which the connector found itself without power (and stopped answering)."""
    setpoints: int = field(default=0, init=False)
    discharge_selected: bool = field(default=False, init=False)
    _never: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)

    async def _powered(self) -> None:
        """Return if the connector has power; otherwise hang until the session is torn down."""
        c = self.coupling
        if c.connector_powered():
            return
        if self.lost_power_at is None:
            self.lost_power_at = c.now
        await self._never.wait()  # a box without power answers nothing; the runner cancels this session

    def _loop_fed(self) -> bool:
        return self.coupling.bench.decision(self.coupling.now).reason is Reason.LOOP_REFUSED

    async def evse_limits(self, now: float) -> EVSELimits:
        """The connector's rating both ways (0 W when fed from the truck's own outlet)."""
        await self._powered()
        bench = self.coupling.bench
        params = bench.scenario.wall_connector
        if self._loop_fed():
            self.refusal = "fed from the truck's own outlet: no power to offer it"
            return EVSELimits(
                max_charge_w=0.0,
                max_discharge_w=0.0,
                nominal_voltage_v=params.nominal_voltage_v,
                nominal_frequency_hz=NOMINAL_FREQUENCY_HZ,
                bidirectional=False,
            )
        connector = bench.connector
        return EVSELimits(
            max_charge_w=connector.max_charge_w,
            max_discharge_w=connector.max_discharge_w,
            nominal_voltage_v=params.nominal_voltage_v,
            nominal_frequency_hz=NOMINAL_FREQUENCY_HZ,
            bidirectional=params.bidirectional,
        )

    async def authorize(self, evcc_id: str, emaid: str | None, now: float) -> AuthorizationDecision:
        """The owner's own connector: every EIM request is accepted."""
        await self._powered()
        return AuthorizationDecision.ACCEPTED

    async def power_delivery(self, request: PowerDeliveryRequest, now: float) -> bool:
        """The contactor follows Start / Stop / Standby; the BPT channel is noted."""
        await self._powered()
        self.discharge_selected = request.discharge
        return True

    async def charge_loop(self, ev_present_power_w: float, ev_state: dict[str, float], now: float) -> EvseCommand:
        """The policy's setpoint now, bounded by the limits the truck reported in this request."""
        await self._powered()
        c = self.coupling
        target = c.bench.decision(c.now).setpoint_w
        # Never ask more than the EV just said it can do (magnitudes; Amendment 1 peers may send them negative).
        # An ISO 15118-2 ChargingStatusReq carries no EV limits: its maximum was bounded at ChargeParameterDiscovery
        # (the SECC's schedule and the EV's own clamp hold it), so charging is not bounded here; -2 never discharges.
        max_charge = abs(ev_state.get("ev_maximum_charge_power", math.inf))
        max_discharge = abs(ev_state.get("ev_maximum_discharge_power", 0.0))  # absent on plain AC: no discharge
        target = max(-max_discharge, min(max_charge, target))
        self.setpoints += 1
        return EvseCommand(target_power_w=target)

    async def meter(self, now: float) -> MeterReading:
        """AC energy through the charge port since the scenario started (Wh, both directions)."""
        ledger = self.coupling.bench.ledger
        return MeterReading(
            meter_id=self.meter_id,
            charged_wh=round(ledger.port_in_wh),
            discharged_wh=round(ledger.port_out_wh),
            timestamp=int(now),
        )

    async def report(self, report: SessionReport) -> None:
        """Keep the session's progress reports."""
        self.reports.append(report)
