"""`v2g evcc --install-certificate` / `--contract DIR`: install a contract certificate, and use an installed one.

``--install-certificate`` makes the EV ask for a contract certificate (CertificateInstallationReq signed with
the OEM provisioning key of ``--pki``) when the charger offers the service; the contract serves PnC in the same
session and is written to ``--contract DIR`` (default ``PKI/installed``) as ``contract_chain.pem`` and
``contract_key.pem`` (0600). ``--contract DIR`` without ``--install-certificate`` uses the contract installed
there for PnC.

The PKI is that of the EV's most preferred offered generation that has one among the ``--pki`` directories
(-20: secp521r1 or Ed448; -2: secp256r1, ECDSA-SHA256 signatures), as for the contract it holds otherwise: an EV
has one contract at a time.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from harness.config import EvccSettings
from harness.config_pki import load_pkis
from iso15118.errors import ConfigError
from iso15118.security.credentials import ContractCredentials, provisioning_from
from iso15118.security.iso2_credentials import is_iso2_key, iso2_provisioning
from iso15118.security.iso2_signatures import ISO2_SIGNATURE_PROFILE
from iso15118.security.pki import load_pki
from iso15118.simple import SimpleEV
from iso15118.transport.generations import Standard, standard_of

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


def _generation_pki(args: argparse.Namespace, settings: EvccSettings) -> tuple[Standard, Path] | None:
    """The generation and PKI directory the EV installs and keeps contracts for (None: no PKI of an offered one)."""
    pkis = load_pkis(args.pki or ())
    for namespace in settings.evcc.offered_protocols:
        standard = standard_of(namespace)
        if standard is Standard.ISO20 and pkis.iso20 is not None:
            return standard, pkis.iso20.directory
        if standard is Standard.ISO2 and pkis.iso2 is not None:
            return standard, pkis.iso2.directory
    return None


def _directory(args: argparse.Namespace, settings: EvccSettings) -> Path | None:
    if args.contract is not None:
        return Path(args.contract)
    found = _generation_pki(args, settings)
    return found[1] / "installed" if found is not None else None


def apply(args: argparse.Namespace, settings: EvccSettings) -> EvccSettings:
    """The settings with the provisioning credentials (``--install-certificate``) or the installed contract."""
    evcc = settings.evcc
    where = _directory(args, settings)
    if args.install_certificate:
        found = _generation_pki(args, settings)
        if found is None:
            raise ConfigError(
                "--install-certificate needs the OEM provisioning certificate: the PKI (--pki) of an offered "
                "generation (-20: `v2g pki init`; -2: `v2g pki init --profile iso2`)"
            )
        standard, pki = found
        creds = iso2_provisioning(pki) if standard is Standard.ISO2 else provisioning_from(load_pki(pki))
        evcc = dataclasses.replace(evcc, install_certificate=True, provisioning=creds)
    elif args.contract is not None and where is not None:
        if not (where / _CHAIN).exists():
            raise ConfigError(f"{where} holds no installed contract ({_CHAIN}); install one with --install-certificate")
        chain, key = (where / _CHAIN).read_bytes(), (where / _KEY).read_bytes()
        contract = ContractCredentials.from_pem(chain, key)
        if is_iso2_key(contract.key):  # a -2 contract signs with ECDSA-SHA256 under the -2 profile
            contract = dataclasses.replace(contract, profile=ISO2_SIGNATURE_PROFILE)
        evcc = dataclasses.replace(evcc, credentials=contract)
    return dataclasses.replace(settings, evcc=evcc)


def save(args: argparse.Namespace, settings: EvccSettings, ev: SimpleEV) -> str | None:
    """Write a contract installed in the session; the line to print about it (None: nothing installed)."""
    installed = [r for r in ev.reports if r.event == "contract_installed"]
    where = _directory(args, settings)
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
