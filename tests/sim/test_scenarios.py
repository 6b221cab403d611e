"""Every shipped scenario over every link: physics invariants, session outcomes, agreement with the bench alone.

The memory and loopback runs always run; the veth runs need root (network namespaces) and skip otherwise.
"""

from __future__ import annotations

import pytest

from harness.bench import check_invariants, load_scenario, outage_transfers, run_physics_only, scenario_names
from harness.bench.dcparams import load_dc_rules
from harness.bench.dcrun import dc_shutdown_s
from harness.virtual.report import format_text
from harness.virtual.runner import SimResult
from harness.virtual.session import SessionRecord
from iso15118.session.events import EndReason

from . import physics
from .conftest import RunSim

pytestmark = pytest.mark.timeout(180)

LINKS = [
    pytest.param("memory", id="memory"),
    pytest.param("loopback", id="loopback"),
    pytest.param("veth", id="veth", marks=pytest.mark.root),
]

# What each scenario's story implies for its protocol sessions: (service, how the truck's side ended).
EXPECTED_SESSIONS: dict[str, list[tuple[str, EndReason]]] = {
    "charge": [("AC_BPT dynamic", EndReason.TERMINATED)],
    "v2g-grid-event": [("AC_BPT dynamic", EndReason.TERMINATED)],
    "powerwall-outage-charging": [("AC_BPT dynamic", EndReason.TERMINATED)],
    # The truck carries the home until its reserve, the home (and the wall connector) goes dark, the truck
    # times out; when the grid is back the connector boots and a new session recharges the truck.
    "v2h-outage": [("AC_BPT dynamic", EndReason.TIMEOUT), ("AC_BPT dynamic", EndReason.TERMINATED)],
    # No AC_BPT on the RWD: plain AC; the outage kills the connector; a new session after the grid returns.
    "rwd-no-v2h": [("AC dynamic", EndReason.TIMEOUT), ("AC dynamic", EndReason.TERMINATED)],
    # Fed from its own outlet, the connector offers 0 W: no AC_BPT, and FAILED_WrongChargeParameter.
    "loop-myth": [("AC dynamic", EndReason.FAILED_RECEIVED)],
    "v2l-jobsite": [],
    "v2v-rescue": [],
    # DC: the driver leaves at the charge limit (a regular end, before the scenario's end).
    "dc-fast-charge": [("DC dynamic", EndReason.TERMINATED)],
    # DC_BPT (hypothetical on this truck): discharge for the event, recharge, unplugged at the end.
    "dc-bpt-grid-event": [("DC_BPT dynamic", EndReason.TERMINATED)],
}


def test_the_expectations_cover_every_shipped_scenario() -> None:
    assert sorted(EXPECTED_SESSIONS) == scenario_names()


@pytest.mark.parametrize("link", LINKS)
@pytest.mark.parametrize("scenario", sorted(EXPECTED_SESSIONS))
def test_physical_invariants_hold(run_sim: RunSim, scenario: str, link: str) -> None:
    result = run_sim(scenario, link)
    trace = result.trace
    assert trace.samples, "the run recorded nothing"
    assert trace.samples[0].t == 0.0
    assert trace.samples[-1].t + trace.samples[-1].dt == pytest.approx(result.scenario.duration_s)
    assert physics.violations(trace) == []
    assert check_invariants(trace) == []
    assert result.summary.violations == ()
    assert result.summary.reserve_respected
    books = physics.books(trace)
    # Energy balance: the pack changed exactly by what the conversion efficiencies allow, never by more
    # than the net AC that came in.
    assert books.pack_delta == pytest.approx(books.expected_delta, abs=0.01)
    assert books.pack_delta <= books.net_in + 1e-6
    assert result.summary.port_in_wh == pytest.approx(books.ac_in, abs=0.01)
    assert result.summary.port_out_wh == pytest.approx(books.ac_out, abs=0.01)
    measured = physics.transfer_times(trace)
    for measure, took in zip(outage_transfers(trace), measured, strict=True):
        if measure.backup_expected:
            assert took is not None and took < trace.meta.max_transfer_s, (scenario, took)
    if not trace.meta.v2h_offered:
        assert all(s.port_w >= -physics.P_EPS for s in trace.samples)
        assert result.summary.truck_to_home_wh == 0.0
    assert result.ok, format_text(result)


