"""Run a bench scenario on the real protocol stack: the virtual truck and its charger speak ISO 15118-20 (or,
configured so, ISO 15118-2 or DIN 70121).

Owns :func:`run_simulation` / :func:`simulate`, :class:`SimOptions`, :class:`SimResult` and
:func:`adjust_scenario` (``--trim``, ``--reserve``). A run builds the :class:`~harness.bench.bench.Bench`,
the :class:`~harness.virtual.coupling.Coupling`, the link (:func:`~harness.virtual.links.open_wiring`), and
then, until the scenario's end, either runs a protocol session (when one is due) or advances the physics
on its own.

Design (the decisions behind the numbers):

* **Two clocks.** The protocol runs on the real clock, so every -20 timer holds as written (the SECC's
  0.5 s sequence timeout in the charge loop [V2G20-1499/1500], the EVCC's 0.5 s message timeout). The
  physics runs on an accelerated simulated clock that only the charge loop moves: each AC_ChargeLoopRes
  advances the bench by one step, ``coarse_dt_s`` (default 300 s) in steady state and ``fine_dt_s``
  (the scenario's, default 50 ms) for a few seconds after each grid change, so the sub-second outage
  transfer is carried by sub-second exchanges and measured from the samples. Session set-up and tear-down
  take no simulated time. With ``speed`` a step is paced to ``dt / speed`` real seconds (at most 0.2 s per
  exchange, shrinking the coarse step if needed); without it the run goes as fast as the exchanges do
  (about 1 ms each in memory), so a four-day outage takes a few seconds.
* **Who decides what.** The truck reports the bench's vehicle as its EV state (SoC, trim limits, energy
  requests, V2X window = reserve .. charge limit) and follows the EVSE's Dynamic-mode setpoint
  (``EVSETargetActivePower``, negative = discharge) through its own clamp. The wall connector's setpoint is
  the bench's policy (gateway, home, grid events, Powerwall), bounded by the limits the truck reported in
  the same request; its meter is the bench's port energy. Control is Dynamic over AC_BPT, with the
  GridForming generator mode (the truck forms the home's island); a trim without V2H offers no AC_BPT, so
  the session is plain AC and the home stays dark in an outage.
* **Sessions.** A session starts when the truck is plugged into the wall connector and the connector has
  power, and lasts until the scenario ends (the owner unplugs: PowerDelivery(Stop), SessionStop(Terminate)).
  The connector hangs on the home's panel: if the home stays dark past the gateway's transfer time (no
  backup, or the truck at its reserve) the connector is off, stops answering and the truck's message
  timeout ends the session; when power returns, a new session starts (over veth: SLAC and SDP again).
  While no session runs, the physics advances with 0 W at the port.
* **The loop myth.** Fed from the truck's own outlet, the wall connector offers 0 W and no AC_BPT; the
  truck's minimum charge power is above that, so the SECC ends the session with FAILED_WrongChargeParameter
  before any power flows. The bench's ledger shows what each pass around the loop would have lost.
* **No port session.** Scenarios with the truck unplugged (outlets, V2V through the Mobile Connector) run
  the physics alone; the result says so (``no_session_reason``).
* **DC.** A scenario that plugs the truck into a DC charger runs -20 DC sessions instead: the EVCC offers the
  -20 DC namespace (DC_BPT when both sides can discharge), the SECC is the
  :class:`~harness.virtual.dcevse.VirtualDCCharger` (DC namespace, DC and DC_BPT, Dynamic control). Cable
  check, precharge and welding detection take simulated time (one ``dc_step_s`` per exchange); the loop's
  steps are the scenario's ``loop_dt_s``. The session ends when the loop must (the scenario's end, less the
  time the stop takes) or when the driver leaves at the charge limit.
* **Other generations.** The truck's offer and the charger's protocols come from the scenario's
  ``[protocols]`` table or :attr:`SimOptions.protocols` (:mod:`harness.virtual.generations` plans them and
  refuses what cannot run: DIN on AC, a discharge on anything but -20). ISO 15118-2 AC runs its ChargingStatus
  loop (the charger's current limit, which the truck follows through its clamp), -2 DC and DIN 70121 the DC steps
  and the CurrentDemand loop on the same DC charger; each loop exchange moves the physics as on -20. Every
  session's record names the protocol that ran, and a session that ran another one than planned is not ok.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from harness.bench import Bench, Plug, Scenario, Summary, Trace, plot, summarize
from harness.bench.dcparams import load_dc_rules
from harness.bench.params import load_vehicle
from harness.bench.protocols import ProtocolSettings
from harness.virtual.coupling import Coupling, Stepping
from harness.virtual.csms import CsmsReport, sim_station
from harness.virtual.generations import ProtocolPlan, namespace_of, plan_protocols
from harness.virtual.links import LinkKind, WiringOptions, open_wiring
from harness.virtual.session import BenchEVSE, SessionRecord, default_evse, run_session
from iso15118.config import EvccConfig, SeccConfig
from iso15118.controller import ControlMode
from iso15118.errors import ConfigError
from iso15118.iso20.services import AC, AC_BPT, DC, DC_BPT
from iso15118.records.trace import TraceWriter
from iso15118.security.profiles import DEFAULT_EVCCID
from iso15118.session.selection import EnergyFamily
from iso15118.transport.driver import Observer
from iso15118.transport.generations import Standard, standard_of
from iso15118.transport.store import SessionStore

__all__ = [
    "TRIMS",
    "SimOptions",
    "SimResult",
    "adjust_scenario",
    "evcc_config",
    "no_session_reason",
    "plot_title",
    "run_simulation",
    "secc_config",
    "simulate",
]

TRIMS: Final = {"awd": "cybertruck_awd", "rwd": "cybertruck_rwd"}
"""``--trim`` choices and the vehicle data file each selects."""

_GRID_FORMING: Final = 2  # GeneratorMode 2 = GridForming [V2G20 table 206]
_DYNAMIC: Final = 2  # ControlMode 2 = Dynamic [V2G20 table 205]


@dataclass(frozen=True, slots=True, kw_only=True)
class SimOptions:
    """How to run a scenario: link, stepping, and the optional output files."""

    link: LinkKind = LinkKind.MEMORY
    stepping: Stepping = field(default_factory=Stepping)
    wiring: WiringOptions = field(default_factory=WiringOptions)
    trace: Path | None = None
    """JSON-lines message trace of every session (both sides), written fresh."""
    plot: Path | None = None
    evse: Callable[[Coupling], BenchEVSE] = default_evse
    """The SECC's controller for each session (default: the scenario's wall connector or DC charger)."""
    csms: str | None = None
    """The charger is a charging station of the CSMS at this URL (OCPP 2.1), which dispatches the grid events."""
    protocols: ProtocolSettings | None = None
    """What the truck offers and the charger speaks; None: the scenario's ``[protocols]`` (default -20 only)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SimResult:
    """A finished run: the bench's summary (with every session's line), the sessions, the samples, figures."""

    scenario: Scenario
    link: LinkKind
    link_description: str
    summary: Summary
    sessions: tuple[SessionRecord, ...]
    trace: Trace
    wall_s: float
    protocol_steps: int
    idle_steps: int
    dc_steps: int
    coarse_dt_s: float
    fine_dt_s: float
    speed: float | None
    no_session_reason: str | None
    plot: Path | None = None
    pcap: Path | None = None
    trace_file: Path | None = None
    trace_lines: int = 0
    csms: CsmsReport | None = None
    protocols: ProtocolPlan | None = None
    """What each side offered and what ran (None: the scenario has no port session)."""

    @property
    def ok(self) -> bool:
        """Every invariant holds and every session ended as expected."""
        return not self.summary.violations and all(s.ok for s in self.sessions)

    @property
    def acceleration(self) -> float:
        """Simulated seconds per real second."""
        return self.summary.duration_s / self.wall_s if self.wall_s > 0 else float("inf")


