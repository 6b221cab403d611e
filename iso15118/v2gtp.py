"""V2GTP framing: the 8-byte V2G Transfer Protocol header and incremental deframing of a byte stream.

Every V2G message on TCP and every SDP datagram on UDP is one V2GTP frame (ISO 15118-20, "V2GTP"; same
layout as ISO 15118-2)::

    offset 0  u8   protocol version            0x01
    offset 1  u8   inverse protocol version    0xFE (bitwise NOT of byte 0)
    offset 2  u16  payload type                see iso15118.constants.PayloadType
    offset 4  u32  payload length              payload bytes only, header excluded

All integers are big-endian. A receiver checks the version pair, that the payload type is one it knows,
and that the payload fits its buffer; a frame that fails a check is not processed and the caller closes
the connection (the standard gives no -20 requirement ID for these checks, so errors name the rule).

:class:`Deframer` turns a TCP byte stream, fed in arbitrary chunks, into :class:`Frame` objects in O(n).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from construct import Int8ub, Int16ub, Int32ub, Struct

from iso15118.constants import V2GTP_HEADER_LENGTH, V2GTP_VERSION, PayloadType
from iso15118.errors import FramingError

__all__ = [
    "DEFAULT_MAX_PAYLOAD_LENGTH",
    "V2GTP_INVERSE_VERSION",
    "Deframer",
    "Frame",
    "V2GTPHeader",
    "frame",
    "pack_header",
    "unpack_header",
]

#: Bitwise NOT of the protocol version, carried in header byte 1.
V2GTP_INVERSE_VERSION: Final = V2GTP_VERSION ^ 0xFF
#: Default receive limit: 64 KiB holds the largest -20 PnC messages (certificate chains exceed 5 kB).
DEFAULT_MAX_PAYLOAD_LENGTH: Final = 65536
_MAX_U32: Final = 0xFFFF_FFFF
_PAYLOAD_TYPES: Final[dict[int, int]] = {int(t): t for t in PayloadType}
# Compact the deframer's buffer once this many consumed bytes sit in front of the unread data.
_COMPACT_THRESHOLD: Final = 65536

# The header layout. The deframer's hot path reads the same layout through ``struct`` (0.1 µs instead of
# construct's 12 µs per header); tests/iso15118/test_v2gtp.py pins the two together.
_FAST_HEADER: Final = struct.Struct(">BBHI")
_HEADER = Struct(
    "version" / Int8ub,
    "inverse_version" / Int8ub,
    "payload_type" / Int16ub,
    "payload_length" / Int32ub,
)

# Rule names carried by FramingError.rule (the -20 text gives no requirement IDs for the header checks).
RULE_VERSION: Final = "V2GTP protocol version 0x01"
RULE_INVERSE: Final = "V2GTP inverse protocol version 0xFE"
RULE_PAYLOAD_TYPE: Final = "V2GTP known payload type"
RULE_LENGTH: Final = "V2GTP payload length within the receive buffer"
RULE_HEADER_SIZE: Final = "V2GTP header is 8 bytes"


@dataclass(frozen=True, slots=True, kw_only=True)
class V2GTPHeader:
    """A decoded V2GTP header. ``payload_type`` is a :class:`PayloadType` when the value is a known one."""

    version: int
    payload_type: int
    payload_length: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    """One complete V2GTP frame: its payload type and its payload (header stripped)."""

    payload_type: int
    payload: bytes


def _payload_type(value: int) -> int:
    return _PAYLOAD_TYPES.get(value, value)


def pack_header(payload_type: int, length: int) -> bytes:
    """Return the 8-byte V2GTP header for a payload of ``length`` bytes of type ``payload_type``."""
    if not 0 <= payload_type <= 0xFFFF:
        raise FramingError(f"payload type {payload_type} does not fit 16 bits", offset=2, rule=RULE_PAYLOAD_TYPE)
    if not 0 <= length <= _MAX_U32:
        raise FramingError(f"payload length {length} does not fit 32 bits", offset=4, rule=RULE_LENGTH)
    # Packed with the struct twin of _HEADER (as the deframer reads it): the test pins the two together.
    return _FAST_HEADER.pack(V2GTP_VERSION, V2GTP_INVERSE_VERSION, payload_type, length)


def frame(payload_type: int, payload: bytes) -> bytes:
    """Return ``payload`` framed with its V2GTP header."""
    return pack_header(payload_type, len(payload)) + bytes(payload)


def _check_header(
    fields: tuple[int, int, int, int],
    base: int,
    known_payload_types: frozenset[int] | None,
    max_payload_length: int | None,
) -> V2GTPHeader:
    """Validate decoded header ``fields``; ``base`` is the stream offset of the header's first byte."""
    version, inverse, payload_type, length = fields
    if version != V2GTP_VERSION:
        raise FramingError(
            f"protocol version is 0x{version:02X}, expected 0x{V2GTP_VERSION:02X}",
            offset=base,
            rule=RULE_VERSION,
        )
    if inverse != V2GTP_INVERSE_VERSION:
        raise FramingError(
            f"inverse protocol version is 0x{inverse:02X}, expected 0x{V2GTP_INVERSE_VERSION:02X}",
            offset=base + 1,
            rule=RULE_INVERSE,
        )
    if known_payload_types is not None and payload_type not in known_payload_types:
        raise FramingError(f"unknown payload type 0x{payload_type:04X}", offset=base + 2, rule=RULE_PAYLOAD_TYPE)
    if max_payload_length is not None and length > max_payload_length:
        raise FramingError(
            f"payload length {length} exceeds the maximum of {max_payload_length} bytes",
            offset=base + 4,
            rule=RULE_LENGTH,
        )
    return V2GTPHeader(version=version, payload_type=_payload_type(payload_type), payload_length=length)


