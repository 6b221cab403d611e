"""Emit the grammar tables of the general coder (:mod:`exi.tables`) into a codec module.

The specialised functions of :mod:`exi.codegen_codec` cover schema-valid content without casts or wildcards; the
general coder (:mod:`exi.interp_decode`, :mod:`exi.interp_encode`) interprets these tables for everything else:
``xsi:type``, wildcard and mixed content, undeclared productions. The format (plain tuples, so that importing a
codec module only unmarshals constants; :class:`exi.tables.SchemaTables` builds objects on first use):

``TYPES``: per complex type, in the order of :attr:`Context.type_order`:
    ``(ns, local, flags, class, base index, fields, positions, states, content, encoder, decoder)`` with flags
    named 1, abstract 2,
    mixed 4, generic 8; fields ``((name, repeated), ...)``; positions ``(kind, min, max, members, field indexes,
    (one, under, mid, full) state ids, wildcard, processContents)``, a member being ``(ns, local, ref)``; states
    ``(width, productions, kind)`` with kind 0 first, 1 start tag, 2 content, a production ``(event, position,
    member)``;
    ``content`` the productions of the first content state (where undeclared SE(*) / CH lead).
A *ref* is a type index (complex) or ``(datatype row, declared simple type name or None)``.

``SIMPLE``: ``(ns, name, base ns, base name, datatype row)`` per named simple type; ``URIS`` / ``LOCAL_NAMES``: the
initial string table; ``DOCUMENT_REFS`` / ``FRAGMENT_REFS``: refs parallel to ``DOCUMENT`` / ``FRAGMENT``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from exi.grammar import Member, TypeGrammar
from exi.model import UNBOUNDED, QName

if TYPE_CHECKING:
    from exi.codegen_codec import Context

__all__ = ["emit_tables"]

_KIND = {"first": 0, "start": 1, "content": 2}


def _ref(ctx: Context, index: dict[QName, int], m: Member) -> str:
    if m.type_key is not None:
        return str(index[m.type_key])
    assert m.datatype is not None
    dt = m.datatype
    decl = repr((dt.type_ns, dt.name)) if dt.name else "None"
    return f"({ctx.datatype_literal(dt, m.qname)}, {decl})"


def _type_row(ctx: Context, index: dict[QName, int], tg: TypeGrammar) -> str:
    spec = ctx.b.classes[tg.key]
    flags = (1 if tg.named else 0) | (2 if tg.abstract else 0) | (4 if tg.mixed else 0) | (8 if spec.generic else 0)
    fields = tuple((f.name, f.repeated and f.kind != "content") for f in spec.fields)
    field_of = {(f.position, f.member): i for i, f in enumerate(spec.fields)}
    content_field = next((i for i, f in enumerate(spec.fields) if f.kind == "content"), -1)
    positions = []
    for pos in tg.positions:
        members = []
        for m in pos.members:
            if pos.kind == "AT":
                dt = ctx.datatype_literal(pos.datatype, m.qname)
                members.append(f"({m.qname[0]!r}, {m.qname[1]!r}, ({dt}, None))")
            else:
                members.append(f"({m.qname[0]!r}, {m.qname[1]!r}, {_ref(ctx, index, m)})")
        if pos.kind == "CH":
            assert pos.datatype is not None
            members.append(f"(None, None, ({ctx.datatype_literal(pos.datatype, tg.key)}, None))")
        fidx = tuple(field_of.get((pos.index, mi), -1) for mi in range(max(len(pos.members), 1)))
        succ = tuple(tg.state_of.get((pos.index, cls), -1) for cls in ("one", "under", "mid", "full"))
        hi = -1 if pos.max_occurs == UNBOUNDED else pos.max_occurs
        positions.append(
            f"({pos.kind!r}, {pos.min_occurs}, {hi}, ({''.join(x + ', ' for x in members)}), {fidx!r}, {succ!r}, "
            f"{pos.wildcard!r}, {pos.process!r})"
        )
    states = []
    for st in tg.states:
        kind = _KIND["first"] if st.first else (_KIND["start"] if st.start_tag else _KIND["content"])
        prods = tuple((p.event, p.position, p.member) for p in st.productions)
        states.append(f"({st.width}, {prods!r}, {kind})")
    content = tuple((p.event, p.position, p.member) for p in tg.content)
    base = index[tg.base] if tg.base is not None and tg.base in index else -1
    cls = ctx.cls(tg.key)
    fn = ctx.fn[tg.key]
    # A structured type's specialised functions: the general coder runs them for its content (and interprets the
    # element itself only when they hand it over). A generic type has none of its own.
    funcs = "None, None" if spec.generic or tg.abstract else f"_e_{fn}, _d_{fn}"
    return (
        f"({tg.key[0]!r}, {tg.key[1]!r}, {flags}, {cls}, {base}, {fields!r}, {content_field},\n"
        f"     ({''.join(p + ', ' for p in positions)}),\n"
        f"     ({''.join(s + ', ' for s in states)}),\n"
        f"     {content!r}, {funcs})"
    )


def emit_tables(ctx: Context) -> str:
    """The source of the tables (module-level assignments, after the codec functions)."""
    order = ctx.type_order
    index = {key: i for i, key in enumerate(order)}
    g = ctx.grammar
    types = "".join(f"    {_type_row(ctx, index, g.types[key])},\n" for key in order)
    simple = "".join(
        f"    ({name[0]!r}, {name[1]!r}, {base[0] if base else None!r}, {base[1] if base else None!r}, "
        f"{ctx.datatype_literal(dt, name)}),\n"
        for name, base, dt in g.simple_types
        if dt.kind != "enum" or ctx.has_enum(dt, name)
    )
    doc_refs = "".join(f"    {_ref(ctx, index, m)},\n" for m in g.global_members)
    frag_refs = "".join(f"    {'None' if m is None else _ref(ctx, index, m)},\n" for m in g.fragment_members)
    names = "".join(f"    {p!r},\n" for p in g.local_names)
    return (
        f"TYPES = (\n{types})\n"
        f"SIMPLE = (\n{simple})\n"
        f"URIS = {g.uris!r}\n"
        f"LOCAL_NAMES = (\n{names})\n"
        f"DOCUMENT_REFS = (\n{doc_refs})\n"
        f"FRAGMENT_REFS = (\n{frag_refs})\n"
        "SCHEMA = SchemaTables(NAME, TYPES, SIMPLE, URIS, LOCAL_NAMES, DOCUMENT, DOCUMENT_REFS, FRAGMENT, "
        "FRAGMENT_REFS)\n"
    )
