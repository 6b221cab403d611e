"""The tester's responses when it plays the SECC: the library's SECC decisions of the case's protocol, with a
charger made from the profile.

The tester SECC is configured like any SECC (:class:`~iso15118.config.SeccConfig`: the namespace, services,
control modes and authorization the case's :class:`~harness.conformance.model.Profile` offers) and answers every
request with the generation's decision for it (:meth:`~iso15118.decisions.SeccLogic.decide`; SupportedAppProtocol
with :func:`~iso15118.session.sap.answer_sap`). What a decision needs from a charger (limits, authorization,
contactors, the setpoint, the meter, the DC output: insulation test, precharge, loop, welding) comes from a
:class:`~iso15118.simple.SimpleEVSE` configured from the profile, asked the way our runner asks any controller
(:data:`~iso15118.transport.runner.INPUT_CALLS`). In -20's Scheduled mode the tester sends no setpoint: power
follows the schedule (fact sheet 6.3). A paused session is kept for the EV's resumption.

A case then chooses another response code (a FAILED one is the profile's minimal failure response), another
response type, an EVSE notification, or changes any field by dotted path; the -20 profile may ask for another
ScheduleTupleID and schedule power, which the tester then remembers as offered.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping
from typing import Any

from harness.conformance.context import Context
from harness.conformance.fields import apply_fields, header
from iso15118.config import SeccConfig
from iso15118.decisions import Input, Inputs, Need, SeccEnv, StorePaused, TakePaused, settle
from iso15118.errors import ConfigError
from iso15118.iso20.pnc import PncVerifier
from iso15118.messages.app_protocol import ResponseCode as SapCode
from iso15118.security.certs import STRICT, TOLERANT
from iso15118.security.sigprofile import INTEROP_PROFILE, ISO20_PROFILE
from iso15118.session.sap import SapKind, answer_sap
from iso15118.simple import SimpleEVSE, SimpleEVSEConfig
from iso15118.transport.runner import INPUT_CALLS

__all__ = ["build_response"]

_INPUTS = len(Input) + 1


def _config(ctx: Context) -> SeccConfig:
    p = ctx.profile
    return SeccConfig(
        evse_id=ctx.config.evse_id,
        protocols=(ctx.protocol.namespace(p.family),),
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
                three_phase=p.evse_three_phase,
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
    if need.what is Input.LOOP_COMMAND and not getattr(ctx.secc, "dynamic", True):
        # -20 Scheduled: power follows the schedule; a target is only for grid-code limitations (fact sheet 6.3).
        value = dataclasses.replace(value, target_power_w=None)
    return value


async def _decide(request: Any, kind: str, ctx: Context) -> Any:
    """The library SECC's answer to ``request``; its context and effects are kept."""
    protocol = ctx.protocol
    if ctx.selection is None:
        ctx.selection = protocol.profile.selection_for(protocol.namespace(ctx.profile.family))
    logic = protocol.secc_logic(_config(ctx), _pnc(ctx))
    if ctx.secc is None:
        ctx.secc = logic.initial()
    now = time.time()
    env = SeccEnv(
        now=now,
        header=header(ctx),
        session_id=ctx.session_id,
        selection=ctx.selection,
        inputs=Inputs(),
        peer=None,
        entropy=os.urandom(32),
        dc_capable=True,
    )

    def run(inputs: Inputs) -> Any:
        return logic.decide(protocol.kinds(kind), request, ctx.secc, dataclasses.replace(env, inputs=inputs))

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
    """SupportedAppProtocol: the tester accepts the case's namespace only; the session starts on it."""
    protocol = ctx.protocol
    response, namespace = answer_sap(request, (protocol.offer(ctx.profile.family),))
    if namespace is not None:
        ctx.selection, ctx.state = protocol.profile.selection_for(namespace), protocol.profile.initial_state
    return response if code is None else dataclasses.replace(response, response_code=SapCode(code))


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
    protocol = ctx.protocol
    found = protocol.kind_of(request)
    if found is None:
        raise ConfigError(f"{type(request).__name__} is not a request the tester answers")
    if found == SapKind.supportedAppProtocolReq:
        return apply_fields(_sap(request, ctx, code), fields or {}, ctx)
    if kind is not None:
        response = protocol.minimal(kind, ctx.session_id)
    elif code is not None and protocol.profile.is_failed(code):
        response = protocol.failure(request, found, code, header(ctx))
    else:
        response = await _decide(request, found, ctx)
        if code is not None:
            element = protocol.body(response)
            changed = dataclasses.replace(element, response_code=type(element.response_code)(code))
            response = protocol.with_body(response, changed)
        response = protocol.adjust(ctx, found, response)
    if notification is not None:
        response = protocol.notify(response, notification)
    response = apply_fields(response, fields or {}, ctx)
    protocol.remember(ctx, found, request, response)
    ctx.last_response = response
    return response
