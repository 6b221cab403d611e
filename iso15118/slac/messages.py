"""The SLAC management messages (ISO 15118-3 Annex A) as values: frozen dataclasses plus the code spaces.

Every class names its MMTYPE; field names follow Annex A in snake_case, multi-byte identifiers are opaque
``bytes`` of their wire size, and counted fields (NumGroups, AMLEN, MVFLength) are derived from the data
rather than stored. The wire layouts and the framing live in :mod:`iso15118.slac.mme`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Final, TypeAlias

__all__ = [
    "BROADCAST_MAC",
    "ETHERTYPE_HOMEPLUG",
    "HEADER_LENGTH",
    "LOCAL_MODEM_MAC",
    "MATCH_CNF_MVF_LENGTH",
    "MATCH_REQ_MVF_LENGTH",
    "MIN_FRAME_LENGTH",
    "MMV_GREEN_PHY",
    "AmpMapCnf",
    "AmpMapReq",
    "AttenCharInd",
    "AttenCharRsp",
    "AttenProfileInd",
    "MMType",
    "Mme",
    "MmeCode",
    "MnbcSoundInd",
    "ResponseType",
    "RunMessage",
    "SecurityType",
    "SetKeyCnf",
    "SetKeyReq",
    "SlacMatchCnf",
    "SlacMatchReq",
    "SlacParmCnf",
    "SlacParmReq",
    "StartAttenCharInd",
    "ValidateCnf",
    "ValidateReq",
    "ValidateResult",
]

ETHERTYPE_HOMEPLUG: Final = 0x88E1
#: MMV of every HomePlug Green PHY MME (vendor MMEs use 0 and carry an OUI instead of FMI).
MMV_GREEN_PHY: Final = 0x01
#: Ethernet header (14) + MMV (1) + MMTYPE (2) + FMI (2): where the payload starts.
HEADER_LENGTH: Final = 19
#: Ethernet minimum frame length without FCS; shorter MMEs are zero-padded to it.
MIN_FRAME_LENGTH: Final = 60
#: The host's own modem: CM_SET_KEY.REQ goes here and the QCA chip answers from its real MAC.
LOCAL_MODEM_MAC: Final = bytes.fromhex("00b052000001")
BROADCAST_MAC: Final = b"\xff" * 6
#: MVFLength values of CM_SLAC_MATCH.REQ / .CNF (little-endian on the wire).
MATCH_REQ_MVF_LENGTH: Final = 0x003E
MATCH_CNF_MVF_LENGTH: Final = 0x0056


class MmeCode(IntEnum):
    """An MMTYPE code space whose member names end in the message kind (``..._REQ``, ``..._CNF``, ...)."""

    @property
    def mme_name(self) -> str:
        """The name as the standards write it, e.g. ``CM_SLAC_PARM.REQ``, ``VS_SW_VER.CNF``."""
        base, _, kind = self.name.rpartition("_")
        return f"{base}.{kind}"


class MMType(MmeCode):
    """MMTYPE of every SLAC MME (STA-STA category 0x6000; low two bits 00 REQ, 01 CNF, 10 IND, 11 RSP)."""

    CM_SET_KEY_REQ = 0x6008
    CM_SET_KEY_CNF = 0x6009
    CM_AMP_MAP_REQ = 0x601C
    CM_AMP_MAP_CNF = 0x601D
    CM_SLAC_PARM_REQ = 0x6064
    CM_SLAC_PARM_CNF = 0x6065
    CM_START_ATTEN_CHAR_IND = 0x606A
    CM_ATTEN_CHAR_IND = 0x606E
    CM_ATTEN_CHAR_RSP = 0x606F
    CM_MNBC_SOUND_IND = 0x6076
    CM_VALIDATE_REQ = 0x6078
    CM_VALIDATE_CNF = 0x6079
    CM_SLAC_MATCH_REQ = 0x607C
    CM_SLAC_MATCH_CNF = 0x607D
    CM_ATTEN_PROFILE_IND = 0x6086


class SecurityType(IntEnum):
    """SECURITY_TYPE of the SLAC MMEs: 0 no security; 1 public key (adds cipher-suite fields)."""

    NONE = 0x00
    PUBLIC_KEY = 0x01


class ResponseType(IntEnum):
    """RESP_TYPE: where the sounds' receiver reports the attenuation (ISO 15118-3 requires 1)."""

    HLE = 0x00
    OTHER_GP_STATION = 0x01


