"""Checks on an EVCC's requests (the tester is the SECC), each naming the rule of the fact sheet it enforces.

They read the wire only and serve every energy family where the rule is the same; the DC ones are at the end.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from harness.conformance.checks import check
from harness.conformance.context import ZERO_SESSION, Context, cpd_element, limits_of
from harness.conformance.path import NAMESPACE, kind_of, session_path
from iso15118.errors import SecurityError
from iso15118.iso20.kinds import Kind
from iso15118.iso20.services import loop_request_mode, mode_of_service
from iso15118.messages.units import value_of
from iso15118.security.certs import STRICT, TOLERANT
from iso15118.security.signed_messages import verify_message_chain
from iso15118.security.sigprofile import INTEROP_PROFILE, ISO20_PROFILE

__all__ = [
    "CHARGING_SESSION",
    "CPD_MATCHES_SELECTION",
    "DEPARTURE_TIME",
    "ECHOES_CHALLENGE",
    "ENERGY_ORDER",
    "EVCC_ID",
    "EV_LIMITS_ORDERED",
    "LOOP_MATCHES_SELECTION",
    "METERING_SIGNATURE",
    "NEW_SESSION_ZERO_ID",
    "NO_DISCHARGE_WITHOUT_BPT",
    "OFFERS_NAMESPACE",
    "OFFER_PRIORITIES",
    "PD_SCHEDULE_TUPLE",
    "PD_START",
    "PD_STOP",
    "PNC_SIGNATURE",
    "PRECHARGE_MATCHED",
    "PRECHARGE_TARGET_IN_WINDOWS",
    "PRESENT_FOLLOWS_TARGET",
    "PRESENT_WITHIN_SCHEDULE",
    "RESUMES_PAUSED_SESSION",
    "SCHEDULE_MATCHES_SELECTION",
    "SELECTS_OFFER",
    "SUPPORTING_POINTS",
    "TARGETS_WITHIN_EVSE_LIMITS",
    "V2X_PAIRED",
    "WELDING_CHECKED",
    "charging_session",
]


@check("SupportedAppProtocolReq offers the session's -20 namespace (AC or DC) version 1", "V2G20-1039")
def OFFERS_NAMESPACE(ctx: Context, req: Any) -> str | None:
    offers = [(o.protocol_namespace, o.version_number_major) for o in req.app_protocol]
    return None if (NAMESPACE[ctx.profile.family], 1) in offers else f"offers {offers}"


def _bidirectional(service: int | None) -> bool:
    mode = mode_of_service(service or 0)
    return mode is not None and mode.bidirectional


@check("offer priorities 1..20 and SchemaIDs unique", "V2G20-167")
def OFFER_PRIORITIES(ctx: Context, req: Any) -> str | None:
    priorities = [o.priority for o in req.app_protocol]
    schema_ids = [o.schema_id for o in req.app_protocol]
    if any(not 1 <= p <= 20 for p in priorities):
        return f"priorities {priorities} outside 1..20"
    if len(set(priorities)) != len(priorities) or len(set(schema_ids)) != len(schema_ids):
        return f"priorities {priorities} / SchemaIDs {schema_ids} not unique"
    return None


@check("a new session starts with SessionID 0x0000000000000000", "V2G20 2.3 (new session)")
def NEW_SESSION_ZERO_ID(ctx: Context, req: Any) -> str | None:
    sid = req.header.session_id
    return None if sid == ZERO_SESSION else f"SessionID {sid.hex()}"


@check("EVCCID is present", "V2G20 2.5 SessionSetupReq")
def EVCC_ID(ctx: Context, req: Any) -> str | None:
    return None if req.evcc_id else "empty EVCCID"


@check("a resuming EV sends the paused SessionID", "V2G20-1032/2539")
def RESUMES_PAUSED_SESSION(ctx: Context, req: Any) -> str | None:
    sid, paused = req.header.session_id, ctx.paused_session_id
    return None if sid == paused else f"SessionID {sid.hex()}, the paused session's is {(paused or b'').hex()}"


@check("GenChallenge echoed", "V2G20-1063 (fact sheet 2.5)")
def ECHOES_CHALLENGE(ctx: Context, req: Any) -> str | None:
    mode = req.pnc_a_req_authorization_mode
    if mode is None:
        return f"{req.selected_authorization_service} authorization, PnC expected"
    return None if mode.gen_challenge == ctx.gen_challenge else "GenChallenge differs from the one sent"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@check("PnC_AReqAuthorizationMode signed with the contract key; chain valid to the MO root", "V2G20-1063")
def PNC_SIGNATURE(ctx: Context, req: Any) -> str | None:
    creds = ctx.config.credentials
    if creds is None:
        return "the tester has no PKI to verify the contract with"
    profile, policy = (INTEROP_PROFILE, TOLERANT) if ctx.config.tolerant else (ISO20_PROFILE, STRICT)
    try:
        validated = verify_message_chain(req, creds.mo_roots(), now=_now(), profile=profile, policy=policy)
    except SecurityError as exc:
        return str(exc)
    ctx.contract_chain = tuple(validated.certificates)
    return None


@check("SignedMeteringData signed with the session's contract key", "V2G20-2704 (fact sheet 2.9)")
def METERING_SIGNATURE(ctx: Context, req: Any) -> str | None:
    creds = ctx.config.credentials
    if creds is None or not ctx.contract_chain:
        return "no contract chain from this session's AuthorizationReq"
    if req.signed_metering_data.session_id != ctx.session_id:
        return f"SignedMeteringData SessionID {req.signed_metering_data.session_id.hex()} is not the session's"
    profile, policy = (INTEROP_PROFILE, TOLERANT) if ctx.config.tolerant else (ISO20_PROFILE, STRICT)
    chain = list(ctx.contract_chain[:-1])
    try:
        verify_message_chain(req, creds.mo_roots(), now=_now(), chain=chain, profile=profile, policy=policy)
    except SecurityError as exc:
        return str(exc)
    return None


@check("the selected service and parameter set were offered", "V2G20-1587 (fact sheet 2.6)")
def SELECTS_OFFER(ctx: Context, req: Any) -> str | None:
    sel = req.selected_energy_transfer_service
    if sel.service_id not in ctx.profile.offered_services:
        return f"service {sel.service_id} was not offered"
    if not 1 <= sel.parameter_set_id <= len(ctx.profile.offered_modes):
        return f"ParameterSetID {sel.parameter_set_id} was not offered"
    return None


@check("the charge-parameter element matches the selected service", "V2G20 2.7")
def CPD_MATCHES_SELECTION(ctx: Context, req: Any) -> str | None:
    bpt, element = cpd_element(req)
    if bpt != _bidirectional(ctx.selected_service):
        return f"{type(element).__name__} after selecting service {ctx.selected_service}"
    return None


@check("EV minimum limits (power, DC voltage) do not exceed the maxima", "V2G20 2.7")
def EV_LIMITS_ORDERED(ctx: Context, req: Any) -> str | None:
    limits = limits_of(cpd_element(req)[1], "ev")
    for low, high in (("min_charge_w", "max_charge_w"), ("min_voltage_v", "max_voltage_v")):
        if low in limits and high in limits and limits[low] > limits[high]:
            return f"EV {low} {limits[low]:g} > {high} {limits[high]:g}"
    return None


@check("the ScheduleExchange control mode is the selected one", "V2G20 2.7")
def SCHEDULE_MATCHES_SELECTION(ctx: Context, req: Any) -> str | None:
    dynamic = req.dynamic_se_req_control_mode is not None
    if ctx.dynamic is not None and dynamic != ctx.dynamic:
        return f"{'Dynamic' if dynamic else 'Scheduled'}_SEReqControlMode after selecting the other mode"
    return None


@check("MaximumSupportingPoints within 12..1024", "V2G20 2.7")
def SUPPORTING_POINTS(ctx: Context, req: Any) -> str | None:
    points = req.maximum_supporting_points
    return None if 12 <= points <= 1024 else f"MaximumSupportingPoints {points}"


@check("Dynamic: DepartureTime > 0", "V2G20-2103/2104")
def DEPARTURE_TIME(ctx: Context, req: Any) -> str | None:
    mode = req.dynamic_se_req_control_mode
    if mode is None:
        return None
    return None if mode.departure_time > 0 else f"DepartureTime {mode.departure_time}"


def _energy_mode(msg: Any) -> Any:
    if kind_of(msg) == Kind.ScheduleExchangeReq:
        return msg.dynamic_se_req_control_mode or msg.scheduled_se_req_control_mode
    found = loop_request_mode(msg)
    return found[2] if found else None


@check("EVMaximumV2XEnergyRequest and EVMinimumV2XEnergyRequest sent together or not at all", "V2G20-2124/2681")
def V2X_PAIRED(ctx: Context, msg: Any) -> str | None:
    mode = _energy_mode(msg)
    top = getattr(mode, "ev_maximum_v2x_energy_request", None)
    bottom = getattr(mode, "ev_minimum_v2x_energy_request", None)
    return None if (top is None) == (bottom is None) else "only one of the two V2X energy requests is present"


@check("Min <= MinV2X <= MaxV2X <= Max energy requests", "V2G20-2125")
def ENERGY_ORDER(ctx: Context, msg: Any) -> str | None:
    mode = _energy_mode(msg)
    names = (
        "ev_minimum_energy_request",
        "ev_minimum_v2x_energy_request",
        "ev_maximum_v2x_energy_request",
        "ev_maximum_energy_request",
    )
    values = [(n, getattr(mode, n, None)) for n in names]
    present = [(n, value_of(v)) for n, v in values if v is not None]
    for (n1, v1), (n2, v2) in itertools.pairwise(present):
        if v1 > v2:
            return f"{n1} {v1:g} Wh > {n2} {v2:g} Wh"
    return None


@check("PowerDelivery(Start)", "V2G20-1596")
def PD_START(ctx: Context, req: Any) -> str | None:
    return None if str(req.charge_progress) == "Start" else f"ChargeProgress {req.charge_progress}"


@check("PowerDelivery(Stop)", "V2G20-1610/1623")
def PD_STOP(ctx: Context, req: Any) -> str | None:
    return None if str(req.charge_progress) == "Stop" else f"ChargeProgress {req.charge_progress}"


@check("Scheduled: the EV selects a ScheduleTupleID the SECC offered", "V2G20 2.7 (FAILED_ScheduleSelectionInvalid)")
def PD_SCHEDULE_TUPLE(ctx: Context, req: Any) -> str | None:
    profile = req.ev_power_profile
    mode = profile.scheduled_evppt_control_mode if profile is not None else None
    if mode is None:
        return "no Scheduled_EVPPTControlMode in PowerDelivery(Start) of a Scheduled session"
    tuple_id = mode.selected_schedule_tuple_id
    return None if tuple_id in ctx.schedule_ids else f"ScheduleTupleID {tuple_id}, offered {ctx.schedule_ids}"


@check("no discharge unless a BPT service was selected", "V2G20-1034/1035")
def NO_DISCHARGE_WITHOUT_BPT(ctx: Context, req: Any) -> str | None:
    if _bidirectional(ctx.selected_service):
        return None
    if kind_of(req) == Kind.PowerDeliveryReq and req.bpt_channel_selection is not None:
        return f"BPT_ChannelSelection {req.bpt_channel_selection} without a BPT service"
    found = loop_request_mode(req)
    if found is None:
        return None
    if found[0]:
        return f"{type(found[2]).__name__} without a BPT service"
    for name in ("ev_present_active_power", "ev_target_current"):
        value = getattr(found[2], name, None)
        if value is not None and value_of(value) < 0:
            return f"negative {name} (discharge) without a BPT service"
    return None


@check("the charge-loop control mode matches the selected service and control mode", "V2G20 2.8")
def LOOP_MATCHES_SELECTION(ctx: Context, req: Any) -> str | None:
    found = loop_request_mode(req)
    if found is None:
        return "no control mode element"
    bpt, dynamic, element = found
    if bpt != _bidirectional(ctx.selected_service) or (ctx.dynamic is not None and dynamic != ctx.dynamic):
        return f"{type(element).__name__} for service {ctx.selected_service}, dynamic={ctx.dynamic}"
    return None


@check("EVPresentActivePower follows the EVSE's setpoint (same sign, not above it)", "V2G20 fact sheet 6.3")
def PRESENT_FOLLOWS_TARGET(ctx: Context, req: Any) -> str | None:
    target = ctx.target_w
    found = loop_request_mode(req)
    if target is None or found is None or getattr(found[2], "ev_present_active_power", None) is None:
        return None
    present = value_of(found[2].ev_present_active_power)
    if target == 0:
        return None if abs(present) < 1 else f"present power {present:g} W for a 0 W setpoint"
    if present == 0:
        return f"present power 0 W for a setpoint of {target:g} W"
    if (present > 0) != (target > 0):
        return f"present power {present:g} W against a setpoint of {target:g} W"
    return None if abs(present) <= abs(target) + 1 else f"present power {present:g} W above the setpoint {target:g} W"


@check("EVPresentActivePower within the EVSE's schedule and maximum", "V2G20 fact sheet 6.3 (Scheduled)")
def PRESENT_WITHIN_SCHEDULE(ctx: Context, req: Any) -> str | None:
    found = loop_request_mode(req)
    if found is None or getattr(found[2], "ev_present_active_power", None) is None:
        return None
    p = ctx.profile
    limit = min(p.evse_max_charge_w, p.schedule_w if p.schedule_w is not None else p.evse_max_charge_w)
    present = value_of(found[2].ev_present_active_power)
    return None if present <= limit + 1 else f"present power {present:g} W above the schedule's {limit:g} W"


def charging_session(kind: str) -> Any:
    """SessionStopReq with ChargingSession ``kind``."""

    @check(f"SessionStop({kind})", "V2G20 2.5")
    def fn(ctx: Context, req: Any) -> str | None:
        return None if str(req.charging_session) == kind else f"ChargingSession {req.charging_session}"

    return fn


CHARGING_SESSION = charging_session("Terminate")


# ---- DC --------------------------------------------------------------------------------------------------------
PRECHARGE_MATCH_V = 20.0
"""The tester's bound on |EVSEPresentVoltage - EVTargetVoltage| when the EV ends its precharge."""


