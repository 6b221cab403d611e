"""The general decoder: interprets the grammar tables, second-level productions included (EXI 1.0 §8.5.4.4).

The specialised decoders of a codec module handle schema-valid streams without casts or wildcards; when one of
them meets an escape to the second level it gives up and :class:`~exi.document.Codec` decodes the stream again
here. Theory of operation, per element:

* a complex type is a loop over its states: read the event code; a declared production fills a field (or, for a
  generic type, appends to ``content``) and moves to the position's successor, counting consecutive occurrences of
  a bounded repetition; the escape reads the second-level code of the state's kind (:mod:`exi.tables`);
* ``xsi:type`` (schema-valid when it names a concrete type derived from the declared one) restarts the element in
  the named type's grammar; a cast to a derived complex type yields that type's object, any other cast a
  :class:`~exi.values.TypeCast`;
* SE(*) — a declared wildcard or an undeclared element — reads a qualified name through the string table
  (:mod:`exi.strings`); a global element of the set is decoded with its own grammar, any other name with the
  built-in element grammar, which the ISO profile's zero limits turn into ``xsi:type="xs:anyType"`` (EXIficient's
  behaviour), giving :class:`~exi.values.AnyContent`;
* every other second-level production is a schema deviation (:mod:`exi.deviations`): recorded with its element path
  and bit offset, and decoded so that the message can still be read: an early end leaves fields absent, an
  undeclared element is skipped, an untyped value is kept as its string.
"""

from __future__ import annotations

from typing import Any

from exi.datatypes import bits_for
from exi.deviations import Deviation, DeviationKind
from exi.errors import DecodeError
from exi.model import QName
from exi.streamio import Reader
from exi.tables import ANY_TYPE, CONTENT, Ref, SchemaTables, State, TypeTable
from exi.values import AnyContent, TypeCast, Wild

__all__ = ["Decoder", "offered"]

XSI = "http://www.w3.org/2001/XMLSchema-instance"
MAX_DEPTH = 100
"""Nesting deeper than this is refused (the ISO schemas nest 12 deep; only wildcard content could go on)."""

_SIMPLE_FIRST = ("EE", "xsi:type", "xsi:nil", "AT*", "AT-untyped", "SE*", "CH")
_SIMPLE_CONTENT = ("EE", "SE*", "CH")
_MISSING = object()


def offered(t: TypeTable, st: State) -> str:
    """The declared productions of a state, for messages."""
    out = []
    for ev, pi, mi in st.prods:
        if ev in ("SE", "AT"):
            out.append(("@" if ev == "AT" else "") + t.positions[pi].members[mi].name[1])
        elif ev == "SE*":
            out.append("*")
        else:
            out.append(ev)
    return ", ".join(out) or "nothing"


def _text(content: list[Any], text: str) -> None:
    """Character data into ``content`` (an empty CH event carries nothing an XML document could show)."""
    if text:
        content.append(text)


def _admits(wildcard: tuple[str, ...], uri: str) -> bool:
    if wildcard[:1] == ("##any",):
        return True
    if wildcard[:1] == ("##other",):
        return uri not in ("", wildcard[1])
    return uri in wildcard


