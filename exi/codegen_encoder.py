"""Emit the encoder function of one structured type (see :mod:`exi.codegen_codec`).

The emitter walks the type's positions in schema order, tracking the *set* of grammar states the
encoder can be in. Where that set is a single state, event codes are constants and accumulate as
pending bits that are written together with the next fixed-width value; where it is not, a small
table indexed by the runtime state ``s`` gives code and width, and a missing entry is the grammar
telling us the element is not allowed there. Loops over repeated elements spill (:mod:`exi.bitstream`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from exi.bindings import ClassSpec, FieldSpec
from exi.codegen_values import encode_element_value, encode_plain_value
from exi.grammar import END, Position, TypeGrammar
from exi.model import UNBOUNDED

if TYPE_CHECKING:
    from exi.codegen_codec import Context

__all__ = ["emit_encoder"]


def _indent(lines: list[str], by: str = "    ") -> list[str]:
    return [by + line for line in lines]


@dataclass
class _Block:
    """Straight-line lines plus constant bits not yet written."""

    lines: list[str] = field(default_factory=list)
    code: int = 0
    width: int = 0

    def bits(self, code: int, width: int) -> None:
        self.code = (self.code << width) | code
        self.width += width

    def take(self) -> tuple[int, int]:
        code, width = self.code, self.width
        self.code = self.width = 0
        return code, width

    def flush(self) -> None:
        code, width = self.take()
        if width:
            self.lines += [f"acc = (acc << {width}) | {code}" if code else f"acc <<= {width}", f"n += {width}"]

    def add(self, *lines: str) -> None:
        """Lines that do not touch acc/n."""
        self.lines.extend(lines)

    def emit(self, *lines: str) -> None:
        """Lines that write: pending bits go first."""
        self.flush()
        self.lines.extend(lines)

    def nest(self, header: str, inner: _Block) -> None:
        inner.flush()
        self.flush()
        self.lines.append(header)
        self.lines += _indent(inner.lines or ["pass"])


class _Encoder:
    def __init__(self, ctx: Context, tg: TypeGrammar, spec: ClassSpec) -> None:
        self.ctx = ctx
        self.tg = tg
        self.spec = spec

    def code(self, blk: _Block, states: set[int], event: str, position: int, member: int, what: str) -> None:
        """Write the event code of a production from any of ``states``."""
        tg = self.tg
        options: dict[int, tuple[int, int]] = {}
        for sid in sorted(states):
            st = tg.states[sid]
            code = st.code_of(event, position, member)  # type: ignore[arg-type]
            if code is not None:
                options[sid] = (code, st.width)
        offered = self.ctx.offered_all(tg, states)
        if not options:
            blk.add(f"raise not_allowed({what!r}, {offered!r})")
            return
        pairs = set(options.values())
        if len(pairs) == 1:
            code, width = pairs.pop()
            if len(options) != len(states):
                ok = tuple(sorted(options))
                test = f"s != {ok[0]}" if len(ok) == 1 else f"s not in {ok!r}"
                blk.add(f"if {test}: raise not_allowed({what!r}, {offered!r})")
            blk.bits(code, width)
            return
        table = self.ctx.const("T", "{" + ", ".join(f"{s}: ({c}, {w})" for s, (c, w) in options.items()) + "}")
        blk.add(f"cw = {table}.get(s)", f"if cw is None: raise not_allowed({what!r}, {offered!r})")
        blk.emit("acc = (acc << cw[1]) | cw[0]", "n += cw[1]")

    def member_value(self, blk: _Block, pos: Position, member: int) -> None:
        m = pos.members[member]
        if m.abstract:
            blk.add(f"raise abstract({m.qname[1]!r})")
        elif m.type_key is not None:
            blk.emit(f"acc, n = _e_{self.ctx.fn[m.type_key]}(acc, n, v)")
        else:
            assert m.datatype is not None
            index = self.ctx.enum_tables(m.datatype, m.qname)[0] if m.datatype.kind == "enum" else ""
            code, width = blk.take()
            blk.add(*encode_element_value(m.datatype, index, code, width))

    def body(self) -> list[str]:
        blk = _Block()
        if self.tg.abstract:
            # Only a derived type's object (xsi:type) can stand here: the general encoder writes the cast.
            return ["raise SlowPath"]
        if self.tg.key in self.ctx.castable or not self.spec.fields:
            # A derived type's object is an xsi:type cast; and an empty type reads no field that would refuse a
            # TypeCast: the general encoder writes both.
            blk.add(f"if o.__class__ is not {self.ctx.cls(self.tg.key)}: raise SlowPath")
        states: set[int] = {0}
        for pos in self.tg.positions:
            fields = [f for f in self.spec.fields if f.position == pos.index]
            if pos.kind == "AT":
                states = self.attribute(blk, pos, fields[0], states)
            elif pos.kind == "CH":
                self.simple_content(blk, pos, fields[0], states)
                blk.flush()
                return blk.lines
            else:
                states = self.element_position(blk, pos, fields, states)
        self.code(blk, states, "EE", END, 0, "end of element (a required element is missing)")
        blk.flush()
        blk.add("return acc, n")
        return blk.lines

    def attribute(self, blk: _Block, pos: Position, f: FieldSpec, states: set[int]) -> set[int]:
        assert f.datatype is not None
        index = self.ctx.enum_tables(f.datatype, f.xml)[0] if f.datatype.kind == "enum" else ""
        nxt = self.tg.state_of[(pos.index, "one")]
        blk.add(f"v = o.{f.name}")
        if not f.optional:
            blk.add(f"if v is None: raise missing({'@' + f.xml[1]!r})")
        inner = _Block() if f.optional else blk
        inner.add(f"f = {'@' + f.xml[1]!r}")
        self.code(inner, states, "AT", pos.index, 0, "@" + f.xml[1])
        inner.emit(*encode_plain_value(f.datatype, index))
        inner.add(f"s = {nxt}")
        if f.optional:
            blk.nest("if v is not None:", inner)
            return states | {nxt}
        return {nxt}

    def simple_content(self, blk: _Block, pos: Position, f: FieldSpec, states: set[int]) -> None:
        from exi.codegen_codec import second_level_ee

        assert f.datatype is not None
        dt = f.datatype
        index = self.ctx.enum_tables(dt, self.tg.key)[0] if dt.kind == "enum" else ""
        blk.add(f"v = o.{f.name}", 'f = "value"')
        value = _Block()
        self.code(value, states, "CH", pos.index, 0, "value")
        value.emit(*encode_plain_value(dt, index))
        self.code(value, {self.tg.state_of[(pos.index, "one")]}, "EE", END, 0, "end of element")
        value.flush()
        value.add("return acc, n")
        if dt.kind in ("string", "binary"):
            empty = _Block()
            options = {sid: second_level_ee(self.tg.states[sid]) for sid in sorted(states)}
            if len(set(options.values())) == 1:
                bits, code = next(iter(options.values()))
                empty.bits(code, bits)
            else:
                table = self.ctx.const("T", "{" + ", ".join(f"{s}: ({c}, {b})" for s, (b, c) in options.items()) + "}")
                empty.emit(f"cw = {table}[s]", "acc = (acc << cw[1]) | cw[0]", "n += cw[1]")
            empty.flush()
            empty.add("return acc, n")
            blk.nest("if len(v) == 0:", empty)
        blk.flush()
        blk.lines += value.lines

    def element_position(self, blk: _Block, pos: Position, fields: list[FieldSpec], states: set[int]) -> set[int]:
        after: set[int] = set()
        skippable = False
        entry = set(states)
        for j, f in enumerate(fields):
            if j and not f.repeated:
                # Members of one position exclude each other: a second one finds the state moved on.
                got = {self.tg.state_of[(pos.index, "one")]}
                blk.add(f"if s == {next(iter(got))} and o.{f.name} is not None: raise only_one({self.names(fields)!r})")
            if f.repeated:
                exits, optional = self.repeated(blk, pos, f, entry)
            else:
                exits, optional = self.single(blk, pos, f, entry)
            after |= exits
            skippable = skippable or optional
        return after | (states if skippable else set())

    def names(self, fields: list[FieldSpec]) -> str:
        return ", ".join(f.xml[1] for f in fields)

    def single(self, blk: _Block, pos: Position, f: FieldSpec, states: set[int]) -> tuple[set[int], bool]:
        name = f.xml[1]
        nxt = self.tg.state_of[(pos.index, "one")]
        blk.add(f"v = o.{f.name}")
        inner = _Block() if f.optional else blk
        if not f.optional:
            blk.add(f"if v is None: raise missing({name!r})")
        inner.add(f"f = {name!r}")
        self.code(inner, states, "SE", pos.index, f.member, name)
        self.member_value(inner, pos, f.member)
        inner.add(f"s = {nxt}")
        if f.optional:
            blk.nest("if v is not None:", inner)
            return {nxt}, True
        return {nxt}, False

    def repeated(self, blk: _Block, pos: Position, f: FieldSpec, states: set[int]) -> tuple[set[int], bool]:
        """A repeated element: the first occurrence's code comes from the entry states, later ones from the
        position's own (counted) states."""
        name, lo, hi = f.xml[1], pos.min_occurs, pos.max_occurs
        tg = self.tg
        blk.add(f"items = o.{f.name}", "cnt = len(items)")
        if hi != UNBOUNDED:
            blk.add(f"if cnt > {hi}: raise too_many({name!r}, {hi}, cnt)")
        if lo > 1:
            blk.add(f"if 0 < cnt < {lo}: raise too_few({name!r}, {lo}, cnt)")
        if not f.optional:
            blk.add(f"if cnt == 0: raise missing({name!r})")
        loop = {cls: tg.state_of[(pos.index, cls)] for cls in ("one", "under", "mid", "full")
                if (pos.index, cls) in tg.state_of}  # fmt: skip
        first = _Block()
        self.code(first, states, "SE", pos.index, f.member, name)
        again: dict[str, _Block] = {}
        for cls, sid in loop.items():
            if cls != "full":
                again[cls] = _Block()
                self.code(again[cls], {sid}, "SE", pos.index, f.member, name)
        body = _Block()
        body.add(f"f = {name!r}")
        body.nest("if i == 0:", first)
        under, mid = again.get("under"), again.get("mid")
        # The "under" state (fewer than minOccurs coded) offers only this SE, the "mid" state also the exits:
        # the same code 0 may have different widths, so both the code and its width must match to merge them.
        if pos.counted and under is not None and mid is not None and (under.code, under.width) != (mid.code, mid.width):
            body.nest(f"elif i < {lo}:", under)
            body.nest("else:", mid)
        else:
            body.nest("else:", mid or again.get("one") or under or _Block())
        self.member_value(body, pos, f.member)
        body.flush()
        outer = _Block()
        # Spill the accumulator's older octets aside while the list grows; put them back once after it.
        outer.lines += ["sp = None", "for i, v in enumerate(items):"]
        outer.lines.append("    if acc >= SPILL_LIMIT: acc, sp = spill(acc, n, sp)")
        outer.lines += _indent(body.lines)
        outer.lines.append("if sp is not None: acc = unspill(acc, n, sp)")
        if pos.counted:
            full, mid_sid = loop.get("full"), loop.get("mid")
            if full is not None and mid_sid is not None:
                outer.add(f"s = {full} if cnt == {hi} else {mid_sid}")
                exits = {full, mid_sid}
            else:
                only = full if full is not None else mid_sid
                assert only is not None
                outer.add(f"s = {only}")
                exits = {only}
        else:
            outer.add(f"s = {loop['one']}")
            exits = {loop["one"]}
        blk.nest("if cnt:", outer)
        return exits, f.optional


def emit_encoder(ctx: Context, tg: TypeGrammar, spec: ClassSpec) -> list[str]:
    """The body lines of a structured type's encoder."""
    return _Encoder(ctx, tg, spec).body()
