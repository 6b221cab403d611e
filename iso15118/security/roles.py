"""Which certificate may serve which role, and why one does not: vehicle, SECC, CPS, contract, OEM provisioning.

Key usage alone cannot tell the leafs of the -20 PKI apart (the SECC, vehicle and OEM provisioning leafs all
carry digitalSignature + keyAgreement), so a charger that trusted the V2G root for vehicles accepted its own
SECC leaf, or a CPS leaf, as a car. :func:`role_problems` judges a leaf for a :class:`Purpose` by what the
profiles (:mod:`iso15118.security.profiles`) make different between the roles:

1. The leaf's domainComponent: CPO (SECC), CPS, OEM (vehicle and OEM provisioning), MO (contract).
2. The leaf's extendedKeyUsage, when it has one: serverAuth for the SECC, clientAuth for the vehicle; a TLS
   usage alone on a CPS, contract or OEM provisioning leaf marks it as a TLS certificate.
3. The domains of the certificates above it, when the chain is known: the Sub-CAs of an SECC or CPS leaf are
   V2G Sub-CAs; those of a vehicle or OEM provisioning leaf are OEM Sub-CAs; those of a contract MO (or V2G)
   Sub-CAs. The root is a V2G root for SECC and CPS, an OEM root for the vehicle -- or the V2G root above OEM
   Sub-CAs `[V2G20-2331]` -- and an MO or V2G root for contracts.

Who is trusted at all (the configured anchors, e.g. only OEM roots for vehicle certificates) is the caller's
choice: :func:`~iso15118.security.certs.validate_chain` gets the roots, the SECC's TLS context loads only the
vehicle anchors. These checks are the second line: they catch a certificate of another role whose chain a
configured anchor would accept.

Assumptions (the -20 certificate annex was not available; see :mod:`iso15118.security.profiles`): the
domainComponent values follow the ISO 15118-2 profiles ("CPO" on the SECC leaf is [V2G2-925] there); the EKU
values are our test PKI's. A marker that is absent is no evidence either way -- a certificate without a
domainComponent or extendedKeyUsage is judged by its anchor alone -- so an OEM provisioning leaf without an
EKU, issued by an OEM Sub-CA that is also trusted for vehicles, cannot be told from a vehicle leaf by content.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["ROLE_NAMES", "ROLE_RULES", "Purpose", "RoleRule", "domains_of", "role_problems"]


class Purpose(StrEnum):
    """What an end-entity certificate is about to be used for."""

    SECC_TLS = "secc-tls"  # TLS server certificate of the SECC
    VEHICLE_TLS = "vehicle-tls"  # TLS client certificate of the EV [V2G20-1264]
    OEM_PROVISIONING = "oem-provisioning"  # signs CertificateInstallationReq [V2G20-2342]
    CONTRACT = "contract"  # PnC signatures of the EV
    CPS = "cps"  # signs SignedInstallationData
    ANY = "any"  # any end-entity signing use


ROLE_NAMES: Final[dict[Purpose, str]] = {
    Purpose.SECC_TLS: "an SECC (CPO) certificate",
    Purpose.VEHICLE_TLS: "a vehicle certificate",
    Purpose.OEM_PROVISIONING: "an OEM provisioning certificate",
    Purpose.CONTRACT: "a contract certificate",
    Purpose.CPS: "a CPS certificate",
}

_SERVER, _CLIENT = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH
_TLS_USAGES = frozenset({_SERVER, _CLIENT})
_EKU_NAMES = {_SERVER: "serverAuth", _CLIENT: "clientAuth", ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "any"}
# What a leaf's domainComponent says it is, for the reason text.
_DOMAIN_MEANS = {
    "CPO": "an SECC (CPO) certificate",
    "CPS": "a CPS certificate",
    "OEM": "a vehicle or OEM provisioning certificate",
    "MO": "a contract certificate",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleRule:
    """What a leaf of one role and the certificates above it look like."""

    leaf_domain: str
    sub_ca_domains: frozenset[str]
    root_domains: frozenset[str]
    tls_usage: x509.ObjectIdentifier | None  # the EKU a TLS leaf must list when it has an EKU at all
    anchor: str  # the trust anchor, in words
    sub_cas_under_v2g: frozenset[str] = frozenset()  # Sub-CA domains required when the root is a V2G root


_V2G, _OEM, _MO = frozenset({"V2G"}), frozenset({"OEM"}), frozenset({"MO"})
ROLE_RULES: Final[dict[Purpose, RoleRule]] = {
    Purpose.SECC_TLS: RoleRule(
        leaf_domain="CPO", sub_ca_domains=_V2G, root_domains=_V2G, tls_usage=_SERVER, anchor="a V2G root"
    ),
    Purpose.CPS: RoleRule(
        leaf_domain="CPS", sub_ca_domains=_V2G, root_domains=_V2G, tls_usage=None, anchor="a V2G root"
    ),
    # [V2G20-2331]: a vehicle certificate may also anchor at the V2G root -- through OEM Sub-CAs.
    Purpose.VEHICLE_TLS: RoleRule(
        leaf_domain="OEM",
        sub_ca_domains=_OEM,
        root_domains=_OEM | _V2G,
        tls_usage=_CLIENT,
        anchor="an OEM root (or the V2G root through OEM Sub-CAs)",
        sub_cas_under_v2g=_OEM,
    ),
    Purpose.OEM_PROVISIONING: RoleRule(
        leaf_domain="OEM",
        sub_ca_domains=_OEM,
        root_domains=_OEM | _V2G,
        tls_usage=None,
        anchor="an OEM root (or the V2G root through OEM Sub-CAs)",
        sub_cas_under_v2g=_OEM,
    ),
    Purpose.CONTRACT: RoleRule(
        leaf_domain="MO", sub_ca_domains=_MO | _V2G, root_domains=_MO | _V2G, tls_usage=None, anchor="an MO or V2G root"
    ),
}


def domains_of(cert: x509.Certificate) -> list[str]:
    """The domainComponent values of ``cert``'s subject (empty when it has none or they are unreadable)."""
    try:
        return [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.DOMAIN_COMPONENT)]
    except ValueError:
        return []


