"""`v2g sim`: listing, text and JSON output, the options (trim, reserve, speed, plot, trace, progress), errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from matplotlib.image import imread

from harness.bench import scenario_names
from harness.cli import main
from iso15118.security.pki import init_pki

pytestmark = pytest.mark.timeout(120)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["sim", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code, out, err = run_cli(capsys, *argv, "--json", "--no-progress")
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data


def test_list_names_every_scenario_and_which_have_no_port_session(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--list")
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines()}
    assert sorted(rows) == scenario_names()
    assert "no port session" in rows["v2l-jobsite"] and "no port session" in rows["v2v-rescue"]
    assert "no port session" not in rows["v2h-outage"]


def test_text_summary_of_a_grid_event(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "v2g-grid-event", "--no-progress")
    assert code == 0, err
    assert err == ""  # no progress bar unless asked (stderr is not a TTY here)
    for needle in (
        "scenario v2g-grid-event",
        "SoC 80.0 % -> 80.0 %",
        "reserve 50 % respected",
        "charge port in",
        "grid-support",
        "session #1 ISO 15118-20 AC_BPT dynamic 0.00 h-24.00 h: ok unplugged at the end of the scenario",
        "invariants: all hold",
        "link: in-memory link",
        "charge-loop exchanges moved the physics",
        "result: ok",
    ):
        assert needle in out, needle


def test_json_summary(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "charge", "--link", "loopback")
    assert data["scenario"] == "charge"
    assert data["soc_end_pct"] == pytest.approx(80.0)
    assert data["violations"] == []
    sim = data["sim"]
    assert sim["ok"] is True and sim["link"] == "loopback"
    (session,) = sim["sessions"]
    assert session["service"] == "AC_BPT dynamic"
    assert session["evcc_end"]["reason"] == session["secc_end"]["reason"] == "terminated"
    assert session["tls"]["version"] == "TLSv1.3"
    assert session["meter_charged_wh"] == round(data["port_in_wh"])
    assert sim["protocol_steps"] == session["loops"] == session["setpoints"]
    (line,) = data["protocol_sessions"]
    assert line["ok"] is True and line["label"].startswith("#1 ISO 15118-20 AC_BPT dynamic")


def test_no_port_session_is_stated(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "v2v-rescue", "--no-progress")
    assert code == 0
    assert "no ISO 15118 session ran: the truck's charge port is not connected" in out
    assert "V2V    15.00 kWh" in out


def test_plot_and_trace_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    png, trace = tmp_path / "v2h.png", tmp_path / "v2h.jsonl"
    trace.write_text("stale line from an earlier run\n")
    data = run_json(capsys, "v2h-outage", "--plot", str(png), "--trace", str(trace))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(png)
    assert image.shape[0] > 400 and image.shape[1] > 600
    assert float(image[..., :3].std()) > 0.05  # curves, axes and labels, not a blank canvas
    assert png.stat().st_size > 20_000
    records = [json.loads(line) for line in trace.read_text().splitlines()]  # the stale line is gone
    assert data["sim"]["trace_lines"] == len(records)
    established = [r for r in records if r["event"] == "session_established"]
    assert sorted(r["role"] for r in established) == ["evcc", "evcc", "secc", "secc"]
    ended = [r["reason"] for r in records if r["event"] == "session_ended" and r["role"] == "evcc"]
    assert ended == ["timeout", "terminated"]
    loops = [r for r in records if r["event"] == "message" and r["message"] == "AC_ChargeLoopRes"]
    assert {r["role"] for r in loops} == {"evcc", "secc"}
    assert len(loops) == 2 * sum(s["loops"] for s in data["sim"]["sessions"])
    targets = [
        r["json"]["AC_ChargeLoopRes"]["BPT_Dynamic_AC_CLResControlMode"]["EVSETargetActivePower"]
        for r in loops
        if r["role"] == "evcc"
    ]
    assert min(t["Value"] * 10 ** t["Exponent"] for t in targets) < 0  # the home was carried by discharge


def test_trim_awd_turns_the_rwd_scenario_into_home_backup(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "rwd-no-v2h", "--trim", "awd")
    assert "Cybertruck AWD" in data["vehicle"]
    assert data["truck_to_home_wh"] > 0.0
    (outage,) = data["outages"]
    assert outage["transfer_s"] is not None and outage["transfer_s"] < 1.0
    assert data["sim"]["sessions"][0]["service"] == "AC_BPT dynamic"
    assert data["sim"]["ok"] is True


def test_reserve_option_stops_the_backup_earlier(capsys: pytest.CaptureFixture[str]) -> None:
    default = run_json(capsys, "v2h-outage")
    data = run_json(capsys, "v2h-outage", "--reserve", "50")
    assert (default["reserve_pct"], data["reserve_pct"]) == (20.0, 50.0)
    assert data["soc_min_pct"] == pytest.approx(50.0, abs=0.01)
    assert data["reserve_respected"] is True
    first, first_default = data["sim"]["sessions"][0], default["sim"]["sessions"][0]
    assert first["evcc_end"]["reason"] == first_default["evcc_end"]["reason"] == "timeout"
    assert first["ended_s"] < first_default["ended_s"]  # the home went dark sooner
    assert data["truck_to_home_wh"] < default["truck_to_home_wh"]


def test_speed_paces_the_simulated_clock(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "charge", "--speed", "72000")  # 10 h at most 72,000x: at least 0.5 s
    sim = data["sim"]
    assert sim["wall_s"] >= 0.5
    assert sim["acceleration"] <= 72000 * 1.01
    assert sim["speed"] == 72000.0 and sim["coarse_dt_s"] == 300.0


def test_progress_bar_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "charge", "--progress")
    assert code == 0 and "result: ok" in out and "\r" not in out
    assert "\r" in err and "100.0 %" in err and err.endswith("\n")
    assert "charge [" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "name a SCENARIO"),
        (("no-such-scenario",), "no scenario 'no-such-scenario'"),
        (("charge", "--pcap", "x.pcapng"), "--pcap needs a network link"),
        (("charge", "--reserve", "95"), "reserve_pct (95 %) is above charge_limit_pct"),
        (("charge", "--dt", "0"), "coarse dt must be a number > 0"),
        (("charge", "--speed", "-2"), "speed must be a number > 0"),
        (("missing-file.toml",), "cannot read scenario"),
    ],
)
def test_bad_input_is_one_clean_line(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str) -> None:
    code, out, err = run_cli(capsys, *argv)
    assert code == 1
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_given_pki_and_key_log_from_the_environment(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pki = init_pki(tmp_path / "pki", algorithm="ed448")
    keylog = tmp_path / "ssl.keys"
    monkeypatch.setenv("SSLKEYLOGFILE", str(keylog))
    data = run_json(capsys, "loop-myth", "--link", "loopback", "--pki", str(pki.directory))
    (session,) = data["sim"]["sessions"]
    assert session["tls"]["version"] == "TLSv1.3"
    assert "ed448" in session["tls"]["peer_key"].lower()  # the given PKI's certificates, not a fresh one
    assert session["vehicle_certificate"].endswith("CN=V2GSTACKEVCC00001")
    assert "CLIENT_TRAFFIC_SECRET_0" in keylog.read_text()
    code, _out, err = run_cli(capsys, "charge", "--link", "loopback", "--pki", str(tmp_path / "nowhere"))
    assert code == 1 and "is not a v2gstack PKI" in err
