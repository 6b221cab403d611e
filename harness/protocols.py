"""Protocol and energy names of `v2g secc` / `v2g evcc` -> SupportedAppProtocol namespaces and energy services.

The command line names protocols (``iso20``, ``iso2``, ``din``) and energy families (``ac``, ``dc``); the
configurations hold namespaces and service IDs. ISO 15118-20 has one namespace per energy family, so the EV's
``iso20`` is the namespace of its ``energy`` and the charger's ``iso20`` is one namespace per family it offers.
ISO 15118-2 and DIN 70121 are named already, so that asking for them is a clear refusal rather than an unknown
word; they are not implemented yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Final

from iso15118.config import EvccConfig, SeccConfig
from iso15118.constants import NS_ISO20_AC, NS_ISO20_DC
from iso15118.errors import ConfigError
from iso15118.iso20.services import FAMILY_SERVICES, mode_of_service
from iso15118.profiles import OFFERS, PROFILES
from iso15118.session.selection import EnergyFamily

__all__ = [
    "ENERGIES",
    "PROTOCOLS",
    "check_energies",
    "check_protocols",
    "evcc_protocols",
    "family_of",
    "secc_offer",
    "split_names",
]

PROTOCOLS: Final = ("iso20", "iso2", "din")
"""Protocol names the command line knows, newest first."""
ENERGIES: Final = {"ac": EnergyFamily.AC, "dc": EnergyFamily.DC}
_NOT_YET: Final = {"iso2": "ISO 15118-2", "din": "DIN 70121"}
_LATER: Final = "it comes with an issue after issue 12, -20 DC"
_ISO20: Final = {EnergyFamily.AC: NS_ISO20_AC, EnergyFamily.DC: NS_ISO20_DC}


def split_names(text: str) -> tuple[str, ...]:
    """``"iso20, ISO2"`` -> ``("iso20", "iso2")`` (an argparse type; the names are checked later)."""
    return tuple(part.strip().lower() for part in text.split(","))


def _unique(names: Sequence[str], option: str) -> None:
    if not names or any(not n for n in names):
        raise ConfigError(f"{option}: expected comma-separated names, got {','.join(names)!r}")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"{option}: {twice[0]} is named twice")


def check_protocols(names: Sequence[str], option: str = "--protocols") -> tuple[str, ...]:
    """The protocol names, refused when unknown, repeated, or not implemented yet."""
    _unique(names, option)
    for name in names:
        if name not in PROTOCOLS:
            raise ConfigError(f"{option}: unknown protocol {name!r} (known: {', '.join(PROTOCOLS)})")
        if name in _NOT_YET:
            raise ConfigError(
                f"{option}: {name} ({_NOT_YET[name]}) is not implemented yet: {_LATER}; this version speaks iso20"
            )
    return tuple(names)


def check_energies(names: Sequence[str], option: str = "--energy") -> tuple[EnergyFamily, ...]:
    """The energy families named, refused when unknown or repeated."""
    _unique(names, option)
    bad = [n for n in names if n not in ENERGIES]
    if bad:
        raise ConfigError(f"{option}: unknown energy {bad[0]!r} (known: {', '.join(ENERGIES)})")
    return tuple(ENERGIES[n] for n in names)


def family_of(namespace: str) -> EnergyFamily | None:
    """The energy family a namespace fixes (-20 AC or DC), None for an unknown namespace."""
    profile = PROFILES.get(namespace)
    return None if profile is None else profile.selection_for(namespace).family


def _spoken(namespaces: Sequence[str], table: str) -> None:
    for namespace in namespaces:
        if namespace not in OFFERS:
            raise ConfigError(f"[{table}] protocols: {namespace!r} is not spoken here (known: {', '.join(OFFERS)})")


def evcc_protocols(config: EvccConfig, names: Sequence[str] | None) -> EvccConfig:
    """The EV's offer: ``names`` in priority order (None: as configured), each for the EV's energy family."""
    if names is not None:
        check_protocols(names)
        # Only iso20 passes the check; -2 and DIN will add their namespaces here.
        config = replace(config, protocols=tuple(_ISO20[config.energy] for _ in names))
    _spoken(config.offered_protocols, "evcc")
    for namespace in config.offered_protocols:
        family = family_of(namespace)
        if family is not None and family is not config.energy:
            raise ConfigError(f"[evcc] protocols: {namespace} is a {family} namespace, but energy is {config.energy}")
    return config


def secc_offer(config: SeccConfig, names: Sequence[str] | None, energies: Sequence[EnergyFamily] | None) -> SeccConfig:
    """The charger's offer: ``names`` (default iso20) for each energy family in ``energies``, the services
    narrowed to those families. Without ``energies``, the configured namespaces whose family has a service
    (``services = ["ac_bpt"]`` is an AC charger); a family asked for without a service is refused."""
    _spoken(config.protocols, "secc")
    if names is not None:
        check_protocols(names)
    if energies is None:
        configured = dict.fromkeys(f for f in map(family_of, config.protocols) if f is not None)
        families = tuple(f for f in configured if any(_family_of_service(s) is f for s in config.services))
        if not families:
            raise ConfigError(f"[secc] services: none of the -20 {'/'.join(configured) or '?'} services is offered")
    else:
        families = tuple(energies)
    services = tuple(s for s in config.services if _family_of_service(s) in families)
    for family in families:
        if not any(_family_of_service(s) is family for s in services):
            have = ", ".join(str(mode_of_service(s) or s) for s in config.services) or "none"
            raise ConfigError(f"--energy {family.lower()}: [secc] services has no {family} service ({have})")
    return replace(config, protocols=tuple(_ISO20[f] for f in families), services=services)


def _family_of_service(service_id: int) -> EnergyFamily | None:
    return next((f for f, ids in FAMILY_SERVICES.items() if service_id in ids), None)
