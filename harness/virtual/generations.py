"""What the virtual truck offers and its charger speaks, and whether the scenario can run on that.

Owns :class:`ProtocolPlan` and :func:`plan_protocols`: a scenario's (or the command line's)
:class:`~harness.bench.protocols.ProtocolSettings` -> the SupportedAppProtocol namespaces of each side, the
protocol that will run (and over which transport on a network link), and what the run must say about it. The
domain facts kept here, before anything runs:

* **DIN 70121 is DC only.** At the AC wall connector the truck leaves DIN out of its offer (noted in the
  report); a truck that would offer nothing else, or a wall connector told to speak DIN, is refused.
* **Bidirectional power transfer is ISO 15118-20 only** (its BPT services, AC_BPT and DC_BPT); -2 and DIN have
  no discharge. A scenario whose bench run alone sends energy out through the truck's charge port (V2H, V2G, a
  DC_BPT event) is refused when the protocol that will run is not -20, naming why -- or, with
  ``without_bpt = "charge-only"``, run with the truck's port charging only (its V2H and DC_BPT switched off, the
  bench's own model of a truck without them), which the report says.
* **The chosen protocol is predictable**: the SECC selects by the EV's priority [V2G20-169] among what both
  speak and, over a network link, among what the connection's transport admits (-20: TLS 1.3; -2: TLS 1.2 or
  TCP; DIN: TCP). The truck asks SDP for TLS when its first protocol is -20, or -2 with ``iso2_transport =
  "tls"``; it tries TLS 1.3 (when it offers -20) then TLS 1.2 (when it offers -2), or plain TCP when the charger
  announced no TLS -- the EVCC's own plan (:func:`~iso15118.transport.evcc_client.transport_order`). Each session
  is checked against this prediction afterwards.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from harness.bench import Scenario, run_physics_only
from harness.bench.protocols import Iso2Transport, ProtocolSettings, WithoutBpt
from iso15118.constants import NS_DIN, NS_ISO2, NS_ISO20_AC, NS_ISO20_DC, SdpSecurity
from iso15118.errors import ConfigError
from iso15118.security.tls import TlsConfig, TlsMode
from iso15118.session.selection import EnergyFamily
from iso15118.transport.evcc_client import transport_order
from iso15118.transport.generations import STANDARD_NAMES, Standard, Transport, describe_namespace
from iso15118.transport.policy import TransportPolicy

__all__ = [
    "ProtocolPlan",
    "charge_only",
    "charger_name",
    "discharge_wh",
    "namespace_of",
    "network_transport",
    "plan_protocols",
    "sdp_security",
]

_EXPORT_EPS_WH: Final = 1.0
"""Energy out through the port below which a scenario counts as charge-only (rounding, not a discharge)."""
_STRICT: Final = TransportPolicy(tls=None)  # only its admits() is used: each generation's own transport rule
_TRUCK: Final = TransportPolicy(tls=TlsConfig(), tls_iso2=TlsConfig(mode=TlsMode.ISO2))
"""The truck's transports as the EVCC plans them (strict; a TLS identity for -20 and for -2: only their presence
counts here)."""
_TRANSPORT_NAMES: Final = {Transport.TLS13: "TLS 1.3", Transport.TLS12: "TLS 1.2", Transport.TCP: "plain TCP"}


def namespace_of(standard: Standard, family: EnergyFamily) -> str:
    """The SupportedAppProtocol namespace of a generation for an energy family (-20 has one per family)."""
    if standard is Standard.ISO20:
        return NS_ISO20_DC if family is EnergyFamily.DC else NS_ISO20_AC
    return NS_ISO2 if standard is Standard.ISO2 else NS_DIN


def charger_name(scenario: Scenario) -> str:
    """``the DC charger`` or ``the wall connector``: the SECC the scenario plugs the truck into."""
    return "the DC charger" if scenario.dc_charger is not None else "the wall connector"


def _names(standards: Sequence[Standard]) -> str:
    return ", ".join(STANDARD_NAMES[s] for s in standards) or "nothing"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolPlan:
    """The protocols of one run: what each side offers, what will run over which transport, and notes."""

    family: EnergyFamily
    ev: tuple[Standard, ...]
    """What the truck offers, most preferred first (DIN left out on AC)."""
    charger: tuple[Standard, ...]
    expected: Standard
    """The generation SupportedAppProtocol will select."""
    transport: Transport | None
    """The transport the session will run over (None: the in-memory link has none)."""
    iso2_transport: Iso2Transport = Iso2Transport.TLS
    charger_label: str = "the charger"
    """``the wall connector`` or ``the DC charger``."""
    charge_only: bool = False
    """The scenario discharges, the protocol cannot, and it runs charge-only (``without_bpt``)."""
    notes: tuple[str, ...] = ()

    @property
    def ev_namespaces(self) -> tuple[str, ...]:
        """The truck's SupportedAppProtocol offer, priority order."""
        return tuple(namespace_of(s, self.family) for s in self.ev)

    @property
    def charger_namespaces(self) -> tuple[str, ...]:
        """The namespaces the charger's SECC accepts, its order."""
        return tuple(namespace_of(s, self.family) for s in self.charger)

    @property
    def expected_name(self) -> str:
        """``ISO 15118-2``, ``DIN 70121``, ``ISO 15118-20 DC``..."""
        return describe_namespace(namespace_of(self.expected, self.family))

    @property
    def sdp_security(self) -> SdpSecurity:
        """What the truck asks for in SDP (:func:`sdp_security`)."""
        return sdp_security(self.ev, self.iso2_transport)

    def describe(self) -> str:
        """One line: offered, spoken, expected."""
        over = f" over {_TRANSPORT_NAMES[self.transport]}" if self.transport is not None else ""
        return (
            f"the truck offers {_names(self.ev)} (most preferred first), {self.charger_label} speaks "
            f"{_names(self.charger)}: "
            f"{self.expected_name}{over} runs"
        )


