"""The default session as the tester walks it, read from the library's sequence tables, and the message kinds.

The tester does not list the -20 sequence itself: :func:`session_path` follows the SupportedAppProtocol table,
then :data:`~iso15118.iso20.table.TABLE` for the session's energy family, from the profile's initial state:

* in each state the request that moves the session forward is the one with a transition to the nearest later
  state (so SessionSetup goes on to AuthorizationSetup, not to a resumption's ChargeParameterDiscovery);
  requests that end the session (SessionStop) are left for the end;
* a state that admits a charge-loop request (:meth:`~iso15118.iso20.profile.Iso20Profile.loop_kinds`) is the
  loop: its hop is repeated as often as a step says, and the request that leaves it is the EV's stop
  (PowerDelivery(Stop));
* in the last state, every request it admits again and again (the DC welding detection) comes before the one
  that ends the session.

A hop is repeated while the EV or the SECC says ``Ongoing`` (authorization, schedule, cable check, precharge,
welding detection); that is the runners' business. The helpers below name message kinds for both profiles
(SupportedAppProtocol and -20) so nothing in the harness derives a name from another.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any, Final

from iso15118.constants import NS_ISO20_AC, NS_ISO20_DC
from iso15118.iso20.kinds import CLASS_OF, RESPONSE_OF, Kind
from iso15118.iso20.profile import ISO20
from iso15118.iso20.states import ENDED, State
from iso15118.iso20.table import TABLE
from iso15118.messages import iso20 as m
from iso15118.messages.app_protocol import supportedAppProtocolReq, supportedAppProtocolRes
from iso15118.session.profile import Rule, Stream, Transition
from iso15118.session.sap import SAP, SapKind
from iso15118.session.selection import EnergyFamily, Selection

__all__ = [
    "NAMESPACE",
    "Hop",
    "class_of",
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

_SAP_CLASSES: Final[dict[str, type]] = {
    SapKind.supportedAppProtocolReq: supportedAppProtocolReq,
    SapKind.supportedAppProtocolRes: supportedAppProtocolRes,
}
_ORDER: Final = {state: index for index, state in enumerate(State)}


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


def kind_of(message: Any) -> str | None:
    """The kind of a SupportedAppProtocol or -20 message (None for anything else)."""
    found = SAP.kind_of(message) or ISO20.kind_of(message)
    return None if found is None else str(found)


def response_kind(kind: str) -> str:
    """The response kind that answers a request kind (the profiles' RESPONSE_OF)."""
    if kind in SapKind.__members__:
        return str(SAP.response_of(SapKind(kind)))
    return str(RESPONSE_OF[Kind(kind)])


def class_of(kind: str) -> type:
    """The message class of a kind."""
    return _SAP_CLASSES[kind] if kind in _SAP_CLASSES else CLASS_OF[Kind(kind)]


def selection_of(family: EnergyFamily) -> Selection:
    """The selection a -20 session of ``family`` starts with."""
    return ISO20.selection_for(NAMESPACE[family])


def _rules(state: StrEnum, kind: StrEnum, selection: Selection) -> tuple[Rule, ...]:
    return tuple(r for r in TABLE.rows.get((state, kind), ()) if TABLE.guards[r.guard](selection, None))


def _ends(rule: Rule) -> bool:
    return any(t.target is ENDED for t in rule.after)


def _forward(state: StrEnum, kinds: tuple[StrEnum, ...], selection: Selection) -> tuple[StrEnum, Rule, Transition]:
    """The request that moves the session on from ``state`` (ValueError in the last state)."""
    here = _ORDER[State(state)]
    options = [
        (_ORDER[State(t.target)], kind, rule, t)
        for kind in kinds
        for rule in _rules(state, kind, selection)
        if not _ends(rule)
        for t in rule.after
        if t.target is not None and t.target is not ENDED and _ORDER[State(t.target)] > here
    ]
    _order, kind, rule, transition = min(options, key=lambda o: o[0])
    return kind, rule, transition


@cache
def session_path(family: EnergyFamily) -> tuple[Hop, ...]:
    """The default -20 session of ``family`` (see the module docstring), SupportedAppProtocol first."""
    hops = [
        Hop(str(kind), SAP.initial_state, rule.requirement)
        for kind in SAP.table.kinds_in(SAP.initial_state)
        for rule in SAP.table.rows[(SAP.initial_state, kind)]
    ]
    selection = selection_of(family)
    loops = ISO20.loop_kinds()
    state: StrEnum = ISO20.initial_state
    while True:
        kinds = TABLE.kinds_in(state, selection)
        looping = [k for k in kinds if k in loops]
        for kind in looping:
            hops.append(Hop(str(kind), state, _rules(state, kind, selection)[0].requirement, loop=True))
        others = tuple(k for k in kinds if k not in loops)
        try:
            kind, rule, transition = _forward(state, others, selection)
        except ValueError:
            break
        hops.append(Hop(str(kind), state, rule.requirement, ends_loop=bool(looping)))
        assert transition.target is not None
        state = transition.target
    # The last state: what it admits again and again, then the request that ends the session.
    rules = {kind: _rules(state, kind, selection) for kind in TABLE.kinds_in(state, selection)}
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
    family: EnergyFamily, start: str | None = None, until: str | None = None, *, past_loop: bool = False
) -> tuple[Hop, ...]:
    """The hops from ``start`` (None: the first) up to, not including, ``until`` (None: to the end).

    With ``past_loop`` both name the hops after the charge loop (PowerDelivery(Stop), not Start)."""
    path = session_path(family)
    begin = 0 if start is None else _index(path, start, past_loop=past_loop)
    end = len(path) if until is None else _index(path, until, past_loop=past_loop)
    return path[begin:end]


def path_requirements(family: EnergyFamily) -> tuple[str, ...]:
    """The requirements that put the default session's requests in order (the table rows it passes)."""
    return tuple(dict.fromkeys(hop.requirement for hop in session_path(family)))


def resumed_at(family: EnergyFamily) -> str:
    """The request a resumed session goes on with: the table's state after SessionSetupRes OK_OldSessionJoined."""
    state, kind = ISO20.initial_state, Kind.SessionSetupReq
    selection = selection_of(family)
    rule = _rules(state, kind, selection)[0]
    joined = m.SessionSetupRes(
        header=m.MessageHeader(session_id=bytes(8), time_stamp=0),
        response_code=m.ResponseCode.OK_OldSessionJoined,
        evse_id="",
    )
    after = TABLE.next_state(state, rule, selection, None, joined)
    return next(hop.kind for hop in session_path(family) if hop.state == after)


def side_kinds(stream: Stream) -> frozenset[str]:
    """The request kinds the table admits on a side stream."""
    return frozenset(str(kind) for (where, _state, kind) in TABLE.side if where is stream)
