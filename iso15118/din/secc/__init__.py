"""The DIN 70121 SECC as pure decisions: one handler per request kind, in :data:`HANDLERS`.

A handler is ``(request Body element, SeccView) -> Answer | Need`` (see :mod:`iso15118.decisions`). The session
core has already checked the sequence and the SessionID; the handlers check everything else a request must
satisfy and choose every FAILED response code. The DC steps are the decisions DIN shares with ISO 15118-2
(:mod:`iso15118.envelope.dc.secc`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from iso15118.din.secc.charge import (
    cable_check,
    charge_parameter_discovery,
    current_demand,
    power_delivery,
    precharge,
    welding_detection,
)
from iso15118.din.secc.setup import (
    contract_authentication,
    service_discovery,
    service_payment_selection,
    session_setup,
    session_stop,
)
from iso15118.din.secc.view import Decision, SeccContext, SeccView
from iso15118.envelope.kinds import Kind

__all__ = ["HANDLERS", "Handler", "SeccContext", "SeccView", "decide"]

Handler = Callable[[Any, SeccView], Decision]

HANDLERS: Final[dict[Kind, Handler]] = {
    Kind.SessionSetupReq: session_setup,
    Kind.ServiceDiscoveryReq: service_discovery,
    Kind.ServicePaymentSelectionReq: service_payment_selection,
    Kind.ContractAuthenticationReq: contract_authentication,
    Kind.ChargeParameterDiscoveryReq: charge_parameter_discovery,
    Kind.CableCheckReq: cable_check,
    Kind.PreChargeReq: precharge,
    Kind.PowerDeliveryReq: power_delivery,
    Kind.CurrentDemandReq: current_demand,
    Kind.WeldingDetectionReq: welding_detection,
    Kind.SessionStopReq: session_stop,
}
"""Every request kind the DIN table admits, and its decision."""


def decide(kind: Kind, element: Any, view: SeccView) -> Decision:
    """The decision for one request (the table only admits kinds that have a handler; a test checks that)."""
    return HANDLERS[kind](element, view)
