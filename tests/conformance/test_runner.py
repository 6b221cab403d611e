"""Verdict rules of the runner: preconditions, preamble failures, checks that do not apply, case timeouts, timing."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from harness.conformance.context import RunConfig
from harness.conformance.credentials import Credentials
from harness.conformance.faulty import fault
from harness.conformance.model import Case, CaseResult, Need, SutRole, Verdict
from harness.conformance.own import OwnSecc
from harness.conformance.run import run_case
from harness.conformance.sutfault import Fault
from iso15118.messages import iso20 as m
from tests.conformance.conftest import CASES, SELF_TEST_TIMING, describe, run, run_against_own


def _run_own(case: Case | str, target: OwnSecc, config: RunConfig) -> CaseResult:
    async def go() -> CaseResult:
        try:
            return await run_case(CASES[case] if isinstance(case, str) else case, target, config)
        finally:
            await target.aclose()

    return asyncio.run(go())


def test_missing_pki_is_inconclusive() -> None:
    result = _run_own("SECC-HP-06", OwnSecc(), RunConfig())
    assert result.verdict is Verdict.INCONCLUSIVE, describe(result)
    assert result.reason.startswith("needs a PKI with contract credentials: pass --pki DIR") and not result.trace


def test_a_check_that_does_not_apply_is_inconclusive(credentials: Credentials) -> None:
    # Our SECC without a PKI offers EIM only; the target claims PnC anyway, so the PnC check cannot apply.
    target = OwnSecc(timing=SELF_TEST_TIMING)
    target.capabilities = frozenset(Need) - {Need.TLS, Need.PKI}
    result = _run_own("SECC-HP-06", target, RunConfig(credentials=credentials, timing=SELF_TEST_TIMING))
    assert result.verdict is Verdict.INCONCLUSIVE, describe(result)
    assert result.reason.endswith("needs PnC: the SUT offers EIM only"), result.reason


def _failed_discovery(msg: Any, memory: dict[str, Any]) -> Any:
    if type(msg).__name__ == "ServiceDiscoveryRes":
        return dataclasses.replace(msg, response_code=m.ResponseCode.FAILED)
    return msg


def test_a_failing_preamble_is_inconclusive(credentials: Credentials) -> None:
    broken = Fault(name="failed-discovery", role=SutRole.SECC, description="", outgoing=_failed_discovery)
    result = run(run_against_own(CASES["SECC-PAR-04"], credentials, broken))
    assert result.verdict is Verdict.INCONCLUSIVE, describe(result)
    assert result.reason.startswith("preamble failed at 1") and "ServiceDiscoveryRes answered FAILED" in result.reason
    outcomes = [s.outcome for s in result.steps]
    assert "inconclusive" in outcomes and outcomes[-1] == "skipped"


def test_a_refused_pause_is_inconclusive(credentials: Credentials) -> None:
    # Pausing is the SECC's to allow: FAILED_PauseNotAllowed means the case cannot run, not that it failed.
    refuses_pause = Fault(name="no-pause", role=SutRole.SECC, description="", driver={"pause_allowed": False})
    for case_id in ("SECC-HP-07", "SECC-SID-05"):
        result = run(run_against_own(CASES[case_id], credentials, refuses_pause))
        assert result.verdict is Verdict.INCONCLUSIVE, describe(result)
        assert result.reason.endswith("needs pause: the SUT does not allow it (FAILED_PauseNotAllowed)"), describe(
            result
        )


def test_a_case_running_too_long_fails(credentials: Credentials) -> None:
    case = dataclasses.replace(CASES["SECC-TIM-01"], timeout_s=0.5)
    target = OwnSecc(timing=SELF_TEST_TIMING, fault=fault("secc-never-times-out"))
    result = _run_own(case, target, RunConfig(credentials=credentials, timing=SELF_TEST_TIMING))
    assert result.verdict is Verdict.FAIL and "did not finish within 0.5 s" in result.reason


def test_slow_responses_fail_only_cases_that_judge_timing(credentials: Credentials) -> None:
    slow = fault("secc-slow")
    judged = run(run_against_own(CASES["SECC-TIM-05"], credentials, slow))
    assert judged.verdict is Verdict.FAIL and "limit 0.25 s" in judged.reason
    recorded = run(run_against_own(CASES["SECC-HP-02"], credentials, slow))
    assert recorded.verdict is Verdict.PASS and "time limit(s) exceeded" in recorded.reason
    slow_loops = [m for m in recorded.measurements if m.what == "AC_ChargeLoopRes"]
    assert len(slow_loops) == 3 and all(not m.ok and m.measured >= 0.3 for m in slow_loops)


def test_every_response_is_measured(credentials: Credentials) -> None:
    result = run(run_against_own(CASES["SECC-HP-05"], credentials))
    received = [e for e in result.trace if e.direction == "rx"]
    performance = [m for m in result.measurements if m.kind == "performance"]
    assert len(received) == len(performance) == 15
    assert all(e.elapsed is not None and e.decoded for e in received)
    limits = {m.what: m.limit for m in performance}
    assert limits["AC_ChargeLoopRes"] == 0.25 and limits["ServiceDetailRes"] == 4.5 and limits["SessionSetupRes"] == 1.5


def test_a_sut_without_dc_is_inconclusive_in_dc_cases(credentials: Credentials) -> None:
    target = OwnSecc(timing=SELF_TEST_TIMING)
    target.capabilities = target.capabilities - {Need.DC}
    config = RunConfig(credentials=credentials, timing=SELF_TEST_TIMING)
    result = _run_own("SECC-DC-02", target, config)
    assert result.verdict is Verdict.INCONCLUSIVE, describe(result)
    assert result.reason == "needs dc: not among the SUT's capabilities (--capabilities)" and not result.trace
    ac = _run_own("SECC-HP-02", OwnSecc(timing=SELF_TEST_TIMING), config)
    assert ac.verdict is Verdict.PASS, describe(ac)


def test_a_dc_session_is_measured_against_table_217(credentials: Credentials) -> None:
    result = run(run_against_own(CASES["SECC-DC-03"], credentials))
    limits = {m.what: m.limit for m in result.measurements if m.kind == "performance"}
    assert limits["DC_ChargeLoopRes"] == 0.25 and limits["DC_CableCheckRes"] == 1.5
    assert limits["DC_PreChargeRes"] == limits["DC_WeldingDetectionRes"] == 1.5
    ongoing = [m for m in result.measurements if m.kind == "ongoing"]
    assert ongoing and ongoing[0].what == "DC_CableCheckRes Ongoing until Finished" and ongoing[0].ok
