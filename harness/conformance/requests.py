"""The tester's requests when it plays the EV: a valid default for every -20 AC request kind.

Defaults follow the case's :class:`~harness.conformance.model.Profile` and what the tester learned from the SUT
(SessionID, GenChallenge, parameter sets, schedule tuples); a case changes any field by dotted path. PnC
requests are signed with the tester's contract (:mod:`iso15118.security.signed_messages`); the context value
``contract`` may replace it (an expired or foreign contract), ``challenge`` the GenChallenge echoed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from harness.conformance.context import Context
from harness.conformance.fields import apply_fields, header
from iso15118.constants import NS_ISO20_AC
from iso15118.errors import ConfigError
from iso15118.iso20.contract import signed_authorization, signed_metering
from iso15118.iso20.services import AC_BPT, loop_mode_field
from iso15118.messages import iso20 as m
from iso15118.messages.app_protocol import AppProtocol, supportedAppProtocolReq
from iso15118.messages.units import rational
from iso15118.security.credentials import ContractCredentials
from iso15118.session.failures import minimal_instance

__all__ = ["REQUEST_CLASSES", "build_request", "default_parameter_set"]

REQUEST_CLASSES: dict[str, type] = {
    "supportedAppProtocolReq": supportedAppProtocolReq,
    **{name: getattr(m, name) for name in dir(m) if name.endswith("Req") and isinstance(getattr(m, name), type)},
}


def _bpt(ctx: Context) -> bool:
    return ctx.profile.service == AC_BPT


def _sap(ctx: Context) -> Any:
    offer = AppProtocol(
        protocol_namespace=NS_ISO20_AC, version_number_major=1, version_number_minor=0, schema_id=1, priority=1
    )
    return supportedAppProtocolReq(app_protocol=(offer,))


def _session_setup(ctx: Context) -> Any:
    return m.SessionSetupReq(header=header(ctx, bytes(8)), evcc_id=ctx.config.evcc_id)


def _contract(ctx: Context) -> ContractCredentials:
    contract = ctx.values.get("contract")
    if isinstance(contract, ContractCredentials):
        return contract
    if ctx.config.credentials is None:
        raise ConfigError("PnC needs the tester's PKI (--pki)")
    return ctx.config.credentials.contract()


def _authorization(ctx: Context) -> Any:
    if ctx.profile.auth == "PnC":
        challenge = ctx.values.get("challenge", ctx.gen_challenge)
        if challenge is None:
            raise ConfigError("the SUT sent no GenChallenge for PnC")
        return signed_authorization(header(ctx), challenge, _contract(ctx))
    return m.AuthorizationReq(
        header=header(ctx),
        selected_authorization_service=m.Authorization.EIM,
        eim_a_req_authorization_mode=m.EIM_AReqAuthorizationMode(),
    )


def default_parameter_set(ctx: Context) -> int:
    """The ParameterSetID of the SUT's offer with the profile's control mode (the first one if none)."""
    wanted = 2 if ctx.profile.dynamic else 1
    for spec in ctx.parameter_sets:
        if spec.control_mode == wanted:
            return spec.set_id
    if ctx.parameter_sets:
        raise ConfigError(
            f"the SUT offers no parameter set with ControlMode {wanted} for service {ctx.profile.service}"
        )
    return 1


def _service_selection(ctx: Context) -> Any:
    selected = m.SelectedService(service_id=ctx.profile.service, parameter_set_id=default_parameter_set(ctx))
    return m.ServiceSelectionReq(header=header(ctx), selected_energy_transfer_service=selected)


def _charge_parameters(ctx: Context) -> Any:
    p = ctx.profile
    common = {
        "ev_maximum_charge_power": rational(p.ev_max_charge_w),
        "ev_minimum_charge_power": rational(p.ev_min_charge_w),
    }
    if _bpt(ctx):
        mode = m.BPT_AC_CPDReqEnergyTransferMode(
            **common,
            ev_maximum_discharge_power=rational(p.ev_max_discharge_w),
            ev_minimum_discharge_power=rational(p.ev_min_discharge_w),
        )
        return m.AC_ChargeParameterDiscoveryReq(header=header(ctx), bpt_ac_cpd_req_energy_transfer_mode=mode)
    return m.AC_ChargeParameterDiscoveryReq(
        header=header(ctx), ac_cpd_req_energy_transfer_mode=m.AC_CPDReqEnergyTransferMode(**common)
    )


_ENERGY: dict[str, Any] = {
    "ev_target_energy_request": rational(20_000),
    "ev_maximum_energy_request": rational(30_000),
    "ev_minimum_energy_request": rational(-10_000),
}


def _schedule_exchange(ctx: Context) -> Any:
    if ctx.profile.dynamic:
        v2x: dict[str, Any] = (
            {"ev_maximum_v2x_energy_request": rational(20_000), "ev_minimum_v2x_energy_request": rational(-10_000)}
            if _bpt(ctx)
            else {}
        )
        mode: dict[str, Any] = {
            "dynamic_se_req_control_mode": m.Dynamic_SEReqControlMode(departure_time=7200, **_ENERGY, **v2x)
        }
    else:
        mode = {"scheduled_se_req_control_mode": m.Scheduled_SEReqControlMode(departure_time=7200, **_ENERGY)}
    return m.ScheduleExchangeReq(header=header(ctx), maximum_supporting_points=1024, **mode)


def _power_delivery(ctx: Context, progress: str) -> Any:
    p = ctx.profile
    profile = None
    if progress in ("Start", "ScheduleRenegotiation"):
        power = -p.ev_max_discharge_w if p.discharge else p.ev_max_charge_w
        entries = m.EVPowerProfileEntryList(
            ev_power_profile_entry=(m.PowerScheduleEntry(duration=3600, power=rational(power)),)
        )
        if p.dynamic:
            profile = m.EVPowerProfile(
                time_anchor=int(time.time()),
                dynamic_evppt_control_mode=m.Dynamic_EVPPTControlMode(),
                ev_power_profile_entries=entries,
            )
        else:
            tuple_id = ctx.schedule_ids[0] if ctx.schedule_ids else 1
            profile = m.EVPowerProfile(
                time_anchor=int(time.time()),
                scheduled_evppt_control_mode=m.Scheduled_EVPPTControlMode(
                    selected_schedule_tuple_id=tuple_id,
                    power_tolerance_acceptance=m.PowerToleranceAcceptance.PowerToleranceConfirmed,
                ),
                ev_power_profile_entries=entries,
            )
    channel = None
    if _bpt(ctx) and progress != "Stop":
        channel = m.ChannelSelection.Discharge if p.discharge else m.ChannelSelection.Charge
    return m.PowerDeliveryReq(
        header=header(ctx),
        ev_processing=m.Processing.Finished,
        charge_progress=m.ChargeProgress(progress),
        ev_power_profile=profile,
        bpt_channel_selection=channel,
    )


def _present_power(ctx: Context) -> float:
    """The tester EV follows the SUT's last setpoint (else it draws its maximum in the chosen direction)."""
    p = ctx.profile
    if ctx.target_w is not None:
        return max(-p.ev_max_discharge_w, min(p.ev_max_charge_w, ctx.target_w))
    return -p.ev_max_discharge_w if p.discharge else p.ev_max_charge_w


