"""An emulator of Qualcomm Green PHY modems for a virtual link, sans-I/O: management, keys, sounding, faults.

Where :class:`~iso15118.slac.modem.ModemStandIn` only does what SLAC needs, this model behaves like the modems
a field tester meets, as open-plc-utils and pyPLC describe them. Each *port* is one modem in front of one host:

- it answers the vendor messages of :mod:`iso15118.slac.vendor` sent to 00:B0:52:00:00:01 (or its own MAC):
  VS_SW_VER (version, device class), VS_RS_DEV (it confirms, then is silent for ``reset_s``; keys set with
  CM_SET_KEY are lost and a PIB committed with VS_MOD_NVM takes effect), VS_NW_INFO and VS_PL_LINK_STATUS (a
  network with a peer exists when another powered modem holds the same NMK), VS_RD_MOD / VS_WR_MOD / VS_MOD_NVM
  on its PIB;
- it answers CM_SET_KEY.REQ with CM_SET_KEY.CNF and keeps the key;
- for each CM_MNBC_SOUND.IND from another port it sends its host a CM_ATTEN_PROFILE.IND -- only when its PIB
  role is EVSE (a PEV modem does not measure) and its chip is not an AR7420, which never produces them
  (open-plc-utils #156);
- until ``start_s`` (a late start) and during a reset it answers nothing and, as a user-space bridge, forwards
  nothing.

Time is the ``now`` argument of :meth:`ModemEmulator.receive`; a modem's state changes only then.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from iso15118.slac.keys import nid_from_nmk
from iso15118.slac.mme import (
    BROADCAST_MAC,
    ETHERTYPE_HOMEPLUG,
    LOCAL_MODEM_MAC,
    AttenProfileInd,
    MmeError,
    MMType,
    SetKeyCnf,
    SetKeyReq,
    pack_frame,
    peek_header,
    unpack_frame,
)
from iso15118.slac.modem import NUM_GROUPS, ModemKey
from iso15118.slac.pib import PibRole, make_pib, read_role
from iso15118.slac.vendor import (
    LinkStatusCnf,
    LinkStatusReq,
    ModNvmCnf,
    ModNvmReq,
    ModuleId,
    NetworkInfo,
    NwInfoCnf,
    NwInfoReq,
    RdModCnf,
    RdModReq,
    RsDevCnf,
    RsDevReq,
    StationInfo,
    StationRole,
    SwVerCnf,
    SwVerReq,
    VendorMme,
    WrModCnf,
    WrModReq,
)
from iso15118.slac.vendor_mme import is_vendor_frame, pack_vendor, unpack_vendor

__all__ = ["Chip", "EmulatedModem", "ModemEmulator", "ModemSpec"]

_MAC_PREFIX = bytes.fromhex("00b05200ee")


class Chip(StrEnum):
    """The emulated chip: what it reports and whether it measures sounds."""

    QCA7000 = "qca7000"
    QCA7420 = "qca7420"
    AR7420 = "ar7420"

    @property
    def device_class(self) -> int:
        """VS_SW_VER.CNF device class (Wireshark names 0x20 QCA7450/QCA7420)."""
        return 0x20

    @property
    def version(self) -> str:
        """A firmware version string in Qualcomm's format."""
        names = {Chip.QCA7000: "QCA7000", Chip.QCA7420: "QCA7420", Chip.AR7420: "AR7420"}
        return f"{names[self]}-MAC-1-1-0-1234-00-20240101-FINAL"

    @property
    def makes_atten_profiles(self) -> bool:
        """False for the AR7420, which never sends CM_ATTEN_PROFILE.IND."""
        return self is not Chip.AR7420


@dataclass(frozen=True, slots=True, kw_only=True)
class ModemSpec:
    """How one emulated modem behaves: its chip, PIB role, late start and reset duration (seconds)."""

    role: PibRole | None = PibRole.EVSE
    chip: Chip = Chip.QCA7000
    start_s: float = 0.0
    reset_s: float = 3.0