def adjust_scenario(scenario: Scenario, *, trim: str | None = None, reserve_pct: float | None = None) -> Scenario:
    """The scenario with another truck trim and/or reserve; ConfigError names what does not fit."""
    if trim is not None:
        if trim not in TRIMS:
            raise ConfigError(f"unknown trim {trim!r} (choose from {', '.join(TRIMS)})")
        vehicle = load_vehicle(TRIMS[trim])
        outlets = {o.id for o in vehicle.v2l.outlets}
        used = {load.outlet for load in scenario.outlet_loads}
        if scenario.loop is not None:
            used.add(scenario.loop.outlet)
        if scenario.v2v is not None:
            used.add(vehicle.v2v.outlet)
        missing = sorted(used - outlets)
        if missing:
            raise ConfigError(
                f"scenario {scenario.name} uses outlet(s) {', '.join(missing)}, which {vehicle.name} lacks"
            )
        scenario = dataclasses.replace(scenario, vehicle=vehicle, title=f"{scenario.title} [{vehicle.name}]")
    if reserve_pct is not None:
        settings = dataclasses.replace(scenario.settings, reserve_pct=reserve_pct)  # validates the range
        scenario = dataclasses.replace(scenario, settings=settings)
    return scenario


def no_session_reason(scenario: Scenario) -> str | None:
    """Why the scenario has no ISO 15118 session at all, or None when it has one."""
    if scenario.settings.plug is Plug.NONE:
        return "the truck's charge port is not connected (outlets and the Mobile Connector need no ISO 15118 session)"
    return None


