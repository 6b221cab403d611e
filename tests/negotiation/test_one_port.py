"""Transports over ::1: one SECC port serving ISO 15118-20 over TLS 1.3, ISO 15118-2 over TLS 1.2 and DIN 70121
over plain TCP; an EV offering iso20 and DIN falling back to DIN against a DIN-only charger (after SDP, and
after a refused TLS handshake), never silently; SDP answering per request; the EV's connection plan.

The -2 EV is hand-made (a TLS 1.2 handshake with the -2 profile, then a SupportedAppProtocolReq offering -2 and
DIN): this library has no -2 sessions yet, so the SECC selects -2 once iso15118.profiles registers it and until
then says it does not speak it."""

from __future__ import annotations

import asyncio
import logging
import time
from ipaddress import IPv6Address

import pytest

from iso15118.codec import decode_as, encode_message
from iso15118.config import EvccConfig, SeccConfig
from iso15118.constants import NS_DIN, NS_ISO2, NS_ISO20_AC, NS_ISO20_DC, SdpSecurity
from iso15118.messages.app_protocol import ResponseCode
from iso15118.profiles import OFFERS
from iso15118.sdp import SdpRequest, pack_request_datagram, unpack_response_datagram
from iso15118.security.tls import TlsMode, evcc_context
from iso15118.session.selection import EnergyFamily
from iso15118.simple import SimpleEV, SimpleEVSE
from iso15118.transport.evcc_client import EvccClientConfig, plan_attempts, run_evcc, sdp_security
from iso15118.transport.generations import Transport
from iso15118.transport.policy import TransportPolicy
from iso15118.transport.secc_server import SeccServer, SeccServerConfig
from iso15118.transport.tcp import connect
from iso15118.transport.udp import SdpServer
from iso15118.v2gtp import Deframer, frame
from tests.din.support import DIN_SECC, din_config
from tests.negotiation.support import Pkis, iso2_evcc_tls, iso2_secc_tls, offer
from tests.support.netns import free_port, ipv6_loopback

pytestmark = pytest.mark.skipif(not ipv6_loopback(), reason="needs an IPv6 loopback (::1)")

TIMEOUT = 20.0
DC_EV = {"energy": EnergyFamily.DC, "max_loops": 2, "loop_interval_s": 0.0, "precharge_interval_s": 0.0}
EVERY = (NS_ISO20_AC, NS_ISO20_DC, NS_ISO2, NS_DIN)


# ---- the EV's plan (pure) ---------------------------------------------------------------------------------------
def test_the_sdp_request_follows_the_most_preferred_protocol(pkis: Pkis) -> None:
    both = TransportPolicy(tls=pkis.iso20.evcc_tls(), tls_iso2=iso2_evcc_tls(pkis.iso2))
    assert sdp_security((NS_ISO20_DC, NS_ISO2, NS_DIN), "EIM", both) is SdpSecurity.TLS
    assert sdp_security((NS_ISO2, NS_DIN), "EIM", both) is SdpSecurity.NONE  # -2 with EIM: TCP will do
    assert sdp_security((NS_ISO2, NS_DIN), "PnC", both) is SdpSecurity.TLS  # Plug & Charge needs TLS
    assert sdp_security((NS_DIN,), "EIM", both) is SdpSecurity.NONE
    assert sdp_security((NS_ISO20_DC,), "EIM", TransportPolicy(tls=None, tolerant=True)) is SdpSecurity.NONE


