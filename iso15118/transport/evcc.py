"""The EVCC driver: walks the -20 AC / AC_BPT sequence, consulting an :class:`EVController`.

After each response the driver builds the next request: SupportedAppProtocol, SessionSetup (new, or resuming
a paused session), authorization (EIM, or PnC with a signed contract authorization), service discovery,
detail and selection (AC_BPT when the EV is bidirectional and the EVSE offers it), charge parameters, the
schedule (Scheduled or Dynamic), PowerDelivery with the BPT channel, the charge loop (following the EVSE's
setpoint in Dynamic mode), the EVSE's notifications (Pause, Terminate, renegotiation, metering confirmation),
and the stop. A FAILED response or a timeout ends the session cleanly and the outcome says why.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from iso15118.controller import ChargeDirection, ControlMode, EVController, SessionReport
from iso15118.messages import iso20 as m
from iso15118.messages.app_protocol import AppProtocol, supportedAppProtocolReq
from iso15118.messages.units import rational
from iso15118.session.connection import Connection, Role, SessionConfig
from iso15118.session.events import Event, ResponseReceived, SessionEnded, SessionEstablished
from iso15118.session.schedules import Interval, allowed_power, intervals_of
from iso15118.session.services import AC, AC_BPT, loop_mode_field, loop_target_power, parse_parameter_set
from iso15118.session.states import Stream
from iso15118.transport.config import EvccConfig
from iso15118.transport.driver import Clock, Observer, Pump, SessionOutcome
from iso15118.transport.evcc_loop import discharge_limit, loop_control_mode
from iso15118.transport.evcc_pnc import signed_authorization, signed_metering
from iso15118.transport.link import Link

__all__ = ["EvccConfig", "run_evcc_session"]


@dataclass
class _Context:
    service_id: int = AC
    parameter_set: int | None = None
    dynamic: bool = True
    authorization: str = "EIM"
    gen_challenge: bytes | None = None
    schedule_tuple_id: int | None = None
    offered: tuple[int, ...] = ()
    loops: int = 0
    stopping: str | None = None
    """Set once the EV decided to stop: the SessionStop kind to send after PowerDelivery(Stop)."""
    renegotiated: bool = False
    service_renegotiations: int = 0
    refusals: int = 0
    confirmed: bool = False
    meter: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[str] = field(default_factory=list)
    target_w: float | None = None
    schedule: tuple[Interval, ...] = ()
    """Scheduled mode: the selected ScheduleTuple's entries in time (charging >= 0, discharging <= 0)."""


