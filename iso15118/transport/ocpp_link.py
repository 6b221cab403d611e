"""The charging station's WebSocket link to its CSMS: OCPP-J over ``ws://`` or ``wss://``, kept up for good.

:class:`OcppLink` connects to ``CSMS_URL/STATION_ID`` with the subprotocol of the OCPP version
(``ocpp2.0.1`` or ``ocpp2.1``), optionally with HTTP Basic authentication (security profile 1 over ``ws://``,
profile 2 over ``wss://`` with the CSMS's server certificate checked), and:

* boots: BootNotification first; until the CSMS accepts it nothing else is sent (Pending/Rejected: again
  after the interval it names); then a StatusNotification per EVSE, and Heartbeats when nothing else was sent
  for the heartbeat interval;
* sends one CALL at a time, as OCPP-J wants: first the requests a session waits for (Authorize,
  GetCertificateStatus, Get15118EVCertificate), then status notices, then the outbox's TransactionEvents in order
  -- a TransactionEvent leaves the outbox only when its CALLRESULT arrived, so an outage or a crash re-sends it;
* answers the CSMS's requests through :func:`~iso15118.backend.requests.handle_call`; a frame it cannot read, an
  action it does not know and a payload its schema refuses get the CALLERROR OCPP-J prescribes
  (:mod:`iso15118.backend.rpc`); the sessions go on;
* reconnects after any loss with a growing pause (``reconnect_min_s`` doubling up to ``reconnect_max_s``), and
  after a Reset once no session runs (BootNotification reason RemoteReset).

Every payload is validated against its schema before it is sent; one that fails (a bug) is logged and dropped
rather than sent.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import ssl
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from iso15118.backend.outbox import Queued
from iso15118.backend.requests import handle_call
from iso15118.backend.rpc import (
    Call,
    CallError,
    CallResult,
    OcppVersion,
    encode_frame,
    parse_frame,
    validate,
)
from iso15118.backend.station import Station
from iso15118.errors import BackendError, ConfigError, RpcError

__all__ = ["CsmsConfig", "OcppLink"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class CsmsConfig:
    """Where the CSMS is and how to reach it."""

    url: str
    """``ws://HOST:PORT/PATH/STATION_ID`` or ``wss://...``: the station's identity is the last path segment."""
    basic_auth: tuple[str, str] | None = None
    """(user, password) for HTTP Basic authentication (security profiles 1 and 2)."""
    ssl_context: ssl.SSLContext | None = None
    """TLS for ``wss://`` (default: the system's trusted CAs)."""
    call_timeout_s: float = 30.0
    """How long a CALL waits for its answer before the connection is taken as lost."""
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("ws://", "wss://")):
            raise ConfigError(f"the CSMS URL must start with ws:// or wss://, got {self.url!r}")
        if not self.station_id:
            raise ConfigError(f"the CSMS URL {self.url!r} must end with the station's identity")

    @property
    def station_id(self) -> str:
        """The charging station's identity (the URL's last path segment)."""
        return self.url.rstrip("/").rsplit("/", 1)[-1] if self.url.count("/") > 2 else ""


