"""Key material of the SLAC logical network: the NID derived from an NMK, and an NMK derived from a password.

Both follow the HomePlug AV key derivations as pyslac, EVerest and Qualcomm's open-plc-utils implement them:
the NID is SHA-256 applied five times to the NMK, truncated to 52 bits, with the 2-bit security level above
them (0b00 "simple connect"); the NMK-HS is PBKDF1 (SHA-256, 1000 iterations, fixed HomePlug salt) over a
password. Qualcomm's default password ``HomePlugAV0123`` gives NMK ``B59319D7...``, NID ``026BCBA5354E08``.
"""

from __future__ import annotations

import hashlib
from typing import Final

__all__ = ["NID_LENGTH", "NMK_LENGTH", "nid_from_nmk", "nmk_from_password"]

NMK_LENGTH: Final = 16
NID_LENGTH: Final = 7
_NMK_SALT: Final = bytes.fromhex("08856DAF7CF58186")
_NMK_ITERATIONS: Final = 1000
_NID_ROUNDS: Final = 5


def nid_from_nmk(nmk: bytes, *, security_level: int = 0) -> bytes:
    """The 7-byte NID of the network keyed by ``nmk``; ``security_level`` (0..3) fills the top two bits."""
    if len(nmk) != NMK_LENGTH:
        raise ValueError(f"an NMK has {NMK_LENGTH} bytes, got {len(nmk)}")
    if not 0 <= security_level <= 3:
        raise ValueError(f"the NID security level is a 2-bit value, got {security_level}")
    digest = nmk
    for _ in range(_NID_ROUNDS):
        digest = hashlib.sha256(digest).digest()
    return digest[:6] + bytes([(digest[6] >> 4) | (security_level << 4)])


def nmk_from_password(password: str | bytes) -> bytes:
    """The NMK-HS for ``password``: PBKDF1-SHA-256 over password + HomePlug salt, 1000 rounds, 16 bytes."""
    secret = password.encode() if isinstance(password, str) else password
    digest = hashlib.sha256(secret + _NMK_SALT).digest()
    for _ in range(_NMK_ITERATIONS - 1):
        digest = hashlib.sha256(digest).digest()
    return digest[:NMK_LENGTH]
