"""V2GTP header round trips and the incremental Deframer (split/merged streams, errors, O(n))."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iso15118.constants import PayloadType
from iso15118.errors import FramingError
from iso15118.v2gtp import (
    RULE_INVERSE,
    RULE_LENGTH,
    RULE_PAYLOAD_TYPE,
    RULE_VERSION,
    Deframer,
    Frame,
    V2GTPHeader,
    frame,
    pack_header,
    unpack_header,
)
from tests.support.shared import SHARED, shared_path

# ---------------------------------------------------------------------------------------------------
# vectors: EXI streams from the shared folder (framed with their payload type) + a built-in handful

_NAMESPACE_TYPES = {
    "urn:iso:15118:2:2010:AppProtocol": PayloadType.SAP,
    "urn:din:70121:2012:MsgDef": PayloadType.SAP,  # DIN 70121 traffic uses 0x8001 as well
    "urn:iso:std:iso:15118:-20:CommonMessages": PayloadType.ISO20_COMMON,
    "urn:iso:std:iso:15118:-20:AC": PayloadType.ISO20_AC,
    "urn:iso:std:iso:15118:-20:DC": PayloadType.ISO20_DC,
    "http://www.w3.org/2000/09/xmldsig#": PayloadType.ISO20_COMMON,
}
_VECTOR_FILES = ("everest_test_vectors.json", "cbv2g_generated.json", "josev_session_vectors.json")

_BUILTIN: list[Frame] = [
    Frame(payload_type=PayloadType.SDP_REQUEST, payload=b"\x00\x00"),
    Frame(payload_type=PayloadType.ISO20_COMMON, payload=b""),
    Frame(payload_type=PayloadType.SAP, payload=b"\x80"),
    Frame(payload_type=PayloadType.ISO20_AC, payload=bytes(range(256))),
    Frame(payload_type=PayloadType.ISO20_DC, payload=bytes([0x01, 0xFE, 0x80, 0x02]) * 25),  # header look-alike
    Frame(payload_type=PayloadType.METERING_CONFIRMATION, payload=b"\xff" * 5000),
]


def _shared_frames() -> Iterator[tuple[str, Frame]]:
    for name in _VECTOR_FILES:
        path = SHARED / "vectors" / name
        if not path.exists():
            continue
        for vector in json.loads(path.read_text())["vectors"]:
            payload = bytes.fromhex(vector.get("hex") or vector["exi_hex"])
            recorded = vector.get("v2gtp_payload_type")
            ptype = PayloadType(int(recorded, 16)) if recorded else _NAMESPACE_TYPES[vector["namespace"]]
            yield f"{name}:{vector['name']}", Frame(payload_type=ptype, payload=payload)


SHARED_FRAMES = list(_shared_frames())
ALL_FRAMES = [f for _, f in SHARED_FRAMES] + _BUILTIN


def _feed_chunks(deframer: Deframer, stream: bytes, cuts: Sequence[int]) -> list[Frame]:
    frames: list[Frame] = []
    bounds = [0, *sorted(cuts), len(stream)]
    for start, end in itertools.pairwise(bounds):
        frames += deframer.feed(stream[start:end])
    return frames


# ---------------------------------------------------------------------------------------------------
# header round trips (construct's common() pattern: parse, build, size in one line each)


def common(header_bytes: bytes, header: V2GTPHeader) -> None:
    """Unpack gives the object, pack gives the bytes, both are 8 bytes, and the deframer agrees."""
    assert len(header_bytes) == 8
    assert unpack_header(header_bytes) == header
    assert pack_header(header.payload_type, header.payload_length) == header_bytes
    assert Deframer(max_payload_length=2**32 - 1, known_payload_types=range(0x10000)).feed(header_bytes) == (
        [] if header.payload_length else [Frame(payload_type=header.payload_type, payload=b"")]
    )


@pytest.mark.parametrize(
    ("hex_bytes", "payload_type", "length"),
    [
        ("01fe800100000025", PayloadType.SAP, 37),
        ("01fe800200000000", PayloadType.ISO20_COMMON, 0),
        ("01fe80030000ffff", PayloadType.ISO20_AC, 65535),
        ("01fe810400010000", PayloadType.PARKING_STATUS, 65536),
        ("01fe900000000002", PayloadType.SDP_REQUEST, 2),
        ("01fe900100000014", PayloadType.SDP_RESPONSE, 20),
        ("01fea000ffffffff", 0xA000, 2**32 - 1),
    ],
)
def test_header_round_trip(hex_bytes: str, payload_type: int, length: int) -> None:
    common(bytes.fromhex(hex_bytes), V2GTPHeader(version=1, payload_type=payload_type, payload_length=length))


def test_known_payload_types_are_enum_members() -> None:
    assert unpack_header(bytes.fromhex("01fe800300000001")).payload_type is PayloadType.ISO20_AC


@given(st.integers(0, 0xFFFF), st.integers(0, 2**32 - 1))
def test_header_round_trip_any_value(payload_type: int, length: int) -> None:
    data = pack_header(payload_type, length)
    assert data[:2] == b"\x01\xfe"
    header = unpack_header(data)
    assert (header.version, header.payload_type, header.payload_length) == (1, payload_type, length)
    assert pack_header(header.payload_type, header.payload_length) == data


@given(st.binary(min_size=8, max_size=8))
def test_construct_layout_and_deframer_fast_path_agree(data: bytes) -> None:
    """unpack_header (construct) and the Deframer (struct) read the same layout and raise the same errors."""
    try:
        expected: V2GTPHeader | FramingError = unpack_header(data, known_payload_types=PayloadType)
    except FramingError as exc:
        expected = exc
    deframer = Deframer(max_payload_length=2**32 - 1)
    try:
        frames = deframer.feed(data + b"\x00" * 64)
    except FramingError as exc:
        assert isinstance(expected, FramingError)
        assert (exc.offset, exc.rule, exc.reason) == (expected.offset, expected.rule, expected.reason)
    else:
        assert isinstance(expected, V2GTPHeader)
        if expected.payload_length <= 64:
            assert frames[0] == Frame(payload_type=expected.payload_type, payload=b"\x00" * expected.payload_length)
        else:
            assert frames == []


@pytest.mark.parametrize(
    ("data", "offset", "rule"),
    [
        (bytes.fromhex("02fe800200000000"), 0, RULE_VERSION),
        (bytes.fromhex("01ff800200000000"), 1, RULE_INVERSE),
        (bytes.fromhex("01fe123400000000"), 2, RULE_PAYLOAD_TYPE),
        (bytes.fromhex("01fe800200010001"), 4, RULE_LENGTH),
    ],
)
def test_unpack_header_errors(data: bytes, offset: int, rule: str) -> None:
    with pytest.raises(FramingError) as info:
        unpack_header(data, known_payload_types=PayloadType, max_payload_length=65536)
    assert (info.value.offset, info.value.rule) == (offset, rule)
    assert f"at byte {offset}" in str(info.value)


def test_unpack_header_short_and_pack_out_of_range() -> None:
    with pytest.raises(FramingError, match="only 5 bytes") as info:
        unpack_header(b"\x01\xfe\x80\x02\x00")
    assert info.value.offset == 5
    with pytest.raises(FramingError, match="does not fit 16 bits"):
        pack_header(0x10000, 0)
    with pytest.raises(FramingError, match="does not fit 32 bits"):
        pack_header(PayloadType.SAP, 2**32)


# ---------------------------------------------------------------------------------------------------
# deframing vectors


def test_shared_vectors_are_present_or_skip() -> None:
    shared_path("vectors", "everest_test_vectors.json")
    assert len(SHARED_FRAMES) >= 100  # 53 + 14 + 39 streams


def test_recorded_wire_headers_match() -> None:
    """Josev's on-the-wire V2GTP headers equal what pack_header builds for the same payload."""
    data = json.loads(shared_path("vectors", "josev_session_vectors.json").read_text())
    checked = 0
    for vector in data["vectors"]:
        if vector.get("v2gtp_header_hex"):
            payload = bytes.fromhex(vector["exi_hex"])
            expected = bytes.fromhex(vector["v2gtp_header_hex"])
            assert pack_header(int(vector["v2gtp_payload_type"], 16), len(payload)) == expected
            checked += 1
    assert checked > 0


