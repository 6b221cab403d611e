"""Field reports that are not quirks (iso15118.quirks.FIELD_NOTES), each shown in strict mode: the standard
already allows it, or our side cannot do otherwise."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from iso15118.codec import decode_as, encode_message
from iso15118.config import EvccConfig
from iso15118.constants import NS_ISO20_AC
from iso15118.decisions import Answer, SeccLogic
from iso15118.envelope.kinds import Kind
from iso15118.messages.app_protocol import ResponseCode, supportedAppProtocolRes
from iso15118.messages.generated import din as m
from iso15118.session.events import EndReason
from iso15118.simple import SimpleEV, SimpleEVSE
from iso15118.transport.evcc_client import EvccClientConfig, run_evcc
from iso15118.transport.link import memory_pair
from iso15118.transport.policy import TransportPolicy
from iso15118.transport.runner import run_evcc_session
from iso15118.transport.secc_server import SeccServer, SeccServerConfig
from iso15118.v2gtp import Deframer, frame
from tests.din.support import DIN_SECC, din_config, recorded_din_session, requests_until, run_din
from tests.support.netns import ipv6_loopback

TIMEOUT = 20.0


class _FourByteSessionIds:
    """A DIN charger that assigns 4-byte SessionIDs (as Tesla Superchargers V3 do): our decisions, shortened."""

    def __init__(self, logic: SeccLogic) -> None:
        self.logic = logic

    def initial(self) -> Any:
        return self.logic.initial()

    def decide(self, kind: Any, request: Any, ctx: Any, env: Any) -> Any:
        got = self.logic.decide(kind, request, ctx, env)
        if isinstance(got, Answer) and kind is Kind.SessionSetupReq:
            header = replace(got.response.header, session_id=bytes(got.response.header.session_id)[:4])
            return replace(got, response=replace(got.response, header=header))
        return got

    def summary(self, ctx: Any) -> Any:
        return self.logic.summary(ctx)


def test_a_din_session_with_a_4_byte_session_id_is_strict() -> None:
    # sessionIDType is hexBinary of at most 8 bytes: nothing to tolerate, the core and our EV take it as it is.
    out, served, rec = run_din(din_config(max_loops=2), decisions=_FourByteSessionIds)
    assert out.ok and served.ok and out.loops == 2
    assert len(out.session_id) == 4 and out.session_id == served.session_id
    headers = [bytes(r.message.header.session_id) for r in rec.messages[3:]]  # after SAP and SessionSetup
    assert headers and all(h == out.session_id for h in headers)


def test_din_ready_to_charge_is_the_schema_boolean() -> None:
    field = m.PowerDeliveryReq.__dataclass_fields__["ready_to_charge_state"]
    assert field.metadata["lexical"] == "boolean"  # DIN's schema: xs:boolean, nothing else has a spelling
    sent = [r.message.body.power_delivery_req for r in recorded_din_session() if hasattr(r.message, "body")]
    states = [p.ready_to_charge_state for p in sent if p is not None]
    assert states == [True, False]  # start, then stop
    assert all(type(s) is bool for s in states)


@pytest.mark.asyncio
async def test_a_minor_deviation_answer_for_iso20_is_accepted() -> None:
    """The SECC answers -20 with OK_SuccessfulNegotiationWithMinorDeviation (which it must not [V2G20-1089]); the
    EV goes on as after OK [V2G20-1090]: its next request is SessionSetupReq."""
    ev_end, secc_end = memory_pair()
    task = asyncio.create_task(run_evcc_session(ev_end, SimpleEV(), EvccConfig()))
    deframer = Deframer(max_payload_length=65536)
    offer = decode_as(deframer.feed(await secc_end.receive())[0].payload, "appprotocol")
    answer = supportedAppProtocolRes(
        response_code=ResponseCode.OK_SuccessfulNegotiationWithMinorDeviation,
        schema_id=offer.app_protocol[0].schema_id,
    )
    await secc_end.send(frame(0x8001, encode_message(answer)))
    following = deframer.feed(await secc_end.receive())[0]
    assert type(decode_as(following.payload, "iso20_common")).__name__ == "SessionSetupReq"
    await secc_end.close()
    outcome = await asyncio.wait_for(task, TIMEOUT)
    assert outcome.ended.reason is EndReason.CONNECTION_LOST
    assert outcome.negotiation is not None and outcome.negotiation.chosen == NS_ISO20_AC
    assert outcome.negotiation.response_code == "OK_SuccessfulNegotiationWithMinorDeviation"


@pytest.fixture
def out_of_order() -> bytes:
    """A DIN ServiceDiscoveryReq (as our EV sends it), which is out of sequence as a session's first request."""
    discovery = requests_until(Kind.ServicePaymentSelectionReq)[1](bytes(8))
    return frame(0x8001, encode_message(discovery, schema="din"))


@pytest.mark.asyncio
@pytest.mark.skipif(not ipv6_loopback(), reason="needs an IPv6 loopback (::1)")
async def test_a_new_session_right_after_a_failed_one_is_strict(out_of_order: bytes) -> None:
    from iso15118.din.profile import OFFER
    from iso15118.session.sap import sap_request

    policy = TransportPolicy(tls=None)
    async with SeccServer(SeccServerConfig(policy=policy, listen="::1"), SimpleEVSE, secc=DIN_SECC) as server:
        assert server.endpoint is not None
        reader, writer = await asyncio.open_connection(str(server.endpoint.address), server.endpoint.port)
        writer.write(frame(0x8001, encode_message(sap_request([OFFER]))) + out_of_order)
        await writer.drain()
        answered = await asyncio.wait_for(reader.read(), TIMEOUT)  # until the SECC closes
        writer.close()
        failed = await asyncio.wait_for(server.next_report(), TIMEOUT)
        client = EvccClientConfig(policy=policy, target=str(server.endpoint))
        run = await asyncio.wait_for(run_evcc(client, SimpleEV(), din_config()), TIMEOUT)
        again = await asyncio.wait_for(server.next_report(), TIMEOUT)
    frames = Deframer(max_payload_length=65536).feed(answered)
    assert len(frames) == 2  # supportedAppProtocolRes, then the FAILED answer
    assert decode_as(frames[1].payload, "din").body.service_discovery_res.response_code.startswith("FAILED")
    assert not failed.ok and failed.outcome is not None
    assert failed.outcome.ended.response_code == "FAILED_SequenceError"
    assert run.ok and again.ok and run.outcome.session_id != failed.outcome.session_id
