"""Certificate chain validation for ISO 15118-20, and certificate loading and description. Pure: no I/O.

:func:`validate_chain` builds the path from a leaf through the given intermediates to one of the given roots
and checks it against the -20 profile, returning a :class:`ValidatedChain` or raising
:class:`ChainValidationError` (a :class:`~iso15118.errors.CertificateError`) whose ``defect`` says why:
expired, not yet valid, unknown issuer, bad signature, wrong algorithm, wrong key usage, not a CA, path too
long, wrong role, not an end entity, too large, unsupported critical extension.

Checks, in the order reasons are reported:

1. Path: each certificate's issuer is found by name among the roots, then the intermediates, and its
   signature must verify with that issuer's key.
2. Algorithms: every key is secp521r1 `[V2G20-2674]` or Ed448 `[V2G20-2319]` and every signature
   ecdsa-with-SHA512 or Ed448 (:data:`STRICT`); :data:`TOLERANT` also accepts P-256/P-384 and SHA-256/384
   (ISO 15118-2 and lab peers such as Josev); :data:`ISO2` is the ISO 15118-2 profile: secp256r1 keys,
   ecdsa-with-SHA256 signatures, at most 800 bytes DER.
3. Validity at ``now`` for every certificate, the root included.
4. CA certificates: basicConstraints CA:TRUE, keyUsage with keyCertSign, pathLenConstraint respected.
5. The role, for a ``purpose``: the leaf and the chain above it look like that role's
   (:mod:`iso15118.security.roles`: domainComponents, extendedKeyUsage, trust anchor), so an SECC or CPS
   leaf is no vehicle certificate even when its root is trusted.
6. The leaf, for a ``purpose``: not a CA, keyUsage digitalSignature, no keyCertSign/cRLSign.
7. Size: at most 1600 bytes DER per certificate (fact sheet 4.2); critical extensions must be understood.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtensionOID, SignatureAlgorithmOID

from iso15118.errors import CertificateError
from iso15118.security.issuing import PROFILE_ALGORITHMS, KeyAlgorithm, key_algorithm_of
from iso15118.security.roles import ROLE_NAMES, Purpose, role_problems

_E = TypeVar("_E", bound=x509.ExtensionType)
# What cryptography raises for certificates it cannot parse (it parses names and extensions lazily).
_PARSE_ERRORS = (ValueError, TypeError, x509.InvalidVersion, x509.DuplicateExtension, x509.UnsupportedGeneralNameType)

__all__ = [
    "ISO2",
    "STRICT",
    "TOLERANT",
    "CertificateInfo",
    "ChainPolicy",
    "ChainValidationError",
    "Defect",
    "Purpose",
    "ValidatedChain",
    "check_end_entity",
    "check_role",
    "describe_certificate",
    "load_certificates",
    "subject_of",
    "validate_chain",
]


class Defect(StrEnum):
    """Why a chain was refused."""

    EXPIRED = "expired"
    NOT_YET_VALID = "not yet valid"
    UNKNOWN_ISSUER = "unknown issuer"
    BAD_SIGNATURE = "bad signature"
    WRONG_ALGORITHM = "wrong algorithm"
    WRONG_KEY_USAGE = "wrong key usage"
    NOT_A_CA = "not a CA"
    PATH_TOO_LONG = "path too long"
    NOT_END_ENTITY = "not an end entity"
    TOO_LARGE = "too large"
    UNSUPPORTED_EXTENSION = "unsupported critical extension"
    MALFORMED = "malformed"
    WRONG_ROLE = "wrong role"  # a certificate of another role (an SECC leaf offered as a vehicle's...)


class ChainValidationError(CertificateError):
    """A chain was refused; ``defect`` is the machine-readable reason, ``reason`` the sentence."""

    def __init__(self, defect: Defect, detail: str, *, subject: str | None = None) -> None:
        self.defect = defect
        super().__init__(f"{defect.value}: {detail}", subject=subject)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainPolicy:
    """Which algorithms and sizes a validation accepts."""

    algorithms: frozenset[KeyAlgorithm] = PROFILE_ALGORITHMS
    signature_oids: frozenset[x509.ObjectIdentifier] = frozenset(
        {SignatureAlgorithmOID.ECDSA_WITH_SHA512, SignatureAlgorithmOID.ED448}
    )
    max_der_size: int | None = 1600
    name: str = "ISO 15118-20"
    requirements: str = " [V2G20-2674] [V2G20-2319]"  # cited when a key is refused


STRICT = ChainPolicy()
TOLERANT = ChainPolicy(
    algorithms=frozenset(KeyAlgorithm),
    signature_oids=frozenset(
        {
            SignatureAlgorithmOID.ECDSA_WITH_SHA256,
            SignatureAlgorithmOID.ECDSA_WITH_SHA384,
            SignatureAlgorithmOID.ECDSA_WITH_SHA512,
            SignatureAlgorithmOID.ED448,
        }
    ),
    max_der_size=None,
    name="tolerant lab policy",
    requirements="",
)
#: ISO 15118-2 (Annex F as publicly restated): secp256r1 keys, ecdsa-with-SHA256, at most 800 bytes DER
#: (the -2 schema's certificateType).
ISO2 = ChainPolicy(
    algorithms=frozenset({KeyAlgorithm.SECP256R1}),
    signature_oids=frozenset({SignatureAlgorithmOID.ECDSA_WITH_SHA256}),
    max_der_size=800,
    name="ISO 15118-2",
    requirements="",
)

_OID_NAMES = {
    SignatureAlgorithmOID.ECDSA_WITH_SHA256: "ecdsa-with-SHA256",
    SignatureAlgorithmOID.ECDSA_WITH_SHA384: "ecdsa-with-SHA384",
    SignatureAlgorithmOID.ECDSA_WITH_SHA512: "ecdsa-with-SHA512",
    SignatureAlgorithmOID.ED448: "Ed448",
}

_UNDERSTOOD_CRITICAL = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidatedChain:
    """A chain that passed :func:`validate_chain`: ``certificates`` runs from the leaf to the root."""

    certificates: tuple[x509.Certificate, ...]
    purpose: Purpose | None
    algorithm: KeyAlgorithm

    @property
    def leaf(self) -> x509.Certificate:
        """The validated end certificate."""
        return self.certificates[0]

    @property
    def root(self) -> x509.Certificate:
        """The trust anchor the chain ends in."""
        return self.certificates[-1]

    def subjects(self) -> list[str]:
        """Subjects from leaf to root, as RFC 4514 strings."""
        return [subject_of(cert) for cert in self.certificates]


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateInfo:
    """What `v2g pki show` prints about one certificate."""

    subject: str
    issuer: str
    serial: int
    not_before: dt.datetime
    not_after: dt.datetime
    key_type: str
    signature: str
    ca: bool | None
    path_length: int | None
    key_usage: tuple[str, ...]
    der_size: int
    self_signed: bool
    extensions: tuple[str, ...] = field(default=())


def subject_of(cert: x509.Certificate) -> str:
    """The subject of ``cert`` as an RFC 4514 string."""
    try:
        return cert.subject.rfc4514_string()
    except ValueError:
        return "(unreadable subject)"


def load_certificates(data: bytes, *, source: str = "input") -> list[x509.Certificate]:
    """Parse one DER certificate or any number of PEM certificates; ``source`` names the input in errors."""
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except _PARSE_ERRORS as exc:
        raise ChainValidationError(
            Defect.MALFORMED, f"{source} holds no readable PEM or DER certificate ({exc})"
        ) from None
    if not certs:
        raise ChainValidationError(Defect.MALFORMED, f"{source} holds no certificate")
    for index, cert in enumerate(certs):
        try:  # cryptography parses names, extensions and keys lazily: find broken ones now, not later
            cert.subject.rfc4514_string()
            cert.issuer.rfc4514_string()
            list(cert.extensions)
            cert.signature_algorithm_oid  # noqa: B018
            _public_key(cert)
        except _PARSE_ERRORS as exc:
            raise ChainValidationError(
                Defect.MALFORMED, f"{source}: certificate {index + 1} is malformed ({exc})"
            ) from None
    return certs


def _public_key(cert: x509.Certificate) -> object:
    try:
        return cert.public_key()
    except (UnsupportedAlgorithm, ValueError):
        return None


def _key_type(cert: x509.Certificate) -> str:
    key = _public_key(cert)
    algo = key_algorithm_of(key)
    if algo is not None:
        return algo.value
    if key is None:
        return cert.public_key_algorithm_oid.dotted_string
    return type(key).__name__.removeprefix("_").replace("PublicKey", "")


def _signature_name(cert: x509.Certificate) -> str:
    name = getattr(cert.signature_algorithm_oid, "_name", None)
    return str(name) if name else cert.signature_algorithm_oid.dotted_string


def _key_usage_names(cert: x509.Certificate) -> tuple[str, ...]:
    ku = _extension(cert, x509.KeyUsage)
    if ku is None:
        return ()
    names = []
    for attr in (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
    ):
        if getattr(ku, attr):
            names.append(attr)
    return tuple(names)


def _extension(cert: x509.Certificate, kind: type[_E]) -> _E | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except _PARSE_ERRORS as exc:
        raise _fail(Defect.MALFORMED, cert, f"unreadable extensions ({exc})") from None


def describe_certificate(cert: x509.Certificate) -> CertificateInfo:
    """Summarise ``cert`` for display."""
    bc = _extension(cert, x509.BasicConstraints)
    return CertificateInfo(
        subject=subject_of(cert),
        issuer=cert.issuer.rfc4514_string(),
        serial=cert.serial_number,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_type=_key_type(cert),
        signature=_signature_name(cert),
        ca=bc.ca if bc is not None else None,
        path_length=bc.path_length if bc is not None else None,
        key_usage=_key_usage_names(cert),
        der_size=len(cert.public_bytes(serialization.Encoding.DER)),
        self_signed=cert.issuer == cert.subject,
        extensions=tuple(
            f"{getattr(ext.oid, '_name', ext.oid.dotted_string)}{' (critical)' if ext.critical else ''}"
            for ext in cert.extensions
        ),
    )


def _fail(defect: Defect, cert: x509.Certificate, detail: str) -> ChainValidationError:
    return ChainValidationError(defect, detail, subject=subject_of(cert))


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def _build_path(
    leaf: x509.Certificate, intermediates: Sequence[x509.Certificate], roots: Sequence[x509.Certificate]
) -> list[x509.Certificate]:
    chain = [leaf]
    while chain[-1] not in roots:
        current = chain[-1]
        if len(chain) > 16:
            raise _fail(Defect.PATH_TOO_LONG, leaf, "no trusted root within 16 certificates")
        named_roots = [r for r in roots if r.subject == current.issuer]
        named = [c for c in intermediates if c.subject == current.issuer and c not in chain]
        issuer = next((c for c in [*named_roots, *named] if _signed_by(current, c)), None)
        if issuer is None:
            who = current.issuer.rfc4514_string()
            if named_roots or named:
                raise _fail(
                    Defect.BAD_SIGNATURE, current, f"the signature does not verify with the key of its issuer {who}"
                )
            raise _fail(
                Defect.UNKNOWN_ISSUER,
                current,
                f"issuer {who} is neither a trusted root nor one of the intermediates given",
            )
        chain.append(issuer)
    return chain


def _check_algorithms(chain: Sequence[x509.Certificate], policy: ChainPolicy) -> None:
    allowed = ", ".join(sorted(a.value for a in policy.algorithms))
    signatures = " or ".join(sorted(_OID_NAMES.get(oid, oid.dotted_string) for oid in policy.signature_oids))
    for cert in chain:
        algo = key_algorithm_of(_public_key(cert))
        if algo is None or algo not in policy.algorithms:
            raise _fail(
                Defect.WRONG_ALGORITHM,
                cert,
                f"key is {_key_type(cert)}; {policy.name} allows {allowed}{policy.requirements}",
            )
        if cert.signature_algorithm_oid not in policy.signature_oids:
            raise _fail(
                Defect.WRONG_ALGORITHM,
                cert,
                f"signed with {_signature_name(cert)}; {policy.name} allows {signatures}",
            )


def _check_validity(chain: Sequence[x509.Certificate], now: dt.datetime) -> None:
    for cert in chain:
        if now > cert.not_valid_after_utc:
            raise _fail(
                Defect.EXPIRED,
                cert,
                f"not valid after {cert.not_valid_after_utc:%Y-%m-%d %H:%M:%S}Z (now {now:%Y-%m-%d %H:%M:%S}Z)",
            )
        if now < cert.not_valid_before_utc:
            raise _fail(
                Defect.NOT_YET_VALID,
                cert,
                f"not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M:%S}Z (now {now:%Y-%m-%d %H:%M:%S}Z)",
            )


def _check_authorities(chain: Sequence[x509.Certificate]) -> None:
    for depth, cert in enumerate(chain[1:], start=1):
        bc = _extension(cert, x509.BasicConstraints)
        if bc is None or not bc.ca:
            why = "has no basicConstraints" if bc is None else "has basicConstraints CA:FALSE"
            raise _fail(Defect.NOT_A_CA, cert, f"issues {subject_of(chain[depth - 1])} but {why}")
        ku = _extension(cert, x509.KeyUsage)
        if ku is None or not ku.key_cert_sign:
            raise _fail(Defect.WRONG_KEY_USAGE, cert, "a CA certificate needs keyUsage keyCertSign")
        below = depth - 1  # intermediate CAs between this CA and the leaf
        if bc.path_length is not None and below > bc.path_length:
            raise _fail(
                Defect.PATH_TOO_LONG,
                cert,
                f"pathLenConstraint {bc.path_length} allows {bc.path_length} Sub-CA(s) below it, the chain has {below}",
            )


def _check_leaf(leaf: x509.Certificate, purpose: Purpose) -> None:
    bc = _extension(leaf, x509.BasicConstraints)
    if bc is not None and bc.ca:
        raise _fail(Defect.NOT_END_ENTITY, leaf, f"a CA certificate cannot serve as {purpose.value} leaf")
    ku = _extension(leaf, x509.KeyUsage)
    if ku is None or not ku.digital_signature:
        raise _fail(Defect.WRONG_KEY_USAGE, leaf, f"{purpose.value} leaf needs keyUsage digitalSignature")
    if ku.key_cert_sign or ku.crl_sign:
        raise _fail(Defect.WRONG_KEY_USAGE, leaf, "a leaf must not have keyCertSign or cRLSign")


def check_role(chain: Sequence[x509.Certificate], purpose: Purpose) -> None:
    """Refuse ``chain[0]`` when it is a certificate of another role than ``purpose`` (see :mod:`.roles`).

    ``chain`` runs from the leaf upward, as far as it is known. Raises :class:`ChainValidationError` with
    :attr:`Defect.WRONG_ROLE`, the leaf's subject and every reason, e.g. ``not a vehicle certificate: its
    domainComponent CPO marks an SECC (CPO) certificate; ...``.
    """
    problems = role_problems(chain, purpose)
    if problems:
        raise _fail(Defect.WRONG_ROLE, chain[0], f"not {ROLE_NAMES[purpose]}: {'; '.join(problems)}")


def _check_form(chain: Sequence[x509.Certificate], policy: ChainPolicy) -> None:
    for cert in chain:
        if policy.max_der_size is not None:
            size = len(cert.public_bytes(serialization.Encoding.DER))
            if size > policy.max_der_size:
                raise _fail(Defect.TOO_LARGE, cert, f"{size} bytes DER, the limit is {policy.max_der_size}")
        try:
            extensions = list(cert.extensions)
        except _PARSE_ERRORS as exc:
            raise _fail(Defect.MALFORMED, cert, f"unreadable extensions ({exc})") from None
        for ext in extensions:
            if ext.critical and ext.oid not in _UNDERSTOOD_CRITICAL:
                raise _fail(Defect.UNSUPPORTED_EXTENSION, cert, f"critical extension {ext.oid.dotted_string}")


def validate_chain(
    leaf: x509.Certificate,
    intermediates: Iterable[x509.Certificate],
    roots: Iterable[x509.Certificate],
    *,
    now: dt.datetime,
    purpose: Purpose | None = Purpose.ANY,
    policy: ChainPolicy = STRICT,
) -> ValidatedChain:
    """Validate ``leaf`` up to one of ``roots``; raise :class:`ChainValidationError` naming the first defect.

    ``now`` must be timezone-aware. ``purpose`` None validates the certificate without end-entity checks
    (e.g. a Sub-CA certificate on its own).
    """
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    root_list, pool = list(roots), list(intermediates)
    chain = _build_path(leaf, pool, root_list)
    _check_algorithms(chain, policy)
    _check_validity(chain, now)
    _check_authorities(chain)
    if purpose is not None:
        check_role(chain, purpose)
        _check_leaf(leaf, purpose)
    _check_form(chain, policy)
    algo = key_algorithm_of(_public_key(leaf)) or KeyAlgorithm.SECP521R1  # never None: checked above
    return ValidatedChain(certificates=tuple(chain), purpose=purpose, algorithm=algo)


def check_end_entity(
    cert: x509.Certificate,
    *,
    purpose: Purpose,
    now: dt.datetime,
    policy: ChainPolicy = STRICT,
    issuers: Sequence[x509.Certificate] = (),
) -> None:
    """Check one end-entity certificate: algorithm, validity, role, leaf usage, size and extensions.

    For a TLS peer whose chain the TLS library already verified, this adds the -20 profile checks that
    OpenSSL does not make (key algorithm, digitalSignature, role). ``issuers`` are the certificates above
    ``cert`` up to the root, when known (the verified chain): the role check then also looks at the
    Sub-CAs and the trust anchor, e.g. refuses a "vehicle" leaf whose chain ends at a V2G root through CPO
    Sub-CAs.
    """
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    _check_algorithms([cert], policy)
    _check_validity([cert], now)
    check_role([cert, *issuers], purpose)
    _check_leaf(cert, purpose)
    _check_form([cert], policy)