def unpack_header(
    data: bytes,
    *,
    known_payload_types: Iterable[int] | None = None,
    max_payload_length: int | None = None,
) -> V2GTPHeader:
    """Decode and validate the V2GTP header at the start of ``data`` (at least 8 bytes; the rest is ignored).

    The version pair is always checked. ``known_payload_types`` and ``max_payload_length`` enable the
    payload-type and length checks (``None``: any value). Raises :class:`FramingError` naming the byte
    offset and the rule.
    """
    if len(data) < V2GTP_HEADER_LENGTH:
        raise FramingError(
            f"only {len(data)} bytes, a V2GTP header needs {V2GTP_HEADER_LENGTH}",
            offset=len(data),
            rule=RULE_HEADER_SIZE,
        )
    known = None if known_payload_types is None else frozenset(int(t) for t in known_payload_types)
    raw = _HEADER.parse(bytes(data[:V2GTP_HEADER_LENGTH]))
    fields = (raw.version, raw.inverse_version, raw.payload_type, raw.payload_length)
    return _check_header(fields, 0, known, max_payload_length)


class Deframer:
    """Incremental V2GTP deframer for one connection's byte stream.

    ``feed(data)`` buffers partial input and returns every frame completed by it, in order. Each header
    is checked once, as soon as its 8 bytes are there (so a bad or oversized header fails before its
    payload arrives); ``admit(payload_type, payload_length, offset, earlier)``, when given, judges it further
    (the session core refuses what its state does not expect) by raising :class:`FramingError`; ``earlier`` is
    the number of frames this ``feed`` call completed before it. On a violation
    ``feed`` raises :class:`FramingError` whose ``offset`` counts bytes from the start of the stream; the
    deframer then stays failed (every later ``feed`` raises the same error) and never returns buffered bytes
    as a frame. Frames completed earlier in the same ``feed``
    call are dropped with the error: the caller closes the connection anyway.
    """

    __slots__ = ("_admit", "_buffer", "_consumed", "_error", "_header", "_known", "_max", "_pos")

    def __init__(
        self,
        max_payload_length: int = DEFAULT_MAX_PAYLOAD_LENGTH,
        known_payload_types: Iterable[int] = PayloadType,
        admit: Callable[[int, int, int, int], None] | None = None,
    ) -> None:
        if not 0 <= max_payload_length <= _MAX_U32:
            raise ValueError(f"max_payload_length must be within 0..{_MAX_U32}, got {max_payload_length}")
        self._max = max_payload_length
        self._admit = admit
        self._known = frozenset(int(t) for t in known_payload_types)
        self._buffer = bytearray()
        self._pos = 0  # index of the first unread byte in _buffer
        self._consumed = 0  # stream offset of _buffer[0]
        self._header: V2GTPHeader | None = None  # header of the frame whose payload is awaited
        self._error: FramingError | None = None

    @property
    def offset(self) -> int:
        """Stream offset of the first byte not yet returned as part of a frame (or checked header)."""
        return self._consumed + self._pos

    @property
    def buffered(self) -> int:
        """Number of bytes received but not yet returned in a frame."""
        held = V2GTP_HEADER_LENGTH if self._header is not None else 0
        return len(self._buffer) - self._pos + held

    @property
    def failed(self) -> FramingError | None:
        """The error that failed the stream, or ``None``."""
        return self._error

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """Append ``data`` to the stream and return the frames it completed."""
        if self._error is not None:
            raise self._error
        self._buffer += data
        frames: list[Frame] = []
        buf = self._buffer
        try:
            while True:
                if self._header is None:
                    if len(buf) - self._pos < V2GTP_HEADER_LENGTH:
                        break
                    fields = _FAST_HEADER.unpack_from(buf, self._pos)
                    header = _check_header(fields, self.offset, self._known, self._max)
                    if self._admit is not None:
                        self._admit(header.payload_type, header.payload_length, self.offset, len(frames))
                    self._header = header
                    self._pos += V2GTP_HEADER_LENGTH
                length = self._header.payload_length
                if len(buf) - self._pos < length:
                    break
                end = self._pos + length
                frames.append(Frame(payload_type=self._header.payload_type, payload=bytes(buf[self._pos : end])))
                self._pos = end
                self._header = None
        except FramingError as exc:
            # Kept without its traceback: its frames would keep the caller (and its connection) alive.
            self._error = exc.with_traceback(None)
            self._buffer = bytearray()  # nothing buffered may ever be read as a frame again
            raise
        self._compact()
        return frames

    def _compact(self) -> None:
        # Dropping the consumed prefix costs O(unread); doing it only when the prefix is large and at
        # least half the buffer keeps feed() amortised O(n) in the bytes fed.
        pos, size = self._pos, len(self._buffer)
        if pos == size or (pos >= _COMPACT_THRESHOLD and 2 * pos >= size):
            del self._buffer[:pos]
            self._consumed += pos
            self._pos = 0
