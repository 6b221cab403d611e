"""Compile a schema model into normalised EXI grammars (W3C EXI 1.0 §8.5, schema-informed, non-strict).

Theory of operation
-------------------
Every complex type becomes a *type grammar*. Its terminal symbols are the attribute uses (in qname order),
then the element particles and wildcards of its content model (depth-first "schema order"), or one typed
CH for simple content. Each symbol occurrence is a *position* (Glushkov construction). The XSD Unique
Particle Attribution rule makes the position automaton deterministic, so a grammar state is simply "the
position consumed last" — or, for a position that repeats with bounds (``maxOccurs="1024"``,
``minOccurs="2"``...), that position plus a *count class*: ``under`` (fewer than minOccurs seen),
``mid`` (between) or ``full`` (maxOccurs reached). The count itself is kept by the encoder and decoder, so
bounded repetitions never unroll into thousands of states, yet behave exactly like EXIficient's counting
DFA: once maxOccurs items are coded the SE is no longer offered, before minOccurs no exit is offered.

A state's productions are ordered as EXI §8.5.4.3 requires: AT(qname) in qname order, SE(qname) in
schema order (the members of a substitution group sorted by qname at their particle's place), SE(uri:*),
SE(*), EE, CH. Non-strict mode adds an escape to second-level productions to every state, so the first
level takes ``ceil(log2(n + 1))`` bits for ``n`` declared productions.

The document grammar lists all global elements sorted by local name then URI, plus SE(*); the fragment
grammar lists every element qname declared anywhere in the set, plus SE(*) and ED.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from exi.catalog import initial_strings, simple_types
from exi.datatypes import Datatype, bits_for, datatype_for
from exi.errors import SchemaError
from exi.model import (
    UNBOUNDED,
    ElementDecl,
    ElementParticle,
    Group,
    Particle,
    QName,
    Schema,
    Wildcard,
    clark,
    qname_sort_key,
)

__all__ = [
    "END",
    "Member",
    "Position",
    "Production",
    "SchemaGrammar",
    "State",
    "TypeGrammar",
    "compile_grammar",
]

Event = Literal["AT", "SE", "SE*", "EE", "CH"]
CountClass = Literal["one", "under", "mid", "full"]

END = -1
"""Target of an EE production."""


@dataclass(frozen=True)
class Member:
    """One element that may occur at an element position (the particle's element or a substitute)."""

    qname: QName
    type_key: QName | None
    """Complex type of the element (``None`` when simple-typed)."""
    datatype: Datatype | None
    """Datatype of a simple-typed element."""
    abstract: bool = False


@dataclass(frozen=True)
class Position:
    """A symbol occurrence in a type's content: an attribute use, element particle, wildcard or simple CH."""

    index: int
    kind: Literal["AT", "SE", "SE*", "CH"]
    members: tuple[Member, ...] = ()
    """AT: one member (the attribute). SE: the element and its substitutes, sorted by qname."""
    datatype: Datatype | None = None
    """AT and CH: the value's datatype."""
    min_occurs: int = 1
    max_occurs: int = 1
    required: bool = True
    """For attributes: ``use="required"``."""
    in_repeated_group: bool = False
    wildcard: tuple[str, ...] = ()
    """SE(*): the namespaces the wildcard admits, ``("##any",)``, ``("##other", target namespace)`` or URIs."""
    process: str = ""
    """SE(*): processContents (``strict``: only elements the schema set declares, or with xsi:type)."""

    @property
    def counted(self) -> bool:
        """True when occurrences must be counted (bounds other than 0/1..1 or 0/1..unbounded)."""
        return self.min_occurs > 1 or (self.max_occurs not in (1, UNBOUNDED))


@dataclass(frozen=True)
class Production:
    """One production of a state: its event, what it names, and where it leads."""

    event: Event
    position: int = END
    """Index of the position consumed (AT, SE, SE*, CH); ``END`` for EE."""
    member: int = 0
    """For SE: index into the position's members."""


@dataclass(frozen=True)
class State:
    """A grammar state: the ordered declared productions (codes 0..n-1; code n escapes)."""

    id: int
    position: int
    """Position consumed last (``END`` for the start state)."""
    count_class: CountClass
    productions: tuple[Production, ...]
    first: bool
    """The first state of the element grammar (second level offers xsi:type / xsi:nil)."""
    start_tag: bool
    """Attributes may still follow (second level offers AT(*))."""

    @property
    def width(self) -> int:
        """First-level event code width: n declared productions plus the non-strict escape."""
        return bits_for(len(self.productions) + 1)

    @property
    def ee_declared(self) -> bool:
        """True when EE is a declared production of this state."""
        return any(p.event == "EE" for p in self.productions)

    def code_of(self, event: Event, position: int = END, member: int = 0) -> int | None:
        """The event code of a production, or None when the state does not offer it."""
        for code, prod in enumerate(self.productions):
            if prod.event == event and prod.position == position and prod.member == member:
                return code
        return None


@dataclass(frozen=True)
class TypeGrammar:
    """The grammar of one complex type."""

    key: QName
    abstract: bool
    mixed: bool
    positions: tuple[Position, ...]
    states: tuple[State, ...]
    state_of: dict[tuple[int, CountClass], int]
    """``(position, count class)`` -> state id. The start state is ``(END, "one")`` -> 0."""
    simple_content: Datatype | None
    content: tuple[Production, ...] = ()
    """The productions of the first content state ("Element_i,content2" of EXI §8.5.4.4.1): where an undeclared
    SE(*) or CH in a start-tag state leads. Only reachable through those deviations."""
    base: QName | None = None
    """The complex type this one extends (xsi:type may name only types derived from the declared one)."""
    named: bool = True
    """False for an anonymous type (xsi:type cannot name it)."""

    def next_state(self, position: int, count: int) -> int:
        """The state after consuming ``position`` for the ``count``-th consecutive time."""
        pos = self.positions[position]
        return self.state_of[(position, count_class(pos, count))]


def count_class(pos: Position, count: int) -> CountClass:
    """The count class after ``count`` consecutive occurrences of a position."""
    if not pos.counted:
        return "one"
    if count < pos.min_occurs:
        return "under"
    if pos.max_occurs != UNBOUNDED and count >= pos.max_occurs:
        return "full"
    return "mid"


@dataclass(frozen=True)
class SchemaGrammar:
    """Everything the encoder and decoder need for one schema set."""

    globals: tuple[QName, ...]
    """Document grammar: global elements in EXI order (code = index; code len = SE(*))."""
    global_members: tuple[Member, ...]
    fragment: tuple[QName, ...]
    """Fragment grammar: every declared element qname in EXI order (len = SE(*), len + 1 = ED)."""
    fragment_members: tuple[Member | None, ...]
    """The grammar for each fragment qname (``None``: declared with differing types — not supported)."""
    types: dict[QName, TypeGrammar]
    namespaces: tuple[str, ...]
    """Target namespaces of the set."""
    uris: tuple[str, ...] = ()
    """The initial URI partition of the string table (EXI §7.3.1)."""
    local_names: tuple[tuple[str, ...], ...] = ()
    """The initial local-name partition of each URI, parallel to :attr:`uris`."""
    simple_types: tuple[tuple[QName, QName | None, Datatype], ...] = ()
    """Named simple types ``xsi:type`` may name: (name, base, datatype)."""
    prefixes: tuple[tuple[str, str], ...] = ()
    """(namespace, prefix) for the XML view, as the schema documents declare them."""

    @property
    def doc_width(self) -> int:
        """DocContent: G globals + SE(*)."""
        return bits_for(len(self.globals) + 1)

    @property
    def fragment_width(self) -> int:
        """FragmentContent: F qnames + SE(*) + ED."""
        return bits_for(len(self.fragment) + 2)


# ---------------------------------------------------------------------------------------------------
# Glushkov construction
# ---------------------------------------------------------------------------------------------------


class _Builder:
    def __init__(self, schema: Schema, key: QName) -> None:
        self.schema = schema
        self.key = key
        self.positions: list[Position] = []
        self.follow: dict[int, set[int]] = {}

    def member_for(self, decl: ElementDecl) -> Member:
        dt = datatype_for(decl.simple_type) if decl.simple_type is not None else None
        return Member(qname=decl.qname, type_key=decl.type_key, datatype=dt, abstract=decl.abstract)

    def leaf(self, pos: Position) -> tuple[set[int], set[int], bool]:
        self.positions.append(pos)
        self.follow[pos.index] = set()
        if pos.max_occurs == UNBOUNDED or pos.max_occurs > 1:
            self.follow[pos.index].add(pos.index)
        return {pos.index}, {pos.index}, pos.min_occurs == 0

    def particle(self, p: Particle, repeated: bool) -> tuple[set[int], set[int], bool]:
        if isinstance(p, ElementParticle):
            decl = self.schema.decl(p)
            if p.is_global:
                members = tuple(self.member_for(self.schema.elements[q]) for q in self.schema.substitutes(decl.qname))
            else:
                members = (self.member_for(decl),)
            pos = Position(
                index=len(self.positions),
                kind="SE",
                members=members,
                min_occurs=p.min_occurs,
                max_occurs=p.max_occurs,
                in_repeated_group=repeated,
            )
            if pos.counted and repeated:
                raise SchemaError(
                    f"type {clark(self.key)}: bounded repetition of {clark(decl.qname)} inside a repeated "
                    "group is not supported"
                )
            return self.leaf(pos)
        if isinstance(p, Wildcard):
            pos = Position(
                index=len(self.positions),
                kind="SE*",
                min_occurs=p.min_occurs,
                max_occurs=p.max_occurs,
                in_repeated_group=repeated,
                wildcard=_wildcard(p),
                process=p.process,
            )
            if pos.counted:
                raise SchemaError(f"type {clark(self.key)}: bounded repetition of a wildcard is not supported")
            return self.leaf(pos)
        return self.group(p, repeated)

    def group(self, g: Group, repeated: bool) -> tuple[set[int], set[int], bool]:
        loops = g.max_occurs == UNBOUNDED or g.max_occurs > 1
        if g.max_occurs not in (1, UNBOUNDED) or g.min_occurs > 1:
            raise SchemaError(
                f"type {clark(self.key)}: a model group with occurrence bounds "
                f"{g.min_occurs}..{g.max_occurs} is not supported"
            )
        inner = repeated or loops
        parts = [self.particle(c, inner) for c in g.children]
        if g.kind == "choice":
            first = set().union(*(f for f, _, _ in parts))
            last = set().union(*(la for _, la, _ in parts))
            nullable = any(n for _, _, n in parts)
        else:
            first, last, nullable = set(), set(), True
            for f, la, n in parts:
                for x in last:
                    self.follow[x] |= f
                if nullable:
                    first |= f
                last = (last | la) if n else set(la)
                nullable = nullable and n
        if loops:
            for x in last:
                self.follow[x] |= first
        if g.min_occurs == 0:
            nullable = True
        return first, last, nullable

    def build(self) -> TypeGrammar:
        ct = self.schema.complex_types[self.key]
        attrs, particle, simple, mixed = self.schema.effective(self.key)
        first: set[int] = set()
        last: set[int] = set()
        nullable = True
        attr_positions: list[int] = []

        def seq(f: set[int], la: set[int], n: bool) -> None:
            nonlocal first, last, nullable
            for x in last:
                self.follow[x] |= f
            if nullable:
                first |= f
            last = (last | la) if n else set(la)
            nullable = nullable and n

        for a in attrs:
            pos = Position(
                index=len(self.positions),
                kind="AT",
                members=(Member(qname=a.qname, type_key=None, datatype=datatype_for(a.type)),),
                datatype=datatype_for(a.type),
                min_occurs=1 if a.required else 0,
                required=a.required,
            )
            attr_positions.append(pos.index)
            seq(*self.leaf(pos))
        content_first: set[int] = set()
        content_nullable = True
        simple_dt: Datatype | None = None
        if simple is not None:
            if particle is not None:
                raise SchemaError(f"type {clark(self.key)}: both simple and element content")
            simple_dt = datatype_for(simple)
            pos = Position(index=len(self.positions), kind="CH", datatype=simple_dt)
            content_first = {pos.index}
            content_nullable = False
            seq(*self.leaf(pos))
        elif particle is not None:
            f, la, n = self.particle(particle, False)
            content_first = f
            content_nullable = n
            seq(f, la, n)
        tg = self.states(ct.abstract, mixed, first, last, nullable, attr_positions, content_first, simple_dt)
        base = ct.base if ct.base in self.schema.complex_types else None
        content = _ordered(self.positions, content_first, content_nullable, mixed)
        return replace(tg, content=content, base=base, named=not ct.anonymous)

    def states(
        self,
        abstract: bool,
        mixed: bool,
        first: set[int],
        last: set[int],
        nullable: bool,
        attr_positions: list[int],
        content_first: set[int],
        simple_dt: Datatype | None,
    ) -> TypeGrammar:
        positions = self.positions
        attr_set = set(attr_positions)

        def ordered(targets: set[int], ee: bool, ch: bool) -> tuple[Production, ...]:
            return _ordered(positions, targets, ee, ch)

        def content_region(targets: set[int], here: int) -> bool:
            # Mixed content: untyped CH is offered wherever content may start or continue.
            if here != END and here not in attr_set:
                return True
            return bool(targets & content_first) or (not content_first and here == END)

        specs: list[tuple[int, CountClass, set[int], bool]] = [(END, "one", set(first), nullable)]
        for pos in positions:
            exits = self.follow[pos.index] - {pos.index}
            loop = pos.index in self.follow[pos.index]
            is_last = pos.index in last
            if not pos.counted:
                targets = set(exits) | ({pos.index} if loop else set())
                specs.append((pos.index, "one", targets, is_last))
                continue
            for cls in ("under", "mid", "full"):
                if cls == "under" and pos.min_occurs <= 1:
                    continue
                if cls == "mid" and pos.max_occurs != UNBOUNDED and pos.max_occurs <= pos.min_occurs:
                    continue
                if cls == "full" and pos.max_occurs == UNBOUNDED:
                    continue
                targets = set() if cls == "under" else set(exits)
                if cls != "full":
                    targets.add(pos.index)
                specs.append((pos.index, cls, targets, is_last and cls != "under"))
        states: list[State] = []
        state_of: dict[tuple[int, CountClass], int] = {}
        for sid, (here, cls, targets, ee) in enumerate(specs):
            ch = mixed and content_region(targets, here)
            start_tag = here == END or here in attr_set
            states.append(State(sid, here, cls, ordered(targets, ee, ch), here == END, start_tag))
            state_of[(here, cls)] = sid
        return TypeGrammar(
            key=self.key,
            abstract=abstract,
            mixed=mixed,
            positions=tuple(positions),
            states=tuple(states),
            state_of=state_of,
            simple_content=simple_dt,
        )


def _wildcard(w: Wildcard) -> tuple[str, ...]:
    if w.namespaces == ("##any",):
        return ("##any",)
    if w.namespaces == ("##other",):
        return ("##other", w.target_namespace)
    return tuple({"##local": "", "##targetNamespace": w.target_namespace}.get(ns, ns) for ns in w.namespaces)


def _ordered(positions: list[Position], targets: set[int], ee: bool, ch: bool) -> tuple[Production, ...]:
    """A state's productions in EXI order (§8.5.4.3): AT(qname), SE(qname) in schema order, SE(*), EE, CH."""
    prods: list[Production] = []
    for i in sorted(targets):
        if positions[i].kind == "AT":
            prods.append(Production("AT", i))
    for i in sorted(targets):
        pos = positions[i]
        if pos.kind == "SE":
            prods.extend(Production("SE", i, m) for m in range(len(pos.members)))
    for i in sorted(targets):
        if positions[i].kind == "SE*":
            prods.append(Production("SE*", i))
    if ee:
        prods.append(Production("EE"))
    for i in sorted(targets):
        if positions[i].kind == "CH":
            prods.append(Production("CH", i))
    if ch:
        prods.append(Production("CH", END))
    return tuple(prods)


def compile_grammar(schema: Schema) -> SchemaGrammar:
    """Compile every type and the document and fragment grammars of a schema set."""
    types = {key: _Builder(schema, key).build() for key in sorted(schema.complex_types, key=qname_sort_key)}
    globals_ = tuple(sorted(schema.elements, key=qname_sort_key))
    helper = _Builder(schema, ("", "#document"))
    global_members = tuple(helper.member_for(schema.elements[q]) for q in globals_)
    by_qname: dict[QName, list[ElementDecl]] = {}
    for decl in list(schema.elements.values()) + list(schema.local_elements.values()):
        by_qname.setdefault(decl.qname, []).append(decl)
    fragment = tuple(sorted(by_qname, key=qname_sort_key))
    fragment_members: list[Member | None] = []
    for q in fragment:
        decls = by_qname[q]
        kinds = {(d.type_key, d.simple_type, d.nillable) for d in decls}
        fragment_members.append(helper.member_for(decls[0]) if len(kinds) == 1 else None)
    uris, local_names = initial_strings(schema)
    return SchemaGrammar(
        globals=globals_,
        global_members=global_members,
        fragment=fragment,
        fragment_members=tuple(fragment_members),
        types=types,
        namespaces=tuple(schema.target_namespaces),
        uris=uris,
        local_names=local_names,
        simple_types=simple_types(schema),
        prefixes=tuple(sorted(schema.prefixes.items())),
    )
