"""SDP request/response payloads and datagrams: round trips and every malformed case."""

from __future__ import annotations

from ipaddress import IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iso15118.constants import PayloadType, SdpSecurity, SdpTransport
from iso15118.errors import FramingError
from iso15118.sdp import (
    SdpRequest,
    SdpResponse,
    pack_request,
    pack_request_datagram,
    pack_response,
    pack_response_datagram,
    unpack_request,
    unpack_request_datagram,
    unpack_response,
    unpack_response_datagram,
)
from iso15118.v2gtp import frame

LL = IPv6Address("fe80::1234:56ff:fe78:9abc")
LL_BYTES = bytes.fromhex("fe80000000000000123456fffe789abc")


def common_request(payload: bytes, request: SdpRequest) -> None:
    assert len(payload) == 2
    assert unpack_request(payload) == request
    assert pack_request(request) == payload
    datagram = pack_request_datagram(request)
    assert datagram == bytes.fromhex("01fe900000000002") + payload
    assert unpack_request_datagram(datagram) == request


def common_response(payload: bytes, response: SdpResponse) -> None:
    assert len(payload) == 20
    assert unpack_response(payload) == response
    assert pack_response(response) == payload
    datagram = pack_response_datagram(response)
    assert datagram == bytes.fromhex("01fe900100000014") + payload
    assert unpack_response_datagram(datagram) == response


def test_request_round_trips() -> None:
    common_request(b"\x00\x00", SdpRequest())
    common_request(b"\x00\x00", SdpRequest(security=SdpSecurity.TLS, transport=SdpTransport.TCP))
    common_request(b"\x10\x00", SdpRequest(security=SdpSecurity.NONE))


def test_fact_sheet_request_example() -> None:
    assert pack_request_datagram(SdpRequest()) == bytes.fromhex("01fe9000000000020000")


def test_response_round_trips() -> None:
    common_response(LL_BYTES + b"\xc3\x50\x00\x00", SdpResponse(address=LL, port=50000))
    common_response(
        bytes(15) + b"\x01" + b"\xff\xff\x10\x00",
        SdpResponse(address=IPv6Address("::1"), port=65535, security=SdpSecurity.NONE),
    )


@given(
    st.integers(0, 2**128 - 1).map(IPv6Address),
    st.integers(0, 0xFFFF),
    st.sampled_from(SdpSecurity),
)
def test_response_round_trip_any(address: IPv6Address, port: int, security: SdpSecurity) -> None:
    response = SdpResponse(address=address, port=port, security=security)
    payload = pack_response(response)
    assert payload[:16] == address.packed
    assert int.from_bytes(payload[16:18], "big") == port
    assert unpack_response(payload) == response
    assert unpack_response_datagram(pack_response_datagram(response)) == response


def test_scope_id_is_not_transmitted() -> None:
    scoped = SdpResponse(address=IPv6Address("fe80::1%eth0"), port=50000)
    assert unpack_response(pack_response(scoped)).address == IPv6Address("fe80::1")


# ---------------------------------------------------------------------------------------------------
# malformed payloads: (bytes, offset, message fragment)


@pytest.mark.parametrize(
    ("payload", "offset", "message"),
    [
        (b"", 0, "SDP request payload is 0 bytes, expected 2"),
        (b"\x00", 1, "is 1 bytes, expected 2"),
        (b"\x00\x00\x00", 2, "is 3 bytes, expected 2"),
        (b"\x05\x00", 0, "unknown security byte 0x05"),
        (b"\x00\x10", 1, "0x10, reserved for UDP, is not supported"),
        (b"\x00\x01", 1, "unknown transport protocol byte 0x01"),
    ],
)
def test_malformed_request_payload(payload: bytes, offset: int, message: str) -> None:
    with pytest.raises(FramingError, match=message) as info:
        unpack_request(payload)
    assert info.value.offset == offset
    # The same payload inside a datagram: the offset counts from the datagram's first byte.
    with pytest.raises(FramingError, match=message) as info:
        unpack_request_datagram(frame(PayloadType.SDP_REQUEST, payload))
    assert info.value.offset == 8 + offset


