"""Our EV and EVSE, and `v2g modem`, against the modem emulator in a middle namespace (root).

Topology (tests/slac/topology.py): EV namespace -- middle namespace with a kernel bridge -- EVSE namespace;
the emulator plays one Qualcomm modem per bridge port. Faults: a late start, a reset that takes seconds,
an AR7420 that sends no CM_ATTEN_PROFILE.IND, a modem that never answers.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from harness.netns import ns_command
from iso15118.slac.emulator import Chip, ModemEmulator, ModemSpec
from iso15118.slac.pib import PibRole
from iso15118.slac.timers import SlacConfig
from iso15118.transport.slac_link import MatchingError
from tests.support.netns import require_netns

from .topology import BridgedLink, StandInService, bridged_link, join_all, slac_in

pytestmark = [pytest.mark.root, pytest.mark.timeout(180)]
V2G = [sys.executable, "-m", "harness.cli"]


@contextmanager
def emulated_service(
    ev: ModemSpec | None = None, evse: ModemSpec | None = None
) -> Iterator[tuple[BridgedLink, ModemEmulator, StandInService]]:
    require_netns()
    with bridged_link("sle") as link:
        specs = {link.port_ev: ev or ModemSpec(role=PibRole.EV), link.port_evse: evse or ModemSpec()}
        model = ModemEmulator(specs, now=time.monotonic())
        service = StandInService(link.ns_mid, [link.port_ev, link.port_evse], model)
        service.wait_ready()
        try:
            yield link, model, service
        finally:
            service.stop()


@contextmanager
def emulated(ev: ModemSpec | None = None, evse: ModemSpec | None = None) -> Iterator[tuple[BridgedLink, ModemEmulator]]:
    with emulated_service(ev, evse) as (link, model, _service):
        yield link, model


def modem_cli(ns: str, iface: str, *argv: str) -> subprocess.CompletedProcess[str]:
    action, *rest = argv
    return subprocess.run(
        ns_command(ns, [*V2G, "modem", action, "--iface", iface, *rest]),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_modem_commands_work_against_the_emulator() -> None:
    with emulated(ev=ModemSpec(role=PibRole.EV, chip=Chip.QCA7420, reset_s=2.0)) as (link, model):
        info = modem_cli(link.ns_ev, link.if_ev, "info", "--json")
        assert info.returncode == 0, info.stderr
        assert json.loads(info.stdout) == {
            "mac": model.modems[link.port_ev].mac.hex(":"),
            "version": Chip.QCA7420.version,
            "device_class": 0x20,
        }
        status = modem_cli(link.ns_ev, link.if_ev, "status")
        assert status.stdout.splitlines() == ["powerline link down", "  no logical network (no peer)"]
        assert modem_cli(link.ns_ev, link.if_ev, "role").stdout.strip() == f"modem on {link.if_ev}: role ev"
        # Writing the role stores the PIB, resets the modem (2 s here) and checks the role it runs.
        written = modem_cli(link.ns_ev, link.if_ev, "role", "evse", "--json")
        assert written.returncode == 0, written.stderr
        report = json.loads(written.stdout)
        assert report["role"] == "evse" and report["back_s"] >= 2.0
        assert model.modems[link.port_ev].role is PibRole.EVSE and model.modems[link.port_ev].resets == 1
        reset = modem_cli(link.ns_ev, link.if_ev, "reset", "--json")
        assert json.loads(reset.stdout)["back_s"] >= 2.0 and model.modems[link.port_ev].resets == 2
        # A modem slower to come back than we wait for: the step and the wait are named, no traceback.
        slow = modem_cli(link.ns_ev, link.if_ev, "reset", "--reset-wait", "0.5")
        assert slow.returncode == 1 and slow.stderr.strip() == (
            "v2g modem: error: modem VS_RS_DEV.REQ: the modem confirmed the reset but did not answer again within 0.5 s"
        )


def test_our_ev_and_evse_match_through_the_emulator_and_the_link_comes_up() -> None:
    cfg = SlacConfig(link_status_check=True)
    with emulated() as (link, model):
        evse = slac_in(link.ns_evse, link.if_evse, "evse", config=cfg)
        ev = slac_in(link.ns_ev, link.if_ev, "ev", config=cfg)
        ev_result, evse_result = join_all(ev, evse)
        assert ev_result.nmk == evse_result.nmk and model.profiles_sent == 10
        status = modem_cli(link.ns_ev, link.if_ev, "status", "--json")
    networks = json.loads(status.stdout)["networks"]
    assert json.loads(status.stdout)["link_up"] is True
    assert networks[0]["nid"] == ev_result.nid.hex() and len(networks[0]["stations"]) == 1


def _set_key_requests(service: StandInService, port: str) -> int:
    return sum(
        1
        for p, frame in list(service.frames)
        if p == port and frame[12:14] == b"\x88\xe1" and frame[14] == 1 and frame[15:17] == b"\x08\x60"
    )


def test_a_late_modem_is_named_while_it_boots_and_waited_for() -> None:
    # Both modems boot only when the test powers them on (readiness, not a timer).
    never = ModemSpec(start_s=float("inf"))
    with emulated_service(ev=ModemSpec(role=PibRole.EV, start_s=float("inf")), evse=never) as (link, model, service):
        early = modem_cli(link.ns_evse, link.if_evse, "info", "--timeout", "0.3")
        assert early.returncode == 1 and early.stderr.startswith("v2g modem: error: modem VS_SW_VER.REQ: no ")
        assert "is a Qualcomm modem (QCA7000/7005/7420) powered and connected?" in early.stderr
        # The EVSE starts first and keeps asking its silent modem ...
        evse = slac_in(link.ns_evse, link.if_evse, "evse", timeout=60.0)
        deadline = time.monotonic() + 60
        while _set_key_requests(service, link.port_evse) < 2:
            assert time.monotonic() < deadline, "the EVSE did not repeat CM_SET_KEY.REQ"
            time.sleep(0.05)
        # ... until the modems come up; then the EV matches with it.
        for port in (link.port_ev, link.port_evse):
            model.power_on(port, time.monotonic())
        ev = slac_in(link.ns_ev, link.if_ev, "ev", timeout=60.0)
        ev_result, evse_result = join_all(ev, evse, timeout=90)
    assert ev_result.nmk == evse_result.nmk
    # The EVSE asked its modem more than once: it waited instead of giving up.
    asked = [s for s in evse_result.steps if s.name == "CM_SET_KEY.REQ sent"]
    assert len(asked) >= 2 and evse_result.steps[len(asked)].name == "CM_SET_KEY.CNF received"


def test_an_ar7420_evse_modem_fails_with_the_remedy_and_matches_with_the_fallback() -> None:
    ar7420 = ModemSpec(chip=Chip.AR7420)
    with emulated(evse=ar7420) as (link, model):
        cfg = SlacConfig(tt_matching_repetition=2.0)
        evse = slac_in(link.ns_evse, link.if_evse, "evse", config=cfg)
        ev = slac_in(link.ns_ev, link.if_ev, "ev", config=cfg)
        with pytest.raises(MatchingError) as failed:
            join_all(evse, ev)
        assert failed.value.step == "CM_ATTEN_PROFILE" and "AR7420" in failed.value.reason
        assert model.profiles_sent == 0
        fallback = SlacConfig(no_profile_fallback_db=25)
        evse = slac_in(link.ns_evse, link.if_evse, "evse", config=fallback)
        ev = slac_in(link.ns_ev, link.if_ev, "ev")
        ev_result, evse_result = join_all(ev, evse)
    assert ev_result.attenuation_db == 25.0 and evse_result.num_sounds == 10
