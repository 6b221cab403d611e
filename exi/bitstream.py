"""Bounded working sets for the bit-packed codec, so that encoding and decoding stay linear in the stream's length.

A Python int is immutable: ``(D >> k) & mask`` builds a new int as long as the bits above the ones read, and
``(acc << w) | v`` copies the whole accumulator. Holding a whole 60 KB stream in one int therefore makes every
read or write cost time proportional to the bytes already passed, and a message of n bytes costs O(n²).
Small messages (nearly all of them) are unaffected: the stream is one window and nothing here runs.

**Decoding** threads ``(D, T, p, L, R)``: ``R`` is the stream (bytes); ``D`` is a *window* of it, the octets from
``p // 8`` at the window's creation up to bit ``T`` (exclusive, in stream coordinates, so reading ``w`` bits at
``p`` is still ``(D >> (T - p - w)) & mask``); ``L`` is the window's limit. While ``p <= L`` the window holds at
least :data:`WINDOW_MARGIN` octets after ``p``, or it reaches the end of the stream (then ``L == T``). The
generated decoders place a *checkpoint* ``if p > L: D, T, L = window(R, p)`` after every call that can advance
far (a nested type, a string, a long integer) and in loops; between two checkpoints they read at most a few
hundred bits, a bound the code generator computes and checks against the margin. A read costs time
proportional to ``p`` minus the window's start, at most :data:`WINDOW_STEP` plus that bound.

**Encoding** threads ``(acc, n)``. Loops over repeated elements *spill*: when ``acc`` has grown past
:data:`SPILL_LIMIT`, the octets above its last few bits move to a side list, and when the loop ends they are put
back in one pass (:func:`unspill`). Outside loops the number of writes is bounded by the schema.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "SPILL_LIMIT",
    "WINDOW_MARGIN",
    "WINDOW_STEP",
    "EndOfStream",
    "read_bits",
    "read_uint_tail",
    "spill",
    "unspill",
    "window",
]

WINDOW_STEP = 256
"""Octets a decoder advances before its window moves on (a read costs time proportional to up to this many)."""
WINDOW_MARGIN = 512
"""Octets a window holds beyond its limit; at least the longest run of reads between two checkpoints."""
SPILL_LIMIT = 1 << 1024
"""An encoder's accumulator at or above this value (1024 bits) is spilled at the next loop iteration."""


class EndOfStream(ValueError):
    """The stream ends inside a value read from the octets directly.

    It carries the text of the ``ValueError`` a read past the end of a window raises, so that both are reported
    alike (as an unexpected end of stream at the current element).
    """

    def __init__(self) -> None:
        super().__init__("negative shift count")


def window(R: bytes, p: int) -> tuple[int, int, int]:
    """The window of stream ``R`` for reading from bit ``p``: ``(D, T, L)``."""
    start = p >> 3
    stop = start + WINDOW_STEP + WINDOW_MARGIN
    if stop >= len(R):
        end = len(R) << 3
        return int.from_bytes(R[start:], "big"), end, end
    return int.from_bytes(R[start:stop], "big"), stop << 3, (stop - WINDOW_MARGIN) << 3


def read_bits(R: bytes, p: int, w: int) -> int:
    """``w`` bits of the stream at bit ``p``, read from the octets (for a value that crosses a window's end)."""
    end = p + w
    if end > len(R) << 3:
        raise EndOfStream
    start = p >> 3
    stop = (end + 7) >> 3
    return (int.from_bytes(R[start:stop], "big") >> ((stop << 3) - end)) & ((1 << w) - 1)


_LAST_GROUP = re.compile(rb"[\x00-\x7f]")
_BIN7 = tuple(format(b & 0x7F, "07b") for b in range(256))
_CHUNK = 64


def read_uint_tail(R: bytes, p: int, low: int, shift: int) -> tuple[int, int]:
    """The rest of an Unsigned Integer longer than a window read allows: ``low`` holds its first ``shift`` bits.

    Groups are taken from the octets in chunks and combined in one pass (through a binary string), so an
    adversarially long integer costs time linear in its length.
    """
    end = len(R) << 3
    parts = []
    while True:
        count = min(_CHUNK, (end - p) >> 3)
        if count <= 0:
            raise EndOfStream
        chunk = read_bits(R, p, count << 3).to_bytes(count, "big")
        last = _LAST_GROUP.search(chunk)
        if last is None:
            parts.append(chunk)
            p += count << 3
            continue
        parts.append(chunk[: last.start() + 1])
        p += (last.start() + 1) << 3
        break
    groups = b"".join(parts)
    high = int("".join([_BIN7[g] for g in reversed(groups)]), 2)
    return low | (high << shift), p


def spill(acc: int, n: int, sp: list[Any] | None) -> tuple[int, list[Any]]:
    """Move the octets of ``acc`` above its last ``n % 8`` bits aside; returns the small remainder and the list.

    ``sp`` is ``[first, first_end, last_end, octets]``: the first spilled part as an int (its width is unknown:
    it holds whatever the accumulator held before the loop), the stream positions where it and the last part
    end, and the later parts as bytes (whole octets, as every cut is at a multiple of 8 bits).
    """
    keep = n & 7
    cut = n - keep
    high = acc >> keep
    if sp is None:
        sp = [high, cut, cut, []]
    else:
        sp[3].append(high.to_bytes((cut - sp[2]) >> 3, "big"))
        sp[2] = cut
    return acc & ((1 << keep) - 1), sp


def unspill(acc: int, n: int, sp: list[Any]) -> int:
    """Put the spilled octets back in front of ``acc`` (which holds the bits written since the last spill)."""
    first: int = sp[0]
    first_end: int = sp[1]
    last_end: int = sp[2]
    octets: list[bytes] = sp[3]
    if octets:
        first = (first << (last_end - first_end)) | int.from_bytes(b"".join(octets), "big")
    return (first << (n - last_end)) | acc
