"""The tester's requests when it plays the EV: the library's EVCC decisions of the case's protocol, fed by the
case's profile.

The tester EV is configured like any EVCC (:class:`~iso15118.config.EvccConfig` and an
:class:`~iso15118.controller.EVState`, both made from the case's :class:`~harness.conformance.model.Profile`),
so the generation's EVCC decisions (:meth:`~iso15118.decisions.EvccLogic.build`) build every request it sends;
SupportedAppProtocolReq comes from :func:`~iso15118.session.sap.sap_request`, and requests an EV never builds on
its own (CertificateInstallation, VehicleCheckIn...) are minimal valid instances. What the EV remembers between
requests (its choices, the GenChallenge, the schedule, the precharge and welding progress, its decision to stop)
is the library EVCC's context, updated after every response by the library's decision (:func:`learn`), which also
says which request the EV would send next (``Context.ev_next``). A case then changes any field by dotted path; the
context value ``contract`` replaces the contract credentials (an expired or foreign contract), ``challenge`` the
GenChallenge echoed, and ``as_if`` (fields of the EVCC context, for one request) builds a request as if the EV
had chosen otherwise (another service or control mode: a BPT element in a DC session, an AC mode in -2...).

None of this judges the SUT: the checks on its responses are the rule modules.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

from harness.conformance.checks import NotApplicable
from harness.conformance.context import Context
from harness.conformance.fields import apply_fields
from iso15118.config import EvccConfig
from iso15118.controller import ChargeDirection, ControlMode, EVLimits, EVState
from iso15118.decisions import EvccEnv
from iso15118.errors import ConfigError
from iso15118.iso20.services import mode_of_service
from iso15118.messages import iso20 as m
from iso15118.security.credentials import ContractCredentials
from iso15118.session.profile import Stream
from iso15118.session.sap import SapKind, sap_request

__all__ = ["build_request", "ev_env", "learn", "reset_ev", "stopping"]

#: The tester EV's energy requests (Wh): Min <= MinV2X <= MaxV2X <= Max [V2G20-2125].
_MAX_WH, _MIN_WH, _TARGET_WH = 30_000.0, -10_000.0, 20_000.0


def _bidirectional(ctx: Context) -> bool:
    mode = mode_of_service(ctx.profile.service)
    return mode is not None and mode.bidirectional


def _contract(ctx: Context) -> ContractCredentials | None:
    contract = ctx.values.get("contract")
    if isinstance(contract, ContractCredentials):
        return contract
    if ctx.profile.auth != "PnC":
        return None
    if ctx.config.credentials is None:
        raise ConfigError("PnC needs the tester's PKI (--pki)")
    return ctx.config.credentials.contract()


def _evcc_id(ctx: Context) -> str:
    """The tester EV's EVCCID: as configured, else its vehicle certificate's CN [V2G20-2598]."""
    creds = ctx.config.credentials
    return ctx.config.evcc_id or (creds.evcc_id if creds is not None else "WMIV2GCONFORMANCE01")


def _config(ctx: Context) -> EvccConfig:
    p = ctx.profile
    return EvccConfig(
        evcc_id=_evcc_id(ctx),
        energy=p.family,
        protocols=(ctx.protocol.namespace(p.family),),
        authorization=p.auth,
        credentials=_contract(ctx),
        control_mode=ControlMode.DYNAMIC if p.dynamic else ControlMode.SCHEDULED,
        bidirectional=_bidirectional(ctx),
        meter_info_requested=p.meter_info_requested,
        power_tolerance_acceptance=str(m.PowerToleranceAcceptance.PowerToleranceConfirmed),
    )


def _present_power(ctx: Context, ev: Any) -> float:
    """The tester EV follows the SUT's last setpoint (else it draws its maximum in the chosen direction)."""
    p = ctx.profile
    target = getattr(ev, "target_w", None)
    if target is not None:
        return max(-p.ev_max_discharge_w, min(p.ev_max_charge_w, float(target)))
    return -p.ev_max_discharge_w if p.discharge else p.ev_max_charge_w


