"""Checks on a DIN 70121 or ISO 15118-2 SECC's responses (the tester is the EV), each naming the rule it enforces.

They read the ``V2G_Message`` on the wire (the Body element's fields) and what the tester asked; requirement IDs
are cited where public implementations quote them (EVerest's EvseV2G, Josev, our own -2 and DIN modules), and
the clause otherwise.
"""

from __future__ import annotations

from typing import Any

from harness.conformance.checks import Check, NotApplicable, check
from harness.conformance.context import ZERO_SESSION, Context
from harness.conformance.proto_envelope import dc_limits, offered
from iso15118.config import EvccConfig
from iso15118.envelope.physical import value_of
from iso15118.envelope.states import body_of

__all__ = [
    "CPD_ELEMENT_MATCHES",
    "CURRENT_WITHIN_LIMITS",
    "DC_LIMITS_ORDERED",
    "DIN_EXTERNAL_PAYMENT_ONLY",
    "DIN_NO_NOTIFICATION",
    "DIN_SCHEDULE",
    "EVSE_ID",
    "EVSE_ID_IN_LOOP",
    "LIMIT_ACHIEVED",
    "LOOP_SCHEDULE_TUPLE",
    "MAX_CURRENT_WITHIN_OFFER",
    "OFFERS_FAMILY",
    "OLD_SESSION_ID",
    "PRECHARGE_APPROACHES",
    "RECEIPT_NOT_REQUIRED",
    "SCHEDULE_TUPLE_IDS",
    "SESSIONS_DIFFER",
    "fresh_session_id",
    "new_session_id",
]

_DAY_S = 86_400


def fresh_session_id(requirement: str) -> Check:
    """SessionSetupRes assigns a SessionID of 1 to 8 bytes (the schemas' sessionIDType), not zero."""

    def fn(ctx: Context, res: Any) -> str | None:
        sid = bytes(res.header.session_id)
        if not 1 <= len(sid) <= 8:
            return f"SessionID has {len(sid)} bytes"
        return "SessionID is all zero" if sid == bytes(len(sid)) else None

    return Check("a new SessionID of 1 to 8 bytes, not zero", fn, requirement)


@check("EVSEID is present", "SessionSetupRes EVSEID")
def EVSE_ID(ctx: Context, res: Any) -> str | None:
    return None if body_of(res).evse_id else "empty EVSEID"


@check("every session gets its own SessionID", "a new SessionID per session")
def SESSIONS_DIFFER(ctx: Context, res: Any) -> str | None:
    sid = bytes(res.header.session_id)
    return f"SessionID {sid.hex()} was already given to an earlier session" if sid in ctx.sessions else None


@check("only ExternalPayment is offered", "DIN 70121 ServiceDiscoveryRes (external payment only)")
def DIN_EXTERNAL_PAYMENT_ONLY(ctx: Context, res: Any) -> str | None:
    modes, payment = offered(body_of(res))
    if set(payment) != {"ExternalPayment"}:
        return f"payment options {', '.join(payment)}"
    return None if modes[0].startswith("DC") else f"EnergyTransferType {modes[0]} is no DC type"


@check(
    "precondition: an energy transfer mode of the session's family and ExternalPayment are offered",
    "ServiceDiscoveryRes ChargeService",
)
def OFFERS_FAMILY(ctx: Context, res: Any) -> str | None:
    modes, payment = offered(body_of(res))
    family = str(ctx.profile.family)
    if not any(mode.startswith(family) for mode in modes) or "ExternalPayment" not in payment:
        raise NotApplicable(f"needs {family} with ExternalPayment: the SUT offers {', '.join(modes + payment)}")
    return None


@check("the EVSE charge parameters are those of the requested energy transfer mode", "V2G2-477")
def CPD_ELEMENT_MATCHES(ctx: Context, res: Any) -> str | None:
    req, element = body_of(ctx.last_request), body_of(res)
    asked = str(getattr(req, "requested_energy_transfer_mode", None) or req.ev_requested_energy_transfer_type)
    dc = element.dc_evse_charge_parameter is not None
    if asked.startswith("DC") != dc:
        return f"{'DC' if dc else 'AC'}_EVSEChargeParameter for {asked}"
    return None


@check("EVSE minimum limits do not exceed the maxima", "DC_EVSEChargeParameter")
def DC_LIMITS_ORDERED(ctx: Context, res: Any) -> str | None:
    parameter = body_of(res).dc_evse_charge_parameter
    if parameter is None:
        return None
    limits = dc_limits(parameter)
    for low, high in (("min_voltage_v", "max_voltage_v"), ("min_charge_a", "max_charge_a")):
        if limits[low] > limits[high]:
            return f"EVSE {low} {limits[low]:g} > {high} {limits[high]:g}"
    return None


@check("one PMaxSchedule covering 24 hours, no SalesTariff", "V2G-DC-559, V2G-DC-554")
def DIN_SCHEDULE(ctx: Context, res: Any) -> str | None:
    schedules = body_of(res).sa_schedule_list
    if schedules is None:
        return "no SAScheduleList"
    for entry in schedules.sa_schedule_tuple:
        if entry.sales_tariff is not None:
            return f"SAScheduleTuple {entry.sa_schedule_tuple_id} carries a SalesTariff"
        intervals = [e.relative_time_interval for e in entry.p_max_schedule.p_max_schedule_entry]
        end = max((i.start + (i.duration or 0) for i in intervals if i is not None), default=0)
        if end < _DAY_S:
            return f"SAScheduleTuple {entry.sa_schedule_tuple_id} covers {end} s, not 24 h"
    return None


