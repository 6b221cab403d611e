"""Negotiation across generations: what each end may offer or select over one connection, and the record of it.

The EVCC offers its protocols in priority order (:attr:`~iso15118.config.EvccConfig.offered_protocols`), keeping
only those the connection's transport is valid for (:func:`evcc_offers`). The SECC selects among what it speaks
(:attr:`~iso15118.config.SeccConfig.protocols`), what energy it can deliver (a DC namespace needs a DC-capable
controller) and what the transport is valid for (:func:`secc_negotiate`), by the EV's priority [V2G20-169] or,
with ``protocol_preference = "secc"``, by its own order. Either end's choice is a :class:`Negotiation`: what was
offered, what was not offered or not selectable and why, what was chosen, the tolerant deviation it needs, and --
never silently -- why an ISO 15118-20 offer was not the one chosen. Both runners log it and put it in the
session's outcome (:attr:`~iso15118.transport.driver.SessionOutcome.negotiation`).

Which transport a generation is valid for is :meth:`~iso15118.transport.policy.TransportPolicy.admits`. A
connection's :class:`ConnectionTerms` carry the transport and the policy; links without terms (in memory) are
not judged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from iso15118.config import SeccConfig
from iso15118.errors import ConfigError
from iso15118.messages.app_protocol import AppProtocol, supportedAppProtocolReq, supportedAppProtocolRes
from iso15118.profiles import OFFERS, PROFILES
from iso15118.session.config import Role
from iso15118.session.profile import Profile
from iso15118.session.sap import Offer, Preference, answer_sap
from iso15118.session.selection import EnergyFamily
from iso15118.transport.generations import Standard, Transport, describe_namespace, standard_of
from iso15118.transport.policy import Deviation, TransportPolicy

__all__ = ["ConnectionTerms", "Negotiation", "Offered", "evcc_negotiation", "evcc_offers", "secc_negotiate"]

_NOT_SPOKEN: Final = "not spoken by this library"


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionTerms:
    """What one connection runs over and under which policy; ``notes``: quirks used to reach it (e.g. a fixed
    TCP port), for the session's outcome."""

    transport: Transport
    policy: TransportPolicy
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Offered:
    """One protocol of the EV's SupportedAppProtocolReq."""

    namespace: str
    version: tuple[int, int]
    priority: int

    @property
    def name(self) -> str:
        return describe_namespace(self.namespace)


@dataclass(frozen=True, slots=True, kw_only=True)
class Negotiation:
    """How one end negotiated: ``offered`` (the EV's offer as sent or received), ``withheld`` (EVCC: configured
    but not offered; SECC: offered but not selectable -- each with why), the ``chosen`` namespace and the response
    code, the tolerant ``deviation`` the choice needs, and ``downgrade``: why ISO 15118-20 was offered (EVCC:
    configured) ahead of the chosen protocol and is not the one chosen."""

    role: Role
    transport: Transport | None
    offered: tuple[Offered, ...]
    withheld: tuple[tuple[str, str], ...] = ()
    chosen: str | None = None
    response_code: str | None = None
    deviation: Deviation | None = None
    downgrade: str | None = None

    @property
    def chosen_name(self) -> str | None:
        """The chosen protocol's name (``ISO 15118-20 DC``, ``DIN 70121``...)."""
        return None if self.chosen is None else describe_namespace(self.chosen)

    def describe(self) -> str:
        """One line for logs and summaries."""
        over = f" over {self.transport}" if self.transport is not None else ""
        offered = ", ".join(f"{o.name} {o.version[0]}.{o.version[1]} (priority {o.priority})" for o in self.offered)
        text = f"SupportedAppProtocol{over}: offered {offered or 'nothing'}; "
        text += (
            f"chose {self.chosen_name} ({self.response_code})" if self.chosen else f"no choice ({self.response_code})"
        )
        if self.deviation is not None:
            text += f", tolerant mode deviation {self.deviation}"
        if self.withheld:
            text += "; not " + ("offered" if self.role is Role.EVCC else "selectable") + ": "
            text += "; ".join(f"{describe_namespace(ns)}: {why}" for ns, why in self.withheld)
        return text


def _offered(request: supportedAppProtocolReq) -> tuple[Offered, ...]:
    return tuple(
        Offered(
            namespace=p.protocol_namespace,
            version=(p.version_number_major, p.version_number_minor),
            priority=p.priority,
        )
        for p in sorted(request.app_protocol, key=lambda p: p.priority)
    )


def _admission(namespace: str, terms: ConnectionTerms | None) -> tuple[bool, Deviation | None, str]:
    if terms is None:
        return True, None, ""
    verdict = terms.policy.admits(standard_of(namespace), terms.transport)
    return verdict.allowed, verdict.deviation, f"{verdict.reason} (this connection: {terms.transport})"


def _secc_offers(
    config: SeccConfig,
    dc_capable: bool,
    terms: ConnectionTerms | None,
    profiles: Mapping[str, Profile],
    offers: Mapping[str, Offer],
) -> tuple[list[Offer], dict[str, str]]:
    """What this SECC can select over this connection, and why each other configured protocol cannot be."""
    usable: list[Offer] = []
    unusable: dict[str, str] = {}
    for namespace in config.protocols:
        offer = offers.get(namespace)
        profile = profiles.get(namespace)
        if offer is None or profile is None:
            unusable[namespace] = _NOT_SPOKEN
            continue
        allowed, _, why = _admission(namespace, terms)
        if profile.selection_for(namespace).family is EnergyFamily.DC and not dc_capable:
            unusable[namespace] = "DC needs a DC-capable controller (DCEVSEController)"
        elif not allowed:
            unusable[namespace] = why
        else:
            usable.append(offer)
            continue
        for alias in offer.aliases:
            unusable[alias] = unusable[namespace]
    return usable, unusable


