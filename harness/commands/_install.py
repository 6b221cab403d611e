"""`v2g evcc --install-certificate` / `--contract DIR`: install a contract certificate, and use an installed one.

``--install-certificate`` makes the EV ask for a contract certificate (CertificateInstallationReq signed with
the OEM provisioning key of ``--pki``) when the charger offers the service; the contract serves PnC in the same
session and is written to ``--contract DIR`` (default ``PKI/installed``) as ``contract_chain.pem`` and
``contract_key.pem`` (0600). ``--contract DIR`` without ``--install-certificate`` uses the contract installed
there for PnC.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from harness.commands._sessions import iso20_pki
from harness.config import EvccSettings
from iso15118.errors import ConfigError
from iso15118.security.credentials import ContractCredentials, ProvisioningCredentials
from iso15118.security.pki import load_pki
from iso15118.security.profiles import Entity
from iso15118.simple import SimpleEV

__all__ = ["add_options", "apply", "save"]

_CHAIN, _KEY = "contract_chain.pem", "contract_key.pem"


def add_options(parser: argparse.ArgumentParser) -> None:
    """Add the installation options to `v2g evcc`."""
    parser.add_argument(
        "--install-certificate",
        action="store_true",
        help="ask for a contract certificate with the OEM provisioning certificate of --pki (if offered)",
    )
    parser.add_argument("--contract", type=Path, metavar="DIR", help="where installed contracts go / are used from")


def _der(path: Path) -> tuple[bytes, ...]:
    return tuple(c.public_bytes(serialization.Encoding.DER) for c in x509.load_pem_x509_certificates(path.read_bytes()))


def _directory(args: argparse.Namespace) -> Path | None:
    if args.contract is not None:
        return Path(args.contract)
    pki = iso20_pki(args.pki)
    return pki / "installed" if pki is not None else None


def apply(args: argparse.Namespace, settings: EvccSettings) -> EvccSettings:
    """The settings with the provisioning credentials (``--install-certificate``) or the installed contract."""
    evcc = settings.evcc
    where = _directory(args)
    if args.install_certificate:
        pki = iso20_pki(args.pki)
        if pki is None:
            raise ConfigError("--install-certificate needs the OEM provisioning certificate: a -20 PKI (--pki)")
        layout = load_pki(pki)
        prov = layout[Entity.OEM_PROV_LEAF]
        assert prov.chain_pem is not None
        creds = ProvisioningCredentials(
            chain=_der(prov.chain_pem),
            key=serialization.load_pem_private_key(prov.key_pem.read_bytes(), password=None),
            v2g_roots=_der(layout[Entity.V2G_ROOT].cert_pem),
            contract_roots=_der(layout[Entity.MO_ROOT].cert_pem) + _der(layout[Entity.V2G_ROOT].cert_pem),
        )
        evcc = dataclasses.replace(evcc, install_certificate=True, provisioning=creds)
    elif args.contract is not None and where is not None:
        if not (where / _CHAIN).exists():
            raise ConfigError(f"{where} holds no installed contract ({_CHAIN}); install one with --install-certificate")
        chain, key = (where / _CHAIN).read_bytes(), (where / _KEY).read_bytes()
        evcc = dataclasses.replace(evcc, credentials=ContractCredentials.from_pem(chain, key))
    return dataclasses.replace(settings, evcc=evcc)


def save(args: argparse.Namespace, ev: SimpleEV) -> str | None:
    """Write a contract installed in the session; the line to print about it (None: nothing installed)."""
    installed = [r for r in ev.reports if r.event == "contract_installed"]
    where = _directory(args)
    if not installed or where is None:
        return None
    contract = installed[-1].values["credentials"]
    assert isinstance(contract, ContractCredentials)
    where.mkdir(parents=True, exist_ok=True)
    pem = b"".join(x509.load_der_x509_certificate(d).public_bytes(serialization.Encoding.PEM) for d in contract.chain)
    (where / _CHAIN).write_bytes(pem)
    key = contract.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(where / _KEY, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return f"evcc: contract certificate {installed[-1].detail} installed in {where} (use it with --contract {where})"
