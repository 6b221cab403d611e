"""The physical invariants of a simulation trace, checked here independently of the bench's own checker.

Each check reads only the samples and the limits the trace's metadata copied from the data files:
state of charge within [0, 100] %, never below the reserve while energy leaves the truck, port power
within the trim's and the connector's limits, outlets off while the port exports, a trim without V2H
never exporting, the pack's energy changing exactly by what the declared efficiencies allow (no energy
created, losses within the conversion losses), and every outage with a backup source carried again in
less than the promised transfer time. On a DC charger also: the output within the charger's and the truck's
voltage, current and power limits, no current before the insulation test passed and the contactors closed on a
precharged output, at most the standard's precharge current, and the charger's grid side at its efficiency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.bench import Sample, Trace
from harness.bench.trace import DCMeta

P_EPS = 1e-3  # W
E_EPS = 1e-3  # Wh


@dataclass(frozen=True)
class EnergyBooks:
    """The truck's books over a whole run (Wh)."""

    ac_in: float
    ac_out: float
    outlets: float
    pack_delta: float
    expected_delta: float
    dc_in: float = 0.0
    dc_out: float = 0.0

    @property
    def net_in(self) -> float:
        """Energy that came in at the port and the inlet, less what left through them and the outlets."""
        return self.ac_in - self.ac_out - self.outlets + self.dc_in - self.dc_out


def books(trace: Trace) -> EnergyBooks:
    """Totals of AC through the port and the outlets, and the pack change the efficiencies predict."""
    m = trace.meta
    ac_in = sum(max(0.0, s.port_w) * s.dt / 3600.0 for s in trace.samples)
    ac_out = sum(max(0.0, -s.port_w) * s.dt / 3600.0 for s in trace.samples)
    outlets = sum(s.outlet_w * s.dt / 3600.0 for s in trace.samples)
    end = trace.samples[-1].pack_wh if trace.samples else m.start_pack_wh
    expected = ac_in * m.charge_efficiency - ac_out / m.discharge_efficiency - outlets / m.outlet_efficiency
    dc_in = sum(max(0.0, s.dc.inlet_w) * s.dt / 3600.0 for s in trace.samples if s.dc is not None)
    dc_out = sum(max(0.0, -s.dc.inlet_w) * s.dt / 3600.0 for s in trace.samples if s.dc is not None)
    if m.dc is not None:
        expected += dc_in * m.dc.ev_charge_efficiency - dc_out / m.dc.ev_discharge_efficiency
    return EnergyBooks(
        ac_in=ac_in,
        ac_out=ac_out,
        outlets=outlets,
        pack_delta=end - m.start_pack_wh,
        expected_delta=expected,
        dc_in=dc_in,
        dc_out=dc_out,
    )


def violations(trace: Trace) -> list[str]:
    """Every broken invariant, one message per sample and kind."""
    m = trace.meta
    bad: list[str] = []
    reserve_wh = m.capacity_wh * m.reserve_pct / 100.0
    charge_cap = min(m.max_charge_w, m.connector_max_w)
    export_cap = min(
        m.max_export_w if m.v2h_offered else 0.0,
        m.connector_max_w if m.connector_bidirectional else 0.0,
        m.owner_max_export_w if m.owner_max_export_w is not None else math.inf,
    )
    prev_pack = m.start_pack_wh
    for s in trace.samples:
        at = f"t={s.t:.3f} s"
        if not 0.0 <= s.soc_pct <= 100.0:
            bad.append(f"SoC {s.soc_pct} outside [0, 100] at {at}")
        exporting = s.port_w < -P_EPS
        dc_in = dc_pack = 0.0
        if s.dc is not None and m.dc is not None:
            bad.extend(_dc_violations(s, m.dc, at))
            dc_in = s.dc.inlet_w * s.dt / 3600.0
            dc_pack = dc_in * m.dc.ev_charge_efficiency if dc_in >= 0 else dc_in / m.dc.ev_discharge_efficiency
            if s.dc.inlet_w < -P_EPS and s.pack_wh < reserve_wh - E_EPS:
                bad.append(f"DC export below the reserve at {at}")
        if (exporting or s.outlet_w > P_EPS) and s.pack_wh < reserve_wh - E_EPS:
            bad.append(f"exporting below the reserve at {at}")
        if s.port_w > charge_cap + P_EPS:
            bad.append(f"charging {s.port_w} W above {charge_cap} W at {at}")
        if -s.port_w > export_cap + P_EPS:
            bad.append(f"exporting {-s.port_w} W above {export_cap} W at {at}")
        if exporting and (s.outlets_on or s.outlet_w > P_EPS):
            bad.append(f"outlets on while the port exports at {at}")
        if not m.v2h_offered and exporting:
            bad.append(f"a trim without V2H exported at {at}")
        h = s.dt / 3600.0
        ac_in, ac_out, outlets = max(0.0, s.port_w) * h, max(0.0, -s.port_w) * h, s.outlet_w * h
        delta = s.pack_wh - prev_pack
        if delta > ac_in - ac_out - outlets + dc_in + E_EPS:
            bad.append(f"energy created at {at}: pack +{delta} Wh from {ac_in - ac_out - outlets + dc_in} Wh net")
        predicted = ac_in * m.charge_efficiency - ac_out / m.discharge_efficiency - outlets / m.outlet_efficiency
        predicted += dc_pack
        if abs(delta - predicted) > E_EPS:
            bad.append(f"pack changed {delta} Wh, the efficiencies allow {predicted} Wh at {at}")
        prev_pack = s.pack_wh
    return bad


