"""Session-scoped test PKIs (one per algorithm) and TLS configurations built from them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest

from iso15118.security.pki import Pki, PkiLayout, build_pki, init_pki, read_pki
from iso15118.security.profiles import SECC_ANCHORS, VEHICLE_ANCHORS, Entity
from iso15118.security.tls import TlsConfig
from tests.security.sigmessages import KINDS, Kind
from tests.security.sigsupport import KIND_IDS, SUITES
from tests.support.oracle_fixture import exi_oracle

__all__ = ["PkiFixture", "exi_oracle"]

ALGORITHMS = ("secp521r1", "ed448")


@dataclass(frozen=True)
class PkiFixture:
    """A PKI on disk and in memory, with the usual TLS configurations."""

    layout: PkiLayout
    pki: Pki

    def secc_config(self, **overrides: object) -> TlsConfig:
        """SECC: SECC chain, trusts the vehicle trust anchors (OEM root), mutual authentication required."""
        values: dict[str, object] = {
            "certificate_chain": self.layout[Entity.SECC_LEAF].chain_pem,
            "private_key": self.layout[Entity.SECC_LEAF].key_pem,
            "trust_roots": tuple(self.layout.roots(*VEHICLE_ANCHORS)),
        }
        values.update(overrides)
        return TlsConfig(**values)  # type: ignore[arg-type]

    def evcc_config(self, *, vehicle_certificate: bool = True, **overrides: object) -> TlsConfig:
        """EVCC: trusts the V2G root, presents the vehicle chain unless told not to."""
        values: dict[str, object] = {"trust_roots": tuple(self.layout.roots(*SECC_ANCHORS))}
        if vehicle_certificate:
            values["certificate_chain"] = self.layout[Entity.VEHICLE_LEAF].chain_pem
            values["private_key"] = self.layout[Entity.VEHICLE_LEAF].key_pem
        values.update(overrides)
        return TlsConfig(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def pki_now() -> dt.datetime:
    """The creation time of the session PKIs (a minute in the past, so they are valid now)."""
    return (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).replace(microsecond=0)


@pytest.fixture(scope="session")
def test_pkis(tmp_path_factory: pytest.TempPathFactory, pki_now: dt.datetime) -> dict[str, PkiFixture]:
    """One complete test PKI per algorithm, built once per session."""
    made = {}
    for algorithm in ALGORITHMS:
        directory = tmp_path_factory.mktemp(f"pki-{algorithm}") / "pki"
        layout = init_pki(directory, algorithm=algorithm, now=pki_now)  # type: ignore[arg-type]
        made[algorithm] = PkiFixture(layout=layout, pki=read_pki(layout))
    return made


@pytest.fixture(params=ALGORITHMS)
def test_pki(request: pytest.FixtureRequest, test_pkis: dict[str, PkiFixture]) -> PkiFixture:
    """Each session PKI in turn."""
    return test_pkis[request.param]


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    """A fresh directory for files a test writes."""
    return tmp_path


@pytest.fixture(scope="session")
def iso2_pki(tmp_path_factory: pytest.TempPathFactory, pki_now: dt.datetime) -> PkiFixture:
    """The ISO 15118-2 test PKI (secp256r1), on disk and in memory, built once per session."""
    directory = tmp_path_factory.mktemp("pki-iso2") / "pki"
    layout = init_pki(directory, kind="iso2", now=pki_now)
    return PkiFixture(layout=layout, pki=read_pki(layout))


# ---- the -20 signature tests (tests/security/test_signature*.py) ------------------------------------------
@pytest.fixture(scope="module")
def pkis() -> dict[str, Pki]:
    """One in-memory -20 PKI per algorithm (issued a minute ago, so valid now)."""
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    return {algo: build_pki(algorithm=algo, now=now) for algo in SUITES}


@pytest.fixture(params=list(SUITES))
def pki(request: pytest.FixtureRequest, pkis: dict[str, Pki]) -> Pki:
    return pkis[request.param]


@pytest.fixture(params=KINDS, ids=KIND_IDS)
def kind(request: pytest.FixtureRequest) -> Kind:
    return request.param  # type: ignore[no-any-return]
