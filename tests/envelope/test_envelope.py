"""The V2G_Message machinery DIN 70121 and ISO 15118-2 share, and the DIN profile on the session core."""

from __future__ import annotations

import pytest

from iso15118.codec import decode_as, encode_message
from iso15118.din.profile import DIN, OFFER
from iso15118.envelope.envelope import Envelope
from iso15118.envelope.kinds import RESPONSE_OF, Kind
from iso15118.envelope.states import State
from iso15118.messages.generated import din, iso2
from iso15118.session.config import Role, SessionConfig
from iso15118.session.connection import Connection
from iso15118.session.events import EndReason, SessionEnded, SessionEstablished
from iso15118.session.sap import answer_sap, sap_request
from iso15118.session.timers import Timing
from iso15118.v2gtp import Deframer, frame

CONFIG = SessionConfig(profiles={OFFER.namespace: DIN})


@pytest.mark.parametrize("module", [din, iso2], ids=["din", "iso2"])
def test_every_body_element_is_a_kind_with_a_class_of_its_own(module: object) -> None:
    env = Envelope(module)  # type: ignore[arg-type]
    assert len(env.kinds) == 34
    for kind in env.kinds:
        assert env.kind_of_class[env.class_of[kind]] is kind
        if kind in RESPONSE_OF:
            assert RESPONSE_OF[kind] in env.kinds


def test_din_and_iso2_name_payment_selection_and_authorization_differently() -> None:
    assert Kind.ServicePaymentSelectionReq in Envelope(din).kinds
    assert Kind.PaymentServiceSelectionReq in Envelope(iso2).kinds
    assert Kind.ContractAuthenticationReq in Envelope(din).kinds
    assert Kind.AuthorizationReq in Envelope(iso2).kinds
    assert Kind.AuthorizationReq not in Envelope(din).kinds


def test_wrap_and_open_are_inverse() -> None:
    env = DIN.envelope
    element = din.SessionSetupReq(evcc_id=bytes.fromhex("0a0b0c0d0e0f"))
    msg = env.wrap(env.header(bytes(8)), element)
    assert env.open(msg) == (Kind.SessionSetupReq, element)
    assert DIN.kind_of(msg) is Kind.SessionSetupReq
    assert DIN.kind_of(iso2.V2G_Message(header=iso2.MessageHeader(session_id=bytes(8)), body=iso2.Body())) is None


def _pair() -> tuple[Connection, Connection]:
    secc = Connection(Role.SECC, now=0.0, config=CONFIG)
    evcc = Connection(Role.EVCC, now=0.0, config=CONFIG)
    request = sap_request([OFFER])
    evcc.send(request, 0.0)
    secc.receive_data(evcc.data_to_send(), 0.0)
    response, namespace = answer_sap(request, [OFFER])
    assert namespace == OFFER.namespace
    secc.send(response, 0.0)
    evcc.receive_data(secc.data_to_send(), 0.0)
    return secc, evcc


def test_a_din_session_is_set_up_on_the_envelope_profile() -> None:
    secc, evcc = _pair()
    assert evcc.profile is DIN and evcc.state is State.WAIT_SESSION_SETUP
    env = DIN.envelope
    evcc.send(env.wrap(env.header(bytes(1)), din.SessionSetupReq(evcc_id=bytes.fromhex("0a0b0c0d0e0f"))), 0.1)
    secc.receive_data(evcc.data_to_send(), 0.1)
    res = din.SessionSetupRes(response_code=din.ResponseCode.OK_NewSessionEstablished, evse_id=b"\x49")
    secc.send(env.wrap(env.header(b"\x01\x02\x03\x04"), res), 0.2)
    events = evcc.receive_data(secc.data_to_send(), 0.2)
    established = [e for e in events if isinstance(e, SessionEstablished)]
    assert established and established[0].evcc_id == "0A0B0C0D0E0F" and established[0].evse_id == "49"
    assert evcc.session_id == b"\x01\x02\x03\x04"  # Tesla's 4-byte SessionIDs are DIN-valid
    assert evcc.state is State.WAIT_SERVICE_DISCOVERY


def test_a_request_out_of_sequence_gets_a_decodable_failed_sequence_error() -> None:
    secc, _evcc = _pair()
    env = DIN.envelope
    status = din.DC_EVStatus(ev_ready=True, ev_error_code=din.DC_EVErrorCode.NO_ERROR, evresssoc=50)
    events = secc.receive_data(
        frame(0x8001, encode_message(env.wrap(env.header(bytes(8)), din.CableCheckReq(dc_ev_status=status)))), 1.0
    )
    ended = [e for e in events if isinstance(e, SessionEnded)]
    assert ended and ended[0].reason is EndReason.PROTOCOL_ERROR and ended[0].response_code == "FAILED_SequenceError"
    (answer,) = Deframer(max_payload_length=65536).feed(secc.data_to_send())
    kind, body = env.open(decode_as(answer.payload, "din")) or (None, None)
    assert kind is Kind.CableCheckRes and body.response_code is din.ResponseCode.FAILED_SequenceError


def test_din_timers_stretch_with_tolerant_scaling() -> None:
    strict = DIN.timing(Kind.CurrentDemandReq, Timing())
    relaxed = DIN.timing(Kind.CurrentDemandReq, Timing().scaled(4.0))
    assert relaxed.evcc_timeout == pytest.approx(4 * strict.evcc_timeout)
    assert DIN.timing(Kind.CableCheckReq, Timing()).evcc_timeout > strict.evcc_timeout
