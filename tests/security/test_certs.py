"""Chain validation: good chains pass, and every defective certificate is refused for its own reason."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from iso15118.errors import CertificateError, ConfigError
from iso15118.security.badcerts import DEFECTS, defective_leaf
from iso15118.security.certs import (
    TOLERANT,
    ChainValidationError,
    Defect,
    Purpose,
    check_end_entity,
    describe_certificate,
    load_certificates,
    validate_chain,
)
from iso15118.security.issuing import HashName, KeyAlgorithm, KeyUsage, issue_certificate
from iso15118.security.profiles import Entity, spec_for

from .conftest import PkiFixture

# What a strict validation must say about each defective certificate (first words of the reason).
EXPECTED_REASON = {
    Defect.EXPIRED: "expired: not valid after",
    Defect.NOT_YET_VALID: "not yet valid: not valid before",
    Defect.UNKNOWN_ISSUER: "unknown issuer: issuer DC=V2G,C=DE,O=v2gstack test V2G,CN=UnknownV2GRootCA",
    Defect.BAD_SIGNATURE: "bad signature: the signature does not verify",
    Defect.WRONG_ALGORITHM: "wrong algorithm: key is secp256r1",
    Defect.WRONG_KEY_USAGE: "wrong key usage: secc-tls leaf needs keyUsage digitalSignature",
    Defect.PATH_TOO_LONG: "path too long: pathLenConstraint 0 allows 0 Sub-CA(s) below it, the chain has 1",
    Defect.NOT_A_CA: "not a CA: issues",
    Defect.NOT_END_ENTITY: "not an end entity: a CA certificate cannot serve as secc-tls leaf",
    Defect.TOO_LARGE: "too large:",
    Defect.UNSUPPORTED_EXTENSION: "unsupported critical extension: critical extension 1.3.6.1.4.1.55555",
    Defect.WRONG_ROLE: "wrong role: not an SECC (CPO) certificate: its domainComponent OEM marks a vehicle or OEM",
}


def _roots(test_pki: PkiFixture) -> list[x509.Certificate]:
    return [test_pki.pki[e].certificate for e in (Entity.V2G_ROOT, Entity.OEM_ROOT, Entity.MO_ROOT)]


@pytest.mark.parametrize("defect", DEFECTS, ids=lambda d: d.name)
def test_each_defect_is_refused_for_its_reason(test_pki: PkiFixture, defect: Defect, pki_now: dt.datetime) -> None:
    now = pki_now + dt.timedelta(hours=1)
    bad = defective_leaf(test_pki.pki, defect, now=now)
    with pytest.raises(ChainValidationError) as refused:
        validate_chain(bad.issued.certificate, bad.intermediates, _roots(test_pki), now=now, purpose=Purpose.SECC_TLS)
    assert refused.value.defect is defect
    assert refused.value.reason.startswith(EXPECTED_REASON[defect]), refused.value.reason
    assert isinstance(refused.value, CertificateError)


@pytest.mark.parametrize("entity", [Entity.VEHICLE_LEAF, Entity.CONTRACT_LEAF, Entity.CPS_LEAF])
@pytest.mark.parametrize(
    "defect", [Defect.EXPIRED, Defect.UNKNOWN_ISSUER, Defect.PATH_TOO_LONG, Defect.WRONG_ALGORITHM]
)
def test_defects_under_the_other_chains(
    test_pki: PkiFixture, entity: Entity, defect: Defect, pki_now: dt.datetime
) -> None:
    now = pki_now + dt.timedelta(hours=1)
    bad = defective_leaf(test_pki.pki, defect, entity=entity, now=now)
    with pytest.raises(ChainValidationError) as refused:
        validate_chain(bad.issued.certificate, bad.intermediates, _roots(test_pki), now=now)
    assert refused.value.defect is defect


def test_the_genuine_leaf_passes_where_the_defective_ones_fail(test_pki: PkiFixture, pki_now: dt.datetime) -> None:
    leaf = test_pki.pki[Entity.SECC_LEAF].certificate
    result = validate_chain(
        leaf,
        test_pki.pki.chain(Entity.SECC_LEAF)[1:],
        _roots(test_pki),
        now=pki_now + dt.timedelta(hours=1),
        purpose=Purpose.SECC_TLS,
    )
    assert result.leaf == leaf and result.root == test_pki.pki[Entity.V2G_ROOT].certificate
    assert result.subjects()[-1] == "DC=V2G,C=DE,O=v2gstack test V2G,CN=V2GRootCA"


def test_validity_edges(test_pki: PkiFixture) -> None:
    leaf = test_pki.pki[Entity.SECC_LEAF].certificate
    subs, roots = test_pki.pki.chain(Entity.SECC_LEAF)[1:], _roots(test_pki)
    validate_chain(leaf, subs, roots, now=leaf.not_valid_before_utc)
    validate_chain(leaf, subs, roots, now=leaf.not_valid_after_utc)
    with pytest.raises(ChainValidationError) as early:
        validate_chain(leaf, subs, roots, now=leaf.not_valid_before_utc - dt.timedelta(seconds=1))
    assert early.value.defect is Defect.NOT_YET_VALID
    with pytest.raises(ChainValidationError) as late:
        validate_chain(leaf, subs, roots, now=leaf.not_valid_after_utc + dt.timedelta(seconds=1))
    assert late.value.defect is Defect.EXPIRED
    with pytest.raises(ValueError, match="timezone-aware"):
        validate_chain(leaf, subs, roots, now=dt.datetime(2030, 1, 1))


def test_missing_intermediate_is_an_unknown_issuer(test_pki: PkiFixture, pki_now: dt.datetime) -> None:
    leaf = test_pki.pki[Entity.SECC_LEAF].certificate
    with pytest.raises(ChainValidationError) as refused:
        validate_chain(leaf, [test_pki.pki[Entity.CPO_SUB_CA1].certificate], _roots(test_pki), now=pki_now)
    assert refused.value.defect is Defect.UNKNOWN_ISSUER
    assert "CN=CPOSubCA2" in refused.value.reason


def test_root_of_another_chain_is_not_trusted_for_it(test_pki: PkiFixture, pki_now: dt.datetime) -> None:
    leaf = test_pki.pki[Entity.VEHICLE_LEAF].certificate
    with pytest.raises(ChainValidationError) as refused:
        validate_chain(
            leaf, test_pki.pki.chain(Entity.VEHICLE_LEAF)[1:], [test_pki.pki[Entity.V2G_ROOT].certificate], now=pki_now
        )
    assert refused.value.defect is Defect.UNKNOWN_ISSUER


def test_ca_without_cert_sign_is_wrong_key_usage(test_pki: PkiFixture, pki_now: dt.datetime) -> None:
    pki = test_pki.pki
    spec = spec_for(Entity.CPO_SUB_CA2, algorithm=pki.algorithm, now=pki_now)
    sub2 = issue_certificate(
        dataclasses.replace(spec, key_usage=frozenset({KeyUsage.CRL_SIGN})),
        algorithm=pki.algorithm,
        issuer=pki[Entity.CPO_SUB_CA1],
    )
    leaf = issue_certificate(
        spec_for(Entity.SECC_LEAF, algorithm=pki.algorithm, now=pki_now), algorithm=pki.algorithm, issuer=sub2
    )
    with pytest.raises(ChainValidationError) as refused:
        validate_chain(
            leaf.certificate, [sub2.certificate, pki[Entity.CPO_SUB_CA1].certificate], _roots(test_pki), now=pki_now
        )
    assert refused.value.defect is Defect.WRONG_KEY_USAGE
    assert "keyCertSign" in refused.value.reason


def test_sha256_signature_is_the_wrong_algorithm_strictly_but_tolerated_in_the_lab(
    pki_now: dt.datetime, test_pkis: dict[str, PkiFixture]
) -> None:
    pki = test_pkis["secp521r1"].pki
    spec = dataclasses.replace(
        spec_for(Entity.SECC_LEAF, algorithm=pki.algorithm, now=pki_now), hash_name=HashName.SHA256
    )
    leaf = issue_certificate(spec, algorithm=KeyAlgorithm.SECP521R1, issuer=pki[Entity.CPO_SUB_CA2])
    roots = _roots(test_pkis["secp521r1"])
    with pytest.raises(ChainValidationError) as refused:
        validate_chain(leaf.certificate, pki.chain(Entity.SECC_LEAF)[1:], roots, now=pki_now)
    assert refused.value.defect is Defect.WRONG_ALGORITHM
    assert "ecdsa-with-SHA256" in refused.value.reason
    result = validate_chain(leaf.certificate, pki.chain(Entity.SECC_LEAF)[1:], roots, now=pki_now, policy=TOLERANT)
    assert result.algorithm is KeyAlgorithm.SECP521R1


def test_p256_leaf_is_tolerated_only_by_the_lab_policy(test_pki: PkiFixture, pki_now: dt.datetime) -> None:
    bad = defective_leaf(test_pki.pki, Defect.WRONG_ALGORITHM, now=pki_now)
    result = validate_chain(
        bad.issued.certificate,
        bad.intermediates,
        _roots(test_pki),
        now=pki_now,
        policy=TOLERANT,
        purpose=Purpose.SECC_TLS,
    )
    assert result.algorithm is KeyAlgorithm.SECP256R1


def test_purpose_none_validates_a_sub_ca(test_pki: PkiFixture, pki_now: dt.datetime) -> None:
    sub2 = test_pki.pki[Entity.MO_SUB_CA2].certificate
    result = validate_chain(
        sub2, [test_pki.pki[Entity.MO_SUB_CA1].certificate], _roots(test_pki), now=pki_now, purpose=None
    )
    assert len(result.certificates) == 3
    with pytest.raises(ChainValidationError) as refused:
        validate_chain(
            sub2, [test_pki.pki[Entity.MO_SUB_CA1].certificate], _roots(test_pki), now=pki_now, purpose=Purpose.CONTRACT
        )
    assert refused.value.defect is Defect.NOT_END_ENTITY


def test_extended_key_usage_must_match_the_purpose(test_pki: PkiFixture, pki_now: dt.datetime) -> None:
    """An SECC leaf that claims clientAuth is neither an SECC certificate (no serverAuth) nor a vehicle's (CPO)."""
    pki = test_pki.pki
    spec = dataclasses.replace(
        spec_for(Entity.SECC_LEAF, algorithm=pki.algorithm, now=pki_now),
        extended_key_usage=(x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH,),
    )
    leaf = issue_certificate(spec, algorithm=pki.algorithm, issuer=pki[Entity.CPO_SUB_CA2]).certificate
    subs = pki.chain(Entity.SECC_LEAF)[1:]
    with pytest.raises(ChainValidationError) as refused:
        validate_chain(leaf, subs, _roots(test_pki), now=pki_now, purpose=Purpose.SECC_TLS)
    assert refused.value.defect is Defect.WRONG_ROLE
    assert "its extendedKeyUsage clientAuth marks a TLS client (vehicle) certificate, while an SECC" in str(
        refused.value
    )
    with pytest.raises(ChainValidationError) as refused:
        validate_chain(leaf, subs, _roots(test_pki), now=pki_now, purpose=Purpose.VEHICLE_TLS)
    assert refused.value.defect is Defect.WRONG_ROLE and "domainComponent CPO" in refused.value.reason
    any_usage = dataclasses.replace(spec, extended_key_usage=(x509.oid.ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,))
    leaf = issue_certificate(any_usage, algorithm=pki.algorithm, issuer=pki[Entity.CPO_SUB_CA2]).certificate
    validate_chain(leaf, subs, _roots(test_pki), now=pki_now, purpose=Purpose.SECC_TLS)