@check("PowerDelivery(Start) after a precharge the EV ended (Finished) on matched voltages", "V2G20 DC sequence")
def PRECHARGE_MATCHED(ctx: Context, req: Any) -> str | None:
    if not any(hop.kind == Kind.DC_PreChargeReq for hop in session_path(ctx.profile.family)):
        return None  # the family's sequence has no precharge (AC)
    target, seen = ctx.values.get("precharge_target_v"), ctx.values.get("precharge_seen_v")
    if target is None:
        return "PowerDelivery(Start) without a precharge"
    if ctx.values.get("precharge_processing") != "Finished":
        return "the last DC_PreChargeReq said EVProcessing Ongoing"
    if seen is None:
        return "the EV ended its precharge before any DC_PreChargeRes"
    gap = abs(seen - target)
    if gap > PRECHARGE_MATCH_V:
        return f"precharge ended {gap:g} V from the target {target:g} V (tester's bound {PRECHARGE_MATCH_V:g} V)"
    return None


@check("EVTargetVoltage of the precharge within the EV's and the EVSE's voltage windows", "V2G20 DC_PreCharge")
def PRECHARGE_TARGET_IN_WINDOWS(ctx: Context, req: Any) -> str | None:
    target = value_of(req.ev_target_voltage)
    for side, limits in (("EV", ctx.ev_limits), ("EVSE", ctx.evse_limits)):
        low, high = limits.get("min_voltage_v"), limits.get("max_voltage_v")
        if low is not None and high is not None and not low <= target <= high:
            return f"EVTargetVoltage {target:g} V outside the {side}'s {low:g}-{high:g} V"
    return None


@check("EVTargetVoltage and EVTargetCurrent within the EVSE's announced maxima", "V2G20 DC_ChargeParameterDiscovery")
def TARGETS_WITHIN_EVSE_LIMITS(ctx: Context, req: Any) -> str | None:
    found = loop_request_mode(req)
    element = found[2] if found else None
    for name, limit, unit in (
        ("ev_target_voltage", "max_voltage_v", "V"),
        ("ev_target_current", "max_charge_a", "A"),
    ):
        value, bound = getattr(element, name, None), ctx.evse_limits.get(limit)
        if value is not None and bound is not None and abs(value_of(value)) > bound + 1.0:
            return f"{name} {value_of(value):g} {unit} above the EVSE's {bound:g} {unit}"
    return None


@check("welding detection declared Finished only after a DC_WeldingDetectionRes", "V2G20 DC sequence (welding)")
def WELDING_CHECKED(ctx: Context, req: Any) -> str | None:
    seen = ctx.values.get("welding_finished_after")
    if seen is not None and seen < 1:
        return "the first DC_WeldingDetectionReq already said EVProcessing Finished, before any measurement"
    return None
