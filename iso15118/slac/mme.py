"""The HomePlug Green PHY management messages (MMEs) that SLAC uses, and their Ethernet framing.

Owns ISO 15118-3 Annex A's wire layouts of every SLAC message (CM_SET_KEY, CM_SLAC_PARM,
CM_START_ATTEN_CHAR, CM_MNBC_SOUND, CM_ATTEN_PROFILE, CM_ATTEN_CHAR, CM_VALIDATE, CM_SLAC_MATCH, CM_AMP_MAP)
as private construct Structs behind two typed functions, :func:`pack_frame` and :func:`unpack_frame`. The
message values themselves are the frozen dataclasses of :mod:`iso15118.slac.messages`, re-exported here.

Wire facts enforced here: ethertype 0x88E1; an MMV=1 header with a two-byte FMI field, so the payload starts
at byte 19; MMTYPE, MVFLength, AMLEN and CipherSuite little-endian (as Wireshark decodes them), every other
multi-byte field an opaque byte string;
frames zero-padded to the 60-byte Ethernet minimum (veth does not pad, and pyslac reads fixed sizes).
Every malformed frame raises :class:`MmeError` naming the byte offset and the rule it broke.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Final

from construct import (
    Array,
    Bytes,
    ConstructError,
    If,
    Int8ub,
    Int16ub,
    Int16ul,
    Padding,
    PrefixedArray,
    Rebuild,
    Struct,
)

from iso15118.errors import SlacError
from iso15118.slac.messages import (
    BROADCAST_MAC,
    ETHERTYPE_HOMEPLUG,
    HEADER_LENGTH,
    LOCAL_MODEM_MAC,
    MATCH_CNF_MVF_LENGTH,
    MATCH_REQ_MVF_LENGTH,
    MIN_FRAME_LENGTH,
    MMV_GREEN_PHY,
    AmpMapCnf,
    AmpMapReq,
    AttenCharInd,
    AttenCharRsp,
    AttenProfileInd,
    Mme,
    MMType,
    MnbcSoundInd,
    ResponseType,
    SecurityType,
    SetKeyCnf,
    SetKeyReq,
    SlacMatchCnf,
    SlacMatchReq,
    SlacParmCnf,
    SlacParmReq,
    StartAttenCharInd,
    ValidateCnf,
    ValidateReq,
    ValidateResult,
)

__all__ = [
    "BROADCAST_MAC",
    "ETHERTYPE_HOMEPLUG",
    "HEADER_LENGTH",
    "LOCAL_MODEM_MAC",
    "MIN_FRAME_LENGTH",
    "AmpMapCnf",
    "AmpMapReq",
    "AttenCharInd",
    "AttenCharRsp",
    "AttenProfileInd",
    "EthernetHeader",
    "MMType",
    "Mme",
    "MmeError",
    "MnbcSoundInd",
    "ResponseType",
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
    "format_mac",
    "pack_frame",
    "parse_mac",
    "peek_header",
    "unpack_frame",
]


class MmeError(SlacError):
    """A SLAC frame violates its layout: ``offset`` is the byte offset in the frame, ``rule`` the rule."""

    def __init__(self, reason: str, *, offset: int | None = None, rule: str | None = None) -> None:
        self.reason = reason
        self.offset = offset
        self.rule = rule
        super().__init__(reason)

    def __str__(self) -> str:
        where = f" at byte {self.offset}" if self.offset is not None else ""
        rule = f" [{self.rule}]" if self.rule else ""
        return f"bad SLAC frame{where}: {self.reason}{rule}"


@dataclass(frozen=True, slots=True, kw_only=True)
class EthernetHeader:
    """Destination and source MAC (6 bytes each) and ethertype of a received frame."""

    dst: bytes
    src: bytes
    ethertype: int = ETHERTYPE_HOMEPLUG


# --- wire layouts (private) -----------------------------------------------------------------------------

_HEADER = Struct(
    "dst" / Bytes(6),
    "src" / Bytes(6),
    "ethertype" / Int16ub,
    "mmv" / Int8ub,
    "mmtype" / Int16ul,
    "fmi" / Int16ub,
)
_APP_SEC = ("application_type" / Int8ub, "security_type" / Int8ub)
#: CM_SET_KEY.REQ and .CNF after their first field (KeyType / Result).
_KEY_EXCHANGE = (
    "my_nonce" / Bytes(4),
    "your_nonce" / Bytes(4),
    "pid" / Int8ub,
    "prn" / Bytes(2),
    "pmn" / Int8ub,
    "cco_capability" / Int8ub,
)
#: CM_ATTEN_CHAR.IND and .RSP up to their own fields.
_ATTEN_CHAR = (
    *_APP_SEC,
    "source_address" / Bytes(6),
    "run_id" / Bytes(8),
    "source_id" / Bytes(17),
    "resp_id" / Bytes(17),
)
#: CM_SLAC_MATCH.REQ, which CM_SLAC_MATCH.CNF extends by NID and NMK.
_MATCH_VAR_FIELD = (
    *_APP_SEC,
    "mvf_length" / Int16ul,
    "pev_id" / Bytes(17),
    "pev_mac" / Bytes(6),
    "evse_id" / Bytes(17),
    "evse_mac" / Bytes(6),
    "run_id" / Bytes(8),
    Padding(8),
)

_LAYOUTS: Final[dict[MMType, Struct]] = {
    MMType.CM_SET_KEY_REQ: Struct(
        "key_type" / Int8ub,
        *_KEY_EXCHANGE,
        "nid" / Bytes(7),
        "new_eks" / Int8ub,
        "new_key" / Bytes(16),
    ),
    MMType.CM_SET_KEY_CNF: Struct("result" / Int8ub, *_KEY_EXCHANGE),
    MMType.CM_SLAC_PARM_REQ: Struct(
        *_APP_SEC,
        "run_id" / Bytes(8),
        "cipher_suites" / If(lambda ctx: ctx.security_type == SecurityType.PUBLIC_KEY, PrefixedArray(Int8ub, Int16ul)),
    ),
    MMType.CM_SLAC_PARM_CNF: Struct(
        "m_sound_target" / Bytes(6),
        "num_sounds" / Int8ub,
        "time_out" / Int8ub,
        "resp_type" / Int8ub,
        "forwarding_sta" / Bytes(6),
        *_APP_SEC,
        "run_id" / Bytes(8),
        "cipher_suite" / If(lambda ctx: ctx.security_type == SecurityType.PUBLIC_KEY, Int16ul),
    ),
    MMType.CM_START_ATTEN_CHAR_IND: Struct(
        *_APP_SEC,
        "num_sounds" / Int8ub,
        "time_out" / Int8ub,
        "resp_type" / Int8ub,
        "forwarding_sta" / Bytes(6),
        "run_id" / Bytes(8),
    ),
    MMType.CM_MNBC_SOUND_IND: Struct(
        *_APP_SEC,
        "sender_id" / Bytes(17),
        "count" / Int8ub,
        "run_id" / Bytes(8),
        Padding(8),
        "random" / Bytes(16),
    ),
    MMType.CM_ATTEN_PROFILE_IND: Struct(
        "pev_mac" / Bytes(6),
        "num_groups" / Rebuild(Int8ub, lambda ctx: len(ctx.aag)),
        Padding(1),
        "aag" / Array(lambda ctx: ctx.num_groups, Int8ub),
    ),
    MMType.CM_ATTEN_CHAR_IND: Struct(*_ATTEN_CHAR, "num_sounds" / Int8ub, "aag" / PrefixedArray(Int8ub, Int8ub)),
    MMType.CM_ATTEN_CHAR_RSP: Struct(*_ATTEN_CHAR, "result" / Int8ub),
    MMType.CM_VALIDATE_REQ: Struct("signal_type" / Int8ub, "timer" / Int8ub, "result" / Int8ub),
    MMType.CM_VALIDATE_CNF: Struct("signal_type" / Int8ub, "toggle_num" / Int8ub, "result" / Int8ub),
    MMType.CM_SLAC_MATCH_REQ: Struct(*_MATCH_VAR_FIELD),
    MMType.CM_SLAC_MATCH_CNF: Struct(*_MATCH_VAR_FIELD, "nid" / Bytes(7), Padding(1), "nmk" / Bytes(16)),
    MMType.CM_AMP_MAP_REQ: Struct("amlen" / Int16ul, "amdata" / Bytes(lambda ctx: (ctx.amlen + 1) // 2)),
    MMType.CM_AMP_MAP_CNF: Struct("res_type" / Int8ub),
}

_CLASSES: Final[dict[MMType, type[Mme]]] = {
    cls.MMTYPE: cls
    for cls in (
        SetKeyReq,
        SetKeyCnf,
        SlacParmReq,
        SlacParmCnf,
        StartAttenCharInd,
        MnbcSoundInd,
        AttenProfileInd,
        AttenCharInd,
        AttenCharRsp,
        ValidateReq,
        ValidateCnf,
        SlacMatchReq,
        SlacMatchCnf,
        AmpMapReq,
        AmpMapCnf,
    )
}
_MVF_LENGTH: Final = {
    MMType.CM_SLAC_MATCH_REQ: MATCH_REQ_MVF_LENGTH,
    MMType.CM_SLAC_MATCH_CNF: MATCH_CNF_MVF_LENGTH,
}
_FIXED_SIZE: Final = {
    MMType.CM_SET_KEY_REQ: 38,
    MMType.CM_SET_KEY_CNF: 14,
    MMType.CM_START_ATTEN_CHAR_IND: 19,
    MMType.CM_MNBC_SOUND_IND: 52,
    MMType.CM_ATTEN_CHAR_RSP: 51,
    MMType.CM_VALIDATE_REQ: 3,
    MMType.CM_VALIDATE_CNF: 3,
    MMType.CM_SLAC_MATCH_REQ: 66,
    MMType.CM_SLAC_MATCH_CNF: 90,
    MMType.CM_AMP_MAP_CNF: 1,
}


def _required_payload(mmtype: MMType, payload: bytes) -> int:
    """Payload bytes the layout needs; reads count fields only once they are present."""
    fixed = _FIXED_SIZE.get(mmtype)
    if fixed is not None:
        return fixed
    if mmtype is MMType.CM_SLAC_PARM_REQ:
        if len(payload) < 2 or payload[1] != SecurityType.PUBLIC_KEY:
            return 10
        return 11 + 2 * payload[10] if len(payload) > 10 else 11
    if mmtype is MMType.CM_SLAC_PARM_CNF:
        return 27 if len(payload) > 16 and payload[16] == SecurityType.PUBLIC_KEY else 25
    if mmtype is MMType.CM_ATTEN_PROFILE_IND:
        return 8 + payload[6] if len(payload) > 6 else 8
    if mmtype is MMType.CM_ATTEN_CHAR_IND:
        return 52 + payload[51] if len(payload) > 51 else 52
    # CM_AMP_MAP.REQ: AMLEN (2, LE) then one nibble per carrier.
    return 2 + (int.from_bytes(payload[0:2], "little") + 1) // 2 if len(payload) >= 2 else 2


def _wire_values(msg: Mme) -> dict[str, Any]:
    values: dict[str, Any] = {f.name: getattr(msg, f.name) for f in fields(msg)}  # type: ignore[arg-type]
    if isinstance(msg, SlacMatchReq | SlacMatchCnf):
        values["mvf_length"] = _MVF_LENGTH[msg.MMTYPE]
    elif isinstance(msg, SlacParmReq):
        if msg.security_type == SecurityType.PUBLIC_KEY:
            values["cipher_suites"] = list(msg.cipher_suites)
        elif msg.cipher_suites:
            raise MmeError("cipher suites are only sent with SecurityType 1", rule="CM_SLAC_PARM.REQ layout")
    elif isinstance(msg, SlacParmCnf):
        if (msg.cipher_suite is None) == (msg.security_type == SecurityType.PUBLIC_KEY):
            raise MmeError("CipherSuite is present exactly when SecurityType is 1", rule="CM_SLAC_PARM.CNF layout")
    elif isinstance(msg, AttenProfileInd | AttenCharInd):
        values["aag"] = list(msg.aag)
    elif isinstance(msg, AmpMapReq):
        codes = msg.amplitudes
        if any(not 0 <= c <= 0x0F for c in codes):
            raise MmeError("amplitude map codes are 4-bit values (0..15)", rule="CM_AMP_MAP.REQ AMDATA")
        padded = [*codes, 0] if len(codes) % 2 else list(codes)
        values = {
            "amlen": len(codes),
            "amdata": bytes(lo | (hi << 4) for lo, hi in zip(padded[0::2], padded[1::2], strict=True)),
        }
    return values


def _from_wire(cls: type[Mme], values: dict[str, Any]) -> Mme:
    if cls is AmpMapReq:
        data: bytes = values["amdata"]
        nibbles = [n for b in data for n in (b & 0x0F, b >> 4)]
        return AmpMapReq(amplitudes=tuple(nibbles[: values["amlen"]]))
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    kwargs = {k: v for k, v in values.items() if k in names}
    for key in ("aag", "cipher_suites"):
        if key in kwargs:
            kwargs[key] = tuple(kwargs[key] or ())
    return cls(**kwargs)


def _check_mac(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != 6:
        raise MmeError(f"{what} must be 6 bytes, got {value!r}", rule="Ethernet header")


def pack_frame(msg: Mme, src_mac: bytes, dst_mac: bytes) -> bytes:
    """Frame ``msg`` for the wire: Ethernet + MMV=1 header (FMI 0) + payload, zero-padded to 60 bytes."""
    _check_mac(src_mac, "source MAC")
    _check_mac(dst_mac, "destination MAC")
    try:
        header = _HEADER.build(
            {
                "dst": dst_mac,
                "src": src_mac,
                "ethertype": ETHERTYPE_HOMEPLUG,
                "mmv": MMV_GREEN_PHY,
                "mmtype": int(msg.MMTYPE),
                "fmi": 0,
            }
        )
        payload = _LAYOUTS[msg.MMTYPE].build(_wire_values(msg))
    except ConstructError as exc:
        raise MmeError(f"cannot pack {msg.name}: {exc}", rule="field sizes of ISO 15118-3 Annex A") from exc
    frame = bytes(header) + bytes(payload)
    return frame + b"\x00" * (MIN_FRAME_LENGTH - len(frame)) if len(frame) < MIN_FRAME_LENGTH else frame


def peek_header(data: bytes) -> EthernetHeader | None:
    """The Ethernet header of any frame (None when shorter than 14 bytes); never raises."""
    if len(data) < 14:
        return None
    ethertype = int.from_bytes(data[12:14], "big")
    return EthernetHeader(dst=bytes(data[0:6]), src=bytes(data[6:12]), ethertype=ethertype)


def unpack_frame(data: bytes) -> tuple[EthernetHeader, Mme]:
    """Parse a received frame into its Ethernet header and SLAC message; trailing padding is ignored.

    Raises :class:`MmeError` (offset + rule) for a short frame, another ethertype, MMV other than 1, an
    MMTYPE that is not a SLAC message, a fragmented MME, a payload shorter than its layout, or a wrong
    MVFLength.
    """
    data = bytes(data)
    header = peek_header(data)
    if header is None:
        raise MmeError(
            f"frame has {len(data)} bytes, shorter than the 14-byte Ethernet header",
            offset=len(data),
            rule="Ethernet header",
        )
    if header.ethertype != ETHERTYPE_HOMEPLUG:
        raise MmeError(
            f"ethertype 0x{header.ethertype:04X} is not HomePlug AV (0x88E1)", offset=12, rule="ethertype 0x88E1"
        )
    if len(data) < HEADER_LENGTH:
        raise MmeError(
            f"frame has {len(data)} bytes, shorter than the 19-byte MME header",
            offset=len(data),
            rule="MME header MMV/MMTYPE/FMI",
        )
    fields_ = _HEADER.parse(data)
    if fields_.mmv != MMV_GREEN_PHY:
        raise MmeError(f"MMV is 0x{fields_.mmv:02X}, SLAC messages use MMV 0x01", offset=14, rule="MMV=1")
    try:
        mmtype = MMType(fields_.mmtype)
    except ValueError:
        raise MmeError(
            f"MMTYPE 0x{fields_.mmtype:04X} is not a SLAC message",
            offset=15,
            rule="SLAC MMTYPEs of ISO 15118-3 Annex A",
        ) from None
    if fields_.fmi != 0:
        raise MmeError(f"FMI is 0x{fields_.fmi:04X}: SLAC MMEs are never fragmented", offset=17, rule="FMI=0")
    payload = data[HEADER_LENGTH:]
    need = _required_payload(mmtype, payload)
    if len(payload) < need:
        raise MmeError(
            f"{mmtype.mme_name} needs {need} payload bytes ({HEADER_LENGTH + need}-byte frame), "
            f"the frame ends after {len(payload)}",
            offset=len(data),
            rule=f"{mmtype.mme_name} layout",
        )
    values = dict(_LAYOUTS[mmtype].parse(payload))
    if mmtype in _MVF_LENGTH and values["mvf_length"] != _MVF_LENGTH[mmtype]:
        raise MmeError(
            f"MVFLength is 0x{values['mvf_length']:04X}, {mmtype.mme_name} needs 0x{_MVF_LENGTH[mmtype]:04X} "
            "(little-endian)",
            offset=HEADER_LENGTH + 2,
            rule="MVFLength little-endian",
        )
    return EthernetHeader(dst=header.dst, src=header.src), _from_wire(_CLASSES[mmtype], values)


def format_mac(mac: bytes) -> str:
    """``00:b0:52:00:00:01`` form of a 6-byte MAC."""
    return ":".join(f"{b:02x}" for b in mac)


def parse_mac(text: str) -> bytes:
    """Parse ``aa:bb:cc:dd:ee:ff`` (or with ``-``) into 6 bytes; raises ValueError naming the input."""
    parts = text.replace("-", ":").split(":")
    if len(parts) != 6 or any(len(p) != 2 for p in parts):
        raise ValueError(f"not a MAC address: {text!r}")
    return bytes(int(p, 16) for p in parts)
