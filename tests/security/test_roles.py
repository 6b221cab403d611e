"""Certificate roles: each leaf of the test PKI fits its own role and is refused, with the reason, for every other
one -- even where the other role's trust anchor is trusted (the V2G root anchors SECC, CPS and, per
[V2G20-2331], vehicle chains). Also the identity of a certificate (CN and SHA-256 of the DER)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed448
from cryptography.x509.oid import ExtendedKeyUsageOID

from iso15118.security.certs import ChainValidationError, Defect, Purpose, check_end_entity, check_role, validate_chain
from iso15118.security.identity import certificate_identity
from iso15118.security.issuing import CertificateSpec, Issued, issue_certificate
from iso15118.security.profiles import PROFILES, Entity, Identities, spec_for
from iso15118.security.roles import ROLE_NAMES, role_problems

from .conftest import PkiFixture

ROLE_OF = {
    Entity.SECC_LEAF: Purpose.SECC_TLS,
    Entity.VEHICLE_LEAF: Purpose.VEHICLE_TLS,
    Entity.CPS_LEAF: Purpose.CPS,
    Entity.CONTRACT_LEAF: Purpose.CONTRACT,
    Entity.OEM_PROV_LEAF: Purpose.OEM_PROVISIONING,
}
# What the refusal says first about each leaf's own marker, by the leaf offered.
MARKER = {
    Entity.SECC_LEAF: "its domainComponent CPO marks an SECC (CPO) certificate",
    Entity.VEHICLE_LEAF: "its domainComponent OEM marks a vehicle or OEM provisioning certificate",
    Entity.CPS_LEAF: "its domainComponent CPS marks a CPS certificate",
    Entity.CONTRACT_LEAF: "its domainComponent MO marks a contract certificate",
    Entity.OEM_PROV_LEAF: "its domainComponent OEM marks a vehicle or OEM provisioning certificate",
}
# The one pair the profiles cannot tell apart (see iso15118.security.roles): an OEM provisioning leaf without an
# extendedKeyUsage has everything a vehicle leaf has.
INDISTINGUISHABLE = {(Entity.OEM_PROV_LEAF, Purpose.VEHICLE_TLS)}


def _roots(test_pki: PkiFixture) -> list[x509.Certificate]:
    return [test_pki.pki[e].certificate for e in (Entity.V2G_ROOT, Entity.OEM_ROOT, Entity.MO_ROOT)]


@pytest.mark.parametrize("purpose", list(ROLE_NAMES), ids=lambda p: p.value)
@pytest.mark.parametrize("entity", list(ROLE_OF), ids=lambda e: e.value)
def test_each_leaf_fits_its_role_and_no_other(
    test_pki: PkiFixture, entity: Entity, purpose: Purpose, pki_now: dt.datetime
) -> None:
    pki = test_pki.pki
    leaf, subs = pki[entity].certificate, pki.chain(entity)[1:]
    if ROLE_OF[entity] is purpose or (entity, purpose) in INDISTINGUISHABLE:
        validate_chain(leaf, subs, _roots(test_pki), now=pki_now, purpose=purpose)
        return
    with pytest.raises(ChainValidationError) as refused:
        validate_chain(leaf, subs, _roots(test_pki), now=pki_now, purpose=purpose)
    error = refused.value
    assert error.defect is Defect.WRONG_ROLE
    assert error.subject == leaf.subject.rfc4514_string()
    if (entity, purpose) == (Entity.VEHICLE_LEAF, Purpose.OEM_PROVISIONING):  # same domain: the EKU tells
        assert error.reason == (
            "wrong role: not an OEM provisioning certificate: "
            "its extendedKeyUsage clientAuth marks a TLS certificate, not an OEM provisioning certificate"
        )
    else:
        assert error.reason.startswith(f"wrong role: not {ROLE_NAMES[purpose]}: {MARKER[entity]}, while ")
    assert "Traceback" not in str(error)


def test_the_tls_leafs_carry_their_extended_key_usage(test_pki: PkiFixture) -> None:
    def usages(entity: Entity) -> list[x509.ObjectIdentifier] | None:
        try:
            return list(
                test_pki.pki[entity].certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            )
        except x509.ExtensionNotFound:
            return None

    assert usages(Entity.SECC_LEAF) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert usages(Entity.VEHICLE_LEAF) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert all(usages(e) is None for e in (Entity.CPS_LEAF, Entity.CONTRACT_LEAF, Entity.OEM_PROV_LEAF))
    assert PROFILES[Entity.SECC_LEAF].extended_key_usage == (ExtendedKeyUsageOID.SERVER_AUTH,)


def _issue(test_pki: PkiFixture, spec: CertificateSpec, issuer: Entity | Issued) -> x509.Certificate:
    signer = test_pki.pki[issuer] if isinstance(issuer, Entity) else issuer
    return issue_certificate(spec, algorithm=test_pki.pki.algorithm, issuer=signer).certificate


def test_a_cpo_cannot_mint_itself_a_vehicle_certificate(test_pki: PkiFixture, pki_now: dt.datetime) -> None:
    """A leaf with every vehicle marker (DC=OEM, clientAuth) but issued by a CPO Sub-CA is no vehicle's, even when
    the V2G root is trusted for vehicles."""
    spec = spec_for(Entity.VEHICLE_LEAF, algorithm=test_pki.pki.algorithm, now=pki_now)
    forged = _issue(test_pki, spec, Entity.CPO_SUB_CA2)
    subs = test_pki.pki.chain(Entity.SECC_LEAF)[1:]
    with pytest.raises(ChainValidationError) as refused:
        validate_chain(forged, subs, _roots(test_pki), now=pki_now, purpose=Purpose.VEHICLE_TLS)
    assert refused.value.defect is Defect.WRONG_ROLE
    assert "it was issued through DC=V2G,C=DE,O=v2gstack test CPO,CN=CPOSubCA2, a Sub-CA of the V2G domain" in str(
        refused.value
    )
    assert "while a vehicle certificate comes from OEM Sub-CAs" in str(refused.value)
    # The leaf alone shows nothing wrong: it takes the chain to see it.
    assert role_problems([forged], Purpose.VEHICLE_TLS) == []


def test_a_vehicle_chain_may_anchor_at_the_v2g_root_through_oem_sub_cas(
    test_pki: PkiFixture, pki_now: dt.datetime
) -> None:
    """[V2G20-2331]: OEM Sub-CAs under the V2G root issue vehicle certificates; Sub-CAs of no domain there do not."""
    pki, algorithm = test_pki.pki, test_pki.pki.algorithm
    sub1 = issue_certificate(
        spec_for(Entity.OEM_SUB_CA1, algorithm=algorithm, now=pki_now), algorithm=algorithm, issuer=pki[Entity.V2G_ROOT]
    )
    sub2 = issue_certificate(
        spec_for(Entity.OEM_SUB_CA2, algorithm=algorithm, now=pki_now), algorithm=algorithm, issuer=sub1
    )
    leaf = _issue(test_pki, spec_for(Entity.VEHICLE_LEAF, algorithm=algorithm, now=pki_now), sub2)
    v2g_only = [pki[Entity.V2G_ROOT].certificate]
    validate_chain(leaf, [sub2.certificate, sub1.certificate], v2g_only, now=pki_now, purpose=Purpose.VEHICLE_TLS)

    nameless = dataclasses.replace(
        spec_for(Entity.OEM_SUB_CA1, algorithm=algorithm, now=pki_now), domain_component=None
    )
    plain = issue_certificate(nameless, algorithm=algorithm, issuer=pki[Entity.V2G_ROOT])
    leaf = _issue(test_pki, spec_for(Entity.VEHICLE_LEAF, algorithm=algorithm, now=pki_now), plain)
    with pytest.raises(ChainValidationError, match="a Sub-CA without domainComponent"):
        validate_chain(leaf, [plain.certificate], v2g_only, now=pki_now, purpose=Purpose.VEHICLE_TLS)


def test_a_vehicle_chain_never_ends_at_an_mo_root(test_pki: PkiFixture, pki_now: dt.datetime) -> None:
    pki = test_pki.pki
    spec = spec_for(Entity.VEHICLE_LEAF, algorithm=pki.algorithm, now=pki_now)
    leaf = _issue(test_pki, dataclasses.replace(spec, domain_component=None), Entity.MO_SUB_CA2)
    with pytest.raises(ChainValidationError) as refused:
        validate_chain(
            leaf, pki.chain(Entity.CONTRACT_LEAF)[1:], _roots(test_pki), now=pki_now, purpose=Purpose.VEHICLE_TLS
        )
    assert "its chain ends at DC=MO,C=DE,O=v2gstack test MO,CN=MORootCA, which is not an OEM root" in str(refused.value)


def test_certificates_without_markers_are_judged_by_their_anchor_alone(
    test_pki: PkiFixture, pki_now: dt.datetime
) -> None:
    """No domainComponent, no EKU (many lab PKIs): nothing speaks against any role; the trusted roots decide."""
    pki = test_pki.pki
    spec = dataclasses.replace(
        spec_for(Entity.SECC_LEAF, algorithm=pki.algorithm, now=pki_now), domain_component=None, extended_key_usage=()
    )
    leaf = _issue(test_pki, spec, Entity.OEM_SUB_CA2)
    validate_chain(leaf, pki.chain(Entity.VEHICLE_LEAF)[1:], _roots(test_pki), now=pki_now, purpose=Purpose.VEHICLE_TLS)
    assert all(role_problems([leaf], purpose) == [] for purpose in Purpose)


def test_check_end_entity_looks_at_the_issuers_it_is_given(test_pki: PkiFixture, pki_now: dt.datetime) -> None:
    pki = test_pki.pki
    cps = pki[Entity.CPS_LEAF].certificate
    chain = [pki[e].certificate for e in (Entity.CPS_SUB_CA2, Entity.CPS_SUB_CA1, Entity.V2G_ROOT)]
    with pytest.raises(ChainValidationError) as refused:
        check_end_entity(cps, purpose=Purpose.SECC_TLS, now=pki_now, issuers=chain)
    assert (
        refused.value.defect is Defect.WRONG_ROLE
        and refused.value.subject == "DC=CPS,C=DE,O=v2gstack test CPS,CN=CPSLeaf"
    )
    assert "not an SECC (CPO) certificate: its domainComponent CPS marks a CPS certificate" in refused.value.reason
    check_end_entity(cps, purpose=Purpose.CPS, now=pki_now, issuers=chain)
    check_role([pki[Entity.VEHICLE_LEAF].certificate], Purpose.VEHICLE_TLS)
    with pytest.raises(ChainValidationError, match="extendedKeyUsage clientAuth marks a TLS certificate, not an OEM"):
        check_role([pki[Entity.VEHICLE_LEAF].certificate], Purpose.OEM_PROVISIONING)


def test_any_purpose_has_no_role(test_pki: PkiFixture, pki_now: dt.datetime) -> None:
    for entity in ROLE_OF:
        leaf = test_pki.pki[entity].certificate
        validate_chain(leaf, test_pki.pki.chain(entity)[1:], _roots(test_pki), now=pki_now, purpose=Purpose.ANY)


def test_certificate_identity_is_the_cn_and_the_sha256_of_the_der(test_pki: PkiFixture) -> None:
    cert = test_pki.pki[Entity.VEHICLE_LEAF].certificate
    der = cert.public_bytes(serialization.Encoding.DER)
    identity = certificate_identity(cert)
    assert identity.common_name == Identities().evccid == test_pki.pki.identities.evccid
    assert identity.sha256 == hashlib.sha256(der).digest() and identity.fingerprint == hashlib.sha256(der).hexdigest()
    assert identity.subject == cert.subject.rfc4514_string()
    assert certificate_identity(der) == identity
    other = certificate_identity(test_pki.pki[Entity.SECC_LEAF].certificate)
    assert other.sha256 != identity.sha256 and other.common_name == Identities().secc_id


def test_certificate_identity_without_cn_and_of_junk(test_pki: PkiFixture, pki_now: dt.datetime) -> None:
    spec = spec_for(Entity.VEHICLE_LEAF, algorithm=test_pki.pki.algorithm, now=pki_now)
    issued = issue_certificate(spec, algorithm=test_pki.pki.algorithm, issuer=test_pki.pki[Entity.OEM_SUB_CA2])
    signer = test_pki.pki[Entity.OEM_SUB_CA2].key
    nameless = x509.CertificateBuilder(
        subject_name=x509.Name([]),
        issuer_name=issued.certificate.issuer,
        public_key=issued.certificate.public_key(),
        serial_number=1,
        not_valid_before=pki_now,
        not_valid_after=pki_now + dt.timedelta(days=1),
    ).sign(signer, None if isinstance(signer, ed448.Ed448PrivateKey) else hashes.SHA512())
    assert certificate_identity(nameless).common_name is None
    with pytest.raises(ChainValidationError, match="malformed: not a DER certificate"):
        certificate_identity(b"\x30\x03junk")
