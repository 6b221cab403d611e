"""`v2g secc` / `v2g evcc` with ISO 15118-2 and DIN 70121: DIN DC, -2 AC and DC (EIM) and -2 PnC over TLS 1.2
between two CLI processes on ::1; negotiation across generations with SDP on the loopback (an EV offering
iso20,iso2,din ends in DIN against a DIN-only charger, and in -2 over TLS 1.2 against a -2/DIN one, saying why
-20 was not used); a -2 contract installed from the charger's `--cps`; what an EV or a charger cannot offer for
its energy or direction; codecs preloaded per protocol.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main
from harness.commands import _sessions
from harness.config import load_evcc_settings, load_secc_settings
from iso15118.config import EvccConfig
from iso15118.constants import NS_DIN, NS_ISO2, NS_ISO20_AC, NS_ISO20_DC, SdpSecurity
from iso15118.errors import ConfigError
from iso15118.security.iso2_credentials import iso2_provisioning
from iso15118.security.pki import init_pki, load_pki
from iso15118.security.profiles import Entity
from iso15118.security.tls import TlsConfig, TlsMode
from iso15118.session.selection import EnergyFamily
from iso15118.simple import SimpleEV
from iso15118.transport.evcc_client import EvccClientConfig, run_evcc
from iso15118.transport.policy import TransportPolicy
from tests.support.netns import free_port, ipv6_loopback
from tests.transport_session import cli_support as cli
from tests.transport_session.helpers import TestPki

pytestmark = pytest.mark.skipif(not ipv6_loopback(), reason="needs an IPv6 loopback (::1)")

_END = "ended terminated (SessionStop(Terminate))"
_EVERY = "offers iso20 AC, DC; iso2 AC, DC; din DC"


@pytest.fixture(scope="module")
def pki2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A -2 test PKI (`v2g pki init --profile iso2`), valid from a minute ago."""
    now = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).replace(microsecond=0)
    yield init_pki(tmp_path_factory.mktemp("cli-legacy") / "pki2", kind="iso2", now=now).directory


def _session_of(line: str) -> str:
    return line.split("session ")[1][:16]


@pytest.mark.timeout(240)
def test_din_and_iso2_sessions_between_two_processes(pki: TestPki, pki2: Path, tmp_path: Path) -> None:
    port = free_port()
    pki20 = str(pki.layout.directory)
    keys = tmp_path / "ev.keys"
    charger = ["--listen", "::1", "--port", str(port), "--no-sdp", "--pki", pki20, "--pki", str(pki2)]
    target = ["--target", f"[::1]:{port}", "--loops", "3", "--loop-interval", "0.02"]
    with cli.secc([*charger, "--auth", "eim", "pnc"]) as secc:
        runs = {
            "din": cli.evcc([*target, "--protocols", "din"]),  # a DIN EV is a DC one
            "iso2 ac": cli.evcc([*target, "--protocols", "iso2", "--energy", "ac"]),
            "iso2 dc": cli.evcc([*target, "--protocols", "iso2,din", "--energy", "dc"]),
            "iso2 pnc": cli.evcc(
                [*target, "--protocols", "iso2", "--pki", str(pki2), "--auth", "pnc", "--keylog", str(keys)]
            ),
        }
        secc.proc.send_signal(signal.SIGTERM)
        code, out, err = cli.finish(secc)
    assert secc.listening == f"secc listening on [::1]:{port} (TLS 1.3, TLS 1.2, plain TCP, strict; {_EVERY})"
    for name, run in runs.items():
        assert run.returncode == 0, (name, run.stdout, run.stderr)
        assert run.stdout.strip().endswith(_END), run.stdout
    expected = {
        "din": ("DIN 70121, DC, EIM, 3 loops", "tcp", "DIN 70121"),
        "iso2 ac": ("ISO 15118-2, AC, EIM, 3 loops, 3 meter readings", "tcp", "ISO 15118-2"),
        "iso2 dc": ("ISO 15118-2, DC, EIM, 3 loops, 3 meter readings", "tcp", "ISO 15118-2"),
        "iso2 pnc": ("ISO 15118-2, AC, PnC, 3 loops, 3 meter readings", "tls1.2", "ISO 15118-2"),
    }
    for name, (words, transport, chosen) in expected.items():
        assert f"session {_session_of(runs[name].stdout)}, {words}" in runs[name].stdout, runs[name].stdout
        # Both ends say what was offered and what was chosen, over which transport.
        said = f"SupportedAppProtocol over {transport}: offered "
        assert (
            f"evcc: {said}" in runs[name].stderr and f"; chose {chosen} (OK_SuccessfulNegotiation)" in runs[name].stderr
        ), runs[name].stderr
    assert (
        "offered ISO 15118-2 2.0 (priority 1), DIN 70121 2.0 (priority 2); chose ISO 15118-2" in runs["iso2 dc"].stderr
    )
    # -2 PnC ran over TLS 1.2: its key log has TLS 1.2 secrets and no TLS 1.3 ones.
    log = keys.read_text()
    assert "CLIENT_RANDOM " in log and "CLIENT_TRAFFIC_SECRET_0" not in log
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 4 and all(line.endswith(_END) for line in lines), lines
    for line, (name, (words, _, _)) in zip(lines, expected.items(), strict=True):
        assert f"session {_session_of(runs[name].stdout)}, {words.split(', 3 meter')[0]}" in line, line
    assert err.count("SupportedAppProtocol over tcp: ") == 3 and err.count("SupportedAppProtocol over tls1.2: ") == 1


