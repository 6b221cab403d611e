"""One protocol session between the virtual devices, and the record of how it went.

Owns :func:`run_session` (connect through a :class:`~harness.virtual.links.Wiring`, serve the SECC and run the
EVCC until the session ends, tear down) and :class:`SessionRecord`. Each session is judged against what the
simulation expects of it:

* the scenario ended while it ran: the truck stops with PowerDelivery(Stop) and SessionStop(Terminate) and
  both sides report ``terminated`` (on DC the truck leaves the loop early enough for the welding detection);
* on a DC charger with ``leave_at_charge_limit``: the truck reached its charge limit and the driver ended the
  session the same regular way;
* the wall connector lost power: it stopped answering, the truck's message timeout ended the session
  (EVCC ``timeout``), and the SECC never finished (it was torn down, as a box without power is);
* the wall connector was fed from the truck's own outlet: it offered 0 W, and the SECC answered
  AC_ChargeParameterDiscoveryReq with ``FAILED_WrongChargeParameter`` (EVCC ``failed_response_received``,
  SECC ``failed_response_sent``);
* the DC charger's insulation test found a fault: the SECC answered DC_CableCheckReq with ``FAILED`` and no
  energy flowed.

Anything else (a set-up failure, a protocol error, an unexpected end) is recorded as not ok with its reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Protocol

from harness.bench import SessionOutcome as BenchSessionOutcome
from harness.virtual.coupling import Coupling
from harness.virtual.dcevse import VirtualDCCharger
from harness.virtual.ev import VirtualCybertruck
from harness.virtual.evse import VirtualWallConnector
from harness.virtual.links import Wiring
from harness.virtual.recorddicts import end_dict, negotiation_dict, sdp_dict, slac_dict, tls_dict
from iso15118.config import EvccConfig, SeccConfig
from iso15118.controller import EVSEController
from iso15118.errors import V2GError
from iso15118.iso20.services import AC, AC_BPT, DC, DC_BPT
from iso15118.security.tls import HandshakeInfo
from iso15118.session.events import EndReason, Event, PerformanceTimeExceeded, SessionEnded
from iso15118.transport.driver import Observer, SessionOutcome
from iso15118.transport.generations import STANDARD_NAMES, Standard, standard_of
from iso15118.transport.runner import run_evcc_session, serve_secc_session
from iso15118.transport.slac_link import SlacResult
from iso15118.transport.store import SessionStore
from iso15118.transport.udp import SdpResult

__all__ = ["BenchEVSE", "SessionRecord", "default_evse", "run_session"]

_SECC_FINISH_S: Final = 10.0  # the SECC closes within 5 s after SessionStopRes [V2G20-1633]; then we stop waiting
_SERVICES: Final = {AC: "AC", AC_BPT: "AC_BPT", DC: "DC", DC_BPT: "DC_BPT"}


class BenchEVSE(EVSEController, Protocol):
    """The SECC's controller on the bench (the wall connector or the DC charger), with what the verdict reads:
    why it refused to deliver energy, if it did (and the response code that refusal sends), and when it lost
    power, if it did."""

    refusal: str | None
    refusal_code: ClassVar[str]
    lost_power_at: float | None
    setpoints: int


def default_evse(coupling: Coupling) -> BenchEVSE:
    """The charger the scenario plugs the truck into: its DC charger, else the wall connector."""
    if coupling.bench.dc_charger is not None:
        return VirtualDCCharger(coupling)
    return VirtualWallConnector(coupling)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionRecord:
    """One session: when (simulated time), over what, how each side ended, and whether that was expected."""

    index: int
    started_s: float
    ended_s: float
    link: str
    setup_real_s: float
    real_s: float
    evcc: SessionOutcome | None
    secc: SessionOutcome | None
    expected: str
    """What ended the session, as the simulation sees it."""
    ok: bool
    """The session ended the way the simulation expects (see the module docstring)."""
    error: str | None = None
    setpoints: int = 0
    meter_charged_wh: int | None = None
    meter_discharged_wh: int | None = None
    overruns: int = 0
    """Performance times of the standard exceeded on either side (reported by the core; not fatal)."""
    tls: HandshakeInfo | None = None
    """The truck's view of the TLS handshake (the wall connector's certificate)."""
    secc_tls: HandshakeInfo | None = None
    """The wall connector's view of the handshake (the vehicle certificate)."""
    slac: SlacResult | None = None
    sdp: SdpResult | None = None

    @property
    def protocol(self) -> str:
        """The generation that ran (``ISO 15118-20``, ``ISO 15118-2``, ``DIN 70121``), or ``-``."""
        negotiated = self.evcc.negotiated if self.evcc is not None else {}
        standard = standard_of(negotiated.get("protocol", ""))
        return STANDARD_NAMES[standard] if standard is not None else "-"

    @property
    def service(self) -> str:
        """What the two sides agreed on: the -20 energy service and control mode (``AC_BPT dynamic``), the -2 or
        DIN energy transfer mode (``AC_single_phase_core``, ``DC_extended``), or ``-``."""
        negotiated = self.evcc.negotiated if self.evcc is not None else {}
        namespace = negotiated.get("protocol")
        if namespace is not None and standard_of(namespace) is not Standard.ISO20:
            # -2 and DIN have one charge service; the energy transfer mode says AC or DC.
            mode = negotiated.get("energy_transfer_mode") or negotiated.get("energy_transfer")
            return str(mode or negotiated.get("energy_mode") or "-")
        service = _SERVICES.get(negotiated.get("service_id", 0))
        if service is None:
            return "-"
        return f"{service} {negotiated.get('control_mode', '')}".rstrip()

    @property
    def loops(self) -> int:
        """Charge-loop exchanges the truck completed."""
        return self.evcc.loops if self.evcc is not None else 0

    def ends(self) -> str:
        """How each side ended (``EVCC terminated, SECC terminated``)."""
        parts = []
        for role, outcome in (("EVCC", self.evcc), ("SECC", self.secc)):
            if outcome is None:
                parts.append(f"{role} -")
                continue
            code = f" {outcome.ended.response_code}" if outcome.ended.response_code else ""
            parts.append(f"{role} {outcome.ended.reason}{code}")
        return ", ".join(parts)

    def outcome(self) -> BenchSessionOutcome:
        """The line the bench summary prints for this session."""
        hours = f"{self.started_s / 3600.0:.2f} h-{self.ended_s / 3600.0:.2f} h"
        detail = [f"{self.expected} ({self.ends()})", f"{self.loops} loop" + ("" if self.loops == 1 else "s")]
        if self.meter_charged_wh is not None:
            out_wh = self.meter_discharged_wh or 0
            detail.append(f"meter {self.meter_charged_wh / 1000:.2f} kWh in / {out_wh / 1000:.2f} kWh out")
        if self.overruns:
            detail.append(f"{self.overruns} performance time(s) exceeded")
        if self.error:
            detail.append(f"error: {self.error}")
        label = f"#{self.index} {self.protocol} {self.service} {hours}"
        return BenchSessionOutcome(label=label, ok=self.ok, detail="; ".join(detail))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "index": self.index,
            "started_s": self.started_s,
            "ended_s": self.ended_s,
            "protocol": self.evcc.negotiated.get("protocol") if self.evcc is not None else None,
            "protocol_name": self.protocol,
            "service": self.service,
            "negotiation": negotiation_dict(self.evcc),
            "link": self.link,
            "setup_real_s": self.setup_real_s,
            "real_s": self.real_s,
            "loops": self.loops,
            "setpoints": self.setpoints,
            "performance_overruns": self.overruns,
            "evcc_end": end_dict(self.evcc),
            "secc_end": end_dict(self.secc),
            "negotiated": dict(self.evcc.negotiated) if self.evcc is not None else {},
            "meter_charged_wh": self.meter_charged_wh,
            "meter_discharged_wh": self.meter_discharged_wh,
            "tls": tls_dict(self.tls),
            "vehicle_certificate": self.secc_tls.peer_subject if self.secc_tls is not None else None,
            "slac": slac_dict(self.slac),
            "sdp": sdp_dict(self.sdp),
            "expected": self.expected,
            "ok": self.ok,
            "error": self.error,
        }


