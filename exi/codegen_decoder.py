"""Emit the decoder function of one structured type (see :mod:`exi.codegen_codec`).

The decoder reads an event code, maps it to a *target* (the index of the field it fills, or -1 for EE)
in ``nxt``, and falls through the fields in schema order: a field's block runs when ``nxt`` names it.
Content models of structured types only ever move forward (or repeat the same position), so one pass
in order suffices. The emitter tracks which targets are possible at each point; a block whose target
is certain needs no test, and a state with a single production costs no read at all: its "must be 0"
code bit is checked together with the next value (the fused reads of :mod:`exi.codegen_values`).

Objects are created with ``object.__new__`` and filled through the slots' descriptors, which is three
times faster than a frozen dataclass's ``__init__`` and yields the same immutable instance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from exi.bindings import ClassSpec, FieldSpec
from exi.codegen_values import decode_element_value, decode_plain_value, prefix_check
from exi.grammar import END, Member, Position, TypeGrammar
from exi.model import UNBOUNDED

if TYPE_CHECKING:
    from exi.codegen_codec import Context

__all__ = ["emit_decoder"]


@dataclass
class _Block:
    lines: list[str] = field(default_factory=list)
    zeros: int = 0
    """Code bits of single-production states, read but not yet checked (they must be 0)."""

    def flush(self, what: str) -> None:
        self.lines += prefix_check(self.zeros, what)
        self.zeros = 0

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)


class _Decoder:
    def __init__(self, ctx: Context, tg: TypeGrammar, spec: ClassSpec) -> None:
        self.ctx = ctx
        self.tg = tg
        self.spec = spec
        self.targets: dict[tuple[int, int], int] = {(f.position, f.member): i for i, f in enumerate(spec.fields)}
        self.empty: list[str] | None = None

    def targets_of(self, sid: int) -> set[int]:
        return {
            END if pr.event == "EE" else self.targets[(pr.position, pr.member)]
            for pr in self.tg.states[sid].productions
        }

    def read_event(self, blk: _Block, sid: int) -> None:
        """Read the next event in state ``sid`` and set ``nxt`` to its target."""
        from exi.codegen_codec import offered, second_level_ee

        st = self.tg.states[sid]
        tgt = [END if pr.event == "EE" else self.targets[(pr.position, pr.member)] for pr in st.productions]
        offers_ch = any(pr.event == "CH" for pr in st.productions)
        if len(tgt) == 1 and not (offers_ch and self.empty is not None):
            blk.zeros += st.width
            blk.add(f"nxt = {tgt[0]}")
            return
        what = offered(self.tg, st)
        blk.flush(what)
        width, n_prod = st.width, len(st.productions)
        blk.add(f"c = (D >> (T - p - {width})) & {(1 << width) - 1}")
        if offers_ch and self.empty is not None:
            # Simple content: an escape followed by a second-level EE is an empty value.
            bits = second_level_ee(st)[0]
            w2 = bits - width
            blk.add(
                f"if c >= {n_prod}:",
                f"    if c != {n_prod} or (D >> (T - p - {bits})) & {(1 << w2) - 1}:",
                f"        raise bad_event(c, {width}, p, {what!r})",
                f"    p += {bits}",
                *("    " + line for line in self.empty),
            )
        else:
            blk.add(f"if c >= {n_prod}: raise bad_event(c, {width}, p, {what!r})")
        blk.add(f"p += {width}", f"nxt = {tgt[0]}" if n_prod == 1 else f"nxt = {tuple(tgt)!r}[c]")

    def value(self, blk: _Block, f: FieldSpec, pos: Position) -> None:
        what = ("@" if f.kind == "attribute" else "") + f.xml[1]
        if f.kind in ("attribute", "value"):
            assert f.datatype is not None
            ctx_q = f.xml if f.kind == "attribute" else self.tg.key
            values = self.ctx.enum_tables(f.datatype, ctx_q)[1] if f.datatype.kind == "enum" else ""
            blk.flush(what)
            blk.add(*decode_plain_value(f.datatype, values))
            return
        m: Member = pos.members[f.member]
        if m.abstract or (m.type_key is not None and self.ctx.grammar.types[m.type_key].abstract):
            blk.flush(what)
            blk.add(f"raise DecodeError('element {m.qname[1]} has an abstract type', bit_offset=p)")
        elif m.type_key is not None:
            blk.flush(what)
            blk.add(f"v, p = _d_{self.ctx.fn[m.type_key]}(D, T, p)")
        else:
            assert m.datatype is not None
            values = self.ctx.enum_tables(m.datatype, m.qname)[1] if m.datatype.kind == "enum" else ""
            blk.add(*decode_element_value(m.datatype, values, blk.zeros, what))
            blk.zeros = 0

    def after_repeat(self, blk: _Block, pos: Position) -> set[int]:
        tg = self.tg
        if not pos.counted:
            sid = tg.state_of[(pos.index, "one")]
            self.read_event(blk, sid)
            return self.targets_of(sid)
        branches: list[tuple[str, int]] = []
        if (pos.index, "under") in tg.state_of:
            branches.append((f"k < {pos.min_occurs}", tg.state_of[(pos.index, "under")]))
        if (pos.index, "mid") in tg.state_of:
            cond = "True" if pos.max_occurs == UNBOUNDED else f"k < {pos.max_occurs}"
            branches.append((cond, tg.state_of[(pos.index, "mid")]))
        if (pos.index, "full") in tg.state_of:
            branches.append(("True", tg.state_of[(pos.index, "full")]))
        pending: set[int] = set()
        for j, (cond, sid) in enumerate(branches):
            inner = _Block()
            self.read_event(inner, sid)
            inner.flush("next event")
            pending |= self.targets_of(sid)
            if len(branches) == 1:
                blk.add(*inner.lines)
                break
            head = "else:" if j == len(branches) - 1 else ("if" if j == 0 else "elif") + f" {cond}:"
            blk.add(head, *("    " + line for line in inner.lines))
        return pending

    def body(self) -> list[str]:
        spec, tg = self.spec, self.tg
        blk = _Block()
        blk.add(*(f"x{i} = {'[]' if f.repeated else 'None'}" for i, f in enumerate(spec.fields)))
        ch = [f for f in spec.fields if f.kind == "value"]
        if ch and ch[0].datatype is not None and ch[0].datatype.kind in ("string", "binary"):
            self.empty = self.construct({ch[0].name: '""' if ch[0].datatype.kind == "string" else 'b""'})
        self.read_event(blk, 0)
        pending = self.targets_of(0)
        for i, f in enumerate(spec.fields):
            if i not in pending:
                continue
            pos = tg.positions[f.position]
            certain = pending == {i} and not f.repeated
            inner = blk if certain else _Block()
            if not certain:
                blk.flush("next event")
            inner.add(f"f = {('@' if f.kind == 'attribute' else '') + f.xml[1]!r}")
            self.value(inner, f, pos)
            if f.repeated:
                inner.add(f"x{i}.append(v)", f"k = len(x{i})")
                new = self.after_repeat(inner, pos)
            else:
                inner.add(f"x{i} = v")
                sid = tg.state_of[(pos.index, "one")]
                self.read_event(inner, sid)
                new = self.targets_of(sid)
            if not certain:
                inner.flush("next event")
                blk.add(f"{'while' if f.repeated else 'if'} nxt == {i}:", *("    " + line for line in inner.lines))
            pending = (pending - {i}) | new
        blk.flush("end of element")
        if pending != {END}:
            blk.add("if nxt != -1: raise DecodeError('unexpected element order', bit_offset=p)")
        blk.add(*self.construct({}))
        return blk.lines

    def construct(self, override: Mapping[str, str]) -> list[str]:
        """Create the object, fill every slot through its descriptor, return it."""
        lines = ["o = _new(_C)"]
        for i, f in enumerate(self.spec.fields):
            value = override.get(f.name, f"tuple(x{i})" if f.repeated else f"x{i}")
            lines.append(f"_s{i}(o, {value})")
        return [*lines, "return o, p"]

    def defaults(self) -> str:
        """Extra keyword defaults of the decoder: the class and its slot setters (fast local access)."""
        cls = self.ctx.cls(self.tg.key)
        out = ["_new=_object_new", f"_C={cls}"]
        out += [f"_s{i}={cls}.{f.name}.__set__" for i, f in enumerate(self.spec.fields)]
        return ", ".join(out)


def emit_decoder(ctx: Context, tg: TypeGrammar, spec: ClassSpec) -> tuple[list[str], str]:
    """The body lines of a structured type's decoder, and its extra default parameters."""
    d = _Decoder(ctx, tg, spec)
    return d.body(), d.defaults()
