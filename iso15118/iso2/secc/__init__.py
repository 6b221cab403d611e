"""The ISO 15118-2 SECC as pure decisions: one handler per request kind, in :data:`HANDLERS`.

A handler is ``(request element, SeccView) -> Answer | Need`` (see :mod:`iso15118.decisions`); the view carries
the whole ``V2G_Message`` for the FAILED answers. The session core has already checked the sequence and the
SessionID; the handlers check everything else a request must satisfy and choose every FAILED response code,
naming the rule. They never await and never read a clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from iso15118.envelope.kinds import Kind
from iso15118.envelope.states import body_of
from iso15118.iso2.secc.charge import charge_parameter_discovery, power_delivery
from iso15118.iso2.secc.dc import cable_check, current_demand, precharge, welding_detection
from iso15118.iso2.secc.loop import charging_status, metering_receipt, session_stop
from iso15118.iso2.secc.pnc import certificate_request, payment_details
from iso15118.iso2.secc.setup import (
    authorization,
    payment_service_selection,
    service_detail,
    service_discovery,
    session_setup,
)
from iso15118.iso2.secc.view import Decision, SeccContext, SeccView

__all__ = ["HANDLERS", "Handler", "SeccContext", "SeccView", "decide"]

Handler = Callable[[Any, SeccView], Decision]

HANDLERS: Final[dict[Kind, Handler]] = {
    Kind.SessionSetupReq: session_setup,
    Kind.ServiceDiscoveryReq: service_discovery,
    Kind.ServiceDetailReq: service_detail,
    Kind.PaymentServiceSelectionReq: payment_service_selection,
    Kind.CertificateInstallationReq: certificate_request,
    Kind.CertificateUpdateReq: certificate_request,
    Kind.PaymentDetailsReq: payment_details,
    Kind.AuthorizationReq: authorization,
    Kind.ChargeParameterDiscoveryReq: charge_parameter_discovery,
    Kind.PowerDeliveryReq: power_delivery,
    Kind.CableCheckReq: cable_check,
    Kind.PreChargeReq: precharge,
    Kind.ChargingStatusReq: charging_status,
    Kind.CurrentDemandReq: current_demand,
    Kind.MeteringReceiptReq: metering_receipt,
    Kind.WeldingDetectionReq: welding_detection,
    Kind.SessionStopReq: session_stop,
}
"""Every request kind the -2 table admits, and its decision."""


def decide(kind: Kind, view: SeccView) -> Decision:
    """The decision for the view's request (a test checks that every kind the table admits has a handler)."""
    return HANDLERS[kind](body_of(view.request), view)
