"""The ISO 15118-20 certificate profiles: which certificates the test PKI has and what each one says.

One table, :data:`PROFILES`, lists every certificate of the four chains (fact sheet 4.2):

* V2G root → CPO Sub-CA 1 (pathLen 1) → CPO Sub-CA 2 (pathLen 0) → SECC leaf (TLS server)
* V2G root → CPS Sub-CA 1 (pathLen 1) → CPS Sub-CA 2 (pathLen 0) → CPS leaf (signs SignedInstallationData)
* OEM root → OEM Sub-CA 1 (pathLen 1) → OEM Sub-CA 2 (pathLen 0) → vehicle leaf (TLS client, CN = EVCCID,
  O = OEM `[V2G20-2598]`) and OEM provisioning leaf (CN = PCID, signs CertificateInstallationReq
  `[V2G20-2342]`)
* MO root → MO Sub-CA 1 (pathLen 1) → MO Sub-CA 2 (pathLen 0) → contract leaf (CN = eMAID)

Assumptions (the ISO text of the -20 certificate annex was not available; these follow the fact sheet, the
public restatements of the ISO 15118-2 Annex F profiles and public certificate policies of V2G PKI operators):

* Keys and signatures: secp521r1 with ecdsa-with-SHA512 `[V2G20-2674]` or Ed448 `[V2G20-2319]`, one algorithm
  for the whole PKI (a configuration choice `[V2G20-2320]`).
* Subject: CN, O, C and a domainComponent naming the domain: "V2G" for the V2G root and every Sub-CA under
  it, "CPO" for the SECC leaf, "CPS" for the CPS leaf, "OEM" for the OEM chain, "MO" for the MO chain.
* Extensions: basicConstraints critical on every certificate (CA:TRUE with the path lengths above, no
  pathLen on roots; CA:FALSE on leafs); keyUsage critical: keyCertSign + cRLSign on CAs, digitalSignature on
  leafs, plus keyAgreement on the SECC, vehicle and OEM provisioning leafs (ECDH partners) and
  nonRepudiation on the contract leaf. keyAgreement is left out for Ed448 keys, which cannot agree keys
  (RFC 8410 section 5). subjectKeyIdentifier everywhere, authorityKeyIdentifier on issued certificates. No
  OCSP/AIA (the test PKI has no responder).
* Roles: keyUsage does not tell the SECC, vehicle and OEM provisioning leafs apart, so each leaf carries its
  role in its domainComponent (above) and the two TLS leafs also in a non-critical extendedKeyUsage:
  serverAuth on the SECC leaf, clientAuth on the vehicle leaf (our choice, not from the -20 annex; OpenSSL
  then also refuses either one in the other's place). No EKU on the other leafs. What each role's chain must
  look like is :mod:`iso15118.security.roles`.
* The vehicle leaf's CN is the EVCCID the EV sends in SessionSetupReq (``--evccid``; `v2g evcc` with a PKI
  takes its EVCCID from this CN unless one is configured).
* Validity (maximum values, UNCONFIRMED against the -20 annex): roots 40 years, Sub-CA 1 four years,
  Sub-CA 2 two years, SECC, vehicle, OEM provisioning and CPS leafs one year, contract leaf two years. A leaf
  never outlives its issuer (not_after is clamped).
* Identifiers: eMAID written without separators (``DE-ABC-C123ABC56-0`` becomes ``DEABCC123ABC560``:
  country, provider, 9-character instance, optional check character); SECCID as ``<CC><Operator>S<32+
  controller characters><check>`` without separators; PCID 17 or 18 alphanumerics; EVCCID 1 to 64 printable
  characters. The 64-character limit is X.520's upper bound for a common name.
* Every certificate must stay within 1600 bytes DER (fact sheet 4.2).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from iso15118.errors import ConfigError
from iso15118.security.issuing import CertificateSpec, HashName, KeyAlgorithm, KeyUsage

__all__ = [
    "CONTRACT_ANCHORS",
    "DEFAULT_EMAID",
    "DEFAULT_EVCCID",
    "DEFAULT_OEM",
    "DEFAULT_PCID",
    "DEFAULT_SECC_ID",
    "MAX_CERTIFICATE_DER_SIZE",
    "PROFILES",
    "SECC_ANCHORS",
    "VEHICLE_ANCHORS",
    "Entity",
    "Identities",
    "Profile",
    "ca_profile",
    "chain_of",
    "leaf_profile",
    "normalize_emaid",
    "normalize_secc_id",
    "spec_for",
]

MAX_CERTIFICATE_DER_SIZE = 1600
DEFAULT_EVCCID = "V2GSTACKEVCC00001"
DEFAULT_EMAID = "DEABCC123ABC560"  # DE-ABC-C123ABC56-0 without separators
DEFAULT_SECC_ID = "DEV2GS0123456789ABCDEF0123456789ABCDEF0"
DEFAULT_PCID = "V2GSTACKPCID00001"
DEFAULT_OEM = "v2gstack test OEM"
_YEAR = dt.timedelta(days=365)


class Entity(StrEnum):
    """Every certificate of the test PKI; the value is its file stem."""

    V2G_ROOT = "v2g_root"
    CPO_SUB_CA1 = "cpo_sub_ca1"
    CPO_SUB_CA2 = "cpo_sub_ca2"
    SECC_LEAF = "secc_leaf"
    CPS_SUB_CA1 = "cps_sub_ca1"
    CPS_SUB_CA2 = "cps_sub_ca2"
    CPS_LEAF = "cps_leaf"
    OEM_ROOT = "oem_root"
    OEM_SUB_CA1 = "oem_sub_ca1"
    OEM_SUB_CA2 = "oem_sub_ca2"
    VEHICLE_LEAF = "vehicle_leaf"
    OEM_PROV_LEAF = "oem_prov_leaf"
    MO_ROOT = "mo_root"
    MO_SUB_CA1 = "mo_sub_ca1"
    MO_SUB_CA2 = "mo_sub_ca2"
    CONTRACT_LEAF = "contract_leaf"


@dataclass(frozen=True, slots=True, kw_only=True)
class Identities:
    """The names that vary per installation: who the SECC, the vehicle and the contract are."""

    evccid: str = DEFAULT_EVCCID
    emaid: str = DEFAULT_EMAID
    secc_id: str = DEFAULT_SECC_ID
    pcid: str = DEFAULT_PCID
    oem: str = DEFAULT_OEM
    country: str = "DE"


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """What the -20 profile asks of one certificate."""

    entity: Entity
    issuer: Entity | None
    common_name: str
    organization: str
    domain_component: str
    validity: dt.timedelta
    ca: bool
    path_length: int | None = None
    key_usage: frozenset[KeyUsage]
    key_agreement: bool = False  # add keyAgreement when the key can agree keys (EC, not Ed448)
    extended_key_usage: tuple[x509.ObjectIdentifier, ...] = ()
    description: str


# Which roots of the test PKI each side trusts for which role (iso15118.security.roles judges the rest).
VEHICLE_ANCHORS: tuple[Entity, ...] = (Entity.OEM_ROOT,)
"""What an SECC trusts for vehicle certificates: the OEM root -- not the V2G root, which also anchors the CPO
and CPS chains, so trusting it for vehicles lets a charger's own SECC leaf pass as a car."""
SECC_ANCHORS: tuple[Entity, ...] = (Entity.V2G_ROOT,)
"""What an EVCC trusts for SECC certificates."""
CONTRACT_ANCHORS: tuple[Entity, ...] = (Entity.MO_ROOT,)
"""What an SECC trusts for contract certificates (PnC)."""

