"""Qualcomm vendor MMEs: round trips, clean errors, and the same field values in scapy and in tshark."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from iso15118.slac.mme import MmeError, format_mac
from iso15118.slac.pib import PibRole, hfid_of, make_pib, patch_role, pib_checksum_ok, read_role
from iso15118.slac.vendor import (
    LinkStatusCnf,
    LinkStatusReq,
    ModNvmCnf,
    ModNvmReq,
    NetworkInfo,
    NwInfoCnf,
    NwInfoReq,
    RdModCnf,
    RdModReq,
    RsDevCnf,
    RsDevReq,
    StationInfo,
    SwVerCnf,
    SwVerReq,
    VendorMme,
    WrModCnf,
    WrModReq,
    checksum32,
)
from iso15118.slac.vendor_mme import pack_vendor, unpack_vendor

from .test_dissectors import write_pcap

HOST = bytes.fromhex("0211223344aa")
MODEM = bytes.fromhex("00b0520000ee")
NID = bytes.fromhex("026bcba5354e08")
STATION = StationInfo(mac=bytes.fromhex("00b0520000ef"), tei=2, bridged_mac=HOST, avg_tx_mbps=9, avg_rx_mbps=10)
NETWORK = NetworkInfo(nid=NID, snid=5, tei=1, role=2, cco_mac=MODEM, cco_tei=1, stations=(STATION,))
DATA = bytes(range(200)) + b"PEV\x00"

MESSAGES: list[VendorMme] = [
    SwVerReq(cookie=0x12345678),
    SwVerCnf(version="QCA7000-MAC-1-1-0-1234-00-20240101-FINAL", device_class=0x20, upgradable=True),
    RsDevReq(),
    RsDevCnf(status=1),
    NwInfoReq(),
    NwInfoCnf(),
    NwInfoCnf(networks=(NETWORK,)),
    LinkStatusReq(),
    LinkStatusCnf(link_up=True),
    RdModReq(offset=0x74, length=64),
    RdModCnf(offset=0x74, data=DATA),
    WrModReq(offset=0x1C98, data=DATA),
    WrModCnf(offset=0x1C98, length=len(DATA)),
    ModNvmReq(),
    ModNvmCnf(status=0),
]


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: m.name)
def test_every_message_survives_a_round_trip_and_is_padded(msg: VendorMme) -> None:
    frame = pack_vendor(msg, HOST, MODEM)
    assert len(frame) >= 60 and frame[14] == 0 and frame[17:20] == b"\x00\xb0\x52"
    header, back = unpack_vendor(frame)
    assert back == msg and (header.src, header.dst) == (HOST, MODEM)


@pytest.mark.parametrize(
    ("frame", "words"),
    [
        (pack_vendor(SwVerReq(), HOST, MODEM)[:18], "shorter than the 20-byte vendor header"),
        (pack_vendor(SwVerReq(), HOST, MODEM)[:17] + b"\x00\x16\xe8" + bytes(40), "OUI 00:16:e8"),
        (pack_vendor(SwVerReq(), HOST, MODEM)[:14] + b"\x01" + bytes(45), "MMV is 0x01"),
        (pack_vendor(SwVerReq(), HOST, MODEM)[:15] + b"\x40\xa0" + bytes(43), "not a supported vendor message"),
        (pack_vendor(WrModReq(data=b"abcd"), HOST, MODEM)[:28] + b"\x01\x02\x03\x04" + bytes(28), "checksum32"),
        (pack_vendor(NwInfoCnf(networks=(NETWORK,) * 3), HOST, MODEM)[:60], "VS_NW_INFO.CNF needs"),
    ],
)
def test_malformed_frames_raise_a_clean_error(frame: bytes, words: str) -> None:
    with pytest.raises(MmeError, match=words):
        unpack_vendor(bytes(frame))


def test_checksum32_is_the_complement_of_the_word_xor() -> None:
    assert checksum32(b"") == 0xFFFFFFFF
    assert checksum32(b"\x01\x00\x00\x00\x02\x00\x00\x00") == ~3 & 0xFFFFFFFF


def test_pib_role_patching_keeps_the_checksum_valid() -> None:
    pib = make_pib(PibRole.EV)
    assert read_role(pib) is PibRole.EV and hfid_of(pib) == "PEV" and pib_checksum_ok(pib)
    evse = patch_role(pib, PibRole.EVSE)
    assert read_role(evse) is PibRole.EVSE and hfid_of(evse) == "EVSE" and pib_checksum_ok(evse)
    assert evse[0x1C98:0x1CA0] == (10240).to_bytes(4, "little") + (102400).to_bytes(4, "little")
    assert read_role(make_pib(None)) is None and not pib_checksum_ok(evse[:100] + b"\x01" + evse[101:])


# --- scapy and tshark ------------------------------------------------------------------------------------


def _scapy_fields(msg: VendorMme) -> tuple[str, dict[str, object]] | None:
    if isinstance(msg, SwVerCnf):
        return "GetDeviceVersion", {
            "Status": msg.status,
            "DeviceID": msg.device_class,
            "VersionLen": len(msg.version),
            "DeviceVersion": msg.version.encode(),
            "Upgradable": int(msg.upgradable),
        }
    if isinstance(msg, RsDevCnf):
        return "ResetDeviceConfirmation", {"Status": msg.status}
    if isinstance(msg, RdModReq):
        return "ReadModuleDataRequest", {"ModuleID": msg.module_id, "Length": msg.length, "Offset": msg.offset}
    if isinstance(msg, RdModCnf | WrModReq):
        name = "ReadModuleDataConfirmation" if isinstance(msg, RdModCnf) else "WriteModuleDataRequest"
        extra = {"Status": msg.status} if isinstance(msg, RdModCnf) else {}
        return name, {
            **extra,
            "ModuleID": msg.module_id,
            "DataLen": len(msg.data),
            "Offset": msg.offset,
            "checksum": checksum32(msg.data),
            "ModuleData": msg.data,
        }
    if isinstance(msg, ModNvmReq):
        return "WriteModuleData2NVMRequest", {"ModuleID": msg.module_id}
    if isinstance(msg, ModNvmCnf):
        return "WriteModuleData2NVMConfirmation", {"Status": msg.status, "ModuleID": msg.module_id}
    if isinstance(msg, NwInfoCnf) and len(msg.networks) == 1:
        net = msg.networks[0]
        return "NetworkInfoConfirmationV10", {
            "LogicalNetworksNumber": 1,
            "NetworksInfos": [(net.nid, net.snid, net.tei, net.role, format_mac(net.cco_mac), net.cco_tei)],
            "StationsNumber": len(net.stations),
            "StationsInfos": [
                (format_mac(s.mac), s.tei, format_mac(s.bridged_mac), s.avg_tx_mbps, s.avg_rx_mbps)
                for s in net.stations
            ],
        }
    return None  # scapy has no layer for the requests without payload, VS_WR_MOD.CNF and VS_PL_LINK_STATUS


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: m.name)
def test_scapy_decodes_our_vendor_frames_to_the_same_values(msg: VendorMme) -> None:
    hpav = pytest.importorskip("scapy.contrib.homeplugav")
    from scapy.layers.l2 import Ether

    packet = Ether(pack_vendor(msg, HOST, MODEM))
    layer = packet[hpav.HomePlugAV]
    assert (layer.version, layer.HPtype, layer.VendorField[0].OUI) == (0, msg.VSTYPE, 0x00B052)
    expected = _scapy_fields(msg)
    if expected is None:
        return
    name, fields = expected
    got = packet[getattr(hpav, name)]
    for key, value in fields.items():
        actual = got.getfieldval(key)
        if key == "NetworksInfos":
            actual = [
                (n.NetworkID, n.ShortNetworkID, n.TerminalEID, n.StationRole, n.CCoMACAdress, n.CCoTerminalEID)
                for n in actual
            ]
        elif key == "StationsInfos":
            # scapy reads 21 bytes per 15-byte station entry: the rest is left over as Raw padding.
            actual = [
                (s.StationMAC, s.StationTerminalEID, s.firstnodeMAC, s.TXaverage, s.RXaverage)
                for s in actual
                if hasattr(s, "StationMAC")
            ]
        assert actual == value, (name, key)


_TSHARK: list[tuple[VendorMme, dict[str, str]]] = [
    (
        MESSAGES[1],
        {
            "homeplug_av.get_sw_cnf.status": "0",
            "homeplug_av.get_sw_cnf.dev_id": "32",
            "homeplug_av.get_sw_cnf.ver_len": "40",
            "homeplug_av.get_sw_cnf.ver_str": "QCA7000-MAC-1-1-0-1234-00-20240101-FINAL",
            "homeplug_av.get_sw_cnf.upg": "1",
        },
    ),
    (RsDevCnf(status=0), {"homeplug_av.rs_dev_cnf.status": "0"}),
    (
        NwInfoCnf(networks=(NETWORK,)),
        {
            "homeplug_av.nw_info.num_avlns": "1",
            "homeplug_av.nw_info.nid": NID.hex(),
            "homeplug_av.nw_info.snid": "5",
            "homeplug_av.nw_info.tei": "1",
            "homeplug_av.nw_info_cnf.cco_mac": format_mac(MODEM),
            "homeplug_av.nw_info_cnf.num_stas": "1",
            "homeplug_av.nw_info_cnf.sta_info.da": format_mac(STATION.mac),
            "homeplug_av.nw_info_cnf.sta_indo.phy_dr_tx": "9",
            "homeplug_av.nw_info_cnf.sta_indo.phy_dr_rx": "10",
        },
    ),
    (
        RdModReq(offset=0x74, length=64),
        {"homeplug_av.module_id": "2", "homeplug_av.mem.len_16bits": "64", "homeplug_av.mem.offset": "116"},
    ),
    (
        WrModReq(offset=0x1C98, data=DATA),
        {
            "homeplug_av.module_id": "2",
            "homeplug_av.mem.len_16bits": str(len(DATA)),
            "homeplug_av.mem.offset": str(0x1C98),
            "homeplug_av.mem.checksum": str(checksum32(DATA)),
        },
    ),
    (
        WrModCnf(offset=0x1C98, length=204),
        {"homeplug_av.wr_mod_cnf.status": "0", "homeplug_av.mem.len_16bits": "204", "homeplug_av.mem.offset": "7320"},
    ),
    (ModNvmCnf(), {"homeplug_av.mod_nvm_cnf.status": "0", "homeplug_av.module_id": "2"}),
]


def test_tshark_decodes_our_vendor_frames_to_the_same_values(tmp_path: Path) -> None:
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark is not installed (scripts/install-test-prereqs installs it when run as root)")
    frames = [pack_vendor(msg, HOST, MODEM) for msg, _ in _TSHARK]
    pcap = tmp_path / "vendor.pcap"
    write_pcap(pcap, frames)
    columns = ["homeplug_av.mmhdr.mmtype.qualcomm", "homeplug_av.vendor.oui", "_ws.malformed"]
    columns += sorted({k for _, e in _TSHARK for k in e})
    args = [tshark, "-n", "-r", str(pcap), "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"]
    for column in columns:
        args += ["-e", column]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120, check=True).stdout
    rows = [dict(zip(columns, line.split("\t"), strict=True)) for line in out.splitlines()]
    assert len(rows) == len(frames)
    for (msg, expected), row in zip(_TSHARK, rows, strict=True):
        assert int(row["homeplug_av.mmhdr.mmtype.qualcomm"], 0) == msg.VSTYPE
        assert int(row["homeplug_av.vendor.oui"], 0) == 0xB052
        assert row["_ws.malformed"] == ""
        got = {k: row[k] for k in expected}
        for key in got:
            if key.endswith((".nid",)):
                got[key] = got[key].replace(":", "")
            elif got[key].startswith("0x"):
                got[key] = str(int(got[key], 16))
        assert got == expected, msg.name
