"""What an ISO 15118-2 EVCC decision sees, and what the EV remembers between responses.

The EVCC's logic is two tables of pure functions: after a response of a kind, :data:`~iso15118.iso2.evcc.NEXT`
decides what comes next (a :class:`~iso15118.decisions.Step`: the new context and which request to send when);
when a request is due, :data:`~iso15118.iso2.evcc.BUILD` builds it -- a whole ``V2G_Message`` -- from the EV's
state at that moment. The sequence table of the session core checks every request before it leaves.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from iso15118.config import EvccConfig
from iso15118.controller import EVState
from iso15118.decisions import Send, Step
from iso15118.envelope.dc.evcc import DcNext, EvDcProgress
from iso15118.envelope.kinds import Kind
from iso15118.iso2.profile import ISO2
from iso15118.messages.generated import iso2 as m
from iso15118.security.credentials import ContractCredentials
from iso15118.session.selection import EnergyFamily, Selection

__all__ = ["EvccContext", "EvccView", "family", "from_dc", "now_send", "stop_step", "wrap"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EvccContext:
    """What the EV remembers about its -2 session."""

    payment: str = "ExternalPayment"
    contract: ContractCredentials | None = None
    """Contract payment: the contract this session signs with (configured, installed or updated)."""
    certificate_action: str | None = None
    """Contract payment: ``Installation`` or ``Update`` of the contract before PaymentDetails (Table 105)."""
    gen_challenge: bytes | None = None
    """The GenChallenge of PaymentDetailsRes, returned in the signed AuthorizationReq."""
    authorization_sent: bool = False
    """The signed AuthorizationReq went out: repeats while Ongoing go without challenge and signature."""
    installed: str | None = None
    """The eMAID of a contract installed or updated in this session."""
    energy_mode: str | None = None
    """The RequestedEnergyTransferMode chosen from what the charger offers."""
    phases: int = 1
    nominal_voltage_v: float = 230.0
    """The charger's EVSENominalVoltage (230 V until ChargeParameterDiscoveryRes says)."""
    details: tuple[int, ...] = ()
    """Value-added services whose details are still to be asked."""
    schedule_tuple_id: int | None = None
    pmax_w: float | None = None
    """PMax of the selected SAScheduleTuple's first entry."""
    progress: str = "Start"
    """The ChargeProgress of the next PowerDeliveryReq."""
    stopping: str | None = None
    """Set once the EV decided to stop: the SessionStop to send after PowerDelivery(Stop)."""
    renegotiating: bool = False
    """PowerDelivery(Renegotiate) was answered: the next Finished ChargeParameterDiscovery leads straight to
    PowerDelivery(Start) (DC: no second cable check or precharge, the contactors stayed closed)."""
    dc: EvDcProgress = field(default_factory=EvDcProgress)
    """DC: the progress the shared DC decisions keep (the charger's limits, precharge, loops, welding)."""
    loops: int = 0
    renegotiations: int = 0
    receipts: int = 0
    last_meter_info: Any = None
    """The charger's last MeterInfo (a MeteringReceiptReq returns it)."""
    meter: tuple[dict[str, Any], ...] = ()
    notifications: tuple[str, ...] = ()
    target_w: float | None = None
    resumed: bool = False
    substitutions: tuple[str, ...] = ()
    failure: str | None = None
    notes: tuple[str, ...] = ()


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
    response: Any = None
    """The whole response message being handled (its header signature: CertificateInstallationRes/UpdateRes)."""


def wrap(v: EvccView, element: Any, header: Any = None) -> Any:
    """A request element in a V2G_Message with the session's header (or ``header``)."""
    return ISO2.envelope.wrap(header or v.header, element)


def now_send(kind: Kind) -> Send:
    """Send a request of ``kind`` at once."""
    return Send(kind)


def family(v: EvccView) -> EnergyFamily:
    """The family of the mode the EV asks for (the config's until a mode is chosen)."""
    if v.ctx.energy_mode is not None:
        return EnergyFamily.DC if v.ctx.energy_mode.startswith("DC") else EnergyFamily.AC
    return v.config.energy


def stop_step(v: EvccView, why: str, *, in_loop: bool = False) -> Step[EvccContext]:
    """The EV stops because it cannot go on as asked: the outcome records why, and the session ends the
    standard's way (PowerDelivery(Stop) then SessionStop from the loop, SessionStop before it)."""
    ctx = replace(v.ctx, failure=v.ctx.failure or why, stopping="Terminate", progress="Stop")
    first = Kind.PowerDeliveryReq if in_loop else Kind.SessionStopReq
    return Step(ctx, sends=(now_send(first),), stop=why)


def from_dc(v: EvccView, decided: DcNext, ctx: EvccContext | None = None) -> Step[EvccContext]:
    """A shared DC decision's result as this generation's step: a PowerDeliveryReq it asks for starts or stops
    by its ``want_power``, and an EV that gives up terminates and says why."""
    ctx = replace(ctx or v.ctx, dc=decided.progress)
    if decided.send is not None and decided.send.kind is Kind.PowerDeliveryReq:
        ctx = replace(ctx, progress="Start" if decided.progress.want_power else "Stop")
    if decided.stop is not None:
        ctx = replace(ctx, failure=ctx.failure or decided.stop, stopping="Terminate")
    sends = () if decided.send is None else (decided.send,)
    return Step(ctx, sends=sends, effects=decided.effects, stop=decided.stop)
