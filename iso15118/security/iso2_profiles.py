"""The ISO 15118-2 certificate profiles: which certificates the -2 test PKI has and what each one says.

One table, :data:`ISO2_PROFILES`, in the same shape as the -20 :data:`~iso15118.security.profiles.PROFILES`
(same :class:`~iso15118.security.profiles.Entity` names, so the same file layout), for the four -2 chains
of ISO 15118-2 Annex F as publicly restated (Josev's ``iso15118/shared/pki/create_certs.sh`` and its
configuration files):

* V2G root -> CPO Sub-CA 1 (pathLen 1) -> CPO Sub-CA 2 (pathLen 0) -> SECC leaf (the TLS server certificate)
* V2G root -> CPS Sub-CA 1 (pathLen 1) -> CPS Sub-CA 2 (pathLen 0) -> CPS leaf (the "SA provisioning"
  certificate that signs CertificateInstallationRes / CertificateUpdateRes)
* OEM root -> OEM Sub-CA 1 (pathLen 1) -> OEM Sub-CA 2 (pathLen 0) -> OEM provisioning leaf (signs
  CertificateInstallationReq; its key is the EV's ECDH key for the contract key's encryption)
* MO root -> MO Sub-CA 1 (pathLen 1) -> MO Sub-CA 2 (pathLen 0) -> contract leaf (CN = eMAID)

-2 has no vehicle TLS certificate: TLS 1.2 authenticates the server only, so the table has no
``VEHICLE_LEAF`` row. Contract chains may also anchor at the V2G root (role rules in
:mod:`iso15118.security.roles`); the test PKI uses its own MO root.

What differs from -20 (each is a checkable rule in :func:`iso15118.security.pkicheck.profile_problems`):

* Keys secp256r1 and signatures ecdsa-with-SHA256, for every certificate.
* Certificates at most 800 bytes DER: the -2 schema's ``certificateType`` is base64Binary with
  maxLength 800.
* keyUsage (critical): keyCertSign + cRLSign on CAs; digitalSignature + keyAgreement on the SECC leaf (ECDHE
  signing) and on the OEM provisioning leaf (the EV's ECDH partner in CertificateInstallation);
  digitalSignature + nonRepudiation + keyEncipherment + keyAgreement on the contract leaf (it signs PnC
  messages and is the ECDH key of CertificateUpdate); digitalSignature on the CPS leaf. No
  extendedKeyUsage anywhere (Josev's and the Annex F restatements carry none).
* basicConstraints critical everywhere, subject DN = CN, O, C, DC with the domains of the -20 table (V2G,
  CPO, CPS, OEM, MO).
* Validity (UNCONFIRMED against the ISO text; the values Josev's test PKI issues): roots 40 years (its
  script comment; it issues 10), CPO Sub-CA 1 four years, CPO Sub-CA 2 one year, SECC leaf 60 days,
  CPS Sub-CA 1 four years, CPS Sub-CA 2 two years, CPS leaf 90 days, OEM and MO Sub-CAs four years, OEM
  provisioning leaf four years, contract leaf two years. A certificate valid longer than its row is a
  profile problem; a leaf never outlives its issuer.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Final

from iso15118.security.issuing import KeyUsage
from iso15118.security.profiles import Entity, Profile, ca_profile, leaf_profile

__all__ = ["ISO2_MAX_CERTIFICATE_DER_SIZE", "ISO2_PROFILES"]

ISO2_MAX_CERTIFICATE_DER_SIZE: Final = 800  # certificateType maxLength in the -2 schema

_CA_NAMES = {"cpo": "v2gstack test CPO", "cps": "v2gstack test CPS", "mo": "v2gstack test MO"}
_V2G = "v2gstack test V2G"
_SIGN = frozenset({KeyUsage.DIGITAL_SIGNATURE})
_CONTRACT = frozenset(
    {KeyUsage.DIGITAL_SIGNATURE, KeyUsage.CONTENT_COMMITMENT, KeyUsage.KEY_ENCIPHERMENT, KeyUsage.KEY_AGREEMENT}
)
_E = Entity


def _days(profile: Profile, days: int) -> Profile:
    return dataclasses.replace(profile, validity=dt.timedelta(days=days))


def _rows() -> tuple[Profile, ...]:
    cpo, cps, mo = _CA_NAMES["cpo"], _CA_NAMES["cps"], _CA_NAMES["mo"]
    return (
        ca_profile(_E.V2G_ROOT, None, "V2GRootCA", _V2G, "V2G", 40, None, "V2G root CA (trust anchor of the EV)"),
        ca_profile(_E.CPO_SUB_CA1, _E.V2G_ROOT, "CPOSubCA1", cpo, "V2G", 4, 1, "CPO Sub-CA 1"),
        ca_profile(_E.CPO_SUB_CA2, _E.CPO_SUB_CA1, "CPOSubCA2", cpo, "V2G", 1, 0, "CPO Sub-CA 2"),
        _days(
            leaf_profile(
                _E.SECC_LEAF,
                _E.CPO_SUB_CA2,
                "<secc_id>",
                cpo,
                "CPO",
                1,
                _SIGN,
                True,
                "SECC leaf (TLS 1.2 server certificate, CN = SECCID)",
            ),
            60,
        ),
        ca_profile(_E.CPS_SUB_CA1, _E.V2G_ROOT, "CPSSubCA1", cps, "V2G", 4, 1, "CPS Sub-CA 1"),
        ca_profile(_E.CPS_SUB_CA2, _E.CPS_SUB_CA1, "CPSSubCA2", cps, "V2G", 2, 0, "CPS Sub-CA 2"),
        _days(
            leaf_profile(
                _E.CPS_LEAF,
                _E.CPS_SUB_CA2,
                "CPSLeaf",
                cps,
                "CPS",
                1,
                _SIGN,
                False,
                "CPS leaf (SA provisioning certificate: signs CertificateInstallationRes/UpdateRes)",
            ),
            90,
        ),
        ca_profile(_E.OEM_ROOT, None, "OEMRootCA", "<oem>", "OEM", 40, None, "OEM root CA"),
        ca_profile(_E.OEM_SUB_CA1, _E.OEM_ROOT, "OEMSubCA1", "<oem>", "OEM", 4, 1, "OEM Sub-CA 1"),
        ca_profile(_E.OEM_SUB_CA2, _E.OEM_SUB_CA1, "OEMSubCA2", "<oem>", "OEM", 4, 0, "OEM Sub-CA 2"),
        leaf_profile(
            _E.OEM_PROV_LEAF,
            _E.OEM_SUB_CA2,
            "<pcid>",
            "<oem>",
            "OEM",
            4,
            _SIGN,
            True,
            "OEM provisioning leaf (CN = PCID; signs CertificateInstallationReq, ECDH key of the EV)",
        ),
        ca_profile(_E.MO_ROOT, None, "MORootCA", mo, "MO", 40, None, "MO root CA"),
        ca_profile(_E.MO_SUB_CA1, _E.MO_ROOT, "MOSubCA1", mo, "MO", 4, 1, "MO Sub-CA 1"),
        ca_profile(_E.MO_SUB_CA2, _E.MO_SUB_CA1, "MOSubCA2", mo, "MO", 4, 0, "MO Sub-CA 2"),
        leaf_profile(
            _E.CONTRACT_LEAF,
            _E.MO_SUB_CA2,
            "<emaid>",
            mo,
            "MO",
            2,
            _CONTRACT,
            False,
            "contract leaf (CN = eMAID; signs PnC messages, ECDH key of CertificateUpdate)",
        ),
    )


#: Every certificate of the -2 test PKI, issuers before what they issue (no vehicle TLS leaf in -2).
ISO2_PROFILES: Final[dict[Entity, Profile]] = {p.entity: p for p in _rows()}
