"""The seam between the SECC's sessions and the CSMS: a controller that consults the backend.

The SECC's decisions reach the charger only through its controller
(:class:`~iso15118.controller.EVSEController`). :meth:`Backend.controller` wraps the charger's own controller
in one that also speaks for the CSMS:

==========================  =========================================================================================
controller call             what the backend adds
==========================  =========================================================================================
``report`` (established)    the session takes an EVSE (StatusNotification Occupied)
``authorize``               the charger decides first; then OCSP of the contract certificate (GetCertificateStatus)
                            and Authorize (EIM idToken, or eMAID with the certificate hash data); a RequestStart-
                            Transaction authorizes the next EIM session of its EVSE. Until the CSMS answers
                            (``answer_within_s``) the EV hears Ongoing; with the CSMS unreachable, what the SECC
                            verified is accepted (``offline_authorization``). Accepted starts the transaction.
``evse_limits``             capped by the charging profiles now (so is the Scheduled-mode schedule built on them)
``charge_loop``             a CentralSetpoint profile sets the Dynamic-mode target (negative: discharge), other
                            profiles bound it; every step's meter reading and power feed the periodic meter values;
                            a stop asked by the CSMS (or a reset) notifies the EV Terminate
``power_delivery``          Start / Stop: TransactionEvent Updated (ChargingStateChanged)
``report`` (ended)          TransactionEvent Ended with the stop's reason and the final meter reading
``provide_certificate``     Get15118EVCertificate through the CSMS (EXI in, EXI out), else the local provider
==========================  =========================================================================================

The wrapper keeps the charger's DC output when it has one (:class:`DCStationController`). Time comes from the
backend's clock (the station's: POSIX time, or the bench's simulated clock), not from the runner's ``now``.
The CSMS is reached through a :class:`Port` (the WebSocket link implements it); nothing here does I/O itself.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from cryptography import x509

from iso15118.backend.authorization import (
    OcspVerdict,
    authorize_request,
    decision_of,
    eim_token,
    ocsp_request_data,
    ocsp_verdict,
)
from iso15118.backend.observer import BackendObserver
from iso15118.backend.rpc import OcppVersion
from iso15118.backend.station import Station, Transaction
from iso15118.backend.transactions import MeterSample, StopReason
from iso15118.certificates import CertificateAnswer, CertificateProvider, CertificateRequest, CertificateStatus
from iso15118.controller import (
    AuthorizationDecision,
    DCCommand,
    DCEVSEController,
    DCLimits,
    DCLoopRequest,
    DCOutput,
    EvseCommand,
    EVSEController,
    EVSELimits,
    IsolationCheck,
    MeterReading,
    Notification,
    PowerDeliveryRequest,
    SessionReport,
)
from iso15118.errors import BackendError, V2GError

__all__ = ["Backend", "DCStationController", "Port", "StationController"]

log = logging.getLogger(__name__)

_Command = TypeVar("_Command", EvseCommand, DCCommand)
"""An AC or a DC charge-loop command: both carry a target power and a notification."""


class Port(Protocol):
    """The CSMS as the backend's adapters reach it (:class:`~iso15118.transport.ocpp_link.OcppLink`)."""

    @property
    def online(self) -> bool:
        """True while the CSMS is connected and has accepted the station."""
        ...

    async def ask(self, key: str, action: str, payload: dict[str, Any], wait_s: float) -> dict[str, Any] | None:
        """Send the request ``key`` names (once) and wait up to ``wait_s`` for its CALLRESULT payload.

        None: not answered yet (ask again with the same key). Raises BackendError when the CSMS is unreachable
        or answered with a CALLERROR. An answer is handed out once; the next ask with the key sends anew.
        """
        ...


