"""Checks on an SECC's responses (the tester is the EV), each naming the rule of the fact sheet it enforces.

The checks read the wire: what the SECC answered, and what the tester asked. They serve every energy family
where the rule is the same (the charge-parameter element matches the service, the loop response mirrors the
request's control mode...); the DC ones are at the end.
"""

from __future__ import annotations

from typing import Any

from harness.conformance.checks import Check, NotApplicable, check
from harness.conformance.context import ZERO_SESSION, Context, cpd_element, limits_of
from harness.conformance.path import NAMESPACE
from iso15118.config import EvccConfig
from iso15118.iso20.services import (
    AC_BPT,
    DC_BPT,
    FAMILY_SERVICES,
    loop_request_mode,
    loop_response_mode,
    loop_target_power,
    mode_of_service,
    parse_parameter_set,
)
from iso15118.messages.units import value_of

__all__ = [
    "BPT_PARAMETERS",
    "CABLE_CHECK_ONGOING",
    "CHALLENGE",
    "CHALLENGES_DIFFER",
    "CPD_MATCHES_SERVICE",
    "CURRENT_WITHIN_LIMITS",
    "DISCHARGE_SCHEDULE_NOT_POSITIVE",
    "EVSE_ID",
    "FRESH_SESSION_ID",
    "LIMITS_ORDERED",
    "LOOP_MIRRORS_REQUEST",
    "METER_INFO",
    "MOBILITY_NEEDS",
    "NEW_SESSION_NOT_REQUESTED_ID",
    "NO_CERTIFICATE_INSTALLATION",
    "NO_DISCHARGE_TARGET",
    "OFFERS_BPT",
    "OLD_SESSION_ID",
    "PRECHARGE_APPROACHES",
    "SAP_SCHEMA_ID",
    "SCHEDULED_TUPLES",
    "SESSIONS_DIFFER",
    "TARGET_WITHIN_LIMITS",
    "schema_id_of",
]


@check("SessionID is 8 bytes, not zero", "V2G20-2621")
def FRESH_SESSION_ID(ctx: Context, res: Any) -> str | None:
    sid = res.header.session_id
    if len(sid) != 8:
        return f"SessionID has {len(sid)} bytes"
    return "SessionID is all zero" if sid == ZERO_SESSION else None


@check("precondition: CertificateInstallationService not offered", "V2G20-1970")
def NO_CERTIFICATE_INSTALLATION(ctx: Context, res: Any) -> str | None:
    if res.certificate_installation_service:
        raise NotApplicable("needs an SECC that does not offer CertificateInstallation: this one offers it")
    return None


@check("EVSEID is present", "V2G20 2.5 SessionSetupRes")
def EVSE_ID(ctx: Context, res: Any) -> str | None:
    return None if res.evse_id else "empty EVSEID"


@check("every session gets its own SessionID", "V2G20-2621")
def SESSIONS_DIFFER(ctx: Context, res: Any) -> str | None:
    sid = res.header.session_id
    return f"SessionID {sid.hex()} was already given to an earlier session" if sid in ctx.sessions else None


def _offers_pnc(res: Any) -> None:
    offered = [str(a) for a in res.authorization_services]
    if "PnC" not in offered:
        raise NotApplicable(f"needs PnC: the SUT offers {', '.join(offered) or 'no authorization'} only")


@check("GenChallenge is 16 bytes", "V2G20-697/698")
def CHALLENGE(ctx: Context, res: Any) -> str | None:
    _offers_pnc(res)
    mode = res.pnc_as_res_authorization_mode
    if mode is None:
        return "no PnC_ASResAuthorizationMode although PnC is offered"
    return None if len(mode.gen_challenge) == 16 else f"GenChallenge has {len(mode.gen_challenge)} bytes"


@check("every session gets a fresh GenChallenge", "V2G20-697/698")
def CHALLENGES_DIFFER(ctx: Context, res: Any) -> str | None:
    _offers_pnc(res)
    mode = res.pnc_as_res_authorization_mode
    if mode is None:
        return "no PnC_ASResAuthorizationMode"
    return "GenChallenge repeats an earlier session's" if mode.gen_challenge in ctx.challenges else None


def schema_id_of(offer_namespace: str | None = None) -> Check:
    """SupportedAppProtocolRes echoes the SchemaID of the offer in ``offer_namespace`` (None: the -20 namespace
    of the case's energy family)."""

    def fn(ctx: Context, res: Any) -> str | None:
        namespace = offer_namespace or NAMESPACE[ctx.profile.family]
        offers = ctx.values.get("sap_offers", {})
        wanted = offers.get(namespace, 1)
        return None if res.schema_id == wanted else f"SchemaID {res.schema_id}, the {namespace} offer had {wanted}"

    return Check(f"SchemaID of the {offer_namespace or 'session'}'s offer", fn, "V2G20-167/169")


