"""Occurrence-boundary messages: every particle of a schema set at its minOccurs, minOccurs + 1, maxOccurs - 1 and
maxOccurs, as documents and as fragments (issue 15: the differential tests missed a particle whose minOccurs is 2).

For each complex type K of the set and each element or wildcard particle P of K (each member of a substitution group
separately), :class:`Boundaries` builds the smallest K whose walk takes P exactly *n* times, for every *n* of
:func:`counts`, and places it:

* in a **fragment** whose root element has type K (or a type K derives from: then the root carries ``xsi:type``);
* in a **document**: the shortest chain of elements from a global element down to a K, every list on the way holding
  its minimum number of items; when P is at its minimum or maximum and the chain passes through another list, once
  more with that enclosing list at its own maximum (bounded by :data:`MAX_ITEMS` elements in all) — lists at their
  bounds nested in lists at theirs.

An element declared with an abstract type gets an object of a concrete derived type (an ``xsi:type`` cast).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from exi.grammar import Member, TypeGrammar
from exi.model import UNBOUNDED, QName
from exi.values import AnyContent, TypeCast, Wild
from tests.support.exidrive import MinimalDrive
from tests.support.exigen import Walker

__all__ = ["MAX_ITEMS", "Boundaries", "Features", "Item", "counts"]

MAX_ITEMS = 40_000
"""The most repeated elements a nested boundary message may hold (inner count × enclosing count)."""


@dataclass(frozen=True)
class Item:
    """One boundary message: its label, root element (name and declaration), value, and document or fragment."""

    label: str
    root: QName
    member: Member
    value: Any
    fragment: bool


def counts(lo: int, hi: int) -> list[int]:
    """The occurrence counts to try: minOccurs, minOccurs + 1, maxOccurs - 1, maxOccurs (two past the minimum
    when unbounded)."""
    if hi == UNBOUNDED:
        return [lo, lo + 1, lo + 2]
    return sorted({n for n in (lo, lo + 1, hi - 1, hi) if lo <= n <= hi})


@dataclass(frozen=True)
class _Step:
    parent: QName
    position: int
    member: int


class Boundaries:
    """Boundary messages of one schema set."""

    def __init__(self, walker: Walker) -> None:
        self.w = walker
        self.g = walker.grammar
        self.drive = MinimalDrive()
        self._parent: dict[QName, _Step | tuple[QName, Member]] = {}
        self._chains()
        self.skipped: list[tuple[str, str]] = []
        """(target, why) of every target that gave no message."""
        self._fragment_roots: dict[QName, tuple[QName, Member]] = {}
        for q, m in zip(self.g.fragment, self.g.fragment_members, strict=True):
            if m is not None and m.type_key is not None and self.w.member_usable(m):
                for key in self.w.concrete(m.type_key):
                    self._fragment_roots.setdefault(key, (q, m))

    # ---- the chains from a root to every type -------------------------------------------------------------
    def _chains(self) -> None:
        queue: deque[QName] = deque()
        for q, m in self.w.roots():
            if m.type_key is None:
                continue
            for key in self.w.concrete(m.type_key):
                if key not in self._parent:
                    self._parent[key] = (q, m)
                    queue.append(key)
        while queue:
            key = queue.popleft()
            tg = self.g.types[key]
            for pos in tg.positions:
                if pos.kind != "SE":
                    continue
                for mi, m in enumerate(pos.members):
                    if m.type_key is None or not self.w.member_usable(m):
                        continue
                    for child in self.w.concrete(m.type_key):
                        if child not in self._parent:
                            self._parent[child] = _Step(key, pos.index, mi)
                            queue.append(child)

    # ---- one object with a particle taken n times ----------------------------------------------------------
    def _path_to(self, tg: TypeGrammar, position: int, member: int) -> list[int] | None:
        """The shortest production path from the start to a state that offers SE(position, member) (or SE(*))."""
        event = "SE*" if tg.positions[position].kind == "SE*" else "SE"
        best: list[int] | None = None
        for sid, path in self.w.paths(tg).items():
            offers = tg.states[sid].code_of(event, position, member) is not None  # type: ignore[arg-type]
            if offers and (best is None or len(path) < len(best)):
                best = path
        return best

    def with_items(self, key: QName, position: int, member: int, items: list[Any]) -> Any | None:
        """The smallest object of ``key`` whose walk takes (position, member) once per item; None if impossible."""
        tg = self.g.types[key]
        if not items:
            value = self.w.minimal(key)
            return None if self._takes(key, value, position, member) else value
        path = self._path_to(tg, position, member)
        if path is None:
            return None
        plan = deque(path)
        left = [len(items)]
        exits = self.w._exit_plans(tg)
        event = "SE*" if tg.positions[position].kind == "SE*" else "SE"

        def pick(s: int, tg: TypeGrammar) -> int:
            if plan:
                return plan.popleft()
            if left[0]:
                code = tg.states[s].code_of(event, position, member)  # type: ignore[arg-type]
                if code is None:
                    raise ValueError(f"{key[1]}: state {s} does not offer the item")
                left[0] -= 1
                return code
            return self.w.exit_code(tg, s, exits)

        def inject(p: int, m: int) -> list[Any] | None:
            return list(items) if (p, m) == (position, member) else None

        try:
            return self.w.build(key, self.drive, depth=4, picker=pick, inject=inject)
        except ValueError:
            return None

    def _takes(self, key: QName, value: Any, position: int, member: int) -> bool:
        spec = self.w.bindings.classes[key]
        pos = self.g.types[key].positions[position]
        if spec.generic:
            items = getattr(value, next(f.name for f in spec.fields if f.kind == "content"))
            if pos.kind == "SE*":
                return any(isinstance(x, Wild) for x in items)
            return any(isinstance(x, tuple) and x[0] == pos.members[member].qname[1] for x in items)
        for f in spec.fields:
            if (f.position, f.member) == (position, member):
                got = getattr(value, f.name)
                return bool(got) if f.repeated else got is not None
        return False

    def item_value(self, key: QName, position: int, member: int) -> Any:
        """A small value for one occurrence of a particle."""
        pos = self.g.types[key].positions[position]
        if pos.kind == "SE*":
            return self.w.wild(pos, self.drive, 4)
        return self.w.member_value(pos.members[member], self.drive, 4)

    # ---- documents and fragments ---------------------------------------------------------------------------
    def document(self, key: QName, value: Any, nested: bool) -> tuple[QName, Member, Any] | None:
        """``value`` (of type ``key``) placed in the shortest chain from a global element; ``nested``: the first
        list on the way up at its maximum. None when the type is unreachable, or nothing is nested."""
        child_key, child = key, value
        nest_left = nested
        size = 1
        while True:
            up = self._parent.get(child_key)
            if up is None:
                return None
            if not isinstance(up, _Step):
                root, member = up
                return (root, member, child) if not nest_left else None
            pos = self.g.types[up.parent].positions[up.position]
            n = max(pos.min_occurs, 1)
            if nest_left and pos.max_occurs != 1:
                most = pos.max_occurs if pos.max_occurs != UNBOUNDED else 3
                n = min(most, max(1, MAX_ITEMS // size))
                nest_left = n <= 1
                size *= n
            parent = self.with_items(up.parent, up.position, up.member, [child] * n)
            if parent is None:
                return None
            child_key, child = up.parent, parent

    def fragment_root(self, key: QName) -> tuple[QName, Member] | None:
        """An element whose declared type is ``key`` (or a base of it), to be a fragment's root."""
        return self._fragment_roots.get(key)

    # ---- everything ----------------------------------------------------------------------------------------
    def targets(self) -> Iterator[tuple[QName, int, int, int]]:
        """(type, position, member, count) of every particle of every type reachable as document or fragment."""
        for key in sorted(self.g.types):
            if key not in self.w.buildable or (key not in self._parent and key not in self._fragment_roots):
                continue
            tg = self.g.types[key]
            for pos in tg.positions:
                if pos.kind not in ("SE", "SE*"):
                    continue
                members = [0] if pos.kind == "SE*" else range(len(pos.members))
                for mi in members:
                    if pos.kind == "SE" and not self.w.member_usable(pos.members[mi]):
                        continue
                    if pos.kind == "SE*" and not self.w.usable(tg, _production(pos.index)):
                        continue
                    for n in counts(pos.min_occurs, pos.max_occurs):
                        if n == 0 and mi > 0:
                            continue
                        yield key, pos.index, mi, n

    def items(self) -> Iterator[Item]:
        """Every boundary message: per target a fragment, a document, and a nested document where possible."""
        for key, position, member, n in self.targets():
            pos = self.g.types[key].positions[position]
            name = "*" if pos.kind == "SE*" else pos.members[member].qname[1]
            label = f"{key[1]}/{name}={n}"
            items = [self.item_value(key, position, member) for _ in range(n)]
            value = self.with_items(key, position, member, items)
            if value is None:
                self.skipped.append((label, "mandatory" if n == 0 else "unreachable"))
                continue
            frag = self.fragment_root(key)
            if frag is not None:
                yield Item(f"{label} (fragment {frag[0][1]})", frag[0], frag[1], value, True)
            doc = self.document(key, value, nested=False)
            if doc is not None:
                yield Item(f"{label} (document {doc[0][1]})", doc[0], doc[1], doc[2], False)
            if frag is None and doc is None:
                self.skipped.append((label, "no element to carry it"))
            if n in (pos.min_occurs, counts(pos.min_occurs, pos.max_occurs)[-1]):
                nested = self.document(key, value, nested=True)
                if nested is not None:
                    yield Item(f"{label} (nested, document {nested[0][1]})", nested[0], nested[1], nested[2], False)


