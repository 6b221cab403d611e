"""Case constructors for ISO 15118-2 and DIN 70121, the generations whose messages travel in a ``V2G_Message``.

Every constructor takes the case's :class:`~harness.conformance.protocol.Protocol` and reads what it needs from
the library's sequence table of that generation (:mod:`~harness.conformance.path`): the default session, where a
request has no place (:func:`misplaced`), the charge-loop request, the response kind. Case IDs carry the
generation (``SECC-ISO2-SEQ-03``, ``EVCC-DIN-TIM-01``) and every case applies to its generation only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.conformance.cases.common import case
from harness.conformance.model import Case, Category, Need, Profile, SutRole, dc_profile
from harness.conformance.path import Hop, session_path
from harness.conformance.protocol import Generation, Protocol
from harness.conformance.scripts import ev_refused, loop_kind
from harness.conformance.steps import CLOSE_GRACE, ExpectClosed, Send, Walk
from iso15118.iso20.services import AC, DC
from iso15118.session.selection import EnergyFamily

__all__ = [
    "FAMILY_PROFILES",
    "closes_at",
    "env_case",
    "failed_closes",
    "loop_of",
    "misplaced",
    "path_rules",
    "prefix",
    "refusal",
    "sequence_rule",
]

FAMILY_PROFILES: Mapping[EnergyFamily, Profile] = {
    EnergyFamily.AC: Profile(family=EnergyFamily.AC, service=AC, offered_services=(AC,), evse_three_phase=True),
    EnergyFamily.DC: dc_profile(service=DC, offered=(DC,)),
}
"""The tester's session of each family: EIM (ExternalPayment), the charge service of that family alone; the
tester SECC's AC charger has three phases (it offers both -2 AC modes, as a field charger does)."""

_TAGS = {Generation.ISO2: "ISO2", Generation.DIN: "DIN"}


def prefix(role: SutRole, protocol: Protocol) -> str:
    """``SECC-ISO2``, ``EVCC-DIN``...: the start of the generation's case IDs for ``role``."""
    return f"{role.value.upper()}-{_TAGS[protocol.generation]}"


def sequence_rule(protocol: Protocol) -> str:
    """The rule a request out of sequence breaks: FAILED_SequenceError, then the session ends (-2 and DIN
    9.3 share it)."""
    if protocol.generation is Generation.ISO2:
        return "V2G2-538, V2G2-539"
    return "DIN 70121 9.3 (FAILED_SequenceError ends the session, as V2G2-538/539)"


def failed_closes(protocol: Protocol) -> str:
    """The rule an SECC's closing after a FAILED response is checked against."""
    return f"{protocol.label}: a FAILED response ends the session; ISO 15118-4: closed within 5 s"


def path_rules(protocol: Protocol, family: EnergyFamily) -> tuple[str, ...]:
    """The rows of the generation's table the default session passes (SupportedAppProtocol's are -20's)."""
    hops = session_path(family, protocol)
    return tuple(dict.fromkeys(h.requirement for h in hops if not h.planned and not protocol.is_sap(h.kind)))


def env_case(
    protocol: Protocol,
    case_id: str,
    title: str,
    sut: SutRole,
    category: Category,
    *steps: Any,
    profile: Profile | None = None,
    **how: Any,
) -> Case:
    """A case of ``protocol``'s generation (negative unless told); the profile defaults to its first family's. A
    DC session needs a SUT that does DC (``--capabilities``), as the -20 DC cases do."""
    profile = profile or FAMILY_PROFILES[next(iter(protocol.namespaces))]
    needs = frozenset(how.pop("needs", frozenset())) | ({Need.DC} if profile.family is EnergyFamily.DC else set())
    return case(
        case_id,
        title,
        sut,
        category,
        *steps,
        profile=profile,
        needs=needs,
        protocols=frozenset({protocol.generation}),
        **how,
    )


def refusal(
    protocol: Protocol,
    case_id: str,
    title: str,
    request: str,
    *,
    codes: tuple[str, ...],
    requirements: tuple[str, ...],
    category: Category,
    profile: Profile | None = None,
    after: str | None = None,
    loops: int = 0,
    fields: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    stimulus: str = "",
    closes: str = "",
) -> Case:
    """SUT = SECC: the default session up to ``after`` (the request itself unless told; ``loops`` charge loops on
    the way), then ``request`` with ``fields``: its response carries one of ``codes`` and the SECC closes."""
    where = after or request
    response = protocol.response_kind(request)
    closes = closes or failed_closes(protocol)
    return env_case(
        protocol,
        case_id,
        title,
        SutRole.SECC,
        category,
        Walk(until=where, loops=loops),
        *ev_refused(
            Send(kind=request, fields=fields or {}, context=context or {}),
            codes,
            protocol=protocol,
            closes=closes,
        ),
        requirements=(*requirements, closes),
        profile=profile,
        stimulus=stimulus or f"{request} where the SECC expects {where}",
        expected=f"{response} with {' or '.join(codes)}, then the SECC closes the connection",
    )


def misplaced(protocol: Protocol, family: EnergyFamily) -> tuple[tuple[str, Hop], ...]:
    """Every request of the default session after SessionSetup with the place where it is sent out of sequence:
    (request kind, the hop it is sent instead of). The place is the last one before the request's own where the
    library's table does not admit it (the EV skips what comes before), else the first one after it (the EV goes
    back). Planned hops and the charge loop are not used as places (the walk reaches them only when the EV plans
    them)."""
    path = session_path(family, protocol)
    table = protocol.profile.table
    selection = protocol.selection(family)
    start = next(i for i, hop in enumerate(path) if hop.kind == "SessionSetupReq") + 1
    found: dict[str, Hop] = {}
    for index in range(start, len(path)):
        hop = path[index]
        if hop.kind in found or hop.kind == "SessionStopReq":
            continue
        kind = protocol.kinds(hop.kind)
        places = [
            (i, p)
            for i, p in enumerate(path[start:], start=start)
            if not (p.planned or p.loop or p.ends_loop or p.optional) and kind not in table.kinds_in(p.state, selection)
        ]
        before = [p for i, p in places if i < index]
        after = [p for i, p in places if i > index]
        if before or after:
            found[hop.kind] = before[-1] if before else after[0]
    return tuple(found.items())


def closes_at(timer: str, requirement: str, what: str) -> ExpectClosed:
    """The SUT closes the connection when the run's ``timer`` expires (not before), within the 5 s ISO 15118-4
    allows for closing."""
    return ExpectClosed(timer=timer, grace=CLOSE_GRACE, lower=True, requirement=requirement, what=what)


def loop_of(protocol: Protocol, family: EnergyFamily) -> str:
    """The generation's charge-loop request of ``family``."""
    return loop_kind(family, protocol)
