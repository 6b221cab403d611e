"""The bench's chargers as charging stations of a CSMS (``v2g sim ... --csms URL``).

With a CSMS, the wall connector (or the DC charger) is an OCPP 2.1 charging station: its SECC's controller is
wrapped by the backend (:mod:`iso15118.backend.controller`), so the CSMS authorizes the truck, receives every
TransactionEvent, and steers the session with charging profiles. The scenario's grid-support events are then
*not* answered by the bench's own policy: the CSMS must dispatch them (the reference CSMS does so with
``--grid-event``), and the station turns the CentralSetpoint of its TxProfile into the truck's AC_BPT (or DC_BPT)
targets, within the limits the truck reports (never below its reserve). The events still define the windows whose
export is compensated.

The station's clock is the bench's: :data:`SIM_DATE` at the scenario's start hour (UTC) plus the simulated time,
so the v2g-grid-event scenario's event is 17:00-20:00 UTC on that day. Before every step of the physics the bench
waits until the station's messages are delivered (the outbox is empty), so the CSMS sees the session as it
happens, however fast the simulation runs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Final

from harness.virtual.coupling import Coupling
from iso15118.backend.controller import Backend, DCStationController, StationController
from iso15118.backend.outbox import Outbox
from iso15118.backend.rpc import OcppVersion
from iso15118.backend.station import Station, StationConfig
from iso15118.controller import DCEVSEController, EVSEController
from iso15118.transport.ocpp_link import CsmsConfig, OcppLink

__all__ = ["SIM_DATE", "CsmsReport", "SimStation", "sim_station"]

SIM_DATE: Final = dt.datetime(2025, 6, 2, tzinfo=dt.UTC)
"""The day every simulated scenario takes place on (the station's clock), at the scenario's start hour."""

_ONLINE_S: Final = 20.0
_DRAIN_S: Final = 10.0


class _Delegating:
    """Reads what the bench's verdict reads (refusal, lost power, setpoints) from the wrapped charger."""

    inner: Any

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _BenchStation(_Delegating, StationController):
    """The wall connector as a station."""


class _BenchDCStation(_Delegating, DCStationController):
    """The DC charger as a station."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CsmsReport:
    """What the station and the CSMS exchanged during the run."""

    url: str
    version: str
    profiles: int
    """Charging profiles the CSMS installed (grid-support dispatches)."""
    delivered: int
    """Messages of the outbox the CSMS acknowledged."""
    pending: int
    """Still undelivered when the run ended."""

    def lines(self) -> list[str]:
        """For the text report."""
        return [
            f"  csms: {self.url} (OCPP {self.version}): {self.profiles} charging profiles received, "
            f"{self.delivered} transaction messages delivered, {self.pending} undelivered"
        ]


class SimStation:
    """The charger's station: wraps the bench's controllers and waits for delivery between steps."""

    def __init__(self, backend: Backend, link: OcppLink) -> None:
        self.backend = backend
        self.link = link

    def evse(self, make: Callable[[Coupling], Any]) -> Callable[[Coupling], Any]:
        """The bench's charger factory, each charger wrapped as this station's controller."""

        def wrapped(coupling: Coupling) -> Any:
            inner: EVSEController = make(coupling)
            if isinstance(inner, DCEVSEController):
                return _BenchDCStation(self.backend, inner)
            return _BenchStation(self.backend, inner)

        return wrapped

    async def settle(self) -> None:
        """Until the station's messages are delivered (or the CSMS is unreachable)."""
        if self.link.station.outbox.pending:
            await self.link.drain(_DRAIN_S)

    def report(self) -> CsmsReport:
        """What was exchanged."""
        return CsmsReport(
            url=self.link.config.url,
            version=self.link.version.value,
            profiles=self.backend.station.profiles.installed,
            delivered=self.link.delivered,
            pending=self.link.station.outbox.pending,
        )


@contextlib.asynccontextmanager
async def sim_station(
    url: str, coupling: Coupling, version: OcppVersion = OcppVersion.V21
) -> AsyncIterator[SimStation]:
    """The station of the bench's charger, connected to the CSMS at ``url`` while the run lasts."""
    start = SIM_DATE.timestamp() + coupling.bench.scenario.start_hour * 3600.0

    def clock() -> float:
        return start + coupling.now

    outbox = Outbox()
    # A meter value every 15 simulated minutes: a day is 96 of them.
    station = Station(StationConfig(version=version, sample_interval_s=900.0, model="Wall Connector"), outbox)
    link = OcppLink(CsmsConfig(url=url, reconnect_min_s=0.1, reconnect_max_s=1.0), station, clock=clock)
    backend = Backend(station, link, clock)
    bench = coupling.bench
    bench.follow_events = False
    await link.start()
    try:
        await link.wait_online(_ONLINE_S)
        coupling.settle = SimStation(backend, link).settle
        yield SimStation(backend, link)
        await link.drain(_DRAIN_S)
    finally:
        coupling.settle = None
        bench.follow_events = True
        await link.stop()
        outbox.close()
