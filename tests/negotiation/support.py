"""Helpers of the negotiation tests: the two PKIs' TLS settings, EV offers with a hand-made ISO 15118-2 entry,
and a scripted EV talking to our SECC runner over an in-memory link under given connection terms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from iso15118.config import SeccConfig
from iso15118.constants import NS_DIN, NS_ISO2, NS_ISO20_AC, NS_ISO20_DC
from iso15118.din.profile import DIN
from iso15118.messages.app_protocol import AppProtocol, supportedAppProtocolReq
from iso15118.security.profiles import Entity
from iso15118.security.tls import TlsConfig, TlsMode
from iso15118.transport.driver import SessionOutcome
from iso15118.transport.negotiation import ConnectionTerms
from tests.din.support import scripted_secc
from tests.transport_session.helpers import TestPki

__all__ = ["ALL_DC", "Pkis", "iso2_evcc_tls", "iso2_secc_tls", "offer", "scripted_din"]

ALL_DC = (NS_ISO20_DC, NS_ISO2, NS_DIN)
"""What a DC EV of the CLI's default (iso20,iso2,din) offers, most preferred first."""
_VERSIONS = {NS_ISO20_AC: (1, 0), NS_ISO20_DC: (1, 0), NS_ISO2: (2, 0), NS_DIN: (2, 0)}
_ENV = DIN.envelope


@dataclass(frozen=True)
class Pkis:
    """The -20 and the -2 test PKI."""

    iso20: TestPki
    iso2: TestPki


def iso2_secc_tls(pki: TestPki) -> TlsConfig:
    """The SECC's ISO 15118-2 TLS 1.2 identity (server authentication only)."""
    files = pki.layout[Entity.SECC_LEAF]
    return TlsConfig(certificate_chain=files.chain_pem, private_key=files.key_pem, mode=TlsMode.ISO2)


def iso2_evcc_tls(pki: TestPki) -> TlsConfig:
    """An ISO 15118-2 EV's TLS: trusts the -2 V2G root."""
    return TlsConfig(trust_roots=tuple(pki.layout.roots(Entity.V2G_ROOT)), mode=TlsMode.ISO2)


def offer(namespaces: Sequence[str], *, minor: int = 0) -> supportedAppProtocolReq:
    """An EV's SupportedAppProtocolReq offering ``namespaces`` in priority order, each in its own version (the
    -2 entry is hand-made: this library's EV cannot offer -2 until its sessions exist)."""
    return supportedAppProtocolReq(
        app_protocol=tuple(
            AppProtocol(
                protocol_namespace=ns,
                version_number_major=_VERSIONS[ns][0],
                version_number_minor=_VERSIONS[ns][1] + minor,
                schema_id=10 + i,
                priority=i,
            )
            for i, ns in enumerate(namespaces, start=1)
        )
    )


async def scripted_din(
    requests: Sequence[Any], *, terms: ConnectionTerms | None, secc: SeccConfig | None = None
) -> tuple[list[Any], SessionOutcome]:
    """:func:`tests.din.support.scripted_secc` under ``terms`` with this module's SupportedAppProtocol offer; the
    SECC speaks DIN 70121 only unless ``secc`` says otherwise."""
    config = secc or SeccConfig(protocols=(NS_DIN,))
    return await scripted_secc(requests, secc=config, sap=offer((NS_DIN,)), terms=terms)
