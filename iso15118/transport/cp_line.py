"""Control Pilot backends: the I/O that connects :mod:`iso15118.cp` to a pilot line.

Every backend speaks the pilot board protocol of :mod:`iso15118.cp.wire` -- commands out, ``CP`` reports in:

- ``sim``: :class:`SimulatedLine`, an in-memory pilot line with an EV end and an EVSE end (the default, and what
  the virtual bench uses); an end left without a driver is played automatically (an EVSE that offers 5 % PWM
  when an EV connects);
- ``serial:/dev/ttyUSB0``: a board on a serial line, 115200 baud 8N1, raw mode (termios, no extra package);
- ``mqtt://host[:port]/base``: MQTT (``paho-mqtt``): commands are published on ``base/<role>/command``,
  reports read from ``base/<role>/state``;
- ``gpio:/dev/gpiochip0?c=17&pwm=27``: Linux GPIO through ``gpiod`` (imported only then) -- see
  :mod:`iso15118.transport.cp_gpio`.

:func:`open_pilot` turns a ``--cp`` value into a backend for a role.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import termios
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self
from urllib.parse import parse_qs, urlsplit

from iso15118.cp.states import CpState
from iso15118.cp.wire import Ack, Command, PilotReport, Refused, WireError, format_command, parse_reply
from iso15118.errors import ConfigError

__all__ = ["PilotBackend", "PilotError", "SerialPilot", "SimulatedLine", "open_pilot"]


class PilotError(ConfigError):
    """The pilot backend failed: the board refused a command, the line closed, the device is missing."""


class PilotBackend(Protocol):
    """One role's connection to a pilot line."""

    description: str

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def send(self, command: Command) -> None:
        """Carry out a command (``STATE``/``PWM``/``GET``)."""
        ...

    async def next_report(self) -> PilotReport:
        """The next report of the line (waits for it)."""
        ...


@dataclass(slots=True)
class _Ends:
    ev_state: CpState = CpState.A
    evse_duty: float | None = None
    evse_unavailable: bool = False


class SimulatedLine:
    """An in-memory pilot line; :meth:`end` gives the EV's or the EVSE's backend.

    With ``auto_evse`` the EVSE end plays itself: 5 % PWM while an EV is connected, steady +12 V otherwise; with
    ``ev_connected`` an EV is connected from the start (state B) for an EVSE end used alone.
    ``history`` records every state the line took, in order.
    """

    def __init__(self, *, auto_evse: bool = False, ev_connected: bool = False) -> None:
        self._ends = _Ends(ev_state=CpState.B if ev_connected else CpState.A)
        self._queues: dict[str, list[asyncio.Queue[PilotReport]]] = {"ev": [], "evse": []}
        self.auto_evse = auto_evse
        self.history: list[CpState] = [self._ends.ev_state]

    def report(self) -> PilotReport:
        """What the line shows now."""
        if self._ends.evse_unavailable:
            return PilotReport(state=CpState.F, duty=None)
        return PilotReport(state=self._ends.ev_state, duty=self._ends.evse_duty)

    def end(self, role: str) -> _SimEnd:
        """The backend of one end (``ev`` or ``evse``)."""
        if role not in self._queues:
            raise PilotError(f"a pilot line has an ev and an evse end, not {role!r}")
        return _SimEnd(self, role)

    def apply(self, role: str, command: Command) -> None:
        """Change the line as ``role`` commands, then report to every listener."""
        ends = self._ends
        if command.verb == "STATE" and command.state is not None:
            if role == "ev" and command.state in (CpState.A, CpState.B, CpState.C, CpState.D):
                ends.ev_state = command.state
            elif role == "evse" and command.state is CpState.F:
                ends.evse_unavailable = True
            else:
                raise PilotError(f"the {role} end cannot drive state {command.state}")
        elif command.verb == "PWM":
            if role != "evse":
                raise PilotError("only the EVSE end drives the PWM")
            ends.evse_duty, ends.evse_unavailable = command.duty, False
        if self.auto_evse and role == "ev":
            ends.evse_duty = 5.0 if ends.ev_state.connected else None
        self._publish()

    def _publish(self) -> None:
        report = self.report()
        if report.state is not self.history[-1]:
            self.history.append(report.state)
        for queues in self._queues.values():
            for queue in queues:
                queue.put_nowait(report)

    def _listen(self, role: str) -> asyncio.Queue[PilotReport]:
        queue: asyncio.Queue[PilotReport] = asyncio.Queue()
        self._queues[role].append(queue)
        queue.put_nowait(self.report())
        return queue

    def _forget(self, role: str, queue: asyncio.Queue[PilotReport]) -> None:
        with contextlib.suppress(ValueError):
            self._queues[role].remove(queue)


