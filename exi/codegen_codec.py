"""Generate a specialised EXI encoder and decoder (Python source) for one schema set.

Every complex type gets an encoder ``_e_<T>(acc, n, obj) -> (acc, n)`` and a decoder
``_d_<T>(D, T, p) -> (obj, p)`` that read and build the binding objects directly — no intermediate
tree, no per-event interpretation. Grammar states are resolved while generating: where the state
is known statically, event codes and widths are constants; where it depends on which optional fields
were present, a small table indexed by the state id is emitted. The grammar itself validates structure:
an element that the current state does not offer is reported with its path.

Generic types (mixed content, wildcards, repeated groups) are coded by the table-driven interpreter in
:mod:`exi.generic` from tables emitted here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from exi.bindings import Bindings, ClassSpec, FieldSpec
from exi.codegen_values import (
    decode_element_value,
    decode_plain_value,
    encode_element_value,
    encode_plain_value,
)
from exi.datatypes import Datatype, bits_for
from exi.grammar import END, Member, Position, SchemaGrammar, State, TypeGrammar
from exi.model import UNBOUNDED, QName

__all__ = ["generate_codec_module", "second_level_ee"]

_CATCH = "(TypeError, ValueError, AttributeError, OverflowError, KeyError, IndexError, RecursionError)"


def second_level_ee(st: State) -> tuple[int, int]:
    """(bits, code) of "no value here, end the element" in state ``st`` (EXI non-strict second level).

    A declared EE is used directly; otherwise the escape (code = number of declared productions) is
    followed by the second-level EE, which is entry 0 of: the first state's [EE, AT(xsi:type),
    AT(xsi:nil), AT(*), AT(untyped), SE(*), CH]; a later start-tag state's [EE, AT(*), AT(untyped),
    SE(*), CH]; a content state's [EE, SE(*), CH] (exi-codec-guide §4.9).
    """
    ee = st.code_of("EE")
    if ee is not None:
        return st.width, ee
    entries = 7 if st.first else (5 if st.start_tag else 3)
    w2 = bits_for(entries)
    return st.width + w2, len(st.productions) << w2


def _offered(tg: TypeGrammar, st: State) -> str:
    names = []
    for prod in st.productions:
        if prod.event in ("SE", "AT"):
            pos = tg.positions[prod.position]
            names.append(("@" if prod.event == "AT" else "") + pos.members[prod.member].qname[1])
        elif prod.event == "SE*":
            names.append("*")
        else:
            names.append(prod.event)
    return ", ".join(names)


@dataclass
class _Out:
    consts: list[str] = field(default_factory=list)
    funcs: list[str] = field(default_factory=list)
    const_ids: dict[str, str] = field(default_factory=dict)

    def const(self, prefix: str, literal: str) -> str:
        name = self.const_ids.get(literal)
        if name is None:
            name = f"_{prefix}{len(self.const_ids)}"
            self.const_ids[literal] = name
            self.consts.append(f"{name} = {literal}")
        return name


class CodecGenerator:
    """Builds the source of one codec module."""

    def __init__(self, grammar: SchemaGrammar, bindings: Bindings, package: str, set_name: str) -> None:
        self.g = grammar
        self.b = bindings
        self.package = package
        self.set_name = set_name
        self.out = _Out()
        self.modules: set[str] = set()
        self.fn: dict[QName, str] = {}
        taken: set[str] = set()
        for key in sorted(grammar.types, key=lambda k: (k[1], k[0])):
            base = re.sub(r"[^0-9A-Za-z_]", "_", key[1])
            name = base
            i = 2
            while name in taken:
                name = f"{base}_{i}"
                i += 1
            taken.add(name)
            self.fn[key] = name

    # ---- references ---------------------------------------------------------------------------------
    def cls(self, key: QName) -> str:
        spec = self.b.classes[key]
        self.modules.add(spec.module)
        return f"_{spec.module}.{spec.name}"

    def enum_tables(self, dt: Datatype, context: QName) -> tuple[str, str]:
        es = self.b.enum_for(dt, context)
        self.modules.add(es.module)
        values = "(" + "".join(f"_{es.module}.{es.name}.{m}, " for m in es.members) + ")"
        index = "{" + ", ".join(f"{v!r}: {i}" for i, v in enumerate(es.values)) + "}"
        return self.out.const("EI", index), self.out.const("EV", values)

    def member_context(self, m: Member) -> QName:
        return m.qname

    # ---- encoder -------------------------------------------------------------------------------------
    def write_code(
        self, tg: TypeGrammar, states: set[int], event: str, position: int, member: int, what: str
    ) -> list[str]:
        """Lines that write the event code of a production from any of ``states``."""
        options: dict[int, tuple[int, int]] = {}
        for sid in sorted(states):
            st = tg.states[sid]
            code = st.code_of(event, position, member)  # type: ignore[arg-type]
            if code is not None:
                options[sid] = (code, st.width)
        if not options:
            return [f"raise not_allowed({what!r}, {self.offered_all(tg, states)!r})"]
        pairs = set(options.values())
        if len(pairs) == 1 and len(options) == len(states):
            code, width = pairs.pop()
            return _emit_bits(code, width)
        table = self.out.const("T", "{" + ", ".join(f"{s}: ({c}, {w})" for s, (c, w) in options.items()) + "}")
        return [
            f"cw = {table}.get(s)",
            f"if cw is None: raise not_allowed({what!r}, {self.offered_all(tg, states)!r}, s)",
            "acc = (acc << cw[1]) | cw[0]",
            "n += cw[1]",
        ]

    def offered_all(self, tg: TypeGrammar, states: set[int]) -> str:
        return " | ".join(sorted({_offered(tg, tg.states[s]) for s in states}))

    def encode_member_value(self, m: Member) -> list[str]:
        if m.abstract or (m.type_key is not None and self.g.types[m.type_key].abstract):
            return [f"raise abstract({m.qname[1]!r})"]
        if m.type_key is not None:
            return [f"acc, n = _e_{self.fn[m.type_key]}(acc, n, v)"]
        assert m.datatype is not None
        index = self.enum_tables(m.datatype, m.qname)[0] if m.datatype.kind == "enum" else ""
        return encode_element_value(m.datatype, index)

    def encoder(self, tg: TypeGrammar, spec: ClassSpec) -> list[str]:
        if spec.generic:
            return [f"return enc_generic(acc, n, o, _G_{self.fn[tg.key]})"]
        body: list[str] = []
        states: set[int] = {0}
        for pos in tg.positions:
            fields = [f for f in spec.fields if f.position == pos.index]
            if pos.kind == "AT":
                states = self.enc_attribute(tg, pos, fields[0], states, body)
            elif pos.kind == "CH":
                self.enc_simple_content(tg, pos, fields[0], states, body)
                return body
            else:
                after: set[int] = set()
                skippable = False
                for f in fields:
                    got, optional = self.enc_element(tg, pos, f, states, body)
                    after |= got
                    skippable = skippable or optional
                states = after | (states if skippable else set())
        body += self.write_code(tg, states, "EE", END, 0, "end of element (a required element is missing)")
        body.append("return acc, n")
        return body

    def enc_attribute(
        self, tg: TypeGrammar, pos: Position, f: FieldSpec, states: set[int], body: list[str]
    ) -> set[int]:
        assert f.datatype is not None
        index = self.enum_tables(f.datatype, f.xml)[0] if f.datatype.kind == "enum" else ""
        block = [f"f = {'@' + f.xml[1]!r}"]
        block += self.write_code(tg, states, "AT", pos.index, 0, "@" + f.xml[1])
        block += encode_plain_value(f.datatype, index)
        nxt = tg.state_of[(pos.index, "one")]
        block.append(f"s = {nxt}")
        body.append(f"v = o.{f.name}")
        if f.optional:
            body.append("if v is not None:")
            body.extend("    " + line for line in block)
            return states | {nxt}
        body.append(f"if v is None: raise missing({'@' + f.xml[1]!r})")
        body.extend(block)
        return {nxt}

    def enc_simple_content(
        self, tg: TypeGrammar, pos: Position, f: FieldSpec, states: set[int], body: list[str]
    ) -> None:
        assert f.datatype is not None
        dt = f.datatype
        index = self.enum_tables(dt, tg.key)[0] if dt.kind == "enum" else ""
        body.append(f"v = o.{f.name}")
        body.append('f = "value"')
        value = self.write_code(tg, states, "CH", pos.index, 0, "value")
        value += encode_plain_value(dt, index)
        after = tg.state_of[(pos.index, "one")]
        value += self.write_code(tg, {after}, "EE", END, 0, "end of element")
        if dt.kind in ("string", "binary"):
            options = {sid: second_level_ee(tg.states[sid]) for sid in sorted(states)}
            if len(set(options.values())) == 1:
                bits, code = next(iter(options.values()))
                empty = _emit_bits(code, bits)
            else:
                table = self.out.const("T", "{" + ", ".join(f"{s}: ({c}, {b})" for s, (b, c) in options.items()) + "}")
                empty = [f"cw = {table}[s]", "acc = (acc << cw[1]) | cw[0]", "n += cw[1]"]
            body.append("if len(v) == 0:")
            body.extend("    " + line for line in empty)
            body.append("else:")
            body.extend("    " + line for line in value)
        else:
            body.extend(value)
        body.append("return acc, n")

    def enc_element(
        self, tg: TypeGrammar, pos: Position, f: FieldSpec, states: set[int], body: list[str]
    ) -> tuple[set[int], bool]:
        m = pos.members[f.member]
        name = m.qname[1]
        value = self.encode_member_value(m)
        if not f.repeated:
            nxt = tg.state_of[(pos.index, "one")]
            block = [f"f = {name!r}"]
            block += self.write_code(tg, states, "SE", pos.index, f.member, name)
            block += value
            block.append(f"s = {nxt}")
            body.append(f"v = o.{f.name}")
            if f.optional:
                body.append("if v is not None:")
                body.extend("    " + line for line in block)
                return {nxt}, True
            body.append(f"if v is None: raise missing({name!r})")
            body.extend(block)
            return {nxt}, False
        # A repeated element: codes of the first occurrence come from the entry states, later ones from
        # the position's own (counted) states.
        lo = pos.min_occurs
        hi = pos.max_occurs
        body.append(f"items = o.{f.name}")
        body.append("cnt = len(items)")
        if hi != UNBOUNDED:
            body.append(f"if cnt > {hi}: raise EncodeError('at most {hi} {name} allowed', value=cnt).within({name!r})")
        if lo > 1:
            body.append(
                f"if 0 < cnt < {lo}: raise EncodeError('at least {lo} {name} required', value=cnt).within({name!r})"
            )
        if not f.optional:
            body.append(f"if cnt == 0: raise missing({name!r})")
        loop_states: dict[str, int] = {}
        for cls in ("one", "under", "mid", "full"):
            if (pos.index, cls) in tg.state_of:
                loop_states[cls] = tg.state_of[(pos.index, cls)]
        block = [f"f = {name!r}", "for i, v in enumerate(items):"]
        first = self.write_code(tg, states, "SE", pos.index, f.member, name)
        again_codes: dict[str, list[str]] = {}
        for cls, sid in loop_states.items():
            if cls != "full":
                again_codes[cls] = self.write_code(tg, {sid}, "SE", pos.index, f.member, name)
        block.append("    if i == 0:")
        block.extend("        " + line for line in first)
        if (
            pos.counted
            and "under" in again_codes
            and "mid" in again_codes
            and again_codes["under"] != again_codes["mid"]
        ):
            block.append(f"    elif i < {lo}:")
            block.extend("        " + line for line in again_codes["under"])
            block.append("    else:")
            block.extend("        " + line for line in again_codes["mid"])
        else:
            again = again_codes.get("mid") or again_codes.get("one") or again_codes.get("under") or []
            block.append("    else:")
            block.extend("        " + line for line in again)
        block.extend("    " + line for line in value)
        exits: set[int] = set()
        if pos.counted:
            mid = loop_states.get("mid")
            full = loop_states.get("full")
            if full is not None and mid is not None:
                block.append(f"s = {full} if cnt == {hi} else {mid}")
                exits = {full, mid}
            else:
                only = full if full is not None else mid
                assert only is not None
                block.append(f"s = {only}")
                exits = {only}
        else:
            block.append(f"s = {loop_states['one']}")
            exits = {loop_states["one"]}
        body.append("if cnt:")
        body.extend("    " + line for line in block)
        return exits, f.optional

    # ---- decoder -------------------------------------------------------------------------------------
    def read_event(
        self, tg: TypeGrammar, sid: int, targets: Mapping[tuple[int, int], int], empty_value: str | None = None
    ) -> list[str]:
        """Lines that read the next event code in state ``sid`` and set ``nxt`` to its target id."""
        st = tg.states[sid]
        n_prod = len(st.productions)
        width = st.width
        tgt = []
        for prod in st.productions:
            tgt.append(END if prod.event == "EE" else targets[(prod.position, prod.member)])
        offered = _offered(tg, st)
        lines = [f"c = (D >> (T - p - {width})) & {(1 << width) - 1}"]
        if empty_value is not None:
            # Simple content: the escape may be followed by a second-level EE (an empty value).
            bits, _code = second_level_ee(st)
            w2 = bits - width
            lines.append(f"if c >= {n_prod}:")
            lines.append(f"    if c != {n_prod} or (D >> (T - p - {bits})) & {(1 << w2) - 1}:")
            lines.append(f"        raise bad_event(c, {width}, p, {offered!r})")
            lines.append(f"    p += {bits}")
            lines.append(f"    return {empty_value}, p")
        else:
            lines.append(f"if c >= {n_prod}: raise bad_event(c, {width}, p, {offered!r})")
        lines.append(f"p += {width}")
        if n_prod == 1:
            lines.append(f"nxt = {tgt[0]}")
        else:
            lines.append(f"nxt = {tuple(tgt)!r}[c]")
        return lines

    def decode_member_value(self, m: Member) -> list[str]:
        if m.abstract or (m.type_key is not None and self.g.types[m.type_key].abstract):
            return [f"raise DecodeError('element {m.qname[1]} has an abstract type', bit_offset=p)"]
        if m.type_key is not None:
            return [f"v, p = _d_{self.fn[m.type_key]}(D, T, p)"]
        assert m.datatype is not None
        values = self.enum_tables(m.datatype, m.qname)[1] if m.datatype.kind == "enum" else ""
        return decode_element_value(m.datatype, values)

    def decoder(self, tg: TypeGrammar, spec: ClassSpec) -> list[str]:
        cls = self.cls(tg.key)
        if spec.generic:
            return [f"return dec_generic(D, T, p, _G_{self.fn[tg.key]}, {cls})"]
        targets: dict[tuple[int, int], int] = {}
        for i, f in enumerate(spec.fields):
            targets[(f.position, f.member)] = i
        body: list[str] = []
        for f in spec.fields:
            body.append(f"x_{f.name} = {'[]' if f.repeated else 'None'}")
        empty: str | None = None
        ch = [f for f in spec.fields if f.kind == "value"]
        if ch:
            dt = ch[0].datatype
            assert dt is not None
            if dt.kind in ("string", "binary"):
                empty = self.construct(cls, spec, {ch[0].name: '""' if dt.kind == "string" else 'b""'})
        body += self.read_event(tg, 0, targets, self.empty_if_offers_ch(tg, 0, empty))
        pending = self.targets_of(tg, 0, targets)
        for i, f in enumerate(spec.fields):
            if i not in pending:
                continue
            pos = tg.positions[f.position]
            block: list[str] = [f"f = {('@' if f.kind == 'attribute' else '') + f.xml[1]!r}"]
            if f.kind in ("attribute", "value"):
                assert f.datatype is not None
                values = (
                    self.enum_tables(f.datatype, f.xml if f.kind == "attribute" else tg.key)[1]
                    if f.datatype.kind == "enum"
                    else ""
                )
                block += decode_plain_value(f.datatype, values)
            else:
                block += self.decode_member_value(pos.members[f.member])
            if f.repeated:
                block.append(f"x_{f.name}.append(v)")
                block.append(f"k = len(x_{f.name})")
                block += self.read_after_repeat(tg, pos, targets)
                new_pending = set().union(
                    *(self.targets_of(tg, sid, targets) for (p_, _c), sid in tg.state_of.items() if p_ == pos.index)
                )
                guard = "while"
            else:
                block.append(f"x_{f.name} = v")
                sid = tg.state_of[(pos.index, "one")]
                block += self.read_event(tg, sid, targets, self.empty_if_offers_ch(tg, sid, empty))
                new_pending = self.targets_of(tg, sid, targets)
                guard = "if"
            if pending == {i} and not f.repeated:
                body.extend(block)
            else:
                body.append(f"{guard} nxt == {i}:")
                body.extend("    " + line for line in block)
            pending = (pending - {i}) | new_pending
        if pending != {END}:
            body.append("if nxt != -1: raise DecodeError('unexpected element order', bit_offset=p)")
        body.append(f"return {self.construct(cls, spec, {})}, p")
        return body

    def empty_if_offers_ch(self, tg: TypeGrammar, sid: int, empty: str | None) -> str | None:
        if empty is None:
            return None
        return empty if any(pr.event == "CH" for pr in tg.states[sid].productions) else None

    def targets_of(self, tg: TypeGrammar, sid: int, targets: Mapping[tuple[int, int], int]) -> set[int]:
        return {END if pr.event == "EE" else targets[(pr.position, pr.member)] for pr in tg.states[sid].productions}

    def read_after_repeat(self, tg: TypeGrammar, pos: Position, targets: Mapping[tuple[int, int], int]) -> list[str]:
        if not pos.counted:
            return self.read_event(tg, tg.state_of[(pos.index, "one")], targets)
        branches: list[tuple[str, int]] = []
        if (pos.index, "under") in tg.state_of:
            branches.append((f"k < {pos.min_occurs}", tg.state_of[(pos.index, "under")]))
        if (pos.index, "mid") in tg.state_of:
            cond = "True" if pos.max_occurs == UNBOUNDED else f"k < {pos.max_occurs}"
            branches.append((cond, tg.state_of[(pos.index, "mid")]))
        if (pos.index, "full") in tg.state_of:
            branches.append(("True", tg.state_of[(pos.index, "full")]))
        lines: list[str] = []
        for j, (cond, sid) in enumerate(branches):
            last = j == len(branches) - 1
            head = "else:" if last and j else (f"if {cond}:" if j == 0 else f"elif {cond}:")
            if len(branches) == 1:
                lines += self.read_event(tg, sid, targets)
                break
            lines.append(head)
            lines.extend("    " + line for line in self.read_event(tg, sid, targets))
        return lines

    def construct(self, cls: str, spec: ClassSpec, override: Mapping[str, str]) -> str:
        args = []
        for f in spec.fields:
            if f.name in override:
                args.append(f"{f.name}={override[f.name]}")
            elif f.repeated:
                args.append(f"{f.name}=tuple(x_{f.name})")
            else:
                args.append(f"{f.name}=x_{f.name}")
        return f"{cls}({', '.join(args)})"

    # ---- generic tables ------------------------------------------------------------------------------
    def generic_table(self, tg: TypeGrammar, spec: ClassSpec) -> str:
        states = []
        for st in tg.states:
            prods = tuple((pr.event, pr.position, pr.member) for pr in st.productions)
            states.append(f"({st.width}, {prods!r}, {second_level_ee(st)!r})")
        positions = []
        attr_fields = {f.position: f.name for f in spec.fields if f.kind == "attribute"}
        for pos in tg.positions:
            members = []
            for m in pos.members:
                if pos.kind == "AT":
                    members.append(f"({m.qname[1]!r}, None, None, {self.datatype_literal(pos.datatype, m.qname)})")
                elif m.type_key is not None:
                    fn = self.fn[m.type_key]
                    members.append(f"({m.qname[1]!r}, _e_{fn}, _d_{fn}, None)")
                else:
                    members.append(f"({m.qname[1]!r}, None, None, {self.datatype_literal(m.datatype, m.qname)})")
            state_after = tg.state_of.get((pos.index, "one"), -1)
            positions.append(
                f"({pos.kind!r}, {attr_fields.get(pos.index)!r}, ({''.join(x + ', ' for x in members)}), {state_after})"
            )
        content = next(f.name for f in spec.fields if f.kind == "content")
        return (
            f"_G_{self.fn[tg.key]} = GenericTable(\n    states=({''.join(s + ', ' for s in states)}),\n"
            f"    positions=({''.join(p + ', ' for p in positions)}),\n    content={content!r},\n)"
        )

    def datatype_literal(self, dt: Datatype | None, context: QName) -> str:
        if dt is None:
            return "None"
        enum = ""
        if dt.kind == "enum":
            index, values = self.enum_tables(dt, context)
            enum = f", {index}, {values}"
        else:
            enum = ", None, None"
        return (
            f"({dt.kind!r}, {dt.lo!r}, {dt.hi!r}, {dt.bits}, {dt.length!r}, {dt.min_length!r}, {dt.max_length!r}{enum})"
        )

    # ---- module --------------------------------------------------------------------------------------
    def generate(self, header: str) -> str:
        for key in sorted(self.g.types, key=lambda k: self.fn[k]):
            tg = self.g.types[key]
            spec = self.b.classes[key]
            self.cls(key)
            self.out.funcs.append(
                _function(
                    f"_e_{self.fn[key]}",
                    "acc: int, n: int, o: Any",
                    "tuple[int, int]",
                    f"Encode {key[1]}.",
                    self.encoder(tg, spec),
                    encode=True,
                )
            )
            self.out.funcs.append(
                _function(
                    f"_d_{self.fn[key]}",
                    "D: int, T: int, p: int",
                    "tuple[Any, int]",
                    f"Decode {key[1]}.",
                    self.decoder(tg, spec),
                    encode=False,
                )
            )
        generic = [
            self.generic_table(self.g.types[k], self.b.classes[k])
            for k in sorted(self.g.types, key=lambda k: self.fn[k])
            if self.b.classes[k].generic
        ]
        roots = self.root_tables()
        imports = "\n".join(f"from {self.package} import {m} as _{m}" for m in sorted(self.modules))
        return (
            "\n".join(
                [
                    f'"""EXI codec for the schema set ``{self.set_name}``.',
                    "",
                    header.strip(),
                    '"""',
                    "",
                    "# ruff: noqa",
                    "# mypy: ignore-errors",
                    "from __future__ import annotations",
                    "",
                    "from typing import Any",
                    "",
                    "from exi.generic import GenericTable, dec_generic, enc_generic",
                    "from exi.runtime import (",
                    "    DecodeError, EncodeError, abstract, bad_event, check_int, check_len, check_length,",
                    "    check_range, enum_index, missing, not_allowed, premature, r_bin, r_el_bin, r_el_bool,",
                    "    r_el_enum, r_el_int, r_el_nbit, r_el_str, r_el_uint, r_enum, r_int, r_nbit_value, r_str,",
                    "    r_uint, w_bin, w_bool, w_el_bin, w_el_bool, w_el_enum, w_el_int, w_el_nbit, w_el_str,",
                    "    w_el_uint, w_int, w_str, w_uint,",
                    ")",
                    imports,
                    "",
                    *self.out.consts,
                    "",
                    "",
                    "\n\n".join(self.out.funcs),
                    "",
                    "",
                    *generic,
                    "",
                    roots,
                ]
            )
            + "\n"
        )

    def root_tables(self) -> str:
        def member_row(q: QName, m: Member | None) -> str:
            if m is None:
                return f"({q[0]!r}, {q[1]!r}, None, None, None)"
            if m.type_key is not None:
                fn = self.fn[m.type_key]
                return f"({q[0]!r}, {q[1]!r}, _e_{fn}, _d_{fn}, {self.cls(m.type_key)})"
            return f"({q[0]!r}, {q[1]!r}, None, None, {self.datatype_literal(m.datatype, q)})"

        doc = "".join(f"    {member_row(q, m)},\n" for q, m in zip(self.g.globals, self.g.global_members, strict=True))
        frag = "".join(
            f"    {member_row(q, m)},\n" for q, m in zip(self.g.fragment, self.g.fragment_members, strict=True)
        )
        return (
            f"NAME = {self.set_name!r}\n"
            f"NAMESPACES = {self.g.namespaces!r}\n"
            f"DOCUMENT = (\n{doc})\n"
            f"FRAGMENT = (\n{frag})\n"
        )


