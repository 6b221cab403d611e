"""The ISO 15118-2 sequence table: one table for AC and DC, EIM and Plug & Charge.

Theory of operation
-------------------
Common rows carry what every -2 session does: SupportedAppProtocol -> SessionSetup -> ServiceDiscovery ->
ServiceDetail (repeatable, value-added services) -> PaymentServiceSelection -> [Contract: CertificateInstallation
or CertificateUpdate, then PaymentDetails] -> Authorization (repeated while the SECC answers Ongoing) ->
ChargeParameterDiscovery (repeated while Ongoing). The AC rows (guard ``AC``) add PowerDelivery(Start) ->
ChargingStatus (the loop; MeteringReceipt when the charger asks for a receipt) -> PowerDelivery(Stop) ->
SessionStop; the DC rows (guard ``DC``) add CableCheck (repeated) -> PreCharge (repeated) ->
PowerDelivery(Start) -> CurrentDemand (the loop; MeteringReceipt) -> PowerDelivery(Stop) -> WeldingDetection
(repeated, optional) -> SessionStop. From the loop, PowerDelivery(Renegotiate) goes back to
ChargeParameterDiscovery and from there straight to PowerDelivery(Start): the contactors stayed closed, so DC
runs no second cable check or precharge.

The energy family is not fixed by the -2 namespace: the EV names its energy transfer mode in
ChargeParameterDiscoveryReq, and the profile learns the family once that exchange is Finished
(:mod:`iso15118.iso2.profile`). Until then the ``AC``/``DC`` guards read the request's RequestedEnergyTransferMode;
and since conditions see the selection as it was *before* the exchange, a DC ChargeParameterDiscovery whose
session had no family yet is the first one (on to the cable check), one with a family is a renegotiation.

SessionStop is admitted in every state after SessionSetup except the charge loop, which the EV leaves with
PowerDelivery(Stop) so that the contactors open first (an EV that gives up during set-up stops the standard way,
as in the DIN table). A request with no row in the current state is a sequence error: the SECC answers
FAILED_SequenceError and ends the session [V2G2-538]/[V2G2-539].
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

from iso15118.envelope.kinds import Kind
from iso15118.envelope.states import CONDITIONS, ENDED, GUARDS, State, body_of, field
from iso15118.iso2.modes import requested_family
from iso15118.session.profile import ALWAYS, Condition, Guard, Rule, Table, Transition
from iso15118.session.selection import EnergyFamily, Selection

__all__ = ["AC_ROWS", "COMMON_ROWS", "DC_ROWS", "GUARDS_ISO2", "TABLE"]

_S, _K = State, Kind
Rows = dict[tuple[StrEnum, StrEnum], tuple[Rule, ...]]

_SEQ: Final = "V2G2 8.8 message sequence"
_CABLE_CHECK_FINISHED: Final = "V2G2-584"
_CABLE_CHECK_ONGOING: Final = "V2G2-621"


def _go(target: StrEnum | None, condition: str = ALWAYS, requirement: str = _SEQ) -> Transition:
    return Transition(condition, target, requirement)


def _row(*after: Transition, guard: str = ALWAYS, requirement: str = _SEQ) -> tuple[Rule, ...]:
    return (Rule(requirement, after, guard),)


# ---- guards: the family the session runs (or, before ChargeParameterDiscovery settled it, the one asked) --------
def _runs(family: EnergyFamily, selection: Selection, request: Any) -> bool:
    if selection.family is not None:
        return selection.family is family
    asked = requested_family(body_of(request))
    return asked is None or asked is family


def _guard(family: EnergyFamily, refused: str | None = None) -> Guard:
    """The family's rows; with ``refused``, not for a PowerDeliveryReq with that ChargeProgress."""

    def guard(selection: Selection, request: Any) -> bool:
        if not _runs(family, selection, request):
            return False
        return refused is None or request is None or field(request, "charge_progress") != refused

    return guard


_F = EnergyFamily
GUARDS_ISO2: Final[dict[str, Guard]] = {
    **GUARDS,
    "AC": _guard(_F.AC),
    "DC": _guard(_F.DC),
    # Renegotiate only leaves a running loop; Start only begins one.
    "AC, not Renegotiate": _guard(_F.AC, "Renegotiate"),
    "DC, not Renegotiate": _guard(_F.DC, "Renegotiate"),
    "AC, not Start": _guard(_F.AC, "Start"),
    "DC, not Start": _guard(_F.DC, "Start"),
}
"""The envelope's guards, with ``AC``/``DC`` also holding for the family a ChargeParameterDiscoveryReq asks for
while the session has none yet."""


def _payment(option: str) -> Condition:
    return lambda s, q, r: field(q, "selected_payment_option") == option


_CONDITIONS: Final[dict[str, Condition]] = {
    **CONDITIONS,
    "Contract": _payment("Contract"),
    "Finished, first": lambda s, q, r: field(r, "evse_processing") == "Finished" and s.family is None,
}

# ---- rows ------------------------------------------------------------------------------------------------------
_STOPPABLE: Final = tuple(s for s in State if s not in (_S.WAIT_SESSION_SETUP, _S.CHARGE_LOOP))

