"""The pieces the faults of :mod:`harness.conformance.faulty` are made of: message rewrites and replaced parts.

Rewrites take (message, the fault's memory for this connection) and return the message to pass on
(:data:`~harness.conformance.sutfault.Rewrite`); the classes stand in for a controller, the PnC verifier or the
paused-session store of our own SUT.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from typing import Any

from cryptography import x509

from harness.conformance.fields import tamper_signature
from iso15118.decisions import Answer, Input, Need, PausedSession, SeccEnv, SeccLogic, Summary
from iso15118.iso20.pnc import PncOutcome, PncVerifier
from iso15118.iso20.services import LOOP_RESPONSE_MODES
from iso15118.messages import iso20 as m
from iso15118.messages.app_protocol import ResponseCode as SapCode
from iso15118.messages.units import rational
from iso15118.session.selection import EnergyFamily
from iso15118.transport.store import SessionStore

__all__ = [
    "AnyEvDecisions",
    "DischargeSetpoint",
    "FollowsEvMaximum",
    "ForgetfulStore",
    "FullPower",
    "IgnoresSetpoint",
    "LaxPnc",
    "adopt_session_id",
    "bpt_limits_for_ac",
    "drop_bpt_parameters",
    "drop_channel",
    "ev_discharges",
    "first_offer",
    "mask_failed",
    "mask_not_ok",
    "no_meter_info",
    "no_verification",
    "recode",
    "remember_requests",
    "tamper_pnc",
    "unpair_v2x",
    "wrong_loop_mode",
]


# ---- message rewrites ------------------------------------------------------------------------------------------
def _code(msg: Any) -> str:
    return str(getattr(msg, "response_code", "") or "")


def _ok(msg: Any) -> Any:
    if type(msg).__name__ == "supportedAppProtocolRes":
        return dataclasses.replace(msg, response_code=SapCode.OK_SuccessfulNegotiation, schema_id=msg.schema_id or 1)
    return dataclasses.replace(msg, response_code=m.ResponseCode.OK)


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
        if _code(msg) != old:
            return msg
        if type(msg).__name__ == "supportedAppProtocolRes":
            return dataclasses.replace(msg, response_code=SapCode(new))
        return dataclasses.replace(msg, response_code=m.ResponseCode(new))

    return rewrite


def remember_requests(msg: Any, memory: dict[str, Any]) -> Any:
    """Keep the SessionSetupReq's SessionID and the first SupportedAppProtocol offer's SchemaID."""
    name = type(msg).__name__
    if name == "SessionSetupReq":
        memory["asked_session_id"] = msg.header.session_id
    elif name == "supportedAppProtocolReq":
        memory["first_schema_id"] = msg.app_protocol[0].schema_id
    return msg


def adopt_session_id(msg: Any, memory: dict[str, Any]) -> Any:
    """SessionSetupRes takes the (non-zero) SessionID the EV asked for."""
    asked = memory.get("asked_session_id")
    if type(msg).__name__ == "SessionSetupRes" and asked and asked != bytes(8):
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


def bpt_limits_for_ac(msg: Any, memory: dict[str, Any]) -> Any:
    """AC_ChargeParameterDiscoveryRes of an AC session carries the BPT element."""
    mode = getattr(msg, "ac_cpd_res_energy_transfer_mode", None)
    if type(msg).__name__ != "AC_ChargeParameterDiscoveryRes" or mode is None:
        return msg
    fields = {f.name: getattr(mode, f.name) for f in dataclasses.fields(mode)}
    bpt = m.BPT_AC_CPDResEnergyTransferMode(
        **fields, evse_maximum_discharge_power=rational(11_000), evse_minimum_discharge_power=rational(0)
    )
    return dataclasses.replace(msg, ac_cpd_res_energy_transfer_mode=None, bpt_ac_cpd_res_energy_transfer_mode=bpt)


def no_meter_info(msg: Any, memory: dict[str, Any]) -> Any:
    """AC_ChargeLoopRes without MeterInfo."""
    return dataclasses.replace(msg, meter_info=None) if type(msg).__name__ == "AC_ChargeLoopRes" else msg


def wrong_loop_mode(msg: Any, memory: dict[str, Any]) -> Any:
    """AC_ChargeLoopRes in the other control mode than the request's."""
    if type(msg).__name__ != "AC_ChargeLoopRes":
        return msg
    blank = dict.fromkeys(LOOP_RESPONSE_MODES[EnergyFamily.AC])
    if msg.scheduled_ac_cl_res_control_mode is not None or msg.bpt_scheduled_ac_cl_res_control_mode is not None:
        swapped: dict[str, Any] = {
            "dynamic_ac_cl_res_control_mode": m.Dynamic_AC_CLResControlMode(evse_target_active_power=rational(0))
        }
    else:
        swapped = {"scheduled_ac_cl_res_control_mode": m.Scheduled_AC_CLResControlMode()}
    return dataclasses.replace(msg, **(blank | swapped))


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
            forged = dataclasses.replace(
                paused, evcc_id=request.evcc_id, fingerprint=fingerprint, expires_at=float("inf")
            )
            env = dataclasses.replace(env, inputs=env.inputs.with_value(Input.PAUSED, forged))
        return self.inner.decide(kind, request, ctx, env)


class ForgetfulStore(SessionStore):
    """Never keeps a paused session."""

    def pause(self, session: PausedSession) -> None:
        return None


def no_verification(context: Any) -> None:
    """The TLS context verifies no peer certificate (and asks for none as a server)."""
    context.verify_mode = 0  # ssl.CERT_NONE
