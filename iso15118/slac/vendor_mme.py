"""Wire layouts of the Qualcomm vendor messages (:mod:`iso15118.slac.vendor`): pack_vendor, unpack_vendor.

Header: Ethernet, MMV = 0 (no FMI field), MMTYPE little-endian, the Qualcomm OUI 00:B0:52; payload integers
little-endian as open-plc-utils writes them. Frames are zero-padded to 60 bytes, and every malformed frame
raises :class:`~iso15118.slac.mme.MmeError` naming the byte offset and the rule it broke.
"""

from __future__ import annotations

import struct
from typing import Final

from iso15118.slac.messages import ETHERTYPE_HOMEPLUG, MIN_FRAME_LENGTH
from iso15118.slac.mme import EthernetHeader, MmeError, peek_header
from iso15118.slac.vendor import (
    MAX_MODULE_CHUNK,
    QUALCOMM_OUI,
    VENDOR_HEADER_LENGTH,
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
    VsType,
    WrModCnf,
    WrModReq,
    checksum32,
)

__all__ = ["is_vendor_frame", "pack_vendor", "unpack_vendor"]

_VERSION_FIELD: Final = 64  # VS_SW_VER.CNF: the version string's fixed field (Wireshark, scapy)

# --- payload layouts (private) ------------------------------------------------------------------------------


def _need(payload: bytes, n: int, what: str) -> None:
    if len(payload) < n:
        raise MmeError(
            f"{what} needs {n} payload bytes, the frame ends after {len(payload)}",
            offset=VENDOR_HEADER_LENGTH + len(payload),
            rule=f"{what} layout (open-plc-utils)",
        )


def _check_mac(mac: bytes, what: str) -> None:
    if len(mac) != 6:
        raise MmeError(f"{what} must be 6 bytes, got {mac!r}", rule="MAC address")


def _pack_networks(msg: NwInfoCnf) -> bytes:
    out = bytearray([len(msg.networks)])
    for net in msg.networks:
        if len(net.nid) != 7:
            raise MmeError(f"a NID has 7 bytes, got {net.nid!r}", rule="VS_NW_INFO.CNF layout")
        _check_mac(net.cco_mac, "CCo MAC")
        out += net.nid + bytes([net.snid, net.tei, net.role]) + net.cco_mac + bytes([net.cco_tei, len(net.stations)])
        for sta in net.stations:
            _check_mac(sta.mac, "station MAC")
            _check_mac(sta.bridged_mac, "bridged MAC")
            out += sta.mac + bytes([sta.tei]) + sta.bridged_mac + bytes([sta.avg_tx_mbps, sta.avg_rx_mbps])
    return bytes(out)


def _unpack_networks(payload: bytes) -> NwInfoCnf:
    what = "VS_NW_INFO.CNF"
    _need(payload, 1, what)
    pos, networks = 1, []
    for _ in range(payload[0]):
        _need(payload, pos + 18, what)
        p = payload[pos:]
        pos += 18
        stations = []
        for _ in range(p[17]):
            _need(payload, pos + 15, what)
            s = payload[pos : pos + 15]
            stations.append(
                StationInfo(mac=s[0:6], tei=s[6], bridged_mac=s[7:13], avg_tx_mbps=s[13], avg_rx_mbps=s[14])
            )
            pos += 15
        networks.append(
            NetworkInfo(
                nid=p[0:7], snid=p[7], tei=p[8], role=p[9], cco_mac=p[10:16], cco_tei=p[16], stations=tuple(stations)
            )
        )
    return NwInfoCnf(networks=tuple(networks))


