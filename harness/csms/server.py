"""The reference CSMS: an OCPP 2.0.1 / 2.1 server built on the PyPI ``ocpp`` package, for demos and tests.

Each charging station connects to ``ws://HOST:PORT/STATION_ID`` (subprotocol ``ocpp2.0.1`` or ``ocpp2.1``,
optionally HTTP Basic authentication with the station's identity as the user name). Its messages are handled by an
``ocpp`` ``ChargePoint`` with schema validation on (a payload its schema refuses is answered with a CALLERROR), and
recorded in SQLite (:mod:`harness.csms.records`) -- every frame with its own validation verdict, every
TransactionEvent once.

What it answers:

* BootNotification Accepted (heartbeat ``heartbeat_s``), Heartbeat, StatusNotification, NotifyEVChargingNeeds;
* Authorize: Accepted unless the idToken is blocked, or the contract certificate it names is revoked
  (``certificateStatus`` CertificateRevoked);
* TransactionEvent: recorded once per (transactionId, seqNo); a Started one on a 2.1 station gets the grid-support
  dispatch (:mod:`harness.csms.grid`) as a TxProfile;
* Get15118EVCertificate: the EXI request handed to the local CPS (:class:`~iso15118.security.provider.LocalCps`),
  its EXI response returned;
* GetCertificateStatus: a signed OCSP answer from :class:`~harness.csms.ocsp.OcspResponder`.

:meth:`ReferenceCsms.request` sends a station any request (validated), :meth:`ReferenceCsms.send_raw` any text.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import itertools
import json
import logging
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TypeVar

from ocpp.charge_point import ChargePoint
from ocpp.exceptions import OCPPError
from ocpp.messages import Call, MessageType, _validate_payload, unpack, validate_payload
from ocpp.routing import after as _untyped_after
from ocpp.routing import on as _untyped_on
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v201 import ChargePoint as ChargePoint201
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from harness.csms.grid import GridDispatch
from harness.csms.ocsp import OcspResponder
from harness.csms.records import CsmsRecords
from iso15118.backend.profiles import parse_time
from iso15118.backend.transactions import timestamp
from iso15118.certificates import CertificateAction, CertificateRequest, CertificateStatus
from iso15118.errors import BackendError
from iso15118.security.provider import LocalCps

__all__ = ["CsmsSettings", "ReferenceCsms"]

log = logging.getLogger(__name__)

_CHARGE_POINTS: dict[str, type[ChargePoint]] = {"ocpp2.0.1": ChargePoint201, "ocpp2.1": ChargePoint21}
_F = TypeVar("_F", bound=Callable[..., Any])


def on(action: str) -> Callable[[_F], _F]:
    """``ocpp.routing.on``, typed: marks the handler of a CALL from the station."""
    decorator: Callable[[_F], _F] = _untyped_on(action)
    return decorator


def after(action: str) -> Callable[[_F], _F]:
    """``ocpp.routing.after``, typed: runs after the CALLRESULT to ``action`` went out."""
    decorator: Callable[[_F], _F] = _untyped_after(action)
    return decorator


@dataclass(frozen=True, slots=True, kw_only=True)
class CsmsSettings:
    """How the reference CSMS listens and answers."""

    host: str = "::1"
    port: int = 0
    heartbeat_s: int = 300
    passwords: dict[str, str] | None = None
    """Station identity -> Basic-auth password; None accepts any station without authentication."""
    ssl_context: ssl.SSLContext | None = None
    cps: LocalCps | None = None
    ocsp: OcspResponder | None = None
    blocked_tokens: frozenset[str] = frozenset()
    grid_events: tuple[GridDispatch, ...] = ()
    response_timeout_s: float = 30.0


@dataclass
class _Session:
    point: ChargePoint
    version: str
    booted: asyncio.Event = field(default_factory=asyncio.Event)


class _Handlers:
    """The CSMS side of the messages a station sends (mixed into the ``ocpp`` ChargePoint of its version)."""

    csms: ReferenceCsms
    id: str
    _call_result: Any
    _raw: dict[str, Any]

    @on("BootNotification")
    def on_boot(self, **kwargs: Any) -> Any:
        return self._call_result.BootNotification(
            current_time=timestamp(dt.datetime.now(dt.UTC).timestamp()),
            interval=self.csms.settings.heartbeat_s,
            status="Accepted",
        )

    @after("BootNotification")
    def after_boot(self, **kwargs: Any) -> None:
        session = self.csms.stations.get(self.id)
        if session is not None:
            session.booted.set()

    @on("Heartbeat")
    def on_heartbeat(self, **kwargs: Any) -> Any:
        return self._call_result.Heartbeat(current_time=timestamp(dt.datetime.now(dt.UTC).timestamp()))

    @on("StatusNotification")
    def on_status(self, **kwargs: Any) -> Any:
        return self._call_result.StatusNotification()

    @on("NotifyEVChargingNeeds")
    def on_needs(self, **kwargs: Any) -> Any:
        return self._call_result.NotifyEVChargingNeeds(status="Accepted")

    @on("Authorize")
    def on_authorize(self, **kwargs: Any) -> Any:
        raw = self._raw
        token = str(raw["idToken"]["idToken"])
        status, certificate = "Accepted", None
        if token in self.csms.settings.blocked_tokens:
            status = "Blocked"
        hashed = raw.get("iso15118CertificateHashData") or []
        if hashed:
            certificate = "Accepted"
            ocsp = self.csms.settings.ocsp
            if ocsp is not None and any(int(h["serialNumber"], 16) in ocsp.revoked for h in hashed):
                status, certificate = "Invalid", "CertificateRevoked"
        return self._call_result.Authorize(id_token_info={"status": status}, certificate_status=certificate)

    @on("TransactionEvent")
    def on_transaction_event(self, **kwargs: Any) -> Any:
        return self._call_result.TransactionEvent()

    @after("TransactionEvent")
    async def after_transaction_event(self, **kwargs: Any) -> None:
        if kwargs.get("event_type") != "Started" or not self.csms.settings.grid_events:
            return
        if self.csms.stations[self.id].version != "ocpp2.1":
            log.info("CSMS: %s speaks OCPP 2.0.1, which has no discharge: no grid-support dispatch", self.id)
            return
        started = parse_time(str(kwargs["timestamp"]))
        transaction_id = str(kwargs["transaction_info"]["transaction_id"])
        evse_id = int((kwargs.get("evse") or {}).get("id", 1))
        for dispatch in self.csms.settings.grid_events:
            profile = dispatch.profile(started, transaction_id, next(self.csms.profile_ids))
            payload = {"evseId": evse_id, "chargingProfile": profile}
            try:
                await self.csms.request(self.id, "SetChargingProfile", payload)
            except (BackendError, OCPPError, TimeoutError, ConnectionClosed, KeyError) as exc:
                log.warning("CSMS: grid-support dispatch to %s failed: %s", self.id, exc)

    @on("Get15118EVCertificate")
    def on_get_certificate(self, **kwargs: Any) -> Any:
        raw = self._raw
        cps = self.csms.settings.cps
        if cps is None:
            return self._call_result.Get15118EVCertificate(
                status="Failed", exi_response="", status_info={"reasonCode": "NoCPS"}
            )
        request = CertificateRequest(
            namespace=str(raw["iso15118SchemaVersion"]),
            exi=base64.b64decode(str(raw["exiRequest"])),
            action=CertificateAction(str(raw["action"])),
        )
        got = cps.answer(request, dt.datetime.now(dt.UTC).timestamp())
        if got.status is CertificateStatus.PROVIDED and got.exi is not None:
            exi = base64.b64encode(got.exi).decode("ascii")
            return self._call_result.Get15118EVCertificate(status="Accepted", exi_response=exi)
        info = {"reasonCode": (got.response_code or got.status.value)[:20], "additionalInfo": got.detail[:512]}
        return self._call_result.Get15118EVCertificate(status="Failed", exi_response="", status_info=info)

    @on("GetCertificateStatus")
    def on_certificate_status(self, **kwargs: Any) -> Any:
        ocsp = self.csms.settings.ocsp
        answer = ocsp.status(self._raw["ocspRequestData"]) if ocsp is not None else None
        if answer is None:
            return self._call_result.GetCertificateStatus(status="Failed", status_info={"reasonCode": "UnknownCA"})
        return self._call_result.GetCertificateStatus(status="Accepted", ocsp_result=answer)


def _point_class(subprotocol: str) -> type[ChargePoint]:
    base = _CHARGE_POINTS[subprotocol]

    class Point(_Handlers, base):  # type: ignore[valid-type, misc]  # ocpp is untyped
        _raw: dict[str, Any] = {}  # noqa: RUF012 -- replaced by each CALL before its handler runs

        async def route_message(self, raw_msg: str) -> None:
            self.csms.note_frame(self.id, "in", raw_msg, self._ocpp_version)
            with contextlib.suppress(OCPPError):
                msg = unpack(raw_msg)
                if msg.message_type_id == MessageType.Call:
                    self._raw = dict(msg.payload) if isinstance(msg.payload, dict) else {}
            await super().route_message(raw_msg)

        async def _send(self, message: str) -> None:
            self.csms.note_frame(self.id, "out", message, self._ocpp_version)
            await super()._send(message)

    return Point


class ReferenceCsms:
    """The reference CSMS (see the module docstring). ``async with ReferenceCsms(...)`` listens."""

    def __init__(self, settings: CsmsSettings | None = None, records: CsmsRecords | None = None) -> None:
        self.settings = settings or CsmsSettings()
        self.records = records or CsmsRecords()
        self.stations: dict[str, _Session] = {}
        self.profile_ids = itertools.count(1)
        self._server: Server | None = None
        self.port = self.settings.port

    # ---- life cycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen (on the port of the previous start after a stop, so stations find it again)."""
        self._server = await serve(
            self._connection,
            self.settings.host,
            self.port,
            subprotocols=[Subprotocol(p) for p in _CHARGE_POINTS],
            process_request=self._authenticate,
            ssl=self.settings.ssl_context,
            ping_interval=None,
        )
        self.port = int(next(iter(self._server.sockets)).getsockname()[1])

    async def stop(self) -> None:
        """Stop listening and close every station's connection (the records stay)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self.stations.clear()

    async def __aenter__(self) -> ReferenceCsms:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def url(self, station_id: str) -> str:
        """The URL a station with this identity connects to."""
        scheme = "wss" if self.settings.ssl_context is not None else "ws"
        host = f"[{self.settings.host}]" if ":" in self.settings.host else self.settings.host
        return f"{scheme}://{host}:{self.port}/{station_id}"

    # ---- connections --------------------------------------------------------------------------------
    def _authenticate(self, connection: ServerConnection, request: Request) -> Response | None:
        passwords = self.settings.passwords
        if passwords is None:
            return None
        station = request.path.rstrip("/").rsplit("/", 1)[-1]
        header = request.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{station}:{passwords.get(station, '')}".encode()).decode()
        if station in passwords and header == expected:
            return None
        return connection.respond(HTTPStatus.UNAUTHORIZED, "unknown station or wrong password\n")

    async def _connection(self, ws: ServerConnection) -> None:
        station = ws.request.path.rstrip("/").rsplit("/", 1)[-1] if ws.request is not None else ""
        version = ws.subprotocol or ""
        if not station or version not in _CHARGE_POINTS:
            await ws.close(1002, "a station identity and an OCPP 2.0.1 or 2.1 subprotocol are needed")
            return
        point = _point_class(version)(station, ws, response_timeout=self.settings.response_timeout_s)
        point.csms = self
        self.stations[station] = _Session(point=point, version=version)
        try:
            await point.start()
        except ConnectionClosed:
            pass
        finally:
            if self.stations.get(station) is not None and self.stations[station].point is point:
                del self.stations[station]

    def note_frame(self, station: str, direction: str, text: str, version: str) -> None:
        """Record one frame; a received CALL or CALLRESULT with its schema verdict, a TransactionEvent once."""
        kind = unique_id = action = error = None
        valid: bool | None = None
        try:
            frame = json.loads(text)
            kind, unique_id = int(frame[0]), str(frame[1])
            if kind == MessageType.Call:
                action = str(frame[2])
        except (ValueError, TypeError, IndexError, KeyError):
            pass
        if direction == "in" and kind == MessageType.Call and action is not None:
            try:
                _validate_payload(Call(unique_id, action, frame[3]), version)
                valid = True
            except Exception as exc:
                valid, error = False, str(exc)
            if valid and action == "TransactionEvent":
                self.records.transaction_event(station, frame[3])
        self.records.frame(
            station, direction, text, kind=kind, unique_id=unique_id, action=action, valid=valid, error=error
        )

    # ---- what the operator (or a test) does ---------------------------------------------------------
    async def wait_station(self, station_id: str, timeout: float = 10.0) -> None:
        """Wait until ``station_id`` is connected and has booted."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while station_id not in self.stations:
            if loop.time() > deadline:
                raise BackendError(f"station {station_id} did not connect within {timeout:g} s")
            await asyncio.sleep(0.02)
        await asyncio.wait_for(self.stations[station_id].booted.wait(), max(0.0, deadline - loop.time()))

    async def request(self, station_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a (schema-valid) request to a station and return its CALLRESULT payload."""
        session = self.stations.get(station_id)
        if session is None:
            raise BackendError(f"station {station_id} is not connected")
        point = session.point
        call = Call(str(uuid.uuid4()), action, payload)
        await validate_payload(call, point._ocpp_version)
        async with point._call_lock:
            await point._send(call.to_json())
            response = await point._get_specific_response(call.unique_id, self.settings.response_timeout_s)
        if response.message_type_id == MessageType.CallError:
            raise BackendError(f"{station_id} answered {action} with CALLERROR {response.error_code}")
        response.action = action
        await validate_payload(response, point._ocpp_version)
        result: dict[str, Any] = response.payload
        return result

    async def send_raw(self, station_id: str, text: str, answer_id: str) -> Any:
        """Send any text to a station and return its answer (a CallResult or CallError) with ``answer_id``."""
        point = self.stations[station_id].point
        async with point._call_lock:
            await point._send(text)
            return await point._get_specific_response(answer_id, self.settings.response_timeout_s)