def _emit_bits(code: int, width: int) -> list[str]:
    if width == 0:
        return []
    if code == 0:
        return [f"acc <<= {width}", f"n += {width}"]
    return [f"acc = (acc << {width}) | {code}", f"n += {width}"]


def _function(name: str, params: str, returns: str, doc: str, body: list[str], *, encode: bool) -> str:
    lines = [f"def {name}({params}) -> {returns}:", f'    """{doc}"""', '    f = ""']
    if encode:
        lines.append("    s = 0")
    lines.append("    try:")
    lines.extend("        " + line for line in body)
    if encode:
        lines.append("    except EncodeError as exc:")
        lines.append("        raise exc.within(f) if f else exc")
        lines.append(f"    except {_CATCH} as exc:")
        lines.append("        err = EncodeError(f'{type(exc).__name__}: {exc}')")
        lines.append("        raise (err.within(f) if f else err) from exc")
    else:
        lines.append("    except DecodeError as exc:")
        lines.append("        raise exc.within(f) if f else exc")
        lines.append(f"    except {_CATCH} as exc:")
        lines.append("        err = premature(exc, T, p)")
        lines.append("        raise (err.within(f) if f else err) from exc")
    return "\n".join(lines)


def generate_codec_module(grammar: SchemaGrammar, bindings: Bindings, package: str, set_name: str, header: str) -> str:
    """The source of the codec module of one schema set; ``package`` holds the binding modules."""
    return CodecGenerator(grammar, bindings, package, set_name).generate(header)
