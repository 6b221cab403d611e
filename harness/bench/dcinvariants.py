"""The DC invariants of a bench trace, judged against the data the trace's metadata copied (never the models).

Owns :func:`dc_meta` (the limits a DC run is judged against, copied from the data into the trace),
:func:`check_dc` (called by :func:`~harness.bench.invariants.check_invariants` for a trace with DC metadata)
and :func:`dc_pack_energy` (the DC terms of the pack's energy balance). For every sample with a
session on the DC charger (phase other than idle):

* the output voltage stays within the charger's maximum and the truck's ``EVMaximumVoltage``;
* the current and the power stay within the charger's limits and the truck's (its data, and the limits it
  reported for that step), in each direction; a truck without DC_BPT never exports;
* no current flows (and no precharge starts, no contactor closes) before the insulation test has passed
  (``dc-insulation``); outside precharge current flows only with the contactors closed by PowerDelivery(Start)
  (``dc-power-delivery``), and the contactors close only on a precharged output, within the truck's precharge
  tolerance of its pack voltage (``dc-precharge-match``);
* while precharging the current stays within the standard's limit, 2 A (``dc-precharge``);
* the charger's grid side matches its DC side through its declared efficiency (no energy created).

The pack's balance, the state of charge and the reserve are checked for every sample by the caller, with the
DC terms included.
"""

from __future__ import annotations

from typing import Protocol

from harness.bench.dcparams import DCChargerParams, DCInletParams, load_dc_rules
from harness.bench.trace import DCMeta, Sample, Trace

__all__ = ["check_dc", "dc_meta", "dc_pack_energy"]

_V_EPS = 1e-6  # V
_A_EPS = 1e-6  # A
_P_EPS = 1e-3  # W
_IDLE = "idle"
_PRECHARGE = "precharge"


def dc_meta(charger: DCChargerParams, inlet: DCInletParams, owner_max_export_w: float | None) -> DCMeta:
    """The limits a DC run is judged against: the charger's data, the truck's (with the owner's export cap),
    and the rules."""
    export_w = inlet.max_discharge_power_w
    if owner_max_export_w is not None:
        export_w = min(export_w, owner_max_export_w)
    return DCMeta(
        charger=charger.name,
        charger_min_v=charger.min_voltage_v,
        charger_max_v=charger.max_voltage_v,
        charger_max_charge_a=charger.max_charge_current_a,
        charger_max_charge_w=charger.max_charge_power_w,
        charger_max_discharge_a=charger.max_discharge_current_a if charger.bidirectional else 0.0,
        charger_max_discharge_w=charger.max_discharge_power_w if charger.bidirectional else 0.0,
        charger_efficiency=charger.efficiency,
        insulation_test_s=charger.insulation_test_s,
        ev_max_v=inlet.max_voltage_v,
        ev_max_charge_a=inlet.max_charge_current_a,
        ev_max_charge_w=inlet.max_charge_power_w,
        ev_max_discharge_a=inlet.max_discharge_current_a if inlet.bpt_offered else 0.0,
        ev_max_discharge_w=export_w if inlet.bpt_offered else 0.0,
        ev_bpt_offered=inlet.bpt_offered,
        ev_charge_efficiency=inlet.charge_efficiency,
        ev_discharge_efficiency=inlet.discharge_efficiency,
        precharge_tolerance_v=inlet.precharge_tolerance_v,
        precharge_max_a=load_dc_rules().precharge_max_current_a,
    )


class Violations(Protocol):
    """Where violations go (the caller's collector)."""

    def add(self, kind: str, message: str) -> None: ...


def dc_pack_energy(s: Sample, meta: DCMeta | None) -> tuple[float, float]:
    """(net DC energy at the inlet, what the pack should have gained from it) over the sample, in Wh."""
    if s.dc is None or meta is None:
        return 0.0, 0.0
    inlet_wh = s.dc.inlet_w * s.dt / 3600.0
    if inlet_wh >= 0.0:
        return inlet_wh, inlet_wh * meta.ev_charge_efficiency
    return inlet_wh, inlet_wh / meta.ev_discharge_efficiency


