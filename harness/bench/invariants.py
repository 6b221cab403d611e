"""Invariants of a bench trace: the physics and the owner's rules, judged against the scenario's data.

Owns :func:`check_invariants` (list of violations, or :class:`~harness.bench.errors.InvariantError` in
strict mode) and :func:`outage_transfers` (the transfer time of each outage, measured from the samples,
not taken from the gateway model). Checked for every sample:

* state of charge within [0, 100] %, and never below the reserve while power leaves the truck;
* charge-port power within the trim's onboard charger, its V2H export limit, the owner's export cap and
  the wall connector's rating; outlets within their ratings and the V2L total; V2V within the connector;
* outlets off whenever the charge port exports; a trim without V2H never exports;
* energy balance of the truck's pack within the conversion losses the data declare (no energy created,
  losses exactly those of the efficiencies), of the Powerwall likewise, and of the home bus
  (supply = demand; no grid flow while the home is cut from the grid);
* samples contiguous in time;
* on a DC charger, the DC rules of :mod:`harness.bench.dcinvariants` (voltage, current and power limits, the
  insulation test, precharge and PowerDelivery(Start) before any current, the precharge current, the
  charger's efficiency); the pack's balance and the reserve then include the DC inlet;

and for every outage where a backup source was there at the start (a V2H truck above its reserve on the
wall connector, or a Powerwall with energy): the home is fully supplied again within ``max_transfer_s``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.bench.dcinvariants import check_dc, dc_pack_energy
from harness.bench.errors import InvariantError
from harness.bench.trace import Sample, Trace

__all__ = ["TransferMeasure", "check_invariants", "outage_transfers"]

_P_EPS = 1e-3  # W
_E_EPS = 1e-4  # Wh
_SERVED_EPS = 1.0  # W: "fully supplied" tolerance


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferMeasure:
    """One outage as seen in the samples."""

    outage_start_s: float
    outage_end_s: float
    backup_expected: bool
    restored_at_s: float | None  # first instant the home was fully supplied again

    @property
    def transfer_s(self) -> float | None:
        """Dark time after the grid loss (None when the home never came back during the outage)."""
        return None if self.restored_at_s is None else self.restored_at_s - self.outage_start_s


class _Collector:
    """Counts violations per kind and keeps the first occurrence's message."""

    def __init__(self) -> None:
        self._first: dict[str, str] = {}
        self._count: dict[str, int] = {}

    def add(self, kind: str, message: str) -> None:
        self._count[kind] = self._count.get(kind, 0) + 1
        self._first.setdefault(kind, message)

    def result(self) -> list[str]:
        out = []
        for kind, message in self._first.items():
            more = self._count[kind] - 1
            out.append(f"{kind}: {message}" + (f" (and {more} more sample(s))" if more else ""))
        return out


