"""A -20 test PKI (in memory, secp521r1) shared by the backend tests, and what each role takes from it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import serialization

from iso15118.iso20.pnc import PncVerifier
from iso15118.security.credentials import ContractCredentials, ProvisioningCredentials
from iso15118.security.pki import Pki, build_pki
from iso15118.security.profiles import Entity


def _der(pki: Pki, *entities: Entity) -> tuple[bytes, ...]:
    return tuple(pki[e].certificate.public_bytes(serialization.Encoding.DER) for e in entities)


@dataclass(frozen=True)
class Credentials:
    """The PKI and what the EV and the SECC are configured with."""

    pki: Pki

    def provisioning(self) -> ProvisioningCredentials:
        chain = tuple(c.public_bytes(serialization.Encoding.DER) for c in self.pki.chain(Entity.OEM_PROV_LEAF))
        return ProvisioningCredentials(
            chain=chain,
            key=self.pki[Entity.OEM_PROV_LEAF].key,
            v2g_roots=_der(self.pki, Entity.V2G_ROOT),
            contract_roots=_der(self.pki, Entity.MO_ROOT, Entity.V2G_ROOT),
        )

    def contract(self) -> ContractCredentials:
        chain = tuple(c.public_bytes(serialization.Encoding.DER) for c in self.pki.chain(Entity.CONTRACT_LEAF))
        return ContractCredentials(chain=chain, key=self.pki[Entity.CONTRACT_LEAF].key)

    def verifier(self, *, check_cps: bool = True) -> PncVerifier:
        cps = [self.pki[Entity.V2G_ROOT].certificate] if check_cps else None
        return PncVerifier([self.pki[Entity.MO_ROOT].certificate], cps_roots=cps)


@pytest.fixture(scope="session")
def creds() -> Credentials:
    return Credentials(build_pki(algorithm="secp521r1"))
