"""`v2g slac`: argument handling, clean errors, and a real match between two CLI processes (root)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from harness.cli import build_parser, main
from harness.netns import VethPair, ns_command, veth_pair
from tests.support.netns import require_netns, veth_or_skip

from .topology import wait_for_packet_socket

V2G = [sys.executable, "-m", "harness.cli"]


def test_the_command_is_registered_with_its_options() -> None:
    args = build_parser().parse_args(
        ["slac", "--iface", "veth0", "--role", "ev", "--modem-standin", "--timeout", "7.5"]
    )
    assert (args.iface, args.role, args.modem_standin, args.timeout) == ("veth0", "ev", True, 7.5)
    assert callable(args.func)


def test_an_unknown_role_is_rejected_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["slac", "--iface", "veth0", "--role", "car"])
    assert "invalid choice: 'car'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--iface", "nosuchif0", "--role", "ev"], "nosuchif0"),
        (["--iface", "lo", "--role", "evse", "--nmk", "xyz"], "--nmk must be hex digits, got 'xyz'"),
        (["--iface", "lo", "--role", "evse", "--nmk", "00ff"], "an NMK has 16 bytes"),
    ],
)
def test_bad_input_gives_one_clean_error_line(argv: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["slac", *argv]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("v2g slac: error: ") and words in err[0]
    assert "Traceback" not in err[0]


@pytest.mark.root
def test_a_timeout_prints_the_steps_so_far_and_fails_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    require_netns()
    with veth_pair("slc") as pair:
        proc = subprocess.run(
            ns_command(pair.ns_a, [*V2G, "slac", "--iface", pair.if_a, "--role", "ev", "--timeout", "0.5"]),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert proc.returncode == 1
    assert "steps until the failure:" in proc.stdout and "CM_SLAC_PARM.REQ sent" in proc.stdout
    assert proc.stderr.strip() == (
        "v2g slac: error: SLAC failed at timeout: no match within 0.5 s (state: waiting for CM_SLAC_PARM.CNF)"
    )


@pytest.fixture
def veth() -> Iterator[VethPair]:
    yield from veth_or_skip("slc")


@pytest.mark.root
@pytest.mark.timeout(120)
def test_two_cli_processes_match_over_veth(veth: VethPair) -> None:
    nmk = "00112233445566778899aabbccddeeff"
    evse = subprocess.Popen(
        ns_command(veth.ns_b, [*V2G, "slac", "--iface", veth.if_b, "--role", "evse", "--nmk", nmk, "--timeout", "20"]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_packet_socket(evse.pid, "the SLAC EVSE")
    ev = subprocess.run(
        ns_command(
            veth.ns_a,
            [*V2G, "slac", "--iface", veth.if_a, "--role", "ev", "--modem-standin", "--json", "--timeout", "20"],
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    evse_out, evse_err = evse.communicate(timeout=60)
    assert ev.returncode == 0, ev.stderr
    assert evse.returncode == 0, evse_err
    report = json.loads(ev.stdout)
    assert report["role"] == "ev" and report["nmk"] == nmk and report["num_sounds"] == 10
    assert report["own_mac"] == veth.mac_a and report["peer_mac"] == veth.mac_b
    assert [s["step"] for s in report["steps"]][-1] == "CM_SET_KEY.CNF received"
    assert len(report["sound_times_s"]) == 10
    # The EVSE's text report names the same network and the peer, and lists its steps with times.
    assert f"matched as evse on {veth.if_b} ({veth.mac_b}) with {veth.mac_a}" in evse_out
    assert f"NMK    {nmk}" in evse_out and f"NID    {report['nid']}" in evse_out
    assert "sounding window" in evse_out and "CM_SLAC_MATCH.CNF sent" in evse_out