class Decoder:
    """Decodes elements from a :class:`~exi.streamio.Reader`, collecting deviations instead of stopping at them."""

    __slots__ = ("deviations", "failed_at", "path", "r", "tables", "types")

    def __init__(self, tables: SchemaTables, reader: Reader, failed_at: int = -1) -> None:
        """``failed_at``: where a specialised decoder gave up on this stream (elements that start before it are
        interpreted: their specialised decoder might give up there again)."""
        self.tables = tables.ready()
        self.types = self.tables.types
        self.r = reader
        self.failed_at = failed_at
        self.deviations: list[Deviation] = []
        self.path: list[str] = []

    # ---- helpers -------------------------------------------------------------------------------------
    def deviate(self, kind: DeviationKind, detail: str, at: int) -> None:
        """Record a deviation at bit ``at`` of the current element."""
        self.deviations.append(Deviation(kind=kind, path=tuple(self.path), bit_offset=at, detail=detail))

    def value(self, dt: tuple[Any, ...]) -> Any:
        """A typed value; one that breaks its facets is kept as a deviation (the specialised decoders refuse it)."""
        facets: list[DecodeError] = []
        value = self.r.value(dt, facets)
        for problem in facets:
            self.deviate(DeviationKind.FACET, problem.reason, problem.bit_offset or self.r.p)
        return value

    def error(self, reason: str, at: int) -> DecodeError:
        """A decode error at bit ``at`` of the current element."""
        return DecodeError(reason, bit_offset=at, path=list(self.path))

    def element(self, name: QName, ref: Ref) -> Any:
        """An element's content after its SE: in its declared grammar (complex type index or simple datatype)."""
        path = self.path
        if len(path) >= MAX_DEPTH:
            raise self.error(f"elements nested more than {MAX_DEPTH} deep", self.r.p)
        path.append(name[1])
        try:
            if ref.__class__ is int:
                value = self.specialised(ref)
                if value is _MISSING:
                    value = self.complex(ref, ref)
            else:
                value = self.simple(ref[0], ref[1])
        except DecodeError as exc:
            if not exc.path:  # the innermost element names the path (decoding stops here)
                exc.path = list(path)
            raise
        path.pop()
        return value

    def specialised(self, ti: int) -> Any:
        """A structured type's content through its specialised decoder: _MISSING when it hands the element over
        (a cast, wildcard content, a deviation below), which is then interpreted from its start."""
        dec = self.types[ti].dec
        r = self.r
        if dec is None or r.p <= self.failed_at:
            return _MISSING
        r.check()
        start = r.p
        try:
            value, r.p = dec(r.D, r.T, start, r.L, r.R)
        except DecodeError as exc:
            self.failed_at = max(self.failed_at, exc.bit_offset or start)
            r.p = start
            return _MISSING
        return value

    def any_element(self, name: QName) -> Any:
        """An element matched by SE(*): a global element of the set in its grammar, any other in the built-in one."""
        ref = self.tables.globals.get(name)
        if ref is not None:
            return self.element(name, ref)
        if len(self.path) >= MAX_DEPTH:
            raise self.error(f"elements nested more than {MAX_DEPTH} deep", self.r.p)
        self.path.append(name[1])
        try:
            return self.builtin(name)
        finally:
            self.path.pop()

    # ---- xsi:type -------------------------------------------------------------------------------------
    def cast(self, target: QName, declared: int | None, decl_simple: QName | None, at: int) -> Any:
        """The rest of an element after ``xsi:type="target"`` (``declared``: its declared complex type)."""
        tt = self.tables.type_by_name.get(target)
        if tt is not None:
            t = self.types[tt]
            if declared is None or not self.tables.derives(tt, declared) or t.abstract:
                self.deviate(DeviationKind.INVALID_TYPE_CAST, f"xsi:type {target[1]} is not valid here", at)
            value = self.complex(tt, declared)
            return TypeCast(target, value) if tt == declared or declared is None else value
        simple = self.tables.simple.get(target)
        if simple is not None:
            if not self.tables.simple_derives(target, decl_simple):
                self.deviate(DeviationKind.INVALID_TYPE_CAST, f"xsi:type {target[1]} is not valid here", at)
            return TypeCast(target, self.simple(simple[1], decl_simple))
        if target == ANY_TYPE:
            self.deviate(DeviationKind.INVALID_TYPE_CAST, "xsi:type anyType on a declared element", at)
            return TypeCast(target, self.anytype(()))
        self.deviate(DeviationKind.INVALID_TYPE_CAST, f"xsi:type {target[1]} names no type of the schema set", at)
        return _MISSING

    # ---- complex types --------------------------------------------------------------------------------
    def complex(self, ti: int, declared: int | None) -> Any:
        """A complex type's content, from its first state to its EE."""
        r = self.r
        t = self.types[ti]
        values: list[Any] = [[] if rep else None for _name, rep in t.fields]
        content: list[Any] = []
        s, last, count, nil = 0, -1, 0, False
        while True:
            st = t.states[s]
            at = r.p
            code = r.bits(st.width)
            if code < len(st.prods):
                ev, pi, mi = st.prods[code]
                if ev == "EE":
                    break
                if ev == "CH" and pi == -1:  # mixed content: character data, then the content grammar goes on
                    _text(content, r.string())
                    s = s if st.kind == CONTENT else (t.empty_content if nil else t.content)
                    continue
                count = count + 1 if pi == last else 1
                last = pi
                self.production(t, ev, pi, mi, values, content)
                s = t.next_state(pi, count)
                if nil:
                    s = t.empty.get(s, s)
                continue
            if code > len(st.prods):
                raise self.error(f"event code {code} ({st.width} bits) is not a production here", at)
            c2 = r.bits(st.width2)
            if c2 >= len(st.second):
                raise self.error(f"second-level event code {c2} is not a production here", at)
            ev2 = st.second[c2]
            if ev2 == "EE":
                self.early_end(t, st, values, at)
                break
            if ev2 == "xsi:type":
                value = self.cast(r.qname(), declared, None, at)
                if value is not _MISSING:
                    return value
            elif ev2 == "xsi:nil":
                is_nil = bool(r.bits(1))
                self.deviate(DeviationKind.NIL, f"xsi:nil={'true' if is_nil else 'false'} (not nillable)", at)
                if is_nil:
                    nil, s = True, t.empty[s]
            elif ev2 == "AT*":
                name = r.qname()
                r.string()
                self.deviate(DeviationKind.UNDECLARED_ATTRIBUTE, f"attribute {name[1]} is not declared here", at)
            elif ev2 == "AT-untyped":
                s = self.untyped_attribute(t, st, s, values, at)
            elif ev2 == "SE*":
                name = r.qname()
                value = self.any_element(name)
                self.deviate(DeviationKind.UNDECLARED_ELEMENT, f"element {name[1]} is not allowed here", at)
                if t.generic:
                    content.append(Wild(name, value))
                s = s if st.kind == CONTENT else (t.empty_content if nil else t.content)
            else:  # CH
                text = r.string()
                ch = [p for p in st.prods if p[0] == "CH" and p[1] != -1]
                if ch:  # simple content that does not fit its datatype
                    values[t.positions[ch[0][1]].fields[0]] = text
                    self.deviate(DeviationKind.UNTYPED_VALUE, f"value {text[:40]!r} does not fit its datatype", at)
                else:
                    self.deviate(DeviationKind.UNDECLARED_CHARACTERS, f"character data {text[:40]!r}", at)
                    if t.generic:
                        _text(content, text)
                s = s if st.kind == CONTENT else (t.empty_content if nil else t.content)
        if t.abstract:
            self.deviate(DeviationKind.ABSTRACT_TYPE, f"type {t.name[1]} is abstract and no xsi:type names another", at)
        return self.build(t, values, content)

    def production(self, t: TypeTable, ev: str, pi: int, mi: int, values: list[Any], content: list[Any]) -> None:
        """A declared AT, CH (typed), SE or SE(*) production."""
        r = self.r
        pos = t.positions[pi]
        if ev == "AT" or ev == "CH":
            values[pos.fields[0]] = self.value(pos.members[0].ref[0])
        elif ev == "SE":
            m = pos.members[mi]
            value = self.element(m.name, m.ref)
            if t.generic:
                content.append((m.name[1], value))
            elif t.fields[pos.fields[mi]][1]:
                values[pos.fields[mi]].append(value)
            else:
                values[pos.fields[mi]] = value
        else:  # SE(*): a declared wildcard
            at = r.p
            name = r.qname()
            if not _admits(pos.wildcard, name[0]):
                self.deviate(DeviationKind.WILDCARD_NAMESPACE, f"the wildcard excludes namespace {name[0]!r}", at)
            value = self.any_element(name)
            if pos.process == "strict" and name not in self.tables.globals and isinstance(value, AnyContent):
                self.deviate(DeviationKind.WILDCARD_NAMESPACE, f"{name[1]} is not declared (strict wildcard)", at)
            content.append(Wild(name, value))

    def early_end(self, t: TypeTable, st: State, values: list[Any], at: int) -> None:
        """An undeclared EE: an empty string/binary simple content is valid, anything else a deviation."""
        ch = [p for p in st.prods if p[0] == "CH" and p[1] != -1]
        if ch:
            pos = t.positions[ch[0][1]]
            dt = pos.members[0].ref[0]
            if dt[0] in ("string", "binary"):
                empty: str | bytes = "" if dt[0] == "string" else b""
                values[pos.fields[0]] = empty
                if (dt[4] or 0) > 0 or (dt[5] or 0) > 0:
                    self.deviate(DeviationKind.MISSING_CONTENT, "empty value violates the length facet", at)
                return
        self.deviate(DeviationKind.MISSING_CONTENT, f"element ends where the schema expects {offered(t, st)}", at)

    def untyped_attribute(self, t: TypeTable, st: State, s: int, values: list[Any], at: int) -> int:
        """AT-untyped: a declared attribute with a value that does not fit its datatype, or AT(*) untyped."""
        r = self.r
        ats = st.ats()
        c3 = r.bits(bits_for(len(ats) + 1))
        if c3 < len(ats):
            _ev, pi, _mi = st.prods[ats[c3]]
            pos = t.positions[pi]
            text = r.string()
            values[pos.fields[0]] = text
            self.deviate(DeviationKind.UNTYPED_VALUE, f"attribute {pos.members[0].name[1]} = {text[:40]!r}", at)
            return t.next_state(pi, 1)
        if c3 > len(ats):
            raise self.error(f"third-level event code {c3} is not a production here", at)
        name = r.qname()
        r.string()
        self.deviate(DeviationKind.UNDECLARED_ATTRIBUTE, f"attribute {name[1]} is not declared here", at)
        return s

    def build(self, t: TypeTable, values: list[Any], content: list[Any]) -> Any:
        """The binding object (fields set through ``object.__setattr__``: absent ones stay None or empty)."""
        obj: Any = object.__new__(t.cls)
        for i, ((name, rep), value) in enumerate(zip(t.fields, values, strict=True)):
            if i == t.content_field:
                value = tuple(content)
            elif rep:
                value = tuple(value)
            object.__setattr__(obj, name, value)
        return obj

    # ---- simple types ---------------------------------------------------------------------------------
    def simple(self, dt: tuple[Any, ...], decl: QName | None) -> Any:
        """A simple type's content: S0 {CH}, S1 {EE}, and after a deviation the content copy S2 {CH}."""
        r = self.r
        state, value = 0, _MISSING
        while True:
            at = r.p
            if state == 1:
                if not r.bits(1):
                    return value
                if r.bits(1):  # [SE(*), CH] after a value: both undeclared
                    text = r.string()
                    self.deviate(DeviationKind.UNDECLARED_CHARACTERS, f"character data {text[:40]!r}", at)
                else:
                    name = r.qname()
                    self.any_element(name)
                    self.deviate(DeviationKind.UNDECLARED_ELEMENT, f"element {name[1]} is not allowed here", at)
                continue
            if not r.bits(1):
                value, state = self.value(dt), 1
                continue
            entries = _SIMPLE_FIRST if state == 0 else _SIMPLE_CONTENT
            c2 = r.bits(bits_for(len(entries)))
            if c2 >= len(entries):
                raise self.error(f"second-level event code {c2} is not a production here", at)
            ev2 = entries[c2]
            if ev2 == "EE":
                if value is not _MISSING:
                    return value
                if dt[0] in ("string", "binary"):
                    if (dt[4] or 0) > 0 or (dt[5] or 0) > 0:
                        self.deviate(DeviationKind.MISSING_CONTENT, "empty value violates the length facet", at)
                    return "" if dt[0] == "string" else b""
                self.deviate(DeviationKind.MISSING_CONTENT, "element ends without its value", at)
                return None
            if ev2 == "xsi:type":
                cast = self.cast(r.qname(), None, decl, at)
                if cast is not _MISSING:
                    return cast
            elif ev2 == "xsi:nil":
                is_nil = bool(r.bits(1))
                self.deviate(DeviationKind.NIL, f"xsi:nil={'true' if is_nil else 'false'} (not nillable)", at)
                if is_nil:
                    value, state = None, 1
            elif ev2 in ("AT*", "AT-untyped"):  # no declared attributes: AT-untyped's third level is AT(*), 0 bits
                name = r.qname()
                r.string()
                self.deviate(DeviationKind.UNDECLARED_ATTRIBUTE, f"attribute {name[1]} is not declared here", at)
            elif ev2 == "SE*":
                name = r.qname()
                self.any_element(name)
                self.deviate(DeviationKind.UNDECLARED_ELEMENT, f"element {name[1]} is not allowed here", at)
                state = 2
            else:  # CH: a value that does not fit the datatype
                value = r.string()
                self.deviate(DeviationKind.UNTYPED_VALUE, f"value {value[:40]!r} does not fit its datatype", at)
                state = 2

    # ---- elements the schema set does not declare ----------------------------------------------------------
    def builtin(self, name: QName) -> Any:
        """Built-in element grammar, nothing learned: start tag {EE, AT(*), SE(*), CH} (0 + 2 bits), then content
        {EE | SE(*), CH} (1 + 1 bits). ``xsi:type`` (an AT(*) named so) switches to the named type."""
        r = self.r
        strings = r.strings
        assert strings is not None
        attributes: list[tuple[QName, str]] = []
        content: list[Any] = []
        start = True
        while True:
            at = r.p
            if start:
                # A learned AT(xsi:type) (see exi.strings.Strings.learned) is the only first-level production.
                learned = name in strings.learned
                code = 4 if learned and not r.bits(1) else r.bits(2)
            else:
                code = 0 if not r.bits(1) else 2 + r.bits(1)
            if code == 0:
                return AnyContent(tuple(attributes), tuple(content))
            if code in (1, 4):
                attr = (XSI, "type") if code == 4 else r.qname()
                if attr == (XSI, "type"):
                    strings.learned.add(name)
                    target = r.qname()
                    value = self.typed(target, at)
                    if value is not _MISSING:
                        return value
                else:
                    attributes.append((attr, r.string()))
            elif code == 2:
                name = r.qname()
                content.append(Wild(name, self.any_element(name)))
                start = False
            else:
                _text(content, r.string())
                start = False

    def typed(self, target: QName, at: int) -> Any:
        """An undeclared element's content after ``xsi:type="target"``."""
        if target == ANY_TYPE:
            return self.anytype(())
        tt = self.tables.type_by_name.get(target)
        if tt is not None:
            return self.complex(tt, None)
        simple = self.tables.simple.get(target)
        if simple is not None:
            return TypeCast(target, self.simple(simple[1], target))
        self.deviate(DeviationKind.INVALID_TYPE_CAST, f"xsi:type {target[1]} names no type of the schema set", at)
        return _MISSING

    def anytype(self, attributes: tuple[tuple[QName, str], ...]) -> AnyContent:
        """The ``xs:anyType`` grammar: S0 {AT(*), SE(*), EE, CH} (3 bits), S1 {SE(*), EE, CH} (2 bits)."""
        r = self.r
        attrs = list(attributes)
        content: list[Any] = []
        first = True
        while True:
            at = r.p
            code = r.bits(3 if first else 2)
            event = ("AT*", "SE*", "EE", "CH", "ESC")[code] if first else ("SE*", "EE", "CH", "ESC")[code]
            if event == "ESC":  # second level: [xsi:type, xsi:nil, AT*, AT-untyped, SE*, CH] / [SE*, CH]
                second = ("xsi:type", "xsi:nil", "AT*", "AT-untyped", "SE*", "CH") if first else ("SE*", "CH")
                c2 = r.bits(bits_for(len(second)))
                if c2 >= len(second) or second[c2] in ("xsi:type", "xsi:nil"):
                    raise self.error("unsupported second-level event in anyType content", at)
                event = "AT*" if second[c2] == "AT-untyped" else second[c2]
            if event == "EE":
                return AnyContent(tuple(attrs), tuple(content))
            if event == "AT*":
                name = r.qname()
                attrs.append((name, r.string()))
            elif event == "SE*":
                name = r.qname()
                content.append(Wild(name, self.any_element(name)))
                first = False
            else:
                _text(content, r.string())
                first = False