def check_dc(bad: Violations, trace: Trace) -> None:
    """Add every DC violation of ``trace`` to ``bad``."""
    m = trace.meta.dc
    if m is None:
        return
    for s in trace.samples:
        dc = s.dc
        if dc is None:
            bad.add("dc-meta", f"a DC run without DC data at t={s.t:.3f} s")
            continue
        at = f"t={s.t:.3f} s"
        if dc.phase != _IDLE:
            _check_limits(bad, s, m, at)
            _check_sequence(bad, s, m, at)
        elif abs(dc.output_a) > _A_EPS or dc.contactors:
            bad.add("dc-power-delivery", f"{dc.output_a:.3f} A / contactors closed with no session at {at}")
        expected = dc.inlet_w / m.charger_efficiency if dc.inlet_w >= 0.0 else dc.inlet_w * m.charger_efficiency
        if abs(dc.grid_w - expected) > _P_EPS:
            bad.add(
                "energy",
                f"the DC charger's grid side {dc.grid_w:.1f} W for {dc.inlet_w:.1f} W at its output; its "
                f"efficiency {m.charger_efficiency:g} gives {expected:.1f} W at {at}",
            )


def _check_limits(bad: Violations, s: Sample, m: DCMeta, at: str) -> None:
    dc = s.dc
    assert dc is not None
    vmax = min(m.charger_max_v, m.ev_max_v)
    if dc.output_v > vmax + _V_EPS:
        who = "the truck's" if m.ev_max_v <= m.charger_max_v else "the charger's"
        bad.add("dc-voltage", f"output {dc.output_v:.1f} V above {who} {vmax:g} V at {at}")
    if dc.output_a > 0.0:
        limits = (
            (m.charger_max_charge_a, "the charger's"),
            (m.ev_max_charge_a, "the truck's"),
            (dc.ev_max_charge_a, "the truck's reported"),
        )
        powers = (
            (m.charger_max_charge_w, "the charger's"),
            (m.ev_max_charge_w, "the truck's"),
            (dc.ev_max_charge_w, "the truck's reported"),
        )
    else:
        limits = (
            (m.charger_max_discharge_a, "the charger's discharge"),
            (m.ev_max_discharge_a, "the truck's discharge"),
            (dc.ev_max_discharge_a, "the truck's reported discharge"),
        )
        powers = (
            (m.charger_max_discharge_w, "the charger's discharge"),
            (m.ev_max_discharge_w, "the truck's discharge"),
            (dc.ev_max_discharge_w, "the truck's reported discharge"),
        )
    if dc.phase != _PRECHARGE:  # the precharge current has its own, lower limit
        for limit, who in limits:
            if abs(dc.output_a) > limit + _A_EPS:
                bad.add("dc-current", f"{abs(dc.output_a):.2f} A above {who} {limit:.2f} A limit at {at}")
    for limit, who in powers:
        if abs(dc.inlet_w) > limit + _P_EPS:
            bad.add("dc-power", f"{abs(dc.inlet_w) / 1000.0:.3f} kW above {who} {limit / 1000.0:.3f} kW at {at}")
    if dc.inlet_w < -_P_EPS and not m.ev_bpt_offered:
        bad.add("no-dc-bpt", f"the truck offers no DC_BPT but {-dc.inlet_w:.1f} W left it at {at}")


def _check_sequence(bad: Violations, s: Sample, m: DCMeta, at: str) -> None:
    dc = s.dc
    assert dc is not None
    flowing = abs(dc.output_a) > _A_EPS
    if dc.phase == _PRECHARGE:
        if abs(dc.output_a) > m.precharge_max_a + _A_EPS:
            bad.add(
                "dc-precharge", f"{abs(dc.output_a):.2f} A while precharging (limit {m.precharge_max_a:g} A) at {at}"
            )
        if not dc.insulation_ok:
            bad.add("dc-insulation", f"precharge before the insulation test passed at {at}")
        return
    if flowing and not dc.insulation_ok:
        bad.add("dc-insulation", f"{dc.output_a:.2f} A before the insulation test passed at {at}")
    if flowing and not dc.contactors:
        bad.add("dc-power-delivery", f"{dc.output_a:.2f} A with the contactors open (no PowerDelivery(Start)) at {at}")
    if dc.contactors:
        if dc.close_gap_v is None or abs(dc.close_gap_v) > m.precharge_tolerance_v + _V_EPS:
            gap = "an unknown" if dc.close_gap_v is None else f"a {dc.close_gap_v:+.1f} V"
            bad.add(
                "dc-precharge-match",
                f"contactors closed with {gap} gap to the pack (tolerance {m.precharge_tolerance_v:g} V) at {at}",
            )
        if not dc.insulation_ok:
            bad.add("dc-insulation", f"contactors closed before the insulation test passed at {at}")
