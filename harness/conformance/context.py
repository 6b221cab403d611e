"""What the tester knows during one case, how it learns it from the SUT's messages, and the run settings.

The tester keeps its own view of the session (SessionID, challenge, offers, schedules, limits...) built
only from the messages on the wire; it never asks the SUT's session core. :func:`learn_response` updates it
from an SECC's response (the tester is the EV), :func:`learn_request` from an EVCC's request (the tester is
the SECC).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from harness.conformance.credentials import Credentials
from harness.conformance.model import Need, Profile
from iso15118.decisions import PausedSession
from iso15118.iso20.evcc import EvccContext
from iso15118.iso20.kinds import Kind
from iso15118.iso20.profile import ISO20
from iso15118.iso20.secc import SeccContext
from iso15118.iso20.services import loop_request_mode, loop_target_power
from iso15118.messages.units import value_of
from iso15118.security.tls import HandshakeInfo
from iso15118.session.sap import SAP
from iso15118.session.selection import Selection
from iso15118.session.timers import DEFAULT_TIMING, Timing
from iso15118.simple import SimpleEVSE

__all__ = ["ZERO_SESSION", "Context", "RunConfig", "cpd_element", "learn_request", "learn_response", "limits_of"]

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
    evcc_id: str | None = None
    """The tester EV's EVCCID (None: its vehicle certificate's CN with a PKI [V2G20-2598], else
    ``WMIV2GCONFORMANCE01``)."""
    evse_id: str = "DE*V2G*E0001*1"
    accept_timeout: float = 20.0
    """SUT = EVCC: how long to wait for it to connect."""


@dataclass
class Context:
    """The tester's view of the session of one case."""

    profile: Profile
    config: RunConfig
    needs: frozenset[Need] = frozenset()
    """What the case needs of the SUT (a SUT that does not offer it makes the case inconclusive)."""
    session_id: bytes = ZERO_SESSION
    established: bool = False
    sessions: list[bytes] = field(default_factory=list)
    """Every SessionID the SUT assigned in this case, in order."""
    challenges: list[bytes] = field(default_factory=list)
    gen_challenge: bytes | None = None
    evse_id: str | None = None
    offered_services: tuple[int, ...] = ()
    selected_set: int | None = None
    schedule_ids: tuple[int, ...] = ()
    evse_limits: dict[str, float] = field(default_factory=dict)
    """From the ChargeParameterDiscoveryRes: powers, and in DC currents and voltages (magnitudes)."""
    ev_limits: dict[str, float] = field(default_factory=dict)
    """From the ChargeParameterDiscoveryReq (SUT = EVCC)."""
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
    ev: EvccContext | None = None
    """Tester EV: what it remembers between requests (the library's EVCC context, :mod:`requests`)."""
    ev_stop: str | None = None
    """Tester EV: why it cannot go on as the case asks (what the SUT offers does not allow it)."""
    secc: SeccContext = field(default_factory=SeccContext)
    """Tester SECC: what it remembers between responses (the library's SECC context, :mod:`responses`)."""
    evse: SimpleEVSE | None = None
    """Tester SECC: its charger (limits, insulation test, precharge, DC output) made from the profile."""
    selection: Selection | None = None
    """Tester SECC: the session's selection once SupportedAppProtocol agreed on a namespace."""
    state: StrEnum | None = None
    """Tester SECC: where the session is in the -20 sequence table."""
    paused: PausedSession | None = None
    """Tester SECC: the session the EV paused, for its resumption."""

    def remember_session(self, session_id: bytes) -> None:
        """Adopt a SessionID the SUT assigned (or that the tester assigned)."""
        self.session_id = session_id
        self.established = True
        self.sessions.append(session_id)


def _magnitude(number: Any) -> float | None:
    return None if number is None else abs(value_of(number))


_LIMITS = {
    "max_charge_w": "maximum_charge_power",
    "min_charge_w": "minimum_charge_power",
    "max_discharge_w": "maximum_discharge_power",
    "min_discharge_w": "minimum_discharge_power",
    "max_charge_a": "maximum_charge_current",
    "max_discharge_a": "maximum_discharge_current",
    "max_voltage_v": "maximum_voltage",
    "min_voltage_v": "minimum_voltage",
}


def limits_of(mode: Any, side: str) -> dict[str, float]:
    """The limits of a charge-parameter element (``side``: ``evse`` or ``ev``) as magnitudes; only those the
    element has (discharge limits with BPT, voltages and currents in DC; none without an element)."""
    found = {key: _magnitude(getattr(mode, f"{side}_{name}", None)) for key, name in _LIMITS.items()}
    return {k: v for k, v in found.items() if v is not None}