def _judge(
    evcc: SessionOutcome | None,
    secc: SessionOutcome | None,
    wall: BenchEVSE,
    truck: VirtualCybertruck,
    coupling: Coupling,
) -> tuple[str, bool]:
    ev_end = evcc.ended if evcc is not None else None
    secc_end = secc.ended if secc is not None else None
    regular = (
        ev_end is not None
        and ev_end.reason is EndReason.TERMINATED
        and secc_end is not None
        and secc_end.reason is EndReason.TERMINATED
    )
    if wall.refusal is not None:
        ok = (
            ev_end is not None
            and ev_end.reason is EndReason.FAILED_RECEIVED
            and ev_end.response_code == wall.refusal_code
            and secc_end is not None
            and secc_end.reason is EndReason.FAILED_SENT
        )
        return f"refused by the charger ({wall.refusal})", ok
    if wall.lost_power_at is not None:
        ok = ev_end is not None and ev_end.reason is EndReason.TIMEOUT and secc is None
        return f"wall connector lost power at {wall.lost_power_at / 3600.0:.2f} h; the truck timed out", ok
    if truck.left_at is not None:
        return f"charge limit reached at {truck.left_at / 3600.0:.2f} h: the driver unplugged", regular
    if coupling.loop_over:
        return "unplugged at the end of the scenario", regular
    reason = f"{ev_end.reason}: {ev_end.detail}" if ev_end is not None else "no end reported"
    return f"ended unexpectedly ({reason})", False


