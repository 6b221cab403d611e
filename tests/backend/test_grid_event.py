"""`v2g sim v2g-grid-event --csms URL`: the CSMS dispatches the grid-support event as a 2.1 discharge profile; the
wall connector's SECC turns it into the truck's AC_BPT targets; energy is exported on the CSMS's command only, and
never below the owner's reserve (set to 70 % here, so the truck reaches it before the event ends)."""

from __future__ import annotations

import asyncio
import json

from harness.bench import load_scenario
from harness.csms import CsmsSettings, ReferenceCsms, parse_grid_event
from harness.virtual.runner import SimOptions, SimResult, adjust_scenario, run_simulation

RESERVE = 70.0


def _run(*grid_events: str) -> tuple[SimResult, ReferenceCsms]:
    async def main() -> tuple[SimResult, ReferenceCsms]:
        settings = CsmsSettings(grid_events=tuple(parse_grid_event(e) for e in grid_events))
        async with ReferenceCsms(settings) as csms:
            scenario = adjust_scenario(load_scenario("v2g-grid-event"), reserve_pct=RESERVE)
            result = await run_simulation(scenario, SimOptions(csms=csms.url("UWC1")))
            return result, csms

    return asyncio.run(main())


def test_the_csms_dispatch_exports_energy_and_the_reserve_holds() -> None:
    result, csms = _run("17:00-20:00/8000")
    summary = result.summary
    assert result.ok, result.summary.violations
    assert result.csms is not None and result.csms.profiles == 1 and result.csms.pending == 0
    profile = next(json.loads(f["text"])[3] for f in csms.records.frames("UWC1") if f["action"] == "SetChargingProfile")
    period = profile["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]
    assert period["operationMode"] == "CentralSetpoint" and period["setpoint"] == -8000
    # Exported on command, paid for, and stopped at the reserve before the 24 kWh asked were given.
    assert summary.truck_to_grid_wh > 1000.0 and 0.0 < summary.port_out_wh < 24_000.0
    assert summary.grid_support_wh > 0 and summary.compensation > 0
    assert summary.reserve_respected and summary.soc_min_pct >= RESERVE - 0.05
    events = csms.records.transaction_events("UWC1")
    exported = [
        float(v["value"])
        for e in events
        for v in e.get("meterValue", [{}])[0].get("sampledValue", [])
        if v["measurand"] == "Power.Active.Export"
    ]
    assert max(exported) > 0  # the CSMS saw the discharge in the meter values
    assert [e["seqNo"] for e in events] == list(range(len(events))) and csms.records.invalid() == []


def test_without_a_dispatch_the_truck_does_not_export() -> None:
    result, _ = _run()
    assert result.ok and result.csms is not None and result.csms.profiles == 0
    assert result.summary.truck_to_grid_wh == 0.0 and result.summary.compensation == 0.0
