"""SLAC over real raw sockets between network namespaces (root): our EV against our EVSE."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from harness.netns import VethPair, veth_pair
from iso15118.slac.mme import MIN_FRAME_LENGTH, MMType, unpack_frame
from iso15118.slac.modem import ModemStandIn
from iso15118.slac.timers import SlacConfig
from iso15118.transport.slac_link import SlacResult
from tests.support.netns import require_netns

from .topology import StandInService, bridged_link, join_all, slac_in

pytestmark = [pytest.mark.root, pytest.mark.timeout(120)]
CFG = SlacConfig()


@pytest.fixture(scope="module")
def netns_ok() -> None:
    require_netns()


@pytest.fixture
def veth(netns_ok: None) -> Iterator[VethPair]:
    with veth_pair("slv") as pair:
        yield pair


def check_pair(ev: SlacResult, evse: SlacResult) -> None:
    """The two results describe one match, and the sounds respected the standard's timing."""
    assert (ev.nid, ev.nmk, ev.run_id) == (evse.nid, evse.nmk, evse.run_id)
    assert ev.peer_mac == evse.own_mac and evse.peer_mac == ev.own_mac
    assert ev.num_sounds == evse.num_sounds == CFG.c_ev_match_mnbc
    assert ev.key_result == evse.key_result == 0
    # Every sound reached the EVSE inside its sounding window (TT_EVSE_match_MNBC after START_ATTEN_CHAR).
    assert evse.sounding_window is not None
    start, end = evse.sounding_window
    assert end - start == pytest.approx(CFG.tt_evse_match_mnbc)
    assert len(evse.sound_times) == CFG.c_ev_match_mnbc
    assert all(start < t < end for t in evse.sound_times), (start, evse.sound_times, end)
    # TP_EV_batch_msg_interval: the EV never sends the next frame sooner than 20 ms after the last. Its upper
    # bound (50 ms) is the schedule's, checked exactly in virtual time by test_ev_machine; over real sockets a
    # loaded machine may wake the EV late, so it is not asserted here (tests do not depend on timing).
    gaps = [b - a for a, b in itertools.pairwise(ev.sound_times)]
    assert all(g >= 0.02 for g in gaps), gaps
    sent = [s for s in ev.steps if s.name in ("CM_START_ATTEN_CHAR.IND sent", "CM_MNBC_SOUND.IND sent")]
    assert len(sent) == CFG.c_ev_start_atten_char_inds + CFG.c_ev_match_mnbc


@pytest.mark.parametrize("standin_side", ["ev", "evse", "both"])
def test_our_ev_and_evse_match_over_veth_with_an_in_process_standin(veth: VethPair, standin_side: str) -> None:
    # No head start: the EVSE waits for its (stand-in) modem and the EV repeats CM_SLAC_PARM.REQ.
    evse = slac_in(veth.ns_b, veth.if_b, "evse", modem_standin=standin_side in ("evse", "both"))
    ev = slac_in(veth.ns_a, veth.if_a, "ev", modem_standin=standin_side in ("ev", "both"))
    ev_result, evse_result = join_all(ev, evse)
    check_pair(ev_result, evse_result)
    assert ev_result.own_mac.hex() == veth.mac_a.replace(":", "")
    assert ev_result.duration < 5 and evse_result.duration < 6
    if standin_side == "both":
        # Each stand-in keyed only its own host; the EVSE still counted every sound exactly once.
        assert [(k.port, k.nmk) for k in ev_result.modem_keys] == [("host", ev_result.nmk)]
        assert [(k.port, k.nmk) for k in evse_result.modem_keys] == [("host", ev_result.nmk)]
        return
    keys = (ev_result if standin_side == "ev" else evse_result).modem_keys
    # One stand-in answered both hosts' CM_SET_KEY.REQ: its own host's locally, the peer's over the wire.
    assert sorted(k.port for k in keys) == ["host", "line"]
    assert {k.nmk for k in keys} == {ev_result.nmk}


@pytest.mark.parametrize("bridge", ["kernel", "user-space"])
def test_our_ev_and_evse_match_through_a_middle_namespace_with_the_standin(netns_ok: None, bridge: str) -> None:
    with bridged_link(kernel_bridge=bridge == "kernel") as link:
        model = ModemStandIn([link.port_ev, link.port_evse], forward=bridge == "user-space")
        service = StandInService(link.ns_mid, [link.port_ev, link.port_evse], model)
        service.wait_ready()
        try:
            evse = slac_in(link.ns_evse, link.if_evse, "evse")
            ev = slac_in(link.ns_ev, link.if_ev, "ev")
            ev_result, evse_result = join_all(ev, evse)
        finally:
            service.stop()
    check_pair(ev_result, evse_result)
    assert ev_result.attempts == 1
    # The middle modems keyed both hosts with the network key and measured every sound.
    assert {(k.port, k.nmk) for k in model.keys} == {(link.port_ev, ev_result.nmk), (link.port_evse, ev_result.nmk)}
    assert model.sounds_seen == model.profiles_sent == CFG.c_ev_match_mnbc
    # Every frame the hosts put on the wire is padded to 60 bytes and parses; nothing else was seen.
    kinds = []
    for _, frame in service.frames:
        if frame[12:14] != b"\x88\xe1":
            # The hosts' fresh links send IPv6 chatter (DAD, MLD reports, router solicitations) for a few seconds;
            # a capture on either bridge's ports sees it whenever it overlaps the match. Nothing else may appear.
            assert frame[12:14] == b"\x86\xdd", f"{bridge} bridge: unexpected ethertype {frame[12:14].hex()}"
            continue
        assert len(frame) >= MIN_FRAME_LENGTH
        kinds.append(unpack_frame(frame)[1].MMTYPE)
    assert kinds.count(MMType.CM_MNBC_SOUND_IND) == CFG.c_ev_match_mnbc
    assert kinds.count(MMType.CM_START_ATTEN_CHAR_IND) == CFG.c_ev_start_atten_char_inds
    assert MMType.CM_SLAC_MATCH_CNF in kinds and MMType.CM_ATTEN_PROFILE_IND not in kinds