@dataclass(slots=True)
class EmulatedModem:
    """The state of one emulated modem (one port)."""

    port: str
    mac: bytes
    spec: ModemSpec
    flash: bytes
    """The PIB in flash: what the modem loads at its next reset."""
    pending: bytearray
    """The PIB image VS_WR_MOD writes into and VS_RD_MOD reads; VS_MOD_NVM stores it in flash."""
    running: bytes
    """The PIB in effect since the last boot."""
    up_at: float
    nmk: bytes | None = None
    nid: bytes | None = None
    host_mac: bytes | None = None
    resets: int = 0
    answered: list[str] = field(default_factory=list)

    @property
    def role(self) -> PibRole | None:
        """The role of the PIB the modem runs (changes only after a reset)."""
        return read_role(self.running)

    def is_up(self, now: float) -> bool:
        """True once the modem has booted (after a late start or a reset)."""
        return now >= self.up_at


class ModemEmulator:
    """The modems of a virtual link, one per port; ``forward`` makes it a user-space bridge as well."""

    def __init__(
        self,
        specs: dict[str, ModemSpec] | Sequence[str],
        *,
        forward: bool = False,
        attenuation_db: tuple[int, int] = (20, 27),
        seed: int = 0,
        now: float = 0.0,
    ) -> None:
        if not isinstance(specs, dict):
            specs = {port: ModemSpec() for port in specs}
        if len(specs) < 2:
            raise ValueError(f"a modem emulator needs at least two ports, got {list(specs)}")
        self.ports = tuple(specs)
        self.forward = forward
        self.modems: dict[str, EmulatedModem] = {}
        for i, (port, spec) in enumerate(specs.items()):
            pib = make_pib(spec.role)
            self.modems[port] = EmulatedModem(
                port=port,
                mac=_MAC_PREFIX + bytes([i + 1]),
                spec=spec,
                flash=pib,
                pending=bytearray(pib),
                running=pib,
                up_at=now + spec.start_s,
            )
        self.keys: list[ModemKey] = []
        self.sounds_seen = 0
        self.profiles_sent = 0
        self._rng = random.Random(seed)
        low, high = attenuation_db
        self._range = (low, high)
        self._shape = [self._rng.randint(low, high) for _ in range(NUM_GROUPS)]

    def receive(self, port: str, frame: bytes, now: float) -> list[tuple[str, bytes]]:
        """Frames to emit, as ``(port, frame)`` pairs, after ``frame`` arrived from the host on ``port``."""
        modem = self.modems.get(port)
        if modem is None:
            raise ValueError(f"unknown modem emulator port {port!r} (ports: {', '.join(self.ports)})")
        header = peek_header(frame)
        if header is None or not modem.is_up(now):
            return []  # a modem that is booting passes nothing on and answers nothing
        if header.src not in (m.mac for m in self.modems.values()):
            modem.host_mac = header.src
        others = [p for p in self.ports if p != port and self.modems[p].is_up(now)]
        passed = [(p, frame) for p in others] if self.forward else []
        if header.ethertype != ETHERTYPE_HOMEPLUG:
            return passed
        if header.dst in (LOCAL_MODEM_MAC, modem.mac):
            return self._management(modem, frame, now)
        try:
            _, msg = unpack_frame(frame)
        except MmeError:
            return passed
        if msg.MMTYPE is MMType.CM_ATTEN_PROFILE_IND:
            return []  # only modems make them
        if msg.MMTYPE is MMType.CM_MNBC_SOUND_IND:
            self.sounds_seen += 1
            for other in others:
                profile = self._profile(self.modems[other], header.src)
                if profile is not None:
                    passed.append((other, profile))
        return passed

    # --- management ----------------------------------------------------------------------------------

    def _management(self, modem: EmulatedModem, frame: bytes, now: float) -> list[tuple[str, bytes]]:
        host = modem.host_mac or BROADCAST_MAC
        if is_vendor_frame(frame):
            try:
                _, req = unpack_vendor(frame)
            except MmeError:
                return []
            answer = self._vendor(modem, req, now)
            if answer is None:
                return []
            modem.answered.append(req.name)
            return [(modem.port, pack_vendor(answer, modem.mac, host))]
        try:
            _, msg = unpack_frame(frame)
        except MmeError:
            return []
        if not isinstance(msg, SetKeyReq):
            return []
        modem.nmk, modem.nid = msg.new_key, msg.nid
        modem.answered.append(msg.name)
        self.keys.append(ModemKey(port=modem.port, host_mac=host, nid=msg.nid, nmk=msg.new_key, at=now))
        cnf = SetKeyCnf(your_nonce=msg.my_nonce, pid=msg.pid, prn=msg.prn, pmn=msg.pmn)
        return [(modem.port, pack_frame(cnf, modem.mac, host))]

    def _vendor(self, modem: EmulatedModem, req: VendorMme, now: float) -> VendorMme | None:
        if isinstance(req, SwVerReq):
            return SwVerCnf(version=modem.spec.chip.version, device_class=modem.spec.chip.device_class)
        if isinstance(req, RsDevReq):
            # The reset follows the confirmation: keys go, the flash PIB is loaded, the chip is silent a while.
            modem.up_at = now + modem.spec.reset_s
            modem.nmk = modem.nid = None
            modem.running = modem.flash
            modem.pending = bytearray(modem.flash)
            modem.resets += 1
            return RsDevCnf()
        if isinstance(req, NwInfoReq):
            peers = self._peers(modem, now)
            if modem.nid is None or not peers:
                return NwInfoCnf()
            stations = tuple(
                StationInfo(mac=p.mac, tei=2 + i, bridged_mac=p.host_mac or BROADCAST_MAC, avg_tx_mbps=9, avg_rx_mbps=9)
                for i, p in enumerate(peers)
            )
            net = NetworkInfo(
                nid=modem.nid, snid=1, tei=1, role=StationRole.CCO, cco_mac=modem.mac, cco_tei=1, stations=stations
            )
            return NwInfoCnf(networks=(net,))
        if isinstance(req, LinkStatusReq):
            return LinkStatusCnf(link_up=bool(self._peers(modem, now)))
        if isinstance(req, RdModReq):
            if req.module_id != ModuleId.PIB or req.offset + req.length > len(modem.pending):
                return RdModCnf(status=1, module_id=req.module_id, offset=req.offset, data=b"")
            return RdModCnf(offset=req.offset, data=bytes(modem.pending[req.offset : req.offset + req.length]))
        if isinstance(req, WrModReq):
            if req.module_id != ModuleId.PIB or req.offset + len(req.data) > len(modem.pending):
                return WrModCnf(status=1, module_id=req.module_id, length=len(req.data), offset=req.offset)
            modem.pending[req.offset : req.offset + len(req.data)] = req.data
            return WrModCnf(length=len(req.data), offset=req.offset)
        if isinstance(req, ModNvmReq):
            if req.module_id != ModuleId.PIB:
                return ModNvmCnf(status=1, module_id=req.module_id)
            # Committed to flash; the running role changes at the next reset, as on the chip.
            modem.flash = bytes(modem.pending)
            return ModNvmCnf()
        return None  # a confirmation sent to a modem: ignored

    def _peers(self, modem: EmulatedModem, now: float) -> list[EmulatedModem]:
        return [
            m
            for m in self.modems.values()
            if m is not modem and m.is_up(now) and m.nmk is not None and m.nmk == modem.nmk
        ]

    def _profile(self, modem: EmulatedModem, pev_mac: bytes) -> bytes | None:
        if modem.role is not PibRole.EVSE or not modem.spec.chip.makes_atten_profiles:
            return None
        low, high = self._range
        aag = tuple(min(high, max(low, base + self._rng.randint(-1, 1))) for base in self._shape)
        self.profiles_sent += 1
        return pack_frame(AttenProfileInd(pev_mac=pev_mac, aag=aag), modem.mac, modem.host_mac or BROADCAST_MAC)

    def power_on(self, port: str, now: float) -> None:
        """Let the modem on ``port`` finish booting at ``now`` (a late start ended by the bench, not a timer)."""
        self.modems[port].up_at = now

    def network_of(self, port: str) -> bytes | None:
        """The NID the modem on ``port`` was keyed with (None before CM_SET_KEY or after a reset)."""
        nmk = self.modems[port].nmk
        return None if nmk is None else nid_from_nmk(nmk)
