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

from harness.protocols import check_protocols, split_names
from iso15118.transport.generations import Standard

__all__ = ["Iso2Transport", "ProtocolSettings", "WithoutBpt", "standards_from"]


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
    """``"iso20,iso2"`` or ``["iso20", "iso2"]`` -> the generations, in that order; the command line's checks
    (:func:`harness.protocols.check_protocols`: a ConfigError naming ``option`` for an empty list, an unknown
    name or one named twice)."""
    items = split_names(names) if isinstance(names, str) else tuple(str(n).strip().lower() for n in names)
    return tuple(Standard(n) for n in check_protocols(items, option))
