"""`v2g pki`: make, show and check ISO 15118-20 and ISO 15118-2 test PKIs.

* ``v2g pki init DIR [--profile iso20|iso2] [--algorithm secp521r1|ed448|secp256r1] [--force] [--evccid ...]
  [--emaid ...] [--secc-id ...]`` writes the complete test PKI (-20 by default; ``--profile iso2``: the -2 PKI,
  secp256r1 / ecdsa-with-SHA256, same layout); refuses to touch an existing one unless ``--force``, which
  first moves the old files to ``DIR/replaced-<time>/``.
* ``v2g pki show DIR`` prints the certificates found under DIR as issuer trees (any directory of PEM/DER
  certificates, not only ours).
* ``v2g pki verify PKIDIR`` checks a whole PKI written by ``init`` (either profile, as its manifest says):
  every file, every certificate against its profile, every chain; ``OK`` or one line per problem.
* ``v2g pki verify CERT --roots DIR [--profile iso20|iso2] [--as vehicle|secc|cps|contract|oem-provisioning |
  --purpose P]`` validates CERT (a certificate or a leaf-first PEM chain) up to the self-signed certificates
  under DIR, using the other certificates there as intermediates, with the chosen generation's certificate
  policy, and -- with a role -- that CERT is a certificate of that role (:mod:`iso15118.security.roles`: an
  SECC or CPS leaf is no vehicle certificate even though its root is trusted); prints ``OK`` and the chain,
  or ``FAILED`` and the reason (exit code 1), plus a ``role:`` line when a certificate refused for another
  reason would not fit the role either.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from iso15118.errors import CertificateError, ConfigError
from iso15118.security.certs import (
    TOLERANT,
    ChainValidationError,
    Defect,
    Purpose,
    describe_certificate,
    load_certificates,
    subject_of,
    validate_chain,
)
from iso15118.security.pki import init_pki, load_pki, verify_pki_layout
from iso15118.security.pkikinds import PKI_KINDS, pki_kind
from iso15118.security.profiles import (
    DEFAULT_EMAID,
    DEFAULT_EVCCID,
    DEFAULT_OEM,
    DEFAULT_PCID,
    DEFAULT_SECC_ID,
)
from iso15118.security.roles import ROLE_NAMES, role_problems

__all__ = ["register"]

_CERT_SUFFIXES = (".pem", ".der", ".crt", ".cer")
_ROLES = {
    "vehicle": Purpose.VEHICLE_TLS,
    "secc": Purpose.SECC_TLS,
    "cps": Purpose.CPS,
    "contract": Purpose.CONTRACT,
    "oem-provisioning": Purpose.OEM_PROVISIONING,
}
_SKIPPED_DIRS = ("private", "chains")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``pki init|show|verify`` to the `v2g` parser."""
    pki = subparsers.add_parser("pki", help="make, show and check ISO 15118-20 test PKIs")
    sub = pki.add_subparsers(dest="pki_command", metavar="ACTION", required=True)

    init = sub.add_parser("init", help="write a complete -20 (or -2) test PKI to DIR")
    init.add_argument("directory", type=Path, metavar="DIR")
    init.add_argument(
        "--profile", choices=list(PKI_KINDS), default="iso20", help="iso20 (default) or iso2: the ISO 15118-2 PKI"
    )
    init.add_argument(
        "--algorithm",
        choices=("secp521r1", "ed448", "secp256r1"),
        default=None,
        help="key algorithm (default: secp521r1 for iso20; iso2 allows only secp256r1)",
    )
    init.add_argument(
        "--force", action="store_true", help="replace an existing PKI (its files are moved to DIR/replaced-<time>/)"
    )
    init.add_argument("--evccid", default=DEFAULT_EVCCID, help="vehicle certificate CN")
    init.add_argument("--emaid", default=DEFAULT_EMAID, help="contract certificate CN (separators removed)")
    init.add_argument("--secc-id", default=DEFAULT_SECC_ID, help="SECC certificate CN")
    init.add_argument("--pcid", default=DEFAULT_PCID, help="OEM provisioning certificate CN")
    init.add_argument("--oem", default=DEFAULT_OEM, help="O of the OEM chain")
    init.set_defaults(func=_init)

    show = sub.add_parser("show", help="print the certificate trees found under DIR")
    show.add_argument("directory", type=Path, metavar="DIR")
    show.set_defaults(func=_show)

    verify = sub.add_parser("verify", help="validate CERT up to the roots under DIR, or check a whole PKI")
    verify.add_argument(
        "certificate", type=Path, metavar="CERT", help="certificate or leaf-first PEM chain, or a PKI directory"
    )
    verify.add_argument(
        "--roots",
        type=Path,
        default=None,
        metavar="DIR",
        help="directory (or PEM bundle) with the trusted roots and any intermediates (required for CERT)",
    )
    verify.add_argument(
        "--profile",
        choices=list(PKI_KINDS),
        default="iso20",
        help="certificate profile to validate with: iso20 (default) or iso2 (secp256r1, ecdsa-with-SHA256)",
    )
    use = verify.add_mutually_exclusive_group()
    use.add_argument(
        "--as",
        dest="role",
        choices=list(_ROLES),
        help="the role CERT must fit (vehicle = TLS client, secc = TLS server, ...); says why it does not",
    )
    use.add_argument(
        "--purpose",
        choices=["auto", *(p.value for p in Purpose)],
        default="auto",
        help="end-entity use to check (auto: none for CA certificates, 'any' otherwise); roles as with --as",
    )
    verify.add_argument(
        "--at", type=_timestamp, default=None, metavar="TIME", help="validate at this ISO 8601 time (default: now)"
    )
    verify.add_argument(
        "--tolerant", action="store_true", help="lab policy: also accept P-256/P-384 keys and SHA-256/384 signatures"
    )
    verify.set_defaults(func=_verify)


