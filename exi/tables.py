"""The grammar tables of the general coder, built on first use from the constants a codec module carries.

See :mod:`exi.codegen_tables` for the literal format. A :class:`SchemaTables` holds, per complex type, its
positions and states (with each state's second-level event list of EXI 1.0 §8.5.4.4.1 as the non-strict profile
orders it, exi-codec-guide §4.9), the "TypeEmpty" states ``xsi:nil`` switches to, the named types and their
derivation (for ``xsi:type``), the global elements (for wildcards) and the initial string table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from exi.datatypes import bits_for
from exi.model import QName
from exi.strings import Partitions

__all__ = ["ANY_TYPE", "CONTENT", "FIRST", "START", "Member", "Pos", "SchemaTables", "State", "TypeTable"]

FIRST, START, CONTENT = 0, 1, 2
"""State kinds: the first state of an element (xsi:type, xsi:nil may follow), a later start-tag state (attributes
may follow), a content state."""

ANY_TYPE: QName = ("http://www.w3.org/2001/XMLSchema", "anyType")

# Second-level entries per state kind (EXI §8.5.4.4.1, as EXIficient orders them with nothing preserved): an EE
# entry first when the state does not declare EE itself.
_SECOND = {
    FIRST: ("xsi:type", "xsi:nil", "AT*", "AT-untyped", "SE*", "CH"),
    START: ("AT*", "AT-untyped", "SE*", "CH"),
    CONTENT: ("SE*", "CH"),
}

Ref = Any
"""A member's grammar: a type index (complex) or ``(datatype row, declared simple type name or None)``."""


@dataclass(slots=True)
class Member:
    """One element (or attribute) a position admits."""

    name: QName
    ref: Ref

    @property
    def complex(self) -> bool:
        """True when the member has a complex type (its ref is a type index)."""
        return isinstance(self.ref, int)


@dataclass(slots=True)
class Pos:
    """A position of a type's content model (see :class:`exi.grammar.Position`)."""

    kind: str
    min: int
    max: int
    members: list[Member]
    fields: tuple[int, ...]
    succ: tuple[int, int, int, int]
    wildcard: tuple[str, ...]
    process: str
    counted: bool = False


@dataclass(slots=True)
class State:
    """A state: its productions, the width of its first-level code, and its second-level entries."""

    width: int
    prods: tuple[tuple[str, int, int], ...]
    kind: int
    second: tuple[str, ...] = ()
    width2: int = 0
    codes: dict[tuple[str, int, int], int] = field(default_factory=dict)

    @classmethod
    def of(cls, prods: tuple[tuple[str, int, int], ...], kind: int) -> State:
        """A state with the widths and second-level list its productions and kind imply."""
        ee = any(p[0] == "EE" for p in prods)
        second = _SECOND[kind] if ee else ("EE", *_SECOND[kind])
        codes = {p: i for i, p in enumerate(prods)}
        return cls(bits_for(len(prods) + 1), prods, kind, second, bits_for(len(second)), codes)

    def ats(self) -> list[int]:
        """Indexes of the AT productions (the third level of AT-untyped lists them in this order)."""
        return [i for i, p in enumerate(self.prods) if p[0] == "AT"]


@dataclass(slots=True)
class TypeTable:
    """One complex type's grammar and binding."""

    index: int
    name: QName
    named: bool
    abstract: bool
    mixed: bool
    generic: bool
    cls: type
    base: int
    fields: tuple[tuple[str, bool], ...]
    content_field: int
    positions: list[Pos]
    states: list[State]
    """The declared states, then the first content state (index ``content``), then the TypeEmpty states."""
    content: int
    empty: dict[int, int]
    """State -> its TypeEmpty counterpart (xsi:nil="true": attributes only, then EE)."""
    empty_content: int
    """TypeEmpty's content state {EE}: where undeclared SE(*) or CH lead in a nil element."""
    enc: Any
    """The specialised encoder ``(acc, n, obj) -> (acc, n)`` of a structured type (None for a generic one)."""
    dec: Any
    """The specialised decoder ``(D, T, p, L, R) -> (obj, p)`` of a structured type (None for a generic one)."""

    def next_state(self, position: int, count: int) -> int:
        """The state after the ``count``-th consecutive occurrence of ``position``."""
        pos = self.positions[position]
        one, under, mid, full = pos.succ
        if not pos.counted:
            return one
        if count < pos.min:
            return under
        if pos.max != -1 and count >= pos.max:
            return full
        return mid