def _pack_payload(msg: VendorMme) -> bytes:
    if isinstance(msg, SwVerReq):
        return struct.pack("<I", msg.cookie)
    if isinstance(msg, SwVerCnf):
        text = msg.version.encode("ascii")
        if len(text) >= _VERSION_FIELD:
            raise MmeError(f"a version string has at most {_VERSION_FIELD - 1} characters", rule="VS_SW_VER.CNF")
        return (
            bytes([msg.status, msg.device_class, len(text)])
            + text.ljust(_VERSION_FIELD, b"\x00")
            + bytes([int(msg.upgradable)])
        )
    if isinstance(msg, RsDevCnf):
        return bytes([msg.status])
    if isinstance(msg, NwInfoCnf):
        return _pack_networks(msg)
    if isinstance(msg, LinkStatusCnf):
        return bytes([msg.status, int(msg.link_up)])
    if isinstance(msg, RdModReq):
        return struct.pack("<BBHI", msg.module_id, 0, msg.length, msg.offset)
    if isinstance(msg, RdModCnf | WrModReq):
        if len(msg.data) > MAX_MODULE_CHUNK:
            raise MmeError(f"a module chunk has at most {MAX_MODULE_CHUNK} bytes", rule=f"{msg.name} layout")
        head = struct.pack("<HII", len(msg.data), msg.offset, checksum32(msg.data)) + msg.data
        if isinstance(msg, RdModCnf):
            return bytes([msg.status, 0, 0, 0, msg.module_id, 0]) + head
        return bytes([msg.module_id, 0]) + head
    if isinstance(msg, WrModCnf):
        return struct.pack("<BBBHI", msg.status, msg.module_id, 0, msg.length, msg.offset)
    if isinstance(msg, ModNvmReq):
        return bytes([msg.module_id])
    if isinstance(msg, ModNvmCnf):
        return bytes([msg.status, msg.module_id])
    return b""  # RsDevReq, NwInfoReq, LinkStatusReq carry no payload


def _module_chunk(payload: bytes, at: int, what: str) -> tuple[int, bytes]:
    """(offset, data) of a RD_MOD.CNF / WR_MOD.REQ whose length field starts at ``at``; checks checksum32."""
    _need(payload, at + 10, what)
    length, offset, checksum = struct.unpack_from("<HII", payload, at)
    _need(payload, at + 10 + length, what)
    data = payload[at + 10 : at + 10 + length]
    if checksum32(data) != checksum:
        raise MmeError(
            f"module data checksum is 0x{checksum:08X}, the data gives 0x{checksum32(data):08X}",
            offset=VENDOR_HEADER_LENGTH + at + 6,
            rule=f"{what} checksum32",
        )
    return offset, data


def _unpack_payload(vstype: VsType, payload: bytes) -> VendorMme:
    what = vstype.mme_name
    if vstype is VsType.VS_SW_VER_REQ:
        return SwVerReq(cookie=struct.unpack_from("<I", payload.ljust(4, b"\x00"))[0])
    if vstype is VsType.VS_SW_VER_CNF:
        _need(payload, 3, what)
        n = payload[2]
        _need(payload, 3 + max(n, _VERSION_FIELD) + 1, what)
        text = payload[3 : 3 + n].rstrip(b"\x00").decode("ascii", "replace")
        upgradable = bool(payload[3 + max(n, _VERSION_FIELD)])
        return SwVerCnf(status=payload[0], device_class=payload[1], version=text, upgradable=upgradable)
    if vstype is VsType.VS_NW_INFO_CNF:
        return _unpack_networks(payload)
    if vstype is VsType.VS_PL_LINK_STATUS_CNF:
        _need(payload, 2, what)
        return LinkStatusCnf(status=payload[0], link_up=bool(payload[1]))
    if vstype is VsType.VS_RD_MOD_REQ:
        _need(payload, 8, what)
        module_id, _, length, offset = struct.unpack_from("<BBHI", payload)
        return RdModReq(module_id=module_id, length=length, offset=offset)
    if vstype is VsType.VS_RD_MOD_CNF:
        _need(payload, 6, what)
        offset, data = _module_chunk(payload, 6, what)
        return RdModCnf(status=payload[0], module_id=payload[4], offset=offset, data=data)
    if vstype is VsType.VS_WR_MOD_REQ:
        _need(payload, 2, what)
        offset, data = _module_chunk(payload, 2, what)
        return WrModReq(module_id=payload[0], offset=offset, data=data)
    if vstype is VsType.VS_WR_MOD_CNF:
        _need(payload, 9, what)
        status, module_id, _, length, offset = struct.unpack_from("<BBBHI", payload)
        return WrModCnf(status=status, module_id=module_id, length=length, offset=offset)
    if vstype is VsType.VS_MOD_NVM_REQ:
        _need(payload, 1, what)
        return ModNvmReq(module_id=payload[0])
    if vstype in (VsType.VS_RS_DEV_CNF, VsType.VS_MOD_NVM_CNF):
        _need(payload, 2 if vstype is VsType.VS_MOD_NVM_CNF else 1, what)
        if vstype is VsType.VS_RS_DEV_CNF:
            return RsDevCnf(status=payload[0])
        return ModNvmCnf(status=payload[0], module_id=payload[1])
    return {VsType.VS_RS_DEV_REQ: RsDevReq, VsType.VS_NW_INFO_REQ: NwInfoReq}.get(vstype, LinkStatusReq)()


