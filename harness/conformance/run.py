"""Run a list of cases against one target, in order, and collect the results.

The target is located once, before the first case (SDP, or the tester's listener and SDP server). When the
SUT cannot be found or reached, or goes away during the run (:class:`~harness.conformance.targets.SutUnreachable`),
the run stops: the case it happened in and every case after it are :attr:`~Verdict.ERROR` results carrying
the reason, so that the reports are still written and say so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from harness.conformance.context import RunConfig
from harness.conformance.evcc_runner import EvccRunner
from harness.conformance.generations import PROTOCOLS, protocol_for
from harness.conformance.model import Case, CaseResult, SutRole, Verdict
from harness.conformance.secc_runner import SeccRunner
from harness.conformance.targets import SutUnreachable

__all__ = ["not_run", "run_case", "run_cases", "run_error"]

_NOT_RUN = "not run: "

log = logging.getLogger(__name__)

OnResult = Callable[[CaseResult], Awaitable[None] | None]


async def run_case(case: Case, target: Any, config: RunConfig) -> CaseResult:
    """Run one case (SUT role from the case) against ``target`` and release what it left behind."""
    try:
        if case.sut is SutRole.SECC:
            return await SeccRunner(case, target, config).run()
        protocol = protocol_for(case, config.protocol).generation.value
        await target.begin(case.id, energy=str(case.profile.family), protocol=protocol)
        return await EvccRunner(case, target, config).run()
    finally:
        await target.finish()


def not_run(case: Case, reason: str, target: Any) -> CaseResult:
    """The ERROR result of a case the run did not get to, with the run's ``reason``."""
    return CaseResult(
        case=case,
        verdict=Verdict.ERROR,
        reason=_NOT_RUN + reason,
        started=time.time(),
        duration=0.0,
        target=str(getattr(target, "name", "")),
    )


async def run_cases(
    cases: Sequence[Case],
    target: Any,
    config: RunConfig,
    *,
    on_result: OnResult | None = None,
) -> list[CaseResult]:
    """Run ``cases`` one after the other; ``on_result`` sees each result as soon as it is known.

    A run that cannot find or reach the SUT stops at once: the remaining cases come back as ERROR results
    (not passed to ``on_result``)."""
    results: list[CaseResult] = []
    # Build the codec of every generation the run speaks before the first case: the grammar is made on first use,
    # which on a slow machine would delay the first message of the first case by seconds.
    for generation in sorted({protocol_for(case, config.protocol).generation for case in cases}):
        PROTOCOLS[generation].warm()
    try:
        await target.locate()
    except SutUnreachable as exc:
        log.error("%s", exc)
        return [not_run(case, str(exc), target) for case in cases]
    for index, case in enumerate(cases):
        result = await run_case(case, target, config)
        log.info("%s %s: %s", case.id, result.verdict.value, result.reason)
        results.append(result)
        if on_result is not None:
            maybe = on_result(result)
            if maybe is not None:
                await maybe
        if result.verdict is Verdict.ERROR:
            results += [not_run(rest, result.reason, target) for rest in cases[index + 1 :]]
            break
    return results


def run_error(results: Sequence[CaseResult]) -> str | None:
    """Why the run stopped early (the first ERROR's reason), or None when it did not."""
    for result in results:
        if result.verdict is Verdict.ERROR:
            return result.reason.removeprefix(_NOT_RUN)
    return None
