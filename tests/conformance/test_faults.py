"""The proof that every negative case can fail: each runs against our SUT broken by its fault and must FAIL.

The table (:data:`harness.conformance.faulty.PROOF`) also names a fragment of the failure reason, so a case that
fails for another reason than the fault it is meant to catch is reported too. The proofs run concurrently (each
against its own in-process SUT): most of them wait for a timeout that never fires.
"""

from __future__ import annotations

import asyncio

from harness.conformance.credentials import Credentials
from harness.conformance.faulty import FAULTS, PROOF, fault
from harness.conformance.model import CaseResult, Verdict
from harness.conformance.protocol import Generation
from tests.conformance.conftest import CASES, describe, run_against_own

_CONCURRENCY = 8
# The ISO 15118-2 and DIN 70121 proofs run in test_generations.py.
_ISO20_PROOFS = sorted(cid for cid in PROOF if Generation.ISO20 in CASES[cid].protocols)


def test_every_negative_case_has_a_proof() -> None:
    negative = {cid for cid, case in CASES.items() if case.negative}
    assert negative - PROOF.keys() == set()
    assert len(negative) >= 60


def test_the_proof_table_is_consistent() -> None:
    for case_id, (name, fragment) in PROOF.items():
        case = CASES[case_id]
        assert fault(name).role is case.sut, case_id
        assert fragment, case_id
    used = {name for name, _ in PROOF.values()}
    assert {f.name for f in FAULTS} - used == set(), "every fault proves at least one case"


def test_each_case_fails_against_its_fault(credentials: Credentials) -> None:
    async def prove(case_id: str, limit: asyncio.Semaphore) -> tuple[str, CaseResult]:
        async with limit:
            return case_id, await run_against_own(CASES[case_id], credentials, fault(PROOF[case_id][0]))

    async def all_proofs() -> list[tuple[str, CaseResult]]:
        limit = asyncio.Semaphore(_CONCURRENCY)
        return await asyncio.gather(*(prove(cid, limit) for cid in _ISO20_PROOFS))

    problems = []
    for case_id, result in asyncio.run(all_proofs()):
        name, fragment = PROOF[case_id]
        if result.verdict is not Verdict.FAIL or fragment not in result.reason:
            problems.append(f"fault {name} (expected {fragment!r}): {describe(result)}")
    assert not problems, "\n\n".join(problems)
