"""Write a compiled schema grammar as JSON: the reproducible, reviewable artefact kept in ``schemas/``.

One JSON object per schema set: the document and fragment grammars (qnames in code order) and, per
type, its positions and states with their ordered productions. Deterministic (sorted keys, no paths
or timestamps), with one state per line so that a schema change shows up as a readable diff.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from exi.grammar import END, Member, Production, SchemaGrammar, TypeGrammar
from exi.model import UNBOUNDED, clark

__all__ = ["grammar_to_json"]


def _member(m: Member | None) -> object:
    if m is None:
        return None
    out: dict[str, object] = {"qname": clark(m.qname)}
    if m.type_key is not None:
        out["type"] = clark(m.type_key)
    if m.datatype is not None:
        out["datatype"] = m.datatype.to_json()
    if m.abstract:
        out["abstract"] = True
    return out


def _type(tg: TypeGrammar) -> dict[str, object]:
    positions = []
    for pos in tg.positions:
        item: dict[str, object] = {"kind": pos.kind}
        if pos.members:
            item["members"] = [_member(m) for m in pos.members]
        if pos.datatype is not None and pos.kind == "CH":
            item["datatype"] = pos.datatype.to_json()
        if (pos.min_occurs, pos.max_occurs) != (1, 1):
            item["occurs"] = [pos.min_occurs, "unbounded" if pos.max_occurs == UNBOUNDED else pos.max_occurs]
        if pos.wildcard:
            item["namespaces"] = list(pos.wildcard)
            item["process"] = pos.process
        positions.append(item)

    def names(productions: tuple[Production, ...]) -> str:
        prods: list[str] = []
        for pr in productions:
            if pr.event in ("EE",) or (pr.event == "CH" and pr.position == END):
                prods.append(pr.event)
            elif pr.event == "SE" and len(tg.positions[pr.position].members) > 1:
                prods.append(f"{pr.event}:{pr.position}.{pr.member}")
            else:
                prods.append(f"{pr.event}:{pr.position}")
        return " ".join(prods)

    states = []
    for st in tg.states:
        where = "start" if st.position == END else f"{st.position}/{st.count_class}"
        states.append(f"{where} w={st.width} {names(st.productions)}")
    out: dict[str, object] = {"positions": positions, "states": states, "content": names(tg.content)}
    if tg.base is not None:
        out["base"] = clark(tg.base)
    if tg.abstract:
        out["abstract"] = True
    if tg.mixed:
        out["mixed"] = True
    return out


def grammar_to_json(grammar: SchemaGrammar, name: str, sources: Sequence[tuple[str, str]]) -> str:
    """The JSON text of a schema set's grammar (ends with a newline)."""
    doc = {
        "schema_set": name,
        "exi_options": {
            "alignment": "bit-packed",
            "strict": False,
            "preserve": [],
            "valuePartitionCapacity": 0,
            "header": "0x80",
        },
        "sources": [{"file": f, "sha256": d} for f, d in sources],
        "namespaces": list(grammar.namespaces),
        "string_table": {uri: len(names) for uri, names in zip(grammar.uris, grammar.local_names, strict=True)},
        "document": {"width": grammar.doc_width, "elements": [_member(m) for m in grammar.global_members]},
        "fragment": {
            "width": grammar.fragment_width,
            "elements": [clark(q) for q in grammar.fragment],
            "ambiguous": [
                clark(q) for q, m in zip(grammar.fragment, grammar.fragment_members, strict=True) if m is None
            ],
        },
        "types": {clark(k): _type(t) for k, t in sorted(grammar.types.items(), key=lambda kv: clark(kv[0]))},
    }
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
