"""harness.config: TOML persona files -> the frozen config objects, with command-line overrides and clear errors."""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path

import pytest

from harness.config import load_evcc_settings, load_secc_settings
from iso15118.config import EvccConfig, SeccConfig
from iso15118.constants import NS_DIN, NS_ISO2, NS_ISO20_AC, NS_ISO20_DC
from iso15118.controller import ChargeDirection, ControlMode, Notification
from iso15118.errors import ConfigError
from iso15118.iso20.services import AC_BPT
from iso15118.security.profiles import Entity
from iso15118.security.tls import TlsMode
from iso15118.session.timers import DEFAULT_TIMING
from iso15118.simple import SimpleEVConfig, SimpleEVSEConfig
from tests.transport_session.helpers import TestPki


def _example(name: str) -> Path:
    path = Path(str(resources.files("harness.data").joinpath(name)))
    assert path.is_file()
    return path


def _write(tmp_path: Path, text: str, name: str = "persona.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_example_files_state_the_defaults(pki: TestPki) -> None:
    # The examples say "the value shown is the default": hold them to it. The command line offers every
    # generation by default (the library's configurations: -20 only).
    secc = load_secc_settings(_example("secc.toml"), {"runtime": {"iface": "lo", "pki": pki.layout.directory}})
    every = (NS_ISO20_AC, NS_ISO20_DC, NS_ISO2, NS_DIN)
    assert secc.secc == dataclasses.replace(SeccConfig(), protocols=every) and secc.evse == SimpleEVSEConfig()
    assert secc == load_secc_settings(None, {"runtime": {"iface": "lo", "pki": pki.layout.directory}})
    assert (secc.server.port, secc.server.sdp, secc.server.sdp_port, secc.once) == (0, True, 15118, False)
    evcc = load_evcc_settings(_example("evcc.toml"), {"runtime": {"iface": "lo", "pki": pki.layout.directory}})
    # An AC EV offers -20 AC and -2: DIN 70121 is DC only.
    assert evcc.evcc == dataclasses.replace(EvccConfig(), protocols=(NS_ISO20_AC, NS_ISO2))
    assert evcc.ev == SimpleEVConfig()
    assert (evcc.client.sdp_tries, evcc.client.sdp_timeout_per_try_s, evcc.client.sdp_destination) == (
        50,
        0.25,
        "ff02::1",
    )


def test_pki_gives_both_roles_their_tls_identities_and_pnc_files(pki: TestPki) -> None:
    layout = pki.layout
    runtime = {"runtime": {"iface": "lo", "pki": layout.directory}}
    secc = load_secc_settings(None, runtime | {"secc": {"authorization": ["EIM", "PnC"]}})
    tls = secc.server.policy.tls
    assert tls is not None and tls.mode is TlsMode.STRICT
    assert (tls.certificate_chain, tls.private_key) == (
        layout[Entity.SECC_LEAF].chain_pem,
        layout[Entity.SECC_LEAF].key_pem,
    )
    assert tls.trust_roots == tuple(layout.roots(Entity.OEM_ROOT))  # vehicle anchors only, not the V2G root
    assert secc.pnc_roots == tuple(layout.roots(Entity.MO_ROOT))
    assert secc.pnc_certificates() == [pki.pki[Entity.MO_ROOT].certificate]
    evcc = load_evcc_settings(None, runtime | {"evcc": {"authorization": "PnC"}})
    etls = evcc.client.policy.tls
    assert etls is not None and etls.certificate_chain == layout[Entity.VEHICLE_LEAF].chain_pem
    assert etls.trust_roots == tuple(layout.roots(Entity.V2G_ROOT))
    assert evcc.evcc.credentials is not None
    assert evcc.evcc.credentials.chain == pki.contract().chain
    no_vehicle = load_evcc_settings(None, {"runtime": runtime["runtime"] | {"vehicle_certificate": False}})
    assert no_vehicle.client.policy.tls is not None and no_vehicle.client.policy.tls.certificate_chain is None


def test_values_of_every_kind_are_read(tmp_path: Path, pki: TestPki) -> None:
    path = _write(
        tmp_path,
        f"""
[runtime]
target = "[::1]:50000"
pki = "{pki.layout.directory}"
tolerant = true
timing_scale = 3
[evcc]
control_mode = "scheduled"
max_loops = 7
loop_interval_s = 1
resume_session_id = "0011223344556677"
stop_with = "Pause"
[ev]
direction = "discharge"
soc = 90
""",
    )
    settings = load_evcc_settings(path)
    assert settings.evcc.control_mode is ControlMode.SCHEDULED
    assert (settings.evcc.max_loops, settings.evcc.loop_interval_s) == (7, 1.0)
    assert settings.evcc.resume_session_id == bytes.fromhex("0011223344556677")
    assert settings.evcc.resume_service_id == AC_BPT  # the service a bidirectional EV had selected
    assert settings.ev.direction is ChargeDirection.DISCHARGE and settings.ev.soc == 90.0
    policy = settings.client.policy
    assert policy.tolerant and policy.scale == 3.0
    assert policy.session_config().timing == DEFAULT_TIMING.scaled(3.0)
    assert policy.tls_config() is not None and policy.tls_config().mode is TlsMode.TOLERANT  # type: ignore[union-attr]
    secc = load_secc_settings(
        _write(
            tmp_path,
            """
[runtime]
listen = "::1"
tls = false
tolerant = true
[secc]
control_modes = ["dynamic"]
services = ["ac_bpt"]
[evse]
notifications = [[2, "Pause"], [5, "Terminate"]]
setpoint_w = -3000
""",
            "secc.toml",
        )
    )
    assert secc.secc.control_modes == (2,) and secc.secc.services == (5,)
    assert secc.evse.notifications == ((2, Notification.PAUSE), (5, Notification.TERMINATE))
    assert secc.evse.setpoint_w == -3000.0
    assert secc.server.policy.tls is None
    assert secc.server.policy.deviations() == ("plain-tcp", "relaxed-timing", "schema-deviations")


def test_command_line_overrides_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, '[runtime]\nlisten = "::1"\nport = 50001\ntls = false\ntolerant = true\n')
    settings = load_secc_settings(path, {"runtime": {"port": 50002, "listen": None}, "secc": {"authorization": None}})
    assert settings.server.port == 50002  # the option wins
    assert settings.server.listen == "::1"  # None means "not given": the file's value stays
    assert settings.secc.authorization == SeccConfig().authorization


