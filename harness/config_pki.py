"""The PKIs of the persona files per protocol generation: ``[runtime] pki`` (``--pki DIR``, up to once per
generation) -> the ISO 15118-20 and ISO 15118-2 PKIs, and what each generation takes from its own.

A `v2g pki init` directory says in its manifest which generation it is for (``--profile iso20|iso2``). The -20
PKI gives TLS 1.3 (both ends' certificates, [V2G20-1264]) and -20 Plug & Charge; the -2 PKI gives TLS 1.2 with
the -2 profile (:attr:`~iso15118.security.tls.TlsMode.ISO2`: the SECC's certificate only, the EV trusts the -2 V2G
root) and -2 Plug & Charge (the MO root for contracts, the local contract pool for CertificateInstallation). DIN
70121 needs none: it runs over plain TCP.

Used by :mod:`harness.config` only; every error is a :class:`~iso15118.errors.ConfigError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.config_tls import contract_credentials
from iso15118.errors import ConfigError
from iso15118.iso2.pnc import Iso2Pnc
from iso15118.security.credentials import ContractCredentials
from iso15118.security.iso2_credentials import iso2_contract
from iso15118.security.pki import PkiLayout, load_pki, read_pki
from iso15118.security.pkikinds import ISO2_PKI, ISO20_PKI
from iso15118.security.profiles import Entity
from iso15118.security.tls import TlsConfig, TlsMode, keylog_from_environment
from iso15118.transport.generations import Standard, standard_of

__all__ = ["Pkis", "evcc_contract", "iso2_pnc", "iso2_tls", "iso20_tls", "load_pkis", "speaks"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Pkis:
    """The PKI of each generation given (None: not given)."""

    iso20: PkiLayout | None = None
    iso2: PkiLayout | None = None


def load_pkis(directories: Sequence[Path]) -> Pkis:
    """The PKIs in ``directories``, at most one per generation (each knows its own from its manifest)."""
    found: dict[str, PkiLayout] = {}
    for directory in directories:
        layout = load_pki(directory)
        earlier = found.get(layout.kind.name)
        if earlier is not None:
            raise ConfigError(
                f"[runtime] pki: {earlier.directory} and {directory} are both {layout.kind.title} PKIs; "
                f"give one per generation (`v2g pki init --profile iso20|iso2`)"
            )
        found[layout.kind.name] = layout
    return Pkis(iso20=found.get(ISO20_PKI.name), iso2=found.get(ISO2_PKI.name))


def speaks(protocols: Iterable[str], standard: Standard) -> bool:
    """Whether the namespaces ``protocols`` include one of ``standard``."""
    return any(standard_of(ns) is standard for ns in protocols)


def iso2_tls(
    pkis: Pkis, *, server: bool, enabled: bool, keylog: Path | None, environ: Mapping[str, str]
) -> TlsConfig | None:
    """ISO 15118-2's TLS 1.2 settings from the -2 PKI (None without one, or with TLS off): the SECC presents the
    -2 SECC chain; the EV trusts the -2 V2G root and presents nothing (-2 TLS authenticates the server only)."""
    layout = pkis.iso2
    if layout is None or not enabled:
        return None
    log = keylog if keylog is not None else keylog_from_environment(environ)
    if server:
        leaf = layout[Entity.SECC_LEAF]
        chain, key = leaf.chain_pem, leaf.key_pem
        return TlsConfig(certificate_chain=chain, private_key=key, mode=TlsMode.ISO2, keylog_filename=log)
    return TlsConfig(trust_roots=tuple(layout.roots(Entity.V2G_ROOT)), mode=TlsMode.ISO2, keylog_filename=log)


def iso20_tls(make: Callable[[], TlsConfig | None], pkis: Pkis) -> TlsConfig | None:
    """The -20 TLS settings ``make`` builds; when there are none but a -2 PKI, says that iso20 needs a -20 PKI."""
    try:
        return make()
    except ConfigError as exc:
        if pkis.iso2 is None or pkis.iso20 is not None:
            raise
        raise ConfigError(
            f"{exc}: ISO 15118-20 needs TLS 1.3 with a -20 PKI, and {pkis.iso2.directory} is an ISO 15118-2 one; "
            "add a -20 PKI (--pki DIR of `v2g pki init`) or leave iso20 out (--protocols iso2,din)"
        ) from None


def evcc_contract(protocols: Sequence[str], chain: Path | None, key: Path | None, pkis: Pkis) -> ContractCredentials:
    """The EV's contract: that of the most preferred offered generation that has one (-20: ``chain`` and ``key``
    of the [pnc] table, else the -20 PKI's; -2: the -2 PKI's). The EV holds one contract; in a session of the
    other generation it pays by that generation's rules (-2 installs a contract when it can, else says that it
    cannot use PnC)."""
    for namespace in protocols:
        standard = standard_of(namespace)
        if standard is Standard.ISO20:
            files = pkis.iso20[Entity.CONTRACT_LEAF] if pkis.iso20 is not None else None
            chain_pem = chain or (files.chain_pem if files else None)
            key_pem = key or (files.key_pem if files else None)
            if chain_pem is not None and key_pem is not None:
                return contract_credentials(chain_pem, key_pem)
        elif standard is Standard.ISO2 and pkis.iso2 is not None:
            return iso2_contract(pkis.iso2.directory)
    raise ConfigError(
        "PnC needs contract credentials: a PKI of an offered generation (--pki; -2: `v2g pki init --profile iso2`) "
        "or [pnc] contract_chain and contract_key (-20)"
    )


def iso2_pnc(layout: PkiLayout) -> Iso2Pnc:
    """The SECC's -2 Plug & Charge checks from the -2 PKI: its MO root for contract chains (certificate requests go
    to the certificate provider: `v2g secc --cps DIR` or a CSMS)."""
    pki = read_pki(layout)
    return Iso2Pnc(contract_roots=(pki[Entity.MO_ROOT].certificate,))
