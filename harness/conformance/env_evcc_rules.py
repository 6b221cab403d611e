"""Checks on a DIN 70121 or ISO 15118-2 EVCC's requests (the tester is the SECC), each naming the rule it enforces.

They read the ``V2G_Message`` on the wire (the Body element's fields) and what the tester offered (kept in its
context by :mod:`~harness.conformance.proto_envelope`).
"""

from __future__ import annotations

from typing import Any

from harness.conformance.checks import Check, check
from harness.conformance.context import ZERO_SESSION, Context
from iso15118.envelope.physical import value_of
from iso15118.envelope.states import body_of, starts_power

__all__ = [
    "CPD_PARAMETER_MATCHES",
    "EVCC_ID",
    "NEW_SESSION_ZERO_ID",
    "OFFERS_GENERATION",
    "PD_PROFILE_WITHIN_PMAX",
    "PD_RENEGOTIATE",
    "PD_SCHEDULE_TUPLE",
    "PD_START",
    "PD_STOP",
    "PRECHARGE_MATCHED",
    "PRECHARGE_TARGET_IN_WINDOWS",
    "REQUESTS_OFFERED_MODE",
    "RESUMES_PAUSED_SESSION",
    "SELECTS_OFFERED_PAYMENT",
    "SESSION_STOP",
    "TARGETS_WITHIN_EVSE_LIMITS",
    "session_stop",
]

PRECHARGE_MATCH_V = 20.0
"""The tester's bound for "the voltages match" before PowerDelivery(Start): the standards leave it to the EV."""


@check("SupportedAppProtocolReq offers the generation's namespace, major version 2", "SupportedAppProtocolReq")
def OFFERS_GENERATION(ctx: Context, req: Any) -> str | None:
    offer = ctx.protocol.offer(ctx.profile.family)
    offers = [(o.protocol_namespace, o.version_number_major) for o in req.app_protocol]
    return None if (offer.namespace, offer.major) in offers else f"offers {offers}"


@check("a new session starts with SessionID 0", "SessionSetupReq (new session)")
def NEW_SESSION_ZERO_ID(ctx: Context, req: Any) -> str | None:
    sid = bytes(req.header.session_id)
    return None if sid in (ZERO_SESSION, b"\x00") else f"SessionID {sid.hex()}"


def _evcc_id(limit: int) -> Check:
    def fn(ctx: Context, req: Any) -> str | None:
        found = bytes(body_of(req).evcc_id)
        return None if 1 <= len(found) <= limit else f"EVCCID of {len(found)} bytes"

    return Check(f"EVCCID present, at most {limit} bytes (the EV's MAC address)", fn, "SessionSetupReq EVCCID")


EVCC_ID = _evcc_id(8)
"""DIN allows 8 bytes; -2's schema 6 (a MAC address): the generic bound is the larger."""


@check("a resuming EV sends the paused SessionID", "V2G2-741")
def RESUMES_PAUSED_SESSION(ctx: Context, req: Any) -> str | None:
    sid, paused = bytes(req.header.session_id), ctx.paused_session_id
    return None if sid == paused else f"SessionID {sid.hex()}, the paused session's is {(paused or b'').hex()}"


@check(
    "the selected payment option was offered, the charge service selected",
    "PaymentServiceSelectionReq (-2), ServicePaymentSelectionReq (DIN)",
)
def SELECTS_OFFERED_PAYMENT(ctx: Context, req: Any) -> str | None:
    element = body_of(req)
    option = str(element.selected_payment_option)
    if option not in ctx.values.get("offered_payment", ()):
        return f"payment option {option} was not offered"
    selected = [s.service_id for s in element.selected_service_list.selected_service]
    return None if 1 in selected else f"services {selected}: no charge service (1)"


@check("the energy transfer mode asked was offered", "ChargeParameterDiscoveryReq RequestedEnergyTransferMode")
def REQUESTS_OFFERED_MODE(ctx: Context, req: Any) -> str | None:
    element = body_of(req)
    asked = str(getattr(element, "requested_energy_transfer_mode", None) or element.ev_requested_energy_transfer_type)
    offered = ctx.values.get("offered_modes", ())
    if ctx.protocol.generation.value == "din":
        return None if asked.startswith("DC") else f"{asked} asked of a DC charger"
    return None if asked in offered else f"{asked} asked, {', '.join(offered)} offered"


@check("the EV charge parameters are those of the mode asked", "V2G2-477")
def CPD_PARAMETER_MATCHES(ctx: Context, req: Any) -> str | None:
    element = body_of(req)
    asked = str(getattr(element, "requested_energy_transfer_mode", None) or element.ev_requested_energy_transfer_type)
    dc = element.dc_ev_charge_parameter is not None
    ac = element.ac_ev_charge_parameter is not None
    if dc == ac or asked.startswith("DC") != dc:
        return f"{'DC' if dc else 'AC' if ac else 'no'}_EVChargeParameter for {asked}"
    return None


