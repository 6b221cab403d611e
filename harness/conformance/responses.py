"""The tester's responses when it plays the SECC: a valid default answer to every -20 AC request.

Defaults follow the case's :class:`~harness.conformance.model.Profile` (services, control modes and
authorization offered, EVSE limits, the Dynamic setpoint) and mirror the request where the standard says so
(the charge-loop control mode, the BPT charge-parameter element). A case changes any field by dotted path,
the response code, or adds an EVSE notification.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping
from typing import Any

from harness.conformance.context import Context
from harness.conformance.fields import apply_fields, header
from iso15118.constants import NS_ISO20_AC
from iso15118.errors import ConfigError
from iso15118.iso20.schedules import single_level_tuple
from iso15118.iso20.services import AC_BPT, loop_mode_field, loop_request_mode, parameter_sets
from iso15118.messages import iso20 as m
from iso15118.messages.app_protocol import ResponseCode as SapCode
from iso15118.messages.app_protocol import supportedAppProtocolRes
from iso15118.messages.units import rational
from iso15118.session.failures import failure_response, minimal_instance, response_class, response_kind

__all__ = ["build_response"]


def _sap(req: Any, ctx: Context) -> Any:
    for offer in req.app_protocol:
        if offer.protocol_namespace == NS_ISO20_AC and offer.version_number_major == 1:
            return supportedAppProtocolRes(response_code=SapCode.OK_SuccessfulNegotiation, schema_id=offer.schema_id)
    return supportedAppProtocolRes(response_code=SapCode.Failed_NoNegotiation)


def _session_setup(req: Any, ctx: Context) -> Any:
    resume = ctx.values.get("resume_expected")
    if resume and ctx.paused_session_id is not None and req.header.session_id == ctx.paused_session_id:
        ctx.remember_session(ctx.paused_session_id)
        code = "OK_OldSessionJoined"
    else:
        session_id = os.urandom(8)
        ctx.remember_session(session_id)
        code = "OK_NewSessionEstablished"
    return m.SessionSetupRes(header=header(ctx), response_code=m.ResponseCode(code), evse_id=ctx.config.evse_id)


def _authorization_setup(req: Any, ctx: Context) -> Any:
    offered = tuple(m.Authorization(a) for a in ctx.profile.offered_auth)
    mode: dict[str, Any]
    if "PnC" in ctx.profile.offered_auth:
        ctx.gen_challenge = os.urandom(16)  # [V2G20-697/698]
        ctx.challenges.append(ctx.gen_challenge)
        mode = {"pnc_as_res_authorization_mode": m.PnC_ASResAuthorizationMode(gen_challenge=ctx.gen_challenge)}
    else:
        mode = {"eim_as_res_authorization_mode": m.EIM_ASResAuthorizationMode()}
    return m.AuthorizationSetupRes(
        header=header(ctx),
        response_code=m.ResponseCode.OK,
        authorization_services=offered,
        certificate_installation_service=False,
        **mode,
    )


def _service_discovery(req: Any, ctx: Context) -> Any:
    services = tuple(m.Service(service_id=s, free_service=False) for s in ctx.profile.offered_services)
    return m.ServiceDiscoveryRes(
        header=header(ctx),
        response_code=m.ResponseCode.OK,
        service_renegotiation_supported=True,
        energy_transfer_service_list=m.ServiceList(service=services),
    )


def _service_detail(req: Any, ctx: Context) -> Any:
    params = parameter_sets(req.service_id, control_modes=ctx.profile.offered_modes)
    return m.ServiceDetailRes(
        header=header(ctx), response_code=m.ResponseCode.OK, service_id=req.service_id, service_parameter_list=params
    )


def _charge_parameters(req: Any, ctx: Context) -> Any:
    p = ctx.profile
    common = {
        "evse_maximum_charge_power": rational(p.evse_max_charge_w),
        "evse_minimum_charge_power": rational(p.evse_min_charge_w),
        "evse_nominal_frequency": rational(50),
    }
    if req.bpt_ac_cpd_req_energy_transfer_mode is not None:
        mode = m.BPT_AC_CPDResEnergyTransferMode(
            **common,
            evse_maximum_discharge_power=rational(p.evse_max_discharge_w),
            evse_minimum_discharge_power=rational(p.evse_min_discharge_w),
        )
        return m.AC_ChargeParameterDiscoveryRes(
            header=header(ctx), response_code=m.ResponseCode.OK, bpt_ac_cpd_res_energy_transfer_mode=mode
        )
    return m.AC_ChargeParameterDiscoveryRes(
        header=header(ctx),
        response_code=m.ResponseCode.OK,
        ac_cpd_res_energy_transfer_mode=m.AC_CPDResEnergyTransferMode(**common),
    )


def _schedule_exchange(req: Any, ctx: Context) -> Any:
    ok: dict[str, Any] = {
        "header": header(ctx),
        "response_code": m.ResponseCode.OK,
        "evse_processing": m.Processing.Finished,
    }
    if req.dynamic_se_req_control_mode is not None:
        return m.ScheduleExchangeRes(**ok, dynamic_se_res_control_mode=m.Dynamic_SEResControlMode())
    p = ctx.profile
    ctx.schedule_ids = (p.schedule_tuple_id,)
    tuple_ = single_level_tuple(
        p.schedule_tuple_id,
        int(time.time()),
        86_400,
        p.schedule_w if p.schedule_w is not None else p.evse_max_charge_w,
        p.evse_max_discharge_w if ctx.selected_service == AC_BPT else None,
    )
    return m.ScheduleExchangeRes(
        **ok, scheduled_se_res_control_mode=m.Scheduled_SEResControlMode(schedule_tuple=(tuple_,))
    )


def _target(ctx: Context) -> float:
    p = ctx.profile
    return p.target_w if p.target_w is not None else p.evse_max_charge_w


def _charge_loop(req: Any, ctx: Context) -> Any:
    found = loop_request_mode(req)
    if found is None:
        return failure_response(req, "FAILED_WrongChargeParameter", header(ctx))
    bpt, dynamic, element = found
    fields: dict[str, Any] = {}
    if dynamic:
        ctx.target_w = _target(ctx)
        fields["evse_target_active_power"] = rational(ctx.target_w)
    mode = getattr(m, type(element).__name__.replace("CLReq", "CLRes"))(**fields)
    extra: dict[str, Any] = {}
    if req.meter_info_requested:
        loops = ctx.values["loops"] = int(ctx.values.get("loops", 0)) + 1
        ctx.meter = {"charged_wh": 10 * loops, "discharged_wh": 0}
        extra["meter_info"] = m.MeterInfo(
            meter_id="TESTER",
            charged_energy_reading_wh=10 * loops,
            bpt_discharged_energy_reading_wh=0 if bpt else None,
            meter_timestamp=int(time.time()),
        )
    return m.AC_ChargeLoopRes(
        header=header(ctx),
        response_code=m.ResponseCode.OK,
        **{loop_mode_field(bpt, dynamic, response=True): mode},
        **extra,
    )


_BUILDERS = {
    "supportedAppProtocolReq": _sap,
    "SessionSetupReq": _session_setup,
    "AuthorizationSetupReq": _authorization_setup,
    "ServiceDiscoveryReq": _service_discovery,
    "ServiceDetailReq": _service_detail,
    "AC_ChargeParameterDiscoveryReq": _charge_parameters,
    "ScheduleExchangeReq": _schedule_exchange,
    "AC_ChargeLoopReq": _charge_loop,
}


def _notify(response: Any, notification: str) -> Any:
    status = m.EVSEStatus(notification_max_delay=0, evse_notification=m.EvseNotification(notification))
    return dataclasses.replace(response, evse_status=status)


def build_response(
    request: Any,
    ctx: Context,
    fields: Mapping[str, Any] | None = None,
    *,
    code: str | None = None,
    notification: str | None = None,
    kind: str | None = None,
) -> Any:
    """The tester's answer to ``request``: its default (or a ``kind`` response), ``code``, ``fields`` applied."""
    name = type(request).__name__
    if code is not None and code.upper().startswith("FAILED") and name != "supportedAppProtocolReq":
        response = failure_response(request, code, header(ctx))
    elif kind is not None:
        cls = getattr(m, kind, None)
        if not isinstance(cls, type):
            raise ConfigError(f"unknown response {kind!r}")
        response = minimal_instance(cls, override={"header": header(ctx)})
    elif name in _BUILDERS:
        response = _BUILDERS[name](request, ctx)
    else:
        cls = response_class(request)
        override: dict[str, Any] = {"header": header(ctx), "response_code": m.ResponseCode.OK}
        if "evse_processing" in {f.name for f in dataclasses.fields(cls)}:
            override["evse_processing"] = m.Processing.Finished
        response = minimal_instance(cls, override=override)
    if code is not None and name != "supportedAppProtocolReq" and not code.upper().startswith("FAILED"):
        response = apply_fields(response, {"response_code": m.ResponseCode(code)}, ctx)
    if code is not None and name == "supportedAppProtocolReq":
        response = apply_fields(response, {"response_code": SapCode(code)}, ctx)
    if notification is not None:
        response = _notify(response, notification)
    assert kind is not None or type(response).__name__ == response_kind(name)
    return apply_fields(response, fields or {}, ctx)