_CA_USAGE = frozenset({KeyUsage.KEY_CERT_SIGN, KeyUsage.CRL_SIGN})
_SIGN = frozenset({KeyUsage.DIGITAL_SIGNATURE})


def ca_profile(
    entity: Entity, issuer: Entity | None, cn: str, org: str, dc: str, years: int, path: int | None, description: str
) -> Profile:
    return Profile(
        entity=entity,
        issuer=issuer,
        common_name=cn,
        organization=org,
        domain_component=dc,
        validity=years * _YEAR,
        ca=True,
        path_length=path,
        key_usage=_CA_USAGE,
        description=description,
    )


def leaf_profile(
    entity: Entity,
    issuer: Entity,
    cn: str,
    org: str,
    dc: str,
    years: int,
    usage: frozenset[KeyUsage],
    key_agreement: bool,
    description: str,
    eku: tuple[x509.ObjectIdentifier, ...] = (),
) -> Profile:
    return Profile(
        entity=entity,
        issuer=issuer,
        common_name=cn,
        organization=org,
        domain_component=dc,
        validity=years * _YEAR,
        ca=False,
        key_usage=usage,
        key_agreement=key_agreement,
        extended_key_usage=eku,
        description=description,
    )


_CPO, _V2G, _MO, _CPS = "v2gstack test CPO", "v2gstack test V2G", "v2gstack test MO", "v2gstack test CPS"
_E = Entity