SAP_SCHEMA_ID = schema_id_of()


def _bidirectional(service: int | None) -> bool:
    mode = mode_of_service(service or 0)
    return mode is not None and mode.bidirectional


@check("precondition: the bidirectional service of the session's family is offered", "V2G20 table 204")
def OFFERS_BPT(ctx: Context, res: Any) -> str | None:
    ids = [s.service_id for s in res.energy_transfer_service_list.service]
    wanted = FAMILY_SERVICES[ctx.profile.family][1]
    if wanted not in ids:
        # Offering BPT is optional: an SECC without it cannot run the case, it does not fail it.
        names = ", ".join(str(mode_of_service(i) or i) for i in ids) or "no service"
        raise NotApplicable(f"needs {mode_of_service(wanted)}: the SUT offers {names} only")
    return None


#: The parameters a BPT parameter set carries besides the common ones (AC_BPT table 206; DC_BPT likewise
#: without the islanding detection).
_BPT_NAMES = {
    AC_BPT: ("BPTChannel", "GeneratorMode", "GridCodeIslandingDetectionMethod"),
    DC_BPT: ("BPTChannel", "GeneratorMode"),
}


@check(
    "BPT parameter sets carry BPTChannel, GeneratorMode (AC_BPT: GridCodeIslandingDetectionMethod)", "V2G20 table 206"
)
def BPT_PARAMETERS(ctx: Context, res: Any) -> str | None:
    names = _BPT_NAMES.get(res.service_id, ())
    for ps in res.service_parameter_list.parameter_set:
        spec = parse_parameter_set(ps)
        values = {
            "BPTChannel": spec.bpt_channel,
            "GeneratorMode": spec.generator_mode,
            "GridCodeIslandingDetectionMethod": spec.islanding_detection,
        }
        missing = [n for n in names if values[n] is None]
        if missing:
            return f"parameter set {spec.set_id} lacks {', '.join(missing)}"
    return None


@check("MobilityNeedsMode 2 only with ControlMode 2 (Dynamic)", "V2G20-2663")
def MOBILITY_NEEDS(ctx: Context, res: Any) -> str | None:
    for ps in res.service_parameter_list.parameter_set:
        spec = parse_parameter_set(ps)
        if spec.mobility_needs_mode == 2 and spec.control_mode != 2:
            return f"parameter set {spec.set_id}: MobilityNeedsMode 2 with ControlMode {spec.control_mode}"
    return None


@check("the charge-parameter element matches the selected service", "V2G20 2.7")
def CPD_MATCHES_SERVICE(ctx: Context, res: Any) -> str | None:
    bpt, element = cpd_element(res)
    if bpt != _bidirectional(ctx.selected_service):
        return f"{type(element).__name__} although service {ctx.selected_service} was selected"
    return None


_ORDERED = (
    ("min_charge_w", "max_charge_w"),
    ("min_discharge_w", "max_discharge_w"),
    ("min_voltage_v", "max_voltage_v"),
)


@check("EVSE minimum limits do not exceed the maxima", "V2G20 2.7")
def LIMITS_ORDERED(ctx: Context, res: Any) -> str | None:
    limits = limits_of(cpd_element(res)[1], "evse")
    for low, high in _ORDERED:
        if low in limits and high in limits and limits[low] > limits[high]:
            return f"EVSE {low} {limits[low]:g} > {high} {limits[high]:g}"
    return None


@check("Scheduled: 1-3 schedule tuples with a charging schedule", "V2G20 2.7")
def SCHEDULED_TUPLES(ctx: Context, res: Any) -> str | None:
    mode = res.scheduled_se_res_control_mode
    if mode is None:
        return "no Scheduled_SEResControlMode for a Scheduled request"
    return None if 1 <= len(mode.schedule_tuple) <= 3 else f"{len(mode.schedule_tuple)} schedule tuples"


@check("DischargingSchedule powers are <= 0", "V2G20-1034/1035 (fact sheet 6.1)")
def DISCHARGE_SCHEDULE_NOT_POSITIVE(ctx: Context, res: Any) -> str | None:
    mode = res.scheduled_se_res_control_mode
    if mode is None:
        return "no Scheduled_SEResControlMode"
    found = False
    for tuple_ in mode.schedule_tuple:
        if tuple_.discharging_schedule is None:
            continue
        found = True
        for entry in tuple_.discharging_schedule.power_schedule.power_schedule_entries.power_schedule_entry:
            if value_of(entry.power) > 0:
                return f"schedule tuple {tuple_.schedule_tuple_id}: discharging power {value_of(entry.power):g} W > 0"
    return None if found else "no DischargingSchedule for a BPT service"