class Backend:
    """The station, its link to the CSMS and its clock: makes the session controllers and the observer."""

    def __init__(
        self,
        station: Station,
        port: Port,
        clock: Callable[[], float],
        *,
        certificates: CertificateProvider | None = None,
    ) -> None:
        self.station = station
        self.port = port
        self.clock = clock
        self.certificates = certificates
        """Answers certificate requests when the CSMS cannot (the local CPS), if any."""
        self.observer = BackendObserver(station, clock)
        """Add it to the SECC's observers: it reads what the EV tells (needs, SoC, contract chain)."""

    def controller(self, inner: EVSEController) -> StationController:
        """``inner`` wrapped so that the CSMS takes part (DC output kept when ``inner`` has one)."""
        if isinstance(inner, DCEVSEController):
            return DCStationController(self, inner)
        return StationController(self, inner)

    async def authorize(self, tx: Transaction, evcc_id: str, emaid: str | None) -> AuthorizationDecision:
        """Ask the CSMS about an EV the charger accepts (see the module docstring)."""
        station, config = self.station, self.station.config
        remote = station.remote_starts.get(tx.evse_id)
        if emaid is None and remote is not None:
            station.start(tx, remote[0], self.clock())
            return AuthorizationDecision.ACCEPTED
        token = eim_token(evcc_id, config.eim_card) if emaid is None else {"idToken": emaid[:36], "type": "eMAID"}
        chain = tuple(x509.load_der_x509_certificate(der) for der in tx.contract) if emaid is not None else ()
        if len(chain) >= 2:
            verdict = await self._ocsp(tx, chain)
            if verdict is None:
                return AuthorizationDecision.PENDING
            if verdict is OcspVerdict.REVOKED:
                return AuthorizationDecision.REVOKED
        try:
            reply = await self.port.ask(
                f"{tx.key}:Authorize", "Authorize", authorize_request(token, chain), config.answer_within_s
            )
        except BackendError:
            if self.port.online or not config.offline_authorization:
                return AuthorizationDecision.REJECTED
            station.start(tx, token, self.clock())  # offline: what the SECC verified is accepted; flagged offline
            return AuthorizationDecision.ACCEPTED
        if reply is None:
            return AuthorizationDecision.PENDING
        decision = decision_of(reply)
        if decision is AuthorizationDecision.REVOKED and emaid is None:
            decision = AuthorizationDecision.REJECTED  # no contract to be revoked: an EIM refusal
        if decision is AuthorizationDecision.ACCEPTED:
            station.start(tx, token, self.clock())
        return decision

    async def _ocsp(self, tx: Transaction, chain: tuple[x509.Certificate, ...]) -> OcspVerdict | None:
        """The contract certificate's OCSP status through the CSMS (UNKNOWN when it cannot say); None: pending."""
        payload = {"ocspRequestData": ocsp_request_data(chain[0], chain[1])}
        try:
            reply = await self.port.ask(
                f"{tx.key}:GetCertificateStatus", "GetCertificateStatus", payload, self.station.config.answer_within_s
            )
        except BackendError:
            return OcspVerdict.UNKNOWN  # unreachable: the SECC's own verification stands
        if reply is None:
            return None
        if reply.get("status") != "Accepted" or "ocspResult" not in reply:
            return OcspVerdict.UNKNOWN
        try:
            return ocsp_verdict(reply["ocspResult"], chain[0], chain[1])
        except BackendError:
            return OcspVerdict.UNKNOWN

    async def certificate(self, request: CertificateRequest, now: float) -> CertificateAnswer:
        """The CSMS's Get15118EVCertificate answer, or the local provider's, or none."""
        if self.port.online:
            payload: dict[str, Any] = {
                "iso15118SchemaVersion": request.namespace,
                "action": request.action.value,
                "exiRequest": base64.b64encode(request.exi).decode("ascii"),
            }
            if self.station.config.version is OcppVersion.V21:
                if request.maximum_chains is not None:
                    payload["maximumContractCertificateChains"] = request.maximum_chains
                if request.prioritized_emaids:
                    payload["prioritizedEMAIDs"] = list(request.prioritized_emaids)
            key = "Get15118EVCertificate:" + hashlib.sha256(request.exi).hexdigest()
            try:
                wait = request.patience_s or self.station.config.answer_within_s
                reply = await self.port.ask(key, "Get15118EVCertificate", payload, wait)
            except BackendError as exc:
                reply = {"status": "Failed", "statusInfo": {"reasonCode": "Unreachable", "additionalInfo": str(exc)}}
            if reply is None:
                return CertificateAnswer(status=CertificateStatus.PENDING)
            if reply.get("status") == "Accepted" and reply.get("exiResponse"):
                return CertificateAnswer(
                    status=CertificateStatus.PROVIDED,
                    exi=base64.b64decode(reply["exiResponse"]),
                    remaining=reply.get("remainingContracts"),
                )
            info = reply.get("statusInfo", {})
            why = f"{info.get('reasonCode', '')} {info.get('additionalInfo', '')}"
            detail = f"the CSMS answered {reply.get('status')}: {why}"
            if self.certificates is None:
                return CertificateAnswer(status=CertificateStatus.FAILED, detail=detail.strip())
        if self.certificates is not None:
            return await self.certificates.provide_certificate(request, now)
        return CertificateAnswer(status=CertificateStatus.UNAVAILABLE, detail="the CSMS is unreachable")


