"""An EV's ISO 15118-2 Plug & Charge credentials from a ``v2g pki init --profile iso2`` directory.

The -2 EV signs AuthorizationReq and MeteringReceiptReq with its contract key (secp256r1), and installs or renews
its contract with the OEM provisioning key; both come from the -2 test PKI the same way the -20 EV takes its
contract from a -20 PKI: :func:`iso2_contract` reads ``chains/contract_leaf_chain.pem`` with
``private/contract_leaf.key.pem``, :func:`iso2_provisioning` the OEM provisioning leaf and its Sub-CAs with its
key, and the roots the EV trusts (the V2G root for the CPS that signs installation responses, the MO and V2G
roots for contract chains). :func:`is_iso2_contract` tells whether credentials are -2 ones (a -20 contract is
secp521r1 or Ed448, which -2 cannot use).
"""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from iso15118.errors import ConfigError
from iso15118.security.certs import load_certificates
from iso15118.security.credentials import ContractCredentials, ProvisioningCredentials
from iso15118.security.iso2_signatures import ISO2_SIGNATURE_PROFILE
from iso15118.security.pki import PkiLayout, load_pki, load_private_key
from iso15118.security.pkikinds import ISO2_PKI
from iso15118.security.profiles import Entity

__all__ = ["is_iso2_contract", "is_iso2_key", "iso2_contract", "iso2_provisioning"]


def _layout(directory: Path) -> PkiLayout:
    layout = load_pki(directory)
    if layout.kind is not ISO2_PKI:
        raise ConfigError(
            f"{directory} is a {layout.kind.title} PKI; -2 Plug & Charge needs `v2g pki init --profile iso2`"
        )
    return layout


def _der(certs: list[x509.Certificate]) -> tuple[bytes, ...]:
    return tuple(c.public_bytes(serialization.Encoding.DER) for c in certs)


def _read(path: Path | None) -> list[x509.Certificate]:
    if path is None:
        raise ConfigError("the PKI has no chain file for this leaf")
    try:
        return load_certificates(path.read_bytes(), source=str(path))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None


def iso2_contract(directory: Path) -> ContractCredentials:
    """The contract chain (leaf, MO Sub-CA 2, MO Sub-CA 1) and key of the -2 PKI in ``directory``."""
    files = _layout(directory)[Entity.CONTRACT_LEAF]
    return ContractCredentials(
        chain=_der(_read(files.chain_pem)), key=load_private_key(files.key_pem), profile=ISO2_SIGNATURE_PROFILE
    )


def iso2_provisioning(directory: Path) -> ProvisioningCredentials:
    """The OEM provisioning chain and key of the -2 PKI in ``directory``, with the V2G root (it anchors the CPS
    chain of installation responses) and the MO and V2G roots (they anchor contract chains)."""
    layout = _layout(directory)
    files = layout[Entity.OEM_PROV_LEAF]

    def roots(*entities: Entity) -> tuple[bytes, ...]:
        return _der([cert for path in layout.roots(*entities) for cert in _read(path)])

    return ProvisioningCredentials(
        chain=_der(_read(files.chain_pem)),
        key=load_private_key(files.key_pem),
        v2g_roots=roots(Entity.V2G_ROOT),
        contract_roots=roots(Entity.MO_ROOT, Entity.V2G_ROOT),
    )


def is_iso2_key(key: object) -> bool:
    """Whether ``key`` is a secp256r1 private key, the only kind the -2 PKI has."""
    return isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)


def is_iso2_contract(credentials: ContractCredentials | None) -> bool:
    """Whether ``credentials`` can sign -2 messages (a secp256r1 contract key)."""
    return credentials is not None and is_iso2_key(credentials.key)
