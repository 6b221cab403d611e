"""The ISO 15118-20 SECC as pure decisions: one handler per request kind, in :data:`HANDLERS`.

A handler is ``(request, SeccView) -> Answer | Need`` (see :mod:`iso15118.decisions`). The session core has
already checked the sequence and the SessionID; the handlers check everything else a request must satisfy and
choose every FAILED and WARNING response code, citing the rule. They never await and never read a clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from iso15118.iso20.kinds import Kind
from iso15118.iso20.secc.ac import ac_charge_loop, ac_charge_parameter_discovery
from iso15118.iso20.secc.dc import (
    cable_check,
    dc_charge_loop,
    dc_charge_parameter_discovery,
    precharge,
    welding_detection,
)
from iso15118.iso20.secc.installation import certificate_installation
from iso15118.iso20.secc.schedule import power_delivery, schedule_exchange
from iso15118.iso20.secc.services import service_detail, service_discovery, service_selection
from iso15118.iso20.secc.setup import authorization, authorization_setup, session_setup
from iso15118.iso20.secc.stop import metering_confirmation, session_stop
from iso15118.iso20.secc.view import Decision, SeccContext, SeccView

__all__ = ["HANDLERS", "Handler", "SeccContext", "SeccView", "decide"]

Handler = Callable[[Any, SeccView], Decision]

HANDLERS: Final[dict[Kind, Handler]] = {
    Kind.SessionSetupReq: session_setup,
    Kind.AuthorizationSetupReq: authorization_setup,
    Kind.AuthorizationReq: authorization,
    Kind.CertificateInstallationReq: certificate_installation,
    Kind.ServiceDiscoveryReq: service_discovery,
    Kind.ServiceDetailReq: service_detail,
    Kind.ServiceSelectionReq: service_selection,
    Kind.AC_ChargeParameterDiscoveryReq: ac_charge_parameter_discovery,
    Kind.DC_ChargeParameterDiscoveryReq: dc_charge_parameter_discovery,
    Kind.ScheduleExchangeReq: schedule_exchange,
    Kind.DC_CableCheckReq: cable_check,
    Kind.DC_PreChargeReq: precharge,
    Kind.PowerDeliveryReq: power_delivery,
    Kind.AC_ChargeLoopReq: ac_charge_loop,
    Kind.DC_ChargeLoopReq: dc_charge_loop,
    Kind.DC_WeldingDetectionReq: welding_detection,
    Kind.MeteringConfirmationReq: metering_confirmation,
    Kind.SessionStopReq: session_stop,
}
"""Every request kind the -20 table admits, and its decision."""


def decide(kind: Kind, request: Any, view: SeccView) -> Decision:
    """The decision for one request (the table only admits kinds that have a handler; a test checks that)."""
    return HANDLERS[kind](request, view)