@pytest.mark.parametrize("link", LINKS)
@pytest.mark.parametrize("scenario", sorted(EXPECTED_SESSIONS))
def test_sessions_end_as_the_scenario_expects(run_sim: RunSim, scenario: str, link: str) -> None:
    result = run_sim(scenario, link)
    got = [(s.service, s.evcc.ended.reason if s.evcc else None) for s in result.sessions]
    assert got == EXPECTED_SESSIONS[scenario], format_text(result)
    for record in result.sessions:
        assert record.ok, record.to_dict()
        assert record.evcc is not None
        if record.evcc.ended.reason is EndReason.TERMINATED:
            assert record.secc is not None and record.secc.ended.reason is EndReason.TERMINATED
            assert record.evcc.session_id == record.secc.session_id != bytes(8)
            _check_regular_end(result, record)
        elif record.evcc.ended.reason is EndReason.TIMEOUT:
            assert record.secc is None  # the connector without power was torn down, never answered
            assert record.evcc.ended.requirement == "V2G20-436"
        else:
            assert record.evcc.ended.response_code == "FAILED_WrongChargeParameter"
            assert record.secc is not None and record.secc.ended.reason is EndReason.FAILED_SENT
    if result.sessions:
        assert result.sessions[0].started_s == 0.0
        assert result.no_session_reason is None
    else:
        assert result.no_session_reason is not None and "not connected" in result.no_session_reason
        assert "no ISO 15118 session ran" in format_text(result)
        assert result.protocol_steps == 0


def _check_regular_end(result: SimResult, record: SessionRecord) -> None:
    """The owner unplugs at the end; on DC the truck leaves the loop early enough for the welding detection, or
    the driver leaves at the charge limit."""
    scenario = result.scenario
    if scenario.dc_charger is None:
        assert record.ended_s == pytest.approx(scenario.duration_s)
        return
    assert scenario.vehicle.dc is not None
    if "charge limit reached" in record.expected:
        assert scenario.settings.leave_at_charge_limit
        assert record.ended_s < scenario.duration_s
        assert result.summary.soc_end_pct == pytest.approx(scenario.settings.charge_limit_pct, abs=1e-6)
        return
    margin = dc_shutdown_s(scenario.dc_charger, scenario.vehicle.dc, load_dc_rules(), scenario.run.dc_step_s)
    assert scenario.duration_s - margin <= record.ended_s <= scenario.duration_s


@pytest.mark.parametrize("link", LINKS)
def test_v2h_session_ends_at_the_reserve_and_resumes_when_the_grid_is_back(run_sim: RunSim, link: str) -> None:
    result = run_sim("v2h-outage", link)
    first, second = result.sessions
    trace = result.trace
    reserve = trace.meta.reserve_pct
    dark = next(s for s in trace.samples if s.t > trace.meta.outages[0].start_s + 1.0 and not s.home_powered)
    # The home went dark when the truck reached its reserve; the wall connector lost power with it.
    assert dark.soc_pct == pytest.approx(reserve, abs=0.01)
    assert first.ended_s == pytest.approx(dark.t + dark.dt)
    # While carrying the home the truck exported every loop, through the protocol's negative setpoints.
    assert first.meter_discharged_wh == round(result.summary.port_out_wh)
    # The second session started the instant the gateway put the home back on the grid.
    (outage,) = trace.outages
    assert outage.reconnected_at is not None
    assert second.started_s == pytest.approx(outage.reconnected_at)
    assert result.summary.soc_end_pct > 99.0


@pytest.mark.parametrize("link", LINKS)
def test_rwd_session_dies_with_the_home_and_restarts_after_the_outage(run_sim: RunSim, link: str) -> None:
    result = run_sim("rwd-no-v2h", link)
    first, second = result.sessions
    outage = result.trace.meta.outages[0]
    ride_through = result.trace.meta.max_transfer_s
    fine = result.fine_dt_s
    # The connector rides through the gateway's transfer time, then is off: the truck times out.
    assert ride_through <= first.ended_s - outage.start_s <= ride_through + fine + 1e-6
    (record,) = result.trace.outages
    assert second.started_s == pytest.approx(record.reconnected_at)
    assert result.summary.home_unserved_wh > 0.0  # the home stayed dark: no backup through the port
    assert result.summary.outages[0].transfer_s is None


