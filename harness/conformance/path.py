"""The default session as the tester walks it, read from the library's sequence tables, and the message kinds.

The tester does not list any sequence itself: :func:`session_path` follows the SupportedAppProtocol table, then
the sequence table of the case's protocol (:class:`~harness.conformance.protocol.Protocol`) for the session's
energy family, from the profile's initial state:

* in each state the request that moves the session forward is the one with a transition to the nearest later
  state (so -20's SessionSetup goes on to AuthorizationSetup, not to a resumption's ChargeParameterDiscovery),
  leaving out the transitions the default session does not take (-2's Contract payment); requests that end the
  session (SessionStop) are left for the end;
* a state that admits a charge-loop request is the loop: its hop is repeated as often as a step says, and the
  request that leaves it is the EV's stop (PowerDelivery(Stop));
* in DIN 70121 and -2 a request that keeps its state (PreCharge, a value-added ServiceDetail) is a *planned* hop
  before the one that moves on: the tester EV sends it when the library EV plans it (-20 requests say Ongoing
  themselves, so -20 has none);
* in the last state, every request it admits again and again (the DC welding detection) comes before the one
  that ends the session.

A hop is repeated while the EV or the SECC says ``Ongoing`` (authorization, schedule, cable check, precharge,
welding detection); that is the runners' business. The helpers below name -20 message kinds for the -20 rules.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any, Final

from harness.conformance.proto_iso20 import ISO20_PROTOCOL
from harness.conformance.protocol import Protocol
from iso15118.constants import NS_ISO20_AC, NS_ISO20_DC
from iso15118.session.context import CoreState
from iso15118.session.profile import Rule, Stream, Transition
from iso15118.session.sap import SAP
from iso15118.session.selection import EnergyFamily, Selection

__all__ = [
    "NAMESPACE",
    "Hop",
    "kind_of",
    "path_requirements",
    "response_kind",
    "resumed_at",
    "segment",
    "selection_of",
    "session_path",
    "side_kinds",
]

NAMESPACE: Final = {EnergyFamily.AC: NS_ISO20_AC, EnergyFamily.DC: NS_ISO20_DC}
"""The -20 namespace of each energy family."""
ENDED: Final = CoreState.ENDED


@dataclass(frozen=True, slots=True)
class Hop:
    """One request of the default session, in the state it is sent in."""

    kind: str
    state: StrEnum
    requirement: str
    """The table row that admits the request in this state."""
    loop: bool = False
    """The charge loop: sent as often as the step says."""
    ends_loop: bool = False
    """Leaves the charge loop: the EV has decided to stop."""
    optional: bool = False
    """The last state admits it again and again before the end (DC welding detection): the EV may send it."""
    planned: bool = False
    """It keeps the state (DIN and -2): sent when the library EV plans it, as often as it plans it."""


def kind_of(message: Any) -> str | None:
    """The kind of a SupportedAppProtocol or -20 message (None for anything else)."""
    return ISO20_PROTOCOL.kind_of(message)


def response_kind(kind: str) -> str:
    """The response kind that answers a SupportedAppProtocol or -20 request kind."""
    return ISO20_PROTOCOL.response_kind(kind)


def selection_of(family: EnergyFamily) -> Selection:
    """The selection a -20 session of ``family`` starts with."""
    return ISO20_PROTOCOL.selection(family)


def _rules(protocol: Protocol, state: StrEnum, kind: StrEnum, selection: Selection) -> tuple[Rule, ...]:
    table = protocol.profile.table
    return tuple(r for r in table.rows.get((state, kind), ()) if table.guards[r.guard](selection, None))


def _ends(rule: Rule) -> bool:
    return any(t.target is ENDED for t in rule.after)


def _stays(rule: Rule) -> bool:
    return all(t.target is None for t in rule.after)


def _forward(
    protocol: Protocol, state: StrEnum, kinds: tuple[StrEnum, ...], selection: Selection
) -> tuple[StrEnum, Rule, Transition]:
    """The request that moves the session on from ``state`` (ValueError in the last state)."""
    order = {s: index for index, s in enumerate(type(protocol.profile.initial_state))}
    here = order[state]
    options = [
        (order[t.target], kind, rule, t)
        for kind in kinds
        for rule in _rules(protocol, state, kind, selection)
        if not _ends(rule)
        for t in rule.after
        if t.target in order and order[t.target] > here and t.condition not in protocol.avoided
    ]
    _order, kind, rule, transition = min(options, key=lambda o: o[0])
    return kind, rule, transition


@cache
def session_path(family: EnergyFamily, protocol: Protocol = ISO20_PROTOCOL) -> tuple[Hop, ...]:
    """The default session of ``family`` (see the module docstring), SupportedAppProtocol first."""
    hops = [
        Hop(str(kind), SAP.initial_state, rule.requirement)
        for kind in SAP.table.kinds_in(SAP.initial_state)
        for rule in SAP.table.rows[(SAP.initial_state, kind)]
    ]
    table = protocol.profile.table
    selection = protocol.selection(family)
    loops = protocol.profile.loop_kinds()
    state: StrEnum = protocol.profile.initial_state
    while True:
        kinds = table.kinds_in(state, selection)
        looping = [k for k in kinds if k in loops]
        for kind in looping:
            hops.append(Hop(str(kind), state, _rules(protocol, state, kind, selection)[0].requirement, loop=True))
        others = tuple(k for k in kinds if k not in loops)
        try:
            kind, rule, transition = _forward(protocol, state, others, selection)
        except ValueError:
            break
        if protocol.stays_by_plan and not looping:
            stays = [(k, _rules(protocol, state, k, selection)) for k in others if k != kind]
            hops += [Hop(str(k), state, rules[0].requirement, planned=True) for k, rules in stays if _stays(rules[0])]
        hops.append(Hop(str(kind), state, rule.requirement, ends_loop=bool(looping)))
        assert transition.target is not None
        state = transition.target
    # The last state: what it admits again and again, then the request that ends the session.
    rules = {kind: _rules(protocol, state, kind, selection) for kind in table.kinds_in(state, selection)}
    last = sorted(rules, key=lambda kind: any(_ends(r) for r in rules[kind]))
    hops += [
        Hop(str(kind), state, rules[kind][0].requirement, optional=not any(_ends(r) for r in rules[kind]))
        for kind in last
        if rules[kind]
    ]
    return tuple(hops)


def _index(path: tuple[Hop, ...], kind: str, *, past_loop: bool) -> int:
    first = next((i for i, hop in enumerate(path) if hop.loop), 0) if past_loop else 0
    for index in range(first, len(path)):
        if path[index].kind == kind:
            return index
    where = " after the charge loop" if past_loop else ""
    raise KeyError(f"{kind} is not in the default session{where}")


def segment(
    family: EnergyFamily,
    start: str | None = None,
    until: str | None = None,
    *,
    past_loop: bool = False,
    protocol: Protocol = ISO20_PROTOCOL,
) -> tuple[Hop, ...]:
    """The hops from ``start`` (None: the first) up to, not including, ``until`` (None: to the end).

    With ``past_loop`` both name the hops after the charge loop (PowerDelivery(Stop), not Start)."""
    path = session_path(family, protocol)
    begin = 0 if start is None else _index(path, start, past_loop=past_loop)
    end = len(path) if until is None else _index(path, until, past_loop=past_loop)
    return path[begin:end]


def path_requirements(family: EnergyFamily, protocol: Protocol = ISO20_PROTOCOL) -> tuple[str, ...]:
    """The requirements that put the default session's requests in order (the table rows it passes)."""
    return tuple(dict.fromkeys(hop.requirement for hop in session_path(family, protocol) if not hop.planned))


def resumed_at(family: EnergyFamily, protocol: Protocol = ISO20_PROTOCOL) -> str:
    """The request a resumed session goes on with: the table's state after SessionSetupRes OK_OldSessionJoined."""
    profile = protocol.profile
    state, kind = profile.initial_state, protocol.kinds("SessionSetupReq")
    selection = protocol.selection(family)
    rule = _rules(protocol, state, kind, selection)[0]
    joined = protocol.minimal("SessionSetupRes", bytes(8))
    element = protocol.body(joined)
    code = type(element.response_code)("OK_OldSessionJoined")
    joined = protocol.with_body(joined, dataclasses.replace(element, response_code=code))
    after = profile.table.next_state(state, rule, selection, None, joined)
    return next(hop.kind for hop in session_path(family, protocol) if hop.state == after and not hop.planned)


def side_kinds(stream: Stream, protocol: Protocol = ISO20_PROTOCOL) -> frozenset[str]:
    """The request kinds the table admits on a side stream."""
    return frozenset(str(kind) for (where, _state, kind) in protocol.profile.table.side if where is stream)
