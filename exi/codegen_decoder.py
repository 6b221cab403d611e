"""Emit the decoder function of one structured type (see :mod:`exi.codegen_codec`).

The decoder reads an event code, maps it to a *target* (the index of the field it fills, or -1 for EE)
in ``nxt``, and falls through the fields in schema order: a field's block runs when ``nxt`` names it.
Content models of structured types only ever move forward (or repeat the same position), so one pass
in order suffices. The emitter tracks which targets are possible at each point; a block whose target
is certain needs no test, and a state with a single production costs no read at all: its "must be 0"
code bit is checked together with the next value (the fused reads of :mod:`exi.codegen_values`).

Objects are created with ``object.__new__`` and filled through the slots' descriptors, which is three
times faster than a frozen dataclass's ``__init__`` and yields the same immutable instance.

Window checkpoints (:mod:`exi.bitstream`) follow every call to a nested type's decoder and to a value helper
that may cross the window's end, and open each iteration of a loop over simple values. :class:`RunBound`
computes, from the emitted code, how many bits can be read between two checkpoints.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from exi import generic
from exi.bindings import ClassSpec, FieldSpec
from exi.codegen_values import CHECKPOINT, decode_element_value, decode_plain_value, prefix_check
from exi.errors import SchemaError
from exi.grammar import END, Member, Position, TypeGrammar
from exi.model import UNBOUNDED

if TYPE_CHECKING:
    from exi.codegen_codec import Context

__all__ = ["RunBound", "emit_decoder"]

_READ = re.compile(r"\(D >> \(T - p - (\d+)\)\)")
_HELPER = re.compile(r"\br_\w+\(D, T, p\b")
_CALL = re.compile(r"\b_d_(\w+)\(D, T, p, L, R\)")
HELPER_RUN_BITS = 128
"""Bits a value helper of :mod:`exi.runtime` reads from the window before it checks the window's end itself
(a CH bit, an escape, up to 10 groups of an Unsigned Integer, an EE bit)."""


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
                f"        raise bad_event(c, {width}, p, {what!r}, {n_prod})",
                f"    p += {bits}",
                *("    " + line for line in self.empty),
            )
        else:
            blk.add(f"if c >= {n_prod}: raise bad_event(c, {width}, p, {what!r}, {n_prod})")
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
        if m.abstract:
            blk.flush(what)
            blk.add(f"raise DecodeError('element {m.qname[1]} is abstract', bit_offset=p)")
        elif m.type_key is not None and self.ctx.grammar.types[m.type_key].abstract:
            # Valid only with xsi:type naming a derived type: the general decoder reads it.
            blk.flush(what)
            blk.add(f"raise DecodeError('element {m.qname[1]} has an abstract type', bit_offset=p, escape=True)")
        elif m.type_key is not None:
            blk.flush(what)
            blk.add(f"v, p = _d_{self.ctx.fn[m.type_key]}(D, T, p, L, R)", CHECKPOINT)
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
        always: set[int] = set()  # fields whose block runs on every path (no default value needed)
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
            if certain:
                always.add(i)
            inner = blk if certain else _Block()
            if not certain:
                blk.flush("next event")
            if f.repeated and pos.members[f.member].type_key is None:
                inner.add(CHECKPOINT)  # a list of simple values has no call to check after
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
        if self.empty is not None:
            always.clear()  # the early return of an empty value builds the object from the defaults
        init = [f"x{i} = {'[]' if f.repeated else 'None'}" for i, f in enumerate(spec.fields) if i not in always]
        lines = init + blk.lines
        if not any("nxt ==" in line or "nxt !=" in line for line in lines):
            # Straight-line content: the targets are never tested, so their stores are dead.
            lines = [line for line in lines if not line.lstrip().startswith("nxt = ")]
        return lines

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
    if tg.abstract:
        # Valid only with xsi:type naming a derived type (or as a deviation): the general decoder reads it.
        return [f"raise DecodeError('type {tg.key[1]} is abstract', bit_offset=p, escape=True)"], ""
    d = _Decoder(ctx, tg, spec)
    return d.body(), d.defaults()


class RunBound:
    """The most bits the decoders of one schema set read between two window checkpoints.

    Every inline read ``(D >> (T - p - w))`` of a function counts, once, as does :data:`HELPER_RUN_BITS` per
    helper call: a loop iteration always passes a checkpoint. A run that enters a nested structured type goes
    on until that type's first checkpoint, so callees add their own bound; a generic type checkpoints on entry.
    """

    def __init__(self) -> None:
        self.own: dict[str, int] = {}
        self.calls: dict[str, set[str]] = {}
        self.generic: set[str] = set()

    def note(self, name: str, body: list[str], children: Iterable[str], is_generic: bool) -> None:
        """Record the decoder ``_d_<name>`` (its body, or for a generic type the decoders of its children)."""
        if is_generic:
            self.generic.add(name)
            self.own[name] = generic.RUN_BITS
            self.calls[name] = set(children)
            return
        text = "\n".join(body)
        reads = sum(int(w) for w in _READ.findall(text)) + HELPER_RUN_BITS * len(_HELPER.findall(text))
        self.own[name] = reads
        self.calls[name] = set(_CALL.findall(text))

    def longest(self) -> int:
        """The bound over all decoders (raises for recursive structured types, whose runs have no bound)."""
        bound: dict[str, int] = {}
        active: set[str] = set()

        def lead(name: str) -> int:
            return 0 if name in self.generic else run(name)

        def run(name: str) -> int:
            if name not in bound:
                if name in active:
                    raise SchemaError(f"recursive type {name}: its decoder would need a window checkpoint on entry")
                active.add(name)
                bound[name] = self.own[name] + max((lead(c) for c in self.calls[name]), default=0)
                active.discard(name)
            return bound[name]

        return max([generic.RUN_BITS, *(run(name) for name in sorted(self.own))])
