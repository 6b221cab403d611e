"""`v2g secc` and `v2g evcc` end to end: two CLI processes over ::1, their summary lines, exit codes and errors."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import pytest

from harness.cli import build_parser, main
from iso15118.records.journal import read_journal
from tests.support.netns import free_port
from tests.transport_session import cli_support as cli
from tests.transport_session.helpers import TestPki


def test_both_commands_are_registered() -> None:
    parser = build_parser()
    secc = parser.parse_args(
        ["secc", "--iface", "eth1", "--auth", "eim", "pnc", "--control", "dynamic", "--once", "--energy", "AC, dc"]
    )
    assert (secc.iface, secc.auth, secc.control, secc.once, secc.tls, secc.energy, secc.protocols) == (
        "eth1",
        ["EIM", "PnC"],
        ["dynamic"],
        True,
        None,
        ("ac", "dc"),
        None,
    )
    evcc = parser.parse_args(
        [
            "evcc",
            "--iface",
            "eth1",
            "--mode",
            "discharge",
            "--auth",
            "PNC",
            "--no-tls",
            "--loops",
            "3",
            "--resume",
            "0011223344556677",
            "--protocols",
            "iso20,ISO2,din",
            "--energy",
            "dc",
            "--accept-fallback",
        ]
    )
    assert (evcc.mode, evcc.auth, evcc.tls, evcc.loops, evcc.resume) == (
        "discharge",
        "PnC",
        False,
        3,
        "0011223344556677",
    )
    assert (evcc.protocols, evcc.energy, evcc.accept_fallback) == (("iso20", "iso2", "din"), "dc", True)
    defaults = parser.parse_args(["evcc", "--iface", "eth1"])
    # None: the persona file (or the library default) decides.
    assert (defaults.protocols, defaults.energy, defaults.mode, defaults.accept_fallback) == (None, None, None, None)
    assert callable(secc.func) and callable(evcc.func)


def test_discharge_session_between_two_processes_with_traces_and_keylog(pki: TestPki, tmp_path: Path) -> None:
    port = free_port()
    pki_dir = str(pki.layout.directory)
    secc_trace, evcc_trace = tmp_path / "secc.jsonl", tmp_path / "evcc.jsonl"
    journal = tmp_path / "secc.journal"
    keys = tmp_path / "ev.keys"
    env = dict(os.environ, SSLKEYLOGFILE=str(keys))  # the CLI passes its environment to the key log setting
    with cli.secc(
        [
            "--iface",
            "lo",
            "--listen",
            "::1",
            "--port",
            str(port),
            "--no-sdp",
            "--pki",
            pki_dir,
            "--once",
            "--trace",
            str(secc_trace),
            "--journal",
            str(journal),
        ]
    ) as secc:
        ev = cli.evcc(
            [
                "--target",
                f"[::1]:{port}",
                "--pki",
                pki_dir,
                "--loops",
                "3",
                "--mode",
                "discharge",
                "--control",
                "scheduled",
                "--trace",
                str(evcc_trace),
            ],
            env=env,
        )
        code, out, err = cli.finish(secc)
    offers = "offers iso20 AC, DC; iso2 AC, DC; din DC"  # every generation by default
    assert secc.listening == f"secc listening on [::1]:{port} (TLS 1.3, plain TCP, strict; {offers})"
    assert ev.returncode == 0, ev.stderr
    assert code == 0, err
    assert re.fullmatch(
        rf"evcc \[::1\]:{port}: session [0-9a-f]{{16}}, ISO 15118-20, AC_BPT scheduled, EIM, channel Discharge, "
        r"3 loops, "
        r"3 meter readings \(last: charged \d+ Wh, discharged \d+ Wh\), ended terminated \(SessionStop\(Terminate\)\)",
        ev.stdout.strip(),
    ), ev.stdout
    session = ev.stdout.split("session ")[1][:16]
    [line] = out.strip().splitlines()
    assert (
        line.startswith("secc [::1]:")
        and f"session {session}, ISO 15118-20, AC_BPT scheduled, EIM, channel Discharge" in line
    )
    assert line.endswith("ended terminated (SessionStop(Terminate))")
    for trace, role in ((secc_trace, "secc"), (evcc_trace, "evcc")):
        records = [json.loads(x) for x in trace.read_text().splitlines()]
        messages = [r["message"] for r in records if r.get("event") == "message"]
        assert messages.count("AC_ChargeLoopReq") == 3 and "SessionStopRes" in messages
        assert {r["role"] for r in records} == {role}
    assert "CLIENT_TRAFFIC_SECRET_0 " in keys.read_text()
    [journaled] = read_journal(journal)
    assert (journaled.role, journaled.session_id, journaled.bpt_channel, journaled.loops) == (
        "secc",
        session,
        "Discharge",
        3,
    )
    assert journaled.end_reason == "terminated" and len(journaled.meter_readings) == 3


def test_sdp_on_loopback_and_a_config_file_with_a_pause_notification(pki: TestPki, tmp_path: Path) -> None:
    sdp_port = free_port(udp=True)
    (tmp_path / "pki").symlink_to(pki.layout.directory)
    persona = tmp_path / "wallbox.toml"
    persona.write_text(
        f'[runtime]\niface = "lo"\nlisten = "::1"\nsdp_port = {sdp_port}\npki = "pki"\nonce = true\n'
        '[evse]\nnotifications = [[2, "Pause"]]\n'
    )
    with cli.secc(["--config", str(persona)], cwd=Path("/")) as secc:
        ev = cli.evcc(
            [
                "--iface",
                "lo",
                "--sdp-destination",
                "::1",
                "--sdp-port",
                str(sdp_port),
                "--pki",
                str(pki.layout.directory),
                "--control",
                "dynamic",
            ]
        )
        code, out, err = cli.finish(secc)
    assert ev.returncode == 0 and code == 0, (ev.stderr, err)
    assert "AC_BPT dynamic, EIM, channel Charge, 2 loops" in ev.stdout and "notifications Pause" in ev.stdout
    assert ev.stdout.strip().endswith("ended paused (SessionStop(Pause))")
    assert out.strip().endswith("ended paused (SessionStop(Pause))")


def test_a_failed_session_exits_1_on_both_sides(pki: TestPki, tmp_path: Path) -> None:
    port = free_port()
    pki_dir = str(pki.layout.directory)
    persona = tmp_path / "weak.toml"
    persona.write_text("[evse]\nmax_charge_w = 1000.0\n")  # below the EV's minimum charge power
    with cli.secc(
        ["--config", str(persona), "--listen", "::1", "--port", str(port), "--no-sdp", "--pki", pki_dir, "--once"]
    ) as secc:
        ev = cli.evcc(["--target", f"[::1]:{port}", "--pki", pki_dir, "--loops", "2"])
        code, out, _ = cli.finish(secc)
    assert ev.returncode == 1 and code == 1
    assert "ended failed_response_received FAILED_WrongChargeParameter" in ev.stdout
    assert "ended failed_response_sent FAILED_WrongChargeParameter" in out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["evcc", "--target", "[::1]:50000", "--no-tls"], "plain TCP (no TLS) is refused: ISO 15118-20 mandates"),
        (["evcc", "--target", "::1:50000", "--no-tls", "--tolerant"], "expected [ADDRESS%IFACE]:PORT"),
        (["evcc", "--no-tls", "--tolerant"], "needs an interface (--iface) or a target"),
        (["secc", "--listen", "::1", "--no-tls"], "[V2G20-1264]"),
        (["secc", "--listen", "::1"], "TLS needs a PKI"),
        (["secc", "--listen", "::1", "--pki", "/nonexistent"], "is not a v2gstack PKI"),
        (["evcc", "--trace", "/nonexistent/dir/t.jsonl", "--target", "[::1]:9", "--no-tls", "--tolerant"], "--trace"),
        # -20 is never offered where it cannot run: it needs its PKI (TLS 1.3), or to be left out.
        (["evcc", "--target", "[::1]:9", "--protocols", "iso20,iso2"], "TLS needs a PKI"),
        (["evcc", "--target", "[::1]:9", "--no-tls"], "leave iso20 out (--protocols iso2) or allow it with --tolerant"),
        (["secc", "--listen", "::1", "--no-tls", "--no-sdp"], "leave iso20 out (--protocols iso2,din)"),
        (
            ["secc", "--listen", "::1", "--protocols", "din", "--energy", "ac"],
            "nothing to offer: din (DIN 70121) left out: DIN 70121 is DC only and this charger offers AC only",
        ),
        (["evcc", "--target", "[::1]:9", "--protocols", "iso15"], "unknown protocol 'iso15' (known: iso20, iso2, din)"),
        (["evcc", "--target", "[::1]:9", "--protocols", "iso20,iso20"], "--protocols: iso20 is named twice"),
        (["evcc", "--target", "[::1]:9", "--protocols", ","], "--protocols: expected comma-separated names"),
        (["secc", "--listen", "::1", "--energy", "ac,wpt"], "--energy: unknown energy 'wpt' (known: ac, dc)"),
    ],
)
def test_bad_input_gives_one_clean_error_line(argv: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"v2g {argv[0]}: error: ") and words in err[0], err
    assert "Traceback" not in err[0]


def test_nothing_listening_is_a_clean_error(capsys: pytest.CaptureFixture[str], pki: TestPki) -> None:
    port = free_port()
    assert main(["evcc", "--target", f"[::1]:{port}", "--pki", str(pki.layout.directory)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"v2g evcc: error: [Errno 111] cannot connect to [::1]:{port}: Connection refused"


def test_bad_config_file_names_file_table_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[evse]\nmax_charge_kw = 11\n")
    assert main(["secc", "--config", str(bad), "--listen", "::1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"v2g secc: error: {bad}: [evse] max_charge_kw: unknown key (known: ")


def test_pause_and_resume_across_two_evcc_runs_then_sigterm(pki: TestPki) -> None:
    port = free_port()
    pki_dir = str(pki.layout.directory)
    target = ["--target", f"[::1]:{port}", "--pki", pki_dir, "--loops", "2"]
    with cli.secc(["--listen", "::1", "--port", str(port), "--no-sdp", "--pki", pki_dir]) as secc:
        first = cli.evcc([*target, "--stop", "pause"])
        assert first.returncode == 0, first.stderr
        assert first.stdout.strip().endswith("ended paused (SessionStop(Pause))")
        session = first.stdout.split("session ")[1][:16]
        second = cli.evcc([*target, "--resume", session])
        secc.proc.send_signal(signal.SIGTERM)  # a server without --once runs until told to stop
        code, out, err = cli.finish(secc)
    assert second.returncode == 0, second.stderr
    # The resuming EV skips service selection; the SECC restored the paused session's service.
    assert f"session {session}, ISO 15118-20, AC_BPT dynamic, resumed, channel Charge, 2 loops" in second.stdout
    assert second.stdout.strip().endswith("ended terminated (SessionStop(Terminate))")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 2 and all(f"session {session}" in line for line in lines)
    assert lines[0].endswith("ended paused (SessionStop(Pause))")
    assert f"session {session}, ISO 15118-20, AC_BPT dynamic, EIM, resumed, channel Charge, " in lines[1]


def test_an_installed_contract_is_kept_and_pays_the_next_session(pki: TestPki, tmp_path: Path) -> None:
    # -20: the charger's --cps answers the EV's CertificateInstallationReq; `--contract DIR` keeps the contract
    # (key 0600) and a later run pays with it.
    port = free_port()
    pki_dir = str(pki.layout.directory)
    installed = tmp_path / "installed"
    charger = ["--listen", "::1", "--port", str(port), "--no-sdp", "--pki", pki_dir, "--auth", "eim", "pnc"]
    ev = ["--target", f"[::1]:{port}", "--pki", pki_dir, "--protocols", "iso20", "--auth", "pnc", "--loops", "2"]
    with cli.secc([*charger, "--cps", pki_dir]) as secc:
        first = cli.evcc([*ev, "--install-certificate", "--contract", str(installed)])
        second = cli.evcc([*ev, "--contract", str(installed)])
        secc.proc.send_signal(signal.SIGTERM)
        code, _out, err = cli.finish(secc)
    assert first.returncode == 0, first.stderr
    assert "ISO 15118-20, AC_BPT dynamic, PnC, channel Charge, 2 loops" in first.stdout, first.stdout
    assert f"installed in {installed}" in first.stdout, first.stdout
    assert (installed / "contract_key.pem").stat().st_mode & 0o077 == 0
    assert second.returncode == 0, second.stderr
    assert ", PnC, channel Charge, 2 loops" in second.stdout and "installed" not in second.stdout, second.stdout
    assert code == 0, err
