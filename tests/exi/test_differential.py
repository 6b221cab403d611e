"""Differential tests against EXIficient (../shared/tools/exi-oracle), for every schema set: SupportedAppProtocol, the
-20 CommonMessages/AC/DC/WPT/ACDP sets, xmldsig, ISO 15118-2 and DIN 70121.

Every message goes both ways (:func:`tests.exi.differential.compare`): our bytes must equal the oracle's, our decoder
must read our bytes and the oracle's as the message, and the oracle must read our bytes as the message too. Suites:

- *covering*: for every production of every reachable grammar state of a root's type (and, as fragments, of every
  complex type), one message whose grammar walk takes it;
- *boundaries*: every particle of every type at minOccurs, minOccurs + 1, maxOccurs - 1 and maxOccurs (255, 1024 and
  2048 included), as documents and as fragments, and nested in an enclosing list at its maximum
  (:mod:`tests.exi.boundaries`);
- *features*: ``xsi:type`` casts (to every derived type, to the declared type itself, to derived simple types),
  wildcard content (global elements of the set, undeclared elements with attributes, text and children, undeclared
  elements with a cast) and mixed text, in every schema set that has them;
- *random*: 2,000 random valid messages over all sets (seeded; ``V2G_DEEP=1``, as ``scripts/test --deep`` sets it,
  makes it 24,000), casts, wildcards and mixed text included.

The counts are printed at the end of the run ("EXI differential"). The tests run whenever java is available and skip
with the oracle's reason otherwise.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from typing import Any

import pytest

from tests.exi.boundaries import Boundaries, Features, Item
from tests.exi.conftest import REPORT
from tests.exi.differential import compare, features
from tests.support.exidrive import RandomDrive
from tests.support.exigen import Walker
from tests.support.oracle import ExiOracle

SETS = ["appprotocol", "iso20_common", "iso20_ac", "iso20_dc", "iso20_wpt", "iso20_acdp", "xmldsig", "din", "iso2"]
DEEP = os.environ.get("V2G_DEEP", "") not in ("", "0")
RANDOM_EXAMPLES = 24_000 if DEEP else 2_000
BATCH = 500


def _report(request: pytest.FixtureRequest, line: str) -> None:
    request.config.stash.setdefault(REPORT, []).append(line)


def _check(name: str, items: list[Item], oracle: ExiOracle, walker: Walker) -> None:
    problems: list[str] = []
    for start in range(0, len(items), BATCH):
        problems += compare(name, items[start : start + BATCH], oracle, walker)
    assert not problems, f"{len(problems)} of {len(items)} differ:\n" + "\n".join(problems[:10])


@pytest.mark.parametrize("name", SETS)
def test_covering_suite_matches_exificient(name: str, walkers: dict[str, Walker], exi_oracle: ExiOracle) -> None:
    walker = walkers[name]
    items: list[Item] = []
    for root, member in walker.roots():
        if member.type_key is None or member.type_key not in walker.buildable:
            continue
        for label, value in walker.covering(member.type_key):
            items.append(Item(f"{root[1]}:{label}", root, member, value, False))
    assert items
    _check(name, items, exi_oracle, walker)


@pytest.mark.parametrize("name", SETS)
def test_covering_fragments_match_exificient(name: str, walkers: dict[str, Walker], exi_oracle: ExiOracle) -> None:
    """Every complex type of the set, through a fragment of an element of that type (the fragment grammar reaches
    local elements too), so that nested types' branches are covered as well as the roots'."""
    walker = walkers[name]
    grammar = walker.grammar
    items: list[Item] = []
    done: set[Any] = set()
    for qname, member in zip(grammar.fragment, grammar.fragment_members, strict=True):
        if member is None or member.type_key is None or member.type_key in done:
            continue
        if member.type_key not in walker.buildable:
            continue
        done.add(member.type_key)
        for label, value in walker.covering(member.type_key):
            items.append(Item(f"{qname[1]}:{label}", qname, member, value, True))
    assert items
    _check(name, items, exi_oracle, walker)


@pytest.mark.parametrize("name", SETS)
def test_occurrence_boundaries_match_exificient(
    name: str, walkers: dict[str, Walker], exi_oracle: ExiOracle, request: pytest.FixtureRequest
) -> None:
    walker = walkers[name]
    bounds = Boundaries(walker)
    targets = list(bounds.targets())
    items = list(bounds.items())
    particles = {(key, pos, member) for key, pos, member, _n in targets}
    # Only "absent" is impossible, and only for a particle that every valid content holds.
    assert {why for _label, why in bounds.skipped} <= {"mandatory"}, bounds.skipped[:10]
    _check(name, items, exi_oracle, walker)
    documents = sum(not i.fragment for i in items)
    nested = sum("nested" in i.label for i in items)
    _report(
        request,
        f"{name}: boundaries {len(particles)} particles, {len(targets)} particle×count targets -> {len(items)} "
        f"messages ({documents} documents, {nested} of them nested, {len(items) - documents} fragments)",
    )


@pytest.mark.parametrize("name", SETS)
def test_casts_wildcards_and_mixed_content_match_exificient(
    name: str, walkers: dict[str, Walker], exi_oracle: ExiOracle, request: pytest.FixtureRequest
) -> None:
    walker = walkers[name]
    items = list(Features(walker).items())
    assert items
    _check(name, items, exi_oracle, walker)
    seen: Counter[str] = Counter()
    for item in items:
        seen += features(item.value, walker.cls(item.member.type_key) if item.member.type_key else None)
    assert seen["xsi:type"] > 0
    if name != "appprotocol":  # SupportedAppProtocol has no wildcard and no mixed content
        assert seen["wildcard"] > 0 and seen["mixed text"] > 0
    _report(
        request, f"{name}: features {len(items)} messages, " + ", ".join(f"{k} {v}" for k, v in sorted(seen.items()))
    )


def test_random_messages_match_exificient(
    walkers: dict[str, Walker], exi_oracle: ExiOracle, request: pytest.FixtureRequest
) -> None:
    rng = random.Random("v2gstack-differential")
    roots = {name: walkers[name].roots() for name in SETS}
    per_set: dict[str, list[Item]] = {name: [] for name in SETS}
    for k in range(RANDOM_EXAMPLES):
        name = SETS[k % len(SETS)]
        root, member = rng.choice(roots[name])
        value = walkers[name].element_value(member, RandomDrive(rng))
        per_set[name].append(Item(f"random #{k} {root[1]}", root, member, value, False))
    seen: Counter[str] = Counter()
    for name, items in per_set.items():
        _check(name, items, exi_oracle, walkers[name])
        for item in items:
            seen += features(item.value, walkers[name].cls(item.member.type_key) if item.member.type_key else None)
    total = sum(len(items) for items in per_set.values())
    assert total >= RANDOM_EXAMPLES
    _report(
        request,
        f"random: {total} messages over {len(SETS)} schema sets"
        + (" (deep)" if DEEP else "")
        + "; "
        + ", ".join(f"{k} {v}" for k, v in sorted(seen.items())),
    )