# Leaf common names in angle brackets are filled from Identities by spec_for().
PROFILES: dict[Entity, Profile] = {
    p.entity: p
    for p in (
        ca_profile(_E.V2G_ROOT, None, "V2GRootCA", _V2G, "V2G", 40, None, "V2G root CA (trust anchor of the EV)"),
        ca_profile(_E.CPO_SUB_CA1, _E.V2G_ROOT, "CPOSubCA1", _CPO, "V2G", 4, 1, "CPO Sub-CA 1"),
        ca_profile(_E.CPO_SUB_CA2, _E.CPO_SUB_CA1, "CPOSubCA2", _CPO, "V2G", 2, 0, "CPO Sub-CA 2"),
        leaf_profile(
            _E.SECC_LEAF,
            _E.CPO_SUB_CA2,
            "<secc_id>",
            _CPO,
            "CPO",
            1,
            _SIGN,
            True,
            "SECC leaf (TLS server certificate, CN = SECCID)",
            (ExtendedKeyUsageOID.SERVER_AUTH,),
        ),
        ca_profile(_E.CPS_SUB_CA1, _E.V2G_ROOT, "CPSSubCA1", _CPS, "V2G", 4, 1, "CPS Sub-CA 1"),
        ca_profile(_E.CPS_SUB_CA2, _E.CPS_SUB_CA1, "CPSSubCA2", _CPS, "V2G", 2, 0, "CPS Sub-CA 2"),
        leaf_profile(
            _E.CPS_LEAF,
            _E.CPS_SUB_CA2,
            "CPSLeaf",
            _CPS,
            "CPS",
            1,
            _SIGN,
            False,
            "CPS leaf (signs SignedInstallationData)",
        ),
        ca_profile(_E.OEM_ROOT, None, "OEMRootCA", "<oem>", "OEM", 40, None, "OEM root CA"),
        ca_profile(_E.OEM_SUB_CA1, _E.OEM_ROOT, "OEMSubCA1", "<oem>", "OEM", 4, 1, "OEM Sub-CA 1"),
        ca_profile(_E.OEM_SUB_CA2, _E.OEM_SUB_CA1, "OEMSubCA2", "<oem>", "OEM", 2, 0, "OEM Sub-CA 2"),
        leaf_profile(
            _E.VEHICLE_LEAF,
            _E.OEM_SUB_CA2,
            "<evccid>",
            "<oem>",
            "OEM",
            1,
            _SIGN,
            True,
            "vehicle leaf (TLS client certificate, CN = EVCCID, O = OEM)",
            (ExtendedKeyUsageOID.CLIENT_AUTH,),
        ),
        leaf_profile(
            _E.OEM_PROV_LEAF,
            _E.OEM_SUB_CA2,
            "<pcid>",
            "<oem>",
            "OEM",
            1,
            _SIGN,
            True,
            "OEM provisioning leaf (CN = PCID; signs CertificateInstallationReq)",
        ),
        ca_profile(_E.MO_ROOT, None, "MORootCA", _MO, "MO", 40, None, "MO root CA"),
        ca_profile(_E.MO_SUB_CA1, _E.MO_ROOT, "MOSubCA1", _MO, "MO", 4, 1, "MO Sub-CA 1"),
        ca_profile(_E.MO_SUB_CA2, _E.MO_SUB_CA1, "MOSubCA2", _MO, "MO", 2, 0, "MO Sub-CA 2"),
        leaf_profile(
            _E.CONTRACT_LEAF,
            _E.MO_SUB_CA2,
            "<emaid>",
            _MO,
            "MO",
            2,
            _SIGN | {KeyUsage.CONTENT_COMMITMENT},
            False,
            "contract leaf (CN = eMAID; PnC signatures)",
        ),
    )
}

