"""The summary of a bench run: energy per path, state of charge, outages, money, outlets, violations.

Owns :class:`Summary` (a frozen value with :meth:`Summary.format_text` for people and
:meth:`Summary.to_json` for machines), :class:`OutageSummary`, :class:`LoopSummary`,
:class:`SessionOutcome` (slot for the protocol sessions the lead's protocol-driven loop adds) and
:func:`summarize`, which builds a summary from a finished bench.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from harness.bench.dcsummary import DCSummary, dc_lines, summarize_dc
from harness.bench.energy import loop_pass
from harness.bench.invariants import check_invariants, outage_transfers

if TYPE_CHECKING:
    from harness.bench.bench import Bench

__all__ = ["LoopSummary", "OutageSummary", "SessionOutcome", "Summary", "summarize"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionOutcome:
    """One ISO 15118-20 session that ran during the scenario (filled by the protocol-driven loop)."""

    label: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class OutageSummary:
    """One outage: when, how fast the home was transferred, how long it was carried."""

    start_s: float
    end_s: float
    backup_expected: bool
    transfer_s: float | None  # measured from the samples
    gateway_transfer_s: float | None  # as the gateway recorded it
    home_carried_s: float  # time within the outage with the home fully supplied
    unserved_wh: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LoopSummary:
    """The refused self-charging loop and what it would have cost had it been allowed."""

    refused: bool
    attempted_ac_wh: float
    would_draw_wh: float
    would_return_wh: float
    would_lose_wh: float
    loss_fraction: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """What a bench run did. Energies in Wh, powers in W, money in ``currency``."""

    scenario: str
    title: str
    vehicle: str
    duration_s: float
    port_in_wh: float
    port_out_wh: float
    truck_to_home_wh: float
    truck_to_grid_wh: float
    truck_loss_wh: float
    outlet_wh: float
    outlet_by_id_wh: dict[str, float]
    outlet_peak_w: dict[str, float]
    v2v_wh: float
    v2v_soc_start_pct: float | None
    v2v_soc_end_pct: float | None
    grid_import_wh: float
    grid_export_wh: float
    solar_wh: float
    solar_curtailed_wh: float
    powerwall_in_wh: float
    powerwall_out_wh: float
    powerwall_loss_wh: float
    home_demand_wh: float
    home_served_wh: float
    home_unserved_wh: float
    soc_start_pct: float
    soc_end_pct: float
    soc_min_pct: float
    soc_max_pct: float
    reserve_pct: float
    reserve_respected: bool
    outages: tuple[OutageSummary, ...]
    currency: str
    import_cost: float
    export_credit: float
    grid_support_wh: float
    compensation: float
    loop: LoopSummary | None
    decisions: dict[str, float]  # seconds spent under each policy reason
    violations: tuple[str, ...]
    protocol_sessions: tuple[SessionOutcome, ...] = field(default=())
    dc: DCSummary | None = None

    def to_json(self) -> str:
        """The summary as a JSON document."""
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    def format_text(self) -> str:
        """A short human-readable report."""
        lines = [
            f"scenario {self.scenario}: {self.title}",
            f"  vehicle {self.vehicle}, {self.duration_s / 3600.0:.2f} h simulated",
            f"  SoC {self.soc_start_pct:.1f} % -> {self.soc_end_pct:.1f} % (min {self.soc_min_pct:.1f} %,"
            f" reserve {self.reserve_pct:g} % {'respected' if self.reserve_respected else 'VIOLATED'})",
            f"  charge port in  {_kwh(self.port_in_wh)}   out {_kwh(self.port_out_wh)}"
            f"   (to home {_kwh(self.truck_to_home_wh)}, to grid {_kwh(self.truck_to_grid_wh)})",
            f"  truck losses    {_kwh(self.truck_loss_wh)}   outlets {_kwh(self.outlet_wh)}   V2V {_kwh(self.v2v_wh)}",
            f"  home demand     {_kwh(self.home_demand_wh)}   served {_kwh(self.home_served_wh)}"
            f"   unserved {_kwh(self.home_unserved_wh)}",
            f"  grid import     {_kwh(self.grid_import_wh)}   export {_kwh(self.grid_export_wh)}",
        ]
        if self.solar_wh or self.powerwall_in_wh or self.powerwall_out_wh:
            lines.append(
                f"  solar used      {_kwh(self.solar_wh)}   curtailed {_kwh(self.solar_curtailed_wh)}"
                f"   Powerwall in {_kwh(self.powerwall_in_wh)} out {_kwh(self.powerwall_out_wh)}"
            )
        for o in self.outages:
            took = "no backup" if o.transfer_s is None else f"transfer {o.transfer_s * 1000.0:.0f} ms"
            lines.append(
                f"  outage {o.start_s / 3600.0:.2f} h - {o.end_s / 3600.0:.2f} h: {took},"
                f" home carried {o.home_carried_s / 86400.0:.2f} days, unserved {_kwh(o.unserved_wh)}"
            )
        lines.append(
            f"  money: import {self.import_cost:.2f} {self.currency}, export credit {self.export_credit:.2f},"
            f" grid-support {_kwh(self.grid_support_wh)} -> {self.compensation:.2f} {self.currency}"
        )
        if self.dc is not None:
            lines.extend(dc_lines(self.dc))
        for outlet_id, wh in sorted(self.outlet_by_id_wh.items()):
            lines.append(f"  outlet {outlet_id}: {_kwh(wh)}, peak {self.outlet_peak_w[outlet_id]:.0f} W")
        if self.loop is not None:
            lp = self.loop
            lines.append(
                f"  loop {'REFUSED' if lp.refused else 'allowed'}: {_kwh(lp.attempted_ac_wh)} attempted"
                f" would draw {_kwh(lp.would_draw_wh)}, return {_kwh(lp.would_return_wh)},"
                f" lose {_kwh(lp.would_lose_wh)}"
                f" ({100.0 * lp.loss_fraction:.1f} % per pass)"
            )
        for s in self.protocol_sessions:
            lines.append(f"  session {s.label}: {'ok' if s.ok else 'FAILED'} {s.detail}".rstrip())
        lines.append(
            "  invariants: all hold"
            if not self.violations
            else "  invariants VIOLATED:\n" + "\n".join(f"    - {v}" for v in self.violations)
        )
        return "\n".join(lines)


def _kwh(wh: float) -> str:
    return f"{wh / 1000.0:8.2f} kWh"


def summarize(bench: Bench) -> Summary:
    """Summarise a bench run (closes its trace first)."""
    trace = bench.finish()
    led, sc, samples = bench.ledger, bench.scenario, trace.samples
    meta = trace.meta
    cap = meta.capacity_wh
    socs = [100.0 * meta.start_pack_wh / cap] + [s.soc_pct for s in samples]
    violations = tuple(check_invariants(trace))
    gateway_records = {round(r.grid_lost_at, 6): r for r in trace.outages}
    outages = []
    for measure in outage_transfers(trace):
        start, end = measure.outage_start_s, measure.outage_end_s
        inside = [s for s in samples if start <= s.t < end]
        record = gateway_records.get(round(start, 6))
        outages.append(
            OutageSummary(
                start_s=start,
                end_s=end,
                backup_expected=measure.backup_expected,
                transfer_s=measure.transfer_s,
                gateway_transfer_s=record.transfer_s if record else None,
                home_carried_s=sum(s.dt for s in inside if s.home_powered and s.home_unserved_w <= 1.0),
                unserved_wh=sum(s.home_unserved_w * s.dt / 3600.0 for s in inside),
            )
        )
    decisions: dict[str, float] = {}
    for s in samples:
        if s.reason:
            decisions[s.reason] = decisions.get(s.reason, 0.0) + s.dt
    loop = None
    if sc.loop is not None:
        lp = loop_pass(
            led.loop_attempt_ac_wh,
            outlet_efficiency=sc.vehicle.v2l.efficiency,
            charge_efficiency=sc.vehicle.charger.charge_efficiency,
        )
        loop = LoopSummary(
            refused=bench.vehicle.refuses_plug() and led.port_in_wh == 0.0,
            attempted_ac_wh=lp.ac_wh,
            would_draw_wh=lp.drawn_wh,
            would_return_wh=lp.returned_wh,
            would_lose_wh=lp.lost_wh,
            loss_fraction=1.0 - sc.vehicle.v2l.efficiency * sc.vehicle.charger.charge_efficiency,
        )
    tariff = sc.tariff
    rescued = bench.rescued
    return Summary(
        scenario=sc.name,
        title=sc.title,
        vehicle=sc.vehicle.name,
        duration_s=trace.duration_s,
        port_in_wh=led.port_in_wh,
        port_out_wh=led.port_out_wh,
        truck_to_home_wh=led.truck_to_home_wh,
        truck_to_grid_wh=led.truck_to_grid_wh,
        truck_loss_wh=led.truck_loss_wh,
        outlet_wh=led.outlet_wh,
        outlet_by_id_wh=dict(led.outlet_by_id_wh),
        outlet_peak_w=dict(led.outlet_peak_w),
        v2v_wh=led.v2v_wh,
        v2v_soc_start_pct=rescued.params.start_soc_pct if rescued else None,
        v2v_soc_end_pct=rescued.pack.soc_pct if rescued else None,
        grid_import_wh=led.grid_import_wh,
        grid_export_wh=led.grid_export_wh,
        solar_wh=led.solar_wh,
        solar_curtailed_wh=led.solar_curtailed_wh,
        powerwall_in_wh=led.pw_in_wh,
        powerwall_out_wh=led.pw_out_wh,
        powerwall_loss_wh=led.pw_loss_wh,
        home_demand_wh=led.home_demand_wh,
        home_served_wh=led.home_served_wh,
        home_unserved_wh=led.home_unserved_wh,
        soc_start_pct=socs[0],
        soc_end_pct=socs[-1],
        soc_min_pct=min(socs),
        soc_max_pct=max(socs),
        reserve_pct=meta.reserve_pct,
        reserve_respected=not any(v.startswith("reserve:") for v in violations),
        outages=tuple(outages),
        currency=tariff.currency,
        import_cost=led.grid_import_wh / 1000.0 * tariff.import_per_kwh,
        export_credit=(led.grid_export_wh - led.event_export_wh) / 1000.0 * tariff.export_per_kwh,
        grid_support_wh=led.event_export_wh + led.dc_event_export_wh,
        compensation=(led.event_export_wh + led.dc_event_export_wh) / 1000.0 * tariff.grid_support_per_kwh,
        loop=loop,
        decisions=decisions,
        violations=violations,
        dc=summarize_dc(trace, led),
    )
