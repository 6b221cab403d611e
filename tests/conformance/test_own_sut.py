"""Every case against our own SECC and EVCC: each must pass (TLS cases over TLS on ::1, the rest in memory).

The harness's one finding in our own stack (EVCC-PAR-03: in Scheduled mode the EVCC ignored the schedule when the
SECC sent no target) is fixed; that case now passes here like every other.
"""

from __future__ import annotations

import pytest

from harness.conformance.credentials import Credentials
from harness.conformance.model import Verdict
from harness.conformance.protocol import Generation
from tests.conformance.conftest import CASES, describe, run, run_against_own

# The ISO 15118-2 and DIN 70121 cases run concurrently in test_generations.py.
_ISO20 = sorted(cid for cid, case in CASES.items() if Generation.ISO20 in case.protocols)


@pytest.mark.parametrize("case_id", _ISO20)
def test_case_passes_against_our_sut(case_id: str, credentials: Credentials) -> None:
    result = run(run_against_own(CASES[case_id], credentials))
    assert result.verdict is Verdict.PASS, describe(result)
    assert result.steps and all(s.outcome == "ok" for s in result.steps), describe(result)