def test_the_connection_attempts_per_announced_security(pkis: Pkis) -> None:
    both = TransportPolicy(tls=pkis.iso20.evcc_tls(), tls_iso2=iso2_evcc_tls(pkis.iso2))

    def plan(announced: SdpSecurity, protocols: tuple[str, ...], policy: TransportPolicy = both, **kw: bool) -> list:
        return [a.transport for a in plan_attempts(announced, protocols, policy, **kw)]

    every = (NS_ISO20_DC, NS_ISO2, NS_DIN)
    assert plan(SdpSecurity.TLS, every) == [Transport.TLS13, Transport.TLS12]  # -20 first, then -2
    assert plan(SdpSecurity.NONE, every) == [Transport.TCP]
    assert plan(SdpSecurity.TLS, every, plain_last=True) == [Transport.TLS13, Transport.TLS12, Transport.TCP]
    assert plan(SdpSecurity.TLS, (NS_DIN,)) == []  # DIN has no TLS
    assert plan(SdpSecurity.NONE, (NS_ISO20_DC,)) == []  # strict -20 needs TLS 1.3 [V2G20-1264]
    lab = TransportPolicy(tls=pkis.iso20.evcc_tls(), tolerant=True)
    assert plan(SdpSecurity.NONE, (NS_ISO20_DC,), lab) == [Transport.TCP]  # the plain-tcp deviation
    assert plan(SdpSecurity.TLS, (NS_ISO20_DC,), lab, plain_last=True) == [Transport.TLS13]


def test_sdp_answers_the_security_the_ev_asked_for_when_served() -> None:
    def answered(server: SdpServer, asked: SdpSecurity) -> SdpSecurity:
        data = server.answer(pack_request_datagram(SdpRequest(security=asked)))
        assert data is not None
        return unpack_response_datagram(data).security

    both = SdpServer("lo", tcp_port=50000, security=[SdpSecurity.TLS, SdpSecurity.NONE], address="::1")
    assert answered(both, SdpSecurity.NONE) is SdpSecurity.NONE and answered(both, SdpSecurity.TLS) is SdpSecurity.TLS
    tls_only = SdpServer("lo", tcp_port=50000, security=SdpSecurity.TLS, address="::1")
    assert answered(tls_only, SdpSecurity.NONE) is SdpSecurity.TLS
    assert both.answered == 2 and both.response.security is SdpSecurity.TLS


# ---- one port, three transports ------------------------------------------------------------------------------
async def _hand_made_iso2_ev(server: SeccServer, pkis: Pkis) -> tuple[object, object]:
    """TLS 1.2 with the -2 profile, then SupportedAppProtocolReq offering -2 and DIN; (handshake, answer)."""
    assert server.endpoint is not None
    context = evcc_context(iso2_evcc_tls(pkis.iso2))
    link = await connect(server.endpoint, context, mode=TlsMode.ISO2, clock=time.time)
    await link.send(frame(0x8001, encode_message(offer((NS_ISO2, NS_DIN)))))
    deframer = Deframer(max_payload_length=65536)
    frames: list = []
    while not frames:
        frames = deframer.feed(await asyncio.wait_for(link.receive(), TIMEOUT))
    await link.close()
    return link.tls, decode_as(frames[0].payload, "appprotocol")