def test_check_end_entity_alone(test_pki: PkiFixture, pki_now: dt.datetime) -> None:
    check_end_entity(test_pki.pki[Entity.VEHICLE_LEAF].certificate, purpose=Purpose.VEHICLE_TLS, now=pki_now)
    bad = defective_leaf(test_pki.pki, Defect.WRONG_ALGORITHM, now=pki_now)
    with pytest.raises(ChainValidationError) as refused:
        check_end_entity(bad.issued.certificate, purpose=Purpose.SECC_TLS, now=pki_now)
    assert refused.value.defect is Defect.WRONG_ALGORITHM


def test_describe_certificate(test_pki: PkiFixture) -> None:
    info = describe_certificate(test_pki.pki[Entity.CPO_SUB_CA1].certificate)
    assert info.ca is True and info.path_length == 1
    assert info.key_usage == ("key_cert_sign", "crl_sign")
    assert info.key_type == test_pki.pki.algorithm.value
    assert info.signature == ("ecdsa-with-SHA512" if test_pki.pki.algorithm is KeyAlgorithm.SECP521R1 else "ed448")
    assert not info.self_signed and describe_certificate(test_pki.pki[Entity.V2G_ROOT].certificate).self_signed


def test_load_certificates_pem_der_and_garbage(test_pki: PkiFixture) -> None:
    chain = test_pki.pki.chain(Entity.SECC_LEAF)
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
    assert load_certificates(pem) == chain
    assert load_certificates(chain[0].public_bytes(serialization.Encoding.DER)) == chain[:1]
    for garbage in (b"", b"hello", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"):
        with pytest.raises(ChainValidationError) as refused:
            load_certificates(garbage, source="input.pem")
        assert refused.value.defect is Defect.MALFORMED and "input.pem" in str(refused.value)


def test_defective_leaf_refuses_to_replace_a_ca(test_pkis: dict[str, PkiFixture]) -> None:
    with pytest.raises(ConfigError, match="is a CA"):
        defective_leaf(test_pkis["ed448"].pki, Defect.EXPIRED, entity=Entity.CPO_SUB_CA2)


@pytest.mark.filterwarnings("ignore::UserWarning")  # cryptography warns about some corrupted encodings
@settings(max_examples=150)
@given(data=st.data())
def test_corrupted_certificates_never_escape_as_tracebacks(
    test_pkis: dict[str, PkiFixture], data: st.DataObject
) -> None:
    """Any byte flipped in a DER leaf gives a CertificateError (or still validates), nothing else."""
    pki = test_pkis["secp521r1"].pki
    der = bytearray(pki[Entity.SECC_LEAF].certificate.public_bytes(serialization.Encoding.DER))
    index = data.draw(st.integers(0, len(der) - 1))
    der[index] ^= data.draw(st.integers(1, 255))
    roots = _roots(test_pkis["secp521r1"])
    try:
        leaf = load_certificates(bytes(der))[0]
        validate_chain(leaf, pki.chain(Entity.SECC_LEAF)[1:], roots, now=pki.created, purpose=Purpose.SECC_TLS)
    except CertificateError as exc:
        assert str(exc)