def _sdp_charger(sdp_port: int, port: int, *argv: str) -> list[str]:
    return ["--iface", "lo", "--listen", "::1", "--port", str(port), "--sdp-port", str(sdp_port), *argv]


def _sdp_ev(sdp_port: int, *argv: str) -> list[str]:
    return ["--iface", "lo", "--sdp-destination", "::1", "--sdp-port", str(sdp_port), "--loops", "2", *argv]


@pytest.mark.timeout(180)
def test_an_ev_offering_every_generation_falls_back_to_din_and_says_so(pki: TestPki) -> None:
    sdp_port, port = free_port(udp=True), free_port()
    with cli.secc(_sdp_charger(sdp_port, port, "--protocols", "din", "--once")) as secc:
        ev = cli.evcc(_sdp_ev(sdp_port, "--pki", str(pki.layout.directory), "--energy", "dc"))
        code, out, err = cli.finish(secc)
    assert secc.listening == f"secc listening on [::1]:{port} (plain TCP, strict; offers din DC)"
    assert ev.returncode == 0 and code == 0, (ev.stderr, err)
    # The charger announced no TLS in SDP: the EV connected over TCP, offering what runs over it.
    line = ev.stdout.strip()
    assert f"session {_session_of(line)}, DIN 70121, DC, EIM, 2 loops, " in line
    assert line.endswith(
        f"{_END}, not ISO 15118-20: ISO 15118-20 DC was preferred but not used: ISO 15118-20 needs TLS 1.3 "
        "[V2G20-1264] (this connection: tcp)"
    )
    assert (
        "evcc: SupportedAppProtocol over tcp: offered ISO 15118-2 2.0 (priority 1), DIN 70121 2.0 (priority 2); "
        "chose DIN 70121 (OK_SuccessfulNegotiation); not offered: ISO 15118-20 DC: ISO 15118-20 needs TLS 1.3"
    ) in ev.stderr
    assert f"session {_session_of(line)}, DIN 70121, DC, EIM, 2 loops, " in out
    assert "chose DIN 70121" in err


