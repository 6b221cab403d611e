"""Selection across generations, pure: what each transport is valid for, the minor-deviation answer per offer,
the EV's or the SECC's order, and the SECC's and the EVCC's negotiation records (why each protocol was not
chosen, and why ISO 15118-20 was not, never silently).

ISO 15118-2 has no sessions in this library yet: its SupportedAppProtocol entry is hand-made, and where the SECC
must be able to select it, the tests hand it a stand-in profile and offer."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from iso15118.config import SeccConfig
from iso15118.constants import NS_DIN, NS_ISO2, NS_ISO20_AC, NS_ISO20_DC
from iso15118.errors import ConfigError
from iso15118.messages.app_protocol import ResponseCode
from iso15118.profiles import OFFERS, PROFILES
from iso15118.session.sap import Offer, Preference, answer_sap
from iso15118.session.selection import Selection
from iso15118.transport.generations import Standard, Transport, describe_namespace, standard_of, transport_of
from iso15118.transport.negotiation import ConnectionTerms, evcc_negotiation, evcc_offers, secc_negotiate
from iso15118.transport.policy import Deviation, TransportPolicy
from tests.negotiation.support import ALL_DC, offer

STRICT = TransportPolicy(tls=None)
TOLERANT = TransportPolicy(tls=None, tolerant=True)
ISO2_OFFER = Offer(namespace=NS_ISO2, major=2)
"""The hand-made -2 offer (what iso15118/iso2/profile.py will register)."""


class _Iso2StandIn:
    """Just enough of a profile for SupportedAppProtocol: -2's energy family is learnt later (None here)."""

    name = "ISO 15118-2 (stand-in)"

    def selection_for(self, namespace: str) -> Selection:
        return Selection(namespace=namespace)


WITH_ISO2: dict[str, Any] = {
    "profiles": MappingProxyType({**PROFILES, NS_ISO2: _Iso2StandIn()}),
    "offers": MappingProxyType({**OFFERS, NS_ISO2: ISO2_OFFER}),
}


def _terms(transport: Transport, policy: TransportPolicy = STRICT) -> ConnectionTerms:
    return ConnectionTerms(transport=transport, policy=policy)


# ---- what each transport is valid for -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("standard", "transport", "strict", "tolerant"),
    [
        (Standard.ISO20, Transport.TLS13, None, None),
        (Standard.ISO20, Transport.TLS12, "V2G20-2356", Deviation.TLS12),
        (Standard.ISO20, Transport.TCP, "V2G20-1264", Deviation.PLAIN_TCP),
        (Standard.ISO2, Transport.TLS13, "not TLS 1.3", "not TLS 1.3"),
        (Standard.ISO2, Transport.TLS12, None, None),
        (Standard.ISO2, Transport.TCP, None, None),
        (Standard.DIN, Transport.TLS13, "DIN 70121 has no TLS", "DIN 70121 has no TLS"),
        (Standard.DIN, Transport.TLS12, "DIN 70121 has no TLS", "DIN 70121 has no TLS"),
        (Standard.DIN, Transport.TCP, None, None),
    ],
)
def test_each_generation_runs_over_its_own_transports(
    standard: Standard, transport: Transport, strict: str | None, tolerant: Deviation | str | None
) -> None:
    judged = STRICT.admits(standard, transport)
    assert judged.allowed is (strict is None) and judged.deviation is None
    if strict is not None:
        assert strict in judged.reason
    lenient = TOLERANT.admits(standard, transport)
    if isinstance(tolerant, Deviation):  # only -20 is stretched by tolerant mode, and it says how
        assert lenient.allowed and lenient.deviation is tolerant
    else:
        assert lenient.allowed is (tolerant is None) and lenient.deviation is None


def test_generations_and_transports_are_named() -> None:
    assert [standard_of(ns) for ns in (*ALL_DC, NS_ISO20_AC, "urn:x")] == [
        Standard.ISO20,
        Standard.ISO2,
        Standard.DIN,
        Standard.ISO20,
        None,
    ]
    assert describe_namespace(NS_ISO20_DC) == "ISO 15118-20 DC" and describe_namespace(NS_DIN) == "DIN 70121"
    assert transport_of(None) is Transport.TCP


