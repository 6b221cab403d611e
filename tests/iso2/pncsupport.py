"""-2 Plug & Charge test material: an in-memory -2 PKI, the EV's credentials from it, the charger's PnC checks,
defective contracts, and EVs and certificate providers that tamper with what they send."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from iso15118.config import EvccConfig, SeccConfig
from iso15118.iso2.pnc import Iso2Pnc
from iso15118.messages.generated import iso2 as m
from iso15118.security.credentials import ContractCredentials, ProvisioningCredentials
from iso15118.security.iso2_cps import ContractCertificatePool, Iso2Cps
from iso15118.security.iso2_profiles import ISO2_PROFILES
from iso15118.security.iso2_signatures import ISO2_SIGNATURE_PROFILE
from iso15118.security.issuing import HashName, KeyAlgorithm, issue_certificate
from iso15118.security.pki import Pki, build_pki
from iso15118.security.profiles import Entity, spec_for
from iso15118.security.provider import LocalCps
from iso15118.transport import runner
from tests.iso2.support import evcc, secc

__all__ = [
    "Pkis",
    "TamperingProvider",
    "build_pkis",
    "contract",
    "expired_contract",
    "pnc",
    "pnc_evcc",
    "pnc_secc",
    "provisioning",
    "secc_side",
    "tampering_ev",
]


def _der(certs: list[x509.Certificate]) -> tuple[bytes, ...]:
    return tuple(c.public_bytes(serialization.Encoding.DER) for c in certs)


@dataclass(frozen=True)
class Pkis:
    """The -2 PKI the charger trusts, and a foreign one it does not."""

    home: Pki
    foreign: Pki


def build_pkis() -> Pkis:
    """Two -2 PKIs issued a minute ago (valid now)."""
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    return Pkis(home=build_pki(kind="iso2", now=now), foreign=build_pki(kind="iso2", now=now))


def contract(pki: Pki) -> ContractCredentials:
    """The PKI's contract chain (leaf, MO Sub-CA 2, MO Sub-CA 1) and key."""
    return ContractCredentials(
        chain=_der(pki.chain(Entity.CONTRACT_LEAF)), key=pki[Entity.CONTRACT_LEAF].key, profile=ISO2_SIGNATURE_PROFILE
    )


def expired_contract(pki: Pki) -> ContractCredentials:
    """A contract of this PKI's MO Sub-CA 2 that expired yesterday."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    spec = spec_for(
        Entity.CONTRACT_LEAF,
        algorithm=KeyAlgorithm.SECP256R1,
        now=now,
        identities=pki.identities,
        profiles=ISO2_PROFILES,
        hash_name=HashName.SHA256,
    )
    spec = dataclasses.replace(spec, not_before=now - dt.timedelta(days=30), not_after=now - dt.timedelta(days=1))
    issued = issue_certificate(spec, algorithm=KeyAlgorithm.SECP256R1, issuer=pki[Entity.MO_SUB_CA2])
    chain = _der([issued.certificate, *pki.chain(Entity.MO_SUB_CA2)])
    return ContractCredentials(chain=chain, key=issued.key, profile=ISO2_SIGNATURE_PROFILE)


def provisioning(pki: Pki) -> ProvisioningCredentials:
    """The PKI's OEM provisioning chain and key, the V2G root and the contract roots (MO, V2G)."""
    return ProvisioningCredentials(
        chain=_der(pki.chain(Entity.OEM_PROV_LEAF)),
        key=pki[Entity.OEM_PROV_LEAF].key,
        v2g_roots=_der([pki[Entity.V2G_ROOT].certificate]),
        contract_roots=_der([pki[Entity.MO_ROOT].certificate, pki[Entity.V2G_ROOT].certificate]),
    )


def pnc(pki: Pki) -> Iso2Pnc:
    """The charger's -2 PnC checks: the PKI's MO root."""
    return Iso2Pnc(contract_roots=(pki[Entity.MO_ROOT].certificate,))


def secc_side(pki: Pki, provider: Iso2Cps | None = None, *, cps: bool = True) -> dict[str, Any]:
    """The SECC's keyword arguments: the PnC checks of ``pki`` and, unless ``cps`` is false, a certificate
    provider over the PKI's local contract pool (or ``provider``)."""
    checks: dict[str, Any] = {"pnc": pnc(pki)}
    if cps:
        checks["certificates"] = LocalCps(iso2=provider or ContractCertificatePool.from_pki(pki))
    return checks


def pnc_evcc(**changes: Any) -> EvccConfig:
    """A -2 EV asking for PnC."""
    return evcc(authorization="PnC", **changes)


def pnc_secc(**changes: Any) -> SeccConfig:
    """A -2 charger offering PnC (and EIM) and the Certificate service."""
    values: dict[str, Any] = {"authorization": ("EIM", "PnC"), "certificate_installation": True}
    values.update(changes)
    return secc(**values)


@dataclass
class TamperingProvider:
    """A certificate provider whose signed responses are altered on their way to the EV (``tamper``)."""

    pool: ContractCertificatePool
    tamper: Callable[[m.V2G_Message], m.V2G_Message]

    def answer(self, req: m.V2G_Message, *, now: dt.datetime) -> m.V2G_Message:
        return self.tamper(self.pool.answer(req, now=now))


class _TamperingEvcc:
    """Our -2 EVCC decisions, with requests of some kinds altered after they are built."""

    def __init__(self, inner: Any, tamper: dict[str, Callable[[Any], Any]]) -> None:
        self.inner, self.tamper = inner, tamper

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def build(self, kind: Any, stream: Any, ctx: Any, env: Any) -> Any:
        built = self.inner.build(kind, stream, ctx, env)
        change = self.tamper.get(str(kind))
        return built if change is None else change(built)


@contextmanager
def tampering_ev(monkeypatch: pytest.MonkeyPatch, **tamper: Callable[[Any], Any]) -> Iterator[None]:
    """While active, the runner's EVCC alters the requests named by kind (``AuthorizationReq=...``) as built."""
    original = runner.evcc_logic
    monkeypatch.setattr(runner, "evcc_logic", lambda profile, config: _TamperingEvcc(original(profile, config), tamper))
    try:
        yield
    finally:
        monkeypatch.setattr(runner, "evcc_logic", original)