class OcppLink:
    """The link (see the module docstring); implements :class:`~iso15118.backend.controller.Port`."""

    def __init__(self, config: CsmsConfig, station: Station, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.station = station
        self.clock = clock
        self.version: OcppVersion = station.config.version
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._kick = asyncio.Event()
        self._asks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._ask_queue: deque[tuple[str, str, dict[str, Any]]] = deque()
        self._pending: dict[str, asyncio.Future[CallResult | CallError]] = {}
        self._online = asyncio.Event()
        self._last_sent = 0.0
        self._progress = asyncio.Event()
        """Set whenever a message left the outbox or the connection state changed."""
        self._boot_reason = "PowerUp"
        self.heartbeat_s = 300.0
        self.connections = 0
        self.attempts = 0
        """Connection attempts so far (successful or not)."""
        self.last_error: str | None = None
        """Why the last connection failed or ended."""
        self.delivered = 0
        """TransactionEvents (and other outbox messages) the CSMS acknowledged."""
        self.callerrors_sent = 0
        self.callerrors_received = 0
        self.dropped = 0
        station.set_wake(self._kick.set)

    # ---- Port ---------------------------------------------------------------------------------------
    @property
    def online(self) -> bool:
        """True while connected and accepted by the CSMS."""
        return self._online.is_set()

    async def ask(self, key: str, action: str, payload: dict[str, Any], wait_s: float) -> dict[str, Any] | None:
        """See :class:`~iso15118.backend.controller.Port`."""
        future = self._asks.get(key)
        if future is None:
            if not self.online:
                raise BackendError("the CSMS is unreachable")
            future = asyncio.get_running_loop().create_future()
            self._asks[key] = future
            self._ask_queue.append((key, action, payload))
            self._kick.set()
        try:
            await asyncio.wait_for(asyncio.shield(future), wait_s)
        except TimeoutError:
            return None
        self._asks.pop(key, None)
        return future.result()

    async def wait_online(self, timeout: float) -> None:
        """Wait until the CSMS accepted the station (BackendError after ``timeout``)."""
        try:
            await asyncio.wait_for(self._online.wait(), timeout)
        except TimeoutError:
            raise BackendError(
                f"the CSMS at {self.config.url} did not accept the station within {timeout:g} s"
            ) from None

    async def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for the outbox to empty while the CSMS is reachable; True when it did."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.station.outbox.pending and self.online and loop.time() < deadline:
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), deadline - loop.time())
        return not self.station.outbox.pending

    # ---- life cycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start connecting (and keep connected) in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ocpp-link")

    async def stop(self) -> None:
        """Close the connection and stop; what waits in the outbox stays there."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._went_offline("the link stopped")

    async def __aenter__(self) -> OcppLink:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _went_offline(self, why: str) -> None:
        self._online.clear()
        self._progress.set()
        self.station.online = False
        futures: list[asyncio.Future[Any]] = [*self._asks.values(), *self._pending.values()]
        for future in futures:
            if not future.done():
                future.set_exception(BackendError(f"the CSMS connection was lost: {why}"))
        self._asks.clear()
        self._ask_queue.clear()
        self._pending.clear()
        self.station.notices.clear()  # statuses are sent anew after the next boot

    async def _run(self) -> None:
        pause = self.config.reconnect_min_s
        while True:
            headers = {}
            if self.config.basic_auth is not None:
                token = base64.b64encode(":".join(self.config.basic_auth).encode()).decode("ascii")
                headers["Authorization"] = f"Basic {token}"
            tls = self.config.ssl_context if self.config.url.startswith("wss://") else None
            if self.config.url.startswith("wss://") and tls is None:
                tls = ssl.create_default_context()
            self.attempts += 1
            try:
                async with connect(
                    self.config.url,
                    subprotocols=[Subprotocol(self.version.subprotocol)],
                    additional_headers=headers,
                    ssl=tls,
                    open_timeout=10,
                    ping_interval=10,
                    ping_timeout=10,
                ) as ws:
                    if ws.subprotocol != self.version.subprotocol:
                        raise BackendError(f"the CSMS did not accept subprotocol {self.version.subprotocol}")
                    self.connections += 1
                    pause = self.config.reconnect_min_s
                    await self._serve(ws)
            except asyncio.CancelledError:
                raise
            except (OSError, ConnectionClosed, InvalidHandshake, BackendError, TimeoutError) as exc:
                self.last_error = str(exc) or type(exc).__name__
                log.info("OCPP link to %s down: %s", self.config.url, self.last_error)
            finally:
                self._ws = None
                self._went_offline("disconnected")
            await asyncio.sleep(pause)
            pause = min(self.config.reconnect_max_s, pause * 2)

    async def _serve(self, ws: ClientConnection) -> None:
        self._ws = ws
        reader = asyncio.create_task(self._read(ws))
        writer = asyncio.create_task(self._write())
        try:
            done, _ = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # re-raise what ended the connection
        finally:
            for task in (reader, writer):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    # ---- receiving ----------------------------------------------------------------------------------
    async def _read(self, ws: ClientConnection) -> None:
        async for text in ws:
            try:
                frame = parse_frame(text, self.version)
            except RpcError as exc:
                await self._answer_error(exc.unique_id or "-1", exc)
                continue
            if isinstance(frame, Call):
                if not frame.send:
                    await self._answer(frame)
            else:
                future = self._pending.pop(frame.unique_id, None)
                if future is None or future.done():
                    log.warning("OCPP: an answer to no pending CALL (messageId %s) ignored", frame.unique_id)
                    continue
                future.set_result(frame)

    async def _answer(self, call: Call) -> None:
        try:
            validate(self.version, call.action, call.payload)
            payload = handle_call(self.station, call.action, call.payload, self.clock())
            validate(self.version, call.action, payload, response=True)
        except RpcError as exc:
            await self._answer_error(call.unique_id, exc)
            return
        await self._send(encode_frame(CallResult(unique_id=call.unique_id, payload=payload)))
        if call.action == "Reset":
            self._kick.set()

    async def _answer_error(self, unique_id: str, exc: RpcError) -> None:
        self.callerrors_sent += 1
        log.warning("OCPP: answered CALLERROR %s to the CSMS: %s", exc.code, exc.reason)
        frame = CallError(unique_id=unique_id, code=exc.code, description=exc.reason[:255])
        await self._send(encode_frame(frame))

    async def _send(self, text: str) -> None:
        if self._ws is None:
            raise BackendError("not connected")
        await self._ws.send(text)

    # ---- sending ------------------------------------------------------------------------------------
    async def _call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """One CALL and its CALLRESULT payload; RpcError for a CALLERROR, BackendError for a lost answer."""
        validate(self.version, action, payload)
        unique_id = str(uuid.uuid4())
        future: asyncio.Future[CallResult | CallError] = asyncio.get_running_loop().create_future()
        self._pending[unique_id] = future
        await self._send(encode_frame(Call(unique_id=unique_id, action=action, payload=payload)))
        self._last_sent = asyncio.get_running_loop().time()
        try:
            answer = await asyncio.wait_for(future, self.config.call_timeout_s)
        except TimeoutError:
            raise BackendError(f"no answer to {action} within {self.config.call_timeout_s:g} s") from None
        finally:
            self._pending.pop(unique_id, None)
        if isinstance(answer, CallError):
            self.callerrors_received += 1
            raise RpcError(answer.code, f"the CSMS refused {action}: {answer.description}", unique_id=unique_id)
        validate(self.version, action, answer.payload, response=True)
        return answer.payload

    async def _boot(self) -> None:
        while True:
            reply = await self._call("BootNotification", self.station.boot_request(self._boot_reason))
            interval = float(reply.get("interval", 0)) or 60.0
            if reply["status"] == "Accepted":
                self.heartbeat_s = interval
                self._boot_reason = "PowerUp"
                self.station.online = True
                self._online.set()
                for notice in self.station.status_notices(self.clock()):
                    self.station.notices.append(notice)
                return
            await asyncio.sleep(interval)

    async def _write(self) -> None:
        loop = asyncio.get_running_loop()
        self._last_sent = loop.time()
        await self._boot()
        while True:
            if await self._reboot_due():
                return
            if self._ask_queue:
                key, action, payload = self._ask_queue.popleft()
                await self._ask_one(key, action, payload)
            elif self.station.notices:
                action, payload = self.station.notices.popleft()
                await self._notice(action, payload)
            elif (head := self.station.outbox.head()) is not None:
                await self._deliver(head)
            elif loop.time() - self._last_sent >= self.heartbeat_s:
                await self._call("Heartbeat", {})
            else:
                self._kick.clear()
                wait = max(0.0, self.heartbeat_s - (loop.time() - self._last_sent))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._kick.wait(), wait)

    async def _ask_one(self, key: str, action: str, payload: dict[str, Any]) -> None:
        future = self._asks.get(key)
        try:
            result = await self._call(action, payload)
        except RpcError as exc:
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(result)

    async def _notice(self, action: str, payload: dict[str, Any]) -> None:
        try:
            await self._call(action, payload)
        except RpcError as exc:
            log.warning("OCPP: %s", exc)

    async def _deliver(self, head: Queued) -> None:
        try:
            await self._call(head.action, head.payload)
        except RpcError as exc:
            # A message the CSMS (or our own schema check) refuses would block every one behind it forever.
            self.dropped += 1
            log.error("OCPP: %s (message %d dropped from the outbox)", exc, head.id)
            self.station.outbox.drop(head.id)
            self._progress.set()
            return
        self.station.outbox.delivered(head.id)
        self.delivered += 1
        self._progress.set()

    async def _reboot_due(self) -> bool:
        reset = self.station.reset
        if reset is None or not self.station.idle:
            return False
        if self.station.outbox.head() is not None:
            return False  # the Ended events go first
        self.station.reset = None
        self._boot_reason = "RemoteReset"
        if self._ws is not None:
            await self._ws.close()
        return True
