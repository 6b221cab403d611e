"""The modem emulator alone, sans-I/O: management answers, keys, sounding per role and chip, late start, reset."""

from __future__ import annotations

import pytest

from iso15118.slac.emulator import Chip, ModemEmulator, ModemSpec
from iso15118.slac.mme import LOCAL_MODEM_MAC, MnbcSoundInd, SetKeyReq, pack_frame, unpack_frame
from iso15118.slac.pib import PibRole, patch_role
from iso15118.slac.vendor import (
    LinkStatusCnf,
    LinkStatusReq,
    ModNvmReq,
    NwInfoCnf,
    NwInfoReq,
    RdModCnf,
    RdModReq,
    RsDevCnf,
    RsDevReq,
    SwVerCnf,
    SwVerReq,
    VendorMme,
    WrModReq,
)
from iso15118.slac.vendor_mme import pack_vendor, unpack_vendor

EV, EVSE = bytes.fromhex("0200000000e1"), bytes.fromhex("0200000000e2")
NMK = bytes(range(16))


def ask(model: ModemEmulator, port: str, host: bytes, req: VendorMme, now: float = 10.0) -> VendorMme | None:
    out = model.receive(port, pack_vendor(req, host, LOCAL_MODEM_MAC), now)
    if not out:
        return None
    ((to, frame),) = out
    assert to == port
    return unpack_vendor(frame)[1]


def key(model: ModemEmulator, port: str, host: bytes, now: float = 10.0) -> None:
    model.receive(port, pack_frame(SetKeyReq(nid=bytes(7), new_key=NMK), host, LOCAL_MODEM_MAC), now)


def test_identity_and_a_reset_that_takes_seconds() -> None:
    model = ModemEmulator({"ev": ModemSpec(role=PibRole.EV, reset_s=3.0), "evse": ModemSpec()})
    cnf = ask(model, "ev", EV, SwVerReq())
    assert isinstance(cnf, SwVerCnf) and cnf.version == Chip.QCA7000.version
    key(model, "ev", EV)
    assert isinstance(ask(model, "ev", EV, RsDevReq(), now=10.0), RsDevCnf)
    assert ask(model, "ev", EV, SwVerReq(), now=12.9) is None  # still rebooting
    assert isinstance(ask(model, "ev", EV, SwVerReq(), now=13.0), SwVerCnf)
    assert model.modems["ev"].nmk is None and model.network_of("ev") is None  # the key went with the reset


def test_a_late_start_answers_nothing_and_forwards_nothing() -> None:
    model = ModemEmulator({"ev": ModemSpec(start_s=5.0), "evse": ModemSpec()}, forward=True)
    assert ask(model, "ev", EV, SwVerReq(), now=4.0) is None
    sound = pack_frame(MnbcSoundInd(run_id=bytes(8), count=0), EV, b"\xff" * 6)
    assert model.receive("ev", sound, 4.0) == []
    assert model.receive("evse", sound, 4.0) == []  # the peer modem is down: nothing reaches it
    assert ask(model, "ev", EV, SwVerReq(), now=5.0) is not None


def test_network_and_link_status_follow_the_keys() -> None:
    model = ModemEmulator(["ev", "evse"])
    status = ask(model, "ev", EV, LinkStatusReq())
    assert isinstance(status, LinkStatusCnf) and not status.link_up
    key(model, "ev", EV)
    key(model, "evse", EVSE)
    status = ask(model, "ev", EV, LinkStatusReq())
    assert isinstance(status, LinkStatusCnf) and status.link_up
    info = ask(model, "ev", EV, NwInfoReq())
    assert isinstance(info, NwInfoCnf) and info.networks[0].stations[0].mac == model.modems["evse"].mac


@pytest.mark.parametrize(
    ("role", "chip", "profiles"),
    [(PibRole.EVSE, Chip.QCA7000, 1), (PibRole.EVSE, Chip.AR7420, 0), (PibRole.EV, Chip.QCA7420, 0)],
)
def test_only_an_evse_role_modem_that_can_measure_makes_profiles(role: PibRole, chip: Chip, profiles: int) -> None:
    model = ModemEmulator({"ev": ModemSpec(role=PibRole.EV), "evse": ModemSpec(role=role, chip=chip)})
    model.receive("evse", pack_vendor(SwVerReq(), EVSE, LOCAL_MODEM_MAC), 1.0)  # learn the EVSE host
    out = model.receive("ev", pack_frame(MnbcSoundInd(run_id=bytes(8), count=0), EV, b"\xff" * 6), 1.0)
    made = [unpack_frame(frame)[1] for port, frame in out if port == "evse"]
    assert len(made) == profiles == model.profiles_sent


def test_a_role_written_to_flash_takes_effect_after_the_reset() -> None:
    model = ModemEmulator({"ev": ModemSpec(role=PibRole.EV, reset_s=1.0), "evse": ModemSpec()})
    modem = model.modems["ev"]
    pib = b"".join(
        ask(model, "ev", EV, RdModReq(offset=o, length=1024)).data  # type: ignore[union-attr]
        for o in range(0, len(modem.flash), 1024)
    )
    new = patch_role(pib, PibRole.EVSE)
    for offset in range(0, len(new), 1024):
        ask(model, "ev", EV, WrModReq(offset=offset, data=new[offset : offset + 1024]))
    ask(model, "ev", EV, ModNvmReq())
    assert modem.role is PibRole.EV  # running the old PIB until the reset
    ask(model, "ev", EV, RsDevReq(), now=20.0)
    assert modem.role is PibRole.EVSE
    bad = ask(model, "ev", EV, RdModReq(offset=len(new), length=16), now=30.0)
    assert isinstance(bad, RdModCnf) and bad.status == 1
