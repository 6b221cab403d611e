"""asyncio runners for SLAC over a raw Ethernet interface: :func:`run_slac` and :func:`run_modem_standin`.

:func:`run_slac` drives an EV or EVSE state machine (:mod:`iso15118.slac`) over one AF_PACKET socket:
frames in, frames out, the machine's deadline armed on the event loop. With ``modem_standin=True`` a
:class:`~iso15118.slac.modem.ModemStandIn` sits in-process between the machine (port ``host``) and the
wire (port ``line``): it answers this host's CM_SET_KEY.REQ, answers a peer's CM_SET_KEY.REQ arriving
from the wire, and produces the CM_ATTEN_PROFILE.IND frames a real EVSE modem would (locally for an
EVSE, on the wire toward the peer EVSE for an EV). One stand-in per link is enough; one on each side
also works (each keys its own host, and a profile arriving from the wire is dropped, never counted twice).

:func:`run_modem_standin` serves the same model on several interfaces at once, e.g. in a middle network
namespace whose kernel bridge joins the EV's and the EVSE's veth links.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from iso15118.errors import SlacError
from iso15118.slac.ev import EvMachine
from iso15118.slac.events import Matched, MatchingFailed, SlacEvent, Step
from iso15118.slac.evse import EvseMachine
from iso15118.slac.machine import Role, SlacMachine
from iso15118.slac.mme import ETHERTYPE_HOMEPLUG
from iso15118.slac.modem import ModemKey, ModemStandIn
from iso15118.slac.timers import SlacConfig
from iso15118.transport.ethernet import RawEthernetSocket

__all__ = ["MatchingError", "ModemModel", "SlacResult", "retry_matching", "run_modem_standin", "run_slac"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class SlacResult:
    """A successful match. All times are seconds since :func:`run_slac` started.

    ``steps`` lists every frame sent/received and timer of the run; ``sound_times`` when each sound was
    sent (EV) or received (EVSE); ``sounding_window`` the EVSE's TT_EVSE_match_MNBC window.
    """

    role: Role
    iface: str
    own_mac: bytes
    peer_mac: bytes
    nid: bytes
    nmk: bytes
    run_id: bytes
    attenuation_db: float
    num_sounds: int
    attempts: int
    duration: float
    steps: tuple[Step, ...]
    sound_times: tuple[float, ...]
    sounding_window: tuple[float, float] | None
    key_result: int | None
    modem_keys: tuple[ModemKey, ...] = ()


class ModemModel(Protocol):
    """A sans-I/O model of the modems of a link: the stand-in or the emulator."""

    ports: tuple[str, ...]
    forward: bool

    def receive(self, port: str, frame: bytes, now: float) -> list[tuple[str, bytes]]:
        """Frames to emit after ``frame`` arrived from the host on ``port``."""
        ...


class MatchingError(SlacError):
    """Matching failed; ``step`` names where, ``steps`` what happened until then (relative times)."""

    def __init__(self, reason: str, *, step: str, steps: tuple[Step, ...] = ()) -> None:
        self.reason = reason
        self.step = step
        self.steps = steps
        super().__init__(f"SLAC failed at {step}: {reason}")


def _relative(steps: tuple[Step, ...], t0: float) -> tuple[Step, ...]:
    return tuple(Step(name=s.name, at=s.at - t0) for s in steps)


class _Driver:
    """Moves frames between the machine, the optional in-process modem stand-in and the socket."""

    def __init__(self, machine: SlacMachine, sock: RawEthernetSocket, modem: ModemStandIn | None) -> None:
        self.machine, self.sock, self.modem = machine, sock, modem

    def from_line(self, frame: bytes, now: float) -> None:
        self._route([("line>", frame)], now)

    def flush(self, now: float) -> None:
        self._route([("host>", f) for f in self.machine.frames_to_send()], now)

    def _route(self, pending: list[tuple[str, bytes]], now: float) -> None:
        # "host>"/"line>": a frame leaving the machine / arriving from the wire; "host"/"line": deliver.
        while pending:
            where, frame = pending.pop(0)
            if where in ("host>", "line>") and self.modem is not None:
                pending.extend(self.modem.receive(where[:-1], frame, now))
                continue
            if where in ("host>", "line"):
                self.sock.send(frame)
            else:
                self.machine.receive_frame(frame, now)
                pending.extend(("host>", f) for f in self.machine.frames_to_send())


async def run_slac(
    iface: str,
    role: Literal["ev", "evse"] | Role,
    *,
    config: SlacConfig | None = None,
    modem_standin: bool = False,
    timeout: float | None = None,
    linger: float | None = None,
    on_event: Callable[[SlacEvent], None] | None = None,
) -> SlacResult:
    """Run SLAC matching as ``role`` on interface ``iface`` and return the result once matched.

    ``config`` sets timers and keys (defaults: ISO 15118-3 Table A.1); ``modem_standin`` plays the PLC
    modem(s) in-process for links without real modems (veth); ``timeout`` bounds the matching in seconds
    (None: the standard's own timers end it). After the match the runner keeps serving the link for
    ``linger`` seconds before it returns, so that an EVSE confirms a repeated CM_SLAC_MATCH.REQ and an
    in-process stand-in answers the EV's CM_SET_KEY.REQ; the default is TT_match_response x
    (C_EV_match_retry + 1) for the EVSE and 0 for the EV. ``on_event`` sees every machine event (frames
    ignored, failed attempts, notices). With a real modem, ``config.chip_reset`` resets it after a failed
    match and ``config.link_status_check`` waits up to TT_match_join for its link after the match.
    Raises :class:`MatchingError` when matching fails or times out, and
    OSError when the interface cannot be opened (root or CAP_NET_RAW is needed).
    """
    role = Role(role)
    machine: SlacMachine
    with RawEthernetSocket(iface, ethertype=ETHERTYPE_HOMEPLUG) as sock:
        machine = (EvMachine if role is Role.EV else EvseMachine)(mac=sock.mac, config=config)
        if linger is None:
            cfg = machine.config
            linger = cfg.tt_match_response * (cfg.c_ev_match_retry + 1) if role is Role.EVSE else 0.0
        modem = ModemStandIn(["host", "line"]) if modem_standin else None
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        try:
            matched = await _pump(_Driver(machine, sock, modem), loop, t0, timeout, linger, on_event)
        except MatchingError:
            if machine.config.chip_reset and not modem_standin:
                await _reset_modem(iface)  # EVerest's chip reset after a failed match
            raise
        if machine.config.link_status_check and not modem_standin:
            from iso15118.transport.modem import ModemClient, ModemError

            try:
                async with ModemClient(iface) as client:
                    await client.wait_for_link(machine.config.tt_match_join)
            except ModemError as exc:
                raise MatchingError(exc.reason, step="link status", steps=_relative(machine.steps, t0)) from None
        window = matched.sounding_window
        return SlacResult(
            role=role,
            iface=iface,
            own_mac=sock.mac,
            peer_mac=matched.peer_mac,
            nid=matched.nid,
            nmk=matched.nmk,
            run_id=matched.run_id,
            attenuation_db=matched.attenuation_db,
            num_sounds=matched.num_sounds,
            attempts=matched.attempts,
            duration=matched.at - t0,
            steps=_relative(matched.steps, t0),
            sound_times=tuple(t - t0 for t in matched.sound_times),
            sounding_window=None if window is None else (window[0] - t0, window[1] - t0),
            key_result=matched.key_result,
            modem_keys=tuple(modem.keys) if modem is not None else (),
        )


async def retry_matching(
    run: Callable[[], Awaitable[SlacResult]],
    *,
    retries: int,
    pulse: Callable[[float], Awaitable[None]] | None,
    t_step_ef: float,
    on_retry: Callable[[MatchingError, int], None] | None = None,
) -> SlacResult:
    """The AC 5 % mode (ISO 15118-3, EVerest's recommendation for DC too): after a failed match, put the CP
    into state E/F for ``t_step_ef`` with ``pulse`` and match again, up to ``retries`` times (C_sequ_retry)."""
    attempt = 0
    while True:
        try:
            return await run()
        except MatchingError as exc:
            if attempt >= retries or pulse is None:
                raise
            attempt += 1
            if on_retry is not None:
                on_retry(exc, attempt)
            await pulse(t_step_ef)


async def _reset_modem(iface: str) -> None:
    """Reset the local modem (best effort: a failure is logged, the matching error is what the caller sees)."""
    from iso15118.transport.modem import ModemClient, ModemError

    try:
        async with ModemClient(iface) as client:
            report = await client.reset()
        _log.info("slac: modem on %s reset after the failed match (back after %.1f s)", iface, report.back_s or 0)
    except (ModemError, OSError) as exc:
        _log.warning("slac: modem reset on %s failed: %s", iface, exc)


async def _pump(
    driver: _Driver,
    loop: asyncio.AbstractEventLoop,
    t0: float,
    timeout: float | None,
    linger: float,
    on_event: Callable[[SlacEvent], None] | None,
) -> Matched:
    """Drive the machine from ``t0`` until it matched (plus ``linger``) or failed."""
    machine, sock = driver.machine, driver.sock
    inbox: asyncio.Queue[bytes] = asyncio.Queue()
    sock.add_reader(loop, inbox.put_nowait)
    try:
        end = None if timeout is None else t0 + timeout
        matched: Matched | None = None
        machine.start(t0)
        driver.flush(t0)
        while True:
            for event in machine.events():
                _log.debug("slac %s: %s", machine.ROLE, event)
                if on_event is not None:
                    on_event(event)
                if isinstance(event, Matched):
                    matched, end = event, loop.time() + linger
                elif isinstance(event, MatchingFailed):
                    raise MatchingError(event.reason, step=event.step, steps=_relative(event.steps, t0))
            if end is not None and loop.time() >= end:
                if matched is not None:
                    return matched
                raise MatchingError(
                    f"no match within {timeout:g} s (state: {machine.state.value})",
                    step="timeout",
                    steps=_relative(machine.steps, t0),
                )
            deadline = machine.next_deadline()
            wake = min((t for t in (deadline, end) if t is not None), default=None)
            frame: bytes | None = None
            try:
                async with asyncio.timeout_at(wake):
                    frame = await inbox.get()
            except TimeoutError:
                pass
            now = loop.time()
            if frame is not None:
                driver.from_line(frame, now)
                while not inbox.empty():
                    driver.from_line(inbox.get_nowait(), now)
            if end is None or now < end or matched is not None:
                # A wake-up that came late (a busy machine) past the overall timeout reports the state the
                # timeout found, rather than first acting on protocol deadlines that fell after it.
                machine.handle_timer(now)
            driver.flush(now)
    finally:
        sock.remove_reader(loop)


async def run_modem_standin(
    ifaces: Sequence[str],
    *,
    forward: bool = False,
    modem: ModemModel | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Play the PLC modems for the hosts behind ``ifaces`` until cancelled.

    Sockets are ETH_P_ALL (a kernel bridge port hands nothing to ethertype-bound sockets) and skip the
    frames the bridge forwards out of the port. With ``forward=False`` the kernel (a bridge) carries the
    traffic and only HomePlug frames are read; ``forward=True`` makes this a user-space bridge for every
    ethertype. Pass ``modem`` to inspect what it did (keys set, sounds seen, profiles sent), or to serve another
    model such as :class:`~iso15118.slac.emulator.ModemEmulator` (its own ``forward`` flag then decides).
    ``on_ready`` is called once every socket is open and read.
    """
    loop = asyncio.get_running_loop()
    model: ModemModel = modem if modem is not None else ModemStandIn(list(ifaces), forward=forward)
    forward = model.forward
    if set(model.ports) != set(ifaces):
        raise SlacError(f"modem stand-in ports {model.ports} do not match the interfaces {list(ifaces)}")
    sockets = {
        name: RawEthernetSocket(name, ethertype=None, only=None if forward else ETHERTYPE_HOMEPLUG) for name in ifaces
    }
    try:
        for name, sock in sockets.items():

            def handle(frame: bytes, port: str = name) -> None:
                for out_port, out in model.receive(port, frame, loop.time()):
                    sockets[out_port].send(out)

            sock.add_reader(loop, handle)
        if on_ready is not None:
            on_ready()
        await asyncio.Event().wait()
    finally:
        for sock in sockets.values():
            sock.remove_reader(loop)
            sock.close()
