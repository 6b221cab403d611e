"""Protocol and energy names of `v2g secc` / `v2g evcc` -> SupportedAppProtocol namespaces and energy services.

The command line names protocols (``iso20``, ``iso2``, ``din``) and energy families (``ac``, ``dc``); the
configurations hold namespaces and service IDs. ISO 15118-20 has one namespace per energy family, so the EV's
``iso20`` is the namespace of its ``energy`` and the charger's ``iso20`` is one namespace per family it offers.
ISO 15118-2 has one namespace for AC and DC (the charger's AC and DC services say which it offers); DIN 70121 is
DC only.

What is not valid for the energy or the direction asked for is left out of the offer, and said so when it was named
explicitly (the notes returned with the configuration), as long as something is left; when nothing is, it is
refused naming why:

* DIN 70121 is DC only: an AC EV (or a charger offering AC only) does not offer it.
* Discharging (``--mode discharge``, ``[ev] direction = "discharge"``) is ISO 15118-20 BPT only: such an EV offers
  iso20 and leaves ISO 15118-2 and DIN 70121 out -- a charger choosing them could only charge the car, the
  opposite of what was asked. An EV told to discharge with iso2 and/or din only is a usage error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Final

from iso15118.config import EvccConfig, SeccConfig
from iso15118.constants import NS_DIN, NS_ISO2, NS_ISO20_AC, NS_ISO20_DC
from iso15118.errors import ConfigError
from iso15118.iso20.services import FAMILY_SERVICES, mode_of_service
from iso15118.profiles import OFFERS, PROFILES
from iso15118.session.selection import EnergyFamily
from iso15118.transport.generations import STANDARD_NAMES, Standard, standard_of

__all__ = [
    "ENERGIES",
    "PROTOCOLS",
    "check_energies",
    "check_protocols",
    "describe_offer",
    "evcc_protocols",
    "family_of",
    "names_of",
    "secc_offer",
    "split_names",
]

PROTOCOLS: Final = tuple(str(s) for s in Standard)
"""Protocol names the command line knows, newest first: also the default offer of both ends."""
ENERGIES: Final = {"ac": EnergyFamily.AC, "dc": EnergyFamily.DC}
_ISO20: Final = {EnergyFamily.AC: NS_ISO20_AC, EnergyFamily.DC: NS_ISO20_DC}
_DC_ONLY: Final = "DIN 70121 is DC only"
_NO_BPT: Final = "discharging (BPT) is ISO 15118-20 only"


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
    """The protocol names, refused when unknown or repeated."""
    _unique(names, option)
    for name in names:
        if name not in PROTOCOLS:
            raise ConfigError(f"{option}: unknown protocol {name!r} (known: {', '.join(PROTOCOLS)})")
    return tuple(names)


def check_energies(names: Sequence[str], option: str = "--energy") -> tuple[EnergyFamily, ...]:
    """The energy families named, refused when unknown or repeated."""
    _unique(names, option)
    bad = [n for n in names if n not in ENERGIES]
    if bad:
        raise ConfigError(f"{option}: unknown energy {bad[0]!r} (known: {', '.join(ENERGIES)})")
    return tuple(ENERGIES[n] for n in names)


def family_of(namespace: str) -> EnergyFamily | None:
    """The energy family a namespace fixes (-20 AC or DC; DIN 70121: DC), None when it fixes none (-2: AC and
    DC) or is unknown."""
    if namespace == NS_DIN:
        return EnergyFamily.DC
    profile = PROFILES.get(namespace)
    return None if profile is None or namespace == NS_ISO2 else profile.selection_for(namespace).family


def names_of(namespaces: Sequence[str]) -> tuple[str, ...]:
    """The command-line names of ``namespaces``, in their order, each once (``iso20`` for both -20 families)."""
    found = (standard_of(ns) for ns in namespaces)
    return tuple(dict.fromkeys(str(s) for s in found if s is not None))


def _spoken(namespaces: Sequence[str], table: str) -> None:
    for namespace in namespaces:
        if namespace not in OFFERS:
            raise ConfigError(f"[{table}] protocols: {namespace!r} is not spoken here (known: {', '.join(OFFERS)})")


def _left_out(name: str, why: str) -> str:
    return f"{name} ({STANDARD_NAMES[Standard(name)]}) left out: {why}"


def evcc_protocols(
    config: EvccConfig, names: Sequence[str] | None, *, discharge: bool = False, default: bool = False
) -> tuple[EvccConfig, tuple[str, ...]]:
    """The EV's offer: ``names`` in priority order (None: as configured), each for the EV's energy family; DIN
    left out of an AC EV's offer and everything but iso20 out of a discharging EV's (see the module). ``default``:
    ``names`` is the default list, whose entries are left out without a note."""
    if names is not None:
        names = check_protocols(names)
        wanted = tuple(_ISO20[config.energy] if n == "iso20" else NS_ISO2 if n == "iso2" else NS_DIN for n in names)
    else:
        wanted = config.offered_protocols
    _spoken(wanted, "evcc")
    kept: list[str] = []
    notes: list[str] = []
    for namespace in wanted:
        family = family_of(namespace)
        standard = standard_of(namespace)
        if discharge and standard is not Standard.ISO20:
            notes.append(_left_out(str(standard), f"{_NO_BPT} (the EV is to discharge)"))
        elif family is not None and family is not config.energy:
            if standard is Standard.DIN:
                notes.append(_left_out("din", f"{_DC_ONLY} (the EV's energy is {config.energy}; --energy dc)"))
            else:
                energy = config.energy
                raise ConfigError(f"[evcc] protocols: {namespace} is a {family} namespace, but energy is {energy}")
        else:
            kept.append(namespace)
    if not kept:
        raise ConfigError("nothing to offer: " + "; ".join(notes))
    return replace(config, protocols=tuple(kept)), () if default else tuple(notes)


def secc_offer(
    config: SeccConfig, names: Sequence[str] | None, energies: Sequence[EnergyFamily] | None, *, default: bool = False
) -> tuple[SeccConfig, tuple[str, ...]]:
    """The charger's offer: ``names`` (None: the generations of the configured namespaces) for each energy family
    in ``energies``, the services narrowed to those families. Without ``energies``, the families of the configured
    -20 namespaces (both when there are none) that have a service (``services = ["ac_bpt"]`` is an AC charger); a
    family asked for without a service is refused. DIN 70121 is left out of an AC-only offer
    (said so unless ``names`` is the ``default`` list)."""
    _spoken(config.protocols, "secc")
    names = check_protocols(names) if names is not None else names_of(config.protocols)
    if energies is None:
        configured = dict.fromkeys(f for ns in config.protocols if ns != NS_DIN and (f := family_of(ns)) is not None)
        if not configured:
            configured = dict.fromkeys(EnergyFamily)
        families = tuple(f for f in configured if any(_family_of_service(s) is f for s in config.services))
        if not families:
            raise ConfigError(f"[secc] services: none of the {'/'.join(configured)} services is offered")
    else:
        families = tuple(energies)
    services = tuple(s for s in config.services if _family_of_service(s) in families)
    for family in families:
        if not any(_family_of_service(s) is family for s in services):
            have = ", ".join(str(mode_of_service(s) or s) for s in config.services) or "none"
            raise ConfigError(f"--energy {family.lower()}: [secc] services has no {family} service ({have})")
    protocols: list[str] = []
    notes: list[str] = []
    for name in names:
        if name == "iso20":
            protocols += [_ISO20[f] for f in families]
        elif name == "iso2":
            protocols.append(NS_ISO2)
        elif EnergyFamily.DC in families:
            protocols.append(NS_DIN)
        else:
            notes.append(_left_out("din", f"{_DC_ONLY} and this charger offers {'/'.join(families)} only"))
    if not protocols:
        raise ConfigError("nothing to offer: " + "; ".join(notes))
    return replace(config, protocols=tuple(protocols), services=services), () if default else tuple(notes)


def describe_offer(config: SeccConfig) -> str:
    """``iso20 AC, DC; iso2 AC, DC; din DC``: what a charger offers, per generation."""
    families = tuple(str(f) for f in dict.fromkeys(map(_family_of_service, config.services)) if f is not None)
    parts = []
    for name in names_of(config.protocols):
        if name == "iso20":
            mine = [str(family_of(ns)) for ns in config.protocols if standard_of(ns) is Standard.ISO20]
        else:
            mine = ["DC"] if name == "din" else list(families)
        parts.append(f"{name} {', '.join(mine)}")
    return "; ".join(parts)


def _family_of_service(service_id: int) -> EnergyFamily | None:
    return next((f for f, ids in FAMILY_SERVICES.items() if service_id in ids), None)