_EMAID = re.compile(r"[A-Za-z]{2}[A-Za-z0-9]{3}[A-Za-z0-9]{9}[A-Za-z0-9]?")
_SECC_ID = re.compile(r"[A-Za-z]{2}[A-Za-z0-9]{3}[Ss][A-Za-z0-9]{32,}")
_PCID = re.compile(r"[A-Za-z0-9]{17,18}")
_PRINTABLE = re.compile(r"[\x21-\x7e]{1,64}")


def normalize_emaid(emaid: str) -> str:
    """Return the eMAID without separators, or raise ConfigError naming the rule it breaks."""
    value = emaid.replace("-", "")
    if not _EMAID.fullmatch(value):
        raise ConfigError(
            f"eMAID {emaid!r} is not <country:2 letters><provider:3><instance:9>[check:1] (e.g. DE-ABC-C123ABC56-0)"
        )
    return value


def normalize_secc_id(secc_id: str) -> str:
    """Return the SECCID without separators, or raise ConfigError naming the rule it breaks."""
    value = secc_id.replace("-", "")
    if not _SECC_ID.fullmatch(value) or len(value) > 64:
        raise ConfigError(
            f"SECCID {secc_id!r} is not <country:2><operator:3>S<controller:32+>[check:1], "
            "alphanumeric, 39 to 64 characters"
        )
    return value


def _checked(ids: Identities) -> dict[str, str]:
    if not _PCID.fullmatch(ids.pcid):
        raise ConfigError(f"PCID {ids.pcid!r} must be 17 or 18 alphanumeric characters")
    if not _PRINTABLE.fullmatch(ids.evccid):
        raise ConfigError(f"EVCCID {ids.evccid!r} must be 1 to 64 printable ASCII characters without spaces")
    if not ids.oem.strip() or len(ids.oem) > 64:
        raise ConfigError("OEM name must have 1 to 64 characters")
    if not re.fullmatch(r"[A-Z]{2}", ids.country):
        raise ConfigError(f"country {ids.country!r} must be two capital letters (ISO 3166-1 alpha-2)")
    return {
        "<secc_id>": normalize_secc_id(ids.secc_id),
        "<emaid>": normalize_emaid(ids.emaid),
        "<evccid>": ids.evccid,
        "<pcid>": ids.pcid,
        "<oem>": ids.oem,
    }


def spec_for(
    entity: Entity,
    *,
    algorithm: KeyAlgorithm,
    now: dt.datetime,
    identities: Identities | None = None,
    issuer_not_after: dt.datetime | None = None,
    profiles: Mapping[Entity, Profile] | None = None,
    hash_name: HashName = HashName.SHA512,
) -> CertificateSpec:
    """The :class:`CertificateSpec` the profile asks for ``entity``, valid from ``now``.

    ``profiles`` is the certificate table (the -20 :data:`PROFILES` by default; the -2 one is
    :data:`iso15118.security.iso2_profiles.ISO2_PROFILES`), ``hash_name`` the digest the issuer signs with.
    """
    profile = (PROFILES if profiles is None else profiles)[entity]
    names = _checked(identities or Identities())
    country = (identities or Identities()).country
    usage = profile.key_usage
    if profile.key_agreement and algorithm is not KeyAlgorithm.ED448:
        usage = usage | {KeyUsage.KEY_AGREEMENT}
    not_after = now + profile.validity
    if issuer_not_after is not None:
        not_after = min(not_after, issuer_not_after)
    return CertificateSpec(
        common_name=names.get(profile.common_name, profile.common_name),
        organization=names.get(profile.organization, profile.organization),
        country=country,
        domain_component=profile.domain_component,
        not_before=now,
        not_after=not_after,
        ca=profile.ca,
        path_length=profile.path_length,
        key_usage=usage,
        extended_key_usage=profile.extended_key_usage,
        hash_name=hash_name,
    )


def chain_of(entity: Entity, profiles: Mapping[Entity, Profile] | None = None) -> list[Entity]:
    """``entity`` and its issuers up to the root, leaf first (in the -20 table unless ``profiles`` is given)."""
    table = PROFILES if profiles is None else profiles
    chain = [entity]
    while (issuer := table[chain[-1]].issuer) is not None:
        chain.append(issuer)
    return chain
