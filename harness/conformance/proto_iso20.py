"""ISO 15118-20 as the harness speaks it: the parts of :class:`~harness.conformance.protocol.Protocol` that read
-20 messages.

-20 messages carry their fields (and their header) at the top; the tester EV starts with the profile's service,
control mode and authorization already chosen (so that a request sent out of order can still be built), stops by
setting how it ends; the tester SECC may offer another ScheduleTupleID or schedule power than the library's, and
notifies with an EVSEStatus. The tester's own view of the session is learnt from the messages here.
"""

from __future__ import annotations

import dataclasses
import time
from types import MappingProxyType
from typing import Any, Final

from harness.conformance.context import Context, cpd_element, limits_of
from harness.conformance.model import Need
from harness.conformance.protocol import Generation, Protocol
from iso15118.constants import NS_ISO20_AC, NS_ISO20_DC, PayloadType
from iso15118.decisions import Step
from iso15118.iso20 import evcc
from iso15118.iso20.evcc import EvccContext
from iso15118.iso20.kinds import CLASS_OF, PAYLOAD_TYPE_OF, Kind
from iso15118.iso20.profile import ISO20
from iso15118.iso20.schedules import single_level_tuple
from iso15118.iso20.services import (
    FAMILY_SERVICES,
    loop_request_mode,
    loop_target_power,
    mode_of_service,
    parse_parameter_set,
)
from iso15118.messages import iso20 as m
from iso15118.messages.units import value_of
from iso15118.session.failures import minimal_instance
from iso15118.session.profile import Stream
from iso15118.session.sap import SAP
from iso15118.session.selection import EnergyFamily

__all__ = ["ISO20_PROTOCOL", "Iso20Protocol"]

_FAMILY_OF_PAYLOAD: Final = {PayloadType.ISO20_AC: EnergyFamily.AC, PayloadType.ISO20_DC: EnergyFamily.DC}
_MODE_NAMES: Final = {1: "Scheduled", 2: "Dynamic"}


