"""Generate a specialised EXI encoder and decoder (Python source) for one schema set.

Every complex type gets an encoder ``_e_<T>(acc, n, obj) -> (acc, n)`` and a decoder
``_d_<T>(D, T, p, L, R) -> (obj, p)`` (see :mod:`exi.runtime` and :mod:`exi.bitstream` for the arguments)
that read and build the binding objects directly — no intermediate
tree, no per-event interpretation. Grammar states are resolved while generating: where the state
is known statically, event codes and widths are constants; where it depends on which optional fields
were present, a small table indexed by the state id is emitted. The grammar itself validates structure:
an element that the current state does not offer is reported with its path.

Generic types (mixed content, wildcards, repeated groups) are coded by the table-driven interpreter in
:mod:`exi.generic` from tables emitted here. Each module also records ``RUN_BITS``, the most bits its decoders
read between two window checkpoints; :class:`~exi.document.Codec` refuses a module whose bound exceeds the
window margin.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from exi.bindings import Bindings
from exi.codegen_decoder import RunBound, emit_decoder
from exi.codegen_encoder import emit_encoder
from exi.codegen_tables import emit_tables
from exi.datatypes import Datatype, bits_for
from exi.grammar import Member, SchemaGrammar, State, TypeGrammar
from exi.model import QName

__all__ = ["generate_codec_module", "second_level_ee"]

_RUNTIME_NAMES = (
    "DecodeError", "EncodeError", "SPILL_LIMIT", "abstract", "bad_event", "bad_value", "check_int", "check_len",
    "check_length", "check_range", "enum_index", "fused_error", "missing", "not_allowed", "only_one", "out_of_range",
    "premature", "r_bin", "r_el_bin", "r_el_int", "r_el_str", "r_el_uint", "r_enum", "r_int", "r_nbit_value",
    "r_str", "r_uint", "spill", "too_few", "too_many", "undeclared", "unspill", "w_bin", "w_bool", "w_el_bin",
    "SlowPath",
    "w_el_int_raw", "w_el_str", "w_el_uint_raw", "w_int", "w_str", "w_uint", "window",
)  # fmt: skip

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


def offered(tg: TypeGrammar, st: State) -> str:
    """The productions of a state, for error messages."""
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


class Context:
    """What the encoder and decoder emitters share: names, constants, enum tables."""

    def __init__(self, grammar: SchemaGrammar, bindings: Bindings, package: str, set_name: str) -> None:
        self.grammar = grammar
        self.b = bindings
        self.package = package
        self.set_name = set_name
        self.out = _Out()
        self.modules: set[str] = set()
        self.runs = RunBound()
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
        self.type_order = sorted(grammar.types, key=lambda k: self.fn[k])
        """The order of the general coder's type table (and of the functions)."""
        self.type_index = {key: i for i, key in enumerate(self.type_order)}
        self.prefixes: dict[str, str] = {}
        self.castable = {tg.base for tg in grammar.types.values() if tg.base is not None}
        """Types some other type of the set derives from: an object of the derived class in one of their fields is
        an ``xsi:type`` cast, which the general encoder writes."""

    def has_enum(self, dt: Datatype, context: QName) -> bool:
        """True when the bindings have an enum class for an enumerated datatype."""
        try:
            self.b.enum_for(dt, context)
        except KeyError:
            return False
        return True

    def cls(self, key: QName) -> str:
        """The expression naming a type's binding class in the generated module."""
        spec = self.b.classes[key]
        self.modules.add(spec.module)
        return f"_{spec.module}.{spec.name}"

    def const(self, prefix: str, literal: str) -> str:
        """A module-level constant holding ``literal`` (shared when identical)."""
        return self.out.const(prefix, literal)

    def enum_tables(self, dt: Datatype, context: QName) -> tuple[str, str]:
        """Names of an enumeration's value -> index map and index -> member tuple."""
        es = self.b.enum_for(dt, context)
        self.modules.add(es.module)
        values = "(" + "".join(f"_{es.module}.{es.name}.{m}, " for m in es.members) + ")"
        index = "{" + ", ".join(f"{v!r}: {i}" for i, v in enumerate(es.values)) + "}"
        return self.out.const("EI", index), self.out.const("EV", values)

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
            f"({dt.kind!r}, {dt.lo!r}, {dt.hi!r}, {dt.bits}, {dt.length!r}, {dt.min_length!r}, {dt.max_length!r}"
            f"{enum}, {dt.lexical!r})"
        )

    def offered_all(self, tg: TypeGrammar, states: set[int]) -> str:
        """What the grammar allows in any of ``states`` (for error messages)."""
        return " | ".join(sorted({offered(tg, tg.states[s]) for s in states}))


