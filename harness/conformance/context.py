"""What the tester knows during one case, and the run settings.

The tester keeps its own view of the session (SessionID, challenge, offers, schedules, limits...) built
only from the messages on the wire; it never asks the SUT's session core. The case's protocol
(:class:`~harness.conformance.protocol.Protocol`) updates it from an SECC's response (the tester is the EV) or an
EVCC's request (the tester is the SECC).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from harness.conformance.credentials import Credentials
from harness.conformance.model import Need, Profile
from iso15118.decisions import PausedSession
from iso15118.messages.units import value_of
from iso15118.security.tls import HandshakeInfo
from iso15118.session.selection import Selection
from iso15118.session.timers import DEFAULT_TIMING, Timing
from iso15118.simple import SimpleEVSE

__all__ = ["ZERO_SESSION", "Context", "RunConfig", "cpd_element", "limits_of"]

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
    protocol: str = "iso20"
    """The protocol generation of the run (``iso20``, ``iso2``, ``din``): a case that applies to it speaks it."""


@dataclass
class Context:
    """The tester's view of the session of one case."""

    profile: Profile
    config: RunConfig
    protocol: Any
    """The case's :class:`~harness.conformance.protocol.Protocol`."""
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
    negotiated: bool = False
    """SupportedAppProtocol agreed on a namespace (DIN and -2 then read 0x8001 payloads as their own)."""
    ev: Any = None
    """Tester EV: what it remembers between requests (the library's EVCC context, :mod:`requests`)."""
    ev_next: str | None = None
    """Tester EV: the request the library EV planned after the last response."""
    ev_stop: str | None = None
    """Tester EV: why it cannot go on as the case asks (what the SUT offers does not allow it)."""
    secc: Any = None
    """Tester SECC: what it remembers between responses (the library's SECC context, :mod:`responses`)."""
    evse: SimpleEVSE | None = None
    """Tester SECC: its charger (limits, insulation test, precharge, DC output) made from the profile."""
    selection: Selection | None = None
    """Tester SECC: the session's selection once SupportedAppProtocol agreed on a namespace."""
    state: StrEnum | None = None
    """Tester SECC: where the session is in the generation's sequence table."""
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
