"""The pieces the faults of :mod:`harness.conformance.faulty` are made of: message rewrites and replaced parts.

Rewrites take (message, the fault's memory for this connection) and return the message to pass on
(:data:`~harness.conformance.sutfault.Rewrite`); the memory holds the run's protocol under ``protocol``, so a
rewrite reads a message's kind and fields the same way in every generation (DIN and -2 carry them in the
``V2G_Message`` Body). The classes stand in for a controller, the PnC verifier or the paused-session store of
our own SUT.
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from enum import StrEnum
from typing import Any

from cryptography import x509

from harness.conformance.fields import tamper_signature
from iso15118.controller import AuthorizationDecision, DCOutput, IsolationCheck
from iso15118.decisions import Answer, Input, Need, PausedSession, SeccEnv, SeccLogic, Summary
from iso15118.envelope.physical import physical, value_of
from iso15118.envelope.states import body_of
from iso15118.iso20.pnc import PncOutcome, PncVerifier
from iso15118.iso20.services import LOOP_RESPONSE_MODES, loop_mode_field, loop_request_mode, loop_response_mode
from iso15118.messages import iso20 as m
from iso15118.messages.app_protocol import ResponseCode as SapCode
from iso15118.messages.units import rational
from iso15118.session.failures import minimal_instance
from iso15118.session.selection import EnergyFamily
from iso15118.transport.store import SessionStore

__all__ = [
    "AnyEvDecisions",
    "DischargeSetpoint",
    "EndlessAuthorization",
    "EndlessCableCheck",
    "FollowsEvMaximum",
    "ForgetfulStore",
    "FullPower",
    "IgnoresSetpoint",
    "LaxPnc",
    "NoVoltageLimits",
    "Overcurrent",
    "StuckPrecharge",
    "adopt_session_id",
    "bpt_limits_without_bpt",
    "cable_check_done",
    "drop_bpt_parameters",
    "drop_channel",
    "ev_discharges",
    "exceed_evse_limits",
    "first_offer",
    "ignore_stop",
    "kind",
    "mask_failed",
    "mask_not_ok",
    "no_meter_info",
    "no_verification",
    "precharge_overvoltage",
    "profile_above_pmax",
    "recode",
    "remember_requests",
    "tamper_pnc",
    "unpair_v2x",
    "wrong_loop_mode",
]


# ---- message rewrites ------------------------------------------------------------------------------------------
def kind(msg: Any, memory: dict[str, Any]) -> str:
    """The message's kind (its class name when the run's protocol does not know it)."""
    protocol = memory.get("protocol")
    found = protocol.kind_of(msg) if protocol is not None else None
    return found or type(msg).__name__


def _element(msg: Any) -> Any:
    """The element that carries a message's fields (a V2G_Message's Body element, else the message)."""
    return body_of(msg) if hasattr(msg, "body") else msg


def _edit(msg: Any, **changes: Any) -> Any:
    """``msg`` with ``changes`` made to its fields (inside a V2G_Message's Body element)."""
    body = getattr(msg, "body", None)
    if body is None:
        return dataclasses.replace(msg, **changes)
    name = next(n for n in body.__slots__ if getattr(body, n) is not None)
    element = dataclasses.replace(getattr(body, name), **changes)
    return dataclasses.replace(msg, body=dataclasses.replace(body, **{name: element}))


def _code(msg: Any) -> str:
    return str(getattr(_element(msg), "response_code", "") or "")


def _recoded(msg: Any, code: str) -> Any:
    """``msg`` with response code ``code`` of its own code space."""
    if type(msg).__name__ == "supportedAppProtocolRes":
        return dataclasses.replace(msg, response_code=SapCode(code))
    return _edit(msg, response_code=type(_element(msg).response_code)(code))


def _ok(msg: Any) -> Any:
    if type(msg).__name__ == "supportedAppProtocolRes":
        return dataclasses.replace(msg, response_code=SapCode.OK_SuccessfulNegotiation, schema_id=msg.schema_id or 1)
    return _recoded(msg, str(m.ResponseCode.OK))


def mask_failed(msg: Any, memory: dict[str, Any]) -> Any:
    """Any FAILED response code becomes OK."""
    return _ok(msg) if _code(msg).upper().startswith("FAILED") else msg


def mask_not_ok(msg: Any, memory: dict[str, Any]) -> Any:
    """Any FAILED or WARNING response code becomes OK."""
    code = _code(msg)
    return _ok(msg) if code and not code.startswith("OK") else msg


def recode(old: str, new: str) -> Any:
    """A rewrite that replaces response code ``old`` by ``new``."""

    def rewrite(msg: Any, memory: dict[str, Any]) -> Any:
        return _recoded(msg, new) if _code(msg) == old else msg

    return rewrite


def remember_requests(msg: Any, memory: dict[str, Any]) -> Any:
    """Keep the SessionSetupReq's SessionID and the first SupportedAppProtocol offer's SchemaID."""
    name = kind(msg, memory)
    if name == "SessionSetupReq":
        memory["asked_session_id"] = msg.header.session_id
    elif name == "supportedAppProtocolReq":
        memory["first_schema_id"] = msg.app_protocol[0].schema_id
    return msg


def adopt_session_id(msg: Any, memory: dict[str, Any]) -> Any:
    """SessionSetupRes takes the (non-zero) SessionID the EV asked for."""
    asked = memory.get("asked_session_id")
    if kind(msg, memory) == "SessionSetupRes" and asked and asked != bytes(8):
        return dataclasses.replace(msg, header=dataclasses.replace(msg.header, session_id=asked))
    return msg


def first_offer(msg: Any, memory: dict[str, Any]) -> Any:
    """SupportedAppProtocolRes names the SchemaID of the first offer, supported or not."""
    if type(msg).__name__ == "supportedAppProtocolRes" and msg.schema_id is not None:
        return dataclasses.replace(msg, schema_id=memory.get("first_schema_id", msg.schema_id))
    return msg


def drop_channel(msg: Any, memory: dict[str, Any]) -> Any:
    """PowerDeliveryReq loses its BPT_ChannelSelection before the SUT sees it."""
    return dataclasses.replace(msg, bpt_channel_selection=None) if type(msg).__name__ == "PowerDeliveryReq" else msg


_BPT_NAMES = ("BPTChannel", "GeneratorMode", "GridCodeIslandingDetectionMethod")


def drop_bpt_parameters(msg: Any, memory: dict[str, Any]) -> Any:
    """ServiceDetailRes without the three AC_BPT parameters."""
    if type(msg).__name__ != "ServiceDetailRes":
        return msg
    sets = tuple(
        dataclasses.replace(ps, parameter=tuple(p for p in ps.parameter if p.name not in _BPT_NAMES))
        for ps in msg.service_parameter_list.parameter_set
    )
    return dataclasses.replace(msg, service_parameter_list=m.ServiceParameterList(parameter_set=sets))


_BPT_CPD = {
    "AC_ChargeParameterDiscoveryRes": ("ac_cpd_res_energy_transfer_mode", m.BPT_AC_CPDResEnergyTransferMode),
    "DC_ChargeParameterDiscoveryRes": ("dc_cpd_res_energy_transfer_mode", m.BPT_DC_CPDResEnergyTransferMode),
}


def bpt_limits_without_bpt(msg: Any, memory: dict[str, Any]) -> Any:
    """A ChargeParameterDiscoveryRes of a session without BPT carries the BPT element (AC or DC)."""
    name, bpt_cls = _BPT_CPD.get(type(msg).__name__, ("", None))
    mode = getattr(msg, name, None) if name else None
    if mode is None or bpt_cls is None:
        return msg
    fields = {f.name: getattr(mode, f.name) for f in dataclasses.fields(mode)}
    discharge = {f.name: rational(0) for f in dataclasses.fields(bpt_cls) if "discharge" in f.name}
    bpt = bpt_cls(**fields, **discharge)
    return dataclasses.replace(msg, **{name: None, f"bpt_{name}": bpt})


_LOOP_RES = {"AC_ChargeLoopRes": EnergyFamily.AC, "DC_ChargeLoopRes": EnergyFamily.DC}


def no_meter_info(msg: Any, memory: dict[str, Any]) -> Any:
    """AC_/DC_ChargeLoopRes without MeterInfo."""
    return dataclasses.replace(msg, meter_info=None) if type(msg).__name__ in _LOOP_RES else msg


def wrong_loop_mode(msg: Any, memory: dict[str, Any]) -> Any:
    """AC_/DC_ChargeLoopRes in the other control mode (Scheduled <-> Dynamic) than the request's."""
    family = _LOOP_RES.get(type(msg).__name__)
    found = loop_response_mode(msg) if family is not None else None
    if family is None or found is None:
        return msg
    bpt, dynamic, element = found
    other = loop_mode_field(bpt, not dynamic, response=True, family=family)
    cls = typing.get_args(typing.get_type_hints(type(msg))[other])[0]  # ``X | None``
    kept = {f.name: getattr(element, f.name) for f in dataclasses.fields(element)}
    wanted = {f.name for f in dataclasses.fields(cls)}
    swapped = minimal_instance(cls, override={k: v for k, v in kept.items() if k in wanted})
    blank = dict.fromkeys(LOOP_RESPONSE_MODES[family])
    return dataclasses.replace(msg, **(blank | {other: swapped}))


def ev_discharges(msg: Any, memory: dict[str, Any]) -> Any:
    """PowerDeliveryReq(Start) asks for discharge."""
    if type(msg).__name__ == "PowerDeliveryReq" and str(msg.charge_progress) == "Start":
        return dataclasses.replace(msg, bpt_channel_selection=m.ChannelSelection.Discharge)
    return msg


def unpair_v2x(msg: Any, memory: dict[str, Any]) -> Any:
    """EVMinimumV2XEnergyRequest dropped, EVMaximumV2XEnergyRequest kept."""
    name = type(msg).__name__
    if name == "ScheduleExchangeReq" and msg.dynamic_se_req_control_mode is not None:
        mode = dataclasses.replace(msg.dynamic_se_req_control_mode, ev_minimum_v2x_energy_request=None)
        return dataclasses.replace(msg, dynamic_se_req_control_mode=mode)
    if name == "AC_ChargeLoopReq" and msg.bpt_dynamic_ac_cl_req_control_mode is not None:
        mode = dataclasses.replace(msg.bpt_dynamic_ac_cl_req_control_mode, ev_minimum_v2x_energy_request=None)
        return dataclasses.replace(msg, bpt_dynamic_ac_cl_req_control_mode=mode)
    return msg


def tamper_pnc(msg: Any, memory: dict[str, Any]) -> Any:
    """PnC AuthorizationReq and MeteringConfirmationReq with one signature bit flipped."""
    name = type(msg).__name__
    if name in ("AuthorizationReq", "MeteringConfirmationReq") and msg.header.signature is not None:
        return tamper_signature(msg)
    return msg


def cable_check_done(msg: Any, memory: dict[str, Any]) -> Any:
    """DC_CableCheckRes (DIN, -2: CableCheckRes) Ongoing reaches the EV as Finished."""
    if kind(msg, memory) not in ("DC_CableCheckRes", "CableCheckRes"):
        return msg
    processing = _element(msg).evse_processing
    return _edit(msg, evse_processing=type(processing)("Finished")) if str(processing) == "Ongoing" else msg


def _physical(msg: Any, value: float, unit: str) -> Any:
    """``value`` as a number of the message's generation (-20 RationalNumber, else PhysicalValue)."""
    if not hasattr(msg, "body"):
        return rational(value)
    return physical(sys.modules[type(msg).__module__], value, unit)


def exceed_evse_limits(msg: Any, memory: dict[str, Any]) -> Any:
    """DC_ChargeLoopReq (DIN, -2: CurrentDemandReq) asks for 999 A (above any charger's maximum)."""
    name = kind(msg, memory)
    if name == "CurrentDemandReq":
        return _edit(msg, ev_target_current=_physical(msg, 999, "A"))
    found = loop_request_mode(msg) if name == "DC_ChargeLoopReq" else None
    if found is None or getattr(found[2], "ev_target_current", None) is None:
        return msg
    bpt, dynamic, element = found
    field = loop_mode_field(bpt, dynamic, family=EnergyFamily.DC)
    return dataclasses.replace(msg, **{field: dataclasses.replace(element, ev_target_current=rational(999))})


def precharge_overvoltage(msg: Any, memory: dict[str, Any]) -> Any:
    """DC_PreChargeReq (DIN, -2: PreChargeReq) asks for 900 V (above the EV's and the charger's windows)."""
    if kind(msg, memory) in ("DC_PreChargeReq", "PreChargeReq"):
        return _edit(msg, ev_target_voltage=_physical(msg, 900, "V"))
    return msg


def profile_above_pmax(msg: Any, memory: dict[str, Any]) -> Any:
    """-2 PowerDeliveryReq(Start) with a ChargingProfile ten times its own (above any PMax it was offered)."""
    profile = getattr(_element(msg), "charging_profile", None) if kind(msg, memory) == "PowerDeliveryReq" else None
    if profile is None:
        return msg
    entries = tuple(
        dataclasses.replace(
            e, charging_profile_entry_max_power=_physical(msg, 10 * value_of(e.charging_profile_entry_max_power), "W")
        )
        for e in profile.profile_entry
    )
    return _edit(msg, charging_profile=dataclasses.replace(profile, profile_entry=entries))


_STOPS = {"StopCharging": "None", "ReNegotiation": "None", "EVSE_Shutdown": "EVSE_Ready"}


def ignore_stop(msg: Any, memory: dict[str, Any]) -> Any:
    """The charger's request to stop or renegotiate in a DIN or -2 loop response does not reach the EV: -2's
    EVSENotification StopCharging or ReNegotiation becomes None, DIN's DC_EVSEStatusCode EVSE_Shutdown
    EVSE_Ready."""
    if kind(msg, memory) not in ("ChargingStatusRes", "CurrentDemandRes"):
        return msg
    element = _element(msg)
    name = "dc_evse_status" if getattr(element, "dc_evse_status", None) is not None else "ac_evse_status"
    status = getattr(element, name)
    changes: dict[str, Any] = {}
    for field in ("evse_notification", "evse_status_code"):
        value = getattr(status, field, None)
        if value is not None and str(value) in _STOPS:
            changes[field] = type(value)(_STOPS[str(value)])
    return _edit(msg, **{name: dataclasses.replace(status, **changes)}) if changes else msg


# ---- replaced parts of the SUT -------------------------------------------------------------------------------------
class _Delegate:
    """A controller wrapper: everything not overridden goes to the wrapped controller."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class FollowsEvMaximum(_Delegate):
    """An EVSE controller that sets the EV's maximum charge power as setpoint."""

    async def charge_loop(self, present: float, ev_state: dict[str, float], now: float) -> Any:
        command = await self.inner.charge_loop(present, ev_state, now)
        return dataclasses.replace(command, target_power_w=ev_state.get("ev_maximum_charge_power", 0.0))


class DischargeSetpoint(_Delegate):
    """An EVSE controller that always commands discharge."""

    async def charge_loop(self, present: float, ev_state: dict[str, float], now: float) -> Any:
        command = await self.inner.charge_loop(present, ev_state, now)
        return dataclasses.replace(command, target_power_w=-abs(command.target_power_w or 11_000.0))


class IgnoresSetpoint(_Delegate):
    """An EV controller that never draws power, whatever the setpoint."""

    async def apply_power(self, target_w: float | None, now: float) -> float:
        await self.inner.apply_power(0.0, now)
        return 0.0


class FullPower(_Delegate):
    """An EV controller that always draws its maximum, whatever the setpoint or schedule."""

    async def apply_power(self, target_w: float | None, now: float) -> float:
        return float(await self.inner.apply_power(None, now))


class NoVoltageLimits(_Delegate):
    """A DC charger that claims any voltage from 0 to 10 kV (it never refuses an EV's voltages)."""

    async def dc_limits(self, now: float) -> Any:
        return dataclasses.replace(await self.inner.dc_limits(now), min_voltage_v=0.0, max_voltage_v=10_000.0)


class EndlessAuthorization(_Delegate):
    """A charger whose customer never identifies: the authorization stays pending."""

    async def authorize(self, evcc_id: str, emaid: str | None, now: float) -> AuthorizationDecision:
        return AuthorizationDecision.PENDING


class EndlessCableCheck(_Delegate):
    """A DC charger whose insulation test never ends."""

    async def cable_check(self, now: float) -> IsolationCheck:
        return IsolationCheck(done=False)


class StuckPrecharge(_Delegate):
    """A DC charger whose output stays at 0 V during the precharge."""

    async def precharge(self, target_voltage_v: float, target_current_a: float, now: float) -> DCOutput:
        return DCOutput(present_voltage_v=0.0)


class Overcurrent(_Delegate):
    """A DC charger that drives twice the current it decided, plus 10 A."""

    async def dc_charge_loop(self, request: Any, now: float) -> Any:
        command = await self.inner.dc_charge_loop(request, now)
        current = command.present_current_a
        return dataclasses.replace(command, present_current_a=2 * current + (10.0 if current >= 0 else -10.0))


class LaxPnc(PncVerifier):
    """Accepts any contract and any signature."""

    def verify_authorization(self, request: Any, now: float) -> PncOutcome:
        leaf = x509.load_der_x509_certificate(
            request.pnc_a_req_authorization_mode.contract_certificate_chain.certificate
        )
        names = leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        return PncOutcome(code=None, emaid=str(names[0].value) if names else None, chain=(leaf,))

    def verify_metering(self, request: Any, chain: tuple[x509.Certificate, ...], now: float) -> PncOutcome:
        return PncOutcome(code=None)


class AnyEvDecisions:
    """Wraps the SECC's decisions so that a paused session resumes for whichever EV presents its SessionID:
    the stored pause is handed to the decision as if it had been made by the asking EV and its certificate."""

    def __init__(self, inner: SeccLogic) -> None:
        self.inner = inner

    def initial(self) -> Any:
        return self.inner.initial()

    def summary(self, ctx: Any) -> Summary:
        return self.inner.summary(ctx)

    def decide(self, kind: StrEnum, request: Any, ctx: Any, env: SeccEnv) -> Answer[Any] | Need:
        paused = env.inputs.values.get(Input.PAUSED)
        if isinstance(paused, PausedSession):
            fingerprint = env.peer.fingerprint if env.peer else None
            asked = _element(request).evcc_id
            # -20's EVCCID is a string; DIN's and -2's are bytes, which the SECC keeps as upper-case hex.
            evcc_id = bytes(asked).hex().upper() if isinstance(asked, bytes | bytearray) else asked
            forged = dataclasses.replace(paused, evcc_id=evcc_id, fingerprint=fingerprint, expires_at=float("inf"))
            env = dataclasses.replace(env, inputs=env.inputs.with_value(Input.PAUSED, forged))
        return self.inner.decide(kind, request, ctx, env)


class ForgetfulStore(SessionStore):
    """Never keeps a paused session."""

    def pause(self, session: PausedSession) -> None:
        return None


def no_verification(context: Any) -> None:
    """The TLS context verifies no peer certificate (and asks for none as a server)."""
    context.verify_mode = 0  # ssl.CERT_NONE
