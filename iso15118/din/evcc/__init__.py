"""The DIN 70121 EVCC as pure decisions: what follows each response (:data:`NEXT`), how each request is built
when it is due (:data:`BUILD`), and the requests decided again when they are due (:data:`DUE`: CurrentDemand,
which becomes PowerDelivery(false) once the EV is done).

Builders return the request's Body element; :mod:`iso15118.din.logic` wraps it in the V2G_Message. The session
core's sequence table checks every request before it leaves; these tables only choose among the requests it
admits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from iso15118.decisions import Step
from iso15118.din.evcc.charge import (
    after_cable_check,
    after_charge_parameters,
    after_current_demand,
    after_power_delivery,
    after_precharge,
    after_session_stop,
    after_welding_detection,
    build_cable_check,
    build_charge_parameters,
    build_current_demand,
    build_power_delivery,
    build_precharge,
    build_session_stop,
    build_welding_detection,
    current_demand_due,
)
from iso15118.din.evcc.setup import (
    after_contract_authentication,
    after_service_discovery,
    after_service_payment_selection,
    after_session_setup,
    build_contract_authentication,
    build_service_discovery,
    build_service_payment_selection,
    build_session_setup,
)
from iso15118.din.evcc.view import EvccContext, EvccView
from iso15118.envelope.kinds import Kind

__all__ = ["BUILD", "DUE", "NEXT", "EvccContext", "EvccView"]

After = Callable[[Any, Any, EvccView], Step[EvccContext]]

NEXT: Final[dict[Kind, After]] = {
    Kind.SessionSetupRes: after_session_setup,
    Kind.ServiceDiscoveryRes: after_service_discovery,
    Kind.ServicePaymentSelectionRes: after_service_payment_selection,
    Kind.ContractAuthenticationRes: after_contract_authentication,
    Kind.ChargeParameterDiscoveryRes: after_charge_parameters,
    Kind.CableCheckRes: after_cable_check,
    Kind.PreChargeRes: after_precharge,
    Kind.PowerDeliveryRes: after_power_delivery,
    Kind.CurrentDemandRes: after_current_demand,
    Kind.WeldingDetectionRes: after_welding_detection,
    Kind.SessionStopRes: after_session_stop,
}
"""Response kind -> what comes next."""

BUILD: Final[dict[Kind, Callable[[EvccView], Any]]] = {
    Kind.SessionSetupReq: build_session_setup,
    Kind.ServiceDiscoveryReq: build_service_discovery,
    Kind.ServicePaymentSelectionReq: build_service_payment_selection,
    Kind.ContractAuthenticationReq: build_contract_authentication,
    Kind.ChargeParameterDiscoveryReq: build_charge_parameters,
    Kind.CableCheckReq: build_cable_check,
    Kind.PreChargeReq: build_precharge,
    Kind.PowerDeliveryReq: build_power_delivery,
    Kind.CurrentDemandReq: build_current_demand,
    Kind.WeldingDetectionReq: build_welding_detection,
    Kind.SessionStopReq: build_session_stop,
}
"""Request kind -> its Body element, built from the EV's state when it is due."""

DUE: Final[dict[Kind, Callable[[EvccView], Step[EvccContext]]]] = {
    Kind.CurrentDemandReq: current_demand_due,
}
"""Requests whose sending is decided again when they are due (the EV may be done by then)."""
