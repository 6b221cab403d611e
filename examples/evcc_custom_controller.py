"""A car that powers the house down to a reserve: an EVCC driven by a custom EV controller (AC_BPT discharge).

Run ``python examples/evcc_custom_controller.py``: one in-memory session against the library's simple EVSE,
which asks for 7.4 kW of discharge. On a real car the link is TCP/TLS (see ``iso15118.transport.evcc_client``)
and the battery figures come from the BMS. The controller tells the library the EV's state before every
request and applies each power target the EVSE sends; it never lets the battery go below the reserve.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from iso15118.config import EvccConfig, SeccConfig
from iso15118.controller import ChargeDirection, ControlMode, EVLimits, EVState, SessionReport
from iso15118.simple import SimpleEVSE, SimpleEVSEConfig
from iso15118.transport.driver import SessionOutcome
from iso15118.transport.link import memory_pair
from iso15118.transport.runner import run_evcc_session, serve_secc_session


@dataclass
class ReserveCar:
    """An EVController: discharge on request until the state of charge reaches ``reserve_soc``, then stop."""

    soc: float
    reserve_soc: float = 20.0
    capacity_wh: float = 60_000.0
    max_w: float = 11_000.0
    power_w: float = 0.0
    """Power flowing now: positive charges, negative discharges (the -20 sign convention)."""
    last: float | None = None

    async def ev_state(self, now: float) -> EVState:
        self._advance(now)
        above = self.soc > self.reserve_soc
        if not above:
            self.power_w = 0.0  # the BMS stops the inverter at the reserve
        return EVState(
            soc=self.soc,
            present_power_w=self.power_w,
            target_energy_wh=self._energy_to(self.reserve_soc),
            max_energy_wh=self._energy_to(100.0),
            min_energy_wh=self._energy_to(self.reserve_soc),
            limits=EVLimits(max_charge_w=self.max_w, max_discharge_w=self.max_w if above else 0.0, bidirectional=True),
            direction=ChargeDirection.DISCHARGE,
            max_v2x_energy_wh=self._energy_to(100.0),
            min_v2x_energy_wh=self._energy_to(self.reserve_soc),  # the reserve bounds the V2X window
            finished=not above,  # at the reserve: PowerDelivery(Stop), SessionStop(Terminate)
        )

    async def apply_power(self, target_w: float | None, now: float) -> float:
        self._advance(now)
        wanted = -self.max_w if target_w is None else target_w
        # Discharge only, never beyond our limit, and not at all once the reserve is reached.
        self.power_w = max(-self.max_w, min(0.0, wanted)) if self.soc > self.reserve_soc else 0.0
        return self.power_w

    async def report(self, report: SessionReport) -> None:
        print(f"  car: {report.event} {report.detail} (SoC {self.soc:.4f} %)")

    def _energy_to(self, soc: float) -> float:
        return (soc - self.soc) / 100.0 * self.capacity_wh

    def _advance(self, now: float) -> None:
        if self.last is not None:
            self.soc += 100.0 * self.power_w * (now - self.last) / 3600.0 / self.capacity_wh
        self.last = now


async def main(soc: float = 20.005) -> tuple[SessionOutcome, SessionOutcome, ReserveCar, SimpleEVSE]:
    """Run one session: the house asks for 7.4 kW until the car reaches its 20 % reserve."""
    car = ReserveCar(soc=soc)
    house = SimpleEVSE(SimpleEVSEConfig(setpoint_w=-7_400.0))
    ev_link, secc_link = memory_pair()
    secc = asyncio.create_task(serve_secc_session(secc_link, house, SeccConfig()))
    config = EvccConfig(control_mode=ControlMode.DYNAMIC, bidirectional=True, loop_interval_s=0.1)
    ev_outcome = await run_evcc_session(ev_link, car, config)
    return ev_outcome, await secc, car, house


if __name__ == "__main__":
    ev_outcome, secc_outcome, car, house = asyncio.run(main())
    print(f"session {ev_outcome.session_id.hex()}: {ev_outcome.ended.reason} after {ev_outcome.loops} loops")
    print(f"SoC {car.soc:.4f} % (reserve {car.reserve_soc} %); EVSE metered {house.discharged_wh:.2f} Wh discharged")
