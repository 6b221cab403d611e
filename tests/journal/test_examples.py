"""The examples: each runs on its own as a script, and imported, its session does what the example promises."""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from iso15118.session.events import EndReason

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve string annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def test_solar_wallbox_follows_the_surplus_then_pauses() -> None:
    example = _load("secc_custom_controller")
    ev_outcome, secc_outcome, wallbox = asyncio.run(example.main(duration_s=1.0))
    assert ev_outcome.ended.reason is EndReason.PAUSED and secc_outcome.ended.reason is EndReason.PAUSED
    assert ev_outcome.negotiated["notifications"] == ["Pause"]
    assert secc_outcome.negotiated["service_id"] == 1  # not bidirectional: AC only
    assert secc_outcome.negotiated["control_mode"] == "dynamic"
    steps = [w for i, w in enumerate(wallbox.setpoints) if i == 0 or wallbox.setpoints[i - 1] != w]
    assert steps == [6000.0, 0.0, 9000.0]  # the cloud: 6 kW, 1 kW (below the EV's minimum: 0), 9 kW
    # The EV applied every setpoint: the power it reported next equals the setpoint it was given.
    assert wallbox.ev_power[1 : len(wallbox.setpoints) + 1] == wallbox.setpoints
    assert secc_outcome.loops == len(wallbox.ev_power) and wallbox.energy_wh > 0


def test_reserve_car_discharges_to_its_reserve_and_stops() -> None:
    example = _load("evcc_custom_controller")
    start_soc = 20.003
    ev_outcome, secc_outcome, car, house = asyncio.run(example.main(soc=start_soc))
    assert ev_outcome.ended.reason is EndReason.TERMINATED and secc_outcome.ok
    assert secc_outcome.negotiated["service_id"] == 5 and secc_outcome.negotiated["bpt_channel"] == "Discharge"
    readings = ev_outcome.meter_readings
    period = max(b["at"] - a["at"] for a, b in itertools.pairwise(readings))
    one_loop_pct = 100.0 * car.max_w * period / 3600.0 / car.capacity_wh
    # Stopped at the reserve: never more than one loop's worth of energy past it.
    assert car.reserve_soc - one_loop_pct <= car.soc <= car.reserve_soc
    drawn_wh = (start_soc - car.soc) / 100.0 * car.capacity_wh
    one_loop_wh = 7_400.0 * period / 3600.0
    # The EVSE meters the power the EV reports each loop: it misses at most the first and the last intervals.
    assert drawn_wh - 3 * one_loop_wh <= house.discharged_wh <= drawn_wh + one_loop_wh
    assert house.charged_wh == 0.0 and car.power_w == 0.0


@pytest.mark.parametrize(
    ("name", "expected"),
    [("secc_custom_controller", "paused after"), ("evcc_custom_controller", "terminated after")],
)
def test_examples_run_as_scripts(name: str, expected: str) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py")], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout
