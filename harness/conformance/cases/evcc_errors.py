"""EVCC under test, sequence and framing faults: FAILED answers, foreign SessionIDs, wrong or mangled responses.

Rules: the EV stops on any FAILED response code (fact sheet 2.4, -20 section 8.6); it ignores frames that are not
the expected response and stops when V2G_EVCC_Msg_Timeout expires [V2G20-436..440]; a frame that fails the V2GTP
checks is not processed (fact sheet 1.1). "Stops" means: no further request, and the connection closed.
"""

from __future__ import annotations

from typing import Any

from harness.conformance.cases.common import case
from harness.conformance.model import Case, Category, SutRole
from harness.conformance.scripts import evse_end, evse_to_loop, garble_exi
from harness.conformance.steps import CLOSE_GRACE, ExpectClosed, ExpectRequest, Respond, SendRaw, Serve, ServeLoop
from iso15118.codec import encode_message
from iso15118.constants import PayloadType
from iso15118.messages import iso20 as m
from iso15118.session.failures import minimal_instance
from iso15118.v2gtp import frame, pack_header

__all__ = ["CASES"]

_STOP = "fact sheet 2.4 (the EV stops on a FAILED response code)"
_IGNORE = "V2G20-436..440 (frames other than the expected response are ignored; the EV stops at its timeout)"
_FRAME = "fact sheet 1.1 (frame not processed)"
_FOREIGN = bytes.fromhex("F0F0F0F0F0F0F0F0")


def _stops(within: float | None = None) -> ExpectClosed:
    if within is not None:
        return ExpectClosed(within=within, requirement=_STOP, what="the EV closes after a FAILED response")
    return ExpectClosed(timer="evcc_msg_timeout", grace=CLOSE_GRACE, requirement=_IGNORE, what="the EV gives up")


def _case(
    case_id: str,
    title: str,
    stimulus: str,
    expected: str,
    requirements: tuple[str, ...],
    *steps: Any,
    category: Category = Category.SEQUENCE,
) -> Case:
    return case(
        case_id, title, SutRole.EVCC, category, *steps, requirements=requirements, stimulus=stimulus, expected=expected
    )


def _stray_response(ctx: Any) -> bytes:
    """A ServiceDiscoveryRes nobody asked for, with the session's SessionID."""
    res = minimal_instance(
        m.ServiceDiscoveryRes,
        override={
            "header": m.MessageHeader(session_id=ctx.session_id, time_stamp=0),
            "response_code": m.ResponseCode.OK,
        },
    )
    return frame(int(PayloadType.ISO20_COMMON), encode_message(res))


_MANGLED = "no further request; the EV closes the connection (at once, or when V2G_EVCC_Msg_Timeout expires)"

CASES: tuple[Case, ...] = (
    _case(
        "EVCC-SEQ-01",
        "FAILED SessionSetupRes: the EV stops",
        "SessionSetupRes with ResponseCode FAILED",
        "no further request; the EV closes the connection",
        (_STOP,),
        Serve(until="SessionSetupReq"),
        Respond(code="FAILED"),
        _stops(5.0),
    ),
    _case(
        "EVCC-SEQ-02",
        "FAILED_SequenceError in the charge loop: the EV stops",
        "AC_ChargeLoopRes with FAILED_SequenceError after two charge loops",
        "no further request; the EV closes the connection",
        (_STOP,),
        *evse_to_loop(),
        ServeLoop(count=1),
        ExpectRequest(kind="AC_ChargeLoopReq"),
        Respond(code="FAILED_SequenceError"),
        _stops(5.0),
    ),
    _case(
        "EVCC-SEQ-03",
        "No common protocol in SupportedAppProtocol: the EV stops",
        "supportedAppProtocolRes Failed_NoNegotiation",
        "no SessionSetupReq; the EV closes the connection",
        ("V2G20-169", _STOP),
        Serve(until="supportedAppProtocolReq"),
        Respond(code="Failed_NoNegotiation", fields={"schema_id": None}),
        _stops(5.0),
    ),
    _case(
        "EVCC-SEQ-04",
        "SupportedAppProtocolRes with a SchemaID the EV did not offer",
        "supportedAppProtocolRes OK_SuccessfulNegotiation with SchemaID 99",
        "no SessionSetupReq for an unknown protocol; the EV closes the connection",
        ("V2G20-167", "V2G20-169"),
        Serve(until="supportedAppProtocolReq"),
        Respond(fields={"schema_id": 99}),
        _stops(),
    ),
    _case(
        "EVCC-SEQ-05",
        "A response with a foreign SessionID",
        "ServiceDiscoveryRes whose SessionID is not the one SessionSetupRes assigned",
        "the EV does not go on with ServiceDetail; it closes the connection (at once or at its timeout)",
        ("V2G20-457", "V2G20-462", _IGNORE),
        Serve(until="ServiceDiscoveryReq"),
        Respond(fields={"header.session_id": _FOREIGN}),
        _stops(),
    ),
    _case(
        "EVCC-SEQ-06",
        "A response of the wrong type is ignored",
        "AuthorizationSetupRes in answer to SessionSetupReq",
        "the EV does not act on it: no AuthorizationReq; it closes the connection at its message timeout",
        (_IGNORE,),
        Serve(until="SessionSetupReq"),
        Respond(kind="AuthorizationSetupRes"),
        _stops(),
    ),
    Case(
        id="EVCC-SEQ-07",
        title="EIM authorization refused: the EV retries or stops, it does not go on",
        sut=SutRole.EVCC,
        category=Category.SEQUENCE,
        requirements=("V2G20-2219", "V2G20-2230"),
        negative=True,
        stimulus="AuthorizationRes WARNING_EIMAuthorizationFailure, EVSEProcessing Finished",
        expected="AuthorizationReq again or SessionStopReq, never ServiceDiscoveryReq",
        steps=(
            Serve(until="AuthorizationReq"),
            Respond(code="WARNING_EIMAuthorizationFailure"),
            ExpectRequest(kind="AuthorizationReq|SessionStopReq"),
        ),
    ),
    Case(
        id="EVCC-SEQ-08",
        title="A stray response is ignored and the session goes on",
        sut=SutRole.EVCC,
        category=Category.SEQUENCE,
        requirements=(_IGNORE,),
        stimulus="right after AuthorizationSetupRes, an unrequested ServiceDiscoveryRes",
        expected="the EV ignores it: its next requests are AuthorizationReq, then ServiceDiscoveryReq after "
        "AuthorizationRes",
        steps=(
            Serve(until="AuthorizationSetupReq"),
            Respond(),
            SendRaw(data=_stray_response, label="unrequested ServiceDiscoveryRes"),
            ExpectRequest(kind="AuthorizationReq"),
            Respond(),
            ExpectRequest(kind="ServiceDiscoveryReq"),
            Respond(),
            *evse_to_loop(preamble=False),
            *evse_end(1),
        ),
    ),
    _case(
        "EVCC-FRM-01",
        "Malformed EXI in a response",
        "SessionSetupRes whose EXI body is inverted",
        _MANGLED,
        (_FRAME, _IGNORE),
        Serve(until="SessionSetupReq"),
        Respond(corrupt=garble_exi, label="EXI body inverted"),
        _stops(),
        category=Category.FRAMING,
    ),
    _case(
        "EVCC-FRM-02",
        "Bad V2GTP protocol version in a response",
        "SessionSetupRes with protocol version 0x02 / inverse 0xFD",
        _MANGLED,
        ("V2GTP protocol version 0x01", _FRAME),
        Serve(until="SessionSetupReq"),
        Respond(header=lambda h: b"\x02\xfd" + h[2:], label="version 0x02"),
        _stops(),
        category=Category.FRAMING,
    ),
    _case(
        "EVCC-FRM-03",
        "Oversize V2GTP payload length in a response",
        "a V2GTP header announcing 0xFFFFFFF0 payload bytes, then 100 bytes, instead of SessionSetupRes",
        _MANGLED + "; it does not wait for 4 GiB",
        ("V2GTP payload length within the receive buffer", _FRAME),
        Serve(until="SessionSetupReq"),
        SendRaw(
            data=pack_header(int(PayloadType.ISO20_COMMON), 0xFFFF_FFF0) + bytes(100), label="header announcing 4 GiB"
        ),
        _stops(),
        category=Category.FRAMING,
    ),
    _case(
        "EVCC-FRM-04",
        "A common response on the AC payload type",
        "SessionSetupRes framed with payload type 0x8003 instead of 0x8002",
        _MANGLED,
        ("fact sheet 1.2 (payload type chooses the grammar)", _FRAME),
        Serve(until="SessionSetupReq"),
        Respond(payload_type=int(PayloadType.ISO20_AC), label="payload type 0x8003"),
        _stops(),
        category=Category.FRAMING,
    ),
    _case(
        "EVCC-FRM-05",
        "Unknown V2GTP payload type in a response",
        "SessionSetupRes framed with the reserved payload type 0x8050",
        _MANGLED,
        ("V2GTP known payload type", _FRAME),
        Serve(until="SessionSetupReq"),
        Respond(payload_type=0x8050, label="payload type 0x8050"),
        _stops(),
        category=Category.FRAMING,
    ),
    Case(
        id="EVCC-FRM-06",
        title="Responses split over many TCP segments",
        sut=SutRole.EVCC,
        category=Category.FRAMING,
        requirements=("fact sheet 1.1 (TCP is a byte stream: read 8 bytes, then the payload)",),
        stimulus="supportedAppProtocolRes in 1-byte segments, SessionSetupRes in 3-byte segments 5 ms apart",
        expected="the EV goes on as if each response had come in one segment",
        steps=(
            ExpectRequest(kind="supportedAppProtocolReq"),
            Respond(split=1, gap=0.002, label="1-byte segments"),
            ExpectRequest(kind="SessionSetupReq"),
            Respond(split=3, gap=0.005, label="3-byte segments"),
            ExpectRequest(kind="AuthorizationSetupReq"),
            Respond(),
            *evse_to_loop(),
            *evse_end(1),
        ),
    ),
)
