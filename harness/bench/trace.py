"""The time series a bench run records: one :class:`Sample` per interval, plus the limits to judge it by.

Owns :class:`Sample` (with :class:`DCSample` on a DC charger), :class:`TraceMeta` (the scenario's limits and
efficiencies, copied from the data when the bench is built, so the invariant checker judges the samples
against the *data*, not against the models that produced them; :class:`DCMeta` for DC), :class:`TraceEvent`
and :class:`Trace`.

Signs: ``port_w`` positive = into the truck (charge), negative = out of it (ISO 15118-20); ``grid_w``
positive = import from the grid; ``pw_w`` positive = into the Powerwall. Powers are averages over the
interval ``[t, t + dt)``; energies of the stores (``pack_wh``, ``pw_wh``) are at its end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.bench.grid import Window
from harness.bench.wallconnector import OutageRecord

__all__ = ["DCMeta", "DCSample", "Sample", "Trace", "TraceEvent", "TraceMeta"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DCSample:
    """The DC charger and the truck's DC inlet during one interval (signs as ``port_w``: > 0 into the truck).

    ``ev_*`` are the truck's own limits in force for the step the interval belongs to (what it reported when
    the charger decided), computed by the bench from the truck's state, not taken from the charger.
    """

    phase: str
    output_v: float  # the charger's output voltage at the end of the interval
    output_a: float  # the current it drove during the interval (precharge current included)
    inlet_w: float  # DC power into the truck's pack side (0 while the contactors are open)
    pack_v: float  # the pack's voltage at the start of the interval
    contactors: bool  # closed (PowerDelivery(Start) received) during the interval
    insulation_ok: bool  # this session's insulation test ran to the end and passed
    close_gap_v: float | None  # output minus pack voltage when the contactors closed (this session)
    grid_w: float  # the charger's grid side: > 0 drawn, < 0 fed back
    ev_max_v: float
    ev_max_charge_a: float
    ev_max_charge_w: float
    ev_max_discharge_a: float
    ev_max_discharge_w: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    """One interval of the bench."""

    t: float
    dt: float
    grid_up: bool
    gateway: str
    home_powered: bool  # the home's wiring has voltage (grid or backup)
    port_cmd_w: float  # what the caller asked to flow through the charge port
    port_w: float  # what flowed
    outlets_on: bool
    outlet_w: float  # total served by the outlets (includes V2V)
    outlet_detail: tuple[tuple[str, float], ...]
    v2v_w: float
    home_load_w: float
    home_served_w: float
    grid_w: float
    solar_w: float  # used
    solar_curtailed_w: float
    pw_w: float
    soc_pct: float
    pack_wh: float
    pw_wh: float | None
    event_w: float  # grid-support request active (0 when none)
    reason: str  # the policy's reason for the setpoint in force
    dc: DCSample | None = None  # on a DC charger

    @property
    def exporting(self) -> bool:
        """True when power leaves the truck through the charge port."""
        return self.port_w < 0.0

    @property
    def home_unserved_w(self) -> float:
        """Home demand that was not met."""
        return max(0.0, self.home_load_w - self.home_served_w)


@dataclass(frozen=True, slots=True, kw_only=True)
class DCMeta:
    """The DC limits a run is judged against: the charger's, the truck's inlet, and the standard's."""

    charger: str
    charger_min_v: float
    charger_max_v: float
    charger_max_charge_a: float
    charger_max_charge_w: float
    charger_max_discharge_a: float
    charger_max_discharge_w: float
    charger_efficiency: float
    insulation_test_s: float
    ev_max_v: float
    ev_max_charge_a: float
    ev_max_charge_w: float
    ev_max_discharge_a: float
    ev_max_discharge_w: float
    ev_bpt_offered: bool
    ev_charge_efficiency: float
    ev_discharge_efficiency: float
    precharge_tolerance_v: float
    precharge_max_a: float  # the standard's limit, whatever the charger declares


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceMeta:
    """What the samples are judged against (all from the scenario's data)."""

    scenario: str
    vehicle: str
    trim: str
    plug: str
    capacity_wh: float
    start_pack_wh: float
    reserve_pct: float
    charge_limit_pct: float
    charge_efficiency: float
    discharge_efficiency: float
    outlet_efficiency: float
    max_charge_w: float  # trim's onboard charger
    max_export_w: float  # trim's charge-port export (0 without V2H)
    owner_max_export_w: float | None
    v2h_offered: bool
    connector_max_w: float
    connector_bidirectional: bool
    v2l_total_w: float
    outlet_ratings: tuple[tuple[str, float], ...]
    v2v_max_w: float
    max_transfer_s: float
    outages: tuple[Window, ...]
    pw_capacity_wh: float | None
    pw_start_wh: float | None
    pw_max_w: float | None
    pw_charge_efficiency: float | None
    pw_discharge_efficiency: float | None
    pw_threshold_pct: float | None = None  # the owner's outage car-charging threshold
    dc: DCMeta | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceEvent:
    """A discrete happening (loop refused, outage transferred, reserve reached, ...)."""

    t: float
    kind: str
    detail: str


@dataclass(slots=True, kw_only=True)
class Trace:
    """A bench run: its meta data, samples, discrete events and the gateway's outage records."""

    meta: TraceMeta
    samples: list[Sample] = field(default_factory=list)
    events: list[TraceEvent] = field(default_factory=list)
    outages: tuple[OutageRecord, ...] = ()

    @property
    def duration_s(self) -> float:
        """Time covered by the samples."""
        if not self.samples:
            return 0.0
        last = self.samples[-1]
        return last.t + last.dt - self.samples[0].t