def test_strict_plain_tcp_needs_a_generation_that_runs_over_it() -> None:
    STRICT.check(protocols=(NS_ISO20_DC, NS_DIN))  # -20 is then simply never selected over TCP
    STRICT.check(protocols=(NS_ISO2,))
    for protocols in (None, (NS_ISO20_AC, NS_ISO20_DC)):
        with pytest.raises(ConfigError, match="V2G20-1264"):
            STRICT.check(protocols=protocols)
    assert STRICT.serves_plain_tcp((NS_ISO20_DC,))  # no TLS at all: plain TCP is all there is
    assert not TransportPolicy(tls=None, tls_iso2=_iso2_tls()).serves_plain_tcp((NS_ISO20_DC,))
    assert TransportPolicy(tls=None, tls_iso2=_iso2_tls()).serves_plain_tcp((NS_ISO20_DC, NS_DIN))


def _iso2_tls() -> Any:
    from iso15118.security.tls import TlsConfig, TlsMode

    return TlsConfig(mode=TlsMode.ISO2)


# ---- SupportedAppProtocol: minor versions and whose order ---------------------------------------------------
@pytest.mark.parametrize(
    ("namespace", "spoken", "expected"),
    [
        (NS_DIN, OFFERS[NS_DIN], ResponseCode.OK_SuccessfulNegotiationWithMinorDeviation),
        (NS_ISO2, ISO2_OFFER, ResponseCode.OK_SuccessfulNegotiationWithMinorDeviation),
        (NS_ISO20_DC, OFFERS[NS_ISO20_DC], ResponseCode.OK_SuccessfulNegotiation),  # never for -20 [V2G20-1089]
    ],
)
def test_a_differing_minor_version_is_answered_per_offer(namespace: str, spoken: Offer, expected: str) -> None:
    same, _ = answer_sap(offer((namespace,)), [spoken])
    assert same.response_code is ResponseCode.OK_SuccessfulNegotiation
    newer, chosen = answer_sap(offer((namespace,), minor=3), [spoken])
    assert (newer.response_code, chosen, newer.schema_id) == (expected, namespace, 11)


def test_the_ev_priority_decides_unless_the_secc_prefers_its_own_order() -> None:
    request = offer((NS_ISO20_DC, NS_DIN))
    secc_order = [OFFERS[NS_DIN], OFFERS[NS_ISO20_DC]]
    assert answer_sap(request, secc_order)[1] == NS_ISO20_DC  # [V2G20-169]
    assert answer_sap(request, secc_order, Preference.SECC)[1] == NS_DIN
    assert answer_sap(offer((NS_ISO2,)), secc_order, Preference.SECC) == (answer_sap(offer((NS_ISO2,)), [])[0], None)


# ---- the SECC: an EV offering iso20,iso2,din against each subset ---------------------------------------------
@pytest.mark.parametrize(
    ("speaks", "transport", "chosen", "downgrade"),
    [
        ((NS_ISO20_DC, NS_ISO2, NS_DIN), Transport.TLS13, NS_ISO20_DC, None),
        ((NS_ISO20_DC, NS_ISO2, NS_DIN), Transport.TLS12, NS_ISO2, "V2G20-2356"),
        ((NS_ISO20_DC, NS_ISO2, NS_DIN), Transport.TCP, NS_ISO2, "V2G20-1264"),
        ((NS_ISO20_DC, NS_DIN), Transport.TCP, NS_DIN, "V2G20-1264"),
        ((NS_ISO2, NS_DIN), Transport.TCP, NS_ISO2, "not offered by this SECC"),
        ((NS_DIN,), Transport.TCP, NS_DIN, "not offered by this SECC"),
        ((NS_DIN,), Transport.TLS12, None, None),
        ((NS_ISO20_AC, NS_ISO20_DC), Transport.TCP, None, None),
        ((NS_ISO20_AC,), Transport.TLS13, None, None),
    ],
)
def test_the_secc_selects_what_it_speaks_over_this_transport(
    speaks: tuple[str, ...], transport: Transport, chosen: str | None, downgrade: str | None
) -> None:
    config = SeccConfig(protocols=speaks)
    response, record = secc_negotiate(offer(ALL_DC), config, dc_capable=True, terms=_terms(transport), **WITH_ISO2)
    assert record.chosen == chosen and record.transport is transport
    if chosen is None:
        assert response.response_code is ResponseCode.Failed_NoNegotiation and record.downgrade is None
    else:
        assert response.schema_id == {NS_ISO20_DC: 11, NS_ISO2: 12, NS_DIN: 13}[chosen]
    # Every other offer has its reason; a -20 offer passed over says so in the downgrade.
    assert [ns for ns, _ in record.withheld] == [ns for ns in ALL_DC if ns != chosen]
    assert all(why for _, why in record.withheld)
    assert (record.downgrade is None) is (downgrade is None)
    if downgrade is not None:
        assert record.downgrade is not None and record.downgrade.startswith("ISO 15118-20 DC was offered but not")
        assert downgrade in record.downgrade
    assert ("SupportedAppProtocol over " + transport) in record.describe()


