"""Shared fixtures of the codec tests: the compiled ISO 15118 project, grammar walkers, the EXIficient oracle."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exi.compiler import CompiledProject, compile_project
from iso15118.codec.schemasets import PROJECT
from tests.exi.differential import ORACLE_SCHEMA
from tests.support.exigen import Walker
from tests.support.oracle_fixture import exi_oracle
from tests.support.shared import shared_path

__all__ = ["ORACLE_SCHEMA", "REPORT", "compiled", "exi_oracle", "walkers"]

REPORT = pytest.StashKey[list[str]]()
"""Lines the differential tests report (counts), printed at the end of the run."""


@pytest.fixture(scope="session")
def xsd_dir() -> Path:
    """The official XSDs (skips when ../shared is absent)."""
    return shared_path("schemas")


@pytest.fixture(scope="session")
def compiled(xsd_dir: Path) -> CompiledProject:
    """The ISO 15118 project compiled from the official XSDs, in memory."""
    return compile_project(PROJECT, xsd_dir)


@pytest.fixture(scope="session")
def walkers(compiled: CompiledProject) -> Iterator[dict[str, Walker]]:
    """A grammar walker per schema set."""
    yield {name: Walker(compiled.grammar_objects[name], compiled.bindings[name]) for name in compiled.grammar_objects}


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    lines = config.stash.get(REPORT, [])
    if lines:
        terminalreporter.section("EXI differential against EXIficient: what was compared")
        for line in lines:
            terminalreporter.write_line(line)