class Iso20Protocol(Protocol):
    """ISO 15118-20 (AC, AC_BPT, DC, DC_BPT)."""

    generation = Generation.ISO20
    profile = ISO20
    label = "ISO 15118-20"
    namespaces = MappingProxyType({EnergyFamily.AC: NS_ISO20_AC, EnergyFamily.DC: NS_ISO20_DC})
    kinds = Kind
    ongoing = m.Processing.Ongoing

    # ---- messages ---------------------------------------------------------------------------------------------
    def body(self, message: Any) -> Any:
        return message

    def with_body(self, message: Any, element: Any) -> Any:
        return element

    def header(self, session_id: bytes) -> m.MessageHeader:
        return m.MessageHeader(session_id=session_id, time_stamp=int(time.time()))

    def minimal(self, kind: str, session_id: bytes) -> Any:
        return minimal_instance(CLASS_OF[Kind(kind)], override={"header": self.header(session_id)})

    def builds(self, kind: str) -> bool:
        return kind in Kind.__members__ and Kind(kind) in evcc.BUILD

    def needs_label(self, family: EnergyFamily) -> str:
        return f"-20 {family}"

    def ev_decides(self, kind: str, stream: Stream) -> bool:
        return kind in Kind.__members__ and ((stream, Kind(kind)) in evcc.NEXT_SIDE or Kind(kind) in evcc.NEXT)

    # ---- the tester EV ----------------------------------------------------------------------------------------
    def ev_start(self, ctx: Context) -> EvccContext:
        """The profile's service, control mode and authorization (a resumed session: the service its paused
        session had, [V2G20-2539])."""
        p = ctx.profile
        service = ctx.selected_service if ctx.paused_session_id is not None and ctx.selected_service else p.service
        return EvccContext(service_id=service, parameter_set=1, dynamic=p.dynamic, authorization=p.auth)

    def ev_family(self, kind: str, ctx: Context) -> EnergyFamily:
        # A request of one energy family is built as one, even in a session of the other (a stimulus).
        found = PAYLOAD_TYPE_OF[Kind(kind)] if kind in Kind.__members__ else None
        return _FAMILY_OF_PAYLOAD.get(found, ctx.profile.family) if found is not None else ctx.profile.family

    def ev_stopping(self, ev: Any, how: str) -> Any:
        return dataclasses.replace(ev, stopping=how)

    def ev_unmet(self, ctx: Context, kind: str, response: Any, step: Step[Any]) -> str | None:
        if step.stop is not None:
            return _unmet(ctx, Kind(kind), response) or step.stop
        if kind == Kind.ServiceDiscoveryRes and Need.BPT in ctx.needs and step.ctx.service_id != ctx.profile.service:
            # The library EV takes the plain service when BPT is not offered; a case that needs BPT cannot.
            return _unmet(ctx, Kind(kind), response)
        return None

    def learn_response(self, ctx: Context, request: Any, response: Any) -> None:
        ctx.last_response = response
        kind = ISO20.kind_of(response)
        if ISO20.is_failed(ISO20.response_code(response)):
            return
        if kind is Kind.SessionSetupRes:
            ctx.remember_session(response.header.session_id)
            ctx.evse_id = response.evse_id
        elif kind is Kind.AuthorizationSetupRes and response.pnc_as_res_authorization_mode is not None:
            ctx.gen_challenge = response.pnc_as_res_authorization_mode.gen_challenge
            ctx.challenges.append(ctx.gen_challenge)
        elif kind is Kind.ServiceDiscoveryRes:
            ctx.offered_services = tuple(s.service_id for s in response.energy_transfer_service_list.service)
        elif kind is Kind.ServiceSelectionRes:
            selected = request.selected_energy_transfer_service
            ctx.selected_service = selected.service_id
            ctx.selected_set = selected.parameter_set_id
        elif kind in (Kind.AC_ChargeParameterDiscoveryRes, Kind.DC_ChargeParameterDiscoveryRes):
            ctx.evse_limits = limits_of(cpd_element(response)[1], "evse")
        elif kind is Kind.ScheduleExchangeRes and response.scheduled_se_res_control_mode is not None:
            tuples = response.scheduled_se_res_control_mode.schedule_tuple
            ctx.schedule_ids = tuple(t.schedule_tuple_id for t in tuples)
        elif kind in (Kind.AC_ChargeLoopRes, Kind.DC_ChargeLoopRes):
            target = loop_target_power(response)
            if target is not None:
                ctx.target_w = target
            if response.meter_info is not None:
                ctx.meter = _meter(response.meter_info)
        elif kind is Kind.SessionStopRes and str(request.charging_session) == "Pause":
            ctx.paused_session_id = ctx.session_id

    # ---- the tester SECC --------------------------------------------------------------------------------------
    def learn_request(self, ctx: Context, stream: str, request: Any) -> None:
        ctx.last_request = request
        kind = ISO20.kind_of(request) or SAP.kind_of(request)
        ctx.requests.append((stream, str(kind)))
        if kind is Kind.ServiceSelectionReq:
            selected = request.selected_energy_transfer_service
            ctx.selected_service = selected.service_id
            ctx.selected_set = selected.parameter_set_id
            modes = ctx.profile.offered_modes
            if 1 <= selected.parameter_set_id <= len(modes):
                ctx.dynamic = modes[selected.parameter_set_id - 1] == 2
        elif kind in (Kind.AC_ChargeParameterDiscoveryReq, Kind.DC_ChargeParameterDiscoveryReq):
            element = cpd_element(request)[1]
            if element is not None:
                ctx.ev_limits = limits_of(element, "ev")
        elif kind is Kind.SessionStopReq and str(request.charging_session) == "Pause":
            ctx.paused_session_id = ctx.session_id
        elif kind is Kind.AC_ChargeLoopReq:
            found = loop_request_mode(request)
            if found is not None:
                ctx.values["present_w"] = value_of(found[2].ev_present_active_power)
        elif kind is Kind.DC_PreChargeReq:
            ctx.values["precharge_target_v"] = value_of(request.ev_target_voltage)
            ctx.values["precharge_processing"] = str(request.ev_processing)
            if "precharge_sent_v" in ctx.values:
                ctx.values["precharge_seen_v"] = ctx.values["precharge_sent_v"]
        elif kind is Kind.DC_WeldingDetectionReq and str(request.ev_processing) == "Finished":
            ctx.values.setdefault("welding_finished_after", ctx.values.get("welding_responses", 0))

    def adjust(self, ctx: Context, kind: str, response: Any) -> Any:
        """A Scheduled ScheduleExchangeRes with the profile's ScheduleTupleID and schedule power, when it asks."""
        p, mode = ctx.profile, getattr(response, "scheduled_se_res_control_mode", None)
        if kind != Kind.ScheduleExchangeReq or mode is None or (p.schedule_tuple_id == 1 and p.schedule_w is None):
            return response
        discharge = p.evse_max_discharge_w if mode.schedule_tuple[0].discharging_schedule is not None else None
        power = p.schedule_w if p.schedule_w is not None else p.evse_max_charge_w
        offered = single_level_tuple(p.schedule_tuple_id, int(time.time()), 86_400, power, discharge)
        return dataclasses.replace(
            response, scheduled_se_res_control_mode=dataclasses.replace(mode, schedule_tuple=(offered,))
        )

    def remember(self, ctx: Context, kind: str, request: Any, response: Any) -> None:
        if kind == Kind.SessionSetupReq:
            ctx.remember_session(response.header.session_id)
        elif kind == Kind.AuthorizationSetupReq and response.pnc_as_res_authorization_mode is not None:
            ctx.gen_challenge = response.pnc_as_res_authorization_mode.gen_challenge
            ctx.challenges.append(ctx.gen_challenge)
        elif kind == Kind.ScheduleExchangeReq and response.scheduled_se_res_control_mode is not None:
            tuples = response.scheduled_se_res_control_mode.schedule_tuple
            ctx.schedule_ids = tuple(t.schedule_tuple_id for t in tuples)
            ctx.secc = dataclasses.replace(ctx.secc, schedule_ids=ctx.schedule_ids)
        elif kind in (Kind.AC_ChargeParameterDiscoveryReq, Kind.DC_ChargeParameterDiscoveryReq):
            ctx.evse_limits = limits_of(cpd_element(response)[1], "evse")
        elif kind == Kind.DC_PreChargeReq and not ISO20.is_failed(ISO20.response_code(response)):
            ctx.values["precharge_sent_v"] = value_of(response.evse_present_voltage)
        elif kind == Kind.DC_WeldingDetectionReq:
            ctx.values["welding_responses"] = ctx.values.get("welding_responses", 0) + 1
        if kind == Kind.AC_ChargeLoopReq:
            ctx.target_w = loop_target_power(response)

    def notify(self, response: Any, notification: str) -> Any:
        status = m.EVSEStatus(notification_max_delay=0, evse_notification=m.EvseNotification(notification))
        return dataclasses.replace(response, evse_status=status)

    def declined(self, ctx: Context, last: str) -> str | None:
        p, needs, family = ctx.profile, ctx.needs, ctx.profile.family
        if last == Kind.AuthorizationSetupReq:
            offered = ", ".join(p.offered_auth)
            wanted = "PnC" if Need.PNC in needs else offered
        elif last == Kind.ServiceDiscoveryReq:
            offered = ", ".join(str(mode_of_service(s) or s) for s in p.offered_services)
            bpt = FAMILY_SERVICES[family][1]
            wanted = str(mode_of_service(bpt)) if Need.BPT in needs and bpt in p.offered_services else offered
        elif last == Kind.ServiceDetailReq:
            offered = ", ".join("Dynamic" if mode == 2 else "Scheduled" for mode in p.offered_modes)
            modes = [f"{n.value.capitalize()} control" for n in (Need.DYNAMIC, Need.SCHEDULED) if n in needs]
            wanted = modes[0] if modes else offered
        else:
            return None
        return f"needs {wanted}: the EV ended the session when offered {offered}"