def check_invariants(trace: Trace, *, strict: bool = False) -> list[str]:
    """Every violation in ``trace``, one line per kind (first occurrence); raises when ``strict``."""
    bad = _Collector()
    m = trace.meta
    reserve_wh = m.capacity_wh * m.reserve_pct / 100.0
    charge_cap = min(m.max_charge_w, m.connector_max_w)
    export_cap = min(
        m.max_export_w,
        m.connector_max_w if m.connector_bidirectional else 0.0,
        m.owner_max_export_w if m.owner_max_export_w is not None else math.inf,
    )
    ratings = dict(m.outlet_ratings)
    prev_pack, prev_pw = m.start_pack_wh, m.pw_start_wh
    prev_end: float | None = None
    for s in trace.samples:
        at = f"t={s.t:.3f} s"
        if prev_end is not None and abs(s.t - prev_end) > 1e-6:
            bad.add("time", f"sample at {at} does not start where the previous ended ({prev_end:.3f} s)")
        prev_end = s.t + s.dt
        if not -1e-9 <= s.soc_pct <= 100.0 + 1e-9 or not -_E_EPS <= s.pack_wh <= m.capacity_wh + _E_EPS:
            bad.add("soc-range", f"state of charge {s.soc_pct:.3f} % outside [0, 100] at {at}")
        leaving = s.port_w < -_P_EPS or s.outlet_w > _P_EPS or (s.dc is not None and s.dc.inlet_w < -_P_EPS)
        if leaving and s.pack_wh < reserve_wh - _E_EPS:
            bad.add(
                "reserve",
                f"SoC {s.soc_pct:.3f} % below the {m.reserve_pct:g} % reserve while exporting at {at}",
            )
        _check_power(bad, s, at, charge_cap, export_cap, ratings, m.v2l_total_w, m.v2v_max_w)
        if s.port_w < -_P_EPS and (s.outlets_on or s.outlet_w > _P_EPS):
            bad.add("outlets-off", f"outlets on ({s.outlet_w:.1f} W) while the port exports at {at}")
        if not m.v2h_offered and s.port_w < -_P_EPS:
            bad.add("no-v2h", f"{m.vehicle} offers no V2H but exported {-s.port_w:.1f} W at {at}")
        dc_in, dc_pack = dc_pack_energy(s, m.dc)
        _check_pack(
            bad, s, at, prev_pack, (m.charge_efficiency, m.discharge_efficiency, m.outlet_efficiency), dc_in, dc_pack
        )
        prev_pack = s.pack_wh
        if s.pw_wh is not None and prev_pw is not None:
            _check_powerwall(bad, s, at, prev_pw, m.pw_charge_efficiency, m.pw_discharge_efficiency, m.pw_max_w)
            prev_pw = s.pw_wh
        _check_bus(bad, s, at)
    check_dc(bad, trace)
    for measure in outage_transfers(trace):
        if not measure.backup_expected:
            continue
        took = measure.transfer_s
        where = f"outage at t={measure.outage_start_s:.3f} s"
        if took is None:
            bad.add("transfer", f"{where}: home never supplied again although a backup source was there")
        elif took >= m.max_transfer_s:
            bad.add("transfer", f"{where}: home dark for {took:.3f} s (limit {m.max_transfer_s:g} s)")
    violations = bad.result()
    if strict and violations:
        raise InvariantError(violations)
    return violations


def _check_power(
    bad: _Collector,
    s: Sample,
    at: str,
    charge_cap: float,
    export_cap: float,
    ratings: dict[str, float],
    v2l_total: float,
    v2v_max: float,
) -> None:
    if s.port_w > charge_cap + _P_EPS:
        bad.add("power", f"charge {s.port_w:.1f} W above the {charge_cap:.0f} W limit at {at}")
    if -s.port_w > export_cap + _P_EPS:
        bad.add("power", f"export {-s.port_w:.1f} W above the {export_cap:.0f} W limit at {at}")
    if s.outlet_w > v2l_total + _P_EPS:
        bad.add("power", f"outlets {s.outlet_w:.1f} W above the {v2l_total:.0f} W V2L total at {at}")
    for outlet_id, w in s.outlet_detail:
        rating = ratings.get(outlet_id)
        if rating is None or w > rating + _P_EPS:
            bad.add("power", f"outlet {outlet_id} {w:.1f} W above its rating {rating} W at {at}")
    if s.v2v_w > v2v_max + _P_EPS:
        bad.add("power", f"V2V {s.v2v_w:.1f} W above the mobile connector's {v2v_max:.0f} W at {at}")