def plot_title(scenario: Scenario, link: LinkKind | str) -> str:
    """The title of a run's plot: the scenario, the link and what the scenario shows."""
    return f"{scenario.name} over {link} link: {scenario.title}"


def _namespaces(standards: tuple[Standard, ...], family: EnergyFamily) -> tuple[str, ...]:
    return tuple(namespace_of(s, family) for s in standards)


def secc_config(scenario: Scenario, plan: ProtocolPlan | None = None) -> SeccConfig:
    """The wall connector's SECC: AC and AC_BPT, Dynamic control only, GridForming, EIM; a DC charger's: DC and
    DC_BPT (the latter only when its data say it is bidirectional), Dynamic control, EIM. It speaks the plan's
    protocols (default: -20 in the charger's energy family); -2 and DIN read only what they have of this."""
    charger = plan.charger if plan is not None else (Standard.ISO20,)
    if scenario.dc_charger is not None:
        return SeccConfig(
            evse_id="US*V2G*EDCFC0001*1",
            protocols=_namespaces(charger, EnergyFamily.DC),
            services=(DC, DC_BPT),
            control_modes=(_DYNAMIC,),
            meter_id="DCFC-METER-1",
        )
    return SeccConfig(
        evse_id="US*TSL*EUWC0001*1",
        protocols=_namespaces(charger, EnergyFamily.AC),
        services=(AC, AC_BPT),
        control_modes=(_DYNAMIC,),
        generator_mode=_GRID_FORMING,
        meter_id="UWC-METER-1",
    )


def evcc_config(scenario: Scenario | None = None, plan: ProtocolPlan | None = None) -> EvccConfig:
    """The truck's EVCC: Dynamic control, AC_BPT (or on a DC charger DC_BPT) when both sides can, meter info in
    every loop; on DC its precharge tolerance from the truck's data and welding detection down to the
    touch-safe voltage of the DC rules. It offers the plan's protocols in its order (default: -20 in the energy
    family of the charger)."""
    dc = scenario is not None and scenario.dc_charger is not None and scenario.vehicle.dc is not None
    family = EnergyFamily.DC if dc else EnergyFamily.AC
    config = EvccConfig(
        evcc_id=DEFAULT_EVCCID,
        energy=family,
        protocols=_namespaces(plan.ev if plan is not None else (Standard.ISO20,), family),
        control_mode=ControlMode.DYNAMIC,
        bidirectional=True,
        loop_interval_s=0.0,  # the coupling paces the loop when a speed is set
        meter_info_requested=True,
    )
    if scenario is None or not dc or scenario.vehicle.dc is None:
        return config
    return dataclasses.replace(
        config,
        precharge_tolerance_v=scenario.vehicle.dc.precharge_tolerance_v,
        welding_safe_voltage_v=load_dc_rules().welding_safe_voltage_v,
        # Every DC step's repeat is one DC step of simulated time (the coupling); no real pause is needed.
        authorization_retry_s=0.0,
        precharge_interval_s=0.0,
    )


