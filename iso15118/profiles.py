"""Every protocol generation this library speaks, as session profiles keyed by their namespaces.

The session core is generic; :data:`PROFILES` is what a runtime hands to
:class:`~iso15118.session.config.SessionConfig` so that SupportedAppProtocol can switch a connection to the
negotiated generation, and :data:`OFFERS` what an SECC can select from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Final

from iso15118.config import EvccConfig, SeccConfig
from iso15118.decisions import EvccLogic, SeccLogic
from iso15118.din.logic import DinEvcc, DinSecc
from iso15118.din.profile import DIN
from iso15118.din.profile import OFFER as DIN_OFFER
from iso15118.errors import ConfigError
from iso15118.iso2.logic import Iso2Evcc, Iso2Secc
from iso15118.iso2.pnc import Iso2Pnc
from iso15118.iso2.profile import ISO2
from iso15118.iso2.profile import OFFER as ISO2_OFFER
from iso15118.iso20.logic import Iso20Evcc, Iso20Secc
from iso15118.iso20.pnc import PncVerifier
from iso15118.iso20.profile import AC_NAMESPACES, DC_NAMESPACES, ISO20
from iso15118.iso20.profile import OFFERS as ISO20_OFFERS
from iso15118.session.config import SessionConfig
from iso15118.session.profile import Profile
from iso15118.session.sap import Offer

__all__ = [
    "EVCC_LOGIC",
    "OFFERS",
    "PROFILES",
    "SECC_LOGIC",
    "Pnc",
    "PncTrust",
    "evcc_logic",
    "secc_logic",
    "session_config",
]

PROFILES: Final[Mapping[str, Profile]] = MappingProxyType(
    {
        **{namespace: ISO20 for namespace in (*AC_NAMESPACES, *DC_NAMESPACES)},
        DIN_OFFER.namespace: DIN,
        ISO2_OFFER.namespace: ISO2,
    }
)
"""Namespace (and accepted spellings) -> profile."""

OFFERS: Final[Mapping[str, Offer]] = MappingProxyType(
    {**ISO20_OFFERS, DIN_OFFER.namespace: DIN_OFFER, ISO2_OFFER.namespace: ISO2_OFFER}
)
"""Namespace -> what an SECC accepts for it in SupportedAppProtocol (major version, spellings)."""


def session_config(base: SessionConfig | None = None) -> SessionConfig:
    """``base`` (default: the standard's settings) speaking every generation of :data:`PROFILES`."""
    return replace(base or SessionConfig(), profiles=PROFILES)


@dataclass(frozen=True, slots=True, kw_only=True)
class PncTrust:
    """The Plug & Charge checks of an SECC that serves several generations, one per generation: -20's contract
    verifier and -2's (their PKIs differ: secp521r1/Ed448 against secp256r1)."""

    iso20: PncVerifier | None = None
    iso2: Iso2Pnc | None = None


Pnc = PncVerifier | Iso2Pnc | PncTrust
"""What a runtime hands the SECC decisions for Plug & Charge: one generation's checks, or a :class:`PncTrust`."""


def _iso20(pnc: Pnc | None) -> PncVerifier | None:
    return pnc.iso20 if isinstance(pnc, PncTrust) else pnc if isinstance(pnc, PncVerifier) else None


def _iso2(pnc: Pnc | None) -> Iso2Pnc | None:
    return pnc.iso2 if isinstance(pnc, PncTrust) else pnc if isinstance(pnc, Iso2Pnc) else None


SeccFactory = Callable[[SeccConfig, Pnc | None], SeccLogic]
EvccFactory = Callable[[EvccConfig], EvccLogic]

SECC_LOGIC: Final[Mapping[Profile, SeccFactory]] = MappingProxyType(
    {
        ISO20: lambda config, pnc: Iso20Secc(config, _iso20(pnc)),
        DIN: lambda config, pnc: DinSecc(config),  # DIN 70121 has no Plug & Charge
        ISO2: lambda config, pnc: Iso2Secc(config, _iso2(pnc)),
    }
)
"""Profile -> how its SECC decisions are made for a configuration (and the PnC checks of its generation)."""

EVCC_LOGIC: Final[Mapping[Profile, EvccFactory]] = MappingProxyType({ISO20: Iso20Evcc, DIN: DinEvcc, ISO2: Iso2Evcc})
"""Profile -> how its EVCC decisions are made for a configuration."""


def secc_logic(profile: Profile, config: SeccConfig, pnc: Pnc | None = None) -> SeccLogic:
    """The SECC decisions of a profile."""
    factory = SECC_LOGIC.get(profile)
    if factory is None:
        raise ConfigError(f"no SECC decisions for {profile.name}")
    return factory(config, pnc)


def evcc_logic(profile: Profile, config: EvccConfig) -> EvccLogic:
    """The EVCC decisions of a profile."""
    factory = EVCC_LOGIC.get(profile)
    if factory is None:
        raise ConfigError(f"no EVCC decisions for {profile.name}")
    return factory(config)