@pytest.mark.parametrize(
    ("payload", "offset", "message"),
    [
        (LL_BYTES + b"\xc3\x50\x00", 19, "SDP response payload is 19 bytes, expected 20"),
        (LL_BYTES + b"\xc3\x50\x00\x00\x00", 20, "is 21 bytes, expected 20"),
        (LL_BYTES + b"\xc3\x50\x01\x00", 18, "unknown security byte 0x01"),
        (LL_BYTES + b"\xc3\x50\x00\x10", 19, "reserved for UDP"),
    ],
)
def test_malformed_response_payload(payload: bytes, offset: int, message: str) -> None:
    with pytest.raises(FramingError, match=message) as info:
        unpack_response(payload)
    assert info.value.offset == offset
    assert info.value.rule == "V2G20-153..156"
    with pytest.raises(FramingError, match=message) as info:
        unpack_response_datagram(frame(PayloadType.SDP_RESPONSE, payload))
    assert info.value.offset == 8 + offset


@pytest.mark.parametrize(
    ("datagram", "offset", "message"),
    [
        (bytes.fromhex("01fe9002000000020000"), 2, r"wireless/ACD-P SDP request \(0x9002\) is not supported"),
        (bytes.fromhex("01fe8001000000020000"), 2, r"payload type 0x8001 is not an SDP request \(0x9000\)"),
        (pack_response_datagram(SdpResponse(address=LL, port=1)), 2, "0x9001 is not an SDP request"),
        (
            bytes.fromhex("01fe900000000002000000"),
            4,
            "header announces 2 payload bytes, the datagram carries 3",
        ),
        (bytes.fromhex("01fe900000000003000000"), 10, "payload is 3 bytes, expected 2"),
        (bytes.fromhex("02fd9000000000020000"), 0, "protocol version is 0x02"),
        (bytes.fromhex("01fe9000"), 4, "only 4 bytes"),
    ],
)
def test_malformed_request_datagram(datagram: bytes, offset: int, message: str) -> None:
    with pytest.raises(FramingError, match=message) as info:
        unpack_request_datagram(datagram)
    assert info.value.offset == offset


@pytest.mark.parametrize(
    ("datagram", "message"),
    [
        (
            frame(PayloadType.SDP_RESPONSE_WIRELESS, bytes(59)),
            r"wireless SDP response \(0x9003\) is not supported",
        ),
        (pack_request_datagram(SdpRequest()), r"0x9000 is not an SDP response \(0x9001\)"),
    ],
)
def test_malformed_response_datagram(datagram: bytes, message: str) -> None:
    with pytest.raises(FramingError, match=message) as info:
        unpack_response_datagram(datagram)
    assert info.value.offset == 2


def test_response_value_checks() -> None:
    with pytest.raises(FramingError, match="port 65536 does not fit 16 bits"):
        SdpResponse(address=LL, port=65536)
    with pytest.raises(FramingError, match="must be an IPv6Address"):
        SdpResponse(address="fe80::1", port=1)  # type: ignore[arg-type]


_DATAGRAMS = st.binary(max_size=40) | st.builds(
    frame, st.sampled_from([0x9000, 0x9001, 0x9002, 0x9003, 0x8001]), st.binary(max_size=24)
)


@given(_DATAGRAMS)
def test_arbitrary_datagrams_decode_or_fail_cleanly(data: bytes) -> None:
    """Any bytes either decode to a valid request/response or raise FramingError, never anything else."""
    for unpack in (unpack_request_datagram, unpack_response_datagram):
        try:
            result = unpack(data)
        except FramingError as exc:
            assert exc.offset is not None and 0 <= exc.offset <= len(data)
        else:
            # Whatever decoded re-encodes to the very same bytes.
            repacked = (
                pack_request_datagram(result) if isinstance(result, SdpRequest) else pack_response_datagram(result)
            )
            assert repacked == data
