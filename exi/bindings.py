"""Python bindings for a compiled schema: which class each complex type becomes, and its fields.

A complex type becomes a frozen dataclass named after the XSD type (a trailing ``Type`` dropped). Its
fields follow the grammar's positions in schema order, so base-type fields come first and a derived type
can subclass its base:

* an attribute use -> a field (``None`` when an optional attribute is absent);
* an element position -> one field per element that may occur there (the particle's element and its
  substitution-group members); ``None`` when absent; a tuple when it may repeat;
* simple content -> a field ``value``.

A content model that a fixed set of fields cannot represent losslessly — mixed content, wildcards,
repeated model groups, the same element name at two positions — is *generic*: its children are kept
in order in one field ``content`` as ``str`` (text) and ``(element local name, value)`` items.

Enumerated simple types become ``StrEnum`` classes. Names are valid, unique Python identifiers; each
field keeps its XSD name in its metadata.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from dataclasses import field as dataclasses_field
from typing import Literal

from exi.datatypes import Datatype
from exi.errors import SchemaError
from exi.grammar import END, SchemaGrammar, TypeGrammar
from exi.model import UNBOUNDED, ElementParticle, Particle, QName, Wildcard, clark

__all__ = ["Bindings", "ClassSpec", "EnumSpec", "FieldSpec", "build_bindings", "snake_case"]

FieldKind = Literal["attribute", "element", "value", "content"]


@dataclass(frozen=True)
class FieldSpec:
    """One field of a generated class."""

    name: str
    xml: QName
    kind: FieldKind
    position: int
    member: int
    repeated: bool
    optional: bool
    min_occurs: int
    max_occurs: int
    type_key: QName | None
    datatype: Datatype | None
    abstract: bool = False


@dataclass(frozen=True)
class ClassSpec:
    """A generated dataclass for one complex type."""

    key: QName
    name: str
    module: str
    base: QName | None
    fields: tuple[FieldSpec, ...]
    inherited: int
    """How many leading fields come from the base class."""
    generic: bool
    abstract: bool
    choices: tuple[tuple[tuple[str, ...], bool], ...] = ()
    """Groups of alternative fields (an xs:choice, or the members of a substitution group) and whether one
    of them is required whenever the object exists."""


@dataclass(frozen=True)
class EnumSpec:
    """A generated StrEnum for an enumerated simple type."""

    key: tuple[str, str, tuple[str, ...]]
    name: str
    module: str
    values: tuple[str, ...]
    members: tuple[str, ...]
    """Python member names, parallel to ``values``."""


@dataclass(frozen=True)
class Bindings:
    """All classes and enums of a schema set."""

    classes: dict[QName, ClassSpec]
    enums: dict[tuple[str, str, tuple[str, ...]], EnumSpec]
    aliases: dict[QName, ClassSpec] = dataclasses_field(default_factory=dict)
    """Global elements that share their type with another global element get a subclass named after them
    (no fields of its own), so that a message's class always names its root element."""

    def class_for_element(self, element: QName, type_key: QName) -> ClassSpec:
        """The class a global element's values have (its alias, or its type's class)."""
        return self.aliases.get(element) or self.classes[type_key]

    def enum_for(self, dt: Datatype, context: QName) -> EnumSpec:
        """The enum class of an enumerated datatype (anonymous ones are keyed by their element)."""
        return self.enums[enum_key(dt, context)]


def snake_case(name: str, tokens: Mapping[str, str] | None = None) -> str:
    """``EVMaximumChargePower_L2`` -> ``ev_maximum_charge_power_l2``; keywords get a trailing ``_``."""
    for old, new in (tokens or {}).items():
        name = name.replace(old, new)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    s = re.sub(r"[^0-9A-Za-z_]", "_", s).lower()
    s = re.sub(r"_+", "_", s).strip("_") or "field"
    if s[0].isdigit():
        s = "_" + s
    if keyword.iskeyword(s):
        s += "_"
    return s


def _identifier(name: str) -> str:
    s = re.sub(r"[^0-9A-Za-z_]", "_", name)
    if not s or s[0].isdigit():
        s = "_" + s
    if keyword.iskeyword(s):
        s += "_"
    return s


def enum_key(dt: Datatype, context: QName) -> tuple[str, str, tuple[str, ...]]:
    """Identity of an enumeration: its named type, or (for anonymous ones) the element it belongs to."""
    if dt.name:
        return (dt.type_ns, dt.name, dt.values)
    return (context[0], f"{context[1]}@enum", dt.values)


def _class_name(key: QName) -> str:
    local = key[1].split("@", 1)[0]
    if local.endswith("Type") and len(local) > 4 and "@" not in key[1]:
        local = local[:-4]
    return _identifier(local)


def _enum_name(key: tuple[str, str, tuple[str, ...]]) -> str:
    local = key[1].split("@", 1)[0]
    if local.endswith("Type") and len(local) > 4:
        local = local[:-4]
    local = local[:1].upper() + local[1:]
    return _identifier(local)


