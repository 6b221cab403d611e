"""A stand-in for the HomePlug Green PHY modems of a virtual link (veth), sans-I/O.

On a real cable every host talks to its own modem, and the modems, not the hosts, measure the sounds.
A veth pair has no modems, so this model plays them: it is a node with named *ports*, each leading to one
host, and for a frame arriving on port P it returns the frames to emit on which ports:

- an MME addressed to the local-modem address 00:B0:52:00:00:01 is consumed, never forwarded; a
  CM_SET_KEY.REQ is answered with CM_SET_KEY.CNF (Result 0) on P and its NMK/NID are recorded;
- after a CM_MNBC_SOUND.IND from P, every other port Q gets a CM_ATTEN_PROFILE.IND for Q's host
  (source: Q's modem, PEV_MAC: the sounding host, 58 groups of about 20-27 dB), as the EVSE's modem does;
- a CM_ATTEN_PROFILE.IND arriving from a host is dropped: only modems make them, and a second stand-in
  on the same link would otherwise double the EVSE's sound count;
- everything else is forwarded to the other ports when ``forward`` is set (a user-space bridge or the
  in-process placement); with a kernel bridge doing the forwarding, ``forward=False``.

Runners place it in a middle network namespace between two veth links, or in-process between a host's
state machine (port ``host``) and its raw socket (port ``line``); see :mod:`iso15118.transport.slac_link`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

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

__all__ = ["NUM_GROUPS", "ModemKey", "ModemStandIn"]

#: Attenuation groups a Green PHY modem reports per sound.
NUM_GROUPS: Final = 58
_MODEM_OUI_PREFIX: Final = bytes.fromhex("00b05200fe")


@dataclass(frozen=True, slots=True, kw_only=True)
class ModemKey:
    """The key a host set on its (stand-in) modem with CM_SET_KEY.REQ, and when."""

    port: str
    host_mac: bytes
    nid: bytes
    nmk: bytes
    at: float


class ModemStandIn:
    """The modems of a virtual link; ``ports`` name the hosts' sides (at least two).

    ``attenuation_db`` is the range of the simulated per-group attenuation; ``seed`` makes the profile
    values reproducible.
    """

    def __init__(
        self,
        ports: Sequence[str],
        *,
        forward: bool = True,
        attenuation_db: tuple[int, int] = (20, 27),
        seed: int = 0,
    ) -> None:
        if len(ports) < 2 or len(set(ports)) != len(ports):
            raise ValueError(f"a modem stand-in needs at least two distinct ports, got {list(ports)}")
        low, high = attenuation_db
        if not 0 <= low <= high <= 255:
            raise ValueError(f"attenuation range must be within 0..255 dB, got {attenuation_db}")
        self.ports = tuple(ports)
        self.forward = forward
        self.modem_macs = {port: _MODEM_OUI_PREFIX + bytes([i + 1]) for i, port in enumerate(self.ports)}
        self.host_macs: dict[str, bytes] = {}
        self.keys: list[ModemKey] = []
        self.sounds_seen = 0
        self.profiles_sent = 0
        self._rng = random.Random(seed)
        self._range = (low, high)
        # A fixed per-group shape plus +-1 dB of jitter per sound, clipped to the range.
        self._shape = [self._rng.randint(low, high) for _ in range(NUM_GROUPS)]

    def receive(self, port: str, frame: bytes, now: float) -> list[tuple[str, bytes]]:
        """Frames to emit, as ``(port, frame)`` pairs, after ``frame`` arrived from the host on ``port``."""
        if port not in self.modem_macs:
            raise ValueError(f"unknown modem stand-in port {port!r} (ports: {', '.join(self.ports)})")
        header = peek_header(frame)
        if header is None:
            return []
        if header.src not in self.modem_macs.values() and header.src != LOCAL_MODEM_MAC:
            self.host_macs[port] = header.src
        others = [p for p in self.ports if p != port]
        if header.ethertype != ETHERTYPE_HOMEPLUG:
            return [(p, frame) for p in others] if self.forward else []
        try:
            _, msg = unpack_frame(frame)
        except MmeError:
            msg = None  # not a SLAC MME (or a vendor MME): the modem passes it on untouched
        if header.dst == LOCAL_MODEM_MAC:
            if isinstance(msg, SetKeyReq):
                return [(port, self._set_key(port, header.src, msg, now))]
            return []
        if msg is not None and msg.MMTYPE is MMType.CM_ATTEN_PROFILE_IND:
            return []
        out = [(p, frame) for p in others] if self.forward else []
        if msg is not None and msg.MMTYPE is MMType.CM_MNBC_SOUND_IND:
            self.sounds_seen += 1
            for other in others:
                out.append((other, self._profile(other, header.src)))
        return out

    def _set_key(self, port: str, host: bytes, req: SetKeyReq, now: float) -> bytes:
        self.keys.append(ModemKey(port=port, host_mac=host, nid=req.nid, nmk=req.new_key, at=now))
        cnf = SetKeyCnf(
            result=0,
            my_nonce=b"\x00" * 4,
            your_nonce=req.my_nonce,
            pid=req.pid,
            prn=req.prn,
            pmn=req.pmn,
            cco_capability=req.cco_capability,
        )
        return pack_frame(cnf, self.modem_macs[port], host)

    def _profile(self, port: str, pev_mac: bytes) -> bytes:
        low, high = self._range
        aag = tuple(min(high, max(low, base + self._rng.randint(-1, 1))) for base in self._shape)
        self.profiles_sent += 1
        dst = self.host_macs.get(port, BROADCAST_MAC)
        return pack_frame(AttenProfileInd(pev_mac=pev_mac, aag=aag), self.modem_macs[port], dst)
