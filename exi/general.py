"""Documents and fragments through the general coder (the table interpreter), with a string table per stream.

:class:`~exi.document.Codec` tries a codec module's specialised functions first; a value they hand over
(:class:`~exi.errors.SlowPath`) or a stream that escapes to a production they do not read
(:attr:`~exi.errors.DecodeError.escape`) comes here. The layout is the same (header 0x80, DocContent or
FragmentContent code, the root element, the fragment's ED, zero padding); the root may also be SE(*), an element
named in the stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from exi.bitstream import WINDOW_MARGIN, WINDOW_STEP, window
from exi.datatypes import bits_for
from exi.deviations import Deviation, DeviationKind
from exi.errors import DecodeError, EncodeError
from exi.interp_decode import Decoder
from exi.interp_encode import Encoder
from exi.model import QName
from exi.runtime import premature
from exi.streamio import Reader, Writer
from exi.strings import Strings
from exi.tables import SchemaTables

__all__ = ["Decoded", "decode_general", "encode_general"]

HEADER = 0x80


@dataclass(frozen=True)
class Decoded:
    """What the general decoder read: the root's name and value, and the deviations it tolerated."""

    root: QName
    value: Any
    deviations: tuple[Deviation, ...] = field(default=())


def encode_general(tables: SchemaTables, obj: Any, index: int, *, fragment: bool) -> bytes:
    """Encode ``obj`` as the root ``index`` of the document (or fragment) grammar."""
    t = tables.ready()
    rows = t.fragment if fragment else t.document
    width = bits_for(len(rows) + (2 if fragment else 1))
    name, ref = rows[index]
    if ref is None:
        raise EncodeError("this element is declared with differing types; it cannot be a fragment root").within(name[1])
    w = Writer(HEADER, 8, Strings(t.partitions))
    w.bits(index, width)
    Encoder(t, w).element(name, ref, obj)
    if fragment:
        w.bits(len(rows) + 1, width)
    acc, n = w.finish()
    pad = -n % 8
    return (acc << pad).to_bytes((n + pad) // 8, "big")


def decode_general(
    tables: SchemaTables, data: bytes, *, fragment: bool, tolerant: bool, failed_at: int = -1
) -> Decoded:
    """Decode a document or fragment, collecting schema deviations (raises DecodeError for anything worse).

    Not ``tolerant``, a hard error after a deviation is reported as the deviation: the stream went wrong there
    first (the caller refuses deviations in strict mode anyway). ``failed_at``: the bit where the specialised
    decoder gave up (the general one interprets what starts before it).
    """
    t = tables.ready()
    total = len(data) * 8
    if len(data) <= WINDOW_STEP + WINDOW_MARGIN:
        D, T, L = int.from_bytes(data, "big"), total, total
    else:
        D, T, L = window(data, 0)
    r = Reader(D, T, 8, L, data, Strings(t.partitions))
    dec = Decoder(t, r, failed_at)
    rows = t.fragment if fragment else t.document
    width = bits_for(len(rows) + (2 if fragment else 1))
    try:
        code = r.bits(width)
        if code < len(rows):
            name, ref = rows[code]
            if ref is None:
                raise DecodeError(f"element {name[1]} is declared with differing types; not supported", bit_offset=8)
            value = dec.element(name, ref)
        elif code == len(rows):
            name = r.qname()
            if name not in t.globals:
                dec.deviate(DeviationKind.UNDECLARED_ELEMENT, f"root element {name[1]} is not declared", 8)
            value = dec.any_element(name)
        else:
            raise DecodeError(f"unsupported root event (code {code})", bit_offset=8)
        if fragment:
            at = r.p
            end = r.bits(width)
            if end != len(rows) + 1:
                raise DecodeError(
                    f"expected ED (code {len(rows) + 1}) after the fragment's element, found {end}", bit_offset=at
                )
        rest = total - r.p
        if rest >= 8:
            raise DecodeError(f"{rest // 8} unexpected byte(s) after the end of the document", bit_offset=r.p)
    except DecodeError:
        if dec.deviations and not tolerant:
            raise deviation_error(dec.deviations[0]) from None
        raise
    except RecursionError:
        raise DecodeError("elements nested too deep", bit_offset=r.p, path=list(dec.path)) from None
    except (ValueError, IndexError, TypeError, KeyError, OverflowError) as exc:
        if dec.deviations and not tolerant:
            raise deviation_error(dec.deviations[0]) from None
        err = premature(exc, data, r.p)
        err.path = list(dec.path)
        raise err from None
    return Decoded(name, value, tuple(dec.deviations))


def deviation_error(deviation: Deviation) -> DecodeError:
    """The strict decoder's error for a deviation: named, with its element path and bit offset."""
    return DecodeError(
        f"schema deviation ({deviation.kind}): {deviation.detail}",
        bit_offset=deviation.bit_offset,
        path=list(deviation.path),
    )
