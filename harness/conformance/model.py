"""The conformance harness's data: what a test case is, what running one produces, and the verdicts.

A :class:`Case` is a declarative script: which SUT role it tests, the requirement IDs it checks, what must hold
before it can run (:class:`Need`), the stimulus and expected reaction in prose, and the steps
(:mod:`harness.conformance.steps`) the runner executes. Running it yields a :class:`CaseResult`: the verdict,
the reason, every frame sent and received (:class:`TraceEntry`, with hex and decoded JSON) and every time
measured (:class:`Measurement`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from harness.conformance.protocol import Generation
from iso15118.iso20.services import AC, AC_BPT, DC, DC_BPT
from iso15118.session.selection import EnergyFamily

__all__ = [
    "Case",
    "CaseResult",
    "Category",
    "Measurement",
    "Need",
    "Profile",
    "StepRecord",
    "SutRole",
    "TraceEntry",
    "Verdict",
    "dc_profile",
]


class Verdict(StrEnum):
    """The outcome of one case (ISO 9646 / TTCN-3 vocabulary)."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    """The SUT could not be brought into the state the case needs, or a precondition is missing."""
    ERROR = "error"
    """The case could not run: the tester did not find the SUT, or lost it (a run-level error, no judgement of
    the SUT; the run exits non-zero)."""


class SutRole(StrEnum):
    """Which side the system under test plays; the tester plays the other one."""

    SECC = "secc"
    EVCC = "evcc"


class Category(StrEnum):
    """What a case is about."""

    HAPPY = "happy-path"
    SEQUENCE = "sequence"
    FRAMING = "encoding-framing"
    TIMING = "timing"
    SECURITY = "security"
    PARAMETERS = "parameters"


class Need(StrEnum):
    """A precondition a case needs from the target or the run configuration."""

    TLS = "tls"
    """The connection runs over TLS (not an in-memory or plain-TCP target)."""
    PKI = "pki"
    """The tester has a v2gstack test PKI (``--pki``) the SUT trusts."""
    PNC = "pnc"
    """The SUT supports Plug & Charge with contracts of the tester's PKI."""
    BPT = "bpt"
    """The SUT supports the bidirectional service of the case's family (AC_BPT 5, DC_BPT 6)."""
    DC = "dc"
    """The SUT supports the -20 DC namespace (DC, service 2; with ``bpt`` DC_BPT, service 6)."""
    SCHEDULED = "scheduled"
    """The SUT supports the Scheduled control mode."""
    DYNAMIC = "dynamic"
    """The SUT supports the Dynamic control mode."""
    PAUSE = "pause"
    """The SUT supports pausing and resuming a session."""
    SIDE_STREAMS = "side-streams"
    """The SUT supports the -20 side streams (schedule renegotiation, metering confirmation)."""
    SERVICE_RENEGOTIATION = "service-renegotiation"
    """The SUT supports service renegotiation."""
    RECONNECT = "reconnect"
    """EVCC SUT: it connects again to the tester after a session ended (resume, second session)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """The session a case sets up: what the tester selects (SUT = SECC) or offers (SUT = EVCC)."""

    family: EnergyFamily = EnergyFamily.AC
    """The energy family of the session: the tester EV offers only its namespace (-20 AC or DC; -2 and DIN have
    one), the tester SECC accepts only it; in -2 it chooses the energy transfer mode."""
    service: int = AC_BPT
    """Tester EV: the energy service it selects (1 = AC, 5 = AC_BPT; 2 = DC, 6 = DC_BPT)."""
    dynamic: bool = True
    """Tester EV: the control mode it selects (Dynamic, else Scheduled)."""
    auth: str = "EIM"
    """Tester EV: the authorization it selects (EIM or PnC)."""
    discharge: bool = False
    """Tester EV: BPT_ChannelSelection = Discharge in PowerDelivery(Start)."""
    ev_max_charge_w: float = 11_000.0
    ev_min_charge_w: float = 1_400.0
    ev_max_discharge_w: float = 11_000.0
    ev_min_discharge_w: float = 1_400.0
    meter_info_requested: bool = True
    offered_services: tuple[int, ...] = (AC, AC_BPT)
    """Tester SECC: the energy services it offers."""
    offered_modes: tuple[int, ...] = (2, 1)
    """Tester SECC: one parameter set per control mode (1 = Scheduled, 2 = Dynamic), IDs 1, 2... in order."""
    offered_auth: tuple[str, ...] = ("EIM",)
    """Tester SECC: the authorization services it offers."""
    evse_max_charge_w: float = 11_000.0
    evse_min_charge_w: float = 1_400.0
    evse_max_discharge_w: float = 11_000.0
    evse_min_discharge_w: float = 1_400.0
    target_w: float | None = None
    """Tester SECC: EVSETargetActivePower in Dynamic mode (None: the EVSE's maximum charge power)."""
    schedule_w: float | None = None
    """Tester SECC: the power of the Scheduled mode's charging schedule (None: the EVSE's maximum)."""
    schedule_tuple_id: int = 1
    """Tester SECC: the ScheduleTupleID it offers."""
    ev_voltage_v: float = 400.0
    """DC, tester EV: the battery's present voltage (the precharge target)."""
    ev_min_voltage_v: float = 350.0
    ev_max_voltage_v: float = 450.0
    ev_max_current_a: float = 250.0
    evse_min_voltage_v: float = 150.0
    """DC, tester SECC: its output voltage window and current limit."""
    evse_max_voltage_v: float = 500.0
    evse_max_current_a: float = 200.0
    cable_check_ongoing: int = 2
    """DC, tester SECC: DC_CableCheckRes answers Ongoing this many times before Finished."""
    precharge_step_v: float = 150.0
    """DC, tester SECC: how far its output moves towards the EV's target per DC_PreChargeReq."""
    evse_three_phase: bool = False
    """AC, tester SECC: a three-phase charger (-2 then offers AC_three_phase_core besides single phase, so that
    an EV that charges on three phases only, as Josev's -2 EVCC does by default, finds its mode)."""


def dc_profile(*, service: int = DC_BPT, offered: tuple[int, ...] = (DC, DC_BPT), **fields: Any) -> Profile:
    """A DC session: the tester EV selects ``service`` (DC_BPT unless told), the tester SECC offers ``offered``."""
    return Profile(family=EnergyFamily.DC, service=service, offered_services=offered, **fields)


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """One conformance test case."""

    id: str
    title: str
    sut: SutRole
    category: Category
    requirements: tuple[str, ...]
    """Requirement IDs (``V2G20-nnnn``) or named rules the case checks."""
    stimulus: str
    expected: str
    steps: tuple[Any, ...]
    """The script: step objects of :mod:`harness.conformance.steps`."""
    needs: frozenset[Need] = frozenset()
    preconditions: str = ""
    """Anything else that must hold, in prose."""
    profile: Profile = field(default_factory=Profile)
    negative: bool = False
    """The case stimulates an error; it must be able to fail (see :mod:`harness.conformance.faulty`)."""
    strict_performance: bool = False
    """A response slower than its performance time fails the case (otherwise it is only recorded)."""
    timeout_s: float = 120.0
    """The whole case is failed when it runs longer than this."""
    protocols: frozenset[Generation] = frozenset({Generation.ISO20})
    """The protocol generations the case applies to (a run speaks one, ``--protocol``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceEntry:
    """One line of a case's evidence: a frame sent or received, a connection event, or a note."""

    at: float
    """Seconds since the case started."""
    direction: str
    """``tx`` (tester -> SUT), ``rx`` (SUT -> tester), ``net`` (connection, TLS) or ``note``."""
    text: str
    """The message name, or what happened."""
    payload_type: int | None = None
    stream: str | None = None
    hex: str | None = None
    """The whole frame (V2GTP header and payload) in hex."""
    decoded: dict[str, Any] | None = None
    """The decoded message's JSON view."""
    elapsed: float | None = None
    """For a response: seconds since the request was sent."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """A time the tester measured and the limit it was checked against."""

    what: str
    measured: float
    limit: float
    kind: str
    """``performance`` (response time), ``timeout`` (time until the SUT closed), ``pacing`` (EV next request)."""
    requirement: str = ""
    lower: float = 0.0
    """The earliest acceptable value (a timeout must not fire early)."""

    @property
    def ok(self) -> bool:
        """True when the measured time is within [lower, limit]."""
        return self.lower <= self.measured <= self.limit


@dataclass(frozen=True, slots=True, kw_only=True)
class StepRecord:
    """What one step did."""

    index: int
    description: str
    outcome: str
    """``ok``, ``fail``, ``inconclusive`` or ``skipped``."""
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseResult:
    """The verdict of one case and all its evidence."""

    case: Case
    verdict: Verdict
    reason: str
    started: float
    """POSIX time the case started."""
    duration: float
    trace: tuple[TraceEntry, ...] = ()
    measurements: tuple[Measurement, ...] = ()
    steps: tuple[StepRecord, ...] = ()
    target: str = ""
