"""`v2g decode` and `v2g encode`: the EXI codec from the command line.

``v2g decode [--schema S] [--format xml|json] [--tolerant] HEX...`` prints one document per input. Input may be
a bare EXI stream or a whole V2GTP frame (``01FE...``, whose payload type then picks the grammar); without
``--schema`` and without a V2GTP header every schema set is tried and the one that decodes the whole
stream is used. A stream that deviates from its schema (non-strict undeclared productions, as EXIficient writes
them) is refused naming the element and bit; ``--tolerant`` decodes it and lists each deviation on stderr.
``v2g encode [--schema S] FILE...`` reads XML or JSON files (``-``: standard input) and prints one hex line each.

Error offsets count bits of the EXI stream; for a V2GTP frame the line also gives the frame's byte, which is
8 bytes further on (the header).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from exi.views import to_json as _json_view
from iso15118.codec import (
    SchemaDeviation,
    SchemaDeviationError,
    codec_for,
    decode_document,
    encode_message,
    from_json,
    from_xml,
    to_xml,
)
from iso15118.codec.schemasets import PAYLOAD_SETS, SCHEMA_ALIASES
from iso15118.constants import V2GTP_HEADER_LENGTH, PayloadType
from iso15118.errors import CodecError, FramingError, MessageDecodeError
from iso15118.v2gtp import unpack_header

__all__ = ["register"]

_AUTO_ORDER = ("iso20_common", "iso20_ac", "iso20_dc", "appprotocol", "iso20_wpt", "iso20_acdp", "iso2", "din")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `decode` and `encode`."""
    dec = sub.add_parser("decode", help="decode EXI streams (hex) to XML or JSON")
    dec.add_argument(
        "hex", nargs="+", metavar="HEX", help="EXI stream or V2GTP frame as hex; '-' reads lines from stdin"
    )
    dec.add_argument(
        "--schema", choices=sorted(SCHEMA_ALIASES), help="schema set (default: from the V2GTP header or by trying)"
    )
    dec.add_argument("--format", choices=("xml", "json"), default="xml")
    dec.add_argument(
        "--tolerant", action="store_true", help="decode schema deviations (EXIficient's undeclared productions)"
    )
    dec.set_defaults(func=_decode)
    enc = sub.add_parser("encode", help="encode XML or JSON files to EXI (one hex line per file)")
    enc.add_argument("files", nargs="+", metavar="FILE", help="XML or JSON file; '-' reads one document from stdin")
    enc.add_argument(
        "--schema", choices=sorted(SCHEMA_ALIASES), help="schema set (XML: default from the root's namespace)"
    )
    enc.set_defaults(func=_encode)