def sdp_security(ev: Sequence[Standard], iso2_transport: Iso2Transport) -> SdpSecurity:
    """What the truck asks for in SDP: TLS when its first protocol is -20, or -2 with TLS asked for; else none
    (DIN has no TLS)."""
    first = ev[0]
    if first is Standard.ISO20 or (first is Standard.ISO2 and iso2_transport is Iso2Transport.TLS):
        return SdpSecurity.TLS
    return SdpSecurity.NONE


def discharge_wh(scenario: Scenario) -> float:
    """Energy the bench alone sends out through the truck's charge port (AC port or DC inlet), Wh."""
    summary = run_physics_only(scenario)
    out = summary.port_out_wh
    if summary.dc is not None:
        out += summary.dc.out_of_truck_wh
    return out


def charge_only(scenario: Scenario) -> Scenario:
    """The scenario with the truck's charge port charging only: no V2H (AC_BPT) and no DC_BPT."""
    vehicle = scenario.vehicle
    dc = vehicle.dc
    if dc is not None:
        dc = dataclasses.replace(dc, bpt_offered=False, max_discharge_current_a=0.0, max_discharge_power_w=0.0)
    vehicle = dataclasses.replace(vehicle, v2h=dataclasses.replace(vehicle.v2h, offered=False), dc=dc)
    return dataclasses.replace(scenario, vehicle=vehicle)


def _served(charger: Sequence[Standard]) -> dict[Transport, bool]:
    return {
        Transport.TLS13: Standard.ISO20 in charger,
        Transport.TLS12: Standard.ISO2 in charger,
        Transport.TCP: bool({Standard.ISO2, Standard.DIN} & set(charger)),
    }