def _meter(info: Any) -> dict[str, int]:
    return {
        "charged_wh": int(info.charged_energy_reading_wh),
        "discharged_wh": int(info.bpt_discharged_energy_reading_wh or 0),
    }


def _unmet(ctx: Context, kind: Kind, res: Any) -> str | None:
    """Why the case cannot go on ("needs X: the SUT offers Y") when an offer lacks what the case asks for (None:
    not an offer, or the offer has it and the EV stopped for another reason)."""
    p = ctx.profile
    if kind is Kind.AuthorizationSetupRes:
        auth = [str(a) for a in res.authorization_services]
        return None if p.auth in auth else f"needs {p.auth}: the SUT offers {', '.join(auth) or 'nothing'} only"
    if kind is Kind.ServiceDiscoveryRes:
        ids = [s.service_id for s in res.energy_transfer_service_list.service]
        offered = ", ".join(str(mode_of_service(i) or i) for i in ids) or "no energy service"
        wanted = mode_of_service(p.service) or p.service
        return None if p.service in ids else f"needs {wanted}: the SUT offers {offered} only"
    if kind is Kind.ServiceDetailRes:
        modes = {parse_parameter_set(ps).control_mode for ps in res.service_parameter_list.parameter_set}
        wanted = 2 if p.dynamic else 1
        offered = ", ".join(sorted(_MODE_NAMES.get(mode, str(mode)) for mode in modes)) or "no parameter set"
        return None if wanted in modes else f"needs {_MODE_NAMES[wanted]} control: the SUT offers {offered} only"
    return None


ISO20_PROTOCOL: Final = Iso20Protocol()
"""The -20 protocol."""