def test_relative_paths_are_relative_to_the_file(tmp_path: Path, pki: TestPki) -> None:
    folder = tmp_path / "persona"
    folder.mkdir()
    (folder / "pki").symlink_to(pki.layout.directory)
    path = _write(folder, '[runtime]\niface = "lo"\npki = "pki"\nkeylog = "keys/tls.log"\n')
    settings = load_secc_settings(path)
    tls = settings.server.policy.tls
    assert tls is not None and tls.keylog_filename == folder.resolve() / "keys" / "tls.log"
    assert tls.certificate_chain == folder.resolve() / "pki" / "chains" / "secc_leaf_chain.pem"


def test_keylog_comes_from_the_callers_environment(pki: TestPki, tmp_path: Path) -> None:
    runtime = {"iface": "lo", "pki": pki.layout.directory}
    env = {"SSLKEYLOGFILE": str(tmp_path / "env.log")}
    tls = load_evcc_settings(None, {"runtime": runtime}, environ=env).client.policy.tls
    assert tls is not None and tls.keylog_filename == tmp_path / "env.log"
    explicit = load_evcc_settings(None, {"runtime": runtime | {"keylog": tmp_path / "x.log"}}, environ=env)
    assert explicit.client.policy.tls is not None and explicit.client.policy.tls.keylog_filename == tmp_path / "x.log"
    assert load_evcc_settings(None, {"runtime": runtime}).client.policy.tls.keylog_filename is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[bogus]\nx = 1\n", r"persona.toml: unknown table \[bogus\] \(known: \[runtime\], \[secc\]"),
        ("[evse]\nmax_charge_kw = 11\n", r"persona.toml: \[evse\] max_charge_kw: unknown key \(known: .*max_charge_w"),
        ('[evse]\nmax_charge_w = "lots"\n', r"\[evse\] max_charge_w: expected a number, got 'lots'"),
        ("[runtime]\nport = true\n", r"\[runtime\] port: expected an integer, got True"),
        ("[runtime]\nonce = 1\n", r"\[runtime\] once: expected true or false, got 1"),
        ('[secc]\nauthorization = ["EIM", "RFID"]\n', r"\[secc\] authorization: expected one of EIM, PnC, got 'RFID'"),
        ('[secc]\npricing = "absolute"\n', r"\[secc\] pricing: expected one of none, price_levels, got 'absolute'"),
        (
            '[secc]\ncontrol_modes = ["smart"]\n',
            r"\[secc\] control_modes: expected 'scheduled', 'dynamic', got 'smart'",
        ),
        ('[evse]\nnotifications = [[2, "Nap"]]\n', r"\[evse\] notifications: expected one of 'Pause'"),
        ("[evse]\nnotifications = [2]\n", r"\[evse\] notifications: expected an array, got 2"),
        ("secc = 1\n", r"persona.toml: secc must be a table"),
        ("[evse]\nmax_discharge_w = -11000\n", r"\[evse\] max_discharge_w: must be >= 0, got -11000.0"),
        ("[runtime]\nport = -1\n", r"\[runtime\] port: must be >= 0, got -1"),
        ("[runtime\n", r"persona.toml: not valid TOML"),
        ('[runtime]\nlisten = "::1"\ntls = false\n', r"plain TCP .*\[V2G20-1264\].*--tolerant"),
        (
            '[runtime]\nlisten = "::1"\ntiming_scale = 2\n'
            '[tls]\ncertificate_chain = "c.pem"\nprivate_key = "k.pem"\ntrust_roots = ["r.pem"]\n',
            r"timing_scale other than 1 .*tolerant mode only",
        ),
        ('[runtime]\nlisten = "::1"\n', r"TLS needs a PKI"),
        ('[runtime]\nlisten = "::1"\n[secc]\nauthorization = ["PnC"]\n', r"TLS needs a PKI|PnC needs MO roots"),
    ],
)
def test_bad_secc_files_are_refused_naming_file_table_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_secc_settings(_write(tmp_path, text))