def _hex_inputs(items: list[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item == "-":
            out.extend(line.strip() for line in sys.stdin if line.strip())
        else:
            out.append(item)
    return out


def _parse_hex(text: str) -> bytes:
    cleaned = "".join(ch for ch in text if ch not in " :\t\n-")
    if cleaned.lower().startswith("0x"):
        cleaned = cleaned[2:]
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise CodecError(f"not a hex string: {text[:40]!r}") from None


_PAYLOAD_TYPES = frozenset(int(p) for p in PayloadType)
_EXI_HEADER = 0x80
"""The first byte of every stream the ISO 15118 codecs write: no cookie, no options, EXI version 1."""


def _looks_framed(data: bytes) -> bool:
    """A V2GTP header, possibly with a wrong version: the version byte's inverse, or a known payload type with a
    length that matches. An EXI stream of ours starts with 0x80, which no V2GTP header does."""
    if len(data) < V2GTP_HEADER_LENGTH or data[0] == _EXI_HEADER:
        return False
    if data[0] ^ data[1] == 0xFF:
        return True
    ptype = int.from_bytes(data[2:4], "big")
    length = int.from_bytes(data[4:8], "big")
    return ptype in _PAYLOAD_TYPES and length == len(data) - V2GTP_HEADER_LENGTH


def _unframe(data: bytes, schema: str | None) -> tuple[bytes, str | None, int]:
    """The EXI payload, the schema set its V2GTP payload type names, and the header's length (0: no frame)."""
    if schema is not None or not _looks_framed(data):
        return data, schema, 0
    try:
        header = unpack_header(data)  # the version checks the transport applies, with the rule each breaks
    except FramingError as exc:
        raise CodecError(f"V2GTP header: {exc}; the frame is not decoded") from None
    ptype, length = int(header.payload_type), header.payload_length
    if length != len(data) - V2GTP_HEADER_LENGTH:
        raise CodecError(f"V2GTP header announces {length} payload bytes but {len(data) - V2GTP_HEADER_LENGTH} follow")
    try:
        schema = PAYLOAD_SETS[PayloadType(ptype)]
    except (ValueError, KeyError):
        raise CodecError(f"V2GTP payload type 0x{ptype:04x} does not carry an EXI message") from None
    return data[V2GTP_HEADER_LENGTH:], schema, V2GTP_HEADER_LENGTH


def _decode_one(
    data: bytes, schema: str | None, tolerant: bool = False
) -> tuple[str, object, tuple[str, str], tuple[SchemaDeviation, ...]]:
    if schema is not None:
        doc = decode_document(data, schema, tolerant=tolerant)
        return schema, doc.value, doc.root, doc.deviations
    best: tuple[tuple[bool, int, int], str, MessageDecodeError] | None = None
    for name in _AUTO_ORDER:
        try:
            doc = decode_document(data, name, tolerant=tolerant)
        except MessageDecodeError as exc:
            # Report the schema set that got furthest into the structure: most likely the intended one. A schema
            # deviation means the set read the stream's structure; then the depth of the element reached (a
            # truncated stream fails in a leaf of the right set, a wrong set fails near the root), then the bit.
            reach = (isinstance(exc, SchemaDeviationError), len(exc.path), exc.bit_offset or 0)
            if best is None or reach > best[0]:
                best = (reach, name, exc)
            continue
        return name, doc.value, doc.root, doc.deviations
    assert best is not None
    _, name, furthest = best
    alias = next(a for a, n in SCHEMA_ALIASES.items() if n == name)
    what = f"no schema set decodes this stream (give --schema); furthest with {alias}: {furthest}"
    if isinstance(furthest, SchemaDeviationError):
        what = f"the stream deviates from schema set {alias} (--tolerant decodes it): {furthest}"
    raise MessageDecodeError(
        what,
        path=furthest.path,
        bit_offset=furthest.bit_offset,
    )


def _decode(args: argparse.Namespace) -> int:
    status = 0
    schema = SCHEMA_ALIASES[args.schema] if args.schema else None
    for text in _hex_inputs(args.hex):
        header = 0
        try:
            payload, named, header = _unframe(_parse_hex(text), schema)
            name, value, root, deviations = _decode_one(payload, named, args.tolerant)
        except CodecError as exc:
            print(f"error: cannot decode {text}", file=sys.stderr)
            if isinstance(exc, MessageDecodeError) and exc.bit_offset is not None:
                where = f"at bit {exc.bit_offset} (byte {exc.bit_offset // 8}) of the EXI stream"
                if header:
                    where += f" (byte {header + exc.bit_offset // 8} of the V2GTP frame)"
                print(f"  {where}, element /{'/'.join(exc.path)}", file=sys.stderr)
            print(f"  {exc}", file=sys.stderr)
            status = 1
            continue
        for deviation in deviations:
            print(f"warning: schema deviation {deviation}", file=sys.stderr)
        if args.format == "json":
            print(json.dumps(_json_view(value, root[1], codec_for(name).view_context()), indent=2))
        else:
            print(to_xml(value, schema=name).rstrip())
    return status


def _encode(args: argparse.Namespace) -> int:
    status = 0
    schema = SCHEMA_ALIASES[args.schema] if args.schema else None
    for path in args.files:
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
            if text.lstrip().startswith("<"):
                msg = from_xml(text, schema)
                data = encode_message(msg, schema=schema)
            else:
                doc = json.loads(text)
                name = schema or _schema_for_json_root(doc)
                msg = from_json(doc, name)
                data = encode_message(msg, schema=name)
        except (OSError, json.JSONDecodeError, CodecError) as exc:
            print(f"error: {path}: {exc}", file=sys.stderr)
            status = 1
            continue
        print(data.hex())
    return status


def _schema_for_json_root(doc: object) -> str:
    if not isinstance(doc, dict) or len(doc) != 1:
        raise CodecError("the JSON view is an object with exactly one member: the root element")
    root = next(iter(doc))
    found = [n for n in _AUTO_ORDER if any(row[1] == root for row in codec_for(n).module.DOCUMENT)]
    specific = [n for n in found if n not in ("iso2", "din")] or found
    if len(specific) == 1:
        return specific[0]
    if not specific:
        raise CodecError(f"no schema set has a global element {root!r}")
    raise CodecError(f"{root} exists in several schema sets ({', '.join(specific)}); give --schema")
