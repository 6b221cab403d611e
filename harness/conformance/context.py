"""What the tester knows during one case, how it learns it from the SUT's messages, and the run settings.

The tester keeps its own view of the session (SessionID, challenge, offers, schedules, limits...) built
only from the messages on the wire; it never asks the SUT's session core. :func:`learn_response` updates it
from an SECC's response (the tester is the EV), :func:`learn_request` from an EVCC's request (the tester is
the SECC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.conformance.credentials import Credentials
from harness.conformance.model import Profile
from iso15118.iso20.services import ParameterSetSpec, loop_request_mode, loop_target_power, parse_parameter_set
from iso15118.messages.units import value_of
from iso15118.security.tls import HandshakeInfo
from iso15118.session.timers import DEFAULT_TIMING, Timing

__all__ = ["ZERO_SESSION", "Context", "RunConfig", "learn_request", "learn_response"]

ZERO_SESSION = bytes(8)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    """Settings of a conformance run."""

    timing: Timing = DEFAULT_TIMING
    """The limits the tester checks the SUT against (the standard's unless the SUT is configured otherwise)."""
    slack: float = 0.5
    """Seconds added to every limit the SUT must keep, for network and scheduling delays."""
    credentials: Credentials | None = None
    """The tester's test PKI material (TLS identities, contract credentials)."""
    tolerant: bool = False
    """Lab mode: the tester accepts TLS 1.2 and lab certificates from the SUT (its checks stay the same)."""
    evcc_id: str = "WMIV2GCONFORMANCE01"
    evse_id: str = "DE*V2G*E0001*1"
    accept_timeout: float = 30.0
    """SUT = EVCC: how long to wait for it to connect."""


@dataclass
class Context:
    """The tester's view of the session of one case."""

    profile: Profile
    config: RunConfig
    session_id: bytes = ZERO_SESSION
    established: bool = False
    sessions: list[bytes] = field(default_factory=list)
    """Every SessionID the SUT assigned in this case, in order."""
    challenges: list[bytes] = field(default_factory=list)
    gen_challenge: bytes | None = None
    evse_id: str | None = None
    offered_services: tuple[int, ...] = ()
    parameter_sets: list[ParameterSetSpec] = field(default_factory=list)
    selected_set: int | None = None
    schedule_ids: tuple[int, ...] = ()
    evse_limits: dict[str, float] = field(default_factory=dict)
    """From AC_ChargeParameterDiscoveryRes: max/min charge and discharge power (magnitudes)."""
    ev_limits: dict[str, float] = field(default_factory=dict)
    """From AC_ChargeParameterDiscoveryReq (SUT = EVCC)."""
    target_w: float | None = None
    """The last EVSETargetActivePower (sent by the tester, or received from the SUT)."""
    meter: dict[str, int] = field(default_factory=dict)
    """The last MeterInfo seen."""
    contract_chain: tuple[Any, ...] = ()
    """SUT = EVCC: the validated contract chain of its PnC AuthorizationReq (leaf first)."""
    paused_session_id: bytes | None = None
    selected_service: int | None = None
    dynamic: bool | None = None
    tls: HandshakeInfo | None = None
    last_request: Any = None
    last_response: Any = None
    requests: list[tuple[str, str]] = field(default_factory=list)
    """SUT = EVCC: (stream, request kind) of every request received, in order."""
    values: dict[str, Any] = field(default_factory=dict)
    """Free-form values checks may keep between messages."""

    def remember_session(self, session_id: bytes) -> None:
        """Adopt a SessionID the SUT assigned (or that the tester assigned)."""
        self.session_id = session_id
        self.established = True
        self.sessions.append(session_id)


def _magnitude(number: Any) -> float | None:
    return None if number is None else abs(value_of(number))


def _power_limits(mode: Any, side: str) -> dict[str, float]:
    """The power limits of a charge-parameter element (``side``: ``evse`` or ``ev``) as magnitudes; the
    discharge limits only when the element has them (BPT)."""
    limits = {
        "max_charge_w": _magnitude(getattr(mode, f"{side}_maximum_charge_power")),
        "min_charge_w": _magnitude(getattr(mode, f"{side}_minimum_charge_power")),
        "max_discharge_w": _magnitude(getattr(mode, f"{side}_maximum_discharge_power", None)),
        "min_discharge_w": _magnitude(getattr(mode, f"{side}_minimum_discharge_power", None)),
    }
    return {k: v for k, v in limits.items() if v is not None}


def learn_response(ctx: Context, request: Any, response: Any) -> None:
    """Update ``ctx`` from an SECC's response to ``request`` (the tester is the EV)."""
    ctx.last_response = response
    kind = type(response).__name__
    code = str(getattr(response, "response_code", ""))
    if code.upper().startswith("FAILED"):
        return
    if kind == "SessionSetupRes":
        ctx.remember_session(response.header.session_id)
        ctx.evse_id = response.evse_id
    elif kind == "AuthorizationSetupRes" and response.pnc_as_res_authorization_mode is not None:
        ctx.gen_challenge = response.pnc_as_res_authorization_mode.gen_challenge
        ctx.challenges.append(ctx.gen_challenge)
    elif kind == "ServiceDiscoveryRes":
        ctx.offered_services = tuple(s.service_id for s in response.energy_transfer_service_list.service)
    elif kind == "ServiceDetailRes":
        ctx.parameter_sets = [parse_parameter_set(ps) for ps in response.service_parameter_list.parameter_set]
    elif kind == "ServiceSelectionRes":
        selected = request.selected_energy_transfer_service
        ctx.selected_service = selected.service_id
        ctx.selected_set = selected.parameter_set_id
    elif kind == "AC_ChargeParameterDiscoveryRes":
        mode = response.bpt_ac_cpd_res_energy_transfer_mode or response.ac_cpd_res_energy_transfer_mode
        if mode is not None:
            ctx.evse_limits = _power_limits(mode, "evse")
    elif kind == "ScheduleExchangeRes" and response.scheduled_se_res_control_mode is not None:
        ctx.schedule_ids = tuple(t.schedule_tuple_id for t in response.scheduled_se_res_control_mode.schedule_tuple)
    elif kind == "AC_ChargeLoopRes":
        target = loop_target_power(response)
        if target is not None:
            ctx.target_w = target
        if response.meter_info is not None:
            ctx.meter = _meter(response.meter_info)
    elif kind == "SessionStopRes" and str(request.charging_session) == "Pause":
        ctx.paused_session_id = ctx.session_id


def _meter(info: Any) -> dict[str, int]:
    return {
        "charged_wh": int(info.charged_energy_reading_wh),
        "discharged_wh": int(info.bpt_discharged_energy_reading_wh or 0),
    }


def learn_request(ctx: Context, stream: str, request: Any) -> None:
    """Update ``ctx`` from an EVCC's request (the tester is the SECC)."""
    ctx.last_request = request
    kind = type(request).__name__
    ctx.requests.append((stream, kind))
    if kind == "ServiceSelectionReq":
        selected = request.selected_energy_transfer_service
        ctx.selected_service = selected.service_id
        ctx.selected_set = selected.parameter_set_id
        modes = ctx.profile.offered_modes
        if 1 <= selected.parameter_set_id <= len(modes):
            ctx.dynamic = modes[selected.parameter_set_id - 1] == 2
    elif kind == "AC_ChargeParameterDiscoveryReq":
        mode = request.bpt_ac_cpd_req_energy_transfer_mode or request.ac_cpd_req_energy_transfer_mode
        if mode is not None:
            ctx.ev_limits = _power_limits(mode, "ev")
    elif kind == "SessionStopReq" and str(request.charging_session) == "Pause":
        ctx.paused_session_id = ctx.session_id
    elif kind == "AC_ChargeLoopReq":
        found = loop_request_mode(request)
        if found is not None:
            ctx.values["present_w"] = value_of(found[2].ev_present_active_power)