def _check_pack(
    bad: _Collector,
    s: Sample,
    at: str,
    prev_wh: float,
    efficiencies: tuple[float, float, float],
    dc_in_wh: float,
    dc_pack_wh: float,
) -> None:
    eta_ch, eta_dis, eta_out = efficiencies
    h = s.dt / 3600.0
    ac_in = max(0.0, s.port_w) * h
    ac_out = max(0.0, -s.port_w) * h
    outlets = s.outlet_w * h
    delta = s.pack_wh - prev_wh
    net = ac_in - ac_out - outlets + dc_in_wh
    if delta > net + _E_EPS:
        bad.add("energy", f"pack gained {delta:.4f} Wh but only {net:.4f} Wh net came in at {at}")
    expected = ac_in * eta_ch - ac_out / eta_dis - outlets / eta_out + dc_pack_wh
    if abs(delta - expected) > _E_EPS:
        bad.add(
            "energy",
            f"pack changed {delta:.4f} Wh, the declared efficiencies give {expected:.4f} Wh at {at}",
        )


def _check_powerwall(
    bad: _Collector,
    s: Sample,
    at: str,
    prev_wh: float,
    eta_ch: float | None,
    eta_dis: float | None,
    max_w: float | None,
) -> None:
    assert s.pw_wh is not None and eta_ch is not None and eta_dis is not None and max_w is not None
    h = s.dt / 3600.0
    expected = s.pw_w * h * eta_ch if s.pw_w >= 0.0 else s.pw_w * h / eta_dis
    if abs((s.pw_wh - prev_wh) - expected) > _E_EPS:
        bad.add("energy", f"Powerwall changed {s.pw_wh - prev_wh:.4f} Wh, expected {expected:.4f} Wh at {at}")
    if abs(s.pw_w) > max_w + _P_EPS:
        bad.add("power", f"Powerwall {s.pw_w:.1f} W beyond its {max_w:.0f} W at {at}")


def _check_bus(bad: _Collector, s: Sample, at: str) -> None:
    supply = max(0.0, s.grid_w) + max(0.0, -s.port_w) + max(0.0, -s.pw_w) + s.solar_w
    demand = s.home_served_w + max(0.0, s.port_w) + max(0.0, s.pw_w) + max(0.0, -s.grid_w)
    if abs(supply - demand) > _P_EPS * 10:
        bad.add("bus", f"home bus supply {supply:.3f} W != demand {demand:.3f} W at {at}")
    if s.home_served_w > s.home_load_w + _P_EPS:
        bad.add("bus", f"home served {s.home_served_w:.1f} W above its load {s.home_load_w:.1f} W at {at}")
    cut_off = not s.grid_up or s.gateway not in ("connected", "detecting")
    if cut_off and abs(s.grid_w) > _P_EPS:
        bad.add("bus", f"grid flow {s.grid_w:.1f} W while the home is cut from the grid at {at}")
    if not s.home_powered and (s.home_served_w > _P_EPS or abs(s.port_w) > _P_EPS):
        bad.add("bus", f"power flows on a dark home bus at {at}")


def outage_transfers(trace: Trace) -> list[TransferMeasure]:
    """Per scheduled outage: was a backup there, and when was the home fully supplied again."""
    m = trace.meta
    reserve_wh = m.capacity_wh * m.reserve_pct / 100.0
    out = []
    samples = trace.samples
    for window in m.outages:
        before = [s for s in samples if s.t + s.dt <= window.start_s + 1e-9]
        pack_wh = before[-1].pack_wh if before else m.start_pack_wh
        pw_wh = before[-1].pw_wh if before else m.pw_start_wh
        truck_backup = m.v2h_offered and m.plug == "wall_connector" and pack_wh > reserve_wh + _E_EPS
        expected = truck_backup or (pw_wh is not None and pw_wh > _E_EPS)
        restored = next(
            (
                s.t
                for s in samples
                if window.start_s - 1e-9 <= s.t < window.end_s
                and s.home_powered
                and s.home_load_w - s.home_served_w <= _SERVED_EPS
            ),
            None,
        )
        if not any(window.start_s - 1e-9 <= s.t < window.end_s for s in samples):
            continue  # the trace does not reach this outage
        out.append(
            TransferMeasure(
                outage_start_s=window.start_s,
                outage_end_s=window.end_s,
                backup_expected=expected,
                restored_at_s=restored,
            )
        )
    return out