def _usages(cert: x509.Certificate) -> list[x509.ObjectIdentifier] | None:
    try:
        return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return None
    except ValueError:
        return []  # unreadable: no usage we could accept


def _name(cert: x509.Certificate) -> str:
    try:
        return cert.subject.rfc4514_string()
    except ValueError:
        return "(unreadable subject)"


def _eku_text(usages: Sequence[x509.ObjectIdentifier]) -> str:
    return ", ".join(_EKU_NAMES.get(u, u.dotted_string) for u in usages) or "nothing"


def _leaf_problems(leaf: x509.Certificate, purpose: Purpose, rule: RoleRule) -> list[str]:
    role = ROLE_NAMES[purpose]
    problems = []
    domains = domains_of(leaf)
    if domains and rule.leaf_domain not in domains:
        means = " and ".join(_DOMAIN_MEANS.get(d, f"the {d} domain") for d in domains)
        problems.append(f"its domainComponent {','.join(domains)} marks {means}, while {role} has {rule.leaf_domain}")
    usages = _usages(leaf)
    if usages is None or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in usages:
        return problems
    if rule.tls_usage is not None and rule.tls_usage not in usages:
        wanted = _EKU_NAMES[rule.tls_usage]
        if _SERVER in usages:
            marks = "marks a TLS server (SECC) certificate"
        elif _CLIENT in usages:
            marks = "marks a TLS client (vehicle) certificate"
        else:
            marks = f"lacks {wanted}"
        problems.append(f"its extendedKeyUsage {_eku_text(usages)} {marks}, while {role} needs {wanted}")
    elif rule.tls_usage is None and usages and set(usages) <= _TLS_USAGES:
        problems.append(f"its extendedKeyUsage {_eku_text(usages)} marks a TLS certificate, not {role}")
    return problems


def _chain_problems(chain: Sequence[x509.Certificate], purpose: Purpose, rule: RoleRule) -> list[str]:
    role = ROLE_NAMES[purpose]
    problems = []
    top = chain[-1]
    rooted = len(chain) > 1 and top.issuer == top.subject
    sub_cas = chain[1:-1] if rooted else chain[1:]
    under_v2g = rooted and "V2G" in domains_of(top) and bool(rule.sub_cas_under_v2g)
    allowed = rule.sub_cas_under_v2g if under_v2g else rule.sub_ca_domains
    for ca in sub_cas:
        domains = domains_of(ca)
        # Under a V2G root only Sub-CAs that say they are OEM's may issue vehicle certificates [V2G20-2331].
        if (domains or under_v2g) and not allowed & set(domains):
            kind = f"a Sub-CA of the {','.join(domains)} domain" if domains else "a Sub-CA without domainComponent"
            problems.append(
                f"it was issued through {_name(ca)}, {kind}, while {role} comes from "
                f"{' or '.join(sorted(allowed))} Sub-CAs"
            )
            break
    if rooted and domains_of(top) and not rule.root_domains & set(domains_of(top)):
        problems.append(f"its chain ends at {_name(top)}, which is not {rule.anchor}")
    return problems


def role_problems(chain: Sequence[x509.Certificate], purpose: Purpose) -> list[str]:
    """Why ``chain[0]`` cannot serve as ``purpose``, one sentence per reason (empty: nothing speaks against it).

    ``chain`` runs from the leaf upward: the leaf alone, the leaf with the Sub-CAs a peer sent, or a whole path
    ending in its self-signed root. The more of it there is, the more is checked. :attr:`Purpose.ANY` has no
    role and passes.
    """
    rule = ROLE_RULES.get(purpose)
    if rule is None or not chain:
        return []
    return _leaf_problems(chain[0], purpose, rule) + _chain_problems(chain, purpose, rule)
