"""Fixtures for the tests of the test-support tools (the EXI oracle client, capture extraction)."""

from __future__ import annotations

from tests.support.oracle_fixture import exi_oracle

__all__ = ["exi_oracle"]
