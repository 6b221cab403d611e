"""The tester's requests when it plays the EV: the library's EVCC request builders, fed by the case's profile.

The tester EV is configured like any EVCC (:class:`~iso15118.config.EvccConfig` and an
:class:`~iso15118.controller.EVState`, both made from the case's :class:`~harness.conformance.model.Profile`),
so :data:`iso15118.iso20.evcc.BUILD` builds every request it sends; SupportedAppProtocolReq comes from
:func:`~iso15118.session.sap.sap_request`, and requests an EV never builds on its own (CertificateInstallation,
VehicleCheckIn...) are minimal valid instances. What the EV remembers between requests (the service and
parameter set it chose, the GenChallenge, the schedule, the precharge and welding progress, its decision to
stop) is the library's :class:`~iso15118.iso20.evcc.EvccContext`, updated after every response by the
library's EVCC decisions (:func:`learn`). A case then changes any field by dotted path; the context value
``contract`` replaces the contract credentials (an expired or foreign contract), ``challenge`` the GenChallenge
echoed, and ``as_if`` (EvccContext fields, for one request) builds a request as if the EV had chosen otherwise
(another service or control mode: a BPT element in a DC session...).

None of this judges the SUT: the checks on its responses are :mod:`~harness.conformance.secc_rules`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any, Final

from harness.conformance.checks import NotApplicable
from harness.conformance.context import Context
from harness.conformance.fields import apply_fields
from harness.conformance.model import Need
from harness.conformance.path import NAMESPACE, class_of, selection_of
from iso15118.config import EvccConfig
from iso15118.constants import PayloadType
from iso15118.controller import ChargeDirection, ControlMode, EVLimits, EVState
from iso15118.errors import ConfigError
from iso15118.iso20 import evcc
from iso15118.iso20.evcc import EvccContext, EvccView
from iso15118.iso20.kinds import PAYLOAD_TYPE_OF, Kind
from iso15118.iso20.profile import ISO20, OFFERS
from iso15118.iso20.services import mode_of_service, parse_parameter_set
from iso15118.messages import iso20 as m
from iso15118.security.credentials import ContractCredentials
from iso15118.session.failures import minimal_instance
from iso15118.session.profile import Stream
from iso15118.session.sap import SapKind, sap_request
from iso15118.session.selection import EnergyFamily

__all__ = ["build_request", "ev_view", "learn", "reset_ev", "stopping"]

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
        authorization=p.auth,
        credentials=_contract(ctx),
        control_mode=ControlMode.DYNAMIC if p.dynamic else ControlMode.SCHEDULED,
        bidirectional=_bidirectional(ctx),
        meter_info_requested=p.meter_info_requested,
        power_tolerance_acceptance=str(m.PowerToleranceAcceptance.PowerToleranceConfirmed),
    )


def _present_power(ctx: Context, ev: EvccContext) -> float:
    """The tester EV follows the SUT's last setpoint (else it draws its maximum in the chosen direction)."""
    p = ctx.profile
    if ev.target_w is not None:
        return max(-p.ev_max_discharge_w, min(p.ev_max_charge_w, ev.target_w))
    return -p.ev_max_discharge_w if p.discharge else p.ev_max_charge_w


def _state(ctx: Context, ev: EvccContext) -> EVState:
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
    """A new session of the tester EV: it wants the profile's service, control mode and authorization (a
    resumed session: the service its paused session had, [V2G20-2539])."""
    p = ctx.profile
    service = ctx.selected_service if ctx.paused_session_id is not None and ctx.selected_service else p.service
    ctx.ev = EvccContext(service_id=service, parameter_set=1, dynamic=p.dynamic, authorization=p.auth)
    ctx.ev_stop = None


_FAMILY_OF_PAYLOAD: Final = {PayloadType.ISO20_AC: EnergyFamily.AC, PayloadType.ISO20_DC: EnergyFamily.DC}


