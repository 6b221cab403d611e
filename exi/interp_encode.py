"""The general encoder: interprets the grammar tables for what the specialised encoders hand over.

A specialised encoder raises :class:`~exi.runtime.SlowPath` when a value needs more than its straight-line code:
an object of a derived type in a field (``xsi:type``), a :class:`~exi.values.TypeCast`, wildcard content
(:class:`~exi.values.Wild`). :class:`~exi.document.Codec` then encodes the whole message here. The walk mirrors the
specialised encoders: positions in schema order, each present field's event code looked up in the current state,
the state moved on by the position (counting a bounded repetition's items), EE at the end; a production the state
does not offer is the grammar refusing the value. It never writes an undeclared production except the two the
schema-valid content needs: ``xsi:type`` (EXI 1.0 §8.5.4.4.1, second level of an element's first state) and the
second-level EE of an empty string or binary value (exi-codec-guide §8, pitfall 9).
"""

from __future__ import annotations

from typing import Any

from exi.errors import EncodeError, SlowPath
from exi.model import QName, clark
from exi.streamio import Writer, check_value
from exi.tables import ANY_TYPE, CONTENT, Pos, Ref, SchemaTables, State, TypeTable
from exi.values import AnyContent, TypeCast, Wild

__all__ = ["Encoder"]

XSI_TYPE: QName = ("http://www.w3.org/2001/XMLSchema-instance", "type")


def _admits(wildcard: tuple[str, ...], uri: str) -> bool:
    if wildcard[:1] == ("##any",):
        return True
    if wildcard[:1] == ("##other",):
        return uri not in ("", wildcard[1])
    return uri in wildcard