def _production(position: int) -> Any:
    from exi.grammar import Production

    return Production("SE*", position)


class Features(Boundaries):
    """Messages with what plain fields cannot show, in every schema set: xsi:type casts, wildcard content, mixed
    text. Each is placed in a fragment and a document like a boundary message."""

    def _placed(self, key: QName, label: str, value: Any) -> Iterator[Item]:
        frag = self.fragment_root(key)
        if frag is not None:
            yield Item(f"{label} (fragment {frag[0][1]})", frag[0], frag[1], value, True)
        doc = self.document(key, value, nested=False)
        if doc is not None:
            yield Item(f"{label} (document {doc[0][1]})", doc[0], doc[1], doc[2], False)

    def items(self) -> Iterator[Item]:
        seen_simple: set[Any] = set()
        for key in sorted(self.g.types):
            if key not in self.w.buildable or (key not in self._parent and key not in self._fragment_roots):
                continue
            tg = self.g.types[key]
            for pos in tg.positions:
                if pos.kind == "SE*" and self.w.usable(tg, _production(pos.index)):
                    yield from self._wildcards(key, pos.index)
                if pos.kind != "SE":
                    continue
                for mi, m in enumerate(pos.members):
                    if not self.w.member_usable(m):
                        continue
                    yield from self._casts(key, pos.index, mi, m, seen_simple)
            if tg.mixed:
                yield from self._mixed(key)

    def _casts(self, key: QName, position: int, mi: int, m: Member, seen: set[Any]) -> Iterator[Item]:
        """Each (declared type, cast target) once: at the first element declared with that type."""
        if m.type_key is not None:
            targets = [d for d in self.w.concrete(m.type_key) if d != m.type_key]
            if m.type_key in self.w.buildable and self.g.types[m.type_key].named:
                targets.append(m.type_key)  # a cast to the declared type itself
            for d in targets:
                if (m.type_key, d) in seen:
                    continue
                seen.add((m.type_key, d))
                item = self.w.minimal(d)
                if d == m.type_key:
                    item = TypeCast(d, item)
                value = self.with_items(key, position, mi, [item])
                if value is not None:
                    yield from self._placed(key, f"{key[1]}/{m.qname[1]} xsi:type={d[1]}", value)
            return
        dt = m.datatype
        assert dt is not None
        declared = (dt.type_ns, dt.name)
        if not dt.name or declared in seen:
            return
        seen.add(declared)  # one element per declared simple type: each derived type once
        for name, target in self.w.simple_derived.get(declared, []):
            enum = self.w.enum_cls(target, name) if target.kind == "enum" else None
            value = self.with_items(key, position, mi, [TypeCast(name, self.drive.simple(target, enum))])
            if value is not None:
                yield from self._placed(key, f"{key[1]}/{m.qname[1]} xsi:type={name[1]}", value)

    def _wildcards(self, key: QName, position: int) -> Iterator[Item]:
        pos = self.g.types[key].positions[position]
        choices: list[Any] = [
            Wild(q, self.w.member_value(self.w.globals[q], self.drive, 4)) for q in self.w._admitted(pos)[:3]
        ]
        if pos.process != "strict":
            ns = "urn:v2gstack:test:a" if pos.wildcard[:1] != ("##any",) else ""
            rich = AnyContent(
                ((("", "a"), "1"), (("urn:v2gstack:test:b", "b"), "é€𝄞")),
                ("text", Wild(("urn:v2gstack:test:b", "child"), AnyContent((), ("inner",))), "tail"),
            )
            choices += [Wild((ns, "empty"), AnyContent()), Wild((ns, "rich"), rich)]
            named = sorted(k for k in self.w.buildable if self.g.types[k].named)
            if named:
                choices.append(Wild((ns, "typed"), self.w.minimal(named[0])))
        for i, wild in enumerate(choices):
            value = self.with_items(key, position, 0, [wild, wild])
            if value is not None:
                yield from self._placed(key, f"{key[1]}/* {wild.name[1]} #{i}", value)

    def _mixed(self, key: QName) -> Iterator[Item]:
        spec = self.w.bindings.classes[key]
        base = self.w.minimal(key)
        content = next(f.name for f in spec.fields if f.kind == "content")
        items = getattr(base, content)
        texts = [("lead", *items), (*items, "trail"), ("lead", *items, "trail")] if items else [("only",)]
        for i, text in enumerate(texts):
            value = replace(base, **{content: tuple(text)})
            yield from self._placed(key, f"{key[1]} mixed #{i}", value)
