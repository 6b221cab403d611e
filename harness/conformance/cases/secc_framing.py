"""SECC under test, encoding and framing faults: malformed EXI, wrong payload types, bad V2GTP headers, split frames.

Rule (fact sheet 1.1): the receiver checks the version pair, the payload type and the length; a frame that
fails is not processed. The -20 reaction (ignore, or close at once) is UNCONFIRMED, so both pass: the SECC
either closes at once or ignores the frame and closes when its sequence timeout expires [V2G20-443] (plus the 5 s
ISO 15118-4 allows for closing). What fails is a positive answer, a connection kept open beyond that, or a hang
on an absurd length.
"""

from __future__ import annotations

from harness.conformance.model import Case, Category, SutRole
from harness.conformance.scripts import ev_stop, garble_exi
from harness.conformance.steps import CLOSE_GRACE, Expect, ExpectClosed, Loop, Send, SendRaw, Walk
from iso15118.constants import PayloadType
from iso15118.v2gtp import frame, pack_header

__all__ = ["CASES"]

_RULE = "fact sheet 1.1 (frame not processed); V2G20-443"


def _closed() -> ExpectClosed:
    return ExpectClosed(
        timer="secc_sequence_timeout",
        grace=CLOSE_GRACE,
        requirement=_RULE,
        what="connection closed after an unprocessable frame",
    )


def _case(
    case_id: str,
    title: str,
    stimulus: str,
    *steps: object,
    after: str = "SessionSetupReq",
    requirements: tuple[str, ...] = (_RULE,),
) -> Case:
    return Case(
        id=case_id,
        title=title,
        sut=SutRole.SECC,
        category=Category.FRAMING,
        requirements=requirements,
        negative=True,
        stimulus=stimulus,
        expected="no positive response; the SECC closes the connection (at once, or when its sequence timeout "
        "expires); a FAILED response before closing is accepted",
        steps=(Walk(until=after), *steps, _closed()),
    )


CASES: tuple[Case, ...] = (
    _case(
        "SECC-FRM-01",
        "Malformed EXI body",
        "SessionSetupReq whose EXI body after the header byte is inverted",
        Send(kind="SessionSetupReq", corrupt=garble_exi, label="EXI body inverted"),
    ),
    _case(
        "SECC-FRM-02",
        "Truncated EXI",
        "AuthorizationSetupReq cut to half its EXI length (header length matches)",
        Send(kind="AuthorizationSetupReq", corrupt=lambda b: b[: len(b) // 2], label="EXI cut in half"),
        after="AuthorizationSetupReq",
    ),
    _case(
        "SECC-FRM-03",
        "Common message on the AC payload type",
        "SessionSetupReq framed with payload type 0x8003 (AC) instead of 0x8002",
        Send(kind="SessionSetupReq", payload_type=int(PayloadType.ISO20_AC), label="payload type 0x8003"),
        requirements=("fact sheet 1.2 (payload type chooses the grammar)", _RULE),
    ),
    _case(
        "SECC-FRM-04",
        "AC message on the common payload type",
        "AC_ChargeParameterDiscoveryReq framed with payload type 0x8002 instead of 0x8003",
        Send(
            kind="AC_ChargeParameterDiscoveryReq",
            payload_type=int(PayloadType.ISO20_COMMON),
            label="payload type 0x8002",
        ),
        after="AC_ChargeParameterDiscoveryReq",
        requirements=("fact sheet 1.2 (only AC_ChargeParameterDiscovery and AC_ChargeLoop on 0x8003)", _RULE),
    ),
    _case(
        "SECC-FRM-05",
        "SupportedAppProtocolReq on the -20 payload type",
        "supportedAppProtocolReq framed with payload type 0x8002 instead of 0x8001",
        Send(kind="supportedAppProtocolReq", payload_type=int(PayloadType.ISO20_COMMON), label="payload type 0x8002"),
        after="supportedAppProtocolReq",
        requirements=("fact sheet 1.2", _RULE),
    ),
    _case(
        "SECC-FRM-06",
        "Bad V2GTP protocol version",
        "SessionSetupReq with protocol version 0x02 / inverse 0xFD",
        Send(kind="SessionSetupReq", header=lambda h: b"\x02\xfd" + h[2:], label="version 0x02"),
        requirements=("V2GTP protocol version 0x01", _RULE),
    ),
    _case(
        "SECC-FRM-07",
        "Bad V2GTP inverse protocol version",
        "SessionSetupReq with version 0x01 but inverse 0x00",
        Send(kind="SessionSetupReq", header=lambda h: b"\x01\x00" + h[2:], label="inverse version 0x00"),
        requirements=("V2GTP inverse protocol version 0xFE", _RULE),
    ),
    _case(
        "SECC-FRM-08",
        "Unknown V2GTP payload type",
        "SessionSetupReq framed with the reserved payload type 0x8050",
        Send(kind="SessionSetupReq", payload_type=0x8050, label="payload type 0x8050"),
        requirements=("V2GTP known payload type", _RULE),
    ),
    _case(
        "SECC-FRM-09",
        "Oversize V2GTP payload length",
        "a V2GTP header announcing 0xFFFFFFF0 payload bytes, followed by 100 bytes",
        SendRaw(
            data=pack_header(int(PayloadType.ISO20_COMMON), 0xFFFF_FFF0) + bytes(100), label="header announcing 4 GiB"
        ),
        requirements=("V2GTP payload length within the receive buffer", _RULE),
    ),
    _case(
        "SECC-FRM-10",
        "Empty payload",
        "a V2GTP frame of payload type 0x8002 with payload length 0",
        SendRaw(data=frame(int(PayloadType.ISO20_COMMON), b""), label="empty 0x8002 frame"),
    ),
    Case(
        id="SECC-FRM-11",
        title="Requests split over many TCP segments",
        sut=SutRole.SECC,
        category=Category.FRAMING,
        requirements=("fact sheet 1.1 (TCP is a byte stream: read 8 bytes, then the payload)",),
        stimulus="SupportedAppProtocolReq in 1-byte segments, SessionSetupReq in 3-byte segments 5 ms apart, "
        "the rest of the session normally",
        expected="every request is answered as if it had come in one segment",
        steps=(
            Send(kind="supportedAppProtocolReq", split=1, gap=0.002, label="1-byte segments"),
            Expect(kind="supportedAppProtocolRes", codes=("OK_SuccessfulNegotiation",)),
            Send(kind="SessionSetupReq", split=3, gap=0.005, label="3-byte segments"),
            Expect(kind="SessionSetupRes", codes=("OK_NewSessionEstablished",)),
            Walk(start="AuthorizationSetupReq", until="AC_ChargeLoopReq"),
            Loop(count=1),
            *ev_stop(),
        ),
    ),
)
