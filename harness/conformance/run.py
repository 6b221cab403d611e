"""Run a list of cases against one target, in order, and collect the results."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from harness.conformance.context import RunConfig
from harness.conformance.evcc_runner import EvccRunner
from harness.conformance.model import Case, CaseResult, SutRole
from harness.conformance.secc_runner import SeccRunner

__all__ = ["run_case", "run_cases"]

log = logging.getLogger(__name__)

OnResult = Callable[[CaseResult], Awaitable[None] | None]


async def run_case(case: Case, target: Any, config: RunConfig) -> CaseResult:
    """Run one case (SUT role from the case) against ``target`` and release what it left behind."""
    if case.sut is SutRole.SECC:
        result = await SeccRunner(case, target, config).run()
    else:
        await target.begin(case.id, energy=str(case.profile.family))
        result = await EvccRunner(case, target, config).run()
    await target.finish()
    return result


async def run_cases(
    cases: Sequence[Case],
    target: Any,
    config: RunConfig,
    *,
    on_result: OnResult | None = None,
) -> list[CaseResult]:
    """Run ``cases`` one after the other; ``on_result`` sees each result as soon as it is known."""
    results: list[CaseResult] = []
    for case in cases:
        result = await run_case(case, target, config)
        log.info("%s %s: %s", case.id, result.verdict.value, result.reason)
        results.append(result)
        if on_result is not None:
            maybe = on_result(result)
            if maybe is not None:
                await maybe
    return results
