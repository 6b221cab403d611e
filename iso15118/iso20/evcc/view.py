"""What an ISO 15118-20 EVCC decision sees, and what the EV remembers between responses.

The EVCC's logic is two tables of pure functions: after a response of a kind, :data:`~iso15118.iso20.evcc.NEXT`
decides what comes next (a :class:`~iso15118.decisions.Step`: the new context, which request to send on which
stream and when); when a request is due, :data:`~iso15118.iso20.evcc.BUILD` builds it from the EV's state at
that moment. The sequence table of the session core checks every request before it leaves.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from iso15118.config import EvccConfig
from iso15118.controller import EVState
from iso15118.decisions import Send, Step
from iso15118.iso20.kinds import Kind
from iso15118.iso20.schedules import Interval
from iso15118.messages import iso20 as m
from iso15118.session.profile import Stream
from iso15118.session.selection import EnergyFamily, Selection

__all__ = ["EvccContext", "EvccView", "charge_parameter_kind", "is_dc", "now_send", "stop_step"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EvccContext:
    """What the EV remembers about its session."""

    service_id: int | None = None
    parameter_set: int | None = None
    dynamic: bool = True
    authorization: str = "EIM"
    gen_challenge: bytes | None = None
    offered: tuple[int, ...] = ()
    schedule_tuple_id: int | None = None
    schedule: tuple[Interval, ...] = ()
    """Scheduled mode: the selected ScheduleTuple's entries in time (charging >= 0, discharging <= 0)."""
    loops: int = 0
    stopping: str | None = None
    """Set once the EV decided to stop: the SessionStop kind to send after PowerDelivery(Stop)."""
    precharged: bool = False
    """DC: the last DC_PreChargeReq said EVProcessing Finished."""
    precharge_since: float | None = None
    """DC: when the first DC_PreChargeRes arrived (the precharge timeout runs from there)."""
    welding: int = 0
    """DC: welding detection requests sent."""
    renegotiated: bool = False
    service_renegotiations: int = 0
    refusals: int = 0
    confirmed: bool = False
    meter: tuple[dict[str, Any], ...] = ()
    notifications: tuple[str, ...] = ()
    target_w: float | None = None
    evse_voltage_v: float | None = None
    """DC: the charger's last reported output voltage."""
    bpt_channel: str | None = None
    resumed: bool = False
    substitutions: tuple[str, ...] = ()
    """What the SECC gave instead of what was asked (only with accept_fallback)."""
    failure: str | None = None
    """Why the session did not do what was asked (the run exits non-zero)."""
    side_streams: tuple[str, ...] = ()
    """Side-stream exchanges, as ``stream:kind:code``."""
    notes: tuple[str, ...] = ()
    """Things worth a line in the summary (a charger that never passed welding detection...)."""
    offered_authorization: tuple[str, ...] = ()
    """What AuthorizationSetupRes offered (the choice waits while a certificate is installed)."""
    pnc_offered: bool = False
    installation: Any = None
    """The signed CertificateInstallationReq sent: repeated as it is while the SECC answers Ongoing."""
    contract: Any = None
    """ContractCredentials installed in this session (used for PnC instead of the configured ones)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EvccView:
    """Everything an EVCC decision may read."""

    now: float
    ctx: EvccContext
    config: EvccConfig
    ev: EVState
    header: m.MessageHeader
    session_id: bytes
    selection: Selection


def now_send(kind: Kind, stream: Stream = Stream.MAIN) -> Send:
    """Send a request of ``kind`` at once."""
    return Send(kind, stream)


def stop_step(v: EvccView, why: str, *, in_loop: bool = False) -> Step[EvccContext]:
    """The EV stops because it cannot go on as asked: the outcome records why, and the session ends the
    standard's way (PowerDelivery(Stop) then SessionStop from the loop [V2G20-1610]; SessionStop before it
    [V2G20-2645])."""
    ctx = replace(v.ctx, failure=v.ctx.failure or why, stopping="Terminate")
    first = Kind.PowerDeliveryReq if in_loop else Kind.SessionStopReq
    return Step(ctx, sends=(now_send(first),), stop=why)


def is_dc(v: EvccView) -> bool:
    """The session runs a DC energy mode."""
    return v.selection.family is EnergyFamily.DC


def charge_parameter_kind(v: EvccView) -> Kind:
    """AC_ or DC_ChargeParameterDiscoveryReq, by the session's family."""
    return Kind.DC_ChargeParameterDiscoveryReq if is_dc(v) else Kind.AC_ChargeParameterDiscoveryReq