def _timestamp(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _init(args: argparse.Namespace) -> int:
    layout = init_pki(
        args.directory,
        kind=args.profile,
        algorithm=args.algorithm,
        force=args.force,
        evccid=args.evccid,
        emaid=args.emaid,
        secc_id=args.secc_id,
        pcid=args.pcid,
        oem=args.oem,
    )
    problems = verify_pki_layout(args.directory)
    print(
        f"wrote a {layout.algorithm.value} {layout.kind.title} test PKI to {layout.directory} "
        f"({len(layout.entities)} certificates, see {layout.readme.name})"
    )
    for problem in problems:  # a fresh PKI has none; say so loudly if it ever does
        print(f"problem: {problem}")
    return 1 if problems else 0


def _certificate_files(directory: Path) -> list[Path]:
    if directory.is_file():
        return [directory]
    if not directory.is_dir():
        raise ConfigError(f"{directory} is neither a directory nor a file")
    files = []
    order = {suffix: rank for rank, suffix in enumerate(_CERT_SUFFIXES)}  # PEM files name a certificate first
    ranked = sorted(directory.rglob("*"), key=lambda p: (p.parent, p.stem, order.get(p.suffix.lower(), 9)))
    for path in ranked:
        parts = path.relative_to(directory).parts[:-1]
        if any(p in _SKIPPED_DIRS or p.startswith("replaced-") for p in parts):
            continue
        if path.is_file() and path.suffix.lower() in _CERT_SUFFIXES and ".key" not in path.name:
            files.append(path)
    return files


def _collect(directory: Path) -> list[tuple[x509.Certificate, Path]]:
    """Every distinct certificate under ``directory`` with the first file that holds it."""
    seen: dict[bytes, tuple[x509.Certificate, Path]] = {}
    for path in _certificate_files(directory):
        data = path.read_bytes()
        if path.suffix.lower() != ".der" and b"-----BEGIN CERTIFICATE" not in data:
            continue
        try:
            certs = load_certificates(data, source=str(path))
        except CertificateError:
            continue
        for cert in certs:
            seen.setdefault(cert.public_bytes(serialization.Encoding.DER), (cert, path))
    if not seen:
        raise ConfigError(f"no certificates found under {directory}")
    return list(seen.values())


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert == issuer or cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):  # just "not this issuer"
        return False
    return True


