"""A session-scoped -20 test PKI (secp521r1) on disk, with the TLS and PnC settings both roles derive from it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from iso15118.security.pki import init_pki, read_pki
from tests.transport_session.helpers import TestPki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestPki]:
    """The test PKI, valid from a minute ago."""
    now = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).replace(microsecond=0)
    directory: Path = tmp_path_factory.mktemp("transport-session") / "pki"
    layout = init_pki(directory, now=now)
    yield TestPki(layout=layout, pki=read_pki(layout))