class CodecGenerator(Context):
    """Builds the source of one codec module."""

    # ---- module --------------------------------------------------------------------------------------
    def generate(self, header: str) -> str:
        for key in sorted(self.grammar.types, key=lambda k: self.fn[k]):
            tg = self.grammar.types[key]
            spec = self.b.classes[key]
            name = self.fn[key]
            index = self.type_index[key]
            if spec.generic:
                enc_body = [f"return enc_generic(acc, n, o, SCHEMA, {index})"]
                dec_body, dec_defaults = [f"return dec_generic(D, T, p, L, R, SCHEMA, {index})"], ""
            else:
                enc_body = emit_encoder(self, tg, spec)
                dec_body, dec_defaults = emit_decoder(self, tg, spec)
            self.out.funcs.append(_function(f"_e_{name}", "acc, n, o", f"Encode {key[1]}.", enc_body, encode=True))
            self.runs.note(name, dec_body, (), spec.generic)
            params = "D, T, p, L, R" + (", " + dec_defaults if dec_defaults else "")
            self.out.funcs.append(_function(f"_d_{name}", params, f"Decode {key[1]}.", dec_body, encode=False))
        roots = self.root_tables()
        tables = emit_tables(self)
        imports = "\n".join(f"from {self.package} import {m} as _{m}" for m in sorted(self.modules))
        runtime = ", ".join(sorted(_RUNTIME_NAMES))
        parts = [
            f'"""EXI codec for the schema set ``{self.set_name}``.',
            "",
            header.strip(),
            '"""',
            "",
            "# ruff: noqa",
            "# mypy: ignore-errors",
            "from exi.generic import dec_generic, enc_generic",
            "from exi.tables import SchemaTables",
            f"from exi.runtime import {runtime}",
            imports,
            "",
            "_object_new = object.__new__",
            *self.out.consts,
            "",
            "",
            "\n\n\n".join(self.out.funcs),
            "",
            "",
            roots,
            tables,
        ]
        return "\n".join(parts) + "\n"

    def root_tables(self) -> str:
        def member_row(q: QName, m: Member | None) -> str:
            if m is None:
                return f"({q[0]!r}, {q[1]!r}, None, None, None)"
            if m.type_key is not None:
                fn = self.fn[m.type_key]
                spec = self.b.class_for_element(q, m.type_key)
                self.modules.add(spec.module)
                return f"({q[0]!r}, {q[1]!r}, _e_{fn}, _d_{fn}, _{spec.module}.{spec.name})"
            return f"({q[0]!r}, {q[1]!r}, None, None, {self.datatype_literal(m.datatype, q)})"

        doc = "".join(
            f"    {member_row(q, m)},\n" for q, m in zip(self.grammar.globals, self.grammar.global_members, strict=True)
        )
        frag = "".join(
            f"    {member_row(q, m)},\n"
            for q, m in zip(self.grammar.fragment, self.grammar.fragment_members, strict=True)
        )
        return (
            f"NAME = {self.set_name!r}\n"
            f"NAMESPACES = {self.grammar.namespaces!r}\n"
            f"PREFIXES = {dict(sorted(self.prefixes.items()))!r}\n"
            f"RUN_BITS = {self.runs.longest()}\n"
            f"DOCUMENT = (\n{doc})\n"
            f"FRAGMENT = (\n{frag})\n"
        )


def _function(name: str, params: str, doc: str, body: list[str], *, encode: bool) -> str:
    lines = [f"def {name}({params}):", f'    """{doc}"""']
    if not body[0].startswith("f = "):  # otherwise the first statement sets it before anything can fail
        lines.append('    f = ""')
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
        lines.append("        err = premature(exc, R, p)")
        lines.append("        raise (err.within(f) if f else err) from exc")
    return "\n".join(lines)


def generate_codec_module(
    grammar: SchemaGrammar,
    bindings: Bindings,
    package: str,
    set_name: str,
    header: str,
    prefixes: Mapping[str, str] | None = None,
) -> str:
    """The source of the codec module of one schema set; ``package`` holds the binding modules, ``prefixes``
    (namespace -> prefix) name the namespaces in its XML view."""
    gen = CodecGenerator(grammar, bindings, package, set_name)
    gen.prefixes = dict(prefixes or {})
    return gen.generate(header)
