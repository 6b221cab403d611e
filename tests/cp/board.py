"""A scripted pilot board for the tests: the electrical pilot line between an EV board and an EVSE board.

It speaks the pilot board protocol (:mod:`iso15118.cp.wire`) on one pty per role (or, through
:class:`MqttBridge`, on MQTT topics): a ``STATE``/``PWM`` command changes the line, is answered ``OK`` (``ERR``
when the role may not do it), and every change is reported as ``CP <state> <duty>`` to both roles. ``history``
records each state the line took and ``commands`` each command per role, for the tests to check the sequence.
"""

from __future__ import annotations

import os
import pty
import select
import threading
import tty
from collections.abc import Callable

from iso15118.cp.states import CpState
from iso15118.cp.wire import Command, PilotReport, WireError, format_report, parse_command


class LineModel:
    """The pilot line: the EV's resistor state, the EVSE's PWM or F; thread-safe."""

    def __init__(self, *, auto_evse: bool = False) -> None:
        self.ev_state = CpState.A
        self.duty: float | None = None
        self.unavailable = False
        self.auto_evse = auto_evse
        self.history: list[CpState] = [CpState.A]
        self.commands: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def report(self) -> PilotReport:
        if self.unavailable:
            return PilotReport(state=CpState.F, duty=None)
        return PilotReport(state=self.ev_state, duty=self.duty)

    def handle(self, role: str, line: str) -> tuple[str, bool]:
        """The reply to one command line and whether the line changed."""
        try:
            command = parse_command(line)
        except WireError as exc:
            return f"ERR {exc}\n", False
        if command is None:
            return "", False
        with self.lock:
            before = self.report()
            reply = self._apply(role, command)
            self.commands.append((role, line.strip()))
            after = self.report()
            if after.state is not self.history[-1]:
                self.history.append(after.state)
        return reply, after != before or command.verb == "GET"

    def _apply(self, role: str, command: Command) -> str:
        if command.verb == "STATE" and role == "ev" and command.state in (CpState.A, CpState.B, CpState.C, CpState.D):
            self.ev_state = command.state
            if self.auto_evse:
                self.duty = 5.0 if command.state.connected else None
        elif command.verb == "STATE" and role == "evse" and command.state is CpState.F:
            self.unavailable = True
        elif command.verb == "PWM" and role == "evse":
            self.duty, self.unavailable = command.duty, False
        elif command.verb != "GET":
            return f"ERR the {role} board cannot {command.verb} {command.state or command.duty}\n"
        return "OK\n"


class PtyBoard:
    """The board on one pty per role; ``paths[role]`` is the device the host opens."""

    def __init__(self, roles: tuple[str, ...] = ("ev", "evse"), *, auto_evse: bool = False) -> None:
        self.model = LineModel(auto_evse=auto_evse)
        self.paths: dict[str, str] = {}
        self._masters: dict[str, int] = {}
        self._slaves: list[int] = []
        for role in roles:
            master, slave = pty.openpty()
            tty.setraw(slave)
            self._masters[role], self.paths[role] = master, os.ttyname(slave)
            self._slaves.append(slave)  # kept open so that the pty stays usable between host sessions
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="pilot-board")
        self._buffers = {role: b"" for role in roles}
        self._thread.start()

    def _broadcast(self) -> None:
        text = format_report(self.model.report()).encode()
        for fd in self._masters.values():
            os.write(fd, text)

    def _serve(self) -> None:
        by_fd = {fd: role for role, fd in self._masters.items()}
        while True:
            ready, _, _ = select.select([*by_fd, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            for fd in ready:
                role = by_fd[fd]
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue
                self._buffers[role] += data
                *lines, self._buffers[role] = self._buffers[role].split(b"\n")
                for raw in lines:
                    reply, changed = self.model.handle(role, raw.decode())
                    if reply:
                        os.write(fd, reply.encode())
                    if changed:
                        self._broadcast()

    def close(self) -> None:
        os.write(self._stop_w, b"x")
        self._thread.join(5)
        for fd in [*self._masters.values(), *self._slaves, self._stop_r, self._stop_w]:
            os.close(fd)


class MqttBridge:
    """The board on MQTT: commands from ``base/<role>/command``, replies and reports on ``base/<role>/state``."""

    def __init__(self, port: int, base: str, *, auto_evse: bool = False) -> None:
        import paho.mqtt.client as mqtt

        self.model = LineModel(auto_evse=auto_evse)
        self.base = base
        self.ready = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        client.on_connect = lambda c, *_: c.subscribe(f"{base}/+/command", qos=1)
        client.on_subscribe = lambda *_: self.ready.set()
        client.on_message = self._on_message
        client.connect("127.0.0.1", port, 30)
        client.loop_start()
        self.client = client

    def _publish(self, role: str, text: str) -> None:
        self.client.publish(f"{self.base}/{role}/state", text.strip(), qos=1)

    def _on_message(self, client: object, userdata: object, message: object) -> None:
        role = message.topic.split("/")[-2]  # type: ignore[attr-defined]
        reply, changed = self.model.handle(role, message.payload.decode())  # type: ignore[attr-defined]
        if reply:
            self._publish(role, reply)
        if changed:
            for each in ("ev", "evse"):
                self._publish(each, format_report(self.model.report()))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


Closer = Callable[[], None]
