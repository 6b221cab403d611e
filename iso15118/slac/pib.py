"""The parameter block (PIB) fields that make a Qualcomm Green PHY modem an EV (PEV) or an EVSE modem.

A QCA7000/7005/7420 modem out of the box is a home-network adapter: it neither routes SLAC frames between the
powerline and the host nor produces CM_ATTEN_PROFILE.IND. Its role lives in the PIB in flash. pyPLC documents
the offsets it patches with open-plc-utils ``setpib`` on QCA7420-based adapters (TP-Link TL-PA4010P v5):

======  =====================  ===========  ===========
offset  field                  PEV (EV)     EVSE
======  =====================  ===========  ===========
0x0074  HFID (64-byte string)  ``"PEV"``    ``"EVSE"``
0x00F4  byte                   1            2
0x1653  byte                   1            2
0x1C98  two little-endian u32  10240, 102400 (both roles)
======  =====================  ===========  ===========

Other firmware and PIB versions may place these fields elsewhere; :func:`read_role` therefore only reports a
role when the two role bytes agree. The PIB header (open-plc-utils ``pib_header``) holds the PIB length at
offset 4 and a checksum32 at offset 8, computed with the checksum field zeroed; :func:`patch_role` updates it.
"""

from __future__ import annotations

import struct
from enum import StrEnum
from typing import Final

from iso15118.errors import SlacError
from iso15118.slac.vendor import checksum32

__all__ = [
    "MIN_PIB_LENGTH",
    "PibRole",
    "hfid_of",
    "make_pib",
    "patch_role",
    "pib_checksum_ok",
    "read_role",
    "role_patches",
]

_HFID_OFFSET: Final = 0x74
_HFID_LENGTH: Final = 64
_ROLE_BYTES: Final = (0xF4, 0x1653)
_TIMING_OFFSET: Final = 0x1C98
_TIMING_VALUES: Final = (10240, 102400)
_LENGTH_OFFSET: Final = 4
_CHECKSUM_OFFSET: Final = 8
#: The role fields end at 0x1CA0: a PIB must be at least this long to carry them.
MIN_PIB_LENGTH: Final = _TIMING_OFFSET + 8


class PibRole(StrEnum):
    """The modem role a PIB configures."""

    EV = "ev"
    EVSE = "evse"

    @property
    def code(self) -> int:
        """The role byte: 1 for PEV, 2 for EVSE."""
        return 1 if self is PibRole.EV else 2

    @property
    def hfid(self) -> str:
        """The human-friendly ID pyPLC writes: ``PEV`` or ``EVSE``."""
        return "PEV" if self is PibRole.EV else "EVSE"


def role_patches(role: PibRole) -> list[tuple[int, bytes]]:
    """The ``(offset, bytes)`` writes that configure ``role``, lowest offset first."""
    hfid = role.hfid.encode("ascii").ljust(_HFID_LENGTH, b"\x00")
    patches = [(_HFID_OFFSET, hfid)]
    patches += [(offset, bytes([role.code])) for offset in _ROLE_BYTES]
    patches.append((_TIMING_OFFSET, struct.pack("<II", *_TIMING_VALUES)))
    return patches


def _check_length(pib: bytes) -> None:
    if len(pib) < MIN_PIB_LENGTH:
        raise SlacError(
            f"the parameter block has {len(pib)} bytes; the role fields need at least {MIN_PIB_LENGTH} "
            "(is this a QCA7000/7420 PIB?)"
        )


def read_role(pib: bytes) -> PibRole | None:
    """The role the PIB configures, or None when its role bytes name none (or disagree)."""
    _check_length(pib)
    codes = {pib[offset] for offset in _ROLE_BYTES}
    if len(codes) != 1:
        return None
    return {1: PibRole.EV, 2: PibRole.EVSE}.get(codes.pop())


def hfid_of(pib: bytes) -> str:
    """The PIB's human-friendly ID string."""
    _check_length(pib)
    return pib[_HFID_OFFSET : _HFID_OFFSET + _HFID_LENGTH].split(b"\x00", 1)[0].decode("ascii", "replace")


def _with_checksum(pib: bytearray) -> bytes:
    pib[_CHECKSUM_OFFSET : _CHECKSUM_OFFSET + 4] = b"\x00" * 4
    pib[_CHECKSUM_OFFSET : _CHECKSUM_OFFSET + 4] = struct.pack("<I", checksum32(bytes(pib)))
    return bytes(pib)


def pib_checksum_ok(pib: bytes) -> bool:
    """True when the header checksum matches the PIB's content."""
    stored = pib[_CHECKSUM_OFFSET : _CHECKSUM_OFFSET + 4]
    return _with_checksum(bytearray(pib))[_CHECKSUM_OFFSET : _CHECKSUM_OFFSET + 4] == stored


def patch_role(pib: bytes, role: PibRole) -> bytes:
    """A copy of ``pib`` configured for ``role``, with its header checksum recomputed."""
    _check_length(pib)
    out = bytearray(pib)
    for offset, data in role_patches(role):
        out[offset : offset + len(data)] = data
    return _with_checksum(out)


def make_pib(role: PibRole | None, *, length: int = 0x2000) -> bytes:
    """A synthetic PIB of ``length`` bytes (for the modem emulator and tests): header, role fields, checksum."""
    if length < MIN_PIB_LENGTH:
        raise SlacError(f"a PIB with role fields has at least {MIN_PIB_LENGTH} bytes")
    out = bytearray(length)
    out[0:2] = b"\x07\x05"  # firmware / PIB version bytes, arbitrary
    struct.pack_into("<H", out, _LENGTH_OFFSET, length & 0xFFFF)
    base = _with_checksum(out)
    return patch_role(base, role) if role is not None else base