def _state(ctx: Context, ev: Any) -> EVState:
    p = ctx.profile
    limits = EVLimits(
        max_charge_w=p.ev_max_charge_w,
        min_charge_w=p.ev_min_charge_w,
        max_discharge_w=p.ev_max_discharge_w,
        min_discharge_w=p.ev_min_discharge_w,
        bidirectional=_bidirectional(ctx),
        max_voltage_v=p.ev_max_voltage_v,
        min_voltage_v=p.ev_min_voltage_v,
        max_charge_current_a=p.ev_max_current_a,
        max_discharge_current_a=p.ev_max_current_a,
    )
    return EVState(
        soc=50.0,
        present_power_w=_present_power(ctx, ev),
        limits=limits,
        direction=ChargeDirection.DISCHARGE if p.discharge else ChargeDirection.CHARGE,
        departure_s=7200,
        present_voltage_v=p.ev_voltage_v,
        target_energy_wh=_TARGET_WH,
        max_energy_wh=_MAX_WH,
        min_energy_wh=_MIN_WH,
        # The V2X window, with a BPT service only: sent together or not at all [V2G20-2124/2681].
        max_v2x_energy_wh=_TARGET_WH if _bidirectional(ctx) else None,
        min_v2x_energy_wh=_MIN_WH if _bidirectional(ctx) else None,
    )


def reset_ev(ctx: Context) -> None:
    """A new session of the tester EV: the protocol's initial context with the profile's choices made."""
    ctx.ev = ctx.protocol.ev_start(ctx)
    ctx.ev_next = None
    ctx.ev_stop = None


def ev_env(ctx: Context, kind: str | None = None) -> EvccEnv:
    """What the library EVCC is told about the tester EV now (for a ``kind`` of one energy family: in a session of
    that family, so that an AC request is built as one even in a DC session)."""
    if ctx.ev is None:
        reset_ev(ctx)
    now = time.time()
    family = ctx.protocol.ev_family(kind, ctx) if kind else ctx.profile.family
    selection = ctx.protocol.selection(family)
    service = getattr(ctx.ev, "service_id", None)
    if service is not None:
        selection = dataclasses.replace(selection, service_id=service)
    return EvccEnv(
        now=now,
        header=ctx.protocol.profile.header(ctx.session_id, now),
        session_id=ctx.session_id,
        selection=selection,
        ev=_state(ctx, ctx.ev),
    )


def _unsigned(kind: str, ctx: Context) -> bool:
    """A CertificateInstallationReq the tester EV cannot sign (no provisioning credentials): the minimal one."""
    return kind == "CertificateInstallationReq" and _config(ctx).provisioning is None


def build_request(kind: str, ctx: Context, fields: Mapping[str, Any], stream: Stream = Stream.MAIN) -> Any:
    """The tester EV's ``kind`` request now, with ``fields`` applied."""
    protocol = ctx.protocol
    if kind == SapKind.supportedAppProtocolReq:
        msg: Any = sap_request((protocol.offer(ctx.profile.family),))
    elif protocol.builds(kind) and not _unsigned(kind, ctx):
        if ctx.ev_stop is not None:
            raise NotApplicable(ctx.ev_stop)
        env = ev_env(ctx, kind)
        ev = ctx.ev
        as_if = dict(ctx.values.pop("as_if", None) or {})
        if "challenge" in ctx.values:
            as_if["gen_challenge"] = ctx.values["challenge"]
        if as_if:
            # The stimulus: build this request as if the EV had chosen otherwise (another service, challenge...).
            ev = dataclasses.replace(ev, **as_if)
        msg = protocol.evcc_logic(_config(ctx)).build(protocol.kinds(kind), stream, ev, env)
    elif kind in protocol.kinds.__members__:
        msg = protocol.minimal(kind, ctx.session_id)
    else:
        raise ConfigError(f"unknown request {kind!r}")
    return apply_fields(msg, fields, ctx)


def stopping(ctx: Context, how: str) -> None:
    """The tester EV decides to stop: PowerDelivery(Stop), then SessionStop(``how``)."""
    if ctx.ev is None:
        reset_ev(ctx)
    ctx.ev = ctx.protocol.ev_stopping(ctx.ev, how)


def learn(ctx: Context, stream: Stream, request: Any, response: Any) -> None:
    """What the tester EV makes of a response: the library EVCC's decision for it, without its sends (the first
    of them is kept as ``ev_next``).

    A FAILED response teaches nothing. When the decision stops the EV, or takes something other than what the case
    needs (the SUT does not offer what the case asks for), the reason is kept as "needs X: the SUT offers Y", and
    building the next request raises it as :class:`NotApplicable` (an inconclusive case)."""
    protocol = ctx.protocol
    found = protocol.profile.kind_of(response)
    if found is None or protocol.profile.is_failed(protocol.profile.response_code(response)):
        return
    if not protocol.ev_decides(str(found), stream):
        return
    if ctx.ev is None:
        reset_ev(ctx)
    logic = protocol.evcc_logic(_config(ctx))
    step = logic.after(found, stream, response, request, ctx.ev, ev_env(ctx))
    ctx.ev = step.ctx
    ctx.ev_next = str(step.sends[0].kind) if step.sends else None
    unmet = protocol.ev_unmet(ctx, str(found), response, step)
    if unmet is not None:
        ctx.ev_stop = unmet
