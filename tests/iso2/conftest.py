"""The -2 PKIs of the Plug & Charge tests, built once per test session."""

from __future__ import annotations

import pytest

from tests.iso2.pncsupport import Pkis, build_pkis


@pytest.fixture(scope="session")
def pkis() -> Pkis:
    """The charger's -2 PKI and a foreign one."""
    return build_pkis()