def pack_vendor(msg: VendorMme, src_mac: bytes, dst_mac: bytes) -> bytes:
    """Frame ``msg``: Ethernet + MMV 0 + MMTYPE + Qualcomm OUI + payload, zero-padded to 60 bytes."""
    _check_mac(src_mac, "source MAC")
    _check_mac(dst_mac, "destination MAC")
    frame = (
        dst_mac
        + src_mac
        + struct.pack("!H", ETHERTYPE_HOMEPLUG)
        + struct.pack("<BH", 0, msg.VSTYPE)
        + QUALCOMM_OUI
        + _pack_payload(msg)
    )
    return frame.ljust(MIN_FRAME_LENGTH, b"\x00")


def is_vendor_frame(data: bytes) -> bool:
    """True for a HomePlug frame with MMV 0 and a vendor MMTYPE (0xA000-0xBFFF); never raises."""
    return (
        len(data) >= VENDOR_HEADER_LENGTH
        and data[12:14] == b"\x88\xe1"
        and data[14] == 0
        and 0xA000 <= int.from_bytes(data[15:17], "little") <= 0xBFFF
    )


def unpack_vendor(data: bytes) -> tuple[EthernetHeader, VendorMme]:
    """Parse a vendor frame; raises :class:`MmeError` (offset + rule) for anything else or a short payload."""
    data = bytes(data)
    header = peek_header(data)
    if header is None or header.ethertype != ETHERTYPE_HOMEPLUG:
        raise MmeError("not a HomePlug AV frame (ethertype 0x88E1)", offset=12, rule="ethertype 0x88E1")
    if len(data) < VENDOR_HEADER_LENGTH:
        raise MmeError(f"frame has {len(data)} bytes, shorter than the 20-byte vendor header", rule="vendor header")
    if data[14] != 0:
        raise MmeError(f"MMV is 0x{data[14]:02X}, Qualcomm vendor messages use MMV 0", offset=14, rule="MMV=0")
    mmtype = int.from_bytes(data[15:17], "little")
    try:
        vstype = VsType(mmtype)
    except ValueError:
        raise MmeError(
            f"MMTYPE 0x{mmtype:04X} is not a supported vendor message", offset=15, rule="VS_* MMTYPE"
        ) from None
    if data[17:20] != QUALCOMM_OUI:
        raise MmeError(f"OUI {data[17:20].hex(':')} is not Qualcomm's 00:b0:52", offset=17, rule="Qualcomm OUI")
    return EthernetHeader(dst=header.dst, src=header.src), _unpack_payload(vstype, data[VENDOR_HEADER_LENGTH:])
