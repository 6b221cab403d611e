"""The tester's responses when it plays the SECC: the library's SECC decisions, with a charger made from the profile.

The tester SECC is configured like any SECC (:class:`~iso15118.config.SeccConfig`: the services, control modes
and authorization the case's :class:`~harness.conformance.model.Profile` offers) and answers every request with
the library's decision for it (:data:`iso15118.iso20.secc.HANDLERS`; SupportedAppProtocol with
:func:`~iso15118.session.sap.answer_sap`). What a decision needs from a charger (limits, authorization,
contactors, the setpoint, the meter, the DC output: insulation test, precharge, loop, welding) comes from a
:class:`~iso15118.simple.SimpleEVSE` configured from the profile, asked the way our runner asks any controller
(:data:`~iso15118.transport.runner.INPUT_CALLS`). In Scheduled mode the tester sends no setpoint: power follows
the schedule (fact sheet 6.3). A paused session is kept for the EV's resumption.

A case then chooses another response code (a FAILED one is the profile's minimal failure response), another
response type, an EVSE notification, or changes any field by dotted path; the profile may ask for another
ScheduleTupleID and schedule power, which the tester then remembers as offered.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping
from typing import Any

from harness.conformance.context import Context, cpd_element, limits_of
from harness.conformance.fields import apply_fields, header
from harness.conformance.path import NAMESPACE, class_of, kind_of, selection_of
from iso15118.config import SeccConfig
from iso15118.decisions import Input, Inputs, Need, StorePaused, TakePaused, settle
from iso15118.errors import ConfigError
from iso15118.iso20.kinds import Kind
from iso15118.iso20.pnc import PncVerifier
from iso15118.iso20.profile import ISO20, OFFERS
from iso15118.iso20.schedules import single_level_tuple
from iso15118.iso20.secc import SeccView, decide
from iso15118.iso20.services import loop_target_power
from iso15118.messages import iso20 as m
from iso15118.messages.app_protocol import ResponseCode as SapCode
from iso15118.messages.units import value_of
from iso15118.security.certs import STRICT, TOLERANT
from iso15118.security.sigprofile import INTEROP_PROFILE, ISO20_PROFILE
from iso15118.session.failures import minimal_instance
from iso15118.session.sap import SapKind, answer_sap
from iso15118.simple import SimpleEVSE, SimpleEVSEConfig
from iso15118.transport.runner import INPUT_CALLS

__all__ = ["build_response"]

_INPUTS = len(Input) + 1


def _config(ctx: Context) -> SeccConfig:
    p = ctx.profile
    return SeccConfig(
        evse_id=ctx.config.evse_id,
        protocols=(NAMESPACE[p.family],),
        services=p.offered_services,
        control_modes=p.offered_modes,
        authorization=p.offered_auth,
    )


def _evse(ctx: Context) -> SimpleEVSE:
    if ctx.evse is None:
        p = ctx.profile
        ctx.evse = SimpleEVSE(
            SimpleEVSEConfig(
                max_charge_w=p.evse_max_charge_w,
                min_charge_w=p.evse_min_charge_w,
                max_discharge_w=p.evse_max_discharge_w,
                min_discharge_w=p.evse_min_discharge_w,
                setpoint_w=p.target_w,
                meter_id="TESTER",
                max_voltage_v=p.evse_max_voltage_v,
                min_voltage_v=p.evse_min_voltage_v,
                max_current_a=p.evse_max_current_a,
                cable_check_requests=p.cable_check_ongoing,
                precharge_step_v=p.precharge_step_v,
            )
        )
    return ctx.evse


def _pnc(ctx: Context) -> PncVerifier | None:
    creds = ctx.config.credentials
    if creds is None:
        return None
    if ctx.config.tolerant:
        return PncVerifier(creds.mo_roots(), profile=INTEROP_PROFILE, policy=TOLERANT)
    return PncVerifier(creds.mo_roots(), profile=ISO20_PROFILE, policy=STRICT)


async def _gather(ctx: Context, need: Need, now: float) -> Any:
    """What the tester's charger says to a decision's question."""
    if need.what is Input.PAUSED:
        paused = ctx.paused
        return paused if paused is not None and paused.session_id == need.arg else None
    value = await INPUT_CALLS[need.what](_evse(ctx), need.arg, now)
    if need.what is Input.LOOP_COMMAND and not ctx.secc.dynamic:
        # Scheduled: power follows the schedule; a target is only for grid-code limitations (fact sheet 6.3).
        value = dataclasses.replace(value, target_power_w=None)
    return value


async def _decide(request: Any, kind: Kind, ctx: Context) -> Any:
    """The library SECC's answer to ``request``; its context and effects are kept."""
    if ctx.selection is None:
        ctx.selection = selection_of(ctx.profile.family)
    selection = ctx.selection
    entropy = os.urandom(32)
    config, pnc = _config(ctx), _pnc(ctx)

    def run(inputs: Inputs) -> Any:
        view = SeccView(
            now=time.time(),
            header=header(ctx),
            ctx=ctx.secc,
            config=config,
            selection=selection,
            session_id=ctx.session_id,
            inputs=inputs,
            pnc=pnc,
            entropy=entropy,
            dc_capable=True,
        )
        return decide(kind, request, view)

    try:
        decision = await settle(run, lambda need: _gather(ctx, need, time.time()), rounds=_INPUTS)
    except RuntimeError as exc:
        raise ConfigError(f"the SECC decision for {kind}: {exc}") from None
    ctx.secc = decision.ctx
    for effect in decision.effects:
        if isinstance(effect, StorePaused):
            ctx.paused = effect.session
        elif isinstance(effect, TakePaused):
            ctx.paused = None
    return decision.response