class Encoder:
    """Encodes elements onto a :class:`~exi.streamio.Writer`."""

    __slots__ = ("tables", "types", "w")

    def __init__(self, tables: SchemaTables, writer: Writer) -> None:
        self.tables = tables.ready()
        self.types = self.tables.types
        self.w = writer

    def code(self, t: TypeTable, s: int, prod: tuple[str, int, int], what: str) -> None:
        """Write a declared production's event code in state ``s`` (or refuse: the state does not offer it)."""
        st = t.states[s]
        code = st.codes.get(prod)
        if code is None:
            from exi.interp_decode import offered

            raise EncodeError(f"{what} is not allowed here (the schema allows: {offered(t, st)})")
        self.w.bits(code, st.width)

    # ---- elements ------------------------------------------------------------------------------------
    def element(self, name: QName, ref: Ref, value: Any) -> None:
        """An element's content after its SE, in its declared grammar."""
        try:
            if isinstance(ref, int):
                self.complex(ref, value)
            else:
                self.simple(ref, value)
        except EncodeError as exc:
            raise exc.within(name[1]) from None

    def cast(self, first: State, target: QName) -> None:
        """``xsi:type="target"`` in an element's first state: the escape, the second-level code, the QName."""
        self.w.bits(len(first.prods), first.width)
        self.w.bits(first.second.index("xsi:type"), first.width2)
        self.w.qname(target)

    def complex(self, ti: int, o: Any) -> None:
        """A value of declared complex type ``ti``: its own class, a derived type's, or a TypeCast."""
        t = self.types[ti]
        if t.enc is not None and type(o) is t.cls:
            # The specialised encoder codes what it can; a cast or wildcard content below is interpreted here.
            w = self.w
            w.room()
            try:
                w.acc, w.n = t.enc(w.acc, w.n, o)
                return
            except (SlowPath, EncodeError):
                pass
        if isinstance(o, TypeCast):
            self.cast(t.states[0], o.type)
            self.after_cast(o.type, o.value, ti, None)
            return
        if isinstance(o, (AnyContent, Wild)) or not hasattr(o, "__dataclass_fields__"):
            raise EncodeError(f"expected a {t.cls.__name__}", value=o)
        if type(o) is not t.cls:
            tt = self.tables.type_for_class(type(o))
            if tt is None:
                raise EncodeError(f"{type(o).__name__} is not a type of this schema set", value=o)
            if tt != ti:
                target = self.types[tt]
                if not self.tables.derives(tt, ti) or not target.named:
                    raise EncodeError(f"{target.name[1]} is not derived from {t.name[1]}")
                self.cast(t.states[0], target.name)
                t = target
        if t.abstract:
            raise EncodeError(f"type {t.name[1]} is abstract: give an object of a derived type (xsi:type)")
        self.content(t, o)

    def after_cast(self, target: QName, value: Any, declared: int | None, decl_simple: QName | None) -> None:
        """The content after ``xsi:type="target"``, which must be the declared type or derived from it."""
        tt = self.tables.type_by_name.get(target)
        if tt is not None:
            t = self.types[tt]
            if declared is not None and not self.tables.derives(tt, declared):
                raise EncodeError(f"xsi:type {target[1]} is not derived from {self.types[declared].name[1]}")
            if t.abstract:
                raise EncodeError(f"xsi:type {target[1]} names an abstract type")
            if type(value) is not t.cls and self.tables.type_for_class(type(value)) != tt:
                raise EncodeError(f"the value of xsi:type {target[1]} must be a {t.cls.__name__}", value=value)
            self.content(t, value)
            return
        simple = self.tables.simple.get(target)
        if simple is not None and (declared is None or decl_simple is not None):
            if decl_simple is not None and not self.tables.simple_derives(target, decl_simple):
                raise EncodeError(f"xsi:type {target[1]} is not derived from {decl_simple[1]}")
            self.simple_value(simple[1], value)
            return
        if target == ANY_TYPE and declared is None and decl_simple is None and isinstance(value, AnyContent):
            self.anytype(value)
            return
        raise EncodeError(f"xsi:type {clark(target)} is not a type this element may take")

    def simple(self, ref: tuple[Any, ...], value: Any) -> None:
        """A simple-typed element's content (CH value EE), an empty value, or a cast."""
        dt, decl = ref
        if isinstance(value, TypeCast):
            self.w.bits(0b1001, 4)  # escape, then xsi:type = 1 of [EE, xsi:type, xsi:nil, AT*, AT-untyped, SE*, CH]
            self.w.qname(value.type)
            if decl is None:
                raise EncodeError("an element of an anonymous simple type cannot take xsi:type")
            self.after_cast(value.type, value.value, None, decl)
            return
        self.simple_value(dt, value)

    def simple_value(self, dt: tuple[Any, ...], value: Any) -> None:
        """CH, value, EE (or, for an empty string or binary, the escape and second-level EE)."""
        check_value(value, dt)
        if dt[0] in ("string", "binary") and len(value) == 0:
            self.w.bits(0b1000, 4)
            return
        self.w.bits(0, 1)
        self.w.value(value, dt)
        self.w.bits(0, 1)

    # ---- content of a complex type ----------------------------------------------------------------------
    def content(self, t: TypeTable, o: Any) -> None:
        """Attributes and content of ``o`` in type ``t``'s grammar, from its first state to EE."""
        s = 0
        for pi, pos in enumerate(t.positions):
            if pos.kind == "AT":
                s = self.attribute(t, s, pi, pos, o)
            elif pos.kind == "CH":
                value = getattr(o, t.fields[pos.fields[0]][0])
                dt = pos.members[0].ref[0]
                check_value(value, dt)
                if dt[0] in ("string", "binary") and len(value) == 0:
                    st = t.states[s]
                    self.w.bits(len(st.prods), st.width)
                    self.w.bits(st.second.index("EE"), st.width2)
                    return
                self.code(t, s, ("CH", pi, 0), "value")
                self.w.value(value, dt)
                s = t.next_state(pi, 1)
            elif not t.generic:
                s = self.position(t, s, pi, pos, o)
        if t.generic:
            s = self.items(t, s, getattr(o, t.fields[t.content_field][0]))
        self.code(t, s, ("EE", -1, 0), "end of element (a required element is missing)")

    def attribute(self, t: TypeTable, s: int, pi: int, pos: Pos, o: Any) -> int:
        name = pos.members[0].name[1]
        value = getattr(o, t.fields[pos.fields[0]][0])
        if value is None:
            if pos.min:
                raise EncodeError(f"required attribute {name} is missing")
            return s
        self.code(t, s, ("AT", pi, 0), "@" + name)
        try:
            self.w.value(value, pos.members[0].ref[0])
        except EncodeError as exc:
            raise exc.within("@" + name) from None
        return t.next_state(pi, 1)

    def position(self, t: TypeTable, s: int, pi: int, pos: Pos, o: Any) -> int:
        """The fields of one element position (its members; a repeated member's items)."""
        for mi, m in enumerate(pos.members):
            name, repeated = t.fields[pos.fields[mi]]
            value = getattr(o, name)
            items = value if repeated else (() if value is None else (value,))
            if repeated and pos.max != -1 and len(items) > pos.max:
                raise EncodeError(f"at most {pos.max} {m.name[1]} allowed", value=len(items)).within(m.name[1])
            for count, item in enumerate(items, 1):
                self.w.room()
                self.code(t, s, ("SE", pi, mi), m.name[1])
                self.element(m.name, m.ref, item)
                s = t.next_state(pi, count)
        return s

    def items(self, t: TypeTable, s: int, content: Any) -> int:
        """The ``content`` items of a generic type: text, ``(local name, value)`` children, Wild elements."""
        last, count = -1, 0
        for item in content:
            self.w.room()
            if isinstance(item, str):
                if item:
                    # Mixed content: CH loops in a content state; from a start-tag state it enters the content
                    # grammar (EXI 1.0 §8.5.4.1.3.2: Content_i,j : CH Content_i,j).
                    self.code(t, s, ("CH", -1, 0), "character data")
                    self.w.string(item)
                    s = s if t.states[s].kind == CONTENT else t.content
                continue
            if isinstance(item, Wild):
                pi = self.wildcard(t, s, item)
            else:
                local, value = item
                st = t.states[s]
                found = [(p, m) for ev, p, m in st.prods if ev == "SE" and t.positions[p].members[m].name[1] == local]
                if not found:
                    from exi.interp_decode import offered

                    raise EncodeError(f"{local} is not allowed here (the schema allows: {offered(t, st)})")
                pi, mi = found[0]
                self.code(t, s, ("SE", pi, mi), local)
                m = t.positions[pi].members[mi]
                self.element(m.name, m.ref, value)
            count = count + 1 if pi == last else 1
            last = pi
            s = t.next_state(pi, count)
        return s

    def wildcard(self, t: TypeTable, s: int, item: Wild) -> int:
        """An element matched by the state's SE(*): its code, its qualified name, its content."""
        st = t.states[s]
        for ev, p, m in st.prods:
            if ev == "SE" and t.positions[p].members[m].name == item.name:
                raise EncodeError(f"{item.name[1]} is declared here: give it as ({item.name[1]!r}, value), not Wild")
        wild = [(ev, p, m) for ev, p, m in st.prods if ev == "SE*"]
        if not wild:
            raise EncodeError(f"element {clark(item.name)} is not allowed here (no wildcard)")
        pos = t.positions[wild[0][1]]
        if not _admits(pos.wildcard, item.name[0]):
            raise EncodeError(f"the wildcard does not admit namespace {item.name[0]!r}")
        if pos.process == "strict" and item.name not in self.tables.globals and isinstance(item.value, AnyContent):
            raise EncodeError(f"{clark(item.name)} is not declared in the schema set and the wildcard is strict")
        self.w.bits(st.codes[wild[0]], st.width)
        self.w.qname(item.name)
        try:
            self.any_element(item.name, item.value)
        except EncodeError as exc:
            raise exc.within(item.name[1]) from None
        return wild[0][1]

    # ---- elements the schema set does not declare ----------------------------------------------------------
    def any_element(self, name: QName, value: Any) -> None:
        """An element after SE(*) and its name: a global element of the set in its grammar, any other with
        ``xsi:type`` (anyType for :class:`AnyContent`, else the value's type) in the built-in grammar."""
        ref = self.tables.globals.get(name)
        if ref is not None:
            self.element(name, ref, value)
            return
        # Built-in start tag: its learned productions (none, or AT(xsi:type) after a first occurrence: then the
        # escape takes 1 bit), then AT(*) = 1 of the second level [EE, AT(*), SE(*), CH].
        strings = self.w.strings
        if strings is None:
            raise SlowPath
        if name in strings.learned:
            self.w.bits(1, 1)
        strings.learned.add(name)
        self.w.bits(1, 2)
        self.w.qname(XSI_TYPE)
        if isinstance(value, AnyContent):
            self.w.qname(ANY_TYPE)
            self.anytype(value)
        elif isinstance(value, TypeCast):
            self.w.qname(value.type)
            self.after_cast(value.type, value.value, None, None)
        else:
            tt = self.tables.type_for_class(type(value))
            if tt is None or not self.types[tt].named:
                raise EncodeError("an undeclared element needs AnyContent, a TypeCast or an object of a named type")
            self.w.qname(self.types[tt].name)
            self.content(self.types[tt], value)

    def anytype(self, value: AnyContent) -> None:
        """The ``xs:anyType`` grammar: S0 {AT(*), SE(*), EE, CH} (3 bits), S1 {SE(*), EE, CH} (2 bits)."""
        w = self.w
        # EXIficient codes attributes in qname order (local name, then URI), whatever their order in the XML.
        for name, text in sorted(value.attributes, key=lambda a: (a[0][1], a[0][0])):
            if not isinstance(text, str):
                raise EncodeError(f"the value of attribute {name[1]} must be a str", value=text)
            w.bits(0, 3)
            w.qname(name)
            w.string(text)
        first = True
        for item in value.content:
            w.room()
            if isinstance(item, str):
                if item:
                    w.bits(3, 3) if first else w.bits(2, 2)
                    w.string(item)
                    first = False
            elif isinstance(item, Wild):
                w.bits(1, 3) if first else w.bits(0, 2)
                w.qname(item.name)
                self.any_element(item.name, item.value)
                first = False
            else:
                raise EncodeError("AnyContent items are str or Wild", value=item)
        w.bits(2, 3) if first else w.bits(1, 2)