@pytest.mark.asyncio
async def test_one_port_serves_tls13_tls12_and_plain_tcp(pkis: Pkis) -> None:
    policy = TransportPolicy(tls=pkis.iso20.secc_tls(), tls_iso2=iso2_secc_tls(pkis.iso2))
    config = SeccServerConfig(policy=policy, listen="::1")
    async with SeccServer(config, SimpleEVSE, secc=SeccConfig(protocols=EVERY)) as server:
        target = str(server.endpoint)
        # 1. An ISO 15118-20 EV (which would take DIN too): TLS 1.3 with the -20 identity, -20 selected.
        client = EvccClientConfig(policy=TransportPolicy(tls=pkis.iso20.evcc_tls()), target=target)
        iso20 = await run_evcc(client, SimpleEV(), EvccConfig(**DC_EV, protocols=(NS_ISO20_DC, NS_DIN)))
        iso20_report = await asyncio.wait_for(server.next_report(), TIMEOUT)
        # 2. An ISO 15118-2 EV: TLS 1.2 with the -2 identity; DIN is not selectable over TLS.
        iso2_tls, iso2_answer = await _hand_made_iso2_ev(server, pkis)
        iso2_report = await asyncio.wait_for(server.next_report(), TIMEOUT)
        # 3. A DIN EV: plain TCP on the same port.
        din = await run_evcc(
            EvccClientConfig(policy=TransportPolicy(tls=None), target=target), SimpleEV(), din_config()
        )
        din_report = await asyncio.wait_for(server.next_report(), TIMEOUT)

    assert iso20.ok and iso20_report.ok and iso20.tls is not None and iso20.tls.version == "TLSv1.3"
    assert iso20.tls.group == "secp521r1"
    for record in (iso20.outcome.negotiation, iso20_report.outcome and iso20_report.outcome.negotiation):
        assert record is not None and (record.transport, record.chosen) == (Transport.TLS13, NS_ISO20_DC)
    assert iso20.outcome.negotiated["protocol_name"] == "ISO 15118-20"
    assert dict(iso20.outcome.negotiation.withheld) == {  # type: ignore[union-attr]
        NS_DIN: "DIN 70121 has no TLS: plain TCP only (this connection: tls1.3)"
    }

    assert iso2_tls is not None and (iso2_tls.version, iso2_tls.cipher) == ("TLSv1.2", "ECDHE-ECDSA-AES128-SHA256")
    assert iso2_tls.peer_key is not None and "256" in iso2_tls.peer_key  # the -2 chain, not the P-521 one
    assert iso2_report.tls is not None and iso2_report.tls.version == "TLSv1.2"
    record = iso2_report.outcome.negotiation if iso2_report.outcome else None
    assert record is not None and record.transport is Transport.TLS12
    assert dict(record.withheld)[NS_DIN] == "DIN 70121 has no TLS: plain TCP only (this connection: tls1.2)"
    if NS_ISO2 in OFFERS:  # once -2 sessions exist
        assert record.chosen == NS_ISO2 and iso2_answer.schema_id == 11
    else:
        assert record.chosen is None and dict(record.withheld)[NS_ISO2] == "not spoken by this library"
        assert iso2_answer.response_code is ResponseCode.Failed_NoNegotiation

    assert din.ok and din_report.ok and din.tls is None and din_report.tls is None
    din_record = din_report.outcome.negotiation if din_report.outcome else None
    assert din_record is not None and (din_record.transport, din_record.chosen) == (Transport.TCP, NS_DIN)


