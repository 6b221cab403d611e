"""Session-scoped test PKIs of both generations: -20 (secp521r1) and -2 (secp256r1), on disk."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from iso15118.security.pki import init_pki, read_pki
from tests.negotiation.support import Pkis
from tests.transport_session.helpers import TestPki


@pytest.fixture(scope="session")
def pkis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pkis]:
    """Both PKIs, valid from a minute ago."""
    now = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).replace(microsecond=0)
    root = tmp_path_factory.mktemp("negotiation")
    iso20 = init_pki(root / "iso20", now=now)
    iso2 = init_pki(root / "iso2", kind="iso2", now=now)
    yield Pkis(iso20=TestPki(layout=iso20, pki=read_pki(iso20)), iso2=TestPki(layout=iso2, pki=read_pki(iso2)))
