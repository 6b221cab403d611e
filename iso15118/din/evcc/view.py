"""What a DIN 70121 EVCC decision sees, and what the EV remembers between responses.

The EVCC's logic is tables of pure functions (:mod:`iso15118.din.evcc`): after a response,
:data:`~iso15118.din.evcc.NEXT` decides what comes next; when a request is due,
:data:`~iso15118.din.evcc.BUILD` builds it from the EV's state at that moment. :class:`EvccContext` keeps the EV's
memory; its ``dc`` field is the progress the shared DC decisions of :mod:`iso15118.envelope.dc.evcc` keep.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from iso15118.config import EvccConfig
from iso15118.controller import EVState
from iso15118.decisions import Send, Step
from iso15118.envelope.dc.evcc import DcNext, EvDcProgress
from iso15118.envelope.kinds import Kind
from iso15118.session.selection import Selection

__all__ = ["EvccContext", "EvccView", "from_dc", "now_send", "stop_step"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EvccContext:
    """What the EV remembers about its DIN session."""

    service_id: int | None = None
    energy_transfer: str | None = None
    """The EVRequestedEnergyTransferType the EV asks for (from what the charger offers)."""
    authorized: bool = False
    """ContractAuthentication finished (external payment)."""
    dc: EvDcProgress = field(default_factory=EvDcProgress)
    stopping: bool = False
    """The EV decided to end the session."""
    substitutions: tuple[str, ...] = ()
    """What the SECC gave instead of what was asked (only with accept_fallback)."""
    failure: str | None = None
    """Why the session did not do what was asked (the run exits non-zero)."""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class EvccView:
    """Everything a DIN EVCC decision may read."""

    now: float
    ctx: EvccContext
    config: EvccConfig
    ev: EVState
    header: Any
    session_id: bytes
    selection: Selection


def now_send(kind: Kind) -> Send:
    """Send a request of ``kind`` at once."""
    return Send(kind)


def stop_step(v: EvccView, why: str) -> Step[EvccContext]:
    """The EV gives up before the charge loop: SessionStop, and the outcome says why."""
    ctx = replace(v.ctx, failure=v.ctx.failure or why, stopping=True)
    return Step(ctx, sends=(now_send(Kind.SessionStopReq),), stop=why)


def from_dc(v: EvccView, decided: DcNext) -> Step[EvccContext]:
    """A shared DC decision's result as this generation's step."""
    ctx = replace(v.ctx, dc=decided.progress)
    if decided.stop is not None:
        ctx = replace(ctx, failure=ctx.failure or decided.stop, stopping=True)
    sends = () if decided.send is None else (decided.send,)
    return Step(ctx, sends=sends, effects=decided.effects, stop=decided.stop)
