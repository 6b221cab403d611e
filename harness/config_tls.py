"""The TLS, PKI and Plug & Charge part of the persona files: ``[tls]`` files and a PKI -> TLS settings, the
transport policy, the EVCCID of the vehicle certificate and the contract credentials.

Used by :mod:`harness.config` only; every error is a :class:`~iso15118.errors.ConfigError` naming the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from iso15118.errors import ConfigError
from iso15118.security.certs import load_certificates
from iso15118.security.credentials import ContractCredentials
from iso15118.security.identity import certificate_identity
from iso15118.security.pki import PkiLayout
from iso15118.security.profiles import Entity
from iso15118.security.tls import TlsConfig, keylog_from_environment
from iso15118.session.connection import Role
from iso15118.transport.generations import Standard, standard_of
from iso15118.transport.policy import TransportPolicy

__all__ = ["TlsFiles", "contract_credentials", "evccid_of", "policy", "read_certificates", "tls_config"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsFiles:
    """The ``[tls]`` table: single files overriding the PKI's."""

    certificate_chain: Path | None = None
    private_key: Path | None = None
    trust_roots: tuple[Path, ...] = ()
    require_client_certificate: bool = True
    send_ca_names: bool = True


def tls_config(
    files: TlsFiles,
    *,
    enabled: bool,
    keylog: Path | None,
    environ: Mapping[str, str],
    leaf: Entity | None,
    roots: tuple[Entity, ...],
    pki: PkiLayout | None,
) -> TlsConfig | None:
    """The TLS settings (None: plain TCP): ``files`` first, then the PKI's ``leaf`` and ``roots``."""
    if not enabled:
        return None
    chain, key = files.certificate_chain, files.private_key
    trust = files.trust_roots
    if pki is not None:
        if leaf is not None:
            chain = chain or pki[leaf].chain_pem
            key = key or pki[leaf].key_pem
        trust = trust or tuple(pki.roots(*roots))
    if not trust:
        raise ConfigError("TLS needs a PKI ([runtime] pki or --pki DIR) or [tls] trust_roots")
    return TlsConfig(
        certificate_chain=chain,
        private_key=key,
        trust_roots=trust,
        require_client_certificate=files.require_client_certificate,
        keylog_filename=keylog if keylog is not None else keylog_from_environment(environ),
        send_ca_names=files.send_ca_names,
    )


def policy(
    tls: TlsConfig | None,
    *,
    tolerant: bool,
    timing_scale: float | None,
    role: Role,
    protocols: tuple[str, ...] | None = None,
    tls_iso2: TlsConfig | None = None,
) -> TransportPolicy:
    """The transport policy for the namespaces ``protocols`` (None: ISO 15118-20 only), refused when strict mode
    does not allow it."""
    made = TransportPolicy(tls=tls, tolerant=tolerant, timing_scale=timing_scale, tls_iso2=tls_iso2)
    made.check(role, protocols)
    if tls is None and not tolerant and protocols is not None and len(protocols) > 1:
        iso20 = [ns for ns in protocols if standard_of(ns) is Standard.ISO20]
        if iso20:
            # Offering -20 where it cannot run would downgrade every -20 EV without a word.
            others = ",".join(dict.fromkeys(str(standard_of(ns)) for ns in protocols if ns not in iso20))
            raise ConfigError(
                "plain TCP (no TLS) is refused: ISO 15118-20 mandates TLS 1.3 with mutual authentication "
                f"[V2G20-1264]; leave iso20 out (--protocols {others}) or allow it with --tolerant"
            )
    return made


def read_certificates(path: Path) -> list[x509.Certificate]:
    """The certificates of a PEM file."""
    try:
        return load_certificates(path.read_bytes(), source=str(path))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None


def evccid_of(chain: Path, default: str) -> str:
    """The CN of the first certificate in ``chain`` (the vehicle leaf), or ``default`` when it has none."""
    common_name = certificate_identity(read_certificates(chain)[0]).common_name
    return common_name if common_name else default


def contract_credentials(chain: Path, key: Path) -> ContractCredentials:
    """The EV's contract chain and key."""
    try:
        return ContractCredentials.from_pem(chain.read_bytes(), key.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read the contract credentials {chain} / {key}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ConfigError(f"bad contract credentials {chain} / {key}: {exc}") from None
