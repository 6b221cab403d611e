"""The protocol generations and the transports a V2G connection runs over, as the transport layer names them.

:class:`Standard` is a generation (``iso20``, ``iso2``, ``din``: the names the command line uses), found from a
SupportedAppProtocol namespace by :func:`standard_of`. :class:`Transport` is what one connection runs over:
TLS 1.3, TLS 1.2 or plain TCP (:func:`transport_of` reads it from a finished handshake). Which generation a
transport is valid for is the policy's business (:meth:`~iso15118.transport.policy.TransportPolicy.admits`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from iso15118.constants import NS_DIN, NS_ISO2
from iso15118.iso20.profile import AC_NAMESPACES, DC_NAMESPACES
from iso15118.security.tls import HandshakeInfo

__all__ = ["STANDARD_NAMES", "Standard", "Transport", "describe_namespace", "standard_of", "transport_of"]


class Standard(StrEnum):
    """A protocol generation."""

    ISO20 = "iso20"
    ISO2 = "iso2"
    DIN = "din"


STANDARD_NAMES: Final = {Standard.ISO20: "ISO 15118-20", Standard.ISO2: "ISO 15118-2", Standard.DIN: "DIN 70121"}

_ISO20: Final = frozenset((*AC_NAMESPACES, *DC_NAMESPACES))
_FAMILY: Final = {**dict.fromkeys(AC_NAMESPACES, " AC"), **dict.fromkeys(DC_NAMESPACES, " DC")}


class Transport(StrEnum):
    """What a connection runs over."""

    TLS13 = "tls1.3"
    TLS12 = "tls1.2"
    TCP = "tcp"


def standard_of(namespace: str) -> Standard | None:
    """The generation of a SupportedAppProtocol namespace (None: not one of the three)."""
    if namespace in _ISO20:
        return Standard.ISO20
    if namespace == NS_ISO2:
        return Standard.ISO2
    if namespace == NS_DIN:
        return Standard.DIN
    return None


def describe_namespace(namespace: str) -> str:
    """``ISO 15118-20 DC``, ``DIN 70121``..., or the namespace itself when it is none of the three."""
    standard = standard_of(namespace)
    return namespace if standard is None else STANDARD_NAMES[standard] + _FAMILY.get(namespace, "")


def transport_of(tls: HandshakeInfo | None) -> Transport:
    """The transport of a connection: plain TCP without a handshake, else the TLS version it negotiated."""
    if tls is None:
        return Transport.TCP
    return Transport.TLS13 if tls.version == "TLSv1.3" else Transport.TLS12