class _SimEnd:
    def __init__(self, line: SimulatedLine, role: str) -> None:
        self.line, self.role = line, role
        self.description = f"simulated pilot line ({role} end)"
        self._queue: asyncio.Queue[PilotReport] | None = None

    async def __aenter__(self) -> Self:
        self._queue = self.line._listen(self.role)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._queue is not None:
            self.line._forget(self.role, self._queue)

    async def send(self, command: Command) -> None:
        if command.verb == "GET":
            if self._queue is not None:
                self._queue.put_nowait(self.line.report())
            return
        self.line.apply(self.role, command)

    async def next_report(self) -> PilotReport:
        if self._queue is None:
            raise PilotError("the simulated pilot end is not open")
        return await self._queue.get()


class _LineReader:
    """Splits incoming text into board replies: reports to one queue, acknowledgements to another."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.reports: asyncio.Queue[PilotReport | BaseException] = asyncio.Queue()
        self.acks: asyncio.Queue[Ack | Refused] = asyncio.Queue()
        self._buffer = b""

    def feed(self, data: bytes) -> None:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for raw in lines:
            try:
                reply = parse_reply(raw.decode("ascii", "replace"))
            except WireError as exc:
                self.reports.put_nowait(PilotError(f"{self.what}: {exc}"))
                continue
            if isinstance(reply, PilotReport):
                self.reports.put_nowait(reply)
            elif reply is not None:
                self.acks.put_nowait(reply)

    async def next_report(self) -> PilotReport:
        got = await self.reports.get()
        if isinstance(got, BaseException):
            raise got
        return got

    async def acknowledged(self, command: Command, timeout: float) -> None:
        try:
            reply = await asyncio.wait_for(self.acks.get(), timeout)
        except TimeoutError:
            raise PilotError(f"{self.what}: no OK for {format_command(command).strip()} within {timeout:g} s") from None
        if isinstance(reply, Refused):
            raise PilotError(f"{self.what} refused {format_command(command).strip()}: {reply.text}")


class SerialPilot:
    """A pilot board on a serial device (a real UART or one end of a pty pair), raw mode, 115200 8N1."""

    def __init__(self, path: str, *, ack_timeout: float = 2.0) -> None:
        self.path = path
        self.ack_timeout = ack_timeout
        self.description = f"pilot board on {path}"
        self._reader = _LineReader(self.description)
        self._fd = -1
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __aenter__(self) -> Self:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as exc:
            raise PilotError(f"cannot open the pilot board {self.path}: {exc.strerror}") from None
        try:
            attrs = termios.tcgetattr(fd)
            attrs[0] = attrs[1] = attrs[3] = 0  # raw: no input, output or local processing
            attrs[2] = termios.CS8 | termios.CREAD | termios.CLOCAL
            attrs[4] = attrs[5] = termios.B115200
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
        except termios.error:
            pass  # not a terminal (a FIFO or a file in a test): nothing to configure
        self._fd = fd
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(fd, self._readable)
        return self

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            data = b""
            self._reader.reports.put_nowait(PilotError(f"{self.description}: {exc.strerror}"))
        if not data:
            assert self._loop is not None
            self._loop.remove_reader(self._fd)
            self._reader.reports.put_nowait(PilotError(f"{self.description}: the board closed the line"))
            return
        self._reader.feed(data)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd >= 0:
            if self._loop is not None:
                self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1

    async def send(self, command: Command) -> None:
        os.write(self._fd, format_command(command).encode("ascii"))
        await self._reader.acknowledged(command, self.ack_timeout)

    async def next_report(self) -> PilotReport:
        return await self._reader.next_report()


def open_pilot(spec: str, role: str, *, line: SimulatedLine | None = None) -> PilotBackend:
    """The backend a ``--cp`` value names, for ``role`` (``ev`` or ``evse``); PilotError for a bad value."""
    if role not in ("ev", "evse"):
        raise PilotError(f"a pilot role is ev or evse, not {role!r}")
    if spec == "sim":
        return (line or SimulatedLine(auto_evse=role == "ev", ev_connected=role == "evse")).end(role)
    if spec.startswith("serial:"):
        path = spec.removeprefix("serial:")
        if not path:
            raise PilotError("--cp serial: needs a device, e.g. serial:/dev/ttyUSB0")
        return SerialPilot(path)
    parts = urlsplit(spec)
    if parts.scheme == "mqtt":
        from iso15118.transport.cp_mqtt import MqttPilot

        if not parts.hostname or not parts.path.strip("/"):
            raise PilotError(f"--cp {spec}: expected mqtt://host[:port]/topic")
        return MqttPilot(parts.hostname, parts.port or 1883, parts.path.strip("/"), role)
    if parts.scheme == "gpio":
        from iso15118.transport.cp_gpio import GpioPilot

        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        return GpioPilot(parts.path, options, role)
    raise PilotError(f"--cp {spec!r}: expected sim, serial:DEVICE, mqtt://host/topic or gpio:CHIP?c=N&pwm=N")