COMMON_ROWS: Final[Rows] = {
    # A resumed session runs the same sequence; the SECC keeps what the paused one agreed [V2G2-741].
    (_S.WAIT_SESSION_SETUP, _K.SessionSetupReq): _row(_go(_S.WAIT_SERVICE_DISCOVERY)),
    (_S.WAIT_SERVICE_DISCOVERY, _K.ServiceDiscoveryReq): _row(_go(_S.WAIT_PAYMENT_SELECTION)),
    (_S.WAIT_PAYMENT_SELECTION, _K.ServiceDetailReq): _row(_go(None)),
    (_S.WAIT_PAYMENT_SELECTION, _K.PaymentServiceSelectionReq): _row(
        _go(_S.WAIT_PAYMENT_DETAILS, "Contract"), _go(_S.WAIT_AUTHORIZATION)
    ),
    # Plug & Charge: a contract certificate may be installed or updated before PaymentDetails.
    (_S.WAIT_PAYMENT_DETAILS, _K.CertificateInstallationReq): _row(_go(None)),
    (_S.WAIT_PAYMENT_DETAILS, _K.CertificateUpdateReq): _row(_go(None)),
    (_S.WAIT_PAYMENT_DETAILS, _K.PaymentDetailsReq): _row(_go(_S.WAIT_AUTHORIZATION)),
    (_S.WAIT_AUTHORIZATION, _K.AuthorizationReq): _row(_go(_S.WAIT_CHARGE_PARAMETER, "Finished"), _go(None)),
    # The loop's receipt, when the charger asked for one (the SECC's decision knows whether it did).
    (_S.CHARGE_LOOP, _K.MeteringReceiptReq): _row(_go(None)),
    **{(state, _K.SessionStopReq): _row(_go(ENDED)) for state in _STOPPABLE},
}

AC_ROWS: Final[Rows] = {
    (_S.WAIT_CHARGE_PARAMETER, _K.ChargeParameterDiscoveryReq): _row(
        _go(_S.WAIT_POWER_DELIVERY, "Finished"), _go(None), guard="AC"
    ),
    (_S.WAIT_POWER_DELIVERY, _K.PowerDeliveryReq): _row(
        _go(_S.CHARGE_LOOP, "start"), _go(_S.WAIT_SESSION_STOP), guard="AC, not Renegotiate"
    ),
    (_S.CHARGE_LOOP, _K.ChargingStatusReq): _row(_go(None), guard="AC"),
    (_S.CHARGE_LOOP, _K.PowerDeliveryReq): _row(
        _go(_S.WAIT_CHARGE_PARAMETER, "Renegotiate"), _go(_S.WAIT_SESSION_STOP), guard="AC, not Start"
    ),
}

DC_ROWS: Final[Rows] = {
    (_S.WAIT_CHARGE_PARAMETER, _K.ChargeParameterDiscoveryReq): _row(
        _go(_S.WAIT_CABLE_CHECK, "Finished, first"), _go(_S.WAIT_POWER_DELIVERY, "Finished"), _go(None), guard="DC"
    ),
    (_S.WAIT_CABLE_CHECK, _K.CableCheckReq): _row(
        _go(_S.WAIT_PRECHARGE, "Finished", _CABLE_CHECK_FINISHED),
        _go(None, requirement=_CABLE_CHECK_ONGOING),
        guard="DC",
    ),
    # PreCharge repeats until the EV is satisfied with the voltage; PowerDelivery(Start) closes the contactors.
    (_S.WAIT_PRECHARGE, _K.PreChargeReq): _row(_go(None), guard="DC"),
    (_S.WAIT_PRECHARGE, _K.PowerDeliveryReq): _row(
        _go(_S.CHARGE_LOOP, "start"), _go(_S.WAIT_WELDING), guard="DC, not Renegotiate"
    ),
    (_S.WAIT_POWER_DELIVERY, _K.PowerDeliveryReq): _row(
        _go(_S.CHARGE_LOOP, "start"), _go(_S.WAIT_WELDING), guard="DC, not Renegotiate"
    ),
    (_S.CHARGE_LOOP, _K.CurrentDemandReq): _row(_go(None), guard="DC"),
    (_S.CHARGE_LOOP, _K.PowerDeliveryReq): _row(
        _go(_S.WAIT_CHARGE_PARAMETER, "Renegotiate"), _go(_S.WAIT_WELDING), guard="DC, not Start"
    ),
    (_S.WAIT_WELDING, _K.WeldingDetectionReq): _row(_go(None), guard="DC"),
}


def merge(*parts: Rows) -> Rows:
    """Rows of several parts under one table: rows for the same (state, kind) are kept side by side."""
    merged: Rows = {}
    for part in parts:
        for key, rules in part.items():
            merged[key] = merged.get(key, ()) + rules
    return merged


TABLE: Final = Table(
    rows=merge(COMMON_ROWS, AC_ROWS, DC_ROWS), guards=GUARDS_ISO2, conditions=_CONDITIONS, side_needs_loop=False
)
"""The -2 table (both roles, every energy transfer mode)."""
