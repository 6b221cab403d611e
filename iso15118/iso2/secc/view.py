"""What an ISO 15118-2 SECC decision sees, and what it remembers between requests.

:class:`SeccContext` is the SECC's memory of one session (frozen: a decision returns a new one);
:class:`SeccView` bundles it with the request (the whole ``V2G_Message``, so a FAILED answer can be built from
it), the time and header, the configuration, the session's selection, the controller inputs gathered so far, the
peer's TLS identity and fresh randomness (the SessionID comes from a CSPRNG, so the runner hands the bytes in and
decisions stay deterministic). Decisions see the request's Body element; :func:`answer` wraps their response
element in a ``V2G_Message`` with the session's header.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Final

from iso15118.config import SeccConfig
from iso15118.controller import MeterReading
from iso15118.decisions import Answer, Effect, Inputs, Need, PeerIdentity
from iso15118.envelope.dc.secc import DcAnswer, DcGeneration, DcProgress
from iso15118.envelope.dc.secc import evse_status as dc_evse_status
from iso15118.iso2.pnc import Iso2Pnc
from iso15118.iso2.profile import ISO2
from iso15118.messages.generated import iso2 as m
from iso15118.session.selection import EnergyFamily, Selection

__all__ = [
    "DC",
    "ENTROPY_BYTES",
    "Decision",
    "SeccContext",
    "SeccView",
    "ac_status",
    "answer",
    "evse_status",
    "fail",
    "metered",
    "noted",
    "with_dc",
]

ENTROPY_BYTES: Final = 32
"""Random bytes the runner hands to every decision (8 for a SessionID)."""

DC: Final = DcGeneration(envelope=ISO2.envelope, stop_by_notification=True)
"""ISO 15118-2 for the shared DC decisions: its charger asks the EV to stop with EVSENotification StopCharging."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SeccContext:
    """What this SECC remembers about the session it serves."""

    evcc_id: str = ""
    """The EV's EVCCID (its MAC address) as upper-case hex."""
    offered_modes: tuple[str, ...] = ()
    """The energy transfer modes ServiceDiscoveryRes offered."""
    offered_payment: tuple[str, ...] = ()
    offered_services: tuple[int, ...] = ()
    """The value-added services ServiceDiscoveryRes listed (2: the Certificate service)."""
    payment: str | None = None
    """The payment option selected: ``ExternalPayment`` (EIM) or ``Contract`` (PnC)."""
    certificate_service: int | None = None
    """The Certificate service's parameter set the EV selected: 1 installation, 2 update (Table 105)."""
    emaid: str | None = None
    """PnC: the eMAID of the contract PaymentDetailsReq presented (verified)."""
    contract_chain: tuple[bytes, ...] = ()
    """PnC: the verified contract chain (DER, leaf first) that signs AuthorizationReq and MeteringReceiptReq."""
    gen_challenge: bytes | None = None
    """PnC: the GenChallenge PaymentDetailsRes sent; the signed AuthorizationReq must return it."""
    contract_verified: bool = False
    """PnC: the signed AuthorizationReq verified (repeats while Ongoing come unsigned)."""
    authorized: bool = False
    energy_mode: str | None = None
    """The EV's RequestedEnergyTransferMode."""
    phases: int = 1
    nominal_voltage_v: float = 230.0
    schedule_ids: tuple[int, ...] = ()
    """SAScheduleTupleIDs offered in ChargeParameterDiscoveryRes."""
    schedule_tuple_id: int | None = None
    """The SAScheduleTuple the EV selected in PowerDeliveryReq(Start)."""
    pmax_w: float = 0.0
    """The PMax of the offered schedule."""
    ev_max_w: float = 0.0
    """The EV's maximum power from its charge parameters (its maximum current at the nominal voltage)."""
    granted_w: float = 0.0
    """The power the EV may draw now: the charger reports no measurement in -2's ChargingStatusReq, so this is
    what the controller is told flows (the lower of the EV's maximum and the charger's last limit)."""
    dc: DcProgress = field(default_factory=DcProgress)
    """DC: the progress of the steps the shared DC decisions keep (insulation result, precharge, contactors)."""
    receipt_asked: bool = False
    """The last charge-loop response set ReceiptRequired: a MeteringReceiptReq may follow."""
    meter_info: Any = None
    """The MeterInfo of the last charge-loop response (a MeteringReceiptReq must return it)."""
    loops: int = 0
    renegotiations: int = 0
    meter: tuple[dict[str, Any], ...] = ()
    resumed: bool = False
    refusal: str | None = None
    """Why the EV did not get energy, when a decision refused it (reported in the outcome)."""
    notes: tuple[str, ...] = field(default=())

    @property
    def authorization(self) -> str | None:
        """EIM or PnC, by the payment option."""
        if self.payment is None:
            return None
        return "PnC" if self.payment == "Contract" else "EIM"


