"""Protocol constants: namespaces, V2GTP payload types, ports.

Timing constants live in :mod:`iso15118.session.timers`, next to the code that enforces them.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

__all__ = [
    "NS_APP_PROTOCOL",
    "NS_DIN",
    "NS_ISO2",
    "NS_ISO20_AC",
    "NS_ISO20_ACDP",
    "NS_ISO20_COMMON_MESSAGES",
    "NS_ISO20_COMMON_TYPES",
    "NS_ISO20_DC",
    "NS_ISO20_WPT",
    "NS_XMLDSIG",
    "SDP_MULTICAST_ADDRESS",
    "SDP_SERVER_PORT",
    "TCP_PORT_RANGE",
    "V2GTP_HEADER_LENGTH",
    "V2GTP_VERSION",
    "EnergyService",
    "PayloadType",
    "SdpSecurity",
    "SdpTransport",
]

NS_APP_PROTOCOL: Final = "urn:iso:15118:2:2010:AppProtocol"
NS_ISO20_COMMON_TYPES: Final = "urn:iso:std:iso:15118:-20:CommonTypes"
NS_ISO20_COMMON_MESSAGES: Final = "urn:iso:std:iso:15118:-20:CommonMessages"
NS_ISO20_AC: Final = "urn:iso:std:iso:15118:-20:AC"
NS_ISO20_DC: Final = "urn:iso:std:iso:15118:-20:DC"
NS_ISO20_WPT: Final = "urn:iso:std:iso:15118:-20:WPT"
NS_ISO20_ACDP: Final = "urn:iso:std:iso:15118:-20:ACDP"
NS_XMLDSIG: Final = "http://www.w3.org/2000/09/xmldsig#"
NS_DIN: Final = "urn:din:70121:2012:MsgDef"
"""DIN 70121 as offered in SupportedAppProtocol (version 2.0)."""
NS_ISO2: Final = "urn:iso:15118:2:2013:MsgDef"
"""ISO 15118-2 as offered in SupportedAppProtocol (version 2.0)."""

V2GTP_VERSION: Final = 0x01
V2GTP_HEADER_LENGTH: Final = 8

#: UDP port of the SECC's SDP server [V2G20-139].
SDP_SERVER_PORT: Final = 15118
#: SDP requests go to the link-local all-nodes multicast group [V2G20-139].
SDP_MULTICAST_ADDRESS: Final = "ff02::1"
#: The SECC's TCP port is taken from the IANA dynamic range.
TCP_PORT_RANGE: Final = (49152, 65535)


class EnergyService(IntEnum):
    """ISO 15118-20 energy transfer service IDs (table 204; fact sheet 2.6)."""

    AC = 1
    DC = 2
    WPT = 3
    DC_ACDP = 4
    AC_BPT = 5
    DC_BPT = 6
    DC_ACDP_BPT = 7


class PayloadType(IntEnum):
    """V2GTP payload types (ISO 15118-20 table "V2GTP payload types")."""

    SAP = 0x8001
    """SupportedAppProtocolReq/Res (and all DIN 70121 / ISO 15118-2 traffic)."""
    ISO20_COMMON = 0x8002
    ISO20_AC = 0x8003
    ISO20_DC = 0x8004
    ISO20_ACDP = 0x8005
    ISO20_WPT = 0x8006
    SCHEDULE_RENEGOTIATION = 0x8101
    METERING_CONFIRMATION = 0x8102
    ACD_SYSTEM_STATUS = 0x8103
    PARKING_STATUS = 0x8104
    SDP_REQUEST = 0x9000
    SDP_RESPONSE = 0x9001
    SDP_REQUEST_WIRELESS = 0x9002
    SDP_RESPONSE_WIRELESS = 0x9003


class SdpSecurity(IntEnum):
    """SDP security byte: what transport security the EVCC asks for and the SECC offers."""

    TLS = 0x00
    """Secured with TLS (the only choice for ISO 15118-20)."""
    NONE = 0x10
    """No transport security (DIN 70121 / ISO 15118-2 EIM fallback only)."""


class SdpTransport(IntEnum):
    """SDP transport-protocol byte (0x10, reserved for UDP, is not supported)."""

    TCP = 0x00
