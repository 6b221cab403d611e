"""Key generation and X.509 certificate issuing with ``cryptography``: the mechanics under the test PKI.

This module knows how to make a key of a given algorithm and how to turn a :class:`CertificateSpec` into a
signed certificate. It deliberately accepts any combination of values (a leaf with ``keyCertSign``, an
expired validity window, a P-256 key, a CA without ``basicConstraints``), because the conformance harness and
the tests need exactly such bad certificates. *Which* values the ISO 15118-20 profile asks for lives in
:mod:`iso15118.security.profiles`; building the whole PKI lives in :mod:`iso15118.security.pki`.

Signature algorithm follows the issuer key: ECDSA keys sign with SHA-512 unless the spec overrides the hash
(``ecdsa-with-SHA512`` for secp521r1 is the -20 profile `[V2G20-2674]`), Ed448 keys sign with pure Ed448
`[V2G20-2319]`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from cryptography.x509.oid import NameOID

from iso15118.errors import ConfigError

__all__ = [
    "CertificateSpec",
    "HashName",
    "Issued",
    "KeyAlgorithm",
    "KeyUsage",
    "PrivateKey",
    "PublicKey",
    "generate_key",
    "issue_certificate",
    "key_algorithm_of",
    "parse_private_key",
]

PrivateKey = ec.EllipticCurvePrivateKey | ed448.Ed448PrivateKey
PublicKey = ec.EllipticCurvePublicKey | ed448.Ed448PublicKey


class KeyAlgorithm(StrEnum):
    """Key algorithms we can generate. Only the first two are allowed by the -20 profile."""

    SECP521R1 = "secp521r1"  # ECDSA on P-521 with SHA-512 [V2G20-2674]
    ED448 = "ed448"  # EdDSA on edwards448 [V2G20-2319]
    SECP256R1 = "secp256r1"  # ISO 15118-2 / lab peers only (Josev's test PKI); never valid for -20
    SECP384R1 = "secp384r1"  # not used by any part of ISO 15118; for wrong-algorithm tests


PROFILE_ALGORITHMS: frozenset[KeyAlgorithm] = frozenset({KeyAlgorithm.SECP521R1, KeyAlgorithm.ED448})

_CURVES: dict[KeyAlgorithm, ec.EllipticCurve] = {
    KeyAlgorithm.SECP521R1: ec.SECP521R1(),
    KeyAlgorithm.SECP256R1: ec.SECP256R1(),
    KeyAlgorithm.SECP384R1: ec.SECP384R1(),
}


class HashName(StrEnum):
    """Digest for ECDSA signatures (ignored for Ed448, which hashes internally)."""

    SHA256 = "sha256"
    SHA384 = "sha384"
    SHA512 = "sha512"


_HASHES: dict[HashName, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    HashName.SHA256: hashes.SHA256,
    HashName.SHA384: hashes.SHA384,
    HashName.SHA512: hashes.SHA512,
}


class KeyUsage(StrEnum):
    """The X.509 keyUsage bits, named as ``cryptography.x509.KeyUsage`` names its arguments."""

    DIGITAL_SIGNATURE = "digital_signature"
    CONTENT_COMMITMENT = "content_commitment"  # a.k.a. nonRepudiation
    KEY_ENCIPHERMENT = "key_encipherment"
    DATA_ENCIPHERMENT = "data_encipherment"
    KEY_AGREEMENT = "key_agreement"
    KEY_CERT_SIGN = "key_cert_sign"
    CRL_SIGN = "crl_sign"


def generate_key(algorithm: KeyAlgorithm | str) -> PrivateKey:
    """Generate a fresh private key of ``algorithm`` (``"secp521r1"``, ``"ed448"``, ...)."""
    try:
        algo = KeyAlgorithm(algorithm)
    except ValueError:
        choices = ", ".join(a.value for a in KeyAlgorithm)
        raise ConfigError(f"unknown key algorithm {algorithm!r} (choose one of {choices})") from None
    if algo is KeyAlgorithm.ED448:
        return ed448.Ed448PrivateKey.generate()
    return ec.generate_private_key(_CURVES[algo])


def key_algorithm_of(key: PrivateKey | PublicKey | object) -> KeyAlgorithm | None:
    """The :class:`KeyAlgorithm` of a public or private key, or None when it is none of ours (RSA...)."""
    if isinstance(key, ed448.Ed448PrivateKey | ed448.Ed448PublicKey):
        return KeyAlgorithm.ED448
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        for algo, curve in _CURVES.items():
            if key.curve.name == curve.name:
                return algo
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateSpec:
    """Everything a certificate says, before it is signed.

    ``ca`` None leaves out basicConstraints entirely (a deliberately broken CA); ``key_usage`` None leaves out
    keyUsage. ``path_length`` only matters for CAs. ``hash_name`` overrides the ECDSA digest (SHA-512 by
    default); ``serial`` None draws a random one. ``extra_extensions`` are (extension, critical) pairs.
    """

    common_name: str
    organization: str | None = None
    country: str | None = None
    domain_component: str | None = None
    not_before: dt.datetime
    not_after: dt.datetime
    ca: bool | None = False
    path_length: int | None = None
    key_usage: frozenset[KeyUsage] | None = frozenset({KeyUsage.DIGITAL_SIGNATURE})
    extended_key_usage: tuple[x509.ObjectIdentifier, ...] = ()
    """Non-critical extendedKeyUsage, left out when empty."""
    hash_name: HashName = HashName.SHA512
    serial: int | None = None
    extra_extensions: tuple[tuple[x509.ExtensionType, bool], ...] = field(default=())

    def subject(self) -> x509.Name:
        """The subject distinguished name (CN, O, C, DC in that order, absent parts left out)."""
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, self.common_name)]
        if self.organization:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.organization))
        if self.country:
            attrs.append(x509.NameAttribute(NameOID.COUNTRY_NAME, self.country))
        if self.domain_component:
            attrs.append(x509.NameAttribute(NameOID.DOMAIN_COMPONENT, self.domain_component))
        return x509.Name(attrs)


@dataclass(frozen=True, slots=True, kw_only=True)
class Issued:
    """A certificate with its private key."""

    certificate: x509.Certificate
    key: PrivateKey


def _key_usage_extension(usages: frozenset[KeyUsage]) -> x509.KeyUsage:
    flags = {usage.value: usage in usages for usage in KeyUsage}
    return x509.KeyUsage(**flags, encipher_only=False, decipher_only=False)


def issue_certificate(
    spec: CertificateSpec,
    *,
    key: PrivateKey | None = None,
    algorithm: KeyAlgorithm | str = KeyAlgorithm.SECP521R1,
    issuer: Issued | None = None,
) -> Issued:
    """Sign ``spec`` and return the certificate with its key.

    ``key`` is the subject's key (generated with ``algorithm`` when None). ``issuer`` None makes the
    certificate self-signed. Extensions: basicConstraints (critical), keyUsage (critical), extendedKeyUsage
    when the spec lists any, subjectKeyIdentifier and, for issued certificates, authorityKeyIdentifier.
    """
    subject_key = key if key is not None else generate_key(algorithm)
    signer_key = issuer.key if issuer is not None else subject_key
    issuer_name = issuer.certificate.subject if issuer is not None else spec.subject()
    public = subject_key.public_key()
    if spec.common_name == "" or len(spec.common_name) > 64:
        raise ConfigError(f"common name must have 1 to 64 characters, got {len(spec.common_name)}")
    builder = (
        x509.CertificateBuilder()
        .subject_name(spec.subject())
        .issuer_name(issuer_name)
        .public_key(public)
        .serial_number(spec.serial if spec.serial is not None else x509.random_serial_number())
        .not_valid_before(spec.not_before)
        .not_valid_after(spec.not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    if spec.ca is not None:
        path_length = spec.path_length if spec.ca else None
        constraints = x509.BasicConstraints(ca=spec.ca, path_length=path_length)
        builder = builder.add_extension(constraints, critical=True)
    if spec.key_usage is not None:
        builder = builder.add_extension(_key_usage_extension(spec.key_usage), critical=True)
    if spec.extended_key_usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(spec.extended_key_usage)), critical=False)
    if issuer is not None:
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key())
        builder = builder.add_extension(aki, critical=False)
    for extension, critical in spec.extra_extensions:
        builder = builder.add_extension(extension, critical=critical)
    digest = None if isinstance(signer_key, ed448.Ed448PrivateKey) else _HASHES[spec.hash_name]()
    return Issued(certificate=builder.sign(signer_key, digest), key=subject_key)


def parse_private_key(data: bytes, *, source: str = "key") -> PrivateKey:
    """Parse an unencrypted PEM or DER (PKCS#8 or traditional) EC or Ed448 private key."""
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_der_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{source}: not an unencrypted private key ({exc})") from None
    if not isinstance(key, PrivateKey):
        raise ConfigError(f"{source}: {type(key).__name__} is not an EC or Ed448 key")
    return key