def _checked(record: SessionRecord, plan: ProtocolPlan) -> SessionRecord:
    """The record, not ok when the session ran another generation than the plan says it must."""
    namespace = record.evcc.negotiated.get("protocol") if record.evcc is not None else None
    if namespace is None or standard_of(namespace) is plan.expected:
        return record
    error = f"ran {record.protocol}, but {plan.expected_name} was expected ({plan.describe()})"
    return dataclasses.replace(record, ok=False, error=record.error or error)


async def run_simulation(
    scenario: Scenario,
    options: SimOptions | None = None,
    *,
    on_step: Callable[[Coupling], None] | None = None,
) -> SimResult:
    """Run ``scenario`` to its end over the chosen link; ``on_step`` sees the coupling after every step."""
    opts = options or SimOptions()
    plan: ProtocolPlan | None = None
    if no_session_reason(scenario) is None:
        settings = opts.protocols or scenario.protocols
        scenario, plan = plan_protocols(scenario, settings, network=opts.link is not LinkKind.MEMORY)
    bench = Bench(scenario)
    coupling = Coupling(bench, opts.stepping, on_step=on_step)
    records: list[SessionRecord] = []
    store = SessionStore()
    observers: list[Observer] = []
    writer: TraceWriter | None = None
    if opts.trace is not None:
        opts.trace.parent.mkdir(parents=True, exist_ok=True)
        opts.trace.write_text("", encoding="utf-8")  # a fresh trace per run (the writer appends)
        writer = TraceWriter(opts.trace)
        observers.append(writer)
    started = time.perf_counter()
    csms: CsmsReport | None = None
    try:
        async with contextlib.AsyncExitStack() as stack:
            evse: Callable[[Coupling], BenchEVSE] = opts.evse
            if opts.csms is not None:
                station = await stack.enter_async_context(sim_station(opts.csms, coupling))
                evse = station.evse(opts.evse)
                observers.append(station.backend.observer)
            wiring = await stack.enter_async_context(open_wiring(opts.link, opts.wiring, plan))
            description = wiring.description
            while not coupling.done:
                if coupling.session_due():
                    record = await run_session(
                        len(records) + 1,
                        wiring,
                        coupling,
                        secc_config=secc_config(scenario, plan),
                        evcc_config=evcc_config(scenario, plan),
                        store=store,
                        observers=observers,
                        evse=evse,
                    )
                    records.append(_checked(record, plan) if plan is not None else record)
                else:
                    await coupling.idle()
            if opts.csms is not None:
                await station.settle()
                csms = station.report()
    finally:
        if writer is not None:
            writer.close()
    wall_s = time.perf_counter() - started
    summary = dataclasses.replace(summarize(bench), protocol_sessions=tuple(r.outcome() for r in records))
    trace = bench.finish()
    if opts.plot is not None:
        plot(trace, opts.plot, title=plot_title(scenario, opts.link))
    return SimResult(
        scenario=scenario,
        link=opts.link,
        link_description=description,
        summary=summary,
        sessions=tuple(records),
        trace=trace,
        wall_s=wall_s,
        protocol_steps=coupling.protocol_steps,
        idle_steps=coupling.idle_steps,
        dc_steps=coupling.dc_steps,
        coarse_dt_s=coupling.coarse_dt_s,
        fine_dt_s=coupling.fine_dt_s,
        speed=opts.stepping.speed,
        no_session_reason=no_session_reason(scenario),
        plot=opts.plot,
        pcap=opts.wiring.pcap,
        trace_file=opts.trace,
        trace_lines=writer.lines if writer is not None else 0,
        csms=csms,
        protocols=plan,
    )


def simulate(
    scenario: Scenario,
    options: SimOptions | None = None,
    *,
    on_step: Callable[[Coupling], None] | None = None,
) -> SimResult:
    """:func:`run_simulation` in a fresh event loop (for the CLI and tests)."""
    return asyncio.run(run_simulation(scenario, options, on_step=on_step))
