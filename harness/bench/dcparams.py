"""Parameters of DC charging on the bench: the truck's DC inlet, a DC charger, and the rules a DC run is judged by.

Owns :class:`DCInletParams` (the truck's side: pack voltage over state of charge, voltage window, current limit,
charge-power taper, DC losses, precharge tolerance, DC_BPT), :class:`DCChargerParams` (a charger's output window
and limits, efficiency, insulation test, precharge ramp, bleed-down), :class:`DCRules` and their loaders. The
numbers live in ``harness/bench/data/*.toml``; nothing here hard-codes a product fact.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from harness.bench.tomlread import Table, load_packaged
from iso15118.controller import IsolationStatus

__all__ = [
    "DCChargerParams",
    "DCInletParams",
    "DCRules",
    "load_dc_charger",
    "load_dc_inlet",
    "load_dc_rules",
]

_DATA_PACKAGE = "harness.bench.data"
_RULES = "dc_rules"


@dataclass(frozen=True, slots=True, kw_only=True)
class DCInletParams:
    """The truck's DC side: its pack's voltage, what the inlet tolerates, and how fast it takes power."""

    pack_voltage_empty_v: float
    pack_voltage_full_v: float
    max_voltage_v: float
    min_voltage_v: float
    max_charge_current_a: float
    taper_soc_pct: tuple[float, ...]
    taper_power_w: tuple[float, ...]
    charge_efficiency: float
    discharge_efficiency: float
    precharge_tolerance_v: float
    bpt_offered: bool
    max_discharge_current_a: float
    max_discharge_power_w: float

    def pack_voltage(self, soc_pct: float) -> float:
        """The pack's voltage at ``soc_pct`` (linear between empty and full)."""
        soc = min(100.0, max(0.0, soc_pct))
        return self.pack_voltage_empty_v + (self.pack_voltage_full_v - self.pack_voltage_empty_v) * soc / 100.0

    def taper_w(self, soc_pct: float) -> float:
        """The most DC power the pack takes at ``soc_pct`` (linear between the taper's points)."""
        socs, powers = self.taper_soc_pct, self.taper_power_w
        soc = min(socs[-1], max(socs[0], soc_pct))
        for i in range(1, len(socs)):
            if soc <= socs[i]:
                span = socs[i] - socs[i - 1]
                share = (soc - socs[i - 1]) / span if span > 0.0 else 1.0
                return powers[i - 1] + (powers[i] - powers[i - 1]) * share
        return powers[-1]

    @property
    def max_charge_power_w(self) -> float:
        """The highest point of the taper (W)."""
        return max(self.taper_power_w)


@dataclass(frozen=True, slots=True, kw_only=True)
class DCChargerParams:
    """A DC charger: output window and limits, efficiency, and the timing of its DC steps."""

    name: str
    min_voltage_v: float
    max_voltage_v: float
    max_charge_current_a: float
    max_charge_power_w: float
    bidirectional: bool
    max_discharge_current_a: float
    max_discharge_power_w: float
    efficiency: float
    insulation_test_s: float
    insulation_result: IsolationStatus
    precharge_ramp_v_per_s: float
    precharge_current_a: float
    bleed_time_constant_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class DCRules:
    """What every DC run is judged by, whatever the charger declares."""

    precharge_max_current_a: float
    welding_safe_voltage_v: float


def _efficiency(t: Table, key: str) -> float:
    return t.number(key, lo=0.0, hi=1.0, lo_open=True)


