"""What a DC run did: energy through the DC charger and its losses, the DC steps and how long each took, peaks.

Owns :class:`DCSummary` (part of :class:`~harness.bench.summary.Summary` for a run on a DC charger),
:func:`summarize_dc` (built from the trace and the ledger) and :func:`dc_lines` (its lines of the text report).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.bench.energy import EnergyLedger
from harness.bench.trace import Trace

__all__ = ["DCSummary", "dc_lines", "summarize_dc"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DCSummary:
    """A DC run. Energies in Wh (DC side at the inlet, grid side at the charger), times in s, peaks in W/A/V."""

    charger: str
    into_truck_wh: float
    out_of_truck_wh: float
    grid_draw_wh: float
    grid_feed_wh: float
    charger_loss_wh: float
    truck_loss_wh: float
    event_export_wh: float
    insulation_test_s: float
    precharge_s: float
    closed_at_v: float | None  # the output voltage when the contactors closed
    close_gap_v: float | None  # output minus pack voltage at that instant
    contactors_closed_s: float
    welding_s: float
    welding_end_v: float | None  # the output voltage at the end of the welding detection
    peak_charge_w: float
    peak_discharge_w: float
    peak_current_a: float
    peak_voltage_v: float
    charge_limit_after_s: float | None  # from the contactors closing until the SoC last came up to the charge limit


def summarize_dc(trace: Trace, ledger: EnergyLedger) -> DCSummary | None:
    """The DC part of a run's summary (None without a DC charger)."""
    meta = trace.meta.dc
    if meta is None:
        return None
    samples = [s for s in trace.samples if s.dc is not None]
    time_in: dict[str, float] = {}
    for s in samples:
        assert s.dc is not None
        time_in[s.dc.phase] = time_in.get(s.dc.phase, 0.0) + s.dt
    closed = [s for s in samples if s.dc is not None and s.dc.contactors]
    first_closed = closed[0] if closed else None
    welding = [s for s in samples if s.dc is not None and s.dc.phase == "welding"]
    limit_at = None
    if first_closed is not None:
        limit = trace.meta.charge_limit_pct - 1e-6
        prev_soc = 100.0 * trace.meta.start_pack_wh / trace.meta.capacity_wh
        for s in samples:
            if s.t >= first_closed.t and prev_soc < limit <= s.soc_pct:
                limit_at = s.t + s.dt - first_closed.t
            prev_soc = s.soc_pct
    gap = first_closed.dc.close_gap_v if first_closed is not None and first_closed.dc is not None else None
    return DCSummary(
        charger=meta.charger,
        into_truck_wh=ledger.dc_in_wh,
        out_of_truck_wh=ledger.dc_out_wh,
        grid_draw_wh=ledger.dc_grid_in_wh,
        grid_feed_wh=ledger.dc_grid_out_wh,
        charger_loss_wh=ledger.dc_charger_loss_wh,
        truck_loss_wh=ledger.dc_truck_loss_wh,
        event_export_wh=ledger.dc_event_export_wh,
        insulation_test_s=time_in.get("cable_check", 0.0),
        precharge_s=time_in.get("precharge", 0.0),
        closed_at_v=first_closed.dc.pack_v + gap if first_closed and first_closed.dc and gap is not None else None,
        close_gap_v=gap,
        contactors_closed_s=sum(s.dt for s in closed),
        welding_s=time_in.get("welding", 0.0),
        welding_end_v=welding[-1].dc.output_v if welding and welding[-1].dc else None,
        peak_charge_w=max((max(0.0, s.dc.inlet_w) for s in samples if s.dc), default=0.0),
        peak_discharge_w=max((max(0.0, -s.dc.inlet_w) for s in samples if s.dc), default=0.0),
        peak_current_a=max((abs(s.dc.output_a) for s in samples if s.dc), default=0.0),
        peak_voltage_v=max((s.dc.output_v for s in samples if s.dc), default=0.0),
        charge_limit_after_s=limit_at,
    )


def _kwh(wh: float) -> str:
    return f"{wh / 1000.0:8.2f} kWh"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60.0:.1f} min" if seconds >= 60.0 else f"{seconds:.2f} s"


def dc_lines(dc: DCSummary) -> list[str]:
    """The DC lines of the text report."""
    closed = "the contactors never closed"
    if dc.closed_at_v is not None and dc.close_gap_v is not None:
        closed = f"contactors closed at {dc.closed_at_v:.1f} V ({dc.close_gap_v:+.1f} V from the pack)"
    welded = ""
    if dc.welding_end_v is not None:
        welded = f", welding detection {_minutes(dc.welding_s)} (output down to {dc.welding_end_v:.0f} V)"
    limit = ""
    if dc.charge_limit_after_s is not None:
        limit = f"; at the charge limit {_minutes(dc.charge_limit_after_s)} after the contactors closed"
    return [
        f"  DC charger      {dc.charger}",
        f"  DC into truck   {_kwh(dc.into_truck_wh)}   out {_kwh(dc.out_of_truck_wh)}"
        f"   (grid draw {_kwh(dc.grid_draw_wh)}, feed {_kwh(dc.grid_feed_wh)})",
        f"  DC losses       {_kwh(dc.charger_loss_wh)} in the charger, {_kwh(dc.truck_loss_wh).strip()} in the truck",
        f"  DC steps        insulation test {_minutes(dc.insulation_test_s)}, precharge {_minutes(dc.precharge_s)},"
        f" {closed}",
        f"                  {_minutes(dc.contactors_closed_s)} with the contactors closed{welded}",
        f"  DC peaks        {dc.peak_charge_w / 1000.0:.1f} kW charge, {dc.peak_discharge_w / 1000.0:.1f} kW discharge,"
        f" {dc.peak_current_a:.0f} A, {dc.peak_voltage_v:.0f} V{limit}",
    ]