def _member_names(values: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for v in values:
        name = _identifier(v)
        if name.startswith("__") or name in out:
            name = f"V_{len(out)}"
        out.append(name)
    return tuple(out)


def _mandatory(tg: TypeGrammar, position: int) -> bool:
    """True when every valid content passes through ``position``."""
    seen = {0}
    todo = [0]
    while todo:
        st = tg.states[todo.pop()]
        for prod in st.productions:
            if prod.event == "EE":
                return False
            if prod.position == position or prod.position == END:
                continue
            for sid, state in enumerate(tg.states):
                if state.position == prod.position and sid not in seen:
                    seen.add(sid)
                    todo.append(sid)
    return True


def _is_generic(tg: TypeGrammar) -> bool:
    if tg.mixed:
        return True
    names: set[QName] = set()
    for pos in tg.positions:
        if pos.kind == "SE*" or pos.in_repeated_group:
            return True
        if pos.kind == "SE":
            if len(pos.members) > 1 and pos.max_occurs != 1:
                return True
            for m in pos.members:
                if m.qname in names:
                    return True
                names.add(m.qname)
    return False


def build_bindings(
    grammar: SchemaGrammar,
    module_of: Mapping[str, str],
    *,
    tokens: Mapping[str, str] | None = None,
    base_of: Mapping[QName, QName | None] | None = None,
    enumerations: Iterable[Datatype] = (),
    particles: Mapping[QName, Particle | None] | None = None,
) -> Bindings:
    """Lay out the classes and enums of a schema set.

    ``module_of`` maps each target namespace to the module its classes go into; ``base_of`` gives each
    type's XSD base type (for Python inheritance).
    """
    base_of = base_of or {}
    classes: dict[QName, ClassSpec] = {}
    enums: dict[tuple[str, str, tuple[str, ...]], EnumSpec] = {}
    used: dict[str, set[str]] = {}

    def module(ns: str) -> str:
        if ns not in module_of:
            raise SchemaError(f"no module is configured for namespace {ns!r}")
        return module_of[ns]

    def unique(mod: str, wanted: str, fallback: str) -> str:
        taken = used.setdefault(mod, set())
        name = wanted if wanted not in taken else fallback
        n = 2
        while name in taken:
            name = f"{fallback}{n}"
            n += 1
        taken.add(name)
        return name

    def register_enum(dt: Datatype, context: QName) -> None:
        key = enum_key(dt, context)
        if key in enums:
            return
        mod = module(key[0] if key[0] in module_of else context[0])
        name = unique(mod, _enum_name(key), _enum_name(key) + "Enum")
        enums[key] = EnumSpec(key, name, mod, dt.values, _member_names(dt.values))

    # Every named enumeration of the set gets its class, used or not, so that a namespace's module is
    # the same whichever schema set it is compiled in.
    for dt in sorted(enumerations, key=lambda d: (d.type_ns, d.name)):
        if dt.type_ns in module_of:
            register_enum(dt, (dt.type_ns, dt.name))
    # Class names next, named types before anonymous ones, so that names are stable.
    ordered = sorted(grammar.types, key=lambda k: ("@" in k[1], k[1], k[0]))
    names: dict[QName, str] = {}
    for key in ordered:
        mod = module(key[0])
        names[key] = unique(mod, _class_name(key), _identifier(key[1].split("@", 1)[0]) + "Type")
    for key in ordered:
        tg = grammar.types[key]
        generic = _is_generic(tg)
        fields: list[FieldSpec] = []
        taken: set[str] = set()

        def fname(xml: QName, suffix: str = "", taken: set[str] = taken) -> str:
            base = snake_case(xml[1], tokens) + suffix
            name = base
            n = 2
            while name in taken:
                name = f"{base}_{n}"
                n += 1
            taken.add(name)
            return name

        for pos in tg.positions:
            if pos.kind == "AT":
                m = pos.members[0]
                assert pos.datatype is not None
                if pos.datatype.kind == "enum":
                    register_enum(pos.datatype, m.qname)
                fields.append(
                    FieldSpec(
                        fname(m.qname),
                        m.qname,
                        "attribute",
                        pos.index,
                        0,
                        False,
                        not pos.required,
                        pos.min_occurs,
                        1,
                        None,
                        pos.datatype,
                    )
                )
            elif pos.kind == "CH":
                assert pos.datatype is not None
                if pos.datatype.kind == "enum":
                    register_enum(pos.datatype, key)
                fields.append(
                    FieldSpec(
                        fname(("", "value")),
                        ("", "value"),
                        "value",
                        pos.index,
                        0,
                        False,
                        False,
                        1,
                        1,
                        None,
                        pos.datatype,
                    )
                )
            elif pos.kind == "SE" and not generic:
                mandatory = _mandatory(tg, pos.index)
                repeated = pos.max_occurs == UNBOUNDED or pos.max_occurs > 1
                for mi, m in enumerate(pos.members):
                    if m.datatype is not None and m.datatype.kind == "enum":
                        register_enum(m.datatype, m.qname)
                    optional = not mandatory or len(pos.members) > 1 or pos.min_occurs == 0
                    fields.append(
                        FieldSpec(
                            fname(m.qname),
                            m.qname,
                            "element",
                            pos.index,
                            mi,
                            repeated,
                            optional,
                            pos.min_occurs,
                            pos.max_occurs,
                            m.type_key,
                            m.datatype,
                            m.abstract,
                        )
                    )
            elif generic:
                for m in pos.members:
                    if m.datatype is not None and m.datatype.kind == "enum":
                        register_enum(m.datatype, m.qname)
        if generic:
            if any(p.counted for p in tg.positions):
                raise SchemaError(f"type {clark(key)}: bounded repetition inside generic content is not supported")
            fields.append(
                FieldSpec(
                    fname(("", "content")), ("", "content"), "content", END, 0, True, True, 0, UNBOUNDED, None, None
                )
            )
        choices = () if generic else _choice_groups(tg, fields, (particles or {}).get(key))
        classes[key] = ClassSpec(
            key, names[key], module(key[0]), base_of.get(key), tuple(fields), 0, generic, tg.abstract, choices
        )
    # A derived class may only subclass its base when the base's fields are a prefix of its own.
    fixed: dict[QName, ClassSpec] = {}
    for key, spec in classes.items():
        base = spec.base
        if base is not None:
            bspec = classes.get(base)
            ok = bspec is not None and not bspec.generic and not spec.generic and _prefix(bspec, spec)
            if not ok:
                spec = replace(spec, base=None, inherited=0)
            else:
                assert bspec is not None
                spec = replace(spec, inherited=len(bspec.fields))
        fixed[key] = spec
    return Bindings(fixed, enums, _aliases(grammar, fixed, used))


def _prefix(base: ClassSpec, derived: ClassSpec) -> bool:
    if len(base.fields) > len(derived.fields):
        return False
    for a, b in zip(base.fields, derived.fields, strict=False):
        if (a.name, a.xml, a.kind, a.repeated, a.optional, a.type_key, a.datatype) != (
            b.name,
            b.xml,
            b.kind,
            b.repeated,
            b.optional,
            b.type_key,
            b.datatype,
        ):
            return False
    return True


def _choice_groups(
    tg: TypeGrammar, fields: list[FieldSpec], particle: Particle | None
) -> tuple[tuple[tuple[str, ...], bool], ...]:
    """Alternatives: each xs:choice (its branches' first fields) and each substitution group's members.

    The particle tree's leaves are the grammar's element positions in the same depth-first order.
    """
    first_content = sum(1 for p in tg.positions if p.kind == "AT")
    groups: list[tuple[list[int], bool]] = []
    counter = first_content

    def walk(p: Particle, required: bool) -> list[int]:
        nonlocal counter
        if isinstance(p, (ElementParticle, Wildcard)):
            counter += 1
            return [counter - 1]
        own = required and p.min_occurs >= 1
        branches = [walk(c, own and p.kind == "sequence" and c.min_occurs >= 1) for c in p.children]
        if p.kind == "choice" and p.max_occurs == 1:
            groups.append(([b[0] for b in branches if b], own))
        return [x for b in branches for x in b]

    if particle is not None:
        walk(particle, True)
    out: list[tuple[tuple[str, ...], bool]] = []
    covered: set[int] = set()
    for positions, required in groups:
        names = tuple(f.name for f in fields if f.position in positions and f.kind == "element")
        covered.update(positions)
        out.append((names, required))
    for pos in tg.positions:
        if pos.kind == "SE" and len(pos.members) > 1 and pos.index not in covered:
            names = tuple(f.name for f in fields if f.position == pos.index)
            out.append((names, _mandatory(tg, pos.index)))
    return tuple(out)


def _aliases(
    grammar: SchemaGrammar, classes: dict[QName, ClassSpec], used: dict[str, set[str]]
) -> dict[QName, ClassSpec]:
    """Element-named subclasses for global elements whose type also serves another global element."""
    users: dict[QName, list[QName]] = {}
    for q, m in zip(grammar.globals, grammar.global_members, strict=True):
        if m.type_key is not None:
            users.setdefault(m.type_key, []).append(q)
    out: dict[QName, ClassSpec] = {}
    for key, elements in users.items():
        if len(elements) < 2:
            continue
        spec = classes[key]
        for q in elements:
            name = _identifier(q[1])
            if name == spec.name or name in used.setdefault(spec.module, set()):
                continue
            used[spec.module].add(name)
            out[q] = replace(spec, name=name, base=key, inherited=len(spec.fields))
    return out