def test_bad_evcc_values_name_their_origin(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^command line: \[evcc\] max_loops: expected an integer, got 'many'"):
        load_evcc_settings(None, {"runtime": {"target": "[::1]:1"}, "evcc": {"max_loops": "many"}})
    with pytest.raises(ConfigError, match=r"\[evcc\] credentials: comes from the PKI"):
        load_evcc_settings(_write(tmp_path, "[evcc]\ncredentials = 'x'\n"))
    with pytest.raises(ConfigError, match=r"\[ev\] target_soc: is a percentage, got 120.0"):
        load_evcc_settings(_write(tmp_path, "[ev]\ntarget_soc = 120\n"))
    with pytest.raises(ConfigError, match=r"\[evcc\] stop_with: expected one of Terminate, Pause"):
        load_evcc_settings(_write(tmp_path, "[evcc]\nstop_with = 'Unplug'\n"))
    with pytest.raises(ConfigError, match=r"\[evcc\] power_tolerance_acceptance: expected one of PowerToleranceNot"):
        load_evcc_settings(_write(tmp_path, "[evcc]\npower_tolerance_acceptance = 'Yes'\n"))
    with pytest.raises(ConfigError, match=r"EvccConfig.power_tolerance_acceptance must be one of .*got 'Yes'"):
        EvccConfig(power_tolerance_acceptance="Yes")
    with pytest.raises(ConfigError, match=r"\[evcc\] resume_session_id: a SessionID has 8 bytes, got 2"):
        load_evcc_settings(
            None,
            {"runtime": {"target": "[::1]:1", "tls": False, "tolerant": True}, "evcc": {"resume_session_id": "abcd"}},
        )
    with pytest.raises(ConfigError, match=r"\[evcc\] resume_session_id: expected a hex string"):
        load_evcc_settings(_write(tmp_path, "[evcc]\nresume_session_id = 'xyz'\n"))
    with pytest.raises(ConfigError, match=r"needs an interface \(--iface\) or a target"):
        load_evcc_settings(_write(tmp_path, "[runtime]\ntls = false\ntolerant = true\n"))
    with pytest.raises(ConfigError, match=r"PnC needs contract credentials"):
        load_evcc_settings(
            None, {"runtime": {"target": "[::1]:1", "tls": False, "tolerant": True}, "evcc": {"authorization": "PnC"}}
        )
    with pytest.raises(ConfigError, match=r"cannot read .*missing.toml"):
        load_evcc_settings(tmp_path / "missing.toml")
