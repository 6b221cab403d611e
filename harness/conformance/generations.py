"""The protocols the harness speaks, by generation, and which one a case runs in.

A case carries the generations it applies to (:attr:`~harness.conformance.model.Case.protocols`); a run speaks one
(``--protocol``, :attr:`~harness.conformance.context.RunConfig.protocol`) and runs the cases that apply to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from harness.conformance.model import Case
from harness.conformance.proto_envelope import DIN_PROTOCOL, ISO2_PROTOCOL
from harness.conformance.proto_iso20 import ISO20_PROTOCOL
from harness.conformance.protocol import Generation, Protocol

__all__ = ["PROTOCOLS", "protocol_for", "protocol_of"]

PROTOCOLS: Final[Mapping[Generation, Protocol]] = MappingProxyType(
    {Generation.ISO20: ISO20_PROTOCOL, Generation.ISO2: ISO2_PROTOCOL, Generation.DIN: DIN_PROTOCOL}
)


def protocol_of(name: str) -> Protocol:
    """The protocol of a generation name (``iso20``, ``iso2``, ``din``); KeyError names the known ones."""
    try:
        return PROTOCOLS[Generation(name)]
    except ValueError:
        raise KeyError(f"unknown protocol {name!r}; known: {', '.join(g.value for g in Generation)}") from None


def protocol_for(case: Case, wanted: str) -> Protocol:
    """The protocol ``case`` runs in: the run's when the case applies to it, else the case's only one (a case
    for one generation run on its own, e.g. by the self-tests); ValueError when that is ambiguous."""
    if Generation(wanted) in case.protocols:
        return protocol_of(wanted)
    if len(case.protocols) == 1:
        return PROTOCOLS[next(iter(case.protocols))]
    names = ", ".join(sorted(g.value for g in case.protocols))
    raise ValueError(f"{case.id} applies to {names}, not to {wanted}")
