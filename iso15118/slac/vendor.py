"""Qualcomm vendor-specific management messages (VS_* MMEs) a field tester needs next to SLAC.

Owns the messages that identify, reset and inspect a HomePlug Green PHY modem of the Qualcomm family
(QCA7000/7005, QCA7420/AR7420), as open-plc-utils (``plc/*.c``, ``mme/qualcomm.h``) lays them out:

- VS_SW_VER (0xA000): firmware version string and device class;
- VS_RS_DEV (0xA01C): device reset (the chip reboots after confirming);
- VS_NW_INFO (0xA038): the logical networks (AVLNs) the modem is in, their stations and PHY rates;
- VS_PL_LINK_STATUS (0xA0B8): is the powerline link up (EVerest's link-status check);
- VS_RD_MOD / VS_WR_MOD / VS_MOD_NVM (0xA024 / 0xA020 / 0xA028): read and write a module (the parameter
  block, PIB) in chunks, then commit it to flash.

Wire facts enforced here: MMV = 0 (HomePlug AV 1.0 header without FMI), MMTYPE little-endian, then the
Qualcomm OUI 00:B0:52 before the payload; multi-byte integers are little-endian; module data carries the
open-plc-utils ``checksum32`` (one's complement of the XOR of its 32-bit words). The framing is in
:mod:`iso15118.slac.vendor_mme`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Final

from iso15118.slac.messages import MmeCode

__all__ = [
    "MAX_MODULE_CHUNK",
    "QUALCOMM_OUI",
    "VENDOR_HEADER_LENGTH",
    "LinkStatusCnf",
    "LinkStatusReq",
    "ModNvmCnf",
    "ModNvmReq",
    "ModuleId",
    "NetworkInfo",
    "NwInfoCnf",
    "NwInfoReq",
    "RdModCnf",
    "RdModReq",
    "RsDevCnf",
    "RsDevReq",
    "StationInfo",
    "StationRole",
    "SwVerCnf",
    "SwVerReq",
    "VendorMme",
    "VsType",
    "WrModCnf",
    "WrModReq",
    "checksum32",
]

QUALCOMM_OUI: Final = bytes.fromhex("00b052")
#: Ethernet header (14) + MMV (1) + MMTYPE (2) + OUI (3): where a vendor payload starts.
VENDOR_HEADER_LENGTH: Final = 20
#: Longest module chunk one VS_WR_MOD / VS_RD_MOD carries (open-plc-utils PLC_RECORD_SIZE).
MAX_MODULE_CHUNK: Final = 1024


class VsType(MmeCode):
    """MMTYPE of the vendor messages (low two bits: 00 REQ, 01 CNF)."""

    VS_SW_VER_REQ = 0xA000
    VS_SW_VER_CNF = 0xA001
    VS_RS_DEV_REQ = 0xA01C
    VS_RS_DEV_CNF = 0xA01D
    VS_WR_MOD_REQ = 0xA020
    VS_WR_MOD_CNF = 0xA021
    VS_RD_MOD_REQ = 0xA024
    VS_RD_MOD_CNF = 0xA025
    VS_MOD_NVM_REQ = 0xA028
    VS_MOD_NVM_CNF = 0xA029
    VS_NW_INFO_REQ = 0xA038
    VS_NW_INFO_CNF = 0xA039
    VS_PL_LINK_STATUS_REQ = 0xA0B8
    VS_PL_LINK_STATUS_CNF = 0xA0B9


class ModuleId(IntEnum):
    """Module IDs of VS_RD_MOD / VS_WR_MOD / VS_MOD_NVM (open-plc-utils ``VS_MODULE_*``)."""

    MAC = 0x01
    PIB = 0x02


class StationRole(IntEnum):
    """A station's role in its logical network (VS_NW_INFO.CNF)."""

    STA = 0
    PROXY = 1
    CCO = 2


class VendorMme:
    """Base of every vendor message; ``VSTYPE`` says which wire type it is."""

    __slots__ = ()
    VSTYPE: ClassVar[VsType]

    @property
    def name(self) -> str:
        """``VS_NW_INFO.CNF`` style name."""
        return self.VSTYPE.mme_name


@dataclass(frozen=True, slots=True, kw_only=True)
class SwVerReq(VendorMme):
    """VS_SW_VER.REQ: ask the modem for its firmware version (``cookie`` is echoed by newer firmware)."""

    VSTYPE: ClassVar[VsType] = VsType.VS_SW_VER_REQ
    cookie: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SwVerCnf(VendorMme):
    """VS_SW_VER.CNF: status, device class (chip family), firmware version string, upgradable flag."""

    VSTYPE: ClassVar[VsType] = VsType.VS_SW_VER_CNF
    version: str
    status: int = 0
    device_class: int = 0x20
    upgradable: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class RsDevReq(VendorMme):
    """VS_RS_DEV.REQ: reset the device (it confirms, then reboots and is silent for a few seconds)."""

    VSTYPE: ClassVar[VsType] = VsType.VS_RS_DEV_REQ