@check("EVTargetVoltage of the precharge within the EV's and the EVSE's voltage windows", "PreChargeReq")
def PRECHARGE_TARGET_IN_WINDOWS(ctx: Context, req: Any) -> str | None:
    target = value_of(body_of(req).ev_target_voltage)
    ev_max = ctx.ev_limits.get("max_voltage_v")
    low, high = ctx.evse_limits.get("min_voltage_v"), ctx.evse_limits.get("max_voltage_v")
    if ev_max is not None and target > ev_max + 1.0:
        return f"target {target:g} V outside the EV's maximum {ev_max:g} V"
    if low is not None and high is not None and not low - 1.0 <= target <= high + 1.0:
        return f"target {target:g} V outside the EVSE's window {low:g}-{high:g} V"
    return None


@check("PowerDelivery asks for energy after a precharge to matched voltages", "PreCharge before PowerDelivery")
def PRECHARGE_MATCHED(ctx: Context, req: Any) -> str | None:
    if not starts_power(body_of(req)) or ctx.profile.family.value != "DC" or ctx.values.get("started"):
        return None
    target = ctx.values.get("precharge_target_v")
    sent = ctx.values.get("precharge_sent_v")
    if sent is None or target is None:
        return "PowerDelivery asks for energy without a precharge"
    ctx.values["started"] = True
    gap = abs(sent - target)
    return None if gap <= PRECHARGE_MATCH_V else f"the output was {gap:g} V from the target {target:g} V"


@check("EVTargetCurrent and EVTargetVoltage within the EVSE's announced maxima", "CurrentDemandReq")
def TARGETS_WITHIN_EVSE_LIMITS(ctx: Context, req: Any) -> str | None:
    element = body_of(req)
    checks = (
        ("EVTargetCurrent", value_of(element.ev_target_current), "max_charge_a", "A"),
        ("EVTargetVoltage", value_of(element.ev_target_voltage), "max_voltage_v", "V"),
    )
    for name, value, key, unit in checks:
        bound = ctx.evse_limits.get(key)
        if bound is not None and abs(value) > bound + 1.0:
            return f"{name} {value:g} {unit} above the EVSE's {bound:g} {unit}"
    return None


def _progress(req: Any) -> str:
    element = body_of(req)
    if hasattr(element, "ready_to_charge_state"):
        return "Start" if element.ready_to_charge_state else "Stop"
    return str(element.charge_progress)


@check("PowerDelivery(Start) (DIN: ReadyToChargeState true)", "PowerDeliveryReq")
def PD_START(ctx: Context, req: Any) -> str | None:
    return None if _progress(req) == "Start" else f"PowerDelivery({_progress(req)})"


@check("PowerDelivery(Stop) (DIN: ReadyToChargeState false) leaves the loop", "PowerDeliveryReq")
def PD_STOP(ctx: Context, req: Any) -> str | None:
    return None if _progress(req) == "Stop" else f"PowerDelivery({_progress(req)})"


@check("PowerDelivery(Renegotiate) after the charger notified ReNegotiation", "PowerDeliveryReq")
def PD_RENEGOTIATE(ctx: Context, req: Any) -> str | None:
    return None if _progress(req) == "Renegotiate" else f"PowerDelivery({_progress(req)})"


@check("PowerDelivery(Start) selects an offered SAScheduleTupleID", "PowerDeliveryReq SAScheduleTupleID")
def PD_SCHEDULE_TUPLE(ctx: Context, req: Any) -> str | None:
    chosen = body_of(req).sa_schedule_tuple_id
    return None if chosen in ctx.schedule_ids else f"SAScheduleTupleID {chosen}, offered {list(ctx.schedule_ids)}"


@check("the ChargingProfile stays within the schedule's PMax", "V2G2-225")
def PD_PROFILE_WITHIN_PMAX(ctx: Context, req: Any) -> str | None:
    profile, pmax = body_of(req).charging_profile, ctx.values.get("pmax_w")
    if profile is None or pmax is None:
        return None
    peak = max(value_of(e.charging_profile_entry_max_power) for e in profile.profile_entry)
    return None if peak <= pmax + 1.0 else f"ChargingProfile {peak:g} W above the PMax {pmax:g} W"


def session_stop(how: str) -> Check:
    """SessionStopReq ending the session ``how`` (DIN's SessionStopReq is empty: it always terminates)."""

    def fn(ctx: Context, req: Any) -> str | None:
        got = str(getattr(body_of(req), "charging_session", None) or "Terminate")
        return None if got == how else f"ChargingSession {got}"

    return Check(f"SessionStop({how})", fn, "SessionStopReq")


SESSION_STOP = session_stop("Terminate")