def test_the_reasons_name_energy_transport_and_order() -> None:
    config = SeccConfig(protocols=(NS_ISO20_DC, NS_DIN))
    _, no_dc = secc_negotiate(offer(ALL_DC), config, dc_capable=False, terms=_terms(Transport.TCP))
    assert no_dc.chosen is None
    assert dict(no_dc.withheld) == {
        NS_ISO20_DC: "DC needs a DC-capable controller (DCEVSEController)",
        NS_ISO2: "not offered by this SECC (SeccConfig.protocols)",
        NS_DIN: "DC needs a DC-capable controller (DCEVSEController)",
    }
    # Tolerant mode runs -20 over plain TCP, and the record names the deviation.
    _, lab = secc_negotiate(offer(ALL_DC), config, dc_capable=True, terms=_terms(Transport.TCP, TOLERANT))
    assert (lab.chosen, lab.deviation, lab.downgrade) == (NS_ISO20_DC, Deviation.PLAIN_TCP, None)
    assert "tolerant mode deviation plain-tcp" in lab.describe()
    assert dict(lab.withheld)[NS_DIN] == "the EV gave ISO 15118-20 DC a better priority (1 before 3)"
    # The SECC's own order: DIN over -20, and the downgrade says it was the charger's choice.
    mine = SeccConfig(protocols=(NS_DIN, NS_ISO20_DC), protocol_preference="secc")
    _, chosen = secc_negotiate(offer(ALL_DC), mine, dc_capable=True, terms=_terms(Transport.TCP, TOLERANT))
    assert chosen.chosen == NS_DIN
    assert chosen.downgrade == (
        "ISO 15118-20 DC was offered but not chosen: this SECC prefers DIN 70121 (protocol_preference = secc)"
    )
    # In memory (no terms) nothing is judged by transport.
    _, memory = secc_negotiate(offer(ALL_DC), config, dc_capable=True, terms=None)
    assert (memory.chosen, memory.transport) == (NS_ISO20_DC, None)


def test_the_ev_priority_is_no_downgrade() -> None:
    _, record = secc_negotiate(
        offer((NS_DIN, NS_ISO20_DC)), SeccConfig(protocols=(NS_ISO20_DC, NS_DIN)), dc_capable=True, terms=None
    )
    assert record.chosen == NS_DIN and record.downgrade is None


# ---- the EVCC: what it offers over each transport ----------------------------------------------------------
def test_the_evcc_offers_what_the_transport_is_valid_for() -> None:
    protocols = (NS_ISO20_DC, NS_DIN)
    offers, withheld = evcc_offers(protocols, _terms(Transport.TCP))
    assert [o.namespace for o in offers] == [NS_DIN]
    assert withheld == ((NS_ISO20_DC, "ISO 15118-20 needs TLS 1.3 [V2G20-1264] (this connection: tcp)"),)
    offers, withheld = evcc_offers(protocols, _terms(Transport.TLS13))
    assert [o.namespace for o in offers] == [NS_ISO20_DC] and withheld[0][0] == NS_DIN
    assert [o.namespace for o in evcc_offers(protocols, None)[0]] == list(protocols)
    with pytest.raises(ConfigError, match="does not speak urn:x"):
        evcc_offers(("urn:x",), None)


def test_the_evcc_records_why_iso20_was_not_used() -> None:
    protocols = (NS_ISO20_DC, NS_DIN)
    offers, withheld = evcc_offers(protocols, _terms(Transport.TCP))
    request = offer([o.namespace for o in offers])
    response, _ = answer_sap(request, [OFFERS[NS_DIN]])
    earlier = ("TLS 1.3 (ISO 15118-20) failed: refused",)
    record = evcc_negotiation(protocols, request, response, withheld, _terms(Transport.TCP), earlier)
    assert record.chosen == NS_DIN and record.response_code == "OK_SuccessfulNegotiation"
    assert record.downgrade == (
        "ISO 15118-20 DC was preferred but not used: TLS 1.3 (ISO 15118-20) failed: refused; "
        "ISO 15118-20 needs TLS 1.3 [V2G20-1264] (this connection: tcp)"
    )
    assert "not offered: ISO 15118-20 DC" in record.describe()