def ev_view(ctx: Context, stream: Stream = Stream.MAIN, kind: Kind | None = None) -> EvccView:
    """The library EVCC's view of the tester EV now (for a ``kind`` of one energy family: in a session of that
    family, so that an AC request is built as one even in a DC session)."""
    if ctx.ev is None:
        reset_ev(ctx)
    assert ctx.ev is not None
    ev = ctx.ev
    now = time.time()
    family = _FAMILY_OF_PAYLOAD.get(PAYLOAD_TYPE_OF[kind], ctx.profile.family) if kind else ctx.profile.family
    selection = dataclasses.replace(selection_of(family), service_id=ev.service_id)
    return EvccView(
        now=now,
        ctx=ev,
        config=_config(ctx),
        ev=_state(ctx, ev),
        header=m.MessageHeader(session_id=ctx.session_id, time_stamp=int(now)),
        session_id=ctx.session_id,
        selection=selection,
    )


def _unsigned(kind: str, ctx: Context) -> bool:
    """A CertificateInstallationReq the tester EV cannot sign (no provisioning credentials): the minimal one."""
    return kind == Kind.CertificateInstallationReq and _config(ctx).provisioning is None


def build_request(kind: str, ctx: Context, fields: Mapping[str, Any], stream: Stream = Stream.MAIN) -> Any:
    """The tester EV's ``kind`` request now, with ``fields`` applied."""
    if kind == SapKind.supportedAppProtocolReq:
        msg: Any = sap_request((OFFERS[NAMESPACE[ctx.profile.family]],))
    elif kind in Kind.__members__ and Kind(kind) in evcc.BUILD and not _unsigned(kind, ctx):
        if ctx.ev_stop is not None:
            raise NotApplicable(ctx.ev_stop)
        view = ev_view(ctx, stream, Kind(kind))
        as_if = dict(ctx.values.pop("as_if", None) or {})
        if "challenge" in ctx.values:
            as_if["gen_challenge"] = ctx.values["challenge"]
        if as_if:
            # The stimulus: build this request as if the EV had chosen otherwise (another service, challenge...).
            view = dataclasses.replace(view, ctx=dataclasses.replace(view.ctx, **as_if))
        msg = evcc.build(Kind(kind), view, stream)
    elif kind in Kind.__members__:
        header = m.MessageHeader(session_id=ctx.session_id, time_stamp=int(time.time()))
        msg = minimal_instance(class_of(kind), override={"header": header})
    else:
        raise ConfigError(f"unknown request {kind!r}")
    return apply_fields(msg, fields, ctx)


def stopping(ctx: Context, how: str) -> None:
    """The tester EV decides to stop: PowerDelivery(Stop), then SessionStop(``how``)."""
    if ctx.ev is None:
        reset_ev(ctx)
    assert ctx.ev is not None
    ctx.ev = dataclasses.replace(ctx.ev, stopping=how)


def learn(ctx: Context, stream: Stream, request: Any, response: Any) -> None:
    """What the tester EV makes of a response: the library EVCC's decision for it, without its sends.

    A FAILED response teaches nothing. When the decision stops the EV, or takes something other than a service
    the case needs (the SUT does not offer what the case asks for), the reason is kept as "needs X: the SUT
    offers Y", and building the next request raises it as :class:`NotApplicable` (an inconclusive case)."""
    found = ISO20.kind_of(response)
    if found is None or ISO20.is_failed(ISO20.response_code(response)):
        return
    kind = Kind(found)
    after = evcc.NEXT_SIDE.get((stream, kind)) or evcc.NEXT.get(kind)
    if after is None:
        return
    step = after(response, request, ev_view(ctx, stream))
    ctx.ev = step.ctx
    if step.stop is not None:
        ctx.ev_stop = _unmet(ctx, kind, response) or step.stop
    elif kind is Kind.ServiceDiscoveryRes and Need.BPT in ctx.needs and step.ctx.service_id != ctx.profile.service:
        # The library EV takes the plain service when BPT is not offered; a case that needs BPT cannot.
        ctx.ev_stop = _unmet(ctx, kind, response)


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


_MODE_NAMES: Final = {1: "Scheduled", 2: "Dynamic"}