class StationController:
    """An EVSE controller that also speaks for the CSMS (see the module docstring)."""

    def __init__(self, backend: Backend, inner: EVSEController) -> None:
        self.backend = backend
        self.inner = inner
        self.tx: Transaction | None = None
        self.stopping: StopReason | None = None

    @property
    def _station(self) -> Station:
        return self.backend.station

    async def _read_meter(self, now: float, power_w: float | None = None) -> MeterReading:
        reading = await self.inner.meter(now)
        if self.tx is not None:
            sample = MeterSample(imported_wh=reading.charged_wh, exported_wh=reading.discharged_wh, power_w=power_w)
            self._station.metered(self.tx, sample, self.backend.clock())
        return reading

    async def evse_limits(self, now: float) -> EVSELimits:
        limits = await self.inner.evse_limits(now)
        if self.tx is None:
            return limits
        self.tx.volts, self.tx.phases = limits.nominal_voltage_v, 3 if limits.three_phase else 1
        allowed = self._station.allowance(self.tx, self.backend.clock(), limits.nominal_voltage_v)
        return replace(
            limits,
            max_charge_w=min(limits.max_charge_w, _or_inf(allowed.charge_max_w)),
            max_discharge_w=min(limits.max_discharge_w, _or_inf(allowed.discharge_max_w)),
        )

    async def authorize(self, evcc_id: str, emaid: str | None, now: float) -> AuthorizationDecision:
        decision = await self.inner.authorize(evcc_id, emaid, now)
        if decision is not AuthorizationDecision.ACCEPTED or self.tx is None:
            return decision
        self.tx.evcc_id = evcc_id
        if not self.tx.started:
            await self._read_meter(now)
            decision = await self.backend.authorize(self.tx, evcc_id, emaid)
        return decision

    async def power_delivery(self, request: PowerDeliveryRequest, now: float) -> bool:
        done = await self.inner.power_delivery(request, now)
        if done and self.tx is not None and not self.tx.started and self.tx.resumed_token is not None:
            # A resumed session was authorized before its pause [V2G20-1032]: its transaction starts here.
            await self._read_meter(now)
            self._station.start(self.tx, self.tx.resumed_token, self.backend.clock())
        if done and self.tx is not None and request.progress in ("Start", "Stop"):
            await self._read_meter(now, 0.0 if request.progress == "Stop" else None)
            self._station.charging(self.tx, request.progress == "Start", self.backend.clock())
        return done

    def _steer(self, target: float | None, ev_state: dict[str, float]) -> float | None:
        """The profiles' setpoint or bounds applied to the charger's target, within what the EV reported."""
        if self.tx is None:
            return target
        allowed = self._station.allowance(self.tx, self.backend.clock(), self.tx.volts)
        if allowed.setpoint_w is not None:
            target = allowed.setpoint_w
        if target is None or not allowed.restricted:
            return target
        target = allowed.bound(target)
        if "ev_maximum_charge_power" in ev_state:
            target = min(target, abs(ev_state["ev_maximum_charge_power"]))
        target = max(target, -abs(ev_state.get("ev_maximum_discharge_power", 0.0)))
        return target

    def _steered(self, command: _Command, ev_state: dict[str, float]) -> _Command:
        """The charger's loop command with the CSMS's word in it: the profiles' target, and Terminate at once when
        the CSMS (or a reset) stopped the transaction and the charger itself notifies nothing [V2G20-1610]."""
        target = self._steer(command.target_power_w, ev_state)
        if self.tx is not None and self.tx.stop is not None and command.notification is None:
            return replace(
                command, target_power_w=target, notification=Notification.TERMINATE, notification_max_delay_s=0
            )
        return replace(command, target_power_w=target)

    async def charge_loop(self, ev_present_power_w: float, ev_state: dict[str, float], now: float) -> EvseCommand:
        command = await self.inner.charge_loop(ev_present_power_w, ev_state, now)
        await self._read_meter(now, ev_present_power_w)
        return self._steered(command, ev_state)

    async def meter(self, now: float) -> MeterReading:
        return await self._read_meter(now)

    async def report(self, report: SessionReport) -> None:
        await self.inner.report(report)
        t = self.backend.clock()
        if report.event == "session_established":
            self.tx = self._station.attach(report.detail, t)
        elif report.event == "session_stop":
            self.stopping = StopReason.EV
        elif report.event == "session_ended" and self.tx is not None:
            tx, self.tx = self.tx, None
            try:
                reading = await self.inner.meter(t)
                tx.meter = MeterSample(imported_wh=reading.charged_wh, exported_wh=reading.discharged_wh)
            except (V2GError, OSError) as exc:  # a meter that cannot be read now: the last reading stands
                log.warning("the final meter reading of session %s failed (%s); the last one is reported", tx.key, exc)
            tx.power_w = 0.0
            regular = report.detail.startswith(("terminated", "paused"))
            reason = self.stopping or (StopReason.EV if regular else StopReason.COMMUNICATION_LOST)
            self._station.end(tx, reason, t, paused=report.detail.startswith("paused"))

    async def provide_certificate(self, request: CertificateRequest, now: float) -> CertificateAnswer:
        return await self.backend.certificate(request, now)