@dataclass(frozen=True, slots=True, kw_only=True)
class SeccView:
    """Everything a decision may read (see the module docstring)."""

    now: float
    request: Any
    """The request as received (a ``V2G_Message``)."""
    header: m.MessageHeader
    ctx: SeccContext
    config: SeccConfig
    selection: Selection
    session_id: bytes
    inputs: Inputs = field(default_factory=Inputs)
    peer: PeerIdentity | None = None
    pnc: Iso2Pnc | None = None
    """Plug & Charge checks (contract roots, certificate provider); None: Contract is not offered."""
    entropy: bytes = bytes(ENTROPY_BYTES)
    dc_capable: bool = False
    """The controller drives a DC output (DC modes may be offered)."""
    stopping: bool = False
    """The operator asked the charger to stop: the next loop response notifies StopCharging at once."""


Decision = Answer[SeccContext] | Need


def answer(element: Any, v: SeccView, ctx: SeccContext, *effects: Effect, header: Any = None) -> Answer[SeccContext]:
    """The response ``element`` in a V2G_Message with the session's header (or ``header``), and its effects."""
    return Answer(ISO2.envelope.wrap(header or v.header, element), ctx, tuple(effects))


def fail(code: m.ResponseCode, v: SeccView, why: str | None = None) -> Answer[SeccContext]:
    """The FAILED response to the request with only its mandatory elements; the session ends once it is sent."""
    kind = ISO2.kind_of(v.request)
    assert kind is not None, "decisions only see -2 requests"
    response = ISO2.failure(v.request, kind, str(code), v.header)
    ctx = v.ctx if why is None else replace(v.ctx, refusal=v.ctx.refusal or f"{code}: {why}")
    return Answer(response, ctx)


def ac_status(notification: m.EVSENotification = m.EVSENotification.None_, delay: int = 0) -> Any:
    """The AC_EVSEStatus of a response (RCD: no fault; the controller reports none)."""
    return m.AC_EVSEStatus(notification_max_delay=delay, evse_notification=notification, rcd=False)


def evse_status(v: SeccView) -> dict[str, Any]:
    """The EVSEStatus choice of a response, by the session's family: AC_EVSEStatus or DC_EVSEStatus."""
    if v.selection.family is EnergyFamily.DC:
        return {"dc_evse_status": dc_evse_status(DC, v.ctx.dc)}
    return {"ac_evse_status": ac_status()}


def with_dc(v: SeccView, decided: DcAnswer | Need) -> Decision:
    """A shared DC decision's result as this generation's answer."""
    if isinstance(decided, Need):
        return decided
    ctx = replace(v.ctx, dc=decided.progress, refusal=v.ctx.refusal or decided.refusal)
    return answer(decided.element, v, ctx)


def noted(ctx: SeccContext, text: str) -> SeccContext:
    """The context with one more note for the summary."""
    return replace(ctx, notes=(*ctx.notes, text))


def metered(ctx: SeccContext, reading: MeterReading, now: float) -> SeccContext:
    """The context with one more meter reading remembered."""
    record = {"at": now, "charged_wh": reading.charged_wh, "discharged_wh": reading.discharged_wh}
    return replace(ctx, meter=(*ctx.meter, record))