def network_transport(plan_ev: Sequence[Standard], charger: Sequence[Standard], asked: SdpSecurity) -> Transport | None:
    """The transport the truck ends up on: the charger's SDP answer (what was asked when it serves that, else what
    it serves), then the EVCC's own attempts in order (:func:`~iso15118.transport.evcc_client.transport_order`;
    the truck has a TLS identity for each generation it offers) until the charger accepts one (None: none works)."""
    served = _served(charger)
    tls = served[Transport.TLS13] or served[Transport.TLS12]
    announced = asked if (tls if asked is SdpSecurity.TLS else served[Transport.TCP]) else _other(asked)
    return next((t for t in transport_order(announced, plan_ev, _TRUCK) if served[t]), None)


def _other(security: SdpSecurity) -> SdpSecurity:
    return SdpSecurity.NONE if security is SdpSecurity.TLS else SdpSecurity.TLS


def _select(ev: Sequence[Standard], charger: Sequence[Standard], transport: Transport | None) -> Standard | None:
    """The SECC's choice by the EV's priority among what both speak and the transport admits."""
    for standard in ev:
        if standard in charger and (transport is None or _STRICT.admits(standard, transport).allowed):
            return standard
    return None


def plan_protocols(scenario: Scenario, settings: ProtocolSettings, *, network: bool) -> tuple[Scenario, ProtocolPlan]:
    """The plan of a run and the scenario to run (charge-only when so decided); ConfigError for what cannot run."""
    family = EnergyFamily.DC if scenario.dc_charger is not None else EnergyFamily.AC
    where = charger_name(scenario)
    notes: list[str] = []
    ev = settings.ev
    charger = settings.charger
    if family is EnergyFamily.AC:
        if Standard.DIN in charger:
            raise ConfigError(
                f"scenario {scenario.name}: {where} charges on AC and DIN 70121 is DC only; "
                "it cannot be configured to speak din (a DC scenario can: see `v2g sim --list`)"
            )
        if Standard.DIN in ev:
            ev = tuple(s for s in ev if s is not Standard.DIN)
            if not ev:
                raise ConfigError(
                    f"scenario {scenario.name}: the truck would offer only DIN 70121, which is DC only, at {where} "
                    "(AC): offer iso20 or iso2"
                )
            notes.append(f"DIN 70121 is DC only: the truck leaves it out of its offer at {where} (AC)")
    transport: Transport | None = None
    security = sdp_security(ev, settings.iso2_transport)
    if network:
        transport = network_transport(ev, charger, security)
        if transport is None:
            raise ConfigError(
                f"scenario {scenario.name}: no connection is possible: the truck offers {_names(ev)} and asks for "
                f"{'TLS' if security is SdpSecurity.TLS else 'plain TCP'}, {where} speaks {_names(charger)}"
            )
    expected = _select(ev, charger, transport)
    if expected is None:
        over = f" over {_TRANSPORT_NAMES[transport]}" if transport is not None else ""
        raise ConfigError(
            f"scenario {scenario.name}: no protocol in common{over}: the truck offers {_names(ev)}, "
            f"{where} speaks {_names(charger)}"
        )
    plan = ProtocolPlan(
        family=family,
        ev=ev,
        charger=charger,
        expected=expected,
        transport=transport,
        iso2_transport=settings.iso2_transport,
        charger_label=where,
        notes=tuple(notes),
    )
    if expected is Standard.ISO20:
        return scenario, plan
    out_wh = discharge_wh(scenario)
    if out_wh < _EXPORT_EPS_WH:
        return scenario, plan
    why = (
        f"scenario {scenario.name} discharges the truck through its charge port ({out_wh / 1000:.1f} kWh out in the "
        f"bench alone: V2H, V2G or a DC_BPT event), and bidirectional power transfer is ISO 15118-20 only (its BPT "
        f"services); {plan.expected_name} has no discharge"
    )
    if settings.without_bpt is WithoutBpt.REFUSE:
        raise ConfigError(
            f"{why}. Offer and speak iso20 on both sides, or run it charge-only "
            '(--without-bpt charge-only, or without_bpt = "charge-only" in [protocols])'
        )
    note = f"charge-only: {why}, so the truck's port only charges (its V2H and DC_BPT are off for this run)"
    return charge_only(scenario), dataclasses.replace(plan, charge_only=True, notes=(*plan.notes, note))