@dataclass(frozen=True, slots=True, kw_only=True)
class RsDevCnf(VendorMme):
    """VS_RS_DEV.CNF: ``status`` 0 = the reset follows."""

    VSTYPE: ClassVar[VsType] = VsType.VS_RS_DEV_CNF
    status: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class NwInfoReq(VendorMme):
    """VS_NW_INFO.REQ: which logical networks is the modem in, and with whom."""

    VSTYPE: ClassVar[VsType] = VsType.VS_NW_INFO_REQ


@dataclass(frozen=True, slots=True, kw_only=True)
class StationInfo:
    """One peer station of a network: its MAC, TEI, first bridged MAC and average PHY rates (Mbit/s)."""

    mac: bytes
    tei: int
    bridged_mac: bytes = b"\xff" * 6
    avg_tx_mbps: int = 0
    avg_rx_mbps: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkInfo:
    """One logical network (AVLN) the modem is in."""

    nid: bytes
    snid: int
    tei: int
    role: int
    cco_mac: bytes
    cco_tei: int
    stations: tuple[StationInfo, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NwInfoCnf(VendorMme):
    """VS_NW_INFO.CNF (MMV 0 layout): the networks and their stations; no network = no peer."""

    VSTYPE: ClassVar[VsType] = VsType.VS_NW_INFO_CNF
    networks: tuple[NetworkInfo, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkStatusReq(VendorMme):
    """VS_PL_LINK_STATUS.REQ: is the powerline link up."""

    VSTYPE: ClassVar[VsType] = VsType.VS_PL_LINK_STATUS_REQ


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkStatusCnf(VendorMme):
    """VS_PL_LINK_STATUS.CNF: ``link_up`` once the modem has joined a network with a peer."""

    VSTYPE: ClassVar[VsType] = VsType.VS_PL_LINK_STATUS_CNF
    link_up: bool
    status: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RdModReq(VendorMme):
    """VS_RD_MOD.REQ: read ``length`` bytes of a module from ``offset``."""

    VSTYPE: ClassVar[VsType] = VsType.VS_RD_MOD_REQ
    length: int
    offset: int = 0
    module_id: int = ModuleId.PIB


@dataclass(frozen=True, slots=True, kw_only=True)
class RdModCnf(VendorMme):
    """VS_RD_MOD.CNF: the module bytes read (checksum32 over ``data``, checked on receipt)."""

    VSTYPE: ClassVar[VsType] = VsType.VS_RD_MOD_CNF
    data: bytes
    offset: int = 0
    status: int = 0
    module_id: int = ModuleId.PIB


@dataclass(frozen=True, slots=True, kw_only=True)
class WrModReq(VendorMme):
    """VS_WR_MOD.REQ: write ``data`` into the module's RAM image at ``offset`` (VS_MOD_NVM commits it)."""

    VSTYPE: ClassVar[VsType] = VsType.VS_WR_MOD_REQ
    data: bytes
    offset: int = 0
    module_id: int = ModuleId.PIB


@dataclass(frozen=True, slots=True, kw_only=True)
class WrModCnf(VendorMme):
    """VS_WR_MOD.CNF: status, module, and the length/offset written."""

    VSTYPE: ClassVar[VsType] = VsType.VS_WR_MOD_CNF
    length: int
    offset: int = 0
    status: int = 0
    module_id: int = ModuleId.PIB


@dataclass(frozen=True, slots=True, kw_only=True)
class ModNvmReq(VendorMme):
    """VS_MOD_NVM.REQ: commit the written module to flash (it takes effect after a reset)."""

    VSTYPE: ClassVar[VsType] = VsType.VS_MOD_NVM_REQ
    module_id: int = ModuleId.PIB


@dataclass(frozen=True, slots=True, kw_only=True)
class ModNvmCnf(VendorMme):
    """VS_MOD_NVM.CNF: ``status`` 0 = stored."""

    VSTYPE: ClassVar[VsType] = VsType.VS_MOD_NVM_CNF
    status: int = 0
    module_id: int = ModuleId.PIB


def checksum32(data: bytes) -> int:
    """open-plc-utils ``checksum32``: the one's complement of the XOR of the little-endian 32-bit words."""
    padded = data + b"\x00" * (-len(data) % 4)
    value = 0
    for (word,) in struct.iter_unpack("<I", padded):
        value ^= word
    return ~value & 0xFFFFFFFF