@check("SAScheduleTupleIDs within 1..255", "-2 schema SAIDType (1..255)")
def SCHEDULE_TUPLE_IDS(ctx: Context, res: Any) -> str | None:
    schedules = body_of(res).sa_schedule_list
    ids = [t.sa_schedule_tuple_id for t in schedules.sa_schedule_tuple] if schedules is not None else []
    if not ids:
        return "no SAScheduleTuple"
    bad = [i for i in ids if not 1 <= i <= 255]
    return f"SAScheduleTupleID {bad[0]}" if bad else None


PRECHARGE_TOLERANCE_V = EvccConfig().precharge_tolerance_v
"""The tester EV ends its precharge when the output is this close to its target (the library EV's default)."""


@check("EVSEPresentVoltage approaches the EV's EVTargetVoltage", "PreChargeRes (the EVSE adapts its output)")
def PRECHARGE_APPROACHES(ctx: Context, res: Any) -> str | None:
    target = value_of(body_of(ctx.last_request).ev_target_voltage)
    shown = value_of(body_of(res).evse_present_voltage)
    gap = abs(shown - target)
    before = ctx.values.get("precharge_gap")
    ctx.values["precharge_gap"] = gap
    if before is None or gap <= PRECHARGE_TOLERANCE_V or gap < before:
        return None
    return f"EVSEPresentVoltage {shown:g} V does not approach the target {target:g} V (it was {before:g} V away)"


@check("EVSEPresentCurrent within the EV's target and the EVSE's maximum current", "CurrentDemandRes (limits)")
def CURRENT_WITHIN_LIMITS(ctx: Context, res: Any) -> str | None:
    element, req = body_of(res), body_of(ctx.last_request)
    current = abs(value_of(element.evse_present_current))
    bounds = [
        ("EVTargetCurrent", abs(value_of(req.ev_target_current))),
        ("EVSEMaximumCurrentLimit", ctx.evse_limits.get("max_charge_a")),
    ]
    for name, bound in bounds:
        if bound is not None and current > bound + 1.0:
            return f"EVSEPresentCurrent {current:g} A above {name} {bound:g} A"
    return None


@check("EVSECurrentLimitAchieved when the EV asks for more than the EVSE's maximum current", "CurrentDemandRes")
def LIMIT_ACHIEVED(ctx: Context, res: Any) -> str | None:
    asked = abs(value_of(body_of(ctx.last_request).ev_target_current))
    top = ctx.evse_limits.get("max_charge_a")
    if top is None or asked <= top or body_of(res).evse_current_limit_achieved:
        return None
    return f"EVTargetCurrent {asked:g} A above EVSEMaximumCurrentLimit {top:g} A, EVSECurrentLimitAchieved false"


@check("EVSENotification is None: DIN's charger stops with EVSE_Shutdown", "V2G-DC-500")
def DIN_NO_NOTIFICATION(ctx: Context, res: Any) -> str | None:
    notification = str(body_of(res).dc_evse_status.evse_notification)
    return None if notification == "None" else f"EVSENotification {notification}"


@check("ReceiptRequired is not set in an EIM session", "V2G2-691")
def RECEIPT_NOT_REQUIRED(ctx: Context, res: Any) -> str | None:
    return "ReceiptRequired true with ExternalPayment" if body_of(res).receipt_required else None


@check("EVSEMaxCurrent within the EVSEMaxCurrent of ChargeParameterDiscoveryRes", "ChargingStatusRes")
def MAX_CURRENT_WITHIN_OFFER(ctx: Context, res: Any) -> str | None:
    now, offer = body_of(res).evse_max_current, ctx.evse_limits.get("max_current_a")
    if now is None or offer is None or value_of(now) <= offer + 0.1:
        return None
    return f"EVSEMaxCurrent {value_of(now):g} A above the {offer:g} A announced"


@check("the loop response names the SAScheduleTuple the EV selected", "ChargingStatusRes/CurrentDemandRes")
def LOOP_SCHEDULE_TUPLE(ctx: Context, res: Any) -> str | None:
    selected = ctx.values.get("selected_tuple")
    got = body_of(res).sa_schedule_tuple_id
    return None if selected is None or got == selected else f"SAScheduleTupleID {got}, the EV selected {selected}"


@check("the loop response's EVSEID is the session's", "ChargingStatusRes/CurrentDemandRes EVSEID")
def EVSE_ID_IN_LOOP(ctx: Context, res: Any) -> str | None:
    got = body_of(res).evse_id
    return None if ctx.evse_id is None or got == ctx.evse_id else f"EVSEID {got}, SessionSetupRes gave {ctx.evse_id}"


@check("OK_OldSessionJoined keeps the paused SessionID", "V2G2-741")
def OLD_SESSION_ID(ctx: Context, res: Any) -> str | None:
    sid, paused = bytes(res.header.session_id), ctx.paused_session_id
    return None if sid == paused else f"SessionID {sid.hex()}, the paused session's is {(paused or b'').hex()}"


def new_session_id(requirement: str) -> Check:
    """SessionSetupReq with a SessionID the SECC does not know starts a new session with another SessionID."""

    def fn(ctx: Context, res: Any) -> str | None:
        asked = ctx.values.get("asked_session_id")
        sid = bytes(res.header.session_id)
        if sid == asked:
            return f"the SECC adopted the unknown SessionID {sid.hex()}"
        return "SessionID is all zero" if sid == ZERO_SESSION else None

    return Check("a new session for an unknown SessionID, with a new SessionID", fn, requirement)
