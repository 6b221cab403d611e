"""The virtual truck and its charger configured to speak ISO 15118-2 or DIN 70121: -2 AC and DC charges, a DIN DC
charge, an iso20,iso2,din truck falling back to DIN against a DIN-only charger (in memory, over plain TCP on ::1 and
between network namespaces), -2 over TLS 1.2, the refusals (a discharge without -20, DIN on AC), the charge-only
fallback, the [protocols] table and the command line."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from harness.bench import load_scenario, run_physics_only
from harness.bench.protocols import Iso2Transport, ProtocolSettings, WithoutBpt, standards_from
from harness.bench.scenarios import parse_scenario
from harness.cli import main
from harness.virtual.generations import network_transport, plan_protocols
from harness.virtual.links import LinkKind
from harness.virtual.runner import SimOptions, SimResult, simulate
from iso15118.constants import NS_DIN, NS_ISO20_DC, SdpSecurity
from iso15118.errors import ConfigError
from iso15118.session.events import EndReason
from iso15118.transport.generations import Standard, Transport
from tests.harness.bench_support import DC_SCENARIO_TOML
from tests.support.netns import ipv6_loopback, require_netns

pytestmark = pytest.mark.timeout(120)

ISO20, ISO2, DIN = Standard.ISO20, Standard.ISO2, Standard.DIN
EVERY = (ISO20, ISO2, DIN)
Run = Callable[..., SimResult]


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    """``run(scenario, ev, charger, link="memory", **settings)``: one cached run per combination."""
    cache: dict[tuple[object, ...], SimResult] = {}

    def go(
        scenario: str, ev: tuple[Standard, ...], charger: tuple[Standard, ...], link: str = "memory", **kw: str
    ) -> SimResult:
        key = (scenario, ev, charger, link, tuple(sorted(kw.items())))
        if key not in cache:
            if link == "veth":
                require_netns()
            settings = ProtocolSettings(
                ev=ev,
                charger=charger,
                without_bpt=WithoutBpt(kw.get("without_bpt", "refuse")),
                iso2_transport=Iso2Transport(kw.get("iso2_transport", "tls")),
            )
            cache[key] = simulate(load_scenario(scenario), SimOptions(link=LinkKind(link), protocols=settings))
        return cache[key]

    yield go


def _only_session(result: SimResult) -> tuple[str, str, EndReason]:
    assert result.ok, [s.outcome() for s in result.sessions]
    (record,) = result.sessions
    assert record.evcc is not None and record.secc is not None
    return record.protocol, record.service, record.evcc.ended.reason


# ---- one generation on both sides, in memory ---------------------------------------------------------------------
def test_iso2_ac_charge_delivers_what_the_iso20_charge_does(run: Run) -> None:
    result = run("charge", (ISO2,), (ISO2,))
    assert _only_session(result) == ("ISO 15118-2", "AC_single_phase_core", EndReason.TERMINATED)
    record = result.sessions[0]
    assert record.loops > 100 and record.setpoints == record.loops  # the ChargingStatus loop moved the physics
    assert result.summary.soc_end_pct == pytest.approx(80.0, abs=0.01)
    baseline = run("charge", (ISO20,), (ISO20,))
    assert result.summary.port_in_wh == pytest.approx(baseline.summary.port_in_wh, rel=1e-6)
    assert record.meter_charged_wh == round(result.summary.port_in_wh)
    assert result.summary.port_out_wh == 0.0
    assert record.to_dict()["protocol_name"] == "ISO 15118-2"


@pytest.mark.parametrize(("standard", "name"), [(ISO2, "ISO 15118-2"), (DIN, "DIN 70121")])
def test_dc_charge_on_iso2_and_din(run: Run, standard: Standard, name: str) -> None:
    result = run("dc-fast-charge", (standard,), (standard,))
    assert _only_session(result) == (name, "DC_extended", EndReason.TERMINATED)
    dc = result.summary.dc
    assert dc is not None and dc.into_truck_wh > 80_000.0 and dc.out_of_truck_wh == 0.0
    assert result.summary.soc_end_pct == pytest.approx(80.0, abs=0.5)  # the driver leaves at the charge limit
    # The energy the CurrentDemand loop moved is what the bench alone moves, beyond the EXI numbers' rounding.
    alone = run_physics_only(load_scenario("dc-fast-charge"), dt=result.coarse_dt_s).dc
    assert alone is not None and dc.into_truck_wh == pytest.approx(alone.into_truck_wh, rel=1e-3, abs=20.0)
    # Cable check, precharge and welding detection each took DC steps of their own, as on -20.
    assert dc.closed_at_v is not None and result.dc_steps > 20 and dc.welding_s > 0.0
    assert "charge limit reached" in result.sessions[0].expected


# ---- fallback ------------------------------------------------------------------------------------------------------
LINKS = [
    pytest.param("memory", id="memory"),
    pytest.param("loopback", id="loopback", marks=pytest.mark.skipif(not ipv6_loopback(), reason="needs ::1")),
    pytest.param("veth", id="veth", marks=pytest.mark.root),
]


@pytest.mark.parametrize("link", LINKS)
def test_an_iso20_iso2_din_truck_falls_back_to_din_against_a_din_only_charger(run: Run, link: str) -> None:
    result = run("dc-fast-charge", EVERY, (DIN,), link)
    assert _only_session(result) == ("DIN 70121", "DC_extended", EndReason.TERMINATED)
    assert result.protocols is not None and result.protocols.expected is DIN
    record = result.sessions[0]
    assert record.evcc is not None and record.evcc.negotiation is not None
    negotiation = record.evcc.negotiation
    assert [o.namespace for o in negotiation.offered][-1] == NS_DIN and negotiation.chosen == NS_DIN
    assert negotiation.downgrade is not None and "ISO 15118-20 DC was preferred but not used" in negotiation.downgrade
    if link == "memory":
        assert record.tls is None and negotiation.transport is None
    else:
        # DIN has no TLS: the charger announced none, the truck connected over plain TCP and withheld -20 there.
        assert negotiation.transport is Transport.TCP and record.tls is None
        withheld = dict(negotiation.withheld)
        assert "TLS 1.3" in withheld[NS_ISO20_DC] and "TLS 1.3" in negotiation.downgrade
        if link == "veth":
            assert record.sdp is not None and record.sdp.response.security is SdpSecurity.NONE


@pytest.mark.parametrize("link", LINKS[1:])
def test_iso2_runs_over_tls_1_2_on_network_links(run: Run, link: str) -> None:
    result = run("charge", (ISO2,), (ISO2,), link)
    assert _only_session(result) == ("ISO 15118-2", "AC_single_phase_core", EndReason.TERMINATED)
    record = result.sessions[0]
    assert record.tls is not None and record.tls.version == "TLSv1.2"
    assert record.evcc is not None and record.evcc.negotiation is not None
    assert record.evcc.negotiation.transport is Transport.TLS12


def test_an_iso20_iso2_truck_falls_back_to_tls_1_2_against_an_iso2_charger_on_loopback(run: Run) -> None:
    if not ipv6_loopback():
        pytest.skip("needs ::1")
    result = run("charge", (ISO20, ISO2), (ISO2,), "loopback")
    assert _only_session(result)[0] == "ISO 15118-2"
    record = result.sessions[0]
    assert record.tls is not None and record.tls.version == "TLSv1.2"
    assert "TLS 1.3 failed" in record.link  # the refused TLS 1.3 attempt is reported, not hidden


def test_iso2_over_plain_tcp_when_the_truck_asks_for_it(run: Run) -> None:
    if not ipv6_loopback():
        pytest.skip("needs ::1")
    result = run("dc-fast-charge", (ISO2,), (ISO2,), "loopback", iso2_transport="tcp")
    assert _only_session(result)[0] == "ISO 15118-2"
    assert result.sessions[0].tls is None and result.protocols is not None
    assert result.protocols.transport is Transport.TCP


# ---- refusals and the charge-only fallback ---------------------------------------------------------------------------
@pytest.mark.parametrize(("scenario", "standard"), [("v2h-outage", ISO2), ("dc-bpt-grid-event", DIN)])
def test_a_discharge_scenario_without_iso20_is_refused_naming_why(scenario: str, standard: Standard) -> None:
    settings = ProtocolSettings(ev=(standard,), charger=EVERY if standard is DIN else (ISO20, ISO2))
    with pytest.raises(ConfigError) as caught:
        plan_protocols(load_scenario(scenario), settings, network=False)
    text = str(caught.value)
    assert f"scenario {scenario} discharges the truck through its charge port" in text
    assert "bidirectional power transfer is ISO 15118-20 only" in text and "charge-only" in text


def test_an_iso20_offer_keeps_a_discharge_scenario_on_iso20() -> None:
    settings = ProtocolSettings(ev=(ISO20, ISO2), charger=(ISO2, ISO20))
    scenario, plan = plan_protocols(load_scenario("v2h-outage"), settings, network=False)
    assert plan.expected is ISO20 and not plan.charge_only and scenario == load_scenario("v2h-outage")


def test_charge_only_runs_a_discharge_scenario_without_a_discharge_and_says_so(run: Run) -> None:
    result = run("dc-bpt-grid-event", EVERY, (DIN,), without_bpt="charge-only")
    assert _only_session(result)[:2] == ("DIN 70121", "DC_extended")
    assert result.protocols is not None and result.protocols.charge_only
    assert any("charge-only" in note and "ISO 15118-20 only" in note for note in result.protocols.notes)
    # It starts at its charge limit: without the event's discharge there is nothing to put back either.
    dc = result.summary.dc
    assert dc is not None and dc.out_of_truck_wh == 0.0 and dc.into_truck_wh == 0.0
    assert result.summary.soc_min_pct == pytest.approx(80.0) and result.sessions[0].loops > 0
    assert load_scenario("dc-bpt-grid-event").vehicle.dc.bpt_offered  # the truck could, the protocol cannot


def test_din_is_dc_only() -> None:
    charge = load_scenario("charge")
    with pytest.raises(ConfigError, match="DIN 70121 is DC only"):
        plan_protocols(charge, ProtocolSettings(ev=(ISO2,), charger=(ISO2, DIN)), network=False)
    with pytest.raises(ConfigError, match="would offer only DIN 70121, which is DC only"):
        plan_protocols(charge, ProtocolSettings(ev=(DIN,), charger=(ISO2,)), network=False)
    _, plan = plan_protocols(charge, ProtocolSettings(ev=EVERY, charger=(ISO2,)), network=False)
    assert plan.ev == (ISO20, ISO2) and plan.expected is ISO2 and "DC only" in plan.notes[0]


def test_no_common_protocol_is_refused_before_anything_runs() -> None:
    with pytest.raises(ConfigError, match="no protocol in common"):
        plan_protocols(load_scenario("dc-fast-charge"), ProtocolSettings(ev=(ISO20,), charger=(DIN,)), network=False)


def test_the_network_transport_follows_sdp_and_the_attempts() -> None:
    tls, plain = SdpSecurity.TLS, SdpSecurity.NONE
    assert network_transport(EVERY, (DIN,), tls) is Transport.TCP  # a DIN charger announces no TLS
    assert network_transport(EVERY, (ISO2,), tls) is Transport.TLS12  # TLS 1.3 refused, TLS 1.2 next
    assert network_transport(EVERY, EVERY, tls) is Transport.TLS13
    # The EVCC's own order: a truck preferring -2 tries TLS 1.2 first, as it will when it connects.
    assert network_transport((ISO2, ISO20), EVERY, tls) is Transport.TLS12
    assert network_transport((ISO2, DIN), EVERY, plain) is Transport.TCP
    assert network_transport((ISO20,), (DIN,), tls) is None


# ---- configuration ------------------------------------------------------------------------------------------------
_TOML = DC_SCENARIO_TOML


def test_the_protocols_table() -> None:
    scenario = parse_scenario(
        _TOML + '[protocols]\nev = ["iso20", "iso2", "din"]\ncharger = "din"\nwithout_bpt = "charge-only"\n',
        source="x.toml",
    )
    assert scenario.protocols == ProtocolSettings(ev=EVERY, charger=(DIN,), without_bpt=WithoutBpt.CHARGE_ONLY)
    assert parse_scenario(_TOML, source="x.toml").protocols == ProtocolSettings()  # -20 only, as before
    with pytest.raises(ConfigError, match=r"x.toml: \[protocols\] ev: unknown protocol 'iso3'"):
        parse_scenario(_TOML + '[protocols]\nev = ["iso3"]\n', source="x.toml")
    with pytest.raises(ConfigError, match="din is named twice"):
        standards_from("din,iso2,din", "--ev-protocols")
    with pytest.raises(ConfigError, match=r"unknown key\(s\): evv"):
        parse_scenario(_TOML + '[protocols]\nevv = ["iso2"]\n', source="x.toml")


def test_cli_names_the_protocol_the_fallback_and_the_refusal(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sim", "dc-fast-charge", "--no-progress", "--ev-protocols", "iso20,iso2,din", "--charger-protocols", "din"]
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)["sim"]
    assert data["protocols"]["expected"] == "din" and data["protocols"]["ev"] == ["iso20", "iso2", "din"]
    (session,) = data["sessions"]
    assert session["protocol"] == NS_DIN and session["protocol_name"] == "DIN 70121"
    assert "ISO 15118-20 DC was preferred but not used" in session["negotiation"]["downgrade"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "session #1 DIN 70121 DC_extended" in out and "DIN 70121 runs" in out and "not ISO 15118-20" in out
    assert main(["sim", "v2h-outage", "--ev-protocols", "iso2", "--charger-protocols", "iso2"]) != 0
    err = capsys.readouterr().err
    assert "bidirectional power transfer is ISO 15118-20 only" in err