@check("the response's control mode mirrors the request's", "V2G20 2.8")
def LOOP_MIRRORS_REQUEST(ctx: Context, res: Any) -> str | None:
    asked = loop_request_mode(ctx.last_request)
    if asked is None:
        return None
    got = loop_response_mode(res)
    if got is not None and got[:2] == asked[:2]:
        return None
    answer = type(got[2]).__name__ if got is not None else "no control mode"
    return f"{answer} for {type(asked[2]).__name__}"


@check("EVSETargetActivePower within the EVSE's announced limits", "V2G20 2.8, fact sheet 6.3")
def TARGET_WITHIN_LIMITS(ctx: Context, res: Any) -> str | None:
    target = loop_target_power(res)
    if target is None:
        return None
    top = ctx.evse_limits.get("max_charge_w")
    bottom = ctx.evse_limits.get("max_discharge_w", 0.0)
    if top is not None and target > top + 1e-6:
        return f"target {target:g} W above EVSEMaximumChargePower {top:g} W"
    if target < -bottom - 1e-6:
        return f"target {target:g} W beyond EVSEMaximumDischargePower {bottom:g} W"
    return None


@check("no discharge setpoint unless a BPT service was selected", "V2G20-1034/1035")
def NO_DISCHARGE_TARGET(ctx: Context, res: Any) -> str | None:
    target = loop_target_power(res)
    if target is not None and target < 0 and not _bidirectional(ctx.selected_service):
        return f"target {target:g} W (discharge) without a BPT service"
    return None


@check("MeterInfo present when MeterInfoRequested", "V2G20-1081/1082")
def METER_INFO(ctx: Context, res: Any) -> str | None:
    return None if res.meter_info is not None else "no MeterInfo although the EV requested it"


@check("OK_OldSessionJoined keeps the paused SessionID", "V2G20-1032/2545")
def OLD_SESSION_ID(ctx: Context, res: Any) -> str | None:
    sid, paused = res.header.session_id, ctx.paused_session_id
    return None if sid == paused else f"SessionID {sid.hex()}, the paused session's is {(paused or b'').hex()}"


@check("a new session for an unknown SessionID, with a new SessionID", "V2G20-2626/2627")
def NEW_SESSION_NOT_REQUESTED_ID(ctx: Context, res: Any) -> str | None:
    asked = ctx.values.get("asked_session_id")
    sid = res.header.session_id
    return f"the SECC adopted the unknown SessionID {sid.hex()}" if sid == asked else None


PRECHARGE_TOLERANCE_V = EvccConfig().precharge_tolerance_v
"""The tester EV ends its precharge when the output is this close to its target (the library EV's default)."""


# ---- DC --------------------------------------------------------------------------------------------------------
@check("precondition: the insulation test is still Ongoing", "V2G20 DC sequence (DC_CableCheck)")
def CABLE_CHECK_ONGOING(ctx: Context, res: Any) -> str | None:
    if str(res.evse_processing) != "Ongoing":
        raise NotApplicable(
            "needs an insulation test still Ongoing at the first DC_CableCheckReq: the SUT finished it at once"
        )
    return None


@check("EVSEPresentVoltage approaches the EV's EVTargetVoltage", "V2G20 DC_PreCharge (the EVSE adapts its output)")
def PRECHARGE_APPROACHES(ctx: Context, res: Any) -> str | None:
    target = value_of(ctx.last_request.ev_target_voltage)
    gap = abs(value_of(res.evse_present_voltage) - target)
    before = ctx.values.get("precharge_gap")
    ctx.values["precharge_gap"] = gap
    if before is None or gap <= PRECHARGE_TOLERANCE_V or gap < before:
        return None
    shown = value_of(res.evse_present_voltage)
    return f"EVSEPresentVoltage {shown:g} V does not approach the target {target:g} V (it was {before:g} V away)"


@check("EVSEPresentCurrent within the EV's target and the EVSE's maximum current", "V2G20 DC_ChargeLoop (limits)")
def CURRENT_WITHIN_LIMITS(ctx: Context, res: Any) -> str | None:
    if getattr(res, "evse_present_current", None) is None:
        return None  # AC: no present current in the loop response
    current = abs(value_of(res.evse_present_current))
    bounds = [("EVSEMaximumChargeCurrent", ctx.evse_limits.get("max_charge_a"))]
    asked = loop_request_mode(ctx.last_request)
    target = getattr(asked[2], "ev_target_current", None) if asked else None
    if target is not None:
        bounds.append(("EVTargetCurrent", abs(value_of(target))))
    for name, bound in bounds:
        if bound is not None and current > bound + 1.0:
            return f"EVSEPresentCurrent {current:g} A above {name} {bound:g} A"
    return None
