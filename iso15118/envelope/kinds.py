"""Every message kind of DIN 70121 and ISO 15118-2, named as the Body element that carries it.

The two generations share most names; where they differ, both are members (DIN's ServicePaymentSelection and
ContractAuthentication are -2's PaymentServiceSelection and Authorization). Which kinds a generation has comes
from its generated ``Body`` class (:class:`~iso15118.envelope.envelope.Envelope`); which it admits when is its
sequence table's business.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = ["REQUEST_OF", "RESPONSE_OF", "Kind"]


class Kind(StrEnum):
    """A Body element of DIN 70121 or ISO 15118-2, in the order a session meets them."""

    SessionSetupReq = "SessionSetupReq"
    SessionSetupRes = "SessionSetupRes"
    ServiceDiscoveryReq = "ServiceDiscoveryReq"
    ServiceDiscoveryRes = "ServiceDiscoveryRes"
    ServiceDetailReq = "ServiceDetailReq"
    ServiceDetailRes = "ServiceDetailRes"
    ServicePaymentSelectionReq = "ServicePaymentSelectionReq"
    ServicePaymentSelectionRes = "ServicePaymentSelectionRes"
    PaymentServiceSelectionReq = "PaymentServiceSelectionReq"
    PaymentServiceSelectionRes = "PaymentServiceSelectionRes"
    CertificateInstallationReq = "CertificateInstallationReq"
    CertificateInstallationRes = "CertificateInstallationRes"
    CertificateUpdateReq = "CertificateUpdateReq"
    CertificateUpdateRes = "CertificateUpdateRes"
    PaymentDetailsReq = "PaymentDetailsReq"
    PaymentDetailsRes = "PaymentDetailsRes"
    ContractAuthenticationReq = "ContractAuthenticationReq"
    ContractAuthenticationRes = "ContractAuthenticationRes"
    AuthorizationReq = "AuthorizationReq"
    AuthorizationRes = "AuthorizationRes"
    ChargeParameterDiscoveryReq = "ChargeParameterDiscoveryReq"
    ChargeParameterDiscoveryRes = "ChargeParameterDiscoveryRes"
    CableCheckReq = "CableCheckReq"
    CableCheckRes = "CableCheckRes"
    PreChargeReq = "PreChargeReq"
    PreChargeRes = "PreChargeRes"
    PowerDeliveryReq = "PowerDeliveryReq"
    PowerDeliveryRes = "PowerDeliveryRes"
    ChargingStatusReq = "ChargingStatusReq"
    ChargingStatusRes = "ChargingStatusRes"
    CurrentDemandReq = "CurrentDemandReq"
    CurrentDemandRes = "CurrentDemandRes"
    MeteringReceiptReq = "MeteringReceiptReq"
    MeteringReceiptRes = "MeteringReceiptRes"
    WeldingDetectionReq = "WeldingDetectionReq"
    WeldingDetectionRes = "WeldingDetectionRes"
    SessionStopReq = "SessionStopReq"
    SessionStopRes = "SessionStopRes"


RESPONSE_OF: Final[dict[Kind, Kind]] = {k: Kind(k.value[:-3] + "Res") for k in Kind if k.value.endswith("Req")}
"""Request kind -> the response kind that answers it."""
REQUEST_OF: Final[dict[Kind, Kind]] = {res: req for req, res in RESPONSE_OF.items()}
"""Response kind -> the request kind it answers."""