def _describe(cert: x509.Certificate, path: Path, base: Path, indent: str) -> list[str]:
    info = describe_certificate(cert)
    path_length = info.path_length if info.path_length is not None else "none"
    ca = f"CA pathLen={path_length}" if info.ca else "end entity"
    where = path.relative_to(base) if path.is_relative_to(base) else path
    return [
        f"{indent}{info.subject}  [{where}]",
        f"{indent}    issuer   {'self-signed' if info.self_signed else info.issuer}",
        f"{indent}    valid    {info.not_before:%Y-%m-%d %H:%M:%S}Z .. {info.not_after:%Y-%m-%d %H:%M:%S}Z",
        f"{indent}    key      {info.key_type}, signed {info.signature}, {info.der_size} bytes DER",
        f"{indent}    usage    {ca}; {', '.join(info.key_usage) or 'no keyUsage'}",
    ]


def _show(args: argparse.Namespace) -> int:
    base = args.directory
    found = _collect(base)
    certs = [c for c, _ in found]
    parent = {i: next((j for j, p in enumerate(certs) if _issued_by(c, p)), None) for i, c in enumerate(certs)}
    children: dict[int | None, list[int]] = {}
    for index, issuer in parent.items():
        children.setdefault(issuer, []).append(index)
    lines: list[str] = []

    def walk(index: int, depth: int) -> None:
        cert, path = found[index]
        lines.extend(_describe(cert, path, base, "    " * depth))
        for child in children.get(index, []):
            walk(child, depth + 1)

    for top in children.get(None, []):
        if found[top][0].issuer != found[top][0].subject:
            lines.append(f"(issuer not found: {found[top][0].issuer.rfc4514_string()})")
        walk(top, 0)
        lines.append("")
    print("\n".join(lines).rstrip())
    return 0


def _verify_layout(directory: Path, at: dt.datetime | None) -> int:
    kind = load_pki(directory).kind
    problems = verify_pki_layout(directory, now=at)
    for problem in problems:
        print(f"FAILED: {problem}")
    if not problems:
        print(f"OK: {directory} is a complete, valid {kind.title} test PKI")
    return 1 if problems else 0


def _verify(args: argparse.Namespace) -> int:
    if args.certificate.is_dir():
        return _verify_layout(args.certificate, args.at)
    if args.roots is None:
        raise ConfigError("verifying a certificate needs --roots DIR (the trusted roots and intermediates)")
    chain = load_certificates(args.certificate.read_bytes(), source=str(args.certificate))
    pool = [c for c, _ in _collect(args.roots)]
    roots = [c for c in pool if c.issuer == c.subject and _issued_by_self(c)]
    if not roots:
        raise ConfigError(f"no self-signed root certificates under {args.roots}")
    intermediates = [*chain[1:], *(c for c in pool if c not in roots)]
    leaf = chain[0]
    if args.role is not None:
        purpose: Purpose | None = _ROLES[args.role]
    elif args.purpose == "auto":
        purpose = None if describe_certificate(leaf).ca else Purpose.ANY
    else:
        purpose = Purpose(args.purpose)
    now = args.at or dt.datetime.now(dt.UTC)
    try:
        policy = TOLERANT if args.tolerant else pki_kind(args.profile).policy
        result = validate_chain(leaf, intermediates, roots, now=now, purpose=purpose, policy=policy)
    except ChainValidationError as exc:
        print(f"FAILED: {args.certificate}: {exc}")
        if purpose is not None and exc.defect is not Defect.WRONG_ROLE:
            # Refused for another reason first; say whether it would fit the role at all.
            problems = role_problems(chain, purpose)
            if problems:
                print(f"  role: not {ROLE_NAMES[purpose]}: {'; '.join(problems)}")
        return 1
    if purpose is not None and purpose in ROLE_NAMES:
        what = f"valid as {ROLE_NAMES[purpose]} (purpose {purpose.value})"
    else:
        what = f"a valid end-entity certificate (purpose {purpose.value})" if purpose else "a valid certificate"
    print(f"OK: {subject_of(leaf)} is {what}, {result.algorithm.value}, at {now:%Y-%m-%d %H:%M:%S}Z")
    for depth, cert in enumerate(result.certificates):
        print(f"  {'  ' * depth}{'└─ ' if depth else ''}{subject_of(cert)}")
    return 0


def _issued_by_self(cert: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(cert)
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):  # not a genuine self-signature
        return False
    return True
