"""The session-wide ``exi_oracle`` pytest fixture: one EXIficient JVM for the whole test session.

Use it from a ``conftest.py`` (so test modules need no import)::

    from tests.support.oracle_fixture import exi_oracle

    __all__ = ["exi_oracle"]

The fixture skips, with the reason, when the shared folder is absent or the oracle cannot run here
(no java/javac, or its first-run download failed). The tool caches EXIficient and its compiled driver in
``$EXI_ORACLE_CACHE`` (default ``~/.cache/v2gstack/exi-oracle``), so CI reuses them between runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.oracle import DEFAULT_CACHE, ExiOracle, OracleUnavailable
from tests.support.shared import shared_path

__all__ = ["exi_oracle", "oracle_cache"]


def oracle_cache() -> Path:
    """The oracle's cache folder: ``$EXI_ORACLE_CACHE`` if set, else ``~/.cache/v2gstack/exi-oracle``."""
    configured = os.environ.get("EXI_ORACLE_CACHE")
    return Path(configured).expanduser() if configured else DEFAULT_CACHE


@pytest.fixture(scope="session")
def exi_oracle() -> Iterator[ExiOracle]:
    """A started :class:`ExiOracle`, shared by every test of the session; stopped at the end."""
    tool = shared_path("tools", "exi-oracle", "exi-oracle")
    oracle = ExiOracle(tool, cache=oracle_cache())
    try:
        oracle.start()
    except OracleUnavailable as exc:
        pytest.skip(f"EXI oracle unavailable: {exc}")
    try:
        yield oracle
    finally:
        oracle.close()