class ValidateResult(IntEnum):
    """Result field of CM_VALIDATE.REQ/CNF."""

    NOT_READY = 0
    READY = 1
    SUCCESS = 2
    FAILURE = 3
    NOT_REQUIRED = 4


class Mme:
    """Base of every SLAC message class; ``MMTYPE`` says which wire type it is."""

    __slots__ = ()
    MMTYPE: ClassVar[MMType]

    @property
    def name(self) -> str:
        """The ISO 15118-3 name, e.g. ``CM_ATTEN_CHAR.IND``."""
        return self.MMTYPE.mme_name


_ZERO_ID: Final = b"\x00" * 17


@dataclass(frozen=True, slots=True, kw_only=True)
class SetKeyReq(Mme):
    """CM_SET_KEY.REQ: host -> own modem (LOCAL_MODEM_MAC), sets NMK and NID."""

    MMTYPE: ClassVar[MMType] = MMType.CM_SET_KEY_REQ
    nid: bytes
    new_key: bytes
    key_type: int = 0x01  # NMK (AES-128)
    my_nonce: bytes = b"\x00" * 4
    your_nonce: bytes = b"\x00" * 4
    pid: int = 0x04  # HLE protocol
    prn: bytes = b"\x00\x00"
    pmn: int = 0x00
    cco_capability: int = 0x00
    new_eks: int = 0x01


@dataclass(frozen=True, slots=True, kw_only=True)
class SetKeyCnf(Mme):
    """CM_SET_KEY.CNF: own modem -> host; ``result`` 0 means success (some QCA firmware inverts it)."""

    MMTYPE: ClassVar[MMType] = MMType.CM_SET_KEY_CNF
    result: int = 0
    my_nonce: bytes = b"\x00" * 4
    your_nonce: bytes = b"\x00" * 4
    pid: int = 0x04
    prn: bytes = b"\x00\x00"
    pmn: int = 0x00
    cco_capability: int = 0x00


@dataclass(frozen=True, slots=True, kw_only=True)
class SlacParmReq(Mme):
    """CM_SLAC_PARM.REQ: EV -> broadcast; starts a matching run. Cipher suites only with SecurityType 1."""

    MMTYPE: ClassVar[MMType] = MMType.CM_SLAC_PARM_REQ
    run_id: bytes
    application_type: int = 0x00
    security_type: int = SecurityType.NONE
    cipher_suites: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SlacParmCnf(Mme):
    """CM_SLAC_PARM.CNF: EVSE -> EV; announces NUM_SOUNDS and Time_Out (units of 100 ms)."""

    MMTYPE: ClassVar[MMType] = MMType.CM_SLAC_PARM_CNF
    forwarding_sta: bytes
    run_id: bytes
    m_sound_target: bytes = BROADCAST_MAC
    num_sounds: int = 10
    time_out: int = 6
    resp_type: int = ResponseType.OTHER_GP_STATION
    application_type: int = 0x00
    security_type: int = SecurityType.NONE
    cipher_suite: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StartAttenCharInd(Mme):
    """CM_START_ATTEN_CHAR.IND: EV -> broadcast, sent three times before the sounds."""

    MMTYPE: ClassVar[MMType] = MMType.CM_START_ATTEN_CHAR_IND
    forwarding_sta: bytes
    run_id: bytes
    num_sounds: int = 10
    time_out: int = 6
    resp_type: int = ResponseType.OTHER_GP_STATION
    application_type: int = 0x00
    security_type: int = SecurityType.NONE


@dataclass(frozen=True, slots=True, kw_only=True)
class MnbcSoundInd(Mme):
    """CM_MNBC_SOUND.IND: EV -> broadcast; ``count`` is the number of sounds still to come."""

    MMTYPE: ClassVar[MMType] = MMType.CM_MNBC_SOUND_IND
    run_id: bytes
    count: int
    sender_id: bytes = _ZERO_ID
    random: bytes = b"\x00" * 16
    application_type: int = 0x00
    security_type: int = SecurityType.NONE


