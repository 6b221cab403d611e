"""V2GTP extraction from the shared DS5366/Josev captures (plain TCP and TLS 1.3), checked against tshark."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.support.captures import (
    CapturedFrame,
    CaptureError,
    Direction,
    Transport,
    extract_v2gtp_frames,
    keylog_from_udp,
    require_tshark,
    split_v2gtp,
    tshark_follow,
)
from tests.support.oracle import ExiOracle, Op, OracleRequest
from tests.support.shared import shared_path

# name -> (TLS?, the -20 payload types its session must carry, per shared/peers/README.md and slac-facts §7)
CAPTURES = {
    "ISO-20_BPT_AC_DS5366_Josev": (False, {0x8001, 0x8002, 0x8003}),
    "ISO-20_TLS13_DC_DS5366_Josev": (True, {0x8001, 0x8002, 0x8004}),
    "ISO-20_mTLS_DC_DS5366_Josev": (True, {0x8001, 0x8002, 0x8004}),
}
KNOWN_TYPES = {0x8001, 0x8002, 0x8003, 0x8004, 0x8005, 0x8006, 0x8101, 0x8102, 0x8103, 0x8104}


def _paths(name: str) -> tuple[Path, Path | None]:
    require_tshark()
    pcap = shared_path("captures", f"{name}.pcapng")
    tls, _ = CAPTURES[name]
    return pcap, (shared_path("captures", f"{name}.keys") if tls else None)


def _frames(name: str) -> list[CapturedFrame]:
    return extract_v2gtp_frames(*_paths(name))


@pytest.fixture(params=sorted(CAPTURES))
def capture(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_capture_yields_the_expected_payload_types(capture: str) -> None:
    frames = _frames(capture)
    tls, expected = CAPTURES[capture]
    assert len(frames) >= 40
    assert {f.payload_type for f in frames} == expected
    assert {f.transport for f in frames} == {Transport.TLS if tls else Transport.TCP}
    counts = Counter(f.payload_type for f in frames)
    assert counts[0x8001] == 2  # one SupportedAppProtocol request and its response


def test_every_header_is_valid(capture: str) -> None:
    for frame in _frames(capture):
        assert len(frame.header) == 8
        assert frame.header[0] == 0x01 and frame.header[1] == 0xFE
        assert int.from_bytes(frame.header[4:8], "big") == len(frame.payload)
        assert frame.payload_type in KNOWN_TYPES
        assert frame.payload[:1] == b"\x80"  # every EXI body opens with the header byte 0x80


def test_session_opens_with_supported_app_protocol(capture: str) -> None:
    frames = _frames(capture)
    for stream in {f.stream for f in frames}:
        first, second = [f for f in frames if f.stream == stream][:2]
        assert first.direction is Direction.EV_TO_EVSE
        assert first.payload_type == 0x8001
        assert first.payload[:2] == b"\x80\x00"  # DocContent code 0 of 2 bits: supportedAppProtocolReq
        assert second.direction is Direction.EVSE_TO_EV
        assert second.payload_type == 0x8001
        assert second.payload[:2] == b"\x80\x40"  # code 1: supportedAppProtocolRes


def test_requests_and_responses_alternate(capture: str) -> None:
    frames = _frames(capture)
    directions = [f.direction for f in frames]
    assert directions[0::2] == [Direction.EV_TO_EVSE] * len(directions[0::2])
    assert directions[1::2] == [Direction.EVSE_TO_EV] * len(directions[1::2])
    # A response travels in the schema family of its request (SAP, common, AC or DC).
    assert all(req.payload_type == res.payload_type for req, res in zip(frames[0::2], frames[1::2], strict=False))
    stamps = [f.timestamp for f in frames]
    assert stamps == sorted(stamps)


def test_frames_agree_with_tshark_follow_stream(capture: str) -> None:
    pcap, keylog = _paths(capture)
    frames = extract_v2gtp_frames(pcap, keylog)
    for stream in {f.stream for f in frames}:
        ours = {d: b"".join(f.wire for f in frames if f.stream == stream and f.direction is d) for d in Direction}
        side0, side1 = tshark_follow(pcap, stream, keylog, tls=keylog is not None)
        assert sorted([side0, side1]) == sorted(ours.values())
        theirs = sorted(len(split_v2gtp(side)) for side in (side0, side1))
        assert theirs == sorted(sum(1 for f in frames if f.stream == stream and f.direction is d) for d in Direction)


@pytest.mark.parametrize("name", [n for n, (tls, _) in CAPTURES.items() if tls])
def test_udp_secrets_are_the_keys_file(name: str, tmp_path: Path) -> None:
    pcap, keys = _paths(name)
    assert keys is not None
    text = keylog_from_udp(pcap)
    labels = [line.split()[0] for line in text.splitlines()]
    assert labels == [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_TRAFFIC_SECRET_0",
        "CLIENT_TRAFFIC_SECRET_0",
    ]
    assert text == keys.read_text()
    rebuilt = tmp_path / "from-udp.keys"
    rebuilt.write_text(text)
    assert extract_v2gtp_frames(pcap, rebuilt) == extract_v2gtp_frames(pcap, keys)


@pytest.mark.parametrize("name", [n for n, (tls, _) in CAPTURES.items() if tls])
def test_tls_without_secrets_is_a_clear_error(name: str, tmp_path: Path) -> None:
    pcap, _ = _paths(name)
    with pytest.raises(CaptureError, match="nothing of its TLS traffic was decrypted"):
        extract_v2gtp_frames(pcap, None)
    wrong = tmp_path / "wrong.keys"
    wrong.write_text("CLIENT_TRAFFIC_SECRET_0 " + "00" * 32 + " " + "11" * 48 + "\n")
    with pytest.raises(CaptureError, match="nothing of its TLS traffic was decrypted"):
        extract_v2gtp_frames(pcap, wrong)


def test_sdp_frames_on_request(capture: str) -> None:
    pcap, keylog = _paths(capture)
    sdp = [f for f in extract_v2gtp_frames(pcap, keylog, include_sdp=True) if f.transport is Transport.UDP]
    assert [(f.payload_type, f.direction, len(f.payload)) for f in sdp] == [
        (0x9000, Direction.EV_TO_EVSE, 2),
        (0x9001, Direction.EVSE_TO_EV, 20),
    ]
    tls, _ = CAPTURES[capture]
    assert sdp[0].payload[0] == (0x00 if tls else 0x10)  # security byte: TLS or no transport security
    assert sdp[1].payload[18] == sdp[0].payload[0]


def test_split_v2gtp_names_what_is_wrong() -> None:
    good = bytes.fromhex("01fe80010000000480400040")
    assert split_v2gtp(good + good) == [(good[:8], good[8:])] * 2
    with pytest.raises(CaptureError, match="bad V2GTP version bytes 02fd at offset 12"):
        split_v2gtp(good + b"\x02\xfd" + good[2:])
    with pytest.raises(CaptureError, match="frame at offset 12 needs 4 payload bytes, has 3"):
        split_v2gtp(good + good[:-1])
    with pytest.raises(CaptureError, match="5 trailing bytes at offset 12"):
        split_v2gtp(good + good[:5])


SCHEMA_OF_TYPE = {0x8001: "appprotocol", 0x8002: "iso20-common", 0x8003: "iso20-ac", 0x8004: "iso20-dc"}


def test_every_captured_message_roundtrips_through_exificient(capture: str, exi_oracle: ExiOracle) -> None:
    """The captures are golden vectors: EXIficient decodes each payload and re-encodes it bit-exactly."""
    frames = _frames(capture)
    decoded = exi_oracle.batch(
        [OracleRequest(op=Op.DECODE, schema=SCHEMA_OF_TYPE[f.payload_type], data=f.payload) for f in frames]
    )
    failures = [(f.frame_number, r.error) for f, r in zip(frames, decoded, strict=True) if not r.ok]
    assert failures == []
    encoded = exi_oracle.batch([OracleRequest(op=Op.ENCODE, schema=r.request.schema, data=r.unwrap()) for r in decoded])
    assert [r.unwrap() for r in encoded] == [f.payload for f in frames]