class _Evcc:
    def __init__(self, pump: Pump, controller: EVController, config: EvccConfig) -> None:
        self.pump = pump
        self.conn = pump.conn
        self.controller = controller
        self.config = config
        self.ctx = _Context(dynamic=config.control_mode is ControlMode.DYNAMIC, authorization=config.authorization)
        self.negotiated: dict[str, Any] = {}

    def header(self, now: float) -> m.MessageHeader:
        return self.conn.header(now)

    async def send(self, msg: Any, stream: Stream = Stream.MAIN) -> None:
        await self.pump.send(msg, stream=stream)

    async def start(self) -> None:
        offers = tuple(
            AppProtocol(protocol_namespace=ns, version_number_major=1, version_number_minor=0, schema_id=i, priority=i)
            for i, ns in enumerate(self.config.protocols, start=1)
        )
        await self.send(supportedAppProtocolReq(app_protocol=offers))

    async def handle(self, event: Event) -> None:
        if isinstance(event, SessionEstablished):
            await self.controller.report(SessionReport(event="session_established", detail=event.session_id.hex()))
            return
        if isinstance(event, SessionEnded):
            await self.controller.report(SessionReport(event="session_ended", detail=f"{event.reason}: {event.detail}"))
            return
        if not isinstance(event, ResponseReceived) or self.conn.ended is not None:
            return
        if event.stream is not Stream.MAIN:
            await self.on_side_response(event)
            return
        kind = type(event.message).__name__
        handler = getattr(self, f"after_{kind}", None)
        if handler is not None:
            await handler(event.message, event.request)

    # ---- set-up ------------------------------------------------------------------------------------------
    async def after_supportedAppProtocolRes(self, res: Any, req: Any) -> None:
        now = self.pump.clock()
        self.negotiated["protocol"] = self.conn.negotiated_namespace
        session_id = self.config.resume_session_id or bytes(8)
        header = m.MessageHeader(session_id=session_id, time_stamp=int(now))
        await self.send(m.SessionSetupReq(header=header, evcc_id=self.config.evcc_id))

    async def after_SessionSetupRes(self, res: m.SessionSetupRes, req: Any) -> None:
        now = self.pump.clock()
        self.negotiated["evse_id"] = res.evse_id
        if str(res.response_code) == "OK_OldSessionJoined":
            # A resumed session goes straight to the charge parameters [V2G20-1032], with the service and
            # control mode the paused session had negotiated [V2G20-2539].
            self.negotiated["resumed"] = True
            if self.config.resume_service_id is not None:
                self.ctx.service_id = self.config.resume_service_id
            self.negotiated.update(
                service_id=self.ctx.service_id, control_mode="dynamic" if self.ctx.dynamic else "scheduled"
            )
            await self.send_charge_parameters(now)
            return
        await self.send(m.AuthorizationSetupReq(header=self.header(now)))

    async def after_AuthorizationSetupRes(self, res: m.AuthorizationSetupRes, req: Any) -> None:
        offered = {str(a) for a in res.authorization_services}
        want = self.config.authorization
        if want == "PnC" and ("PnC" not in offered or res.pnc_as_res_authorization_mode is None):
            want = "EIM"
        if want not in offered:
            want = next(iter(sorted(offered)))
        self.ctx.authorization = want
        if res.pnc_as_res_authorization_mode is not None:
            self.ctx.gen_challenge = res.pnc_as_res_authorization_mode.gen_challenge
        self.negotiated["authorization"] = want
        await self.send_authorization()

    async def send_authorization(self) -> None:
        now = self.pump.clock()
        if self.ctx.authorization == "PnC":
            if self.config.credentials is None or self.ctx.gen_challenge is None:
                raise ValueError("PnC authorization needs contract credentials and a GenChallenge")
            msg = signed_authorization(self.header(now), self.ctx.gen_challenge, self.config.credentials)
        else:
            msg = m.AuthorizationReq(
                header=self.header(now),
                selected_authorization_service=m.Authorization.EIM,
                eim_a_req_authorization_mode=m.EIM_AReqAuthorizationMode(),
            )
        await self.send(msg)

    async def after_AuthorizationRes(self, res: m.AuthorizationRes, req: Any) -> None:
        if str(res.response_code).startswith("WARNING"):
            self.ctx.refusals += 1
            if self.ctx.refusals >= self.config.authorization_attempts:
                await self.stop_session(f"authorization refused {self.ctx.refusals} times ({res.response_code})")
                return
        if str(res.evse_processing) != "Finished" or not str(res.response_code).startswith("OK"):
            # Ongoing, or a WARNING the EV may retry after [V2G20-1582/2230]; the ongoing timer bounds this.
            await asyncio.sleep(self.config.authorization_retry_s)
            await self.send_authorization()
            return
        await self.send(m.ServiceDiscoveryReq(header=self.header(self.pump.clock())))

    async def after_ServiceDiscoveryRes(self, res: m.ServiceDiscoveryRes, req: Any) -> None:
        self.ctx.offered = tuple(s.service_id for s in res.energy_transfer_service_list.service)
        state = await self.controller.ev_state(self.pump.clock())
        wants_bpt = self.config.bidirectional and state.limits.bidirectional
        service = AC_BPT if wants_bpt and AC_BPT in self.ctx.offered else AC
        if service not in self.ctx.offered:
            await self.stop_session("no AC service offered")
            return
        self.ctx.service_id = service
        await self.send(m.ServiceDetailReq(header=self.header(self.pump.clock()), service_id=service))

    async def after_ServiceDetailRes(self, res: m.ServiceDetailRes, req: Any) -> None:
        sets = [parse_parameter_set(ps) for ps in res.service_parameter_list.parameter_set]
        wanted = 2 if self.config.control_mode is ControlMode.DYNAMIC else 1
        chosen = next((s for s in sets if s.control_mode == wanted), sets[0])
        self.ctx.parameter_set = chosen.set_id
        self.ctx.dynamic = chosen.control_mode == 2
        self.negotiated.update(
            service_id=self.ctx.service_id,
            parameter_set=chosen.set_id,
            control_mode="dynamic" if self.ctx.dynamic else "scheduled",
        )
        sel = m.SelectedService(service_id=self.ctx.service_id, parameter_set_id=chosen.set_id)
        await self.send(
            m.ServiceSelectionReq(header=self.header(self.pump.clock()), selected_energy_transfer_service=sel)
        )

    async def after_ServiceSelectionRes(self, res: Any, req: Any) -> None:
        await self.send_charge_parameters(self.pump.clock())

    def discharge_limit(self, value: float) -> m.RationalNumber:
        return discharge_limit(value, negative=self.config.negative_discharge_limits)

    async def send_charge_parameters(self, now: float) -> None:
        state = await self.controller.ev_state(now)
        lim = state.limits
        common = {
            "ev_maximum_charge_power": rational(lim.max_charge_w),
            "ev_minimum_charge_power": rational(lim.min_charge_w),
        }
        if self.ctx.service_id == AC_BPT:
            mode = m.BPT_AC_CPDReqEnergyTransferMode(
                **common,
                ev_maximum_discharge_power=self.discharge_limit(lim.max_discharge_w),
                ev_minimum_discharge_power=self.discharge_limit(lim.min_discharge_w),
            )
            msg = m.AC_ChargeParameterDiscoveryReq(header=self.header(now), bpt_ac_cpd_req_energy_transfer_mode=mode)
        else:
            msg = m.AC_ChargeParameterDiscoveryReq(
                header=self.header(now), ac_cpd_req_energy_transfer_mode=m.AC_CPDReqEnergyTransferMode(**common)
            )
        await self.send(msg)

    async def after_AC_ChargeParameterDiscoveryRes(self, res: Any, req: Any) -> None:
        await self.send_schedule_exchange()

    async def send_schedule_exchange(self, stream: Stream = Stream.MAIN) -> None:
        now = self.pump.clock()
        state = await self.controller.ev_state(now)
        energy: dict[str, Any] = {
            "ev_target_energy_request": rational(state.target_energy_wh),
            "ev_maximum_energy_request": rational(state.max_energy_wh),
            "ev_minimum_energy_request": rational(state.min_energy_wh),
        }
        if self.ctx.dynamic:
            v2x: dict[str, Any] = {}
            if state.max_v2x_energy_wh is not None and state.min_v2x_energy_wh is not None:
                # Sent together or not at all [V2G20-2124/2681].
                v2x = {
                    "ev_maximum_v2x_energy_request": rational(state.max_v2x_energy_wh),
                    "ev_minimum_v2x_energy_request": rational(state.min_v2x_energy_wh),
                }
            mode: dict[str, Any] = {
                "dynamic_se_req_control_mode": m.Dynamic_SEReqControlMode(
                    departure_time=state.departure_s if state.departure_s else 43200, **energy, **v2x
                )
            }
        else:
            mode = {
                "scheduled_se_req_control_mode": m.Scheduled_SEReqControlMode(
                    departure_time=state.departure_s, **energy
                )
            }
        await self.send(
            m.ScheduleExchangeReq(
                header=self.header(now), maximum_supporting_points=self.config.max_supporting_points, **mode
            ),
            stream,
        )

    async def after_ScheduleExchangeRes(self, res: m.ScheduleExchangeRes, req: Any) -> None:
        if str(res.evse_processing) != "Finished":
            await asyncio.sleep(self.config.authorization_retry_s)  # the EV repeats while Ongoing [V2G20-1593]
            await self.send_schedule_exchange()
            return
        self.take_schedule(res)
        await self.send_power_delivery("Start")

    def take_schedule(self, res: m.ScheduleExchangeRes) -> None:
        """Keep the first ScheduleTuple (the one PowerDelivery selects) as power intervals."""
        mode = res.scheduled_se_res_control_mode
        if mode is None:
            return
        chosen = mode.schedule_tuple[0]
        self.ctx.schedule_tuple_id = chosen.schedule_tuple_id
        self.ctx.schedule = intervals_of(chosen)

    def scheduled_power(self, now: float) -> float | None:
        """Scheduled mode without an EVSE target: the power the selected schedule allows now (fact sheet 6.3).

        None in Dynamic mode, or before any schedule: the EV keeps its own plan.
        """
        if self.ctx.dynamic or not self.ctx.schedule:
            return None
        return allowed_power(self.ctx.schedule, now, discharge=self.negotiated.get("bpt_channel") == "Discharge")

    async def send_power_delivery(self, progress: str, stream: Stream = Stream.MAIN) -> None:
        now = self.pump.clock()
        state = await self.controller.ev_state(now)
        discharge = self.ctx.service_id == AC_BPT and state.direction is ChargeDirection.DISCHARGE
        profile = None
        if progress in ("Start", "ScheduleRenegotiation"):
            power = -state.limits.max_discharge_w if discharge else state.limits.max_charge_w
            entries = m.EVPowerProfileEntryList(
                ev_power_profile_entry=(m.PowerScheduleEntry(duration=3600, power=rational(power)),)
            )
            if self.ctx.dynamic:
                profile = m.EVPowerProfile(
                    time_anchor=int(now),
                    dynamic_evppt_control_mode=m.Dynamic_EVPPTControlMode(),
                    ev_power_profile_entries=entries,
                )
            else:
                tolerance = self.config.power_tolerance_acceptance
                selected = m.Scheduled_EVPPTControlMode(
                    selected_schedule_tuple_id=self.ctx.schedule_tuple_id or 1,
                    power_tolerance_acceptance=m.PowerToleranceAcceptance(tolerance) if tolerance else None,
                )
                profile = m.EVPowerProfile(
                    time_anchor=int(now), scheduled_evppt_control_mode=selected, ev_power_profile_entries=entries
                )
        channel = None
        if self.ctx.service_id == AC_BPT and progress != "Stop":
            channel = m.ChannelSelection.Discharge if discharge else m.ChannelSelection.Charge
            self.negotiated["bpt_channel"] = str(channel)
        msg = m.PowerDeliveryReq(
            header=self.header(now),
            ev_processing=m.Processing.Finished,
            charge_progress=m.ChargeProgress(progress),
            ev_power_profile=profile,
            bpt_channel_selection=channel,
        )
        await self.send(msg, stream)

    async def after_PowerDeliveryRes(self, res: m.PowerDeliveryRes, req: m.PowerDeliveryReq) -> None:
        if str(req.charge_progress) == "Stop":
            await self.send(
                m.SessionStopReq(
                    header=self.header(self.pump.clock()),
                    charging_session=m.ChargingSession(self.ctx.stopping or "Terminate"),
                )
            )
            return
        await self.send_charge_loop()

    # ---- the charge loop ---------------------------------------------------------------------------------
    async def send_charge_loop(self) -> None:
        now = self.pump.clock()
        state = await self.controller.ev_state(now)
        limit = self.config.max_loops
        if limit is not None:
            limit *= self.ctx.service_renegotiations + 1  # each renegotiated service gets its own loops
        if state.finished or (limit is not None and self.ctx.loops >= limit):
            self.ctx.stopping = "Pause" if state.pause else self.config.stop_with
            await self.send_power_delivery("Stop")
            return
        bpt = self.ctx.service_id == AC_BPT
        await self.send(
            m.AC_ChargeLoopReq(
                header=self.header(now),
                meter_info_requested=self.config.meter_info_requested,
                display_parameters=m.DisplayParameters(
                    present_soc=max(0, min(100, round(state.soc))), charging_complete=state.finished
                ),
                **{
                    loop_mode_field(bpt, self.ctx.dynamic): loop_control_mode(
                        state, bpt=bpt, dynamic=self.ctx.dynamic, negative=self.config.negative_discharge_limits
                    )
                },
            )
        )

    async def after_AC_ChargeLoopRes(self, res: m.AC_ChargeLoopRes, req: Any) -> None:
        self.ctx.loops += 1
        now = self.pump.clock()
        target = loop_target_power(res)
        self.ctx.target_w = target if target is not None else self.scheduled_power(now)
        await self.controller.apply_power(self.ctx.target_w, now)
        if res.meter_info is not None:
            self.ctx.meter.append(
                {
                    "at": now,
                    "charged_wh": res.meter_info.charged_energy_reading_wh,
                    "discharged_wh": res.meter_info.bpt_discharged_energy_reading_wh or 0,
                }
            )
        if res.evse_status is not None and await self.on_notification(res.evse_status):
            return
        await self.side_streams()
        await asyncio.sleep(self.config.loop_interval_s)
        if self.conn.ended is None and self.conn.pending_request() is None:
            await self.send_charge_loop()

    async def on_notification(self, status: m.EVSEStatus) -> bool:
        """React to an EVSE notification; True when the loop ends here."""
        note = str(status.evse_notification)
        self.ctx.notifications.append(note)
        await self.controller.report(SessionReport(event="notification", detail=note))
        stop = {"Terminate": "Terminate", "Pause": "Pause", "ServiceRenegotiation": "ServiceRenegotiation"}.get(note)
        if stop is not None:
            # Terminate: the EV ends with PowerDelivery(Stop) then SessionStop [V2G20-1610].
            self.ctx.stopping = stop
            await self.send_power_delivery("Stop")
            return True
        if note == "ScheduleRenegotiation" and not self.ctx.renegotiated:
            self.ctx.renegotiated = True
            await self.send_schedule_exchange(Stream.SCHEDULE_RENEGOTIATION)
        if note == "MeteringConfirmation" and self.ctx.authorization == "PnC" and not self.ctx.confirmed:
            await self.send_metering_confirmation()
        return False

    async def side_streams(self) -> None:
        loops = self.ctx.loops
        if self.config.renegotiate_schedule_after == loops and not self.ctx.renegotiated:
            self.ctx.renegotiated = True
            await self.send_schedule_exchange(Stream.SCHEDULE_RENEGOTIATION)
        if self.config.metering_confirmation_after == loops and not self.ctx.confirmed:
            await self.send_metering_confirmation()

    async def send_metering_confirmation(self) -> None:
        if self.config.credentials is None or not self.ctx.meter:
            return
        self.ctx.confirmed = True
        last = self.ctx.meter[-1]
        msg = signed_metering(
            self.header(self.pump.clock()), self.conn.session_id, last, self.ctx.dynamic, self.config.credentials
        )
        await self.send(msg, Stream.METERING_CONFIRMATION)

    async def on_side_response(self, event: ResponseReceived) -> None:
        kind = type(event.message).__name__
        if event.stream is Stream.SCHEDULE_RENEGOTIATION and kind == "ScheduleExchangeRes":
            self.take_schedule(event.message)
            await self.send_power_delivery("ScheduleRenegotiation", Stream.SCHEDULE_RENEGOTIATION)
        self.negotiated.setdefault("side_streams", []).append(f"{event.stream}:{kind}:{event.message.response_code}")

    async def stop_session(self, why: str) -> None:
        await self.controller.report(SessionReport(event="stopping", detail=why))
        await self.send(
            m.SessionStopReq(header=self.header(self.pump.clock()), charging_session=m.ChargingSession.Terminate)
        )

    async def after_SessionStopRes(self, res: Any, req: m.SessionStopReq) -> None:
        if str(req.charging_session) == "ServiceRenegotiation" and self.conn.ended is None:
            # Service renegotiation starts over at ServiceDiscovery [V2G20-1643].
            self.ctx.service_renegotiations += 1
            self.ctx.stopping = None
            self.negotiated["service_renegotiations"] = self.ctx.service_renegotiations
            await self.send(m.ServiceDiscoveryReq(header=self.header(self.pump.clock())))


async def run_evcc_session(
    link: Link,
    controller: EVController,
    config: EvccConfig | None = None,
    *,
    session_config: SessionConfig | None = None,
    clock: Clock = time.time,
    observers: Sequence[Observer] = (),
) -> SessionOutcome:
    """Run one session as the EVCC over ``link`` (already connected: TCP, TLS or in memory)."""
    conn = Connection(Role.EVCC, now=clock(), config=session_config)
    pump = Pump(conn, link, clock=clock, observers=observers)
    evcc = _Evcc(pump, controller, config or EvccConfig())
    ended = await pump.run(evcc.handle, start=evcc.start)
    negotiated = dict(evcc.negotiated)
    negotiated["notifications"] = list(evcc.ctx.notifications)
    return SessionOutcome(
        ended=ended,
        session_id=conn.session_id,
        negotiated=negotiated,
        meter_readings=tuple(evcc.ctx.meter),
        loops=evcc.ctx.loops,
    )