def cpd_element(msg: Any) -> tuple[bool, Any]:
    """(bpt, element) of an AC_/DC_ChargeParameterDiscoveryReq/Res: which energy-transfer element it carries."""
    for name in dataclasses.fields(msg):
        value = getattr(msg, name.name)
        if name.name.endswith("_energy_transfer_mode") and value is not None:
            return name.name.startswith("bpt_"), value
    return False, None


def learn_response(ctx: Context, request: Any, response: Any) -> None:
    """Update ``ctx`` from an SECC's response to ``request`` (the tester is the EV)."""
    ctx.last_response = response
    kind = ISO20.kind_of(response)
    if ISO20.is_failed(ISO20.response_code(response)):
        return
    if kind is Kind.SessionSetupRes:
        ctx.remember_session(response.header.session_id)
        ctx.evse_id = response.evse_id
    elif kind is Kind.AuthorizationSetupRes and response.pnc_as_res_authorization_mode is not None:
        ctx.gen_challenge = response.pnc_as_res_authorization_mode.gen_challenge
        ctx.challenges.append(ctx.gen_challenge)
    elif kind is Kind.ServiceDiscoveryRes:
        ctx.offered_services = tuple(s.service_id for s in response.energy_transfer_service_list.service)
    elif kind is Kind.ServiceSelectionRes:
        selected = request.selected_energy_transfer_service
        ctx.selected_service = selected.service_id
        ctx.selected_set = selected.parameter_set_id
    elif kind in (Kind.AC_ChargeParameterDiscoveryRes, Kind.DC_ChargeParameterDiscoveryRes):
        ctx.evse_limits = limits_of(cpd_element(response)[1], "evse")
    elif kind is Kind.ScheduleExchangeRes and response.scheduled_se_res_control_mode is not None:
        ctx.schedule_ids = tuple(t.schedule_tuple_id for t in response.scheduled_se_res_control_mode.schedule_tuple)
    elif kind in (Kind.AC_ChargeLoopRes, Kind.DC_ChargeLoopRes):
        target = loop_target_power(response)
        if target is not None:
            ctx.target_w = target
        if response.meter_info is not None:
            ctx.meter = _meter(response.meter_info)
    elif kind is Kind.SessionStopRes and str(request.charging_session) == "Pause":
        ctx.paused_session_id = ctx.session_id


def _meter(info: Any) -> dict[str, int]:
    return {
        "charged_wh": int(info.charged_energy_reading_wh),
        "discharged_wh": int(info.bpt_discharged_energy_reading_wh or 0),
    }


def learn_request(ctx: Context, stream: str, request: Any) -> None:
    """Update ``ctx`` from an EVCC's request (the tester is the SECC)."""
    ctx.last_request = request
    kind = ISO20.kind_of(request) or SAP.kind_of(request)
    ctx.requests.append((stream, str(kind)))
    if kind is Kind.ServiceSelectionReq:
        selected = request.selected_energy_transfer_service
        ctx.selected_service = selected.service_id
        ctx.selected_set = selected.parameter_set_id
        modes = ctx.profile.offered_modes
        if 1 <= selected.parameter_set_id <= len(modes):
            ctx.dynamic = modes[selected.parameter_set_id - 1] == 2
    elif kind in (Kind.AC_ChargeParameterDiscoveryReq, Kind.DC_ChargeParameterDiscoveryReq):
        element = cpd_element(request)[1]
        if element is not None:
            ctx.ev_limits = limits_of(element, "ev")
    elif kind is Kind.SessionStopReq and str(request.charging_session) == "Pause":
        ctx.paused_session_id = ctx.session_id
    elif kind is Kind.AC_ChargeLoopReq:
        found = loop_request_mode(request)
        if found is not None:
            ctx.values["present_w"] = value_of(found[2].ev_present_active_power)
    elif kind is Kind.DC_PreChargeReq:
        ctx.values["precharge_target_v"] = value_of(request.ev_target_voltage)
        ctx.values["precharge_processing"] = str(request.ev_processing)
        if "precharge_sent_v" in ctx.values:
            ctx.values["precharge_seen_v"] = ctx.values["precharge_sent_v"]
    elif kind is Kind.DC_WeldingDetectionReq and str(request.ev_processing) == "Finished":
        ctx.values.setdefault("welding_finished_after", ctx.values.get("welding_responses", 0))
