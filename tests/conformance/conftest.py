"""Shared set-up of the conformance harness tests: one test PKI, the self-test timing, a case runner."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.conformance.cases import all_cases
from harness.conformance.context import RunConfig
from harness.conformance.credentials import Credentials
from harness.conformance.model import Case, CaseResult, Need, SutRole
from harness.conformance.own import OwnEvcc, OwnSecc
from harness.conformance.run import run_case
from harness.conformance.sutfault import Fault
from iso15118.security.pki import init_pki
from iso15118.session.timers import Timing

#: The SUT and the tester share these timers: the SECC's 60 s sequence and 20 s set-up timeouts, its 5 s
#: close-after-stop and the 55 s / 60 s ongoing timers are shortened so that the silence and stall cases finish
#: quickly (the sequence timeout stays above the 1.8 s a slow fault holds a response back); every other value is
#: the standard's.
SELF_TEST_TIMING = Timing(
    secc_sequence_timeout=2.5,
    secc_communication_setup=1.5,
    secc_close_after_stop=1.0,
    secc_ongoing_performance=5.0,
    evcc_ongoing_timeout=6.0,
)

CASES = {case.id: case for case in all_cases()}


@pytest.fixture(scope="session")
def credentials(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Credentials]:
    directory: Path = tmp_path_factory.mktemp("conformance") / "pki"
    init_pki(directory)
    creds = Credentials.from_directory(directory)
    yield creds
    creds.close()


def own_target(
    case: Case, credentials: Credentials, fault: Fault | None = None, protocol: str = "iso20"
) -> OwnSecc | OwnEvcc:
    """Our own SUT for ``case``: over TLS when the case needs it, else in memory."""
    transport = "tls" if Need.TLS in case.needs else "memory"
    cls = OwnSecc if case.sut is SutRole.SECC else OwnEvcc
    return cls(transport=transport, credentials=credentials, timing=SELF_TEST_TIMING, fault=fault, protocol=protocol)


async def run_against_own(case: Case, credentials: Credentials, fault: Fault | None = None) -> CaseResult:
    """Run ``case`` against our own SUT (optionally broken by ``fault``), in the case's protocol (its first)."""
    protocol = sorted(case.protocols)[0].value
    target = own_target(case, credentials, fault, protocol)
    config = RunConfig(credentials=credentials, timing=SELF_TEST_TIMING, protocol=protocol)
    try:
        return await run_case(case, target, config)
    finally:
        await target.aclose()


def describe(result: CaseResult) -> str:
    """The verdict, reason and the last trace lines, for assertion messages."""
    lines = [f"{result.case.id}: {result.verdict.value}: {result.reason}"]
    lines += [f"  {e.at:8.4f} {e.direction} {e.text}" for e in result.trace[-12:]]
    return "\n".join(lines)


def run(coro: Coroutine[Any, Any, CaseResult]) -> CaseResult:
    """asyncio.run of a coroutine that produces a case result."""
    return asyncio.run(coro)