@dataclass(frozen=True, slots=True, kw_only=True)
class AttenProfileInd(Mme):
    """CM_ATTEN_PROFILE.IND: EVSE's modem -> EVSE host, one per received sound; AAG in dB per group."""

    MMTYPE: ClassVar[MMType] = MMType.CM_ATTEN_PROFILE_IND
    pev_mac: bytes
    aag: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class AttenCharInd(Mme):
    """CM_ATTEN_CHAR.IND: EVSE -> EV; the averaged attenuation per group over ``num_sounds`` sounds."""

    MMTYPE: ClassVar[MMType] = MMType.CM_ATTEN_CHAR_IND
    source_address: bytes
    run_id: bytes
    num_sounds: int
    aag: tuple[int, ...]
    source_id: bytes = _ZERO_ID
    resp_id: bytes = _ZERO_ID
    application_type: int = 0x00
    security_type: int = SecurityType.NONE


@dataclass(frozen=True, slots=True, kw_only=True)
class AttenCharRsp(Mme):
    """CM_ATTEN_CHAR.RSP: EV -> EVSE; ``result`` 0 = success."""

    MMTYPE: ClassVar[MMType] = MMType.CM_ATTEN_CHAR_RSP
    source_address: bytes
    run_id: bytes
    result: int = 0
    source_id: bytes = _ZERO_ID
    resp_id: bytes = _ZERO_ID
    application_type: int = 0x00
    security_type: int = SecurityType.NONE


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidateReq(Mme):
    """CM_VALIDATE.REQ: EV -> EVSE (optional CP-toggle validation)."""

    MMTYPE: ClassVar[MMType] = MMType.CM_VALIDATE_REQ
    signal_type: int = 0x00
    timer: int = 0
    result: int = ValidateResult.READY


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidateCnf(Mme):
    """CM_VALIDATE.CNF: EVSE -> EV; ``result`` is a :class:`ValidateResult`."""

    MMTYPE: ClassVar[MMType] = MMType.CM_VALIDATE_CNF
    signal_type: int = 0x00
    toggle_num: int = 0
    result: int = ValidateResult.NOT_REQUIRED


@dataclass(frozen=True, slots=True, kw_only=True)
class SlacMatchReq(Mme):
    """CM_SLAC_MATCH.REQ: EV -> EVSE (MVFLength 0x003E, little-endian, written by the packer)."""

    MMTYPE: ClassVar[MMType] = MMType.CM_SLAC_MATCH_REQ
    pev_mac: bytes
    evse_mac: bytes
    run_id: bytes
    pev_id: bytes = _ZERO_ID
    evse_id: bytes = _ZERO_ID
    application_type: int = 0x00
    security_type: int = SecurityType.NONE


@dataclass(frozen=True, slots=True, kw_only=True)
class SlacMatchCnf(Mme):
    """CM_SLAC_MATCH.CNF: EVSE -> EV, carries the NID and NMK of the logical network (MVFLength 0x0056)."""

    MMTYPE: ClassVar[MMType] = MMType.CM_SLAC_MATCH_CNF
    pev_mac: bytes
    evse_mac: bytes
    run_id: bytes
    nid: bytes
    nmk: bytes
    pev_id: bytes = _ZERO_ID
    evse_id: bytes = _ZERO_ID
    application_type: int = 0x00
    security_type: int = SecurityType.NONE


@dataclass(frozen=True, slots=True, kw_only=True)
class AmpMapReq(Mme):
    """CM_AMP_MAP.REQ: one 4-bit amplitude-map code per carrier (AMLEN carriers, low nibble first)."""

    MMTYPE: ClassVar[MMType] = MMType.CM_AMP_MAP_REQ
    amplitudes: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class AmpMapCnf(Mme):
    """CM_AMP_MAP.CNF: ``res_type`` 0 = success."""

    MMTYPE: ClassVar[MMType] = MMType.CM_AMP_MAP_CNF
    res_type: int = 0


#: The messages that carry the RunID of a matching run.
RunMessage: TypeAlias = (
    SlacParmReq
    | SlacParmCnf
    | StartAttenCharInd
    | MnbcSoundInd
    | AttenCharInd
    | AttenCharRsp
    | SlacMatchReq
    | SlacMatchCnf
)
