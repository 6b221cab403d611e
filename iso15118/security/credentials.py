"""Credentials an EV signs with: a contract certificate chain and its private key (Plug & Charge), and the OEM
provisioning credentials it installs contracts with, read from a test PKI of either generation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from iso15118.errors import ConfigError
from iso15118.security.certs import load_certificates
from iso15118.security.pki import PkiLayout, load_private_key
from iso15118.security.profiles import Entity
from iso15118.security.sigprofile import ISO20_PROFILE, SignatureProfile

__all__ = ["ContractCredentials", "ProvisioningCredentials", "chain_der", "provisioning_from"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ContractCredentials:
    """A contract certificate chain (DER, leaf first, then Sub-CA 2, Sub-CA 1) and its private key."""

    chain: tuple[bytes, ...]
    key: Any
    """A cryptography private key (secp521r1 or Ed448; P-256 with the interop profile)."""
    profile: SignatureProfile = ISO20_PROFILE

    @classmethod
    def from_pem(
        cls, chain_pem: bytes, key_pem: bytes, *, profile: SignatureProfile = ISO20_PROFILE
    ) -> ContractCredentials:
        """From a PEM chain file (leaf first) and a PEM private key."""
        certs = x509.load_pem_x509_certificates(chain_pem)
        der = tuple(c.public_bytes(serialization.Encoding.DER) for c in certs)
        return cls(chain=der, key=serialization.load_pem_private_key(key_pem, password=None), profile=profile)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProvisioningCredentials:
    """What an EV installs a contract certificate with: its OEM provisioning chain (DER, leaf first) and key, the
    V2G roots it trusts (named in its request; they anchor the CPS chain of the answer) and the roots a contract
    chain may lead to (MO roots, V2G roots)."""

    chain: tuple[bytes, ...]
    key: Any
    v2g_roots: tuple[bytes, ...]
    contract_roots: tuple[bytes, ...]

    def certificates(self, which: tuple[bytes, ...]) -> list[x509.Certificate]:
        """``which`` (one of the DER tuples) parsed."""
        return [x509.load_der_x509_certificate(der) for der in which]


def chain_der(path: Path | None) -> tuple[bytes, ...]:
    """The certificates of a PEM file as DER, in file order (ConfigError naming the file when it is missing or
    unreadable)."""
    if path is None:
        raise ConfigError("the PKI has no chain file for this leaf")
    try:
        certs = load_certificates(path.read_bytes(), source=str(path))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    return tuple(c.public_bytes(serialization.Encoding.DER) for c in certs)


def provisioning_from(layout: PkiLayout) -> ProvisioningCredentials:
    """The OEM provisioning chain and key of a test PKI (-20 or -2), with the V2G root (it anchors the CPS chain of
    installation responses) and the MO and V2G roots (they anchor contract chains)."""
    files = layout[Entity.OEM_PROV_LEAF]

    def roots(*entities: Entity) -> tuple[bytes, ...]:
        return tuple(der for path in layout.roots(*entities) for der in chain_der(path))

    return ProvisioningCredentials(
        chain=chain_der(files.chain_pem),
        key=load_private_key(files.key_pem),
        v2g_roots=roots(Entity.V2G_ROOT),
        contract_roots=roots(Entity.MO_ROOT, Entity.V2G_ROOT),
    )
