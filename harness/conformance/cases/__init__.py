"""The case library: every module here contributes ``CASES``; :func:`all_cases` lists them in a stable order."""

from __future__ import annotations

import fnmatch
import importlib
from functools import cache

from harness.conformance.model import Case, SutRole

__all__ = ["MODULES", "all_cases", "select_cases"]

MODULES = (
    "secc_happy",
    "secc_sequence",
    "secc_framing",
    "secc_timing",
    "secc_security",
    "secc_parameters",
    "secc_dc",
    "secc_dc_sequence",
    "env_secc",
    "evcc_happy",
    "evcc_errors",
    "evcc_timing",
    "evcc_security",
    "evcc_parameters",
    "evcc_dc",
    "env_evcc",
)


@cache
def all_cases() -> tuple[Case, ...]:
    """Every case, SECC cases first, in the order of :data:`MODULES`; IDs are unique."""
    cases: list[Case] = []
    for name in MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        cases.extend(module.CASES)
    ids = [c.id for c in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate case IDs: {', '.join(duplicates)}")
    return tuple(cases)


def select_cases(
    sut: SutRole | None = None, patterns: tuple[str, ...] = (), protocol: str | None = None
) -> tuple[Case, ...]:
    """The cases for ``sut`` that apply to ``protocol`` (a generation name, ``iso20``, ``iso2``, ``din``; None:
    every generation) whose ID or category matches one of the shell ``patterns`` (all when none); IDs are matched
    in upper case and categories in lower case, so ``secc-hp-01`` and ``Timing`` work too."""
    chosen = []
    for case in all_cases():
        if sut is not None and case.sut is not sut:
            continue
        if protocol is not None and protocol not in {g.value for g in case.protocols}:
            continue
        if patterns and not any(
            fnmatch.fnmatchcase(case.id, p.upper()) or fnmatch.fnmatchcase(case.category.value, p.lower())
            for p in patterns
        ):
            continue
        chosen.append(case)
    return tuple(chosen)