def _build_type(index: int, row: tuple[Any, ...]) -> TypeTable:
    ns, local, flags, cls, base, fields, content_field, positions, states, content, enc, dec = row
    pos_list = []
    for kind, lo, hi, members, fidx, succ, wildcard, process in positions:
        counted = lo > 1 or hi not in (1, -1)
        members_ = [Member((m[0], m[1]), m[2]) for m in members]
        pos_list.append(Pos(kind, lo, hi, members_, fidx, succ, wildcard, process, counted))
    st_list = [State.of(prods, kind) for _w, prods, kind in states]
    content_id = len(st_list)
    st_list.append(State.of(content, CONTENT))
    empty: dict[int, int] = {}
    for sid, st in enumerate(list(st_list[:content_id])):
        if st.kind == CONTENT:
            continue
        ats = tuple(p for p in st.prods if p[0] == "AT")
        # Content may begin here when the state offers anything but attributes: then TypeEmpty offers EE.
        ee = len(ats) < len(st.prods)
        empty[sid] = len(st_list)
        st_list.append(State.of(ats + ((("EE", -1, 0),) if ee else ()), st.kind))
    st_list.append(State.of((("EE", -1, 0),), CONTENT))
    return TypeTable(
        index,
        (ns, local),
        bool(flags & 1),
        bool(flags & 2),
        bool(flags & 4),
        bool(flags & 8),
        cls,
        base,
        fields,
        content_field,
        pos_list,
        st_list,
        content_id,
        empty,
        len(st_list) - 1,
        enc,
        dec,
    )


class SchemaTables:
    """The tables of one schema set (built on first use)."""

    def __init__(
        self,
        name: str,
        types: tuple[Any, ...],
        simple: tuple[Any, ...],
        uris: tuple[str, ...],
        local_names: tuple[tuple[str, ...], ...],
        document: tuple[Any, ...],
        document_refs: tuple[Any, ...],
        fragment: tuple[Any, ...],
        fragment_refs: tuple[Any, ...],
    ) -> None:
        self.name = name
        self._rows = types
        self._simple_rows = simple
        self.uris = uris
        self.local_names = local_names
        self._document = document
        self._document_refs = document_refs
        self._fragment = fragment
        self._fragment_refs = fragment_refs
        self._built = False

    def _build(self) -> None:
        self.types = [_build_type(i, row) for i, row in enumerate(self._rows)]
        self.type_by_name = {t.name: t.index for t in self.types if t.named}
        self.type_of_class = {t.cls: t.index for t in self.types}
        self.simple: dict[QName, tuple[QName | None, tuple[Any, ...]]] = {}
        for ns, name, base_ns, base_name, dt in self._simple_rows:
            self.simple[(ns, name)] = ((base_ns, base_name) if base_name is not None else None, dt)
        self.document = [((r[0], r[1]), ref) for r, ref in zip(self._document, self._document_refs, strict=True)]
        self.fragment = [((r[0], r[1]), ref) for r, ref in zip(self._fragment, self._fragment_refs, strict=True)]
        self.root_class = {r[4]: i for i, r in enumerate(self._document) if isinstance(r[4], type)}
        self.globals = dict(self.document)
        self.partitions = Partitions(self.uris, self.local_names)
        self._built = True

    def ready(self) -> SchemaTables:
        """The tables, built."""
        if not self._built:
            self._build()
        return self

    def type_for_class(self, cls: type) -> int | None:
        """The type a binding class belongs to (element-named subclasses share their type's)."""
        found = self.type_of_class.get(cls)
        if found is None:
            name = getattr(cls, "__exi_type__", None)
            found = self.type_by_name.get(name) if name is not None else None
            if found is not None:
                self.type_of_class[cls] = found
        return found

    def derives(self, target: int, declared: int) -> bool:
        """True when complex type ``target`` is ``declared`` or derived from it."""
        t: int = target
        while t != -1:
            if t == declared:
                return True
            t = self.types[t].base
        return False

    def simple_derives(self, target: QName, declared: QName | None) -> bool:
        """True when simple type ``target`` is the named ``declared`` type or derived from it."""
        t: QName | None = target
        while t is not None and declared is not None:
            if t == declared:
                return True
            entry = self.simple.get(t)
            t = entry[0] if entry is not None else None
        return False