def _charge_loop(ctx: Context) -> Any:
    p, bpt = ctx.profile, _bpt(ctx)
    fields: dict[str, Any] = {
        "ev_present_active_power": rational(_present_power(ctx)),
        **_ENERGY,
        "ev_maximum_charge_power": rational(p.ev_max_charge_w),
    }
    if p.dynamic:
        fields |= {"ev_minimum_charge_power": rational(p.ev_min_charge_w), "ev_present_reactive_power": rational(0)}
        if bpt:
            fields |= {"ev_minimum_discharge_power": rational(p.ev_min_discharge_w)}
    if bpt:
        fields["ev_maximum_discharge_power"] = rational(p.ev_max_discharge_w)
    prefix = ("BPT_" if bpt else "") + ("Dynamic" if p.dynamic else "Scheduled")
    mode = getattr(m, f"{prefix}_AC_CLReqControlMode")(**fields)
    return m.AC_ChargeLoopReq(
        header=header(ctx), meter_info_requested=p.meter_info_requested, **{loop_mode_field(bpt, p.dynamic): mode}
    )


def _metering(ctx: Context) -> Any:
    meter = ctx.meter or {"charged_wh": 0, "discharged_wh": 0}
    return signed_metering(header(ctx), ctx.session_id, meter, ctx.profile.dynamic, _contract(ctx))


_BUILDERS: dict[str, Callable[[Context], Any]] = {
    "supportedAppProtocolReq": _sap,
    "SessionSetupReq": _session_setup,
    "AuthorizationReq": _authorization,
    "ServiceDetailReq": lambda ctx: m.ServiceDetailReq(header=header(ctx), service_id=ctx.profile.service),
    "ServiceSelectionReq": _service_selection,
    "AC_ChargeParameterDiscoveryReq": _charge_parameters,
    "ScheduleExchangeReq": _schedule_exchange,
    "AC_ChargeLoopReq": _charge_loop,
    "MeteringConfirmationReq": _metering,
    "SessionStopReq": lambda ctx: m.SessionStopReq(header=header(ctx), charging_session=m.ChargingSession.Terminate),
}


def build_request(kind: str, ctx: Context, fields: Mapping[str, Any]) -> Any:
    """The default ``kind`` request for the case's profile and the tester's context, with ``fields`` applied."""
    if kind == "PowerDeliveryReq":
        progress = fields.get("charge_progress", m.ChargeProgress.Start)
        msg = _power_delivery(ctx, str(progress))
    elif kind in _BUILDERS:
        msg = _BUILDERS[kind](ctx)
    elif kind in REQUEST_CLASSES:
        msg = minimal_instance(REQUEST_CLASSES[kind], override={"header": header(ctx)})
    else:
        raise ConfigError(f"unknown request {kind!r}")
    return apply_fields(msg, fields, ctx)
