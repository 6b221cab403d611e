"""What a DIN 70121 SECC decision sees, and what the charger remembers between requests.

:class:`SeccContext` is the charger's memory of one session (frozen: a decision returns a new one); its ``dc``
field is the progress of the DC steps the shared decisions of :mod:`iso15118.envelope.dc.secc` keep.
:class:`SeccView` bundles it with the request's time and header, the configuration, the controller inputs
gathered so far and fresh randomness (the SessionID comes from a CSPRNG, so the runner hands the bytes in).
Decisions get the request's Body element and answer with a whole V2G_Message (:func:`respond`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Final

from iso15118.config import SeccConfig
from iso15118.decisions import Answer, Effect, Inputs, Need
from iso15118.din.profile import DIN
from iso15118.envelope.dc.secc import DcAnswer, DcGeneration, DcProgress
from iso15118.envelope.kinds import Kind

__all__ = ["DC", "Decision", "SeccContext", "SeccView", "fail", "respond", "with_dc"]

DC: Final = DcGeneration(envelope=DIN.envelope, stop_by_notification=False)
"""DIN 70121 for the shared DC decisions: its charger stops the loop with EVSE_Shutdown [V2G-DC-500]."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SeccContext:
    """What this SECC remembers about the session it serves."""

    evcc_id: str = ""
    """The EVCCID (hex: DIN's EVCCID is the EV's MAC address)."""
    service_id: int | None = None
    payment: str | None = None
    """The payment option selected (DIN: ExternalPayment only)."""
    authorized: bool = False
    energy_transfer: str | None = None
    """The EVRequestedEnergyTransferType of ChargeParameterDiscoveryReq."""
    dc: DcProgress = field(default_factory=DcProgress)
    refusal: str | None = None
    """Why the EV did not get energy, when a decision refused it (reported in the outcome)."""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SeccView:
    """Everything a DIN SECC decision may read."""

    now: float
    header: Any
    """The response's MessageHeader (the session's SessionID)."""
    ctx: SeccContext
    config: SeccConfig
    session_id: bytes
    evse_id: bytes
    """DIN's EVSEID (hexBinary), from the configuration."""
    inputs: Inputs = field(default_factory=Inputs)
    entropy: bytes = bytes(32)
    stopping: bool = False
    """The operator asked the charger to stop: the next CurrentDemandRes says EVSE_Shutdown."""


Decision = Answer[SeccContext] | Need


def respond(v: SeccView, element: Any, ctx: SeccContext, *effects: Effect) -> Answer[SeccContext]:
    """The answer carrying ``element`` in a V2G_Message with the view's header."""
    return Answer(DIN.envelope.wrap(v.header, element), ctx, tuple(effects))


def fail(v: SeccView, request: Kind, code: str, why: str, **fields: Any) -> Answer[SeccContext]:
    """The FAILED answer to a request of kind ``request`` (``fields`` set, every other mandatory element minimal);
    the session ends after it and the outcome says why."""
    ctx = replace(v.ctx, refusal=v.ctx.refusal or f"{code}: {why}")
    return respond(v, DIN.envelope.failed(request, code, **fields), ctx)


def with_dc(v: SeccView, decided: DcAnswer | Need) -> Decision:
    """A shared DC decision's result as this generation's answer."""
    if isinstance(decided, Need):
        return decided
    ctx = replace(v.ctx, dc=decided.progress, refusal=v.ctx.refusal or decided.refusal)
    return respond(v, decided.element, ctx)