@pytest.mark.parametrize("item", ALL_FRAMES, ids=[n for n, _ in SHARED_FRAMES] + [f"builtin{i}" for i in range(6)])
def test_every_split_point(item: Frame) -> None:
    """Each framed stream, cut into two chunks at every byte boundary, yields exactly its frame."""
    stream = frame(item.payload_type, item.payload)
    for cut in range(len(stream) + 1):
        deframer = Deframer()
        assert _feed_chunks(deframer, stream, [cut]) == [item]
        assert deframer.offset == len(stream)
        assert deframer.buffered == 0


def test_consecutive_pairs_split_everywhere() -> None:
    """Two frames merged in one stream, cut at every boundary (so one chunk holds parts of both)."""
    for first, second in itertools.pairwise(ALL_FRAMES):
        stream = frame(first.payload_type, first.payload) + frame(second.payload_type, second.payload)
        assert Deframer().feed(stream) == [first, second]
        for cut in range(len(stream) + 1):
            assert _feed_chunks(Deframer(), stream, [cut]) == [first, second]


def test_byte_by_byte() -> None:
    stream = b"".join(frame(f.payload_type, f.payload) for f in ALL_FRAMES)
    deframer = Deframer()
    frames = [f for i in range(len(stream)) for f in deframer.feed(stream[i : i + 1])]
    assert frames == ALL_FRAMES
    assert deframer.offset == len(stream)