@pytest.mark.timeout(180)
def test_a_failed_tls13_handshake_ends_in_iso2_over_tls12_and_says_so(pki: TestPki, pki2: Path) -> None:
    sdp_port, port = free_port(udp=True), free_port()
    charger = _sdp_charger(sdp_port, port, "--protocols", "iso2,din", "--pki", str(pki2))
    with cli.secc(charger) as secc:
        ev = cli.evcc(_sdp_ev(sdp_port, "--pki", str(pki.layout.directory), "--pki", str(pki2), "--energy", "dc"))
        secc.proc.send_signal(signal.SIGTERM)
        code, out, err = cli.finish(secc)
    assert secc.listening == f"secc listening on [::1]:{port} (TLS 1.2, plain TCP, strict; offers iso2 AC, DC; din DC)"
    assert ev.returncode == 0, ev.stderr
    line = ev.stdout.strip()
    assert f"session {_session_of(line)}, ISO 15118-2, DC, EIM, 2 loops, " in line
    # -20 came first: the TLS 1.3 handshake this charger cannot serve is the reason, on the line and on stderr.
    assert ", not ISO 15118-20: ISO 15118-20 DC was preferred but not used: TLS 1.3 (ISO 15118-20) failed: " in line
    assert "EVCC: TLS 1.3 (ISO 15118-20) failed: " in ev.stderr and "trying TLS 1.2 (ISO 15118-2)" in ev.stderr
    assert "evcc: SupportedAppProtocol over tls1.2: offered ISO 15118-2 2.0 (priority 1)" in ev.stderr
    assert code == 1, err  # the refused TLS 1.3 connection counts as a failed one
    assert f"session {_session_of(line)}, ISO 15118-2, DC, EIM, 2 loops" in out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (
            ["--protocols", "iso2,din", "--mode", "discharge"],
            "--mode discharge needs iso20: discharging (BPT) is ISO 15118-20 only, --protocols iso2,din",
        ),
        (
            ["--protocols", "din", "--energy", "ac"],
            "--energy ac: DIN 70121 is DC only (--protocols din needs --energy dc, or add iso20/iso2)",
        ),
    ],
)
def test_what_no_protocol_named_can_do_is_a_usage_error(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evcc", "--target", "[::1]:9", *argv]) == 2
    assert capsys.readouterr().err.strip() == f"v2g evcc: error: {words}"


def test_a_second_generation_pki_is_named_and_iso20_needs_its_own(
    pki: TestPki, pki2: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evcc", "--target", "[::1]:9", "--pki", str(pki2)]) == 1
    err = capsys.readouterr().err.strip()
    assert (
        "TLS needs a PKI" in err and f"ISO 15118-20 needs TLS 1.3 with a -20 PKI, and {pki2} is an ISO 15118-2" in err
    )
    assert "leave iso20 out (--protocols iso2,din)" in err
    pki20 = str(pki.layout.directory)
    assert main(["secc", "--listen", "::1", "--no-sdp", "--pki", pki20, "--pki", pki20]) == 1
    assert "are both ISO 15118-20 PKIs; give one per generation" in capsys.readouterr().err


def test_what_does_not_fit_the_energy_or_direction_is_left_out_and_said(pki: TestPki, pki2: Path) -> None:
    runtime = {"runtime": {"target": "[::1]:1", "pki": [pki.layout.directory, pki2]}}
    ac = load_evcc_settings(None, runtime, protocols=("iso20", "iso2", "din"))
    assert ac.evcc.offered_protocols == (NS_ISO20_AC, NS_ISO2)
    assert ac.notes == ("din (DIN 70121) left out: DIN 70121 is DC only (the EV's energy is AC; --energy dc)",)
    assert ac.client.policy.tls_iso2 is not None and ac.client.policy.tls_iso2.mode is TlsMode.ISO2
    # The default list leaves DIN out of an AC EV's offer without a word; a DC EV offers all three.
    assert load_evcc_settings(None, runtime).notes == ()
    dc = load_evcc_settings(None, runtime | {"evcc": {"energy": "DC"}})
    assert dc.evcc.offered_protocols == (NS_ISO20_DC, NS_ISO2, NS_DIN)
    discharge = load_evcc_settings(None, runtime | {"ev": {"direction": "discharge"}}, protocols=("iso20", "iso2"))
    assert discharge.evcc.offered_protocols == (NS_ISO20_AC,)
    assert discharge.notes == (
        "iso2 (ISO 15118-2) left out: discharging (BPT) is ISO 15118-20 only (the EV is to discharge)",
    )
    with pytest.raises(ConfigError, match=r"nothing to offer: iso2 \(ISO 15118-2\) left out: discharging"):
        load_evcc_settings(None, runtime | {"ev": {"direction": "discharge"}}, protocols=("iso2",))
    secc = load_secc_settings(None, {"runtime": {"listen": "::1", "pki": [pki2]}}, protocols=("iso2", "din"))
    assert secc.secc.protocols == (NS_ISO2, NS_DIN) and secc.server.policy.tls is None
    assert secc.iso2_pki is not None and secc.server.policy.tls_iso2 is not None
    ac_charger = load_secc_settings(
        None, {"runtime": {"listen": "::1"}}, protocols=("iso2", "din"), energy=(EnergyFamily.AC,)
    )
    assert ac_charger.secc.protocols == (NS_ISO2,)
    assert ac_charger.notes == ("din (DIN 70121) left out: DIN 70121 is DC only and this charger offers AC only",)


def test_prepare_process_preloads_the_codecs_of_the_protocols(monkeypatch: pytest.MonkeyPatch) -> None:
    import iso15118.codec

    loaded: list[str] = []
    monkeypatch.setattr(iso15118.codec, "codec_for", loaded.append)
    monkeypatch.setattr(_sessions.gc, "freeze", lambda: None)
    _sessions.prepare_process((NS_DIN,))
    assert loaded == ["appprotocol", "din", "xmldsig"]
    loaded.clear()
    _sessions.prepare_process((NS_ISO20_DC, NS_ISO2, NS_DIN))
    assert loaded == ["appprotocol", "iso20_common", "iso20_dc", "iso2", "din", "xmldsig"]


@pytest.mark.asyncio
@pytest.mark.timeout(120)
async def test_the_charger_installs_a_contract_for_a_iso2_ev_from_its_cps(pki: TestPki, pki2: Path) -> None:
    # `--cps` once per generation: the -2 PKI's CPS answers the -2 EV's CertificateInstallationReq, then PnC.
    port = free_port()
    pki20 = str(pki.layout.directory)
    charger = ["--listen", "::1", "--port", str(port), "--no-sdp", "--pki", pki20, "--pki", str(pki2), "--once"]
    with cli.secc([*charger, "--auth", "eim", "pnc", "--cps", pki20, "--cps", str(pki2)]) as secc:
        trust = TlsConfig(trust_roots=tuple(load_pki(pki2).roots(Entity.V2G_ROOT)), mode=TlsMode.ISO2)
        client = EvccClientConfig(
            policy=TransportPolicy(tls=None, tls_iso2=trust), target=f"[::1]:{port}", security=SdpSecurity.TLS
        )
        ev = EvccConfig(protocols=(NS_ISO2,), authorization="PnC", provisioning=iso2_provisioning(pki2), max_loops=2)
        run = await run_evcc(client, SimpleEV(), ev)
        code, out, err = await asyncio.to_thread(cli.finish, secc)
    assert run.ok and run.tls is not None and run.tls.version == "TLSv1.2", run.outcome
    assert run.outcome.negotiated["contract_installed"] and run.outcome.negotiated["authorization"] == "PnC"
    assert code == 0, err
    assert f"session {run.outcome.session_id.hex()}, ISO 15118-2, AC, PnC, 2 loops" in out
