"""Shared fixtures of the codec tests: the compiled ISO 15118 project, grammar walkers, the EXIficient oracle."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from exi.compiler import CompiledProject, compile_project
from iso15118.codec.schemasets import PROJECT
from tests.support.exigen import Walker
from tests.support.oracle_fixture import exi_oracle
from tests.support.shared import shared_path

__all__ = ["ORACLE_SCHEMA", "compiled", "exi_oracle", "walkers"]

#: Our schema-set names -> the oracle's.
ORACLE_SCHEMA = {
    "appprotocol": "appprotocol",
    "iso20_common": "iso20-common",
    "iso20_ac": "iso20-ac",
    "iso20_dc": "iso20-dc",
    "iso20_wpt": "iso20-wpt",
    "iso20_acdp": "iso20-acdp",
    "xmldsig": "xmldsig",
    "din": "din",
    "iso2": "iso2",
}


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