@settings(max_examples=150)
@given(st.data())
def test_random_chunking(data: st.DataObject) -> None:
    chosen = data.draw(st.lists(st.sampled_from(ALL_FRAMES), min_size=1, max_size=8))
    stream = b"".join(frame(f.payload_type, f.payload) for f in chosen)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=20))
    assert _feed_chunks(Deframer(), stream, cuts) == chosen


def test_custom_known_types_and_limit() -> None:
    deframer = Deframer(max_payload_length=4, known_payload_types=[0xA000])
    assert deframer.feed(frame(0xA000, b"abcd")) == [Frame(payload_type=0xA000, payload=b"abcd")]
    with pytest.raises(FramingError) as info:
        deframer.feed(frame(PayloadType.SAP, b""))
    assert (info.value.offset, info.value.rule) == (12 + 2, RULE_PAYLOAD_TYPE)
    with pytest.raises(ValueError, match="max_payload_length"):
        Deframer(max_payload_length=-1)


# ---------------------------------------------------------------------------------------------------
# errors: named, at the right stream offset, sticky, and nothing buffered is ever returned

_CORRUPTIONS = {
    # name: (byte index in the header, replacement, rule)
    "version": (0, 0x02, RULE_VERSION),
    "inverse": (1, 0x00, RULE_INVERSE),
    "payload type": (2, 0x12, RULE_PAYLOAD_TYPE),  # 0x1202: not a known type
    "oversize": (4, 0x7F, RULE_LENGTH),  # 0x7F000000 > 65536
}


@settings(max_examples=200)
@given(st.data())
def test_corrupt_header_after_good_frames(data: st.DataObject) -> None:
    good = data.draw(st.lists(st.sampled_from(_BUILTIN[:5]), max_size=4))
    name = data.draw(st.sampled_from(sorted(_CORRUPTIONS)))
    index, value, rule = _CORRUPTIONS[name]
    bad = bytearray(frame(PayloadType.ISO20_COMMON, b"\x80\x98"))
    bad[index] = value
    prefix = b"".join(frame(f.payload_type, f.payload) for f in good)
    # A valid frame right after the bad header: it must never come out.
    trailer = frame(PayloadType.ISO20_AC, b"must not appear")
    stream = prefix + bytes(bad) + trailer
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=6))

    deframer = Deframer()
    frames: list[Frame] = []
    error: FramingError | None = None
    bounds = [0, *sorted(cuts), len(stream)]
    for start, end in itertools.pairwise(bounds):
        try:
            frames += deframer.feed(stream[start:end])
        except FramingError as exc:
            error = exc
            break
    assert error is not None
    assert (error.offset, error.rule) == (len(prefix) + index, rule)
    assert f"at byte {len(prefix) + index}" in str(error)
    # Frames before the error come out in order (those completed in the failing feed call are dropped).
    assert frames == good[: len(frames)]
    assert deframer.failed is error
    # Sticky: later feeds raise the same error, even with valid input.
    with pytest.raises(FramingError) as again:
        deframer.feed(frame(PayloadType.SAP, b"\x80"))
    assert again.value is error


def test_frame_boundaries_preserve_good_frames_before_error() -> None:
    good = _BUILTIN[:4]
    deframer = Deframer()
    for item in good:
        assert deframer.feed(frame(item.payload_type, item.payload)) == [item]
    with pytest.raises(FramingError) as info:
        deframer.feed(b"\x01\xfe\x80\x02\x00\x01")  # incomplete header: no error yet ...
        deframer.feed(b"\x00\x01")  # ... 65537 > 65536, raised before any payload byte arrives
    assert info.value.rule == RULE_LENGTH
    assert info.value.offset == sum(8 + len(f.payload) for f in good) + 4


def test_garbage_stream() -> None:
    with pytest.raises(FramingError, match="protocol version is 0x47") as info:
        Deframer().feed(b"GET / HTTP/1.1\r\n\r\n")
    assert info.value.offset == 0


# ---------------------------------------------------------------------------------------------------
# efficiency: amortised O(n) in the bytes fed


def _deframe_seconds(size: int) -> float:
    """Best-of-3 seconds to deframe a ``size``-byte payload in 64-byte chunks and many small frames."""
    big = frame(PayloadType.ISO20_COMMON, b"x" * size)
    many = frame(PayloadType.ISO20_AC, b"y" * 40) * (size // 512)
    best = float("inf")
    for _ in range(3):
        deframer = Deframer(max_payload_length=size)
        start = time.perf_counter()
        frames = [f for i in range(0, len(big), 64) for f in deframer.feed(big[i : i + 64])]
        frames += deframer.feed(many)
        best = min(best, time.perf_counter() - start)
        assert len(frames) == 1 + size // 512
        assert len(frames[0].payload) == size
    return best


def test_linear_time_on_small_chunks_and_many_frames() -> None:
    """Four times the input takes about four times as long (quadratic buffering would take sixteen)."""
    small = _deframe_seconds(1 << 20)
    large = _deframe_seconds(1 << 22)
    assert large < 9 * small, f"1 MiB: {small * 1e3:.1f} ms, 4 MiB: {large * 1e3:.1f} ms"
