"""Energy accounting of a bench run: energy in and out per path, conversion losses, balances, money.

Owns :class:`EnergyLedger` (running totals in Wh, fed one :class:`~harness.bench.trace.Sample` at a time),
:class:`LoopPass` and :func:`loop_pass` (what one trip truck -> own outlet -> charge port -> truck would
cost: every DC->AC->DC pass loses energy, so a truck cannot charge itself).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.bench.trace import Sample

__all__ = ["EnergyLedger", "LoopPass", "loop_pass"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LoopPass:
    """One pass of energy around the loop: pack -> outlet (DC->AC) -> charger (AC->DC) -> pack."""

    drawn_wh: float  # DC energy taken from the pack
    ac_wh: float  # AC energy through the outlet and the wall connector
    returned_wh: float  # DC energy back into the pack
    lost_wh: float  # drawn - returned (> 0 for any efficiency below 1)

    @property
    def loss_fraction(self) -> float:
        """Share of the drawn energy lost per pass."""
        return self.lost_wh / self.drawn_wh if self.drawn_wh > 0 else 0.0


def loop_pass(ac_wh: float, *, outlet_efficiency: float, charge_efficiency: float) -> LoopPass:
    """The energy account of pushing ``ac_wh`` of AC around the loop once."""
    drawn = ac_wh / outlet_efficiency
    returned = ac_wh * charge_efficiency
    return LoopPass(drawn_wh=drawn, ac_wh=ac_wh, returned_wh=returned, lost_wh=drawn - returned)


@dataclass(slots=True, kw_only=True)
class EnergyLedger:
    """Running totals (Wh) per energy path; money in the tariff's currency."""

    port_in_wh: float = 0.0  # AC into the truck through the charge port
    port_out_wh: float = 0.0  # AC out of the truck through the charge port
    truck_to_home_wh: float = 0.0
    truck_to_grid_wh: float = 0.0
    truck_loss_wh: float = 0.0  # charger and outlet-inverter conversion losses
    outlet_wh: float = 0.0  # AC served by the outlets (V2V included)
    outlet_by_id_wh: dict[str, float] = field(default_factory=dict)
    outlet_peak_w: dict[str, float] = field(default_factory=dict)
    v2v_wh: float = 0.0  # AC delivered to the rescued EV
    grid_import_wh: float = 0.0
    grid_export_wh: float = 0.0
    solar_wh: float = 0.0  # solar used
    solar_curtailed_wh: float = 0.0
    pw_in_wh: float = 0.0
    pw_out_wh: float = 0.0
    pw_loss_wh: float = 0.0
    home_demand_wh: float = 0.0
    home_served_wh: float = 0.0
    event_export_wh: float = 0.0  # exported to the grid during grid-support events
    loop_attempt_ac_wh: float = 0.0  # AC the refused loop would have carried
    dc_in_wh: float = 0.0  # DC into the truck at the inlet (from a DC charger)
    dc_out_wh: float = 0.0  # DC out of the truck at the inlet (DC_BPT)
    dc_truck_loss_wh: float = 0.0  # the truck's DC losses (inlet <-> cells)
    dc_grid_in_wh: float = 0.0  # drawn from the grid by the DC charger
    dc_grid_out_wh: float = 0.0  # fed into the grid by the DC charger
    dc_event_export_wh: float = 0.0  # fed into the grid by the DC charger during grid-support events

    def add(self, s: Sample, *, truck_loss_wh: float, pw_loss_wh: float, dc_truck_loss_wh: float = 0.0) -> None:
        """Account one sample (its conversion losses are computed by the models)."""
        h = s.dt / 3600.0
        if s.dc is not None:
            self._add_dc(s, h, dc_truck_loss_wh)
        if s.port_w >= 0.0:
            self.port_in_wh += s.port_w * h
        else:
            out = -s.port_w * h
            self.port_out_wh += out
            to_home = min(out, s.home_served_w * h)
            self.truck_to_home_wh += to_home
            to_grid = min(out - to_home, max(0.0, -s.grid_w) * h)
            self.truck_to_grid_wh += to_grid
            if s.event_w > 0.0:
                self.event_export_wh += to_grid
        self.truck_loss_wh += truck_loss_wh
        self.outlet_wh += s.outlet_w * h
        for outlet_id, w in s.outlet_detail:
            self.outlet_by_id_wh[outlet_id] = self.outlet_by_id_wh.get(outlet_id, 0.0) + w * h
            self.outlet_peak_w[outlet_id] = max(self.outlet_peak_w.get(outlet_id, 0.0), w)
        self.v2v_wh += s.v2v_w * h
        if s.grid_w >= 0.0:
            self.grid_import_wh += s.grid_w * h
        else:
            self.grid_export_wh -= s.grid_w * h
        self.solar_wh += s.solar_w * h
        self.solar_curtailed_wh += s.solar_curtailed_w * h
        if s.pw_w >= 0.0:
            self.pw_in_wh += s.pw_w * h
        else:
            self.pw_out_wh -= s.pw_w * h
        self.pw_loss_wh += pw_loss_wh
        self.home_demand_wh += s.home_load_w * h
        self.home_served_wh += s.home_served_w * h

    def _add_dc(self, s: Sample, h: float, truck_loss_wh: float) -> None:
        assert s.dc is not None
        if s.dc.inlet_w >= 0.0:
            self.dc_in_wh += s.dc.inlet_w * h
        else:
            self.dc_out_wh -= s.dc.inlet_w * h
        if s.dc.grid_w >= 0.0:
            self.dc_grid_in_wh += s.dc.grid_w * h
        else:
            self.dc_grid_out_wh -= s.dc.grid_w * h
            if s.event_w > 0.0:
                self.dc_event_export_wh -= s.dc.grid_w * h
        self.dc_truck_loss_wh += truck_loss_wh

    @property
    def dc_charger_loss_wh(self) -> float:
        """The DC charger's conversion losses (grid side minus DC side, both directions)."""
        return (self.dc_grid_in_wh - self.dc_in_wh) + (self.dc_out_wh - self.dc_grid_out_wh)

    @property
    def home_unserved_wh(self) -> float:
        """Home demand that went unmet (outage without backup, reserve reached, transfer gaps)."""
        return max(0.0, self.home_demand_wh - self.home_served_wh)

    def truck_balance_error_wh(self, pack_delta_wh: float) -> float:
        """Pack change minus (AC in - AC out - outlets + DC in - DC out - losses); ~0 when the books balance."""
        ac = self.port_in_wh - self.port_out_wh - self.outlet_wh - self.truck_loss_wh
        dc = self.dc_in_wh - self.dc_out_wh - self.dc_truck_loss_wh
        return pack_delta_wh - (ac + dc)
