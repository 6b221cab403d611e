"""The SECC driver: answers every -20 AC / AC_BPT request, consulting an :class:`EVSEController`.

One call of :func:`serve_secc_session` serves one connection: it pumps the sans-I/O core, and for each
``RequestReceived`` builds the response (rules in this module and :mod:`iso15118.session.services`,
decisions from the controller), validates what the EV asked, and answers FAILED codes where the standard
names them. Paused sessions are kept in a :class:`SessionStore` so an EV can resume by its SessionID.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from iso15118.controller import EVSEController, PowerDeliveryRequest, SessionReport
from iso15118.messages import iso20 as m
from iso15118.messages.app_protocol import ResponseCode as SapCode
from iso15118.messages.app_protocol import supportedAppProtocolRes
from iso15118.messages.units import rational, value_of
from iso15118.session.connection import Connection, Role, SessionConfig
from iso15118.session.events import Event, RequestReceived, SessionEnded, SessionEstablished
from iso15118.session.failures import failure_response
from iso15118.session.schedules import flat_price_levels, single_level_tuple
from iso15118.session.services import AC_BPT, ac_parameter_sets, loop_mode_field, loop_request_mode, select_protocol
from iso15118.transport.config import PRICING, SeccConfig
from iso15118.transport.driver import Clock, Observer, Pump, SessionOutcome
from iso15118.transport.link import Link
from iso15118.transport.secc_pnc import PncVerifier

__all__ = ["PRICING", "SeccConfig", "SessionStore", "serve_secc_session"]


@dataclass
class _Saved:
    evcc_id: str
    context: dict[str, Any]


class SessionStore:
    """Paused sessions by SessionID, so that an EV can resume [V2G20-2545]."""

    def __init__(self) -> None:
        self._paused: dict[bytes, _Saved] = {}

    def pause(self, session_id: bytes, evcc_id: str, context: dict[str, Any]) -> None:
        """Keep a paused session's negotiated parameters."""
        self._paused[session_id] = _Saved(evcc_id, dict(context))

    def resume(self, session_id: bytes, evcc_id: str) -> dict[str, Any] | None:
        """The context of a paused session of the same EV, removed from the store; None if unknown."""
        saved = self._paused.get(session_id)
        if saved is None or saved.evcc_id != evcc_id:
            return None
        del self._paused[session_id]
        return saved.context

    def __len__(self) -> int:
        return len(self._paused)


@dataclass
class _Context:
    """What this SECC remembers about the session being served."""

    evcc_id: str = ""
    service_id: int | None = None
    parameter_set: int | None = None
    control_mode: int | None = None
    authorization: str | None = None
    gen_challenge: bytes | None = None
    authorized: bool = False
    schedule_ids: tuple[int, ...] = ()
    discharge: bool = False
    loops: int = 0
    meter: list[dict[str, Any]] = field(default_factory=list)
    contract: Any = None


def _ok(code: str = "OK") -> m.ResponseCode:
    return m.ResponseCode(code)


