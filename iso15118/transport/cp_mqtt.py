"""The MQTT pilot backend: the pilot board protocol over an MQTT broker (``paho-mqtt``).

Topics under the base path of ``--cp mqtt://host[:port]/base``: the host publishes commands on
``base/<role>/command`` (``STATE C``, ``PWM 5``...) and reads reports (``CP B 5.0``) and replies (``OK``,
``ERR ...``) from ``base/<role>/state``. A bridge on the pilot hardware (or a home-automation system) does
the rest. paho's network thread hands messages to the event loop with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, Self

from iso15118.cp.wire import Command, PilotReport, format_command
from iso15118.transport.cp_line import PilotError, _LineReader

__all__ = ["MqttPilot"]


class MqttPilot:
    """One role's pilot over MQTT; ``ack_timeout`` bounds the wait for ``OK`` after a command."""

    def __init__(self, host: str, port: int, base: str, role: str, *, ack_timeout: float = 5.0) -> None:
        self.host, self.port, self.base, self.role = host, port, base, role
        self.ack_timeout = ack_timeout
        self.command_topic = f"{base}/{role}/command"
        self.state_topic = f"{base}/{role}/state"
        self.description = f"pilot over MQTT {host}:{port} {base}/{role}"
        self._reader = _LineReader(self.description)
        self._client: Any = None

    async def __aenter__(self) -> Self:
        try:
            import paho.mqtt.client as mqtt
        except ImportError:
            raise PilotError("--cp mqtt:// needs the paho-mqtt package (pip install paho-mqtt)") from None
        loop = asyncio.get_running_loop()
        subscribed = asyncio.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)  # type: ignore[attr-defined]

        def on_connect(client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
            client.subscribe(self.state_topic, qos=1)

        def on_subscribe(client: Any, userdata: Any, mid: Any, reasons: Any, properties: Any) -> None:
            loop.call_soon_threadsafe(subscribed.set)

        def on_message(client: Any, userdata: Any, message: Any) -> None:
            loop.call_soon_threadsafe(self._reader.feed, bytes(message.payload) + b"\n")

        client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
        try:
            await asyncio.to_thread(client.connect, self.host, self.port, 30)
        except OSError as exc:
            raise PilotError(f"{self.description}: cannot connect to the broker: {exc.strerror or exc}") from None
        client.loop_start()
        self._client = client
        try:
            await asyncio.wait_for(subscribed.wait(), self.ack_timeout)
        except TimeoutError:
            await self.__aexit__(None, None, None)
            raise PilotError(f"{self.description}: the broker did not confirm the subscription") from None
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    async def send(self, command: Command) -> None:
        if self._client is None:
            raise PilotError(f"{self.description}: not connected")
        self._client.publish(self.command_topic, format_command(command).strip(), qos=1)
        await self._reader.acknowledged(command, self.ack_timeout)

    async def next_report(self) -> PilotReport:
        return await self._reader.next_report()
