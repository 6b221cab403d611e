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

from cryptography.hazmat.primitives.asymmetric import ec

from iso15118.errors import ConfigError
from iso15118.security.credentials import ContractCredentials, ProvisioningCredentials, chain_der, provisioning_from
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


def iso2_contract(directory: Path) -> ContractCredentials:
    """The contract chain (leaf, MO Sub-CA 2, MO Sub-CA 1) and key of the -2 PKI in ``directory``."""
    files = _layout(directory)[Entity.CONTRACT_LEAF]
    return ContractCredentials(
        chain=chain_der(files.chain_pem), key=load_private_key(files.key_pem), profile=ISO2_SIGNATURE_PROFILE
    )


def iso2_provisioning(directory: Path) -> ProvisioningCredentials:
    """The OEM provisioning credentials of the -2 PKI in ``directory`` (:func:`provisioning_from`)."""
    return provisioning_from(_layout(directory))


def is_iso2_key(key: object) -> bool:
    """Whether ``key`` is a secp256r1 private key, the only kind the -2 PKI has."""
    return isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)


def is_iso2_contract(credentials: ContractCredentials | None) -> bool:
    """Whether ``credentials`` can sign -2 messages (a secp256r1 contract key)."""
    return credentials is not None and is_iso2_key(credentials.key)
