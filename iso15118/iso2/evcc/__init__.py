"""The ISO 15118-2 EVCC as pure decisions: what follows each response (:data:`NEXT`), how each request is built
when it is due (:data:`BUILD`), and the requests decided again when they are due (:data:`DUE`: the charge loops,
which may turn into PowerDelivery(Stop)).

The decisions see Body elements (the adapter in :mod:`iso15118.iso2.logic` opens the envelope); builders return
whole ``V2G_Message`` documents. The session core's sequence table checks every request before it leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from iso15118.decisions import Step
from iso15118.envelope.kinds import Kind
from iso15118.iso2.evcc.charge import (
    after_charge_parameters,
    after_charging_status,
    after_metering_receipt,
    after_power_delivery,
    after_session_stop,
    build_charge_parameters,
    build_charging_status,
    build_metering_receipt,
    build_power_delivery,
    build_session_stop,
    loop_due,
)
from iso15118.iso2.evcc.dc import (
    after_cable_check,
    after_current_demand,
    after_precharge,
    after_welding_detection,
    build_cable_check,
    build_current_demand,
    build_precharge,
    build_welding_detection,
    current_demand_due,
)
from iso15118.iso2.evcc.pnc import (
    after_certificate,
    after_payment_details,
    build_certificate_installation,
    build_certificate_update,
    build_payment_details,
)
from iso15118.iso2.evcc.setup import (
    after_authorization,
    after_payment_selection,
    after_service_detail,
    after_service_discovery,
    after_session_setup,
    build_authorization,
    build_payment_selection,
    build_service_detail,
    build_service_discovery,
    build_session_setup,
)
from iso15118.iso2.evcc.view import EvccContext, EvccView

__all__ = ["BUILD", "DUE", "NEXT", "EvccContext", "EvccView"]

After = Callable[[Any, Any, EvccView], Step[EvccContext]]
Builder = Callable[[EvccView], Any]

NEXT: Final[dict[Kind, After]] = {
    Kind.SessionSetupRes: after_session_setup,
    Kind.ServiceDiscoveryRes: after_service_discovery,
    Kind.ServiceDetailRes: after_service_detail,
    Kind.PaymentServiceSelectionRes: after_payment_selection,
    Kind.CertificateInstallationRes: after_certificate,
    Kind.CertificateUpdateRes: after_certificate,
    Kind.PaymentDetailsRes: after_payment_details,
    Kind.AuthorizationRes: after_authorization,
    Kind.ChargeParameterDiscoveryRes: after_charge_parameters,
    Kind.CableCheckRes: after_cable_check,
    Kind.PreChargeRes: after_precharge,
    Kind.PowerDeliveryRes: after_power_delivery,
    Kind.ChargingStatusRes: after_charging_status,
    Kind.CurrentDemandRes: after_current_demand,
    Kind.WeldingDetectionRes: after_welding_detection,
    Kind.MeteringReceiptRes: after_metering_receipt,
    Kind.SessionStopRes: after_session_stop,
}
"""Response kind (answering a request the EV sent) -> what comes next."""

BUILD: Final[dict[Kind, Builder]] = {
    Kind.SessionSetupReq: build_session_setup,
    Kind.ServiceDiscoveryReq: build_service_discovery,
    Kind.ServiceDetailReq: build_service_detail,
    Kind.PaymentServiceSelectionReq: build_payment_selection,
    Kind.CertificateInstallationReq: build_certificate_installation,
    Kind.CertificateUpdateReq: build_certificate_update,
    Kind.PaymentDetailsReq: build_payment_details,
    Kind.AuthorizationReq: build_authorization,
    Kind.ChargeParameterDiscoveryReq: build_charge_parameters,
    Kind.CableCheckReq: build_cable_check,
    Kind.PreChargeReq: build_precharge,
    Kind.PowerDeliveryReq: build_power_delivery,
    Kind.ChargingStatusReq: build_charging_status,
    Kind.CurrentDemandReq: build_current_demand,
    Kind.WeldingDetectionReq: build_welding_detection,
    Kind.MeteringReceiptReq: build_metering_receipt,
    Kind.SessionStopReq: build_session_stop,
}
"""Request kind -> how the EV builds it when it is due."""

DUE: Final[dict[Kind, Callable[[EvccView], Step[EvccContext]]]] = {
    Kind.ChargingStatusReq: loop_due,
    Kind.CurrentDemandReq: current_demand_due,
}
"""Requests whose sending is decided again when they are due (the EV may be done by then)."""