def _sap(request: Any, ctx: Context, code: str | None) -> Any:
    """SupportedAppProtocol: the tester accepts the case's -20 namespace only; the session starts on it."""
    response, namespace = answer_sap(request, (OFFERS[NAMESPACE[ctx.profile.family]],))
    if namespace is not None:
        ctx.selection, ctx.state = ISO20.selection_for(namespace), ISO20.initial_state
    return response if code is None else dataclasses.replace(response, response_code=SapCode(code))


def _remember(ctx: Context, kind: Kind, request: Any, response: Any) -> None:
    """What the tester SECC sent becomes what it offered: the SessionID, schedule tuples, the setpoint."""
    if kind is Kind.SessionSetupReq:
        ctx.remember_session(response.header.session_id)
    elif kind is Kind.AuthorizationSetupReq and response.pnc_as_res_authorization_mode is not None:
        ctx.gen_challenge = response.pnc_as_res_authorization_mode.gen_challenge
        ctx.challenges.append(ctx.gen_challenge)
    elif kind is Kind.ScheduleExchangeReq and response.scheduled_se_res_control_mode is not None:
        ctx.schedule_ids = tuple(t.schedule_tuple_id for t in response.scheduled_se_res_control_mode.schedule_tuple)
        ctx.secc = dataclasses.replace(ctx.secc, schedule_ids=ctx.schedule_ids)
    elif kind in (Kind.AC_ChargeParameterDiscoveryReq, Kind.DC_ChargeParameterDiscoveryReq):
        ctx.evse_limits = limits_of(cpd_element(response)[1], "evse")
    elif kind is Kind.DC_PreChargeReq and not ISO20.is_failed(ISO20.response_code(response)):
        ctx.values["precharge_sent_v"] = value_of(response.evse_present_voltage)
    elif kind is Kind.DC_WeldingDetectionReq:
        ctx.values["welding_responses"] = ctx.values.get("welding_responses", 0) + 1
    if kind is Kind.AC_ChargeLoopReq:
        ctx.target_w = loop_target_power(response)


def _with_schedule(ctx: Context, response: Any) -> Any:
    """A Scheduled ScheduleExchangeRes with the profile's ScheduleTupleID and schedule power, when it asks."""
    p, mode = ctx.profile, response.scheduled_se_res_control_mode
    if mode is None or (p.schedule_tuple_id == 1 and p.schedule_w is None):
        return response
    discharge = p.evse_max_discharge_w if mode.schedule_tuple[0].discharging_schedule is not None else None
    power = p.schedule_w if p.schedule_w is not None else p.evse_max_charge_w
    offered = single_level_tuple(p.schedule_tuple_id, int(time.time()), 86_400, power, discharge)
    return dataclasses.replace(
        response, scheduled_se_res_control_mode=dataclasses.replace(mode, schedule_tuple=(offered,))
    )


async def build_response(
    request: Any,
    ctx: Context,
    fields: Mapping[str, Any] | None = None,
    *,
    code: str | None = None,
    notification: str | None = None,
    kind: str | None = None,
) -> Any:
    """The tester SECC's answer to ``request``: the decision's (or a ``kind`` response), ``code``, ``fields``."""
    found = kind_of(request)
    if found is None:
        raise ConfigError(f"{type(request).__name__} is not a request the tester answers")
    if found == SapKind.supportedAppProtocolReq:
        return apply_fields(_sap(request, ctx, code), fields or {}, ctx)
    request_kind = Kind(found)
    if kind is not None:
        response = minimal_instance(class_of(kind), override={"header": header(ctx)})
    elif code is not None and ISO20.is_failed(code):
        response = ISO20.failure(request, request_kind, code, header(ctx))
    else:
        response = await _decide(request, request_kind, ctx)
        if code is not None:
            response = dataclasses.replace(response, response_code=m.ResponseCode(code))
        if request_kind is Kind.ScheduleExchangeReq:
            response = _with_schedule(ctx, response)
    if notification is not None:
        status = m.EVSEStatus(notification_max_delay=0, evse_notification=m.EvseNotification(notification))
        response = dataclasses.replace(response, evse_status=status)
    response = apply_fields(response, fields or {}, ctx)
    _remember(ctx, request_kind, request, response)
    ctx.last_response = response
    return response
