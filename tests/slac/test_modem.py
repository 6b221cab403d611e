"""The modem stand-in model: key confirmation, attenuation profiles, forwarding rules."""

from __future__ import annotations

import pytest

from iso15118.slac.mme import (
    BROADCAST_MAC,
    LOCAL_MODEM_MAC,
    AttenProfileInd,
    MnbcSoundInd,
    SetKeyCnf,
    SetKeyReq,
    SlacParmReq,
    pack_frame,
    unpack_frame,
)
from iso15118.slac.modem import NUM_GROUPS, ModemStandIn

from .helpers import EV_MAC, EVSE_MAC

RUN = b"\x05" * 8
KEY = SetKeyReq(nid=bytes(range(7)), new_key=bytes(range(16)), my_nonce=b"\x11\x22\x33\x44", prn=b"\x00\x07")


def test_set_key_to_the_local_modem_is_confirmed_on_the_same_port_and_not_forwarded() -> None:
    modem = ModemStandIn(["a", "b"])
    out = modem.receive("a", pack_frame(KEY, EVSE_MAC, LOCAL_MODEM_MAC), 1.5)
    assert len(out) == 1
    port, frame = out[0]
    header, cnf = unpack_frame(frame)
    assert port == "a" and header.dst == EVSE_MAC and header.src == modem.modem_macs["a"]
    assert cnf == SetKeyCnf(result=0, your_nonce=KEY.my_nonce, prn=KEY.prn, pid=KEY.pid)
    (key,) = modem.keys
    assert (key.port, key.host_mac, key.nid, key.nmk, key.at) == ("a", EVSE_MAC, KEY.nid, KEY.new_key, 1.5)


def test_every_sound_yields_one_profile_for_every_other_host() -> None:
    modem = ModemStandIn(["ev", "evse", "third"], seed=7)
    modem.receive("evse", pack_frame(KEY, EVSE_MAC, LOCAL_MODEM_MAC), 0.0)  # learns the EVSE host's MAC
    out = modem.receive("ev", pack_frame(MnbcSoundInd(run_id=RUN, count=9), EV_MAC, BROADCAST_MAC), 0.1)
    forwarded = [(p, f) for p, f in out if unpack_frame(f)[1].MMTYPE == MnbcSoundInd.MMTYPE]
    profiles = [(p, unpack_frame(f)) for p, f in out if (p, f) not in forwarded]
    assert sorted(p for p, _ in forwarded) == ["evse", "third"]
    assert out.index(forwarded[0]) < out.index(next(o for o in out if o not in forwarded))  # sound first
    by_port = {p: hm for p, hm in profiles}
    assert sorted(by_port) == ["evse", "third"]
    header, msg = by_port["evse"]
    assert header.dst == EVSE_MAC and header.src == modem.modem_macs["evse"]
    assert by_port["third"][0].dst == BROADCAST_MAC  # host not learned yet
    assert isinstance(msg, AttenProfileInd) and msg.pev_mac == EV_MAC and len(msg.aag) == NUM_GROUPS
    assert all(20 <= a <= 27 for a in msg.aag)
    assert modem.sounds_seen == 1 and modem.profiles_sent == 2


def test_profile_values_are_reproducible_per_seed_and_vary_per_sound() -> None:
    def profiles(seed: int) -> list[tuple[int, ...]]:
        modem = ModemStandIn(["ev", "evse"], seed=seed, attenuation_db=(10, 40))
        frame = pack_frame(MnbcSoundInd(run_id=RUN, count=0), EV_MAC, BROADCAST_MAC)
        return [unpack_frame(modem.receive("ev", frame, 0.0)[1][1])[1].aag for _ in range(5)]  # type: ignore[attr-defined]

    assert profiles(3) == profiles(3) != profiles(4)
    assert len(set(profiles(3))) > 1
    assert all(10 <= a <= 40 for p in profiles(3) for a in p)


def test_profiles_from_hosts_are_dropped_and_other_frames_forwarded() -> None:
    modem = ModemStandIn(["ev", "evse"])
    profile = pack_frame(AttenProfileInd(pev_mac=EV_MAC, aag=(20,) * 58), EV_MAC, EVSE_MAC)
    assert modem.receive("ev", profile, 0.0) == []
    parm = pack_frame(SlacParmReq(run_id=RUN), EV_MAC, BROADCAST_MAC)
    assert modem.receive("ev", parm, 0.0) == [("evse", parm)]
    ipv6 = EVSE_MAC + EV_MAC + b"\x86\xdd" + bytes(60)
    assert modem.receive("evse", ipv6, 0.0) == [("ev", ipv6)]
    vendor = LOCAL_MODEM_MAC + EV_MAC + b"\x88\xe1\x00\x00\xa0\x00\xb0\x52" + bytes(40)
    assert modem.receive("ev", vendor, 0.0) == []  # consumed by the local modem, unanswered
    assert modem.receive("ev", b"\x00" * 5, 0.0) == []


def test_without_forwarding_only_the_modem_frames_come_out() -> None:
    modem = ModemStandIn(["ev", "evse"], forward=False)
    assert modem.receive("ev", pack_frame(SlacParmReq(run_id=RUN), EV_MAC, BROADCAST_MAC), 0.0) == []
    out = modem.receive("ev", pack_frame(MnbcSoundInd(run_id=RUN, count=0), EV_MAC, BROADCAST_MAC), 0.0)
    assert [(p, unpack_frame(f)[1].MMTYPE) for p, f in out] == [("evse", AttenProfileInd.MMTYPE)]


def test_bad_construction_and_unknown_ports_are_rejected() -> None:
    with pytest.raises(ValueError, match="two distinct ports"):
        ModemStandIn(["a"])
    with pytest.raises(ValueError, match=r"0\.\.255"):
        ModemStandIn(["a", "b"], attenuation_db=(30, 20))
    with pytest.raises(ValueError, match="unknown modem stand-in port 'c'"):
        ModemStandIn(["a", "b"]).receive("c", b"", 0.0)
