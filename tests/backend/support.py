"""Helpers of the backend tests: a station (backend + OCPP link) connected to a reference CSMS on [::1]."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.csms import ReferenceCsms
from iso15118.backend.controller import Backend
from iso15118.backend.outbox import Outbox
from iso15118.backend.rpc import OcppVersion
from iso15118.backend.station import Station, StationConfig
from iso15118.certificates import CertificateProvider
from iso15118.transport.ocpp_link import CsmsConfig, OcppLink

DEADLINE = 20.0


@dataclass
class Charger:
    """One station: its backend, its link, its outbox."""

    backend: Backend
    link: OcppLink
    outbox: Outbox

    @property
    def station(self) -> Station:
        return self.backend.station


@contextlib.asynccontextmanager
async def charger(
    csms: ReferenceCsms,
    station_id: str = "CS1",
    *,
    version: OcppVersion = OcppVersion.V201,
    outbox: Path | None = None,
    certificates: CertificateProvider | None = None,
    clock: Callable[[], float] = time.time,
    online: bool = True,
    **config: Any,
) -> AsyncIterator[Charger]:
    """A station connected to ``csms`` (waits until it is accepted unless ``online`` is False)."""
    box = Outbox(outbox)
    station = Station(StationConfig(version=version, **config), box)
    link = OcppLink(
        CsmsConfig(url=csms.url(station_id), reconnect_min_s=0.05, reconnect_max_s=0.2), station, clock=clock
    )
    station.recover(clock())
    backend = Backend(station, link, clock, certificates=certificates)
    await link.start()
    try:
        if online:
            await link.wait_online(DEADLINE)
        yield Charger(backend=backend, link=link, outbox=box)
    finally:
        await link.stop()
        box.close()


async def until(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    """Wait (polling) until ``condition()`` holds; fail naming ``what`` after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
