"""Differential tests against EXIficient (../shared/tools/exi-oracle): our bytes must equal the oracle's, and the
oracle's decoding of our bytes must equal the message.

Two suites over every root element of every ISO 15118-20 schema set, SupportedAppProtocol, xmldsig, DIN 70121 and
ISO 15118-2:

- a deterministic *covering* suite: for every production of every reachable grammar state of a root's type, one
  message whose grammar walk takes it (every choice branch, substitution member, optional present/absent, list
  counts at their bounds where reachable within 64 items);
- a Hypothesis suite of at least 2,000 random valid messages (random walks: optional fields present and absent,
  lists up to their bounds, integer bounds, empty and long strings, binary of many lengths, headers carrying a
  ds:Signature, all four AC_ChargeLoop control modes).

They run whenever java is available and skip with the oracle's reason otherwise.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iso15118.codec import codec_for
from tests.exi.conftest import ORACLE_SCHEMA
from tests.exi.differential import object_from_xml, xml_bytes
from tests.support.exigen import Walker, simple_strategy
from tests.support.oracle import ExiOracle, Op, OracleRequest

COVERED_SETS = [
    "appprotocol",
    "iso20_common",
    "iso20_ac",
    "iso20_dc",
    "iso20_wpt",
    "iso20_acdp",
    "xmldsig",
    "din",
    "iso2",
]
RANDOM_SETS = ["appprotocol", "iso20_common", "iso20_ac", "iso20_dc", "iso20_wpt", "iso20_acdp"]
RANDOM_EXAMPLES = 2000


def _compare(
    name: str, items: list[tuple[str, Any, Any, Any]], oracle: ExiOracle, walker: Walker, *, fragment: bool = False
) -> list[str]:
    """items: (label, root qname, member, value). Returns a list of mismatch descriptions."""
    codec = codec_for(name)
    schema = ORACLE_SCHEMA[name]
    encode = codec.encode_fragment if fragment else codec.encode
    ours = [encode(value, qname) for _label, qname, _m, value in items]
    xmls = [xml_bytes(value, root, m) for _label, root, m, value in items]
    theirs = oracle.batch([OracleRequest(op=Op.ENCODE, schema=schema, data=x, fragment=fragment) for x in xmls])
    back = oracle.batch([OracleRequest(op=Op.DECODE, schema=schema, data=b, fragment=fragment) for b in ours])
    problems = []
    for (label, _qname, m, value), mine, enc, dec in zip(items, ours, theirs, back, strict=True):
        if not enc.ok or enc.data != mine:
            problems.append(f"{label}: ours {mine.hex()} oracle {enc.data.hex() if enc.ok else enc.error}")
            continue
        if not dec.ok:
            problems.append(f"{label}: oracle cannot decode ours: {dec.error}")
            continue
        cls = walker.cls(m.type_key) if m.type_key is not None else None
        again = object_from_xml(dec.data, cls, m)
        if again != value:
            problems.append(f"{label}: oracle decodes ours to a different message")
    return problems


@pytest.mark.parametrize("name", COVERED_SETS)
def test_covering_suite_matches_exificient(name: str, walkers: dict[str, Walker], exi_oracle: ExiOracle) -> None:
    walker = walkers[name]
    items: list[tuple[str, Any, Any, Any]] = []
    for root, member in walker.roots():
        if member.type_key is None:
            continue
        for label, value in walker.covering(member.type_key):
            items.append((f"{root[1]}:{label}", root, member, value))
    assert items
    problems = _compare(name, items, exi_oracle, walker)
    assert not problems, f"{len(problems)} of {len(items)} differ:\n" + "\n".join(problems[:10])


@pytest.mark.parametrize("name", COVERED_SETS)
def test_covering_fragments_match_exificient(name: str, walkers: dict[str, Walker], exi_oracle: ExiOracle) -> None:
    """Every complex type of the set, through a fragment of an element of that type (the fragment grammar
    reaches local elements too), so that nested types' branches are covered as well as the roots'."""
    walker = walkers[name]
    grammar = walker.grammar
    items: list[tuple[str, Any, Any, Any]] = []
    done: set[Any] = set()
    for qname, member in zip(grammar.fragment, grammar.fragment_members, strict=True):
        if member is None or member.type_key is None or member.type_key in done:
            continue
        if not walker.member_usable(member):
            continue
        done.add(member.type_key)
        for label, value in walker.covering(member.type_key):
            items.append((f"{qname[1]}:{label}", qname, member, value))
    assert items
    problems = _compare(name, items, exi_oracle, walker, fragment=True)
    assert not problems, f"{len(problems)} of {len(items)} differ:\n" + "\n".join(problems[:10])


def test_random_messages_match_exificient(walkers: dict[str, Walker], exi_oracle: ExiOracle) -> None:
    roots = [(name, root, member) for name in RANDOM_SETS for root, member in walkers[name].roots()]
    seen: list[str] = []

    @settings(
        max_examples=RANDOM_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.data())
    def check(data: st.DataObject) -> None:
        name, root, member = data.draw(st.sampled_from(roots), label="root")
        walker = walkers[name]
        if member.type_key is not None:
            value = walker.draw(data, member.type_key)
        else:
            enum = walker.enum_cls(member.datatype, root) if member.datatype.kind == "enum" else None
            value = data.draw(simple_strategy(member.datatype, enum))
        seen.append(f"{name}:{root[1]}")
        problems = _compare(name, [(root[1], root, member, value)], exi_oracle, walker)
        assert not problems, problems[0]

    check()
    assert len(seen) >= RANDOM_EXAMPLES
    covered = {s.split(":")[0] for s in seen}
    assert covered == set(RANDOM_SETS)
