"""The -2 PKIs of the Plug & Charge tests (in memory, and one on disk for TLS 1.2), built once per test session."""

from __future__ import annotations

import datetime as dt

import pytest

from iso15118.security.pki import PkiLayout, init_pki
from tests.iso2.pncsupport import Pkis, build_pkis


@pytest.fixture(scope="session")
def pkis() -> Pkis:
    """The charger's -2 PKI and a foreign one."""
    return build_pkis()


@pytest.fixture(scope="session")
def iso2_pki_dir(tmp_path_factory: pytest.TempPathFactory) -> PkiLayout:
    """A -2 PKI on disk (`v2g pki init --profile iso2`), issued a minute ago: TLS 1.2 identities and PnC."""
    now = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).replace(microsecond=0)
    return init_pki(tmp_path_factory.mktemp("pki-iso2") / "pki", kind="iso2", now=now)
