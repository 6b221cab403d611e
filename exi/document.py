"""Documents and fragments: the EXI header, the DocContent / FragmentContent grammars, padding.

A :class:`Codec` wraps one generated codec module (see :mod:`exi.codegen_codec`) and offers
``encode`` / ``decode`` for documents and ``encode_fragment`` / ``decode_fragment`` for fragments.

The header is the single byte 0x80 (distinguishing bits ``10``, no options, final version 1): the ISO
15118 profile agrees every option out of band, so a stream with a cookie or an options document is
refused with a clear error. After the root element the document's ED costs no bits; the stream is
padded with zero bits to a whole byte. A fragment ends with an explicit ED code (EXI §8.4.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

from exi import bitstream
from exi.bitstream import window
from exi.datatypes import bits_for
from exi.deviations import Deviation
from exi.errors import DecodeError, EncodeError, ExiError, SlowPath
from exi.general import decode_general, deviation_error, encode_general
from exi.model import QName, clark
from exi.tables import SchemaTables
from exi.viewbase import ViewContext

__all__ = ["Codec", "Document"]

HEADER = 0x80


@dataclass(frozen=True)
class Document:
    """A decoded document or fragment: the root element's qualified name and its value.

    ``deviations`` lists the schema deviations a tolerant decoding accepted (always empty in strict mode).
    """

    root: QName
    value: Any
    deviations: tuple[Deviation, ...] = ()


class _Roots:
    def __init__(self, rows: tuple[tuple[Any, ...], ...]) -> None:
        self.rows = rows
        self.by_name: dict[str, list[int]] = {}
        self.by_class: dict[type, list[int]] = {}
        for i, row in enumerate(rows):
            ns, local = row[0], row[1]
            self.by_name.setdefault(local, []).append(i)
            if ns:
                self.by_name.setdefault(clark((ns, local)), []).append(i)
            cls = row[4]
            if isinstance(cls, type):
                self.by_class.setdefault(cls, []).append(i)

    def find(self, obj: Any, root: str | QName | None, what: str) -> int:
        if root is not None:
            key = clark(root) if isinstance(root, tuple) else root
            found = self.by_name.get(key, [])
            if len(found) != 1:
                reason = "is ambiguous (give {namespace}local)" if found else "is not declared in this schema set"
                raise EncodeError(f"{what} {key} {reason}")
            return found[0]
        found = self.by_class.get(type(obj), [])
        if len(found) == 1:
            return found[0]
        if not found:
            raise EncodeError(f"no {what} of this schema set has the type {type(obj).__name__}; give the root")
        names = ", ".join(self.rows[i][1] for i in found)
        raise EncodeError(f"several {what}s have the type {type(obj).__name__} ({names}); give the root")


class Codec:
    """Encoder and decoder for one compiled schema set."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.name: str = module.NAME
        self.namespaces: tuple[str, ...] = module.NAMESPACES
        self._doc = _Roots(module.DOCUMENT)
        self._frag = _Roots(module.FRAGMENT)
        self._doc_width = bits_for(len(module.DOCUMENT) + 1)
        self._frag_width = bits_for(len(module.FRAGMENT) + 2)
        run: int = module.RUN_BITS
        if run > bitstream.WINDOW_MARGIN * 8:
            raise ExiError(f"codec {self.name} reads up to {run} bits between window checkpoints: regenerate it")
        tables = getattr(module, "SCHEMA", None)
        if not isinstance(tables, SchemaTables):
            raise ExiError(f"codec {self.name} has no tables for the general coder: regenerate it")
        self.tables = tables
        self.prefixes: dict[str, str] = dict(getattr(module, "PREFIXES", {}))
        """Namespace -> prefix of the XML view."""
        self._view: ViewContext | None = None

    def view_context(self) -> ViewContext:
        """What the XML and JSON views need to know about this schema set (prefixes, types, elements)."""
        if self._view is None:
            self._view = ViewContext.of(self.tables, self.prefixes)
        return self._view

    @property
    def root_elements(self) -> list[QName]:
        """The global elements (possible document roots) in EXI order."""
        return [(row[0], row[1]) for row in self._doc.rows]

    def root_for(self, obj: Any) -> QName:
        """The global element a value's class belongs to (raises if none or several)."""
        row = self._doc.rows[self._doc.find(obj, None, "global element")]
        return (row[0], row[1])

    def _encode(self, obj: Any, roots: _Roots, i: int, width: int, fragment: bool) -> bytes:
        row = roots.rows[i]
        acc, n = (HEADER << width) | i, 8 + width
        enc = row[2]
        try:
            if enc is None:  # a simple-typed root (or one declared with differing types): the general coder
                raise SlowPath
            acc, n = enc(acc, n, obj)
        except (SlowPath, EncodeError) as exc:
            # A cast, wildcard content, a simple root, or a value the specialised code refuses: the general
            # encoder codes everything; where it refuses too, the specialised code's message is kept unless it
            # only reports a Python error (a value of the wrong kind, e.g. a TypeCast where none fits).
            try:
                data: bytes = encode_general(self.tables, obj, i, fragment=fragment)
                return data
            except EncodeError as general:
                specific = isinstance(exc, EncodeError) and exc.__cause__ is None
                first = exc if specific and isinstance(exc, EncodeError) else general
                raise first.within(row[1]) if not first.path or first.path[0] != row[1] else first from None
        if fragment:
            acc, n = (acc << width) | (len(self._frag.rows) + 1), n + width
        pad = -n % 8
        out: bytes = (acc << pad).to_bytes((n + pad) // 8, "big")
        return out

    def encode(self, obj: Any, root: str | QName | None = None) -> bytes:
        """Encode a document whose root element is ``root`` (inferred from the value's class if omitted)."""
        i = self._doc.find(obj, root, "global element")
        return self._encode(obj, self._doc, i, self._doc_width, False)

    def encode_fragment(self, obj: Any, root: str | QName | None = None) -> bytes:
        """Encode an element fragment (used for signature digests): header, SE, content, ED, padding."""
        i = self._frag.find(obj, root, "element")
        return self._encode(obj, self._frag, i, self._frag_width, True)

    def _decode(self, data: bytes, fragment: bool, tolerant: bool = False) -> tuple[QName, Any, tuple[Deviation, ...]]:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise DecodeError("input must be bytes", bit_offset=0)
        data = bytes(data)
        if not data:
            raise DecodeError("empty stream", bit_offset=0)
        if data[0] != HEADER:
            hint = " (an EXI cookie '$EXI')" if data[:4] == b"$EXI" else ""
            raise DecodeError(
                f"EXI header must be 0x80 (no cookie, no options, version 1); found 0x{data[0]:02x}{hint}",
                bit_offset=0,
            )
        try:
            return self._fast(data, fragment)
        except DecodeError as exc:
            if not exc.escape and not tolerant:
                raise
            failed_at = exc.bit_offset if exc.bit_offset is not None else -1
        # The stream escapes to what only the general decoder reads (xsi:type, wildcards, deviations).
        got = decode_general(self.tables, data, fragment=fragment, tolerant=tolerant, failed_at=failed_at)
        roots = self._frag if fragment else self._doc
        found = roots.by_name.get(clark(got.root), [])
        value = got.value
        if found and isinstance(roots.rows[found[0]][4], type):
            value = _as_root(value, roots.rows[found[0]][4])
        if got.deviations and not tolerant:
            err = deviation_error(got.deviations[0])
            err.tolerated = Document(got.root, value, got.deviations)
            raise err
        return got.root, value, got.deviations

    def _fast(self, data: bytes, fragment: bool) -> tuple[QName, Any, tuple[Deviation, ...]]:
        total = len(data) * 8
        if len(data) <= bitstream.WINDOW_STEP + bitstream.WINDOW_MARGIN:
            D, T, L = int.from_bytes(data, "big"), total, total  # one window: the common case, without a call
        else:
            D, T, L = window(data, 0)
        roots = self._frag if fragment else self._doc
        rows = roots.rows
        width = self._frag_width if fragment else self._doc_width
        if 8 + width > total:
            raise DecodeError("unexpected end of stream", bit_offset=8)
        code = (D >> (T - 8 - width)) & ((1 << width) - 1)
        if code >= len(rows):
            if code == len(rows):  # SE(*): an element named in the stream
                raise DecodeError("the root element is SE(*)", bit_offset=8, escape=True)
            what = "ED (an empty fragment)" if fragment and code == len(rows) + 1 else f"code {code}"
            raise DecodeError(f"unsupported root event {what}", bit_offset=8)
        row = rows[code]
        if row[3] is None and row[4] is None:
            raise DecodeError(f"element {row[1]} is declared with differing types; not supported", bit_offset=8)
        dec = row[3]
        if dec is None:  # a simple-typed root: the general decoder
            raise DecodeError("a simple-typed root element", bit_offset=8, escape=True)
        p = 8 + width
        try:
            value, p = dec(D, T, p, L, data)
        except DecodeError as exc:
            raise exc.within(row[1]) from None
        except (ValueError, IndexError, TypeError) as exc:
            raise DecodeError(f"malformed stream: {exc}", bit_offset=p, path=[row[1]]) from None
        cls = row[4]
        if type(value) is not cls and isinstance(cls, type):
            value = _as_root(value, cls)
        if p > L:
            D, T, L = window(data, p)
        if fragment:
            if total - p < width:
                raise DecodeError("unexpected end of stream before the fragment's ED", bit_offset=p)
            end = (D >> (T - p - width)) & ((1 << width) - 1)
            if end != len(rows) + 1:
                raise DecodeError(
                    f"expected ED (code {len(rows) + 1}) after the fragment's element, found {end}", bit_offset=p
                )
            p += width
        rest = total - p
        if rest >= 8:
            raise DecodeError(f"{rest // 8} unexpected byte(s) after the end of the document", bit_offset=p)
        return (row[0], row[1]), value, ()

    def decode_document(self, data: bytes, *, tolerant: bool = False) -> Document:
        """Decode a document, returning its root element name and value.

        Strict (the default) refuses a schema deviation with its element path and bit offset; the error's
        :attr:`~exi.errors.DecodeError.tolerated` holds the tolerant reading. ``tolerant`` returns that reading,
        with the deviations in :attr:`Document.deviations`.
        """
        return Document(*self._decode(data, False, tolerant))

    def decode(self, data: bytes) -> Any:
        """Decode a document and return the root element's value."""
        return self._decode(data, False)[1]

    def decode_fragment(self, data: bytes, *, tolerant: bool = False) -> Document:
        """Decode an element fragment (strict or tolerant as :meth:`decode_document`)."""
        return Document(*self._decode(data, True, tolerant))


def _as_root(value: Any, cls: Any) -> Any:
    """A root's value as its element-named subclass of the shared type class (same slots), if it has one."""
    if isinstance(cls, type) and type(value) is not cls and type(value) in cls.__mro__:
        object.__setattr__(value, "__class__", cls)
    return value