class _Secc:
    def __init__(
        self,
        pump: Pump,
        controller: EVSEController,
        config: SeccConfig,
        store: SessionStore,
        pnc: PncVerifier | None,
        random: Callable[[int], bytes],
    ) -> None:
        self.pump = pump
        self.conn = pump.conn
        self.controller = controller
        self.config = config
        self.store = store
        self.pnc = pnc
        self.random = random
        self.ctx = _Context()
        self.negotiated: dict[str, Any] = {}

    # ---- dispatch --------------------------------------------------------------------------------------
    async def handle(self, event: Event) -> None:
        if isinstance(event, SessionEstablished):
            await self.controller.report(SessionReport(event="session_established", detail=event.session_id.hex()))
        elif isinstance(event, SessionEnded):
            await self.controller.report(SessionReport(event="session_ended", detail=f"{event.reason}: {event.detail}"))
        if not isinstance(event, RequestReceived):
            return
        req = event.message
        kind = type(req).__name__
        now = self.pump.clock()
        handler = getattr(self, f"on_{kind}", None)
        if handler is None:
            response = failure_response(req, "FAILED_SequenceError", self.conn.header(now))
        else:
            response = await handler(req, now)
        await self.pump.send(response, stream=event.stream)

    def header(self, now: float) -> m.MessageHeader:
        return self.conn.header(now)

    def fail(self, req: Any, code: str, now: float) -> Any:
        return failure_response(req, code, self.header(now))

    # ---- handshake and set-up --------------------------------------------------------------------------
    async def on_supportedAppProtocolReq(self, req: Any, now: float) -> Any:
        chosen = select_protocol(req.app_protocol, self.config.protocols)
        if chosen is None:
            return supportedAppProtocolRes(response_code=SapCode.Failed_NoNegotiation)
        offer, namespace = chosen
        self.negotiated["protocol"] = namespace
        # -20: never OK_SuccessfulNegotiationWithMinorDeviation, even when the minor version differs [V2G20-1089].
        return supportedAppProtocolRes(response_code=SapCode.OK_SuccessfulNegotiation, schema_id=offer.schema_id)

    async def on_SessionSetupReq(self, req: m.SessionSetupReq, now: float) -> Any:
        self.ctx.evcc_id = req.evcc_id
        if req.header.session_id != bytes(8):
            saved = self.store.resume(req.header.session_id, req.evcc_id)
            if saved is not None:
                # The same EV resumes its paused session [V2G20-2545].
                # Negotiated parameters carry over; counters start afresh for this connection.
                self.ctx = _Context(**saved | {"loops": 0, "meter": []})
                self.negotiated.update(
                    service_id=self.ctx.service_id,
                    parameter_set=self.ctx.parameter_set,
                    control_mode="dynamic" if self.ctx.control_mode == 2 else "scheduled",
                    authorization=self.ctx.authorization,
                    resumed=True,
                )
                header = m.MessageHeader(session_id=req.header.session_id, time_stamp=int(now))
                return m.SessionSetupRes(
                    header=header, response_code=_ok("OK_OldSessionJoined"), evse_id=self.config.evse_id
                )
        # A fresh SessionID from a CSPRNG (64 bits >= the 58 bits of entropy required) [V2G20-2621].
        session_id = self.random(8)
        while session_id == bytes(8):
            session_id = self.random(8)
        header = m.MessageHeader(session_id=session_id, time_stamp=int(now))
        return m.SessionSetupRes(
            header=header, response_code=_ok("OK_NewSessionEstablished"), evse_id=self.config.evse_id
        )

    async def on_AuthorizationSetupReq(self, req: Any, now: float) -> Any:
        services = tuple(m.Authorization(a) for a in self.config.authorization)
        if "PnC" in self.config.authorization:
            # 16 bytes from a CSPRNG [V2G20-697/698]; checked again in AuthorizationReq.
            self.ctx.gen_challenge = self.random(16)
            mode: dict[str, Any] = {
                "pnc_as_res_authorization_mode": m.PnC_ASResAuthorizationMode(gen_challenge=self.ctx.gen_challenge)
            }
        else:
            mode = {"eim_as_res_authorization_mode": m.EIM_ASResAuthorizationMode()}
        return m.AuthorizationSetupRes(
            header=self.header(now),
            response_code=_ok(),
            authorization_services=services,
            certificate_installation_service=self.config.certificate_installation,
            **mode,
        )

    async def on_AuthorizationReq(self, req: m.AuthorizationReq, now: float) -> Any:
        selected = str(req.selected_authorization_service)
        if selected not in self.config.authorization:
            return m.AuthorizationRes(
                header=self.header(now),
                response_code=_ok("WARNING_AuthorizationSelectionInvalid"),
                evse_processing=m.Processing.Finished,
            )
        emaid: str | None = None
        if selected == "PnC":
            verdict = self.check_pnc(req, now)
            if verdict is not None:
                if verdict.startswith("FAILED"):
                    return self.fail(req, verdict, now)
                return m.AuthorizationRes(
                    header=self.header(now), response_code=_ok(verdict), evse_processing=m.Processing.Finished
                )
            emaid = self.ctx.contract.emaid if self.ctx.contract else None
        decision = await self.controller.authorize(self.ctx.evcc_id, emaid, now)
        self.ctx.authorization = selected
        self.negotiated["authorization"] = selected
        if decision == "pending":
            return m.AuthorizationRes(
                header=self.header(now), response_code=_ok(), evse_processing=m.Processing.Ongoing
            )
        if decision == "rejected":
            # The EV may try again [V2G20-2219/2230].
            code = "WARNING_EIMAuthorizationFailure" if selected == "EIM" else "WARNING_GeneralPnCAuthorizationError"
            return m.AuthorizationRes(
                header=self.header(now), response_code=_ok(code), evse_processing=m.Processing.Finished
            )
        self.ctx.authorized = True
        return m.AuthorizationRes(header=self.header(now), response_code=_ok(), evse_processing=m.Processing.Finished)

    def check_pnc(self, req: m.AuthorizationReq, now: float) -> str | None:
        """None when the PnC authorization verifies; otherwise the response code to send."""
        mode = req.pnc_a_req_authorization_mode
        if mode is None or self.ctx.gen_challenge is None or self.pnc is None:
            return "WARNING_GeneralPnCAuthorizationError"
        if mode.gen_challenge != self.ctx.gen_challenge:
            return "WARNING_ChallengeInvalid"
        outcome = self.pnc.verify_authorization(req, now)
        if outcome.code is not None:
            return outcome.code
        self.ctx.contract = outcome
        return None

    # ---- services --------------------------------------------------------------------------------------
    async def offered_services(self, now: float) -> tuple[int, ...]:
        limits = await self.controller.evse_limits(now)
        return tuple(s for s in self.config.services if s != AC_BPT or limits.bidirectional)

    async def on_ServiceDiscoveryReq(self, req: Any, now: float) -> Any:
        services = await self.offered_services(now)
        return m.ServiceDiscoveryRes(
            header=self.header(now),
            response_code=_ok(),
            service_renegotiation_supported=self.config.service_renegotiation,
            energy_transfer_service_list=m.ServiceList(
                service=tuple(m.Service(service_id=s, free_service=self.config.free_service) for s in services)
            ),
        )

    async def on_ServiceDetailReq(self, req: m.ServiceDetailReq, now: float) -> Any:
        if req.service_id not in await self.offered_services(now):
            return self.fail(req, "FAILED_ServiceIDInvalid", now)
        limits = await self.controller.evse_limits(now)
        params = ac_parameter_sets(
            req.service_id,
            control_modes=self.config.control_modes,
            three_phase=limits.three_phase,
            nominal_voltage=round(limits.nominal_voltage_v),
            bpt_channel=self.config.bpt_channel,
            generator_mode=self.config.generator_mode,
            islanding_detection=self.config.islanding_detection,
            pricing=PRICING[self.config.pricing],
        )
        return m.ServiceDetailRes(
            header=self.header(now), response_code=_ok(), service_id=req.service_id, service_parameter_list=params
        )

    async def on_ServiceSelectionReq(self, req: m.ServiceSelectionReq, now: float) -> Any:
        sel = req.selected_energy_transfer_service
        if sel.service_id not in await self.offered_services(now):
            return self.fail(req, "FAILED_ServiceIDInvalid", now)  # a service that was not offered
        if not 1 <= sel.parameter_set_id <= len(self.config.control_modes):
            return self.fail(req, "FAILED_ServiceSelectionInvalid", now)
        self.ctx.service_id = sel.service_id
        self.ctx.parameter_set = sel.parameter_set_id
        self.ctx.control_mode = self.config.control_modes[sel.parameter_set_id - 1]
        self.negotiated.update(
            service_id=sel.service_id,
            parameter_set=sel.parameter_set_id,
            control_mode="dynamic" if self.ctx.control_mode == 2 else "scheduled",
        )
        return m.ServiceSelectionRes(header=self.header(now), response_code=_ok())

    # ---- charge parameters and schedules ------------------------------------------------------------------
    def discharge_limit(self, value: float) -> m.RationalNumber:
        return rational(-value if self.config.negative_discharge_limits else value)

    async def on_AC_ChargeParameterDiscoveryReq(self, req: m.AC_ChargeParameterDiscoveryReq, now: float) -> Any:
        bpt = req.bpt_ac_cpd_req_energy_transfer_mode
        plain = req.ac_cpd_req_energy_transfer_mode
        if (self.ctx.service_id == AC_BPT) != (bpt is not None) or (bpt is None and plain is None):
            # The BPT element iff AC_BPT was selected.
            return self.fail(req, "FAILED_WrongChargeParameter", now)
        mode = bpt or plain
        assert mode is not None
        limits = await self.controller.evse_limits(now)
        if value_of(mode.ev_minimum_charge_power) > limits.max_charge_w:
            return self.fail(req, "FAILED_WrongChargeParameter", now)
        common = {
            "evse_maximum_charge_power": rational(limits.max_charge_w),
            "evse_minimum_charge_power": rational(limits.min_charge_w),
            "evse_nominal_frequency": rational(limits.nominal_frequency_hz),
        }
        if bpt is not None:
            return m.AC_ChargeParameterDiscoveryRes(
                header=self.header(now),
                response_code=_ok(),
                bpt_ac_cpd_res_energy_transfer_mode=m.BPT_AC_CPDResEnergyTransferMode(
                    **common,
                    evse_maximum_discharge_power=self.discharge_limit(limits.max_discharge_w),
                    evse_minimum_discharge_power=self.discharge_limit(limits.min_discharge_w),
                ),
            )
        return m.AC_ChargeParameterDiscoveryRes(
            header=self.header(now),
            response_code=_ok(),
            ac_cpd_res_energy_transfer_mode=m.AC_CPDResEnergyTransferMode(**common),
        )

    async def on_ScheduleExchangeReq(self, req: m.ScheduleExchangeReq, now: float) -> Any:
        dynamic = self.ctx.control_mode == 2
        if (req.dynamic_se_req_control_mode is not None) != dynamic:
            # The control mode must be the one selected in ServiceSelection.
            return self.fail(req, "FAILED_WrongChargeParameter", now)
        price_levels = PRICING[self.config.pricing] == 2
        if dynamic:
            prices = flat_price_levels(int(now), self.config.schedule_duration_s) if price_levels else None
            return m.ScheduleExchangeRes(
                header=self.header(now),
                response_code=_ok(),
                evse_processing=m.Processing.Finished,
                dynamic_se_res_control_mode=m.Dynamic_SEResControlMode(price_level_schedule=prices),
            )
        limits = await self.controller.evse_limits(now)
        discharge_w = limits.max_discharge_w if self.ctx.service_id == AC_BPT else None
        tuple_ = single_level_tuple(
            1,
            int(now),
            self.config.schedule_duration_s,
            limits.max_charge_w,
            discharge_w,
            price_levels=price_levels,
        )
        self.ctx.schedule_ids = (tuple_.schedule_tuple_id,)
        return m.ScheduleExchangeRes(
            header=self.header(now),
            response_code=_ok(),
            evse_processing=m.Processing.Finished,
            scheduled_se_res_control_mode=m.Scheduled_SEResControlMode(schedule_tuple=(tuple_,)),
        )

    # ---- power delivery and the charge loop -----------------------------------------------------------
    async def on_PowerDeliveryReq(self, req: m.PowerDeliveryReq, now: float) -> Any:
        ok = m.PowerDeliveryRes(header=self.header(now), response_code=_ok())
        if str(req.ev_processing) == "Ongoing":
            return ok  # the EV is still computing its power profile [V2G20-1436]
        progress = str(req.charge_progress)
        discharge = str(req.bpt_channel_selection or "") == "Discharge"
        if discharge and self.ctx.service_id != AC_BPT:
            # Discharge needs the bidirectional service.
            return self.fail(req, "FAILED_WrongChargeParameter", now)
        if progress == "ScheduleRenegotiation":
            return ok  # side-stream renegotiation: the new schedule applies from now on [V2G20-2317]
        if progress == "Start" and self.ctx.control_mode == 1:
            profile = req.ev_power_profile
            mode = profile.scheduled_evppt_control_mode if profile else None
            if mode is None or mode.selected_schedule_tuple_id not in self.ctx.schedule_ids:
                return self.fail(req, "FAILED_ScheduleSelectionInvalid", now)
        if progress == "Standby" and not self.config.standby_allowed:
            return m.PowerDeliveryRes(header=self.header(now), response_code=_ok("WARNING_StandbyNotAllowed"))
        if not await self.controller.power_delivery(PowerDeliveryRequest(progress=progress, discharge=discharge), now):
            return self.fail(req, "FAILED_ContactorError", now)
        self.ctx.discharge = discharge
        if progress == "Start":
            self.negotiated["bpt_channel"] = "Discharge" if discharge else "Charge"
        return ok

    async def on_AC_ChargeLoopReq(self, req: m.AC_ChargeLoopReq, now: float) -> Any:
        found = loop_request_mode(req)
        if found is None:
            return self.fail(req, "FAILED_WrongChargeParameter", now)
        bpt, dynamic, element = found
        if bpt != (self.ctx.service_id == AC_BPT) or dynamic != (self.ctx.control_mode == 2):
            # The control mode element must match the selected service and control mode.
            return self.fail(req, "FAILED_WrongChargeParameter", now)
        present = value_of(element.ev_present_active_power)
        ev_state = {"present_power_w": present}
        for name in (
            "ev_target_energy_request",
            "ev_maximum_energy_request",
            "ev_minimum_energy_request",
            "ev_maximum_charge_power",
            "ev_maximum_discharge_power",
        ):
            value = getattr(element, name, None)
            if value is not None:
                ev_state[name] = value_of(value)
        command = await self.controller.charge_loop(present, ev_state, now)
        self.ctx.loops += 1
        target = command.target_power_w
        fields: dict[str, Any] = {}
        if dynamic:
            fields["evse_target_active_power"] = rational(target if target is not None else 0.0)
        elif target is not None:
            fields["evse_target_active_power"] = rational(target)
        mode_cls = type(element).__name__.replace("CLReq", "CLRes")
        mode_obj = getattr(m, mode_cls)(**fields)
        extra: dict[str, Any] = {}
        if req.meter_info_requested:
            reading = await self.controller.meter(now)
            extra["meter_info"] = m.MeterInfo(
                meter_id=reading.meter_id,
                charged_energy_reading_wh=reading.charged_wh,
                bpt_discharged_energy_reading_wh=reading.discharged_wh if bpt else None,
                meter_timestamp=reading.timestamp,
                meter_signature=reading.signature,
            )
            self.ctx.meter.append({"at": now, "charged_wh": reading.charged_wh, "discharged_wh": reading.discharged_wh})
        if command.notification is not None:
            extra["evse_status"] = m.EVSEStatus(
                notification_max_delay=command.notification_max_delay_s,
                evse_notification=m.EvseNotification(str(command.notification)),
            )
        if command.frequency_hz is not None:
            extra["evse_target_frequency"] = rational(command.frequency_hz)
        return m.AC_ChargeLoopRes(
            header=self.header(now),
            response_code=_ok(),
            **{loop_mode_field(bpt, dynamic, response=True): mode_obj},
            **extra,
        )

    async def on_MeteringConfirmationReq(self, req: m.MeteringConfirmationReq, now: float) -> Any:
        # PnC only [V2G20-2704]: the EV signs the metering data with its contract key.
        contract = self.ctx.contract
        if self.pnc is None or contract is None:
            return self.fail(req, "FAILED_MeteringSignatureNotValid", now)
        outcome = self.pnc.verify_metering(req, contract.chain, now)
        if outcome.code is not None:
            return self.fail(req, outcome.code, now)
        return m.MeteringConfirmationRes(header=self.header(now), response_code=_ok())

    async def on_SessionStopReq(self, req: m.SessionStopReq, now: float) -> Any:
        how = str(req.charging_session)
        if how == "Pause":
            if not self.config.pause_allowed:
                return self.fail(req, "FAILED_PauseNotAllowed", now)
            self.store.pause(self.conn.session_id, self.ctx.evcc_id, dataclasses.asdict(self.ctx) | {"contract": None})
        elif how == "ServiceRenegotiation" and not self.config.service_renegotiation:
            return self.fail(req, "FAILED_NoServiceRenegotiationSupported", now)
        await self.controller.report(SessionReport(event="session_stop", detail=how))
        return m.SessionStopRes(header=self.header(now), response_code=_ok())


async def serve_secc_session(
    link: Link,
    controller: EVSEController,
    config: SeccConfig | None = None,
    *,
    store: SessionStore | None = None,
    pnc: PncVerifier | None = None,
    session_config: SessionConfig | None = None,
    clock: Clock = time.time,
    observers: Sequence[Observer] = (),
    random: Callable[[int], bytes] = os.urandom,
) -> SessionOutcome:
    """Serve one connection as the SECC until the session ends and the connection closes."""
    conn = Connection(Role.SECC, now=clock(), config=session_config)
    pump = Pump(conn, link, clock=clock, observers=observers)
    store = store if store is not None else SessionStore()  # an empty store is falsy
    secc = _Secc(pump, controller, config or SeccConfig(), store, pnc, random)
    ended = await pump.run(secc.handle)
    return SessionOutcome(
        ended=ended,
        session_id=conn.session_id,
        negotiated=dict(secc.negotiated),
        meter_readings=tuple(secc.ctx.meter),
        loops=secc.ctx.loops,
    )