class _Watch:
    """Observer on both sides: counts performance-time overruns, and tears a connector without power down.

    Once the truck gives up on a silent connector, its side is cancelled; without that, the truck's TLS close
    would wait for a close_notify the connector never sends.
    """

    def __init__(self, wall: BenchEVSE) -> None:
        self._wall = wall
        self.secc_task: asyncio.Task[SessionOutcome] | None = None
        self.overruns = 0

    async def observe(self, event: Event, *, role: str, peer: str) -> None:
        if isinstance(event, PerformanceTimeExceeded):
            self.overruns += 1
        elif isinstance(event, SessionEnded) and role == "evcc" and self._wall.lost_power_at is not None:
            task = self.secc_task
            if task is not None:
                task.cancel()


async def _finish_secc(
    task: asyncio.Task[SessionOutcome], *, powered: bool
) -> tuple[SessionOutcome | None, str | None]:
    """The SECC's outcome and any error; a connector without power is torn down instead (it never answers)."""
    error: str | None = None
    if powered:
        done, _ = await asyncio.wait({task}, timeout=_SECC_FINISH_S)
        if done:
            try:
                return task.result(), None
            except Exception as exc:  # recorded on the session, which is then not ok
                return None, f"SECC: {type(exc).__name__}: {exc}"
        error = f"the SECC did not finish within {_SECC_FINISH_S:g} s"
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, V2GError, OSError, ValueError):
        await task
    return None, error


async def run_session(
    index: int,
    wiring: Wiring,
    coupling: Coupling,
    *,
    secc_config: SeccConfig,
    evcc_config: EvccConfig,
    store: SessionStore,
    observers: Sequence[Observer] = (),
    evse: Callable[[Coupling], BenchEVSE] = default_evse,
) -> SessionRecord:
    """Run one session between a fresh :class:`VirtualCybertruck` and a fresh charger (``evse``: the wall
    connector or the DC charger of the scenario, or a faulty one a test injects)."""
    coupling.session_started()
    truck = VirtualCybertruck(coupling)
    wall = evse(coupling)
    started_s, real_start = coupling.now, time.perf_counter()

    def record(**fields: Any) -> SessionRecord:
        return SessionRecord(
            index=index,
            started_s=started_s,
            ended_s=coupling.now,
            real_s=time.perf_counter() - real_start,
            setpoints=wall.setpoints,
            **fields,
        )

    try:
        setup = await wiring.connect()
    except (V2GError, OSError) as exc:
        return record(
            link=wiring.description,
            setup_real_s=0.0,
            evcc=None,
            secc=None,
            expected="the link could not be set up",
            ok=False,
            error=str(exc),
        )
    watch = _Watch(wall)
    secc_task = asyncio.create_task(
        serve_secc_session(
            setup.secc,
            wall,
            secc_config,
            store=store,
            clock=time.time,
            observers=[*observers, watch],
            terms=setup.secc_terms,
        )
    )
    watch.secc_task = secc_task
    evcc: SessionOutcome | None = None
    error: str | None = None
    try:
        evcc = await run_evcc_session(
            setup.evcc,
            truck,
            evcc_config,
            clock=time.time,
            observers=[*observers, watch],
            terms=setup.evcc_terms,
            earlier=setup.fallbacks,
        )
    except Exception as exc:  # recorded on the session, which is then not ok
        error = f"EVCC: {type(exc).__name__}: {exc}"
    finally:
        secc, secc_error = await _finish_secc(secc_task, powered=wall.lost_power_at is None)
        await setup.evcc.close()
        await setup.secc.close()
    error = error or secc_error
    expected, ok = _judge(evcc, secc, wall, truck, coupling)
    readings = evcc.meter_readings if evcc is not None else ()
    return record(
        link=setup.describe(),
        setup_real_s=setup.setup_s,
        evcc=evcc,
        secc=secc,
        expected=expected,
        ok=ok and error is None,
        error=error,
        meter_charged_wh=readings[-1]["charged_wh"] if readings else None,
        meter_discharged_wh=readings[-1]["discharged_wh"] if readings else None,
        overruns=watch.overruns,
        tls=setup.tls,
        secc_tls=setup.secc_tls,
        slac=setup.slac,
        sdp=setup.sdp,
    )
