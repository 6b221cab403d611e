"""Checks of one PKI certificate or file set against its -20 or -2 profile, for :func:`verify_pki_layout`.

:func:`profile_problems` compares a certificate with its row of the kind's table
(:data:`~iso15118.security.profiles.PROFILES` for -20,
:data:`~iso15118.security.iso2_profiles.ISO2_PROFILES` for -2): key algorithm, signature digest, CA flag,
path length, keyUsage, extendedKeyUsage, domainComponent, validity period and size;
:func:`file_problems` checks the files of one entity (present, keys owner-only and matching, PEM = DER).
Chain validation itself is :func:`iso15118.security.certs.validate_chain`.
"""

from __future__ import annotations

import datetime as dt
import stat
from collections.abc import Iterable
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.x509.oid import NameOID

from iso15118.security.certs import describe_certificate, load_certificates
from iso15118.security.issuing import KeyAlgorithm, KeyUsage, parse_private_key
from iso15118.security.pkikinds import ISO20_PKI, PkiKind
from iso15118.security.profiles import Entity

if TYPE_CHECKING:
    from iso15118.security.pki import EntityFiles, PkiLayout

__all__ = ["file_problems", "profile_problems"]

_SLACK = dt.timedelta(days=1)  # issuers round validity periods to whole days and seconds


def _oid_names(oids: Iterable[x509.ObjectIdentifier]) -> list[str]:
    return sorted(str(getattr(oid, "_name", oid.dotted_string)) for oid in oids)


def profile_problems(
    entity: Entity, cert: x509.Certificate, algorithm: KeyAlgorithm, kind: PkiKind = ISO20_PKI
) -> list[str]:
    """How ``cert`` differs from the profile of ``entity`` in a ``kind`` PKI of ``algorithm`` (empty: it conforms)."""
    profile = kind.profiles[entity]
    info = describe_certificate(cert)
    problems = []
    if info.key_type != algorithm.value:
        problems.append(f"key is {info.key_type}, the PKI is {algorithm.value}")
    if cert.signature_algorithm_oid not in kind.policy.signature_oids:
        problems.append(f"signed with {info.signature}, the {kind.title} profile does not allow it")
    if info.ca is not profile.ca:
        problems.append(f"basicConstraints CA is {info.ca}, the profile asks {profile.ca}")
    if profile.ca and info.path_length != profile.path_length:
        problems.append(f"pathLen is {info.path_length}, the profile asks {profile.path_length}")
    wanted = set(profile.key_usage)
    if profile.key_agreement and algorithm is not KeyAlgorithm.ED448:
        wanted.add(KeyUsage.KEY_AGREEMENT)
    if set(info.key_usage) != {u.value for u in wanted}:
        asked = sorted(u.value for u in wanted)
        problems.append(f"keyUsage is {sorted(info.key_usage)}, the profile asks {asked}")
    try:
        eku = _oid_names(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        eku = []
    if eku != _oid_names(profile.extended_key_usage):
        problems.append(f"extendedKeyUsage is {eku}, the profile asks {_oid_names(profile.extended_key_usage)}")
    dcs = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.DOMAIN_COMPONENT)]
    if dcs != [profile.domain_component]:
        problems.append(f"domainComponent is {dcs}, the profile asks {[profile.domain_component]}")
    if info.der_size > kind.max_der_size:
        problems.append(f"{info.der_size} bytes DER exceeds {kind.max_der_size}")
    validity = cert.not_valid_after_utc - cert.not_valid_before_utc
    if validity > profile.validity + _SLACK:
        problems.append(f"valid for {validity.days} days, the profile allows at most {profile.validity.days}")
    return problems


def file_problems(layout: PkiLayout, entity: Entity, files: EntityFiles) -> list[str]:
    """Problems of the files of ``entity``, each prefixed with the entity name."""
    problems: list[str] = []
    missing = [p for p in files.all() if not p.is_file()]
    if missing:
        return [f"{entity.value}: missing {p.relative_to(layout.directory)}" for p in missing]
    for key_path in (files.key_pem, files.key_der):
        mode = stat.S_IMODE(key_path.stat().st_mode)
        if mode & 0o077:
            problems.append(
                f"{entity.value}: {key_path.relative_to(layout.directory)} has mode {mode:04o}, "
                "private keys must be owner-only (0600)"
            )
    cert = load_certificates(files.cert_pem.read_bytes(), source=str(files.cert_pem))[0]
    if load_certificates(files.cert_der.read_bytes(), source=str(files.cert_der))[0] != cert:
        problems.append(f"{entity.value}: the .pem and .der certificates differ")
    key = parse_private_key(files.key_pem.read_bytes(), source=str(files.key_pem))
    if key.public_key() != cert.public_key():
        problems.append(f"{entity.value}: the private key does not belong to the certificate")
    problems += [f"{entity.value}: {p}" for p in profile_problems(entity, cert, layout.algorithm, layout.kind)]
    return problems
