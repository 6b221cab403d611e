"""Which protocol generations a scenario's virtual truck and charger speak: the ``[protocols]`` table.

Owns :class:`ProtocolSettings` and :func:`standards_from` (the names ``iso20``, ``iso2``, ``din`` of the command
line's ``--protocols`` options -> :class:`~iso15118.transport.generations.Standard`). The physics does not read
them; :mod:`harness.virtual.generations` turns them into what each side offers and refuses what a scenario
cannot run on them (DIN 70121 on AC, a discharge on anything but ISO 15118-20).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from iso15118.errors import ConfigError
from iso15118.transport.generations import Standard

__all__ = ["PROTOCOL_NAMES", "Iso2Transport", "ProtocolSettings", "WithoutBpt", "standards_from"]

PROTOCOL_NAMES: Final = tuple(str(s) for s in Standard)
"""``iso20``, ``iso2``, ``din``: the names the command line and the scenario files use."""


class WithoutBpt(StrEnum):
    """What to do with a scenario that discharges the truck when the protocol that will run has no BPT."""

    REFUSE = "refuse"
    """Refuse to run it, naming why (the default)."""
    CHARGE_ONLY = "charge-only"
    """Run it with the truck's charge port charging only, and say so in the report."""


class Iso2Transport(StrEnum):
    """What the truck asks for in SDP when ISO 15118-2 is its most preferred protocol (network links)."""

    TLS = "tls"
    """TLS 1.2 with the -2 profile (the charger's -2 certificate checked)."""
    TCP = "tcp"
    """Plain TCP (what an EIM-only -2 EV commonly asks for)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolSettings:
    """The truck's offer (most preferred first), the charger's protocols, and the two choices above. The defaults
    are what the virtual bench always ran: ISO 15118-20 on both sides."""

    ev: tuple[Standard, ...] = (Standard.ISO20,)
    charger: tuple[Standard, ...] = (Standard.ISO20,)
    without_bpt: WithoutBpt = WithoutBpt.REFUSE
    iso2_transport: Iso2Transport = Iso2Transport.TLS


def standards_from(names: str | Sequence[str], option: str) -> tuple[Standard, ...]:
    """``"iso20,iso2"`` or ``["iso20", "iso2"]`` -> the generations, in that order; a ConfigError naming
    ``option`` for an empty list, an unknown name or one named twice."""
    items = names.split(",") if isinstance(names, str) else list(names)
    cleaned = [str(n).strip().lower() for n in items]
    if not cleaned or any(not n for n in cleaned):
        raise ConfigError(f"{option}: expected comma-separated protocol names ({', '.join(PROTOCOL_NAMES)})")
    for name in cleaned:
        if name not in PROTOCOL_NAMES:
            raise ConfigError(f"{option}: unknown protocol {name!r} (known: {', '.join(PROTOCOL_NAMES)})")
        if cleaned.count(name) > 1:
            raise ConfigError(f"{option}: {name} is named twice")
    return tuple(Standard(n) for n in cleaned)