# ---- falling back to DIN, never silently ----------------------------------------------------------------------
@pytest.mark.asyncio
async def test_an_iso20_ev_falls_back_to_din_after_sdp(pkis: Pkis, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    sdp_port = free_port(udp=True)
    config = SeccServerConfig(policy=TransportPolicy(tls=None), listen="::1", iface="lo", sdp=True, sdp_port=sdp_port)
    async with SeccServer(config, SimpleEVSE, secc=DIN_SECC) as server:
        client = EvccClientConfig(
            policy=TransportPolicy(tls=pkis.iso20.evcc_tls()), iface="lo", sdp_destination="::1", sdp_port=sdp_port
        )
        run = await run_evcc(client, SimpleEV(), EvccConfig(**DC_EV, protocols=(NS_ISO20_DC, NS_DIN)))
        report = await asyncio.wait_for(server.next_report(), TIMEOUT)
    assert run.ok and report.ok and run.tls is None
    assert run.sdp is not None and run.sdp.response.security is SdpSecurity.NONE  # asked TLS, told none
    assert run.sdp.response.address == IPv6Address("::1")
    record = run.outcome.negotiation
    assert record is not None and record.chosen == NS_DIN and run.outcome.negotiated["protocol_name"] == "DIN 70121"
    assert [o.namespace for o in record.offered] == [NS_DIN]  # -20 is not offered over plain TCP...
    assert record.downgrade == (  # ...and the EV says so
        "ISO 15118-20 DC was preferred but not used: ISO 15118-20 needs TLS 1.3 [V2G20-1264] (this connection: tcp)"
    )
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"EVCC: not ISO 15118-20: {record.downgrade}" in warned


@pytest.mark.asyncio
async def test_an_iso20_ev_falls_back_to_din_after_a_refused_handshake(pkis: Pkis) -> None:
    config = SeccServerConfig(policy=TransportPolicy(tls=None), listen="::1")
    async with SeccServer(config, SimpleEVSE, secc=DIN_SECC) as server:
        client = EvccClientConfig(policy=TransportPolicy(tls=pkis.iso20.evcc_tls()), target=str(server.endpoint))
        run = await run_evcc(client, SimpleEV(), EvccConfig(**DC_EV, protocols=(NS_ISO20_DC, NS_DIN)))
        refused = await asyncio.wait_for(server.next_report(), TIMEOUT)
        served = await asyncio.wait_for(server.next_report(), TIMEOUT)
    assert "serves plain TCP only" in str(refused.error)
    assert run.ok and served.ok and len(run.fallbacks) == 1
    assert run.fallbacks[0].startswith("TLS 1.3 (ISO 15118-20) failed: ")
    record = run.outcome.negotiation
    assert record is not None and record.chosen == NS_DIN and record.downgrade is not None
    assert run.fallbacks[0] in record.downgrade and "V2G20-1264" in record.downgrade


@pytest.mark.asyncio
async def test_an_iso20_ev_asks_for_plain_tcp_when_tls_found_no_common_protocol(
    pkis: Pkis, caplog: pytest.LogCaptureFixture
) -> None:
    """A DIN-only charger that still answers TLS in SDP (Josev's does): SupportedAppProtocol over TLS 1.3 offers
    -20 only and fails; the EV then asks SDP for plain TCP and runs DIN, saying why."""
    caplog.set_level(logging.INFO)
    sdp_port = free_port(udp=True)
    policy = TransportPolicy(tls=pkis.iso20.secc_tls())
    config = SeccServerConfig(policy=policy, listen="::1", iface="lo", sdp=True, sdp_port=sdp_port)
    async with SeccServer(config, SimpleEVSE, secc=DIN_SECC) as server:
        client = EvccClientConfig(
            policy=TransportPolicy(tls=pkis.iso20.evcc_tls()), iface="lo", sdp_destination="::1", sdp_port=sdp_port
        )
        run = await run_evcc(client, SimpleEV(), EvccConfig(**DC_EV, protocols=(NS_ISO20_DC, NS_DIN)))
        refused = await asyncio.wait_for(server.next_report(), TIMEOUT)
        served = await asyncio.wait_for(server.next_report(), TIMEOUT)
    assert refused.outcome is not None and refused.outcome.negotiation is not None
    assert refused.outcome.negotiation.response_code == "Failed_NoNegotiation" and refused.tls is not None
    assert run.ok and served.ok and run.tls is None and served.tls is None
    assert run.sdp is not None and run.sdp.response.security is SdpSecurity.NONE  # the second SDP request's answer
    why = (
        "SupportedAppProtocol over tls1.3 found no common protocol (Failed_NoNegotiation); "
        "DIN 70121 can run over plain TCP"
    )
    assert run.fallbacks == (why,)
    record = run.outcome.negotiation
    assert record is not None and (record.transport, record.chosen) == (Transport.TCP, NS_DIN)
    assert record.downgrade is not None and why in record.downgrade
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"EVCC: {why}; asking SDP for plain TCP" in warned


@pytest.mark.asyncio
async def test_no_plain_tcp_retry_when_nothing_offered_runs_over_it(pkis: Pkis) -> None:
    """An EV offering -20 only gets the failed negotiation as it is: plain TCP would not help it."""
    config = SeccServerConfig(policy=TransportPolicy(tls=pkis.iso20.secc_tls()), listen="::1")
    async with SeccServer(config, SimpleEVSE, secc=DIN_SECC) as server:
        client = EvccClientConfig(policy=TransportPolicy(tls=pkis.iso20.evcc_tls()), target=str(server.endpoint))
        run = await run_evcc(client, SimpleEV(), EvccConfig(**DC_EV, protocols=(NS_ISO20_DC,)))
        refused = await asyncio.wait_for(server.next_report(), TIMEOUT)
    assert not run.ok and run.fallbacks == () and run.tls is not None
    assert run.outcome.negotiation is not None and run.outcome.negotiation.response_code == "Failed_NoNegotiation"
    assert refused.outcome is not None and not refused.ok
