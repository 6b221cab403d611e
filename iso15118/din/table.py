"""The DIN 70121 sequence table (DC only, EIM or external payment, no TLS).

Theory of operation
-------------------
The sequence real chargers run (field-quirks.md, from pyPLC's logs of ABB, Alpitronic, Compleo, Efacec, Ionity,
Kempower, Siemens and Tesla): SupportedAppProtocol -> SessionSetup -> ServiceDiscovery -> ServicePaymentSelection
-> ContractAuthentication (repeated while the charger says Ongoing) -> ChargeParameterDiscovery (repeated while
Ongoing) -> CableCheck (repeated until Finished) -> PreCharge (repeated until the voltages match) ->
PowerDelivery(ReadyToChargeState=true) -> CurrentDemand (the loop) -> PowerDelivery(ReadyToChargeState=false) ->
WeldingDetection (repeated, optional) -> SessionStop. SessionStop may also end the session from any state after
SessionSetup: an EV that gives up during set-up stops the session the standard way.

A request with no row in the current state is a sequence error: the SECC answers FAILED_SequenceError and ends
the session (DIN 70121 9.3: the same rule as -2's [V2G2-538]/[V2G2-539]).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from iso15118.envelope.kinds import Kind
from iso15118.envelope.states import CONDITIONS, ENDED, GUARDS, State
from iso15118.session.profile import ALWAYS, Rule, Table, Transition

__all__ = ["ROWS", "TABLE"]

_S, _K = State, Kind
_SEQ: Final = "DIN 70121 9.1 message sequence"


def _go(target: StrEnum | None, condition: str = ALWAYS) -> Transition:
    return Transition(condition, target, _SEQ)


def _row(*after: Transition) -> tuple[Rule, ...]:
    return (Rule(_SEQ, after),)


_UNTIL_FINISHED_THEN: Final = {
    # Repeated while the charger answers Ongoing; Finished moves on.
    _S.WAIT_AUTHORIZATION: (_K.ContractAuthenticationReq, _S.WAIT_CHARGE_PARAMETER),
    _S.WAIT_CHARGE_PARAMETER: (_K.ChargeParameterDiscoveryReq, _S.WAIT_CABLE_CHECK),
    _S.WAIT_CABLE_CHECK: (_K.CableCheckReq, _S.WAIT_PRECHARGE),
}

ROWS: Final[dict[tuple[StrEnum, StrEnum], tuple[Rule, ...]]] = {
    (_S.WAIT_SESSION_SETUP, _K.SessionSetupReq): _row(_go(_S.WAIT_SERVICE_DISCOVERY)),
    (_S.WAIT_SERVICE_DISCOVERY, _K.ServiceDiscoveryReq): _row(_go(_S.WAIT_PAYMENT_SELECTION)),
    (_S.WAIT_PAYMENT_SELECTION, _K.ServicePaymentSelectionReq): _row(_go(_S.WAIT_AUTHORIZATION)),
    **{
        (state, kind): _row(_go(target, "Finished"), _go(None))
        for state, (kind, target) in _UNTIL_FINISHED_THEN.items()
    },
    # PreCharge repeats until the EV is satisfied with the voltage; PowerDelivery(ReadyToChargeState) closes
    # the contactors and starts the loop.
    (_S.WAIT_PRECHARGE, _K.PreChargeReq): _row(_go(None)),
    (_S.WAIT_PRECHARGE, _K.PowerDeliveryReq): _row(_go(_S.CHARGE_LOOP, "start"), _go(_S.WAIT_WELDING)),
    (_S.CHARGE_LOOP, _K.CurrentDemandReq): _row(_go(None)),
    (_S.CHARGE_LOOP, _K.PowerDeliveryReq): _row(_go(_S.WAIT_WELDING, "stop"), _go(None)),
    (_S.WAIT_WELDING, _K.WeldingDetectionReq): _row(_go(None)),
    **{
        (state, _K.SessionStopReq): _row(_go(ENDED))
        for state in State
        if state not in (_S.WAIT_SESSION_SETUP, _S.WAIT_PAYMENT_DETAILS, _S.WAIT_POWER_DELIVERY, _S.WAIT_SESSION_STOP)
    },
}

TABLE: Final = Table(rows=ROWS, guards=GUARDS, conditions=CONDITIONS, side_needs_loop=False)
"""The DIN 70121 table (both roles)."""
