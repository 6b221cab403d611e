"""Deliberately defective certificates for tests and the conformance harness.

:func:`defective_leaf` issues a stand-in for one leaf of a :class:`~iso15118.security.pki.Pki` (by default
the SECC leaf) that is wrong in exactly one way, named by a :class:`~iso15118.security.certs.Defect`, and
returns it with the intermediates its holder would send. Everything else (names, issuer, algorithm) follows
the profile, so a validator must refuse it for that one reason:

========================  ==========================================================================
``EXPIRED``               validity ended one day before ``now``
``NOT_YET_VALID``         validity starts 30 days after ``now``
``UNKNOWN_ISSUER``        issued under a separate root (same profile) that nobody trusts
``BAD_SIGNATURE``         issued by an impostor Sub-CA 2 with the real one's name but its own key
``WRONG_ALGORITHM``       a P-256 key (ISO 15118-2 / lab style), signed correctly by the real Sub-CA 2
``WRONG_KEY_USAGE``       keyUsage nonRepudiation only (no digitalSignature)
``PATH_TOO_LONG``         one more Sub-CA below Sub-CA 2, whose pathLenConstraint is 0
``NOT_A_CA``              issued by the genuine leaf itself (CA:FALSE)
``NOT_END_ENTITY``        the leaf claims CA:TRUE
``TOO_LARGE``             padded with subjectAltName entries beyond 1600 bytes DER
``UNSUPPORTED_EXTENSION`` carries an unknown critical extension
``WRONG_ROLE``            names another role's domain (DC=OEM on a CPO, CPS or MO leaf, DC=CPO on an OEM leaf)
========================  ==========================================================================
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from cryptography import x509

from iso15118.errors import ConfigError
from iso15118.security.certs import Defect
from iso15118.security.issuing import CertificateSpec, Issued, KeyAlgorithm, KeyUsage, issue_certificate
from iso15118.security.pki import Pki
from iso15118.security.profiles import PROFILES, Entity, chain_of, spec_for

__all__ = ["DEFECTS", "DefectiveCertificate", "defective_leaf"]

_UNKNOWN_OID = x509.ObjectIdentifier("1.3.6.1.4.1.55555.15118.1")  # a private arc no validator knows


@dataclass(frozen=True, slots=True, kw_only=True)
class DefectiveCertificate:
    """A bad leaf with its key, the intermediates to send with it, and the defect it carries."""

    issued: Issued
    intermediates: tuple[x509.Certificate, ...]
    defect: Defect
    entity: Entity


def _spec(pki: Pki, entity: Entity, now: dt.datetime) -> CertificateSpec:
    return spec_for(entity, algorithm=pki.algorithm, now=now, identities=pki.identities)


def _subs(pki: Pki, entity: Entity) -> list[x509.Certificate]:
    """The genuine Sub-CAs above ``entity`` (Sub-CA 2 first)."""
    return [pki[e].certificate for e in chain_of(entity)[1:-1]]


def _foreign_chain(pki: Pki, entity: Entity, now: dt.datetime) -> tuple[Issued, list[x509.Certificate]]:
    """A root and Sub-CAs shaped like the genuine ones but with other keys and an 'Unknown' name."""
    issuer: Issued | None = None
    made: list[Issued] = []
    for ca in reversed(chain_of(entity)[1:]):
        spec = _spec(pki, ca, now)
        spec = dataclasses.replace(spec, common_name=f"Unknown{spec.common_name}"[:64])
        issuer = issue_certificate(spec, algorithm=pki.algorithm, issuer=issuer)
        made.append(issuer)
    if issuer is None:  # pragma: no cover - every leaf has issuers
        raise ConfigError(f"{entity.value} has no issuer")
    return issuer, [m.certificate for m in reversed(made[1:])]


def defective_leaf(
    pki: Pki, defect: Defect, *, entity: Entity = Entity.SECC_LEAF, now: dt.datetime | None = None
) -> DefectiveCertificate:
    """Issue a stand-in for ``entity`` that breaks the profile in exactly the way ``defect`` names."""
    if PROFILES[entity].ca:
        raise ConfigError(f"{entity.value} is a CA; defective certificates replace leafs")
    moment = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    issuer_entity = PROFILES[entity].issuer
    if issuer_entity is None:  # pragma: no cover - leafs always have an issuer
        raise ConfigError(f"{entity.value} has no issuer")
    issuer = pki[issuer_entity]
    subs = _subs(pki, entity)
    spec = _spec(pki, entity, moment)
    algorithm = pki.algorithm
    if defect is Defect.EXPIRED:
        spec = dataclasses.replace(
            spec, not_before=moment - dt.timedelta(days=365), not_after=moment - dt.timedelta(days=1)
        )
    elif defect is Defect.NOT_YET_VALID:
        spec = dataclasses.replace(
            spec, not_before=moment + dt.timedelta(days=30), not_after=moment + dt.timedelta(days=60)
        )
    elif defect is Defect.UNKNOWN_ISSUER:
        issuer, subs = _foreign_chain(pki, entity, moment)
        subs = [issuer.certificate, *subs]
    elif defect is Defect.BAD_SIGNATURE:
        impostor_spec = _spec(pki, issuer_entity, moment)
        impostor = issue_certificate(impostor_spec, algorithm=algorithm, issuer=pki[chain_of(entity)[2]])
        issuer = impostor
    elif defect is Defect.WRONG_ALGORITHM:
        algorithm = KeyAlgorithm.SECP256R1
    elif defect is Defect.WRONG_KEY_USAGE:
        spec = dataclasses.replace(spec, key_usage=frozenset({KeyUsage.CONTENT_COMMITMENT}))
    elif defect is Defect.PATH_TOO_LONG:
        extra = dataclasses.replace(_spec(pki, issuer_entity, moment), common_name="ExtraSubCA3", path_length=0)
        issuer = issue_certificate(extra, algorithm=algorithm, issuer=issuer)
        subs = [issuer.certificate, *subs]
    elif defect is Defect.NOT_A_CA:
        issuer = pki[entity]
        subs = [issuer.certificate, *subs]
    elif defect is Defect.NOT_END_ENTITY:
        spec = dataclasses.replace(
            spec, ca=True, path_length=0, key_usage=frozenset({KeyUsage.DIGITAL_SIGNATURE, KeyUsage.KEY_CERT_SIGN})
        )
    elif defect is Defect.TOO_LARGE:
        names = [x509.DNSName(f"padding-{i:04d}.invalid") for i in range(80)]
        spec = dataclasses.replace(spec, extra_extensions=((x509.SubjectAlternativeName(names), False),))
    elif defect is Defect.UNSUPPORTED_EXTENSION:
        unknown = x509.UnrecognizedExtension(_UNKNOWN_OID, b"\x05\x00")
        spec = dataclasses.replace(spec, extra_extensions=((unknown, True),))
    elif defect is Defect.WRONG_ROLE:
        spec = dataclasses.replace(spec, domain_component="CPO" if spec.domain_component == "OEM" else "OEM")
    else:
        raise ConfigError(f"no defective certificate is defined for {defect.value!r}")
    issued = issue_certificate(spec, algorithm=algorithm, issuer=issuer)
    return DefectiveCertificate(issued=issued, intermediates=tuple(subs), defect=defect, entity=entity)


DEFECTS: tuple[Defect, ...] = tuple(d for d in Defect if d is not Defect.MALFORMED)
"""Every defect :func:`defective_leaf` can produce."""