@pytest.mark.parametrize("link", LINKS)
def test_loop_myth_is_refused_and_the_books_show_the_loss(run_sim: RunSim, link: str) -> None:
    result = run_sim("loop-myth", link)
    (record,) = result.sessions
    assert record.loops == 0 and record.setpoints == 0
    assert "own outlet" in record.expected
    assert result.summary.port_in_wh == 0.0 and result.summary.port_out_wh == 0.0
    loop = result.summary.loop
    assert loop is not None and loop.refused
    params = result.scenario.vehicle
    assert loop.attempted_ac_wh > 0.0
    assert loop.would_draw_wh == pytest.approx(loop.attempted_ac_wh / params.v2l.efficiency)
    assert loop.would_return_wh == pytest.approx(loop.attempted_ac_wh * params.charger.charge_efficiency)
    assert loop.would_lose_wh == pytest.approx(loop.would_draw_wh - loop.would_return_wh)
    assert loop.would_lose_wh > 0.0


@pytest.mark.parametrize("scenario", sorted(EXPECTED_SESSIONS))
def test_protocol_run_agrees_with_the_bench_alone(run_sim: RunSim, scenario: str) -> None:
    """The numbers that travel as EXI (limits, setpoints) change nothing beyond their rounding."""
    result = run_sim(scenario, "memory")
    alone = run_physics_only(load_scenario(scenario), dt=result.coarse_dt_s)
    got = result.summary
    for name in ("port_in_wh", "port_out_wh", "home_served_wh", "grid_import_wh", "grid_export_wh", "outlet_wh"):
        want = getattr(alone, name)
        assert getattr(got, name) == pytest.approx(want, rel=1e-3, abs=20.0), name
    assert (got.dc is None) == (alone.dc is None)
    if got.dc is not None and alone.dc is not None:
        for name in ("into_truck_wh", "out_of_truck_wh", "grid_draw_wh", "grid_feed_wh", "event_export_wh"):
            assert getattr(got.dc, name) == pytest.approx(getattr(alone.dc, name), rel=1e-3, abs=20.0), name
        # The DC steps take the same simulated time whether the protocol or the bench alone runs them.
        for name in ("insulation_test_s", "precharge_s", "welding_s"):
            assert getattr(got.dc, name) == pytest.approx(getattr(alone.dc, name)), name
    assert got.soc_end_pct == pytest.approx(alone.soc_end_pct, abs=0.05)
    assert got.soc_min_pct == pytest.approx(alone.soc_min_pct, abs=0.05)
    assert [o.transfer_s for o in got.outages] == pytest.approx([o.transfer_s for o in alone.outages])


def test_grid_event_discharge_is_commanded_through_the_protocol(run_sim: RunSim) -> None:
    result = run_sim("v2g-grid-event", "memory")
    event = result.scenario.events[0]
    cap = result.scenario.settings.max_export_w
    assert cap is not None
    inside = [s for s in result.trace.samples if event.window.start_s <= s.t < event.window.end_s]
    assert inside and all(s.port_w < 0.0 for s in inside)
    # Request plus home load exceeds the owner's cap: the truck exports exactly the cap.
    assert min(s.port_w for s in inside) == pytest.approx(-cap)
    assert result.summary.grid_support_wh > 0.0
    assert result.summary.compensation == pytest.approx(
        result.summary.grid_support_wh / 1000.0 * result.scenario.tariff.grid_support_per_kwh
    )


def test_the_final_meter_reading_is_the_port_energy(run_sim: RunSim) -> None:
    result: SimResult = run_sim("charge", "memory")
    (record,) = result.sessions
    assert result.trace.samples[-1].port_w == 0.0  # charging completed before the end: the meter is current
    assert record.meter_charged_wh == round(result.summary.port_in_wh)
    assert record.meter_discharged_wh == 0


@pytest.mark.parametrize("link", [LINKS[1], LINKS[2]])
def test_network_sessions_use_tls13_with_both_certificates(run_sim: RunSim, link: str) -> None:
    result = run_sim("v2h-outage", link)
    for record in result.sessions:
        assert record.tls is not None and record.secc_tls is not None
        assert record.tls.version == "TLSv1.3"
        assert record.tls.cipher == "TLS_AES_256_GCM_SHA384"
        assert record.tls.group == "secp521r1"
        assert record.secc_tls.peer_subject is not None and "CN=V2GSTACKEVCC00001" in record.secc_tls.peer_subject
        if link == "veth":
            assert record.slac is not None and record.slac.num_sounds > 0
            assert record.sdp is not None and record.sdp.host.startswith("fe80:")
        else:
            assert record.slac is None and record.sdp is None
