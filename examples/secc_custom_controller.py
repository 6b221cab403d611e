"""A solar wallbox: an SECC whose EVSE controller follows the solar surplus, then pauses the session.

Run ``python examples/secc_custom_controller.py``: one in-memory session against the library's simple EV.
On a real charger the link is TCP/TLS (see ``iso15118.transport.secc_server``) and ``surplus_w`` reads the
house meter. The controller is the whole integration: the library asks it for limits, an authorization
decision, contactor actions, a setpoint per charge loop and meter readings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from iso15118.config import EvccConfig, SeccConfig
from iso15118.controller import (
    AuthorizationDecision,
    ControlMode,
    EvseCommand,
    EVSELimits,
    MeterReading,
    Notification,
    PowerDeliveryRequest,
    SessionReport,
)
from iso15118.simple import SimpleEV
from iso15118.transport.driver import SessionOutcome
from iso15118.transport.link import memory_pair
from iso15118.transport.runner import run_evcc_session, serve_secc_session


@dataclass
class SolarWallbox:
    """An EVSEController: charge with the solar surplus (Dynamic mode), notify Pause after ``pause_after_s``."""

    surplus_w: Callable[[float], float]
    """Solar power the house does not use (W), by seconds since charging started."""
    pause_after_s: float
    """When to pause the session: the sun sets, a tariff window closes..."""
    max_w: float = 11_000.0
    min_w: float = 1_400.0
    """Below this the EV cannot charge: the setpoint drops to 0 rather than import from the grid."""
    energy_wh: float = 0.0
    power_w: float = 0.0
    last: float | None = None
    started: float | None = None
    setpoints: list[float] = field(default_factory=list)
    ev_power: list[float] = field(default_factory=list)

    async def evse_limits(self, now: float) -> EVSELimits:
        # Not bidirectional: the SECC offers AC only (no AC_BPT).
        return EVSELimits(max_charge_w=self.max_w, min_charge_w=self.min_w, three_phase=True)

    async def authorize(self, evcc_id: str, emaid: str | None, now: float) -> AuthorizationDecision:
        return AuthorizationDecision.ACCEPTED  # a private wallbox: every car may charge

    async def power_delivery(self, request: PowerDeliveryRequest, now: float) -> bool:
        self._meter(now)
        return not request.discharge  # close the contactors for charging only

    async def charge_loop(self, ev_present_power_w: float, ev_state: dict[str, float], now: float) -> EvseCommand:
        self._meter(now)
        self.power_w = ev_present_power_w
        self.ev_power.append(ev_present_power_w)
        if self.started is None:
            self.started = now
        if now - self.started >= self.pause_after_s:
            return EvseCommand(target_power_w=0.0, notification=Notification.PAUSE)
        surplus = self.surplus_w(now - self.started)
        target = min(self.max_w, surplus) if surplus >= self.min_w else 0.0
        self.setpoints.append(target)
        return EvseCommand(target_power_w=target)

    async def meter(self, now: float) -> MeterReading:
        self._meter(now)
        return MeterReading(meter_id="SOLAR-WB-1", charged_wh=round(self.energy_wh), timestamp=int(now))

    async def report(self, report: SessionReport) -> None:
        print(f"  wallbox: {report.event} {report.detail}")

    def _meter(self, now: float) -> None:
        if self.last is not None:
            self.energy_wh += max(0.0, self.power_w) * (now - self.last) / 3600.0
        self.last = now


async def main(duration_s: float = 1.5) -> tuple[SessionOutcome, SessionOutcome, SolarWallbox]:
    """Run one session: a cloud passes (6 kW, then 1 kW, then 9 kW of surplus), then the wallbox pauses."""

    def surplus(t: float) -> float:
        part = t / duration_s
        return 6_000.0 if part < 0.4 else 1_000.0 if part < 0.6 else 9_000.0

    wallbox = SolarWallbox(surplus_w=surplus, pause_after_s=duration_s)
    ev_link, secc_link = memory_pair()
    secc = asyncio.create_task(serve_secc_session(secc_link, wallbox, SeccConfig(evse_id="DE*SOL*E1")))
    ev = EvccConfig(control_mode=ControlMode.DYNAMIC, loop_interval_s=0.05)
    ev_outcome = await run_evcc_session(ev_link, SimpleEV(), ev)
    return ev_outcome, await secc, wallbox


if __name__ == "__main__":
    ev_outcome, secc_outcome, wallbox = asyncio.run(main())
    steps = sorted(set(wallbox.setpoints), key=wallbox.setpoints.index)
    print(f"session {secc_outcome.session_id.hex()}: {secc_outcome.ended.reason} after {secc_outcome.loops} loops")
    print(f"setpoints {' -> '.join(f'{w:.0f} W' for w in steps)}; metered {wallbox.energy_wh:.2f} Wh")