class DCStationController(StationController):
    """:class:`StationController` over a charger with a DC output."""

    inner: DCEVSEController

    def __init__(self, backend: Backend, inner: DCEVSEController) -> None:
        super().__init__(backend, inner)
        self.inner = inner

    async def dc_limits(self, now: float) -> DCLimits:
        limits = await self.inner.dc_limits(now)
        if self.tx is None:
            return limits
        allowed = self._station.allowance(self.tx, self.backend.clock(), self.tx.volts)
        return replace(
            limits,
            max_charge_power_w=min(limits.max_charge_power_w, _or_inf(allowed.charge_max_w)),
            max_discharge_power_w=min(limits.max_discharge_power_w, _or_inf(allowed.discharge_max_w)),
        )

    async def cable_check(self, now: float) -> IsolationCheck:
        return await self.inner.cable_check(now)

    async def precharge(self, target_voltage_v: float, target_current_a: float, now: float) -> DCOutput:
        return await self.inner.precharge(target_voltage_v, target_current_a, now)

    async def dc_charge_loop(self, request: DCLoopRequest, now: float) -> DCCommand:
        command = await self.inner.dc_charge_loop(request, now)
        power = command.present_voltage_v * command.present_current_a
        await self._read_meter(now, power)
        ev_state = {} if request.max_charge_power_w is None else {"ev_maximum_charge_power": request.max_charge_power_w}
        if request.max_discharge_power_w is not None:
            ev_state["ev_maximum_discharge_power"] = request.max_discharge_power_w
        return self._steered(command, ev_state)

    async def welding_detection(self, now: float) -> DCOutput:
        return await self.inner.welding_detection(now)


def _or_inf(value: float | None) -> float:
    return math.inf if value is None else value
