"""ISO 15118-2 and DIN 70121 cases: each passes against our own SUT, and each negative one fails against the fault
that proves it (:data:`harness.conformance.faulty.PROOF`), for the reason the table names.

The cases run concurrently (each against its own in-process SUT, in memory): many of them wait for a timer of the
standard (shortened for the self-tests, see ``SELF_TEST_TIMING``).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from harness.cli import main
from harness.conformance.cases import select_cases
from harness.conformance.checks import NotApplicable
from harness.conformance.credentials import Credentials
from harness.conformance.faulty import PROOF, fault
from harness.conformance.model import Case, CaseResult, SutRole, Verdict
from harness.conformance.protocol import Generation
from tests.conformance.conftest import describe, run_against_own

_CONCURRENCY = 8
_GENERATIONS = (Generation.ISO2, Generation.DIN)
_ROOT = Path(__file__).resolve().parents[2]
_ALL = tuple(c for g in _GENERATIONS for c in select_cases(protocol=g.value))
"""Every -2 and DIN case, both roles: they run together, so that their timers overlap."""


def _cases(generation: Generation, role: SutRole) -> tuple[Case, ...]:
    return select_cases(role, protocol=generation.value)


async def _all(cases: tuple[Case, ...], credentials: Credentials, *, proof: bool) -> list[CaseResult]:
    limit = asyncio.Semaphore(_CONCURRENCY)

    async def one(case: Case) -> CaseResult:
        async with limit:
            broken = fault(PROOF[case.id][0]) if proof else None
            return await run_against_own(case, credentials, broken)

    return await asyncio.gather(*(one(c) for c in cases))


def test_each_generation_has_cases_of_its_own() -> None:
    for generation in _GENERATIONS:
        tag = generation.value.upper()
        for role in SutRole:
            cases = _cases(generation, role)
            assert len(cases) >= 10, (generation, role)
            assert all(c.protocols == frozenset({generation}) for c in cases)
            assert all(c.id.startswith(f"{role.value.upper()}-{tag}-") for c in cases)
            categories = {c.category.value for c in cases}
            assert {"sequence", "parameters", "timing"} <= categories, (generation, role)
    # The -20 cases stay -20's: a run of another generation does not pick them up.
    assert not any(c.id.startswith(("SECC-SEQ", "EVCC-DC")) for g in _GENERATIONS for c in select_cases(protocol=g))


def test_cited_requirement_ids_are_the_librarys() -> None:
    """Every [V2G2-nnn] / [V2G-DC-nnn] a -2 or DIN case cites is one the library cites where it enforces it."""
    library = "\n".join(p.read_text() for p in (_ROOT / "iso15118").rglob("*.py"))
    cited = {
        rid
        for g in _GENERATIONS
        for c in select_cases(protocol=g.value)
        for text in c.requirements
        for rid in re.findall(r"V2G2-\d+|V2G-DC-\d+", text)
    }
    assert cited, "the cases cite requirement IDs"
    assert {rid for rid in cited if f"[{rid}]" not in library and f'"{rid}"' not in library} == set()


def test_every_case_passes_against_our_sut(credentials: Credentials) -> None:
    results = asyncio.run(_all(_ALL, credentials, proof=False))
    problems = [describe(r) for r in results if r.verdict is not Verdict.PASS or not r.steps]
    problems += [describe(r) for r in results if any(s.outcome != "ok" for s in r.steps)]
    assert not problems, "\n\n".join(problems)


def test_each_negative_case_fails_against_its_fault(credentials: Credentials) -> None:
    assert {c.id for c in _ALL if c.negative} <= PROOF.keys()
    cases = tuple(c for c in _ALL if c.id in PROOF)
    problems = []
    for case, result in zip(cases, asyncio.run(_all(cases, credentials, proof=True)), strict=True):
        name, fragment = PROOF[case.id]
        if result.verdict is not Verdict.FAIL or fragment not in result.reason:
            problems.append(f"fault {name} (expected {fragment!r}): {describe(result)}")
    assert not problems, "\n\n".join(problems)


def test_the_cli_runs_a_generation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", "list", "--protocol", "din", "--sut", "evcc"]) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith(f"{len(_cases(Generation.DIN, SutRole.EVCC))} cases") and "EVCC-DIN-HP-01" in out
    assert "SECC-" not in out and "EVCC-HP-01 " not in out
    args = ["conformance", "run", "--sut", "secc", "--own", "--protocol", "iso2", "--report", str(tmp_path)]
    assert main([*args, "--cases", "SECC-ISO2-SID-0[13]", "SECC-ISO2-PAR-01"]) == 0
    assert "3 cases: 3 pass, 0 fail, 0 inconclusive" in capsys.readouterr().out
    assert main([*args, "--cases", "SECC-ISO2-SID-01", "--fault", "secc-ignores-session-id"]) == 1
    assert "1 cases: 0 pass, 1 fail" in capsys.readouterr().out
    with pytest.raises(SystemExit) as usage:
        main([*args, "--cases", "SECC-SEQ-01"])  # a -20 case is no -2 case
    assert usage.value.code == 2
    assert "matches no secc case ID or category of --protocol iso2" in capsys.readouterr().err


def test_the_tester_charger_offers_both_ac_modes_of_iso2(credentials: Credentials) -> None:
    """An EV that charges on three phases only (Josev's -2 EVCC by default) finds its mode: the tester SECC's AC
    charger has three phases and offers AC_three_phase_core besides single phase."""
    (case,) = [c for c in _ALL if c.id == "EVCC-ISO2-HP-01"]
    result = asyncio.run(run_against_own(case, credentials, None))
    assert result.verdict is Verdict.PASS, describe(result)
    (offer,) = [e.decoded for e in result.trace if e.direction == "tx" and e.text == "ServiceDiscoveryRes"]
    assert offer is not None
    modes = offer["V2G_Message"]["Body"]["ServiceDiscoveryRes"]["ChargeService"]["SupportedEnergyTransferMode"]
    assert set(modes["EnergyTransferMode"]) == {"AC_single_phase_core", "AC_three_phase_core"}


@pytest.mark.parametrize(("generation", "enum"), [("iso2", "EnergyTransferMode"), ("din", "EVRequestedEnergyTransfer")])
def test_the_mode_not_offered_is_read_from_the_offer(generation: str, enum: str) -> None:
    """SECC-*-PAR-04 asks for an AC mode the SUT's ServiceDiscoveryRes did not list (Josev's -2 SECC lists
    AC_three_phase_core besides DC_extended), and is inconclusive against a SUT that lists every AC mode."""
    from types import SimpleNamespace

    from harness.conformance.cases.env_secc import _not_offered
    from harness.conformance.generations import protocol_of

    pick = _not_offered(enum)
    ctx = SimpleNamespace(
        protocol=protocol_of(generation), values={"offered_modes": ("DC_extended", "AC_three_phase_core")}
    )
    assert str(pick(ctx)) == "AC_single_phase_core"
    ctx.values["offered_modes"] = ("AC_single_phase_core", "AC_three_phase_core")
    with pytest.raises(NotApplicable, match="offers every AC energy transfer mode"):
        pick(ctx)
