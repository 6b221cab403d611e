"""`v2g secc --energy/--protocols` and `v2g evcc --energy/--mode/--protocols/--accept-fallback`: DC sessions
between two CLI processes on ::1, what the EV does when the charger offers something else than what it asked for,
the summary line and the exit codes; and the same options read from the persona files."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from harness.cli import main
from harness.commands._sessions import summary
from harness.config import load_evcc_settings, load_secc_settings
from iso15118.constants import NS_DIN, NS_ISO2, NS_ISO20_AC, NS_ISO20_DC
from iso15118.errors import ConfigError
from iso15118.iso20.services import AC, AC_BPT, DC, DC_BPT
from iso15118.session.events import EndReason, SessionEnded
from iso15118.session.selection import EnergyFamily
from iso15118.transport.driver import SessionOutcome
from tests.support.netns import free_port
from tests.transport_session import cli_support as cli
from tests.transport_session.helpers import TestPki

_END = "ended terminated (SessionStop(Terminate))"


def test_dc_only_charger_serves_dc_charge_and_refuses_an_ac_ev(pki: TestPki) -> None:
    port = free_port()
    pki_dir = str(pki.layout.directory)
    target = ["--target", f"[::1]:{port}", "--pki", pki_dir, "--loops", "2"]
    with cli.secc(["--listen", "::1", "--port", str(port), "--no-sdp", "--pki", pki_dir, "--energy", "dc"]) as secc:
        offers = "offers iso20 DC; iso2 DC; din DC"  # every generation by default, DC only
        assert secc.listening == f"secc listening on [::1]:{port} (TLS 1.3, plain TCP, strict; {offers})"
        charge = cli.evcc([*target, "--energy", "dc", "--mode", "charge", "--protocols", "iso20"])
        ac = cli.evcc([*target, "--energy", "ac"])
        secc.proc.send_signal(signal.SIGTERM)
        code, out, err = cli.finish(secc)
    # --mode charge selects the plain service: DC, not DC_BPT.
    assert charge.returncode == 0, charge.stderr
    assert ", ISO 15118-20, DC dynamic, EIM, 2 loops, 2 meter readings (last: charged " in charge.stdout
    assert charge.stdout.strip().endswith(_END)
    assert ac.returncode == 1
    # The AC EV's -20 offer found nothing over TLS 1.3; it went on over plain TCP with -2, where this charger
    # offers DC only: the EV stops and says so, and why -20 was not used.
    assert ", ISO 15118-2, no service selected, EIM, 0 loops, " in ac.stdout, ac.stdout
    assert "not ISO 15118-20: ISO 15118-20 AC was preferred but not used: " in ac.stdout
    assert ac.stdout.strip().endswith("not done: no AC energy transfer mode offered (the SECC offers DC_extended)")
    # The server exits 1 because one of its connections failed; it printed one line per session.
    assert code == 1, err
    first, second, third = out.strip().splitlines()
    session = charge.stdout.split("session ")[1][:16]
    assert f"session {session}, ISO 15118-20, DC dynamic, EIM, 2 loops" in first and first.endswith(_END)
    assert "ended no_common_protocol" in second
    assert ", ISO 15118-2, no service selected, " in third


def test_what_the_charger_does_not_offer_stops_the_ev_unless_it_accepts_the_fallback(
    pki: TestPki, tmp_path: Path
) -> None:
    port = free_port()
    pki_dir = str(pki.layout.directory)
    persona = tmp_path / "unidirectional.toml"
    persona.write_text("[evse]\nbidirectional = false\n")  # no AC_BPT, no DC_BPT
    target = ["--target", f"[::1]:{port}", "--pki", pki_dir, "--loops", "2"]
    server = ["--config", str(persona), "--listen", "::1", "--port", str(port), "--no-sdp", "--pki", pki_dir]
    with cli.secc([*server, "--auth", "eim", "--control", "dynamic"]) as secc:
        runs = {
            "discharge": cli.evcc([*target, "--energy", "dc", "--mode", "discharge"]),
            "discharge anyway": cli.evcc([*target, "--energy", "dc", "--mode", "discharge", "--accept-fallback"]),
            "pnc": cli.evcc([*target, "--auth", "pnc"]),
            "pnc anyway": cli.evcc([*target, "--auth", "pnc", "--accept-fallback"]),
            "scheduled": cli.evcc([*target, "--control", "scheduled"]),
        }
        secc.proc.send_signal(signal.SIGTERM)
        code, out, err = cli.finish(secc)
    lines = {name: run.stdout.strip() for name, run in runs.items()}
    codes = {name: run.returncode for name, run in runs.items()}
    assert codes == {"discharge": 1, "discharge anyway": 0, "pnc": 1, "pnc anyway": 0, "scheduled": 1}, lines
    # Refused: the session ends regularly before any energy, and the line says what was offered instead.
    assert lines["discharge"].endswith(
        f"0 loops, no meter readings, {_END}, not done: discharge needs DC_BPT; the SECC offers DC"
    )
    assert lines["discharge"].split(", ")[1:3] == ["ISO 15118-20", "DC (no service selected)"]
    assert lines["pnc"].endswith(f"{_END}, not done: PnC asked, the SECC offers EIM")
    assert lines["scheduled"].endswith(f"{_END}, not done: scheduled control asked, the SECC offers Dynamic")
    # Accepted: the session runs with the substitute, named on the line.
    assert ", DC dynamic, EIM, 2 loops, " in lines["discharge anyway"]
    assert lines["discharge anyway"].endswith(f"{_END}, substituted: discharge asked, the SECC offers DC: charging")
    assert ", AC dynamic, EIM, 2 loops, " in lines["pnc anyway"]
    assert lines["pnc anyway"].endswith(f"{_END}, substituted: PnC asked, the SECC offers EIM; EIM used instead")
    # The charger did what it offered every time: its sessions all ended regularly, so it exits 0.
    assert code == 0, err
    assert len(out.strip().splitlines()) == 5 and all(line.endswith(_END) for line in out.strip().splitlines())


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["evcc", "--energy", "wpt"], ["evcc", "--mode", "idle"], ["bench", "session", "--energy", "x"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        assert "invalid choice" in capsys.readouterr().err


def _outcome(**fields: object) -> SessionOutcome:
    ended = SessionEnded(at=0.0, reason=EndReason.TERMINATED, detail="SessionStop(Terminate)")
    return SessionOutcome(ended=ended, session_id=bytes.fromhex("0011223344556677"), **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(("service", "mode"), [(AC, "AC"), (AC_BPT, "AC_BPT"), (DC, "DC"), (DC_BPT, "DC_BPT")])
def test_summary_names_the_energy_mode(service: int, mode: str) -> None:
    # A resumed session's SECC knows the service ID only; the line names its energy mode all the same.
    for negotiated in ({"service_id": service, "energy_mode": mode}, {"service_id": service}):
        line = summary("secc", "[::1]:1", _outcome(negotiated=negotiated | {"control_mode": 2}, loops=1))
        assert line.startswith(f"secc [::1]:1: session 0011223344556677, {mode} dynamic, 1 loop, ")


def test_summary_says_what_was_not_done_substituted_noted_and_interrupted() -> None:
    line = summary(
        "evcc",
        "[::1]:1",
        _outcome(
            negotiated={"service_id": DC, "energy_mode": "DC", "control_mode": "scheduled"},
            failure="discharge needs DC_BPT; the SECC offers DC",
            substitutions=("a", "b"),
            notes=("welding detection ended at 80 V after 20 requests (not below 60 V)",),
            interrupted="SIGINT",
        ),
    )
    assert line == (
        "evcc [::1]:1: session 0011223344556677, DC scheduled, 0 loops, no meter readings, "
        f"{_END}, substituted: a; b, notes: welding detection ended at 80 V after 20 requests (not below 60 V), "
        "interrupted: SIGINT, not done: discharge needs DC_BPT; the SECC offers DC"
    )
    plain = summary("evcc", "[::1]:1", _outcome(negotiated={"service_id": AC, "energy_mode": "AC"}))
    assert plain.endswith(_END)


def test_persona_files_and_options_give_the_protocols_energy_and_services(tmp_path: Path) -> None:
    runtime = {"runtime": {"target": "[::1]:1", "tls": False, "tolerant": True}}
    dc = load_evcc_settings(None, runtime | {"evcc": {"energy": "DC"}}, protocols=("iso20",)).evcc
    assert (dc.energy, dc.offered_protocols) == (EnergyFamily.DC, (NS_ISO20_DC,))
    # The file's spelling is case-insensitive; a resumed DC session resumes DC_BPT (DC when not bidirectional).
    persona = tmp_path / "ev.toml"
    persona.write_text('[evcc]\nenergy = "dc"\nresume_session_id = "0011223344556677"\n')
    assert load_evcc_settings(persona, runtime).evcc.resume_service_id == DC_BPT
    charge = load_evcc_settings(persona, runtime | {"evcc": {"bidirectional": False}})
    assert charge.evcc.resume_service_id == DC
    mismatch = tmp_path / "mismatch.toml"
    mismatch.write_text(f'[evcc]\nenergy = "AC"\nprotocols = ["{NS_ISO20_DC}"]\n')
    with pytest.raises(ConfigError, match="is a DC namespace, but energy is AC"):
        load_evcc_settings(mismatch, runtime)

    secc_runtime = {"runtime": {"listen": "::1", "tls": False, "tolerant": True}}
    both = load_secc_settings(None, secc_runtime).secc
    assert both.protocols == (NS_ISO20_AC, NS_ISO20_DC, NS_ISO2, NS_DIN) and both.services == (AC, AC_BPT, DC, DC_BPT)
    dc_only = load_secc_settings(None, secc_runtime, protocols=("iso20",), energy=(EnergyFamily.DC,)).secc
    assert (dc_only.protocols, dc_only.services) == ((NS_ISO20_DC,), (DC, DC_BPT))
    # services = ["ac"] is an AC charger: the DC namespace is not offered.
    ac_charger = load_secc_settings(None, secc_runtime | {"secc": {"services": ["ac"]}}).secc
    assert (ac_charger.protocols, ac_charger.services) == ((NS_ISO20_AC, NS_ISO2), (AC,))  # DIN is DC only
    with pytest.raises(ConfigError, match=r"--energy dc: \[secc\] services has no DC service \(AC\)"):
        load_secc_settings(None, secc_runtime | {"secc": {"services": ["ac"]}}, energy=(EnergyFamily.DC,))
    with pytest.raises(ConfigError, match=r"\[secc\] protocols: 'urn:example:v2g' is not spoken here"):
        load_secc_settings(None, secc_runtime | {"secc": {"protocols": ["urn:example:v2g"]}})
