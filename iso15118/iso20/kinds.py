"""ISO 15118-20 message kinds: the names the sequence table, the decisions and the timers use.

A kind is a typed name (:class:`Kind`), never ``type(msg).__name__``: the table and the handler tables are keyed
by it, and :data:`CLASS_OF` ties each kind to its generated message class. This module also says where each
kind travels (its V2GTP payload type, 0x8002 CommonMessages ... 0x8006 WPT) and how big a payload of a
request kind may legitimately be: the session core refuses anything larger before decoding it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

from iso15118.constants import PayloadType
from iso15118.messages.generated import iso20_ac as _ac
from iso15118.messages.generated import iso20_acdp as _acdp
from iso15118.messages.generated import iso20_common as _common
from iso15118.messages.generated import iso20_dc as _dc
from iso15118.messages.generated import iso20_wpt as _wpt

__all__ = [
    "CLASS_OF",
    "KIND_OF",
    "LIMIT_PROFILE",
    "LIMIT_SCHEDULE",
    "LIMIT_SIGNED",
    "LIMIT_SMALL",
    "MAX_PAYLOAD",
    "PAYLOAD_TYPE_OF",
    "RESPONSE_OF",
    "Kind",
    "kind_of",
]


class Kind(StrEnum):
    """Every ISO 15118-20 message, named as in the XSDs."""

    AuthorizationReq = "AuthorizationReq"
    AuthorizationRes = "AuthorizationRes"
    AuthorizationSetupReq = "AuthorizationSetupReq"
    AuthorizationSetupRes = "AuthorizationSetupRes"
    CertificateInstallationReq = "CertificateInstallationReq"
    CertificateInstallationRes = "CertificateInstallationRes"
    MeteringConfirmationReq = "MeteringConfirmationReq"
    MeteringConfirmationRes = "MeteringConfirmationRes"
    PowerDeliveryReq = "PowerDeliveryReq"
    PowerDeliveryRes = "PowerDeliveryRes"
    ScheduleExchangeReq = "ScheduleExchangeReq"
    ScheduleExchangeRes = "ScheduleExchangeRes"
    ServiceDetailReq = "ServiceDetailReq"
    ServiceDetailRes = "ServiceDetailRes"
    ServiceDiscoveryReq = "ServiceDiscoveryReq"
    ServiceDiscoveryRes = "ServiceDiscoveryRes"
    ServiceSelectionReq = "ServiceSelectionReq"
    ServiceSelectionRes = "ServiceSelectionRes"
    SessionSetupReq = "SessionSetupReq"
    SessionSetupRes = "SessionSetupRes"
    SessionStopReq = "SessionStopReq"
    SessionStopRes = "SessionStopRes"
    VehicleCheckInReq = "VehicleCheckInReq"
    VehicleCheckInRes = "VehicleCheckInRes"
    VehicleCheckOutReq = "VehicleCheckOutReq"
    VehicleCheckOutRes = "VehicleCheckOutRes"
    AC_ChargeLoopReq = "AC_ChargeLoopReq"
    AC_ChargeLoopRes = "AC_ChargeLoopRes"
    AC_ChargeParameterDiscoveryReq = "AC_ChargeParameterDiscoveryReq"
    AC_ChargeParameterDiscoveryRes = "AC_ChargeParameterDiscoveryRes"
    DC_CableCheckReq = "DC_CableCheckReq"
    DC_CableCheckRes = "DC_CableCheckRes"
    DC_ChargeLoopReq = "DC_ChargeLoopReq"
    DC_ChargeLoopRes = "DC_ChargeLoopRes"
    DC_ChargeParameterDiscoveryReq = "DC_ChargeParameterDiscoveryReq"
    DC_ChargeParameterDiscoveryRes = "DC_ChargeParameterDiscoveryRes"
    DC_PreChargeReq = "DC_PreChargeReq"
    DC_PreChargeRes = "DC_PreChargeRes"
    DC_WeldingDetectionReq = "DC_WeldingDetectionReq"
    DC_WeldingDetectionRes = "DC_WeldingDetectionRes"
    WPT_AlignmentCheckReq = "WPT_AlignmentCheckReq"
    WPT_AlignmentCheckRes = "WPT_AlignmentCheckRes"
    WPT_ChargeLoopReq = "WPT_ChargeLoopReq"
    WPT_ChargeLoopRes = "WPT_ChargeLoopRes"
    WPT_ChargeParameterDiscoveryReq = "WPT_ChargeParameterDiscoveryReq"
    WPT_ChargeParameterDiscoveryRes = "WPT_ChargeParameterDiscoveryRes"
    WPT_FinePositioningReq = "WPT_FinePositioningReq"
    WPT_FinePositioningRes = "WPT_FinePositioningRes"
    WPT_FinePositioningSetupReq = "WPT_FinePositioningSetupReq"
    WPT_FinePositioningSetupRes = "WPT_FinePositioningSetupRes"
    WPT_PairingReq = "WPT_PairingReq"
    WPT_PairingRes = "WPT_PairingRes"
    ACDP_ConnectReq = "ACDP_ConnectReq"
    ACDP_ConnectRes = "ACDP_ConnectRes"
    ACDP_SystemStatusReq = "ACDP_SystemStatusReq"
    ACDP_SystemStatusRes = "ACDP_SystemStatusRes"
    ACDP_VehiclePositioningReq = "ACDP_VehiclePositioningReq"
    ACDP_VehiclePositioningRes = "ACDP_VehiclePositioningRes"
    ACDP_DisconnectReq = "ACDP_DisconnectReq"
    ACDP_DisconnectRes = "ACDP_DisconnectRes"


#: The message class of every kind (a test checks the list against the generated modules).
CLASS_OF: Final[dict[Kind, type]] = {
    Kind.AuthorizationReq: _common.AuthorizationReq,
    Kind.AuthorizationRes: _common.AuthorizationRes,
    Kind.AuthorizationSetupReq: _common.AuthorizationSetupReq,
    Kind.AuthorizationSetupRes: _common.AuthorizationSetupRes,
    Kind.CertificateInstallationReq: _common.CertificateInstallationReq,
    Kind.CertificateInstallationRes: _common.CertificateInstallationRes,
    Kind.MeteringConfirmationReq: _common.MeteringConfirmationReq,
    Kind.MeteringConfirmationRes: _common.MeteringConfirmationRes,
    Kind.PowerDeliveryReq: _common.PowerDeliveryReq,
    Kind.PowerDeliveryRes: _common.PowerDeliveryRes,
    Kind.ScheduleExchangeReq: _common.ScheduleExchangeReq,
    Kind.ScheduleExchangeRes: _common.ScheduleExchangeRes,
    Kind.ServiceDetailReq: _common.ServiceDetailReq,
    Kind.ServiceDetailRes: _common.ServiceDetailRes,
    Kind.ServiceDiscoveryReq: _common.ServiceDiscoveryReq,
    Kind.ServiceDiscoveryRes: _common.ServiceDiscoveryRes,
    Kind.ServiceSelectionReq: _common.ServiceSelectionReq,
    Kind.ServiceSelectionRes: _common.ServiceSelectionRes,
    Kind.SessionSetupReq: _common.SessionSetupReq,
    Kind.SessionSetupRes: _common.SessionSetupRes,
    Kind.SessionStopReq: _common.SessionStopReq,
    Kind.SessionStopRes: _common.SessionStopRes,
    Kind.VehicleCheckInReq: _common.VehicleCheckInReq,
    Kind.VehicleCheckInRes: _common.VehicleCheckInRes,
    Kind.VehicleCheckOutReq: _common.VehicleCheckOutReq,
    Kind.VehicleCheckOutRes: _common.VehicleCheckOutRes,
    Kind.AC_ChargeLoopReq: _ac.AC_ChargeLoopReq,
    Kind.AC_ChargeLoopRes: _ac.AC_ChargeLoopRes,
    Kind.AC_ChargeParameterDiscoveryReq: _ac.AC_ChargeParameterDiscoveryReq,
    Kind.AC_ChargeParameterDiscoveryRes: _ac.AC_ChargeParameterDiscoveryRes,
    Kind.DC_CableCheckReq: _dc.DC_CableCheckReq,
    Kind.DC_CableCheckRes: _dc.DC_CableCheckRes,
    Kind.DC_ChargeLoopReq: _dc.DC_ChargeLoopReq,
    Kind.DC_ChargeLoopRes: _dc.DC_ChargeLoopRes,
    Kind.DC_ChargeParameterDiscoveryReq: _dc.DC_ChargeParameterDiscoveryReq,
    Kind.DC_ChargeParameterDiscoveryRes: _dc.DC_ChargeParameterDiscoveryRes,
    Kind.DC_PreChargeReq: _dc.DC_PreChargeReq,
    Kind.DC_PreChargeRes: _dc.DC_PreChargeRes,
    Kind.DC_WeldingDetectionReq: _dc.DC_WeldingDetectionReq,
    Kind.DC_WeldingDetectionRes: _dc.DC_WeldingDetectionRes,
    Kind.WPT_AlignmentCheckReq: _wpt.WPT_AlignmentCheckReq,
    Kind.WPT_AlignmentCheckRes: _wpt.WPT_AlignmentCheckRes,
    Kind.WPT_ChargeLoopReq: _wpt.WPT_ChargeLoopReq,
    Kind.WPT_ChargeLoopRes: _wpt.WPT_ChargeLoopRes,
    Kind.WPT_ChargeParameterDiscoveryReq: _wpt.WPT_ChargeParameterDiscoveryReq,
    Kind.WPT_ChargeParameterDiscoveryRes: _wpt.WPT_ChargeParameterDiscoveryRes,
    Kind.WPT_FinePositioningReq: _wpt.WPT_FinePositioningReq,
    Kind.WPT_FinePositioningRes: _wpt.WPT_FinePositioningRes,
    Kind.WPT_FinePositioningSetupReq: _wpt.WPT_FinePositioningSetupReq,
    Kind.WPT_FinePositioningSetupRes: _wpt.WPT_FinePositioningSetupRes,
    Kind.WPT_PairingReq: _wpt.WPT_PairingReq,
    Kind.WPT_PairingRes: _wpt.WPT_PairingRes,
    Kind.ACDP_ConnectReq: _acdp.ACDP_ConnectReq,
    Kind.ACDP_ConnectRes: _acdp.ACDP_ConnectRes,
    Kind.ACDP_SystemStatusReq: _acdp.ACDP_SystemStatusReq,
    Kind.ACDP_SystemStatusRes: _acdp.ACDP_SystemStatusRes,
    Kind.ACDP_VehiclePositioningReq: _acdp.ACDP_VehiclePositioningReq,
    Kind.ACDP_VehiclePositioningRes: _acdp.ACDP_VehiclePositioningRes,
    Kind.ACDP_DisconnectReq: _acdp.ACDP_DisconnectReq,
    Kind.ACDP_DisconnectRes: _acdp.ACDP_DisconnectRes,
}

#: The payload type each kind travels in on the main stream [V2G20 table "V2GTP payload types"].
PAYLOAD_TYPE_OF: Final[dict[Kind, PayloadType]] = {
    **dict.fromkeys(
        (
            Kind.AuthorizationReq,
            Kind.AuthorizationRes,
            Kind.AuthorizationSetupReq,
            Kind.AuthorizationSetupRes,
            Kind.CertificateInstallationReq,
            Kind.CertificateInstallationRes,
            Kind.MeteringConfirmationReq,
            Kind.MeteringConfirmationRes,
            Kind.PowerDeliveryReq,
            Kind.PowerDeliveryRes,
            Kind.ScheduleExchangeReq,
            Kind.ScheduleExchangeRes,
            Kind.ServiceDetailReq,
            Kind.ServiceDetailRes,
            Kind.ServiceDiscoveryReq,
            Kind.ServiceDiscoveryRes,
            Kind.ServiceSelectionReq,
            Kind.ServiceSelectionRes,
            Kind.SessionSetupReq,
            Kind.SessionSetupRes,
            Kind.SessionStopReq,
            Kind.SessionStopRes,
            Kind.VehicleCheckInReq,
            Kind.VehicleCheckInRes,
            Kind.VehicleCheckOutReq,
            Kind.VehicleCheckOutRes,
        ),
        PayloadType.ISO20_COMMON,
    ),
    **dict.fromkeys(
        (
            Kind.AC_ChargeLoopReq,
            Kind.AC_ChargeLoopRes,
            Kind.AC_ChargeParameterDiscoveryReq,
            Kind.AC_ChargeParameterDiscoveryRes,
        ),
        PayloadType.ISO20_AC,
    ),
    **dict.fromkeys(
        (
            Kind.DC_CableCheckReq,
            Kind.DC_CableCheckRes,
            Kind.DC_ChargeLoopReq,
            Kind.DC_ChargeLoopRes,
            Kind.DC_ChargeParameterDiscoveryReq,
            Kind.DC_ChargeParameterDiscoveryRes,
            Kind.DC_PreChargeReq,
            Kind.DC_PreChargeRes,
            Kind.DC_WeldingDetectionReq,
            Kind.DC_WeldingDetectionRes,
        ),
        PayloadType.ISO20_DC,
    ),
    **dict.fromkeys(
        (
            Kind.WPT_AlignmentCheckReq,
            Kind.WPT_AlignmentCheckRes,
            Kind.WPT_ChargeLoopReq,
            Kind.WPT_ChargeLoopRes,
            Kind.WPT_ChargeParameterDiscoveryReq,
            Kind.WPT_ChargeParameterDiscoveryRes,
            Kind.WPT_FinePositioningReq,
            Kind.WPT_FinePositioningRes,
            Kind.WPT_FinePositioningSetupReq,
            Kind.WPT_FinePositioningSetupRes,
            Kind.WPT_PairingReq,
            Kind.WPT_PairingRes,
        ),
        PayloadType.ISO20_WPT,
    ),
    **dict.fromkeys(
        (
            Kind.ACDP_ConnectReq,
            Kind.ACDP_ConnectRes,
            Kind.ACDP_SystemStatusReq,
            Kind.ACDP_SystemStatusRes,
            Kind.ACDP_VehiclePositioningReq,
            Kind.ACDP_VehiclePositioningRes,
            Kind.ACDP_DisconnectReq,
            Kind.ACDP_DisconnectRes,
        ),
        PayloadType.ISO20_ACDP,
    ),
}

KIND_OF: Final[dict[type, Kind]] = {cls: kind for kind, cls in CLASS_OF.items()}
RESPONSE_OF: Final[dict[Kind, Kind]] = {k: Kind(k.value[:-3] + "Res") for k in Kind if k.value.endswith("Req")}
"""The response kind that answers each request kind."""


def kind_of(message: Any) -> Kind | None:
    """The kind of a -20 message (None for anything else)."""
    return KIND_OF.get(type(message))


# ---- how large a request may be ---------------------------------------------------------------------------
LIMIT_SMALL: Final = 2048
"""Set-up, service, parameter and charge-loop requests: a header and a few dozen short fields (the largest
legitimate ones, ServiceSelectionReq with 16 VAS or a BPT Dynamic loop request with every optional field, stay
under 1 KB). A wrong message of this size is still decoded, so that it can be answered FAILED_SequenceError."""
LIMIT_SIGNED: Final = 16384
"""Requests that carry certificate chains and a header signature: the PnC AuthorizationReq (contract leaf of up to
1600 bytes and up to three Sub-CAs), CertificateInstallationReq (OEM provisioning chain, up to 20 root IDs and 8
EMAIDs) and MeteringConfirmationReq."""
LIMIT_PROFILE: Final = 65536
"""PowerDeliveryReq: up to 2048 EVPowerProfile entries, each with three phases (about 44 KB when every value
takes its largest encoding)."""
LIMIT_SCHEDULE: Final = 131072
"""ScheduleExchangeReq: an EVEnergyOffer of up to 1024 power entries and up to 1024 price rule stacks of 8
rules each (about 104 KB when every value takes its largest encoding)."""

MAX_PAYLOAD: Final[dict[Kind, int]] = {
    Kind.AuthorizationReq: LIMIT_SIGNED,
    Kind.CertificateInstallationReq: LIMIT_SIGNED,
    Kind.MeteringConfirmationReq: LIMIT_SIGNED,
    Kind.ScheduleExchangeReq: LIMIT_SCHEDULE,
    Kind.PowerDeliveryReq: LIMIT_PROFILE,
}
"""Request kinds whose payload may exceed :data:`LIMIT_SMALL`; every other request kind has that limit."""