def load_dc_inlet(t: Table) -> DCInletParams:
    """The ``[dc_inlet]`` table of a vehicle file (the caller calls ``done()`` on it)."""
    socs = t.numbers("taper_soc_pct", lo=0.0)
    powers = t.numbers("taper_power_w", length=len(socs), lo=0.0)
    if len(socs) < 2 or socs[0] != 0.0 or socs[-1] != 100.0 or any(b <= a for a, b in itertools.pairwise(socs)):
        raise t.error("taper_soc_pct", "must rise strictly from 0 to 100")
    params = DCInletParams(
        pack_voltage_empty_v=t.number("pack_voltage_empty_v", lo=0.0, lo_open=True),
        pack_voltage_full_v=t.number("pack_voltage_full_v", lo=0.0, lo_open=True),
        max_voltage_v=t.number("max_voltage_v", lo=0.0, lo_open=True),
        min_voltage_v=t.number("min_voltage_v", lo=0.0),
        max_charge_current_a=t.number("max_charge_current_a", lo=0.0),
        taper_soc_pct=socs,
        taper_power_w=powers,
        charge_efficiency=_efficiency(t, "charge_efficiency"),
        discharge_efficiency=_efficiency(t, "discharge_efficiency"),
        precharge_tolerance_v=t.number("precharge_tolerance_v", lo=0.0, lo_open=True),
        bpt_offered=t.boolean("bpt_offered"),
        max_discharge_current_a=t.number("max_discharge_current_a", lo=0.0),
        max_discharge_power_w=t.number("max_discharge_power_w", lo=0.0),
    )
    if params.pack_voltage_full_v <= params.pack_voltage_empty_v:
        raise t.error("pack_voltage_full_v", "must be above pack_voltage_empty_v")
    if not params.min_voltage_v <= params.pack_voltage_empty_v < params.pack_voltage_full_v <= params.max_voltage_v:
        raise t.error("max_voltage_v", "the pack's voltage range must lie within [min_voltage_v, max_voltage_v]")
    if not params.bpt_offered and (params.max_discharge_current_a or params.max_discharge_power_w):
        raise t.error("bpt_offered", "is false, so the discharge limits must be 0")
    return params


def load_dc_charger(name: str) -> DCChargerParams:
    """Load a DC charger from ``harness/bench/data/<name>.toml``."""
    root = load_packaged(_DATA_PACKAGE, name)
    dc = root.table("dc_charger")
    test = root.table("insulation_test")
    pre = root.table("precharge")
    weld = root.table("welding")
    rules = load_dc_rules()
    params = DCChargerParams(
        name=dc.string("name"),
        min_voltage_v=dc.number("min_voltage_v", lo=0.0),
        max_voltage_v=dc.number("max_voltage_v", lo=0.0, lo_open=True),
        max_charge_current_a=dc.number("max_charge_current_a", lo=0.0),
        max_charge_power_w=dc.number("max_charge_power_w", lo=0.0),
        bidirectional=dc.boolean("bidirectional"),
        max_discharge_current_a=dc.number("max_discharge_current_a", lo=0.0),
        max_discharge_power_w=dc.number("max_discharge_power_w", lo=0.0),
        efficiency=_efficiency(dc, "efficiency"),
        insulation_test_s=test.number("duration_s", lo=0.0),
        insulation_result=IsolationStatus(
            test.string("result", choices=tuple(s.value for s in IsolationStatus if s is not IsolationStatus.INVALID))
        ),
        precharge_ramp_v_per_s=pre.number("ramp_v_per_s", lo=0.0, lo_open=True),
        precharge_current_a=pre.number("current_a", lo=0.0, hi=rules.precharge_max_current_a),
        bleed_time_constant_s=weld.number("bleed_time_constant_s", lo=0.0, lo_open=True),
    )
    if params.max_voltage_v <= params.min_voltage_v:
        raise dc.error("max_voltage_v", "must be above min_voltage_v")
    if not params.bidirectional and (params.max_discharge_current_a or params.max_discharge_power_w):
        raise dc.error("bidirectional", "is false, so the discharge limits must be 0")
    for t in (dc, test, pre, weld, root):
        t.done()
    return params


def load_dc_rules() -> DCRules:
    """The rules of ``harness/bench/data/dc_rules.toml``."""
    root = load_packaged(_DATA_PACKAGE, _RULES)
    pre = root.table("precharge")
    weld = root.table("welding")
    rules = DCRules(
        precharge_max_current_a=pre.number("max_current_a", lo=0.0, lo_open=True),
        welding_safe_voltage_v=weld.number("safe_voltage_v", lo=0.0, lo_open=True),
    )
    for t in (pre, weld, root):
        t.done()
    return rules
