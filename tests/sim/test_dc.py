"""The virtual DC charger and the truck's DC side on the real -20 stack: the devices driven directly, what the wire
carries in a whole DC session, the truck's limits obeyed message by message, an insulation fault, and the CLI."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from matplotlib.image import imread

from harness.bench import Bench, load_scenario
from harness.bench.dccharger import DCPhase
from harness.cli import main
from harness.virtual.coupling import Coupling, Stepping
from harness.virtual.dcevse import VirtualDCCharger
from harness.virtual.ev import VirtualCybertruck, carried_up
from harness.virtual.runner import evcc_config, secc_config, simulate
from iso15118.constants import NS_ISO20_DC
from iso15118.controller import DCLoopRequest, IsolationStatus, PowerDeliveryRequest, SessionReport
from iso15118.messages.units import rational, value_of
from iso15118.session.events import EndReason
from iso15118.session.selection import EnergyFamily

from .conftest import RunSim

pytestmark = pytest.mark.timeout(120)


def _coupling(name: str) -> Coupling:
    return Coupling(Bench(load_scenario(name)), Stepping())


def _collapse(names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        if not out or out[-1] != name:
            out.append(name)
    return out


def _value(number: dict[str, int]) -> float:
    return float(number["Value"] * 10.0 ** number["Exponent"])


def _messages(path: Path, role: str, direction: str) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in rows if r["event"] == "message" and r["role"] == role and r["direction"] == direction]


# -- the devices, driven directly ------------------------------------------------------------------------------


def test_configs_choose_the_dc_namespace_from_the_scenario() -> None:
    dc, ac = load_scenario("dc-fast-charge"), load_scenario("charge")
    assert evcc_config(dc).energy is EnergyFamily.DC and evcc_config(ac).energy is EnergyFamily.AC
    assert evcc_config(dc).offered_protocols == (NS_ISO20_DC,)
    assert dc.vehicle.dc is not None and evcc_config(dc).precharge_tolerance_v == dc.vehicle.dc.precharge_tolerance_v
    assert secc_config(dc).protocols == (NS_ISO20_DC,) and secc_config(dc).control_modes == (2,)
    assert set(secc_config(dc).services) == {2, 6}  # DC and DC_BPT; the latter only offered by a bidirectional charger


def test_the_coupling_steps_dc_exchanges_and_keeps_time_for_the_stop() -> None:
    coupling = _coupling("dc-fast-charge")
    run = coupling.bench.scenario.run
    assert coupling.coarse_dt_s == run.loop_dt_s  # the scenario's loop step, not the AC default
    assert coupling.connector_powered() and coupling.plugged and coupling.session_due()
    assert coupling.dc_stop_at is not None and coupling.dc_stop_at < coupling.end
    coupling.bench.step(0.0, coupling.dc_stop_at - 1.0, 0.0)
    assert coupling.next_loop_dt() == pytest.approx(1.0)  # the last loop step ends where the stop must begin
    assert not coupling.loop_over


@pytest.mark.asyncio
async def test_the_dc_charger_runs_each_dc_step_on_simulated_time() -> None:
    coupling = _coupling("dc-fast-charge")
    charger = VirtualDCCharger(coupling)
    params = charger.charger.params
    step = coupling.dc_step_s
    limits = await charger.dc_limits(0.0)
    assert (limits.max_voltage_v, limits.max_charge_current_a, limits.max_charge_power_w) == (
        params.max_voltage_v,
        params.max_charge_current_a,
        params.max_charge_power_w,
    )
    assert not limits.bidirectional and limits.max_discharge_power_w == 0.0
    checks = [await charger.cable_check(0.0) for _ in range(round(params.insulation_test_s / step))]
    assert [c.done for c in checks] == [False] * (len(checks) - 1) + [True]
    assert checks[-1].status is IsolationStatus.VALID
    assert coupling.now == pytest.approx(params.insulation_test_s) and coupling.dc_steps == len(checks)
    out = await charger.precharge(670.0, 5.0, 0.0)
    assert out.present_voltage_v == pytest.approx(params.precharge_ramp_v_per_s * step)
    assert out.present_current_a == params.precharge_current_a  # 5 A asked, 2 A driven
    while abs(out.present_voltage_v - 670.0) > 1e-9:
        out = await charger.precharge(670.0, 2.0, 0.0)
    assert await charger.power_delivery(PowerDeliveryRequest(progress="Start", discharge=False), 0.0)
    request = DCLoopRequest(
        present_voltage_v=670.0, max_charge_power_w=100_000.0, max_charge_current_a=120.0, max_voltage_v=870.0
    )
    cmd = await charger.dc_charge_loop(request, 0.0)
    assert cmd.present_current_a == pytest.approx(120.0) and cmd.current_limit_achieved  # the truck's current
    request = dataclasses.replace(request, max_charge_current_a=400.0)
    cmd = await charger.dc_charge_loop(request, 0.0)
    assert cmd.present_current_a * cmd.present_voltage_v == pytest.approx(100_000.0)  # the truck's power
    assert cmd.power_limit_achieved and charger.setpoints == 2
    await charger.power_delivery(PowerDeliveryRequest(progress="Stop", discharge=False), 0.0)
    voltages = [(await charger.welding_detection(0.0)).present_voltage_v for _ in range(4)]
    assert voltages == sorted(voltages, reverse=True) and voltages[-1] < voltages[0] < 670.0
    await charger.report(SessionReport(event="session_ended", detail="terminated"))
    assert charger.charger.phase is DCPhase.IDLE and not charger.charger.contactors_closed


@pytest.mark.asyncio
async def test_the_truck_reports_its_dc_side() -> None:
    coupling = _coupling("dc-fast-charge")
    truck = VirtualCybertruck(coupling)
    state = await truck.ev_state(0.0)
    dc = coupling.bench.scenario.vehicle.dc
    assert dc is not None
    assert state.present_voltage_v == state.target_voltage_v == pytest.approx(dc.pack_voltage(10.0))
    lim = state.limits
    assert (lim.max_voltage_v, lim.min_voltage_v) == (dc.max_voltage_v, dc.min_voltage_v)
    assert lim.max_charge_w == dc.taper_w(10.0)
    assert lim.max_charge_current_a is not None and lim.max_charge_current_a >= dc.taper_w(10.0) / dc.pack_voltage(10.0)
    assert lim.max_charge_current_a == value_of(rational(lim.max_charge_current_a))  # carried exactly
    assert not state.finished and state.direction.value == "charge"


def test_limits_are_rounded_up_to_what_the_protocol_carries() -> None:
    for value in (0.0, 1e-9, 0.0766, 111.86258, 14219.075, 32767.5, 250_000.0, 373.134):
        up = carried_up(value)
        assert up >= value and value_of(rational(up)) == up
        assert up - value <= max(1e-3, 1e-3 * value)


# -- whole sessions -------------------------------------------------------------------------------------------


def test_a_dc_fast_charge_on_the_wire(run_sim: RunSim) -> None:
    result = run_sim("dc-fast-charge", "memory", trace=True)
    assert result.trace_file is not None
    sent = _messages(result.trace_file, "evcc", "tx")
    got = _messages(result.trace_file, "evcc", "rx")
    assert _collapse([r["message"] for r in sent]) == [
        "supportedAppProtocolReq",
        "SessionSetupReq",
        "AuthorizationSetupReq",
        "AuthorizationReq",
        "ServiceDiscoveryReq",
        "ServiceDetailReq",
        "ServiceSelectionReq",
        "DC_ChargeParameterDiscoveryReq",
        "ScheduleExchangeReq",
        "DC_CableCheckReq",
        "DC_PreChargeReq",
        "PowerDeliveryReq",
        "DC_ChargeLoopReq",
        "PowerDeliveryReq",
        "DC_WeldingDetectionReq",
        "SessionStopReq",
    ]
    protocols = sent[0]["json"]["supportedAppProtocolReq"]["AppProtocol"]
    assert [p["ProtocolNamespace"] for p in protocols] == [NS_ISO20_DC]
    selection = next(r for r in sent if r["message"] == "ServiceSelectionReq")
    assert selection["json"]["ServiceSelectionReq"]["SelectedEnergyTransferService"]["ServiceID"] == 2  # DC
    sc = result.scenario
    assert sc.dc_charger is not None and sc.vehicle.dc is not None
    # The insulation test: Ongoing for its declared time in DC steps, then Finished.
    checks = [r["json"]["DC_CableCheckRes"]["EVSEProcessing"] for r in got if r["message"] == "DC_CableCheckRes"]
    assert checks == ["Ongoing"] * (len(checks) - 1) + ["Finished"]
    assert len(checks) * sc.run.dc_step_s == pytest.approx(sc.dc_charger.insulation_test_s)
    # Precharge: the output rises at the ramp rate to the pack's voltage.
    pre = [_value(r["json"]["DC_PreChargeRes"]["EVSEPresentVoltage"]) for r in got if r["message"] == "DC_PreChargeRes"]
    target = _value(
        next(r for r in sent if r["message"] == "DC_PreChargeReq")["json"]["DC_PreChargeReq"]["EVTargetVoltage"]
    )
    assert target == pytest.approx(sc.vehicle.dc.pack_voltage(sc.settings.start_soc_pct))
    ramp = sc.dc_charger.precharge_ramp_v_per_s * sc.run.dc_step_s
    assert pre == pytest.approx([min(target, ramp * (i + 1)) for i in range(len(pre))])
    assert abs(pre[-2] - target) <= sc.vehicle.dc.precharge_tolerance_v < abs(pre[-3] - target)  # then Finished
    # Every loop response's current within what the truck asked for in that very request (as carried).
    loop_reqs = [r["json"]["DC_ChargeLoopReq"] for r in sent if r["message"] == "DC_ChargeLoopReq"]
    loop_res = [r["json"]["DC_ChargeLoopRes"] for r in got if r["message"] == "DC_ChargeLoopRes"]
    assert len(loop_reqs) == len(loop_res) == result.sessions[0].loops > 0
    for req, res in zip(loop_reqs, loop_res, strict=True):
        mode = req["Dynamic_DC_CLReqControlMode"]
        amps, volts = _value(res["EVSEPresentCurrent"]), _value(res["EVSEPresentVoltage"])
        assert 0.0 <= amps <= _value(mode["EVMaximumChargeCurrent"]) + 1e-3
        assert amps * volts <= _value(mode["EVMaximumChargePower"]) * (1.0 + 1e-3) + 1.0
        assert volts <= _value(mode["EVMaximumVoltage"])
    # Welding detection: the output falls once the contactors open, to below the touch-safe voltage.
    weld = [
        _value(r["json"]["DC_WeldingDetectionRes"]["EVSEPresentVoltage"])
        for r in got
        if r["message"] == "DC_WeldingDetectionRes"
    ]
    assert weld == sorted(weld, reverse=True) and weld[-1] < 60.0
    assert result.sessions[0].evcc is not None and not result.sessions[0].evcc.notes  # no welding give-up


def test_a_dc_bpt_session_discharges_for_the_event(run_sim: RunSim) -> None:
    result = run_sim("dc-bpt-grid-event", "memory")
    (record,) = result.sessions
    assert record.service == "DC_BPT dynamic" and record.ok
    assert record.evcc is not None and record.evcc.negotiated["energy_mode"] == "DC_BPT"
    assert record.meter_discharged_wh is not None and record.meter_discharged_wh > 0
    event = result.scenario.events[0]
    inside = [s for s in result.trace.samples if event.window.start_s <= s.t < event.window.end_s]
    assert inside and all(
        s.dc is not None and s.dc.inlet_w == pytest.approx(-event.request_w, rel=1e-3) for s in inside
    )


def test_an_insulation_fault_refuses_the_charge() -> None:
    scenario = load_scenario("dc-fast-charge")
    assert scenario.dc_charger is not None
    faulty = dataclasses.replace(scenario.dc_charger, insulation_result=IsolationStatus.FAULT)
    result = simulate(dataclasses.replace(scenario, dc_charger=faulty))
    (record,) = result.sessions
    assert record.ok and "insulation test ended Fault" in record.expected
    assert record.evcc is not None and record.evcc.ended.reason is EndReason.FAILED_RECEIVED
    assert record.evcc.ended.response_code == "FAILED"
    assert record.loops == 0 and result.summary.dc is not None and result.summary.dc.into_truck_wh == 0.0
    assert result.ok


# -- the command line -------------------------------------------------------------------------------------------


def test_cli_text_json_and_plot_of_a_dc_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    png = tmp_path / "dc.png"
    assert main(["sim", "dc-fast-charge", "--no-progress", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    for needle in (
        "scenario dc-fast-charge",
        "SoC 10.0 % -> 80.0 %",
        "DC charger      Generic 350 kW DC fast charger",
        "DC into truck      87.86 kWh",
        "insulation test 4.00 s, precharge 3.75 s, contactors closed at 670.0 V",
        "session #1 ISO 15118-20 DC dynamic 0.00 h-0.51 h: ok charge limit reached",
        "DC steps (0.25 s each)",
        "invariants: all hold",
        "result: ok",
    ):
        assert needle in out, needle
    image = imread(png)
    assert image.shape[0] > 1000  # five panels: the DC output's voltage and current added
    assert main(["sim", "dc-bpt-grid-event", "--no-progress", "--json", "--link", "loopback"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["dc"]["charger"] == "Generic 20 kW bidirectional DC charger"
    assert data["dc"]["out_of_truck_wh"] == pytest.approx(30_000.0, rel=1e-3)
    assert data["sim"]["sessions"][0]["service"] == "DC_BPT dynamic" and data["sim"]["dc_steps"] > 0
    assert main(["sim", "--list"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "DC port session" in rows["dc-fast-charge"] and "AC port session" in rows["charge"]