def _why_not(
    proto: AppProtocol,
    chosen: AppProtocol | None,
    unusable: Mapping[str, str],
    usable: Sequence[Offer],
    secc: bool,
    offers: Mapping[str, Offer],
) -> str:
    namespace = proto.protocol_namespace
    if namespace in unusable:
        return unusable[namespace]
    offer = next((o for o in usable if namespace in (o.namespace, *o.aliases)), None)
    if offer is None:
        return "not offered by this SECC (SeccConfig.protocols)" if namespace in offers else _NOT_SPOKEN
    if proto.version_number_major != offer.major:
        return f"version {proto.version_number_major}.{proto.version_number_minor}; this SECC speaks {offer.major}.x"
    assert chosen is not None  # a usable offer of a spoken version: something was chosen
    chose = describe_namespace(chosen.protocol_namespace)
    if secc:
        return f"this SECC prefers {chose} (protocol_preference = secc)"
    return f"the EV gave {chose} a better priority ({chosen.priority} before {proto.priority})"


def secc_negotiate(
    request: supportedAppProtocolReq,
    config: SeccConfig,
    *,
    dc_capable: bool,
    terms: ConnectionTerms | None,
    profiles: Mapping[str, Profile] = PROFILES,
    offers: Mapping[str, Offer] = OFFERS,
) -> tuple[supportedAppProtocolRes, Negotiation]:
    """The SECC's SupportedAppProtocol answer over this connection, and its record. ``profiles`` and ``offers``:
    what this library speaks (tests hand in a stand-in for a generation that is not implemented)."""
    usable, unusable = _secc_offers(config, dc_capable, terms, profiles, offers)
    prefer = Preference(config.protocol_preference)
    response, namespace = answer_sap(request, usable, prefer)
    chosen = next((p for p in request.app_protocol if p.schema_id == response.schema_id), None)
    withheld = tuple(
        (p.protocol_namespace, _why_not(p, chosen, unusable, usable, prefer is Preference.SECC, offers))
        for p in sorted(request.app_protocol, key=lambda p: p.priority)
        if p is not chosen
    )
    deviation = _admission(namespace, terms)[1] if namespace is not None else None
    downgrade = None
    if chosen is not None and standard_of(chosen.protocol_namespace) is not Standard.ISO20:
        better = [p for p in request.app_protocol if standard_of(p.protocol_namespace) is Standard.ISO20]
        better = [p for p in better if p.priority < chosen.priority or prefer is Preference.SECC]
        if better:
            best = min(better, key=lambda p: p.priority)
            why = dict(withheld)[best.protocol_namespace]
            downgrade = f"{describe_namespace(best.protocol_namespace)} was offered but not chosen: {why}"
    record = Negotiation(
        role=Role.SECC,
        transport=terms.transport if terms is not None else None,
        offered=_offered(request),
        withheld=withheld,
        chosen=namespace,
        response_code=str(response.response_code),
        deviation=deviation,
        downgrade=downgrade,
    )
    return response, record


def evcc_offers(
    protocols: Sequence[str], terms: ConnectionTerms | None
) -> tuple[list[Offer], tuple[tuple[str, str], ...]]:
    """What the EVCC offers over this connection, most preferred first, and why each other configured protocol
    is not offered (not valid over the transport); :class:`ConfigError` for a protocol this library does not
    speak."""
    offers: list[Offer] = []
    withheld: list[tuple[str, str]] = []
    for namespace in protocols:
        if namespace not in OFFERS:
            raise ConfigError(f"this EVCC does not speak {namespace} (it speaks {', '.join(OFFERS)})")
        allowed, _, why = _admission(namespace, terms)
        if allowed:
            offers.append(OFFERS[namespace])
        else:
            withheld.append((namespace, why))
    return offers, tuple(withheld)


def evcc_negotiation(
    protocols: Sequence[str],
    request: supportedAppProtocolReq,
    response: supportedAppProtocolRes,
    withheld: tuple[tuple[str, str], ...],
    terms: ConnectionTerms | None,
    earlier: Sequence[str] = (),
) -> Negotiation:
    """The EVCC's record of a SupportedAppProtocol exchange. ``earlier``: why previous connection attempts of
    this run ended (a refused TLS 1.3 handshake before a TLS 1.2 one), for the downgrade reason."""
    chosen = next((p for p in request.app_protocol if p.schema_id == response.schema_id), None)
    namespace = chosen.protocol_namespace if chosen is not None else None
    downgrade = None
    if namespace is not None and standard_of(namespace) is not Standard.ISO20:
        ahead = list(protocols)[: list(protocols).index(namespace)] if namespace in protocols else []
        iso20 = [ns for ns in ahead if standard_of(ns) is Standard.ISO20]
        if iso20:
            reasons = dict(withheld)
            why = reasons.get(iso20[0]) or "the SECC chose another protocol (SupportedAppProtocolRes gives no reason)"
            downgrade = f"{describe_namespace(iso20[0])} was preferred but not used: {'; '.join((*earlier, why))}"
    return Negotiation(
        role=Role.EVCC,
        transport=terms.transport if terms is not None else None,
        offered=_offered(request),
        withheld=withheld,
        chosen=namespace,
        response_code=str(response.response_code),
        deviation=_admission(namespace, terms)[1] if namespace is not None else None,
        downgrade=downgrade,
    )