def _dc_violations(s: Sample, m: DCMeta, at: str) -> list[str]:
    """The DC rules for one sample (``s.dc`` present)."""
    dc = s.dc
    assert dc is not None
    bad: list[str] = []
    eff = m.charger_efficiency
    grid = dc.inlet_w / eff if dc.inlet_w >= 0 else dc.inlet_w * eff
    if abs(dc.grid_w - grid) > P_EPS:
        bad.append(f"DC charger grid side {dc.grid_w} W, its efficiency gives {grid} W at {at}")
    if dc.phase == "idle":
        if dc.output_a != 0.0 or dc.contactors:
            bad.append(f"current or closed contactors without a session at {at}")
        return bad
    if dc.output_v > min(m.charger_max_v, m.ev_max_v) + 1e-6:
        bad.append(f"DC output {dc.output_v} V above the charger's or the truck's maximum at {at}")
    amps = abs(dc.output_a)
    if dc.phase == "precharge":
        if amps > m.precharge_max_a + 1e-9:
            bad.append(f"{amps} A while precharging at {at}")
        return bad
    charging = dc.output_a >= 0.0
    current_caps = (
        (m.charger_max_charge_a, m.ev_max_charge_a, dc.ev_max_charge_a)
        if charging
        else (m.charger_max_discharge_a, m.ev_max_discharge_a, dc.ev_max_discharge_a)
    )
    power_caps = (
        (m.charger_max_charge_w, m.ev_max_charge_w, dc.ev_max_charge_w)
        if charging
        else (m.charger_max_discharge_w, m.ev_max_discharge_w, dc.ev_max_discharge_w)
    )
    if amps > min(current_caps) + 1e-6:
        bad.append(f"DC current {amps} A above a limit {current_caps} at {at}")
    if abs(dc.inlet_w) > min(power_caps) + P_EPS:
        bad.append(f"DC power {abs(dc.inlet_w)} W above a limit {power_caps} at {at}")
    if amps > 1e-6 and not (dc.contactors and dc.insulation_ok):
        bad.append(f"DC current {amps} A before the insulation test and PowerDelivery(Start) at {at}")
    if dc.contactors and (dc.close_gap_v is None or abs(dc.close_gap_v) > m.precharge_tolerance_v + 1e-6):
        bad.append(f"contactors closed on an output {dc.close_gap_v} V from the pack at {at}")
    return bad


def transfer_times(trace: Trace) -> list[float | None]:
    """Per outage: seconds until the home was fully supplied again (None: never, during the outage)."""
    out: list[float | None] = []
    for window in trace.meta.outages:
        restored = next(
            (
                s.t
                for s in trace.samples
                if window.start_s - 1e-9 <= s.t < window.end_s
                and s.home_powered
                and s.home_load_w - s.home_served_w <= 1.0
            ),
            None,
        )
        out.append(None if restored is None else restored - window.start_s)
    return out
