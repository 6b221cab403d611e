"""Managing the host's own Qualcomm Green PHY modem over raw Ethernet: identity, reset, link status, role.

:class:`ModemClient` sends the vendor messages of :mod:`iso15118.slac.vendor` to the local-modem address
00:B0:52:00:00:01 on one interface and waits for the confirmation, repeating a request that got no answer.
Every failure raises :class:`ModemError` naming the step (the request that went unanswered or was refused)
and what to check. Needs root or CAP_NET_RAW, like SLAC.

What differs on other chips (see the README's "Real hardware" section): Lumissil (CG5317) and Vertexcom
modems do not answer these Qualcomm messages, so :meth:`ModemClient.info` fails with a message saying so.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Self, TypeVar

from iso15118.errors import SlacError
from iso15118.slac.mme import ETHERTYPE_HOMEPLUG, LOCAL_MODEM_MAC, MmeError
from iso15118.slac.pib import PibRole, patch_role, read_role
from iso15118.slac.vendor import (
    MAX_MODULE_CHUNK,
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
    SwVerCnf,
    SwVerReq,
    VendorMme,
    VsType,
    WrModCnf,
    WrModReq,
)
from iso15118.slac.vendor_mme import is_vendor_frame, pack_vendor, unpack_vendor
from iso15118.transport.ethernet import RawEthernetSocket

__all__ = ["ModemClient", "ModemError", "ModemInfo", "ModemStatus", "ResetReport"]

C = TypeVar("C", bound=VendorMme)
_PIB_HEADER: Final = 16
_OTHER_CHIPS: Final = (
    "Lumissil (CG5317) and Vertexcom modems do not answer Qualcomm vendor messages; "
    "see the README's Real hardware section"
)


class ModemError(SlacError):
    """A modem management step failed; ``step`` names it (e.g. ``VS_SW_VER.REQ``)."""

    def __init__(self, step: str, reason: str) -> None:
        self.step = step
        self.reason = reason
        super().__init__(f"modem {step}: {reason}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ModemInfo:
    """Who answered: the modem's MAC, firmware version and device class."""

    mac: bytes
    version: str
    device_class: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ModemStatus:
    """Is there a peer, and at what rate: the link flag and the logical networks with their stations."""

    link_up: bool
    networks: tuple[NetworkInfo, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ResetReport:
    """A reset: when it was confirmed and when the modem answered again (seconds after the request)."""

    confirmed_s: float
    back_s: float | None


class ModemClient:
    """Talks to the modem in front of ``iface``; ``timeout`` per request, ``tries`` requests per step."""

    def __init__(self, iface: str, *, timeout: float = 1.0, tries: int = 3) -> None:
        self.iface = iface
        self.timeout = timeout
        self.tries = tries
        self._sock = RawEthernetSocket(iface, ethertype=ETHERTYPE_HOMEPLUG)
        self._inbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        self._sock.add_reader(self._loop, self._on_frame)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._loop is not None:
            self._sock.remove_reader(self._loop)
        self._sock.close()

    def _on_frame(self, frame: bytes) -> None:
        if is_vendor_frame(frame):
            self._inbox.put_nowait(frame)

    async def _wait_for(self, expect: type[C], until: float) -> tuple[bytes, C] | None:
        loop = asyncio.get_running_loop()
        while (left := until - loop.time()) > 0:
            try:
                frame = await asyncio.wait_for(self._inbox.get(), left)
            except TimeoutError:
                return None
            try:
                header, msg = unpack_vendor(frame)
            except MmeError:
                continue  # a vendor message we do not know, or a malformed one: not our answer
            if isinstance(msg, expect):
                return header.src, msg
        return None

    async def request(self, req: VendorMme, expect: type[C], *, tries: int | None = None) -> tuple[bytes, C]:
        """Send ``req`` to the local modem until a confirmation of type ``expect`` arrives; (its MAC, it)."""
        loop = asyncio.get_running_loop()
        count = self.tries if tries is None else tries
        for _ in range(count):
            self._sock.send(pack_vendor(req, self._sock.mac, LOCAL_MODEM_MAC))
            got = await self._wait_for(expect, loop.time() + self.timeout)
            if got is not None:
                return got
        answer = VsType(req.VSTYPE + 1).mme_name
        raise ModemError(
            req.name,
            f"no {answer} within {self.timeout:g} s after {count} requests on {self.iface}: is a Qualcomm "
            f"modem (QCA7000/7005/7420) powered and connected? ({_OTHER_CHIPS})",
        )

    async def info(self) -> ModemInfo:
        """The modem's MAC address, firmware version and device class (VS_SW_VER)."""
        mac, cnf = await self.request(SwVerReq(), SwVerCnf)
        if cnf.status != 0:
            raise ModemError("VS_SW_VER.REQ", f"the modem refused with status {cnf.status}")
        return ModemInfo(mac=mac, version=cnf.version, device_class=cnf.device_class)

    async def status(self) -> ModemStatus:
        """The powerline link flag (VS_PL_LINK_STATUS) and the networks with their peers (VS_NW_INFO)."""
        _, link = await self.request(LinkStatusReq(), LinkStatusCnf)
        _, info = await self.request(NwInfoReq(), NwInfoCnf)
        return ModemStatus(link_up=link.link_up and link.status == 0, networks=info.networks)

    async def wait_for_link(self, timeout: float, *, every: float = 0.5) -> float:
        """Poll VS_PL_LINK_STATUS until the link is up; returns the seconds it took (ModemError on timeout)."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        while True:
            _, link = await self.request(LinkStatusReq(), LinkStatusCnf)
            if link.link_up:
                return loop.time() - start
            if loop.time() - start + every > timeout:
                raise ModemError(
                    "VS_PL_LINK_STATUS.REQ", f"the powerline link did not come up within {timeout:g} s after matching"
                )
            await asyncio.sleep(every)

    async def reset(self, *, wait_s: float | None = 30.0, poll_s: float = 0.25) -> ResetReport:
        """Reset the chip (VS_RS_DEV); with ``wait_s``, wait until it answers VS_SW_VER again."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        _, cnf = await self.request(RsDevReq(), RsDevCnf)
        if cnf.status != 0:
            raise ModemError("VS_RS_DEV.REQ", f"the modem refused the reset with status {cnf.status}")
        confirmed = loop.time() - start
        if wait_s is None:
            return ResetReport(confirmed_s=confirmed, back_s=None)
        deadline = loop.time() + wait_s
        while loop.time() < deadline:
            self._sock.send(pack_vendor(SwVerReq(), self._sock.mac, LOCAL_MODEM_MAC))
            if await self._wait_for(SwVerCnf, min(deadline, loop.time() + poll_s)) is not None:
                return ResetReport(confirmed_s=confirmed, back_s=loop.time() - start)
        raise ModemError("VS_RS_DEV.REQ", f"the modem confirmed the reset but did not answer again within {wait_s:g} s")

    async def read_pib(self) -> bytes:
        """The whole parameter block, read in chunks with VS_RD_MOD (its length is in the PIB header)."""
        head = await self._read_chunk(0, _PIB_HEADER)
        length = int.from_bytes(head[4:6], "little")
        if length < _PIB_HEADER:
            raise ModemError("VS_RD_MOD.REQ", f"the PIB header gives a length of {length} bytes")
        data = bytearray()
        while len(data) < length:
            data += await self._read_chunk(len(data), min(MAX_MODULE_CHUNK, length - len(data)))
        return bytes(data)

    async def _read_chunk(self, offset: int, length: int) -> bytes:
        _, cnf = await self.request(RdModReq(offset=offset, length=length), RdModCnf)
        if cnf.status != 0 or len(cnf.data) != length:
            raise ModemError(
                "VS_RD_MOD.REQ",
                f"reading {length} PIB bytes at 0x{offset:X} failed (status {cnf.status}, {len(cnf.data)} bytes)",
            )
        return cnf.data

    async def role(self) -> PibRole | None:
        """The role the modem's PIB configures (None: neither, or a PIB with other offsets)."""
        return read_role(await self.read_pib())

    async def set_role(self, role: PibRole, *, reset_wait_s: float = 30.0) -> ResetReport:
        """Patch the PIB for ``role`` (VS_WR_MOD), store it (VS_MOD_NVM), reset so it takes effect, verify."""
        pib = await self.read_pib()
        new = patch_role(pib, role)
        for offset in range(0, len(new), MAX_MODULE_CHUNK):
            chunk = new[offset : offset + MAX_MODULE_CHUNK]
            if chunk == pib[offset : offset + MAX_MODULE_CHUNK] and offset > 0:
                continue  # unchanged; the first chunk always goes (it carries the checksum)
            _, wr = await self.request(WrModReq(offset=offset, data=chunk), WrModCnf)
            if wr.status != 0:
                raise ModemError("VS_WR_MOD.REQ", f"the modem refused PIB bytes at 0x{offset:X} (status {wr.status})")
        _, nvm = await self.request(ModNvmReq(), ModNvmCnf)
        if nvm.status != 0:
            raise ModemError("VS_MOD_NVM.REQ", f"the modem did not store the PIB (status {nvm.status})")
        report = await self.reset(wait_s=reset_wait_s)
        now = await self.role()
        if now is not role:
            raise ModemError("VS_RD_MOD.REQ", f"after the reset the PIB configures {now or 'no role'}, not {role}")
        return report
