"""SDP (SECC Discovery Protocol) payloads: the request and response datagrams, packed and validated.

Pure data and bytes, no sockets (the asyncio server and client are in :mod:`iso15118.transport.udp`).
Each SDP datagram is one V2GTP frame (:mod:`iso15118.v2gtp`)::

    request  0x9000, 2 bytes:   security (0x00 TLS / 0x10 none), transport (0x00 TCP)
    response 0x9001, 20 bytes:  SECC IPv6 address (16), SECC TCP port (u16 BE), security, transport
                                [V2G20-153..156]

The wireless / ACD-P variants (0x9002 / 0x9003) are not supported and are rejected as such.
Every violation raises :class:`FramingError` naming the byte offset (within the payload for the
``*_payload`` functions, within the datagram for the ``*_datagram`` ones) and the rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import Final

from construct import Bytes, Int8ub, Int16ub, Struct

from iso15118.constants import V2GTP_HEADER_LENGTH, PayloadType, SdpSecurity, SdpTransport
from iso15118.errors import FramingError
from iso15118.v2gtp import frame, unpack_header

__all__ = [
    "REQUEST_PAYLOAD_LENGTH",
    "RESPONSE_PAYLOAD_LENGTH",
    "SdpRequest",
    "SdpResponse",
    "SdpSecurity",
    "SdpTransport",
    "pack_request",
    "pack_request_datagram",
    "pack_response",
    "pack_response_datagram",
    "unpack_request",
    "unpack_request_datagram",
    "unpack_response",
    "unpack_response_datagram",
]

REQUEST_PAYLOAD_LENGTH: Final = 2
RESPONSE_PAYLOAD_LENGTH: Final = 20

RULE_REQUEST: Final = "SDP request layout"
RULE_RESPONSE: Final = "V2G20-153..156"
RULE_PAYLOAD_TYPE: Final = "SDP payload type"
RULE_LENGTH: Final = "V2GTP payload length matches the datagram"

_REQUEST = Struct("security" / Int8ub, "transport" / Int8ub)
_RESPONSE = Struct("address" / Bytes(16), "port" / Int16ub, "security" / Int8ub, "transport" / Int8ub)

_WIRELESS: Final = {
    int(PayloadType.SDP_REQUEST_WIRELESS): "wireless/ACD-P SDP request",
    int(PayloadType.SDP_RESPONSE_WIRELESS): "wireless SDP response",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class SdpRequest:
    """An SDP request: the security the EVCC asks for and the transport protocol (always TCP)."""

    security: SdpSecurity = SdpSecurity.TLS
    transport: SdpTransport = SdpTransport.TCP


@dataclass(frozen=True, slots=True, kw_only=True)
class SdpResponse:
    """An SDP response: where the SECC's TCP server listens and with which security.

    A scope id on ``address`` is not transmitted (SDP carries the 16 address bytes only).
    """

    address: IPv6Address
    port: int
    security: SdpSecurity = SdpSecurity.TLS
    transport: SdpTransport = SdpTransport.TCP

    def __post_init__(self) -> None:
        if not isinstance(self.address, IPv6Address):
            raise FramingError(f"SECC address must be an IPv6Address, got {self.address!r}", rule=RULE_RESPONSE)
        if not 0 <= self.port <= 0xFFFF:
            raise FramingError(f"SECC port {self.port} does not fit 16 bits", offset=16, rule=RULE_RESPONSE)


def _security(value: int, offset: int, rule: str) -> SdpSecurity:
    try:
        return SdpSecurity(value)
    except ValueError:
        raise FramingError(
            f"unknown security byte 0x{value:02X} (0x00 = TLS, 0x10 = no transport security)",
            offset=offset,
            rule=rule,
        ) from None


def _transport(value: int, offset: int, rule: str) -> SdpTransport:
    try:
        return SdpTransport(value)
    except ValueError:
        note = " (0x10, reserved for UDP, is not supported)" if value == 0x10 else " (0x00 = TCP)"
        raise FramingError(f"unknown transport protocol byte 0x{value:02X}{note}", offset=offset, rule=rule) from None


def _check_length(payload: bytes, expected: int, what: str, base: int, rule: str) -> None:
    if len(payload) != expected:
        raise FramingError(
            f"{what} payload is {len(payload)} bytes, expected {expected}",
            offset=base + min(len(payload), expected),
            rule=rule,
        )


def pack_request(request: SdpRequest) -> bytes:
    """Return the 2-byte payload of ``request``."""
    return bytes(_REQUEST.build({"security": int(request.security), "transport": int(request.transport)}))


def _unpack_request(payload: bytes, base: int) -> SdpRequest:
    _check_length(payload, REQUEST_PAYLOAD_LENGTH, "SDP request", base, RULE_REQUEST)
    raw = _REQUEST.parse(payload)
    return SdpRequest(
        security=_security(raw.security, base, RULE_REQUEST),
        transport=_transport(raw.transport, base + 1, RULE_REQUEST),
    )


def unpack_request(payload: bytes) -> SdpRequest:
    """Decode and validate a 2-byte SDP request payload (V2GTP header already removed)."""
    return _unpack_request(payload, 0)


def pack_response(response: SdpResponse) -> bytes:
    """Return the 20-byte payload of ``response``."""
    return bytes(
        _RESPONSE.build(
            {
                "address": response.address.packed,
                "port": response.port,
                "security": int(response.security),
                "transport": int(response.transport),
            }
        )
    )


def _unpack_response(payload: bytes, base: int) -> SdpResponse:
    _check_length(payload, RESPONSE_PAYLOAD_LENGTH, "SDP response", base, RULE_RESPONSE)
    raw = _RESPONSE.parse(payload)
    return SdpResponse(
        address=IPv6Address(bytes(raw.address)),
        port=int(raw.port),
        security=_security(raw.security, base + 18, RULE_RESPONSE),
        transport=_transport(raw.transport, base + 19, RULE_RESPONSE),
    )


def unpack_response(payload: bytes) -> SdpResponse:
    """Decode and validate a 20-byte SDP response payload (V2GTP header already removed)."""
    return _unpack_response(payload, 0)


def _datagram_payload(datagram: bytes, expected: PayloadType, what: str) -> bytes:
    """Check the V2GTP header of an SDP datagram and return its payload."""
    header = unpack_header(datagram)
    if header.payload_type != expected:
        if header.payload_type in _WIRELESS:
            reason = f"{_WIRELESS[header.payload_type]} (0x{header.payload_type:04X}) is not supported"
        else:
            reason = f"payload type 0x{header.payload_type:04X} is not an {what} (0x{expected:04X})"
        raise FramingError(reason, offset=2, rule=RULE_PAYLOAD_TYPE)
    carried = len(datagram) - V2GTP_HEADER_LENGTH
    if header.payload_length != carried:
        raise FramingError(
            f"header announces {header.payload_length} payload bytes, the datagram carries {carried}",
            offset=4,
            rule=RULE_LENGTH,
        )
    return bytes(datagram[V2GTP_HEADER_LENGTH:])


def pack_request_datagram(request: SdpRequest) -> bytes:
    """Return the complete 10-byte SDP request datagram (V2GTP header + payload)."""
    return frame(PayloadType.SDP_REQUEST, pack_request(request))


def unpack_request_datagram(datagram: bytes) -> SdpRequest:
    """Decode and validate a complete SDP request datagram; offsets in errors count from its first byte."""
    return _unpack_request(_datagram_payload(datagram, PayloadType.SDP_REQUEST, "SDP request"), V2GTP_HEADER_LENGTH)


def pack_response_datagram(response: SdpResponse) -> bytes:
    """Return the complete 28-byte SDP response datagram (V2GTP header + payload)."""
    return frame(PayloadType.SDP_RESPONSE, pack_response(response))


def unpack_response_datagram(datagram: bytes) -> SdpResponse:
    """Decode and validate a complete SDP response datagram; offsets in errors count from its first byte."""
    return _unpack_response(_datagram_payload(datagram, PayloadType.SDP_RESPONSE, "SDP response"), V2GTP_HEADER_LENGTH)
