"""The whole virtual site: truck, wall connector + gateway, home, grid, Powerwall + solar, a rescued EV, and a
DC charger when the scenario plugs the truck into one.

Owns :class:`Bench`, the one object the protocol loop couples to. Sans-I/O and deterministic: time is
always an argument, nothing reads a clock. Per interval the caller

1. asks :meth:`Bench.evse_setpoint` (the wall connector's target, carried as ``EVSETargetActivePower``),
2. passes it through the EV side, which reports :meth:`Bench.vehicle_limits` and answers with
   :meth:`Bench.vehicle_accepts` (the truck's clamp),
3. calls :meth:`Bench.step` with the power that the session settled on.

``step`` splits its interval at every instant where something changes (grid loss or return, a gateway
transition, an hour of the home profile, an event or outlet-load edge), so samples are exact whatever
``dt`` the caller uses; within the interval the commanded port power is held, and physics bounds it
(no power through a dead connector, an island cannot absorb more than its loads, the pack stops at its
limits). :meth:`Bench.suggest_dt` gives step sizes that land on those instants and stay fine right after
a grid change, which is how a physics-only run measures the sub-second transfer.

On a DC charger the caller commands the charger's output stage (:attr:`Bench.dc_charger`) instead: its
insulation test, precharge, contactors and output current (within :meth:`Bench.dc_decision` and
:meth:`Bench.dc_limits`); each :meth:`Bench.step` then lets time act on it, and the DC power into the truck
over a step is the pack's voltage at the step's start times the current the charger drives.
"""

from __future__ import annotations

import math

from harness.bench.dccharger import DCCharger
from harness.bench.dcinvariants import dc_meta
from harness.bench.energy import EnergyLedger, loop_pass
from harness.bench.errors import BenchError
from harness.bench.grid import Grid
from harness.bench.home import HomeLoad
from harness.bench.policy import DCPolicyInputs, Decision, PolicyInputs, PowerwallView, decide, decide_dc
from harness.bench.powerwall import Powerwall, Solar
from harness.bench.scenarios import Scenario
from harness.bench.site import IslandFlows, dispatch
from harness.bench.trace import DCSample, Sample, Trace, TraceEvent, TraceMeta
from harness.bench.vehicle import DCVehicleLimits, InletFlow, Plug, RescuedEV, Vehicle, VehicleLimits
from harness.bench.wallconnector import WallConnector

__all__ = ["Bench"]

_TIME_EPS = 1e-9
_SNAP_S = 1e-7


class Bench:
    """The virtual test bench built from a scenario."""

    def __init__(
        self, scenario: Scenario, *, vehicle: Vehicle | None = None, dc_charger: DCCharger | None = None
    ) -> None:
        self.scenario = scenario
        self.vehicle = vehicle if vehicle is not None else Vehicle(scenario.vehicle, scenario.settings)
        if dc_charger is None and scenario.dc_charger is not None:
            dc_charger = DCCharger(scenario.dc_charger)
        self.dc_charger = dc_charger
        """The DC charger's output stage (None unless the scenario has one)."""
        self._dc_step: tuple[float, DCVehicleLimits] | None = None
        self.connector = WallConnector(scenario.wall_connector)
        self.home = HomeLoad(scenario.home, start_hour=scenario.start_hour)
        self.grid = Grid(scenario.tariff, outages=scenario.outages, events=scenario.events)
        pw = scenario.powerwall
        self.powerwall = Powerwall(pw.params, soc_pct=pw.start_soc_pct, threshold_pct=pw.threshold_pct) if pw else None
        self.solar = Solar(pw.params.solar, start_hour=scenario.start_hour) if pw else None
        self.rescued = RescuedEV(scenario.v2v) if scenario.v2v else None
        self.ledger = EnergyLedger()
        self.now = 0.0
        self.follow_events = True
        """The chargers answer the scenario's grid-support events themselves; False when a CSMS dispatches them
        (the events still define the windows whose export is compensated)."""
        self._decision: Decision | None = None
        self._loop_noted = False
        self.trace = Trace(meta=self._meta())
        self.connector.gateway.observe(0.0, self.grid.is_up(0.0))

    # -- the coupling API -------------------------------------------------------------------------------

    def decision(self, now: float) -> Decision:
        """The wall connector's decision for the interval starting at ``now`` (setpoint and reason)."""
        self._check_now(now)
        self._sync(now)
        pw = self.powerwall
        view = None
        if pw is not None:
            view = PowerwallView(
                soc_pct=pw.soc_pct,
                threshold_pct=pw.threshold_pct,
                band_pct=pw.params.hold_band_pct,
                max_discharge_w=pw.params.max_power_w if pw.pack.energy_wh > 0.0 else 0.0,
            )
        event = self.grid.event_at(now) if self.follow_events else None
        self._decision = decide(
            PolicyInputs(
                plug=self.vehicle.settings.plug,
                gateway=self.connector.gateway.state,
                limits=self.vehicle.limits(),
                connector_max_charge_w=self.connector.max_charge_w,
                connector_max_discharge_w=self.connector.max_discharge_w,
                home_w=self.home.power_w(now),
                solar_w=self.solar.power_w(now) if self.solar else 0.0,
                event_request_w=event.request_w if event else None,
                powerwall=view,
            )
        )
        return self._decision

    def evse_setpoint(self, now: float) -> float:
        """The wall connector's requested power now (W): positive = charge the truck, negative = discharge."""
        return self.decision(now).setpoint_w

    def vehicle_limits(self, now: float) -> VehicleLimits:
        """What the truck reports now (max/min charge and discharge power, SoC, energy requests, reserve)."""
        self._check_now(now)
        self._sync(now)
        return self.vehicle.limits()

    def dc_limits(self, now: float, dt: float | None = None) -> DCVehicleLimits:
        """What the truck reports on the DC charger now (``dt``: cut so the next step ends at its limits)."""
        self._check_now(now)
        self._sync(now)
        return self.vehicle.dc_limits(dt)

    def dc_decision(self, now: float, dt: float | None = None) -> Decision:
        """The DC charger's setpoint and reason for the interval starting at ``now``."""
        charger = self._charger()
        limits = self.dc_limits(now, dt)
        event = self.grid.event_at(now) if self.follow_events else None
        p = charger.params
        self._decision = decide_dc(
            DCPolicyInputs(
                plug=self.vehicle.settings.plug,
                limits=limits,
                charger_max_charge_w=p.max_charge_power_w,
                charger_max_discharge_w=p.max_discharge_power_w if p.bidirectional else 0.0,
                event_request_w=event.request_w if event else None,
            )
        )
        return self._decision

    def refresh_decision(self, now: float) -> Decision:
        """The decision of the charger the truck is plugged into (keeps the samples' reason current)."""
        return self.dc_decision(now) if self.dc_charger is not None else self.decision(now)

    def _charger(self) -> DCCharger:
        if self.dc_charger is None:
            raise BenchError(f"scenario {self.scenario.name} has no DC charger")
        return self.dc_charger

    def vehicle_accepts(self, power_w: float, dt: float | None = None) -> float:
        """What the truck actually does when asked for ``power_w`` (clamped to its limits and reserve)."""
        return self.vehicle.accepts(power_w, dt)

    def step(self, now: float, dt: float, port_power_w: float) -> None:
        """Advance the site by ``dt`` seconds with ``port_power_w`` through the charge port."""
        self._check_now(now)
        if not (math.isfinite(dt) and dt > 0.0):
            raise BenchError(f"step length must be a finite number of seconds > 0, got {dt!r}")
        if not math.isfinite(port_power_w):
            raise BenchError(f"port power must be a finite number of watts, got {port_power_w!r}")
        t, end = self.now, self.now + dt
        if self.dc_charger is not None:
            # The charger's command and the truck's limits hold for the whole step, split or not.
            ch = self.dc_charger
            inlet_w = self.vehicle.pack_voltage() * ch.output_a if ch.contactors_closed else 0.0
            self._dc_step = (inlet_w, self.vehicle.dc_limits())
        while t < end - _TIME_EPS:
            self._sync(t)
            change = self._next_change(t)
            if abs(change - end) <= _SNAP_S:  # land exactly on a change, not a rounding error before it
                end = change
            nxt = min(end, change)
            self._interval(t, nxt - t, port_power_w)
            t = nxt
        self.now = end
        self._sync(end)

    def suggest_dt(self, now: float, coarse_dt: float, fine_dt: float, fine_window_s: float = 5.0) -> float:
        """A step length: ``fine_dt`` just after a grid change, else ``coarse_dt``; never past a change.

        The bench may land a step exactly on a change instant less than 0.1 µs away, so read
        :attr:`now` after each step rather than adding up step lengths.
        """
        last = self.grid.last_outage_change(now)
        step = fine_dt if last is not None and now - last < fine_window_s else coarse_dt
        return max(_TIME_EPS * 10, min(step, self._next_change(now) - now))

    def finish(self) -> Trace:
        """Close the trace (copies the gateway's outage records into it) and return it."""
        self.trace.outages = self.connector.gateway.outages()
        return self.trace

    # -- internals --------------------------------------------------------------------------------------

    def _check_now(self, now: float) -> None:
        if not math.isfinite(now) or abs(now - self.now) > 1e-6:
            raise BenchError(f"asked about t={now!r} s but the bench is at t={self.now:.6f} s (use bench.now)")

    def _sync(self, now: float) -> None:
        self.connector.gateway.observe(now, self.grid.is_up(now))

    def _next_change(self, t: float) -> float:
        candidates = [self.scenario.duration_s if self.scenario.duration_s > t + _TIME_EPS else math.inf]
        for c in (self.grid.next_change(t), self.connector.gateway.next_deadline(), self.home.next_change(t)):
            if c is not None and c > t + _TIME_EPS:
                candidates.append(c)
        edges = [w.window for w in self.scenario.outlet_loads]
        if self.scenario.loop is not None:
            edges.append(self.scenario.loop.window)
        candidates.extend(e for w in edges for e in (w.start_s, w.end_s) if e > t + _TIME_EPS)
        return min(candidates)

    def _outlet_demand(self, t: float, dt: float) -> tuple[dict[str, float], float]:
        demand: dict[str, float] = {}
        for load in self.scenario.outlet_loads:
            if load.window.contains(t):
                demand[load.outlet] = demand.get(load.outlet, 0.0) + load.power_w
        v2v_w = 0.0
        if self.rescued is not None:
            v2v = self.scenario.vehicle.v2v
            v2v_w = self.rescued.demand_w(v2v.power_w, dt)
            if v2v_w > 0.0:
                demand[v2v.outlet] = demand.get(v2v.outlet, 0.0) + v2v_w
        return demand, v2v_w

    def _interval(self, t: float, dt: float, cmd_w: float) -> None:
        gateway = self.connector.gateway
        veh = self.vehicle
        home_w = self.home.power_w(t)
        solar_w = self.solar.power_w(t) if self.solar else 0.0
        grid_up = self.grid.is_up(t)
        accepted = veh.accepts(cmd_w, dt) if veh.settings.plug is Plug.WALL_CONNECTOR else 0.0
        flows: IslandFlows = dispatch(
            grid_energised=gateway.on_grid and grid_up,
            islanded=gateway.islanded,
            truck_can_form=veh.limits().max_discharge_w > 0.0,
            port_w=accepted,
            home_w=home_w,
            solar_w=solar_w,
            powerwall=self.powerwall,
            dt=dt,
        )
        port = veh.charge_port(flows.port_w, dt)
        demand, v2v_want = self._outlet_demand(t, dt)
        outlets = veh.supply_outlets(demand, dt, port_exporting=port.ac_w < 0.0)
        v2v_w = 0.0
        if v2v_want > 0.0 and self.rescued is not None:
            outlet_id = self.scenario.vehicle.v2v.outlet
            share = outlets.served_w.get(outlet_id, 0.0) / demand[outlet_id]
            v2v_w = v2v_want * share
            self.rescued.receive(v2v_w, dt)
        dc, inlet = self._dc_interval(dt)
        pw_flow = self.powerwall.exchange(flows.pw_w, dt) if self.powerwall else None
        pw_w = pw_flow.ac_w if pw_flow else 0.0
        # What the stores could not take or give exactly (full or empty pack) is settled by the grid when
        # connected; in an island the loads were already bounded by what the sources could deliver.
        grid_w = 0.0
        if flows.grid_energised:
            grid_w = home_w + port.ac_w + pw_w - flows.solar_used_w
        event = self.grid.event_at(t)
        self._note_events(t, dt)
        sample = Sample(
            t=t,
            dt=dt,
            grid_up=grid_up,
            gateway=gateway.state.value,
            home_powered=flows.home_powered,
            port_cmd_w=cmd_w,
            port_w=port.ac_w,
            outlets_on=outlets.outlets_on,
            outlet_w=outlets.total_w,
            outlet_detail=tuple(sorted(outlets.served_w.items())),
            v2v_w=v2v_w,
            home_load_w=home_w,
            home_served_w=flows.home_served_w,
            grid_w=grid_w,
            solar_w=flows.solar_used_w,
            solar_curtailed_w=solar_w - flows.solar_used_w,
            pw_w=pw_w,
            soc_pct=veh.soc_pct,
            pack_wh=veh.pack.energy_wh,
            pw_wh=self.powerwall.pack.energy_wh if self.powerwall else None,
            event_w=event.request_w if event and grid_up else 0.0,
            reason=self._decision.reason.value if self._decision else "",
            dc=dc,
        )
        self.trace.samples.append(sample)
        self.ledger.add(
            sample,
            truck_loss_wh=port.loss_wh + outlets.loss_wh,
            pw_loss_wh=pw_flow.loss_wh if pw_flow else 0.0,
            dc_truck_loss_wh=inlet.loss_wh if inlet else 0.0,
        )

    def _dc_interval(self, dt: float) -> tuple[DCSample | None, InletFlow | None]:
        ch, step = self.dc_charger, self._dc_step
        if ch is None or step is None:
            return None, None
        inlet_w, lim = step
        veh = self.vehicle
        pack_v = veh.pack_voltage()
        flow = veh.dc_inlet(inlet_w, dt)
        ch.advance(dt, veh.pack_voltage())
        sample = DCSample(
            phase=ch.phase.value,
            output_v=ch.output_v,
            output_a=ch.output_a,
            inlet_w=flow.w,
            pack_v=pack_v,
            contactors=ch.contactors_closed,
            insulation_ok=ch.insulation_ok,
            close_gap_v=ch.close_gap_v,
            grid_w=ch.grid_w(flow.w),
            ev_max_v=lim.max_voltage_v,
            ev_max_charge_a=lim.max_charge_current_a,
            ev_max_charge_w=lim.max_charge_w,
            ev_max_discharge_a=lim.max_discharge_current_a,
            ev_max_discharge_w=lim.max_discharge_w,
        )
        return sample, flow

    def _note_events(self, t: float, dt: float) -> None:
        loop = self.scenario.loop
        if loop is not None and loop.window.contains(t) and self.vehicle.refuses_plug():
            self.ledger.loop_attempt_ac_wh += loop.power_w * dt / 3600.0
            if not self._loop_noted:
                self._loop_noted = True
                lp = loop_pass(
                    loop.power_w,  # one hour's worth; only the loss fraction is reported here
                    outlet_efficiency=self.scenario.vehicle.v2l.efficiency,
                    charge_efficiency=self.scenario.vehicle.charger.charge_efficiency,
                )
                self.trace.events.append(
                    TraceEvent(
                        t=t,
                        kind="loop_refused",
                        detail=(
                            f"charge port fed from own outlet {loop.outlet}: refused "
                            f"(each pass would lose {100.0 * lp.loss_fraction:.1f} % of the energy drawn)"
                        ),
                    )
                )

    def _meta(self) -> TraceMeta:
        sc, p = self.scenario, self.scenario.vehicle
        pw = sc.powerwall
        return TraceMeta(
            scenario=sc.name,
            vehicle=p.name,
            trim=p.trim,
            plug=sc.settings.plug.value,
            capacity_wh=p.capacity_wh,
            start_pack_wh=self.vehicle.pack.energy_wh,
            reserve_pct=sc.settings.reserve_pct,
            charge_limit_pct=sc.settings.charge_limit_pct,
            charge_efficiency=p.charger.charge_efficiency,
            discharge_efficiency=p.charger.discharge_efficiency,
            outlet_efficiency=p.v2l.efficiency,
            max_charge_w=p.max_charge_w,
            max_export_w=p.max_export_w,
            owner_max_export_w=sc.settings.max_export_w,
            v2h_offered=p.v2h.offered,
            connector_max_w=sc.wall_connector.max_power_w,
            connector_bidirectional=sc.wall_connector.bidirectional,
            v2l_total_w=p.v2l.max_total_power_w,
            outlet_ratings=tuple((o.id, o.power_w) for o in p.v2l.outlets),
            v2v_max_w=p.v2v.power_w,
            max_transfer_s=sc.wall_connector.gateway.max_transfer_s,
            outages=sc.outages,
            pw_capacity_wh=pw.params.capacity_wh if pw else None,
            pw_start_wh=self.powerwall.pack.energy_wh if self.powerwall else None,
            pw_max_w=pw.params.max_power_w if pw else None,
            pw_charge_efficiency=pw.params.charge_efficiency if pw else None,
            pw_discharge_efficiency=pw.params.discharge_efficiency if pw else None,
            pw_threshold_pct=self.powerwall.threshold_pct if self.powerwall else None,
            dc=dc_meta(sc.dc_charger, p.dc, sc.settings.max_export_w) if sc.dc_charger and p.dc else None,
        )
