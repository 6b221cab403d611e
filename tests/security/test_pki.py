"""The test PKI: every certificate has the -20 profile's extensions, names and algorithms; the directory is
complete, keys are owner-only, and nothing existing is ever overwritten."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import stat
from pathlib import Path
from typing import TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from iso15118.errors import ConfigError
from iso15118.security.certs import STRICT, validate_chain
from iso15118.security.issuing import KeyAlgorithm, issue_certificate
from iso15118.security.pki import LEAF_PURPOSES, build_pki, init_pki, load_pki, verify_pki_layout
from iso15118.security.pkicheck import profile_problems
from iso15118.security.profiles import PROFILES, Entity, Identities, chain_of, normalize_emaid, spec_for

from .conftest import PkiFixture

E = TypeVar("E", bound=x509.ExtensionType)

CA_PATH_LENGTHS = {
    Entity.V2G_ROOT: None,
    Entity.OEM_ROOT: None,
    Entity.MO_ROOT: None,
    Entity.CPO_SUB_CA1: 1,
    Entity.CPO_SUB_CA2: 0,
    Entity.OEM_SUB_CA1: 1,
    Entity.OEM_SUB_CA2: 0,
    Entity.MO_SUB_CA1: 1,
    Entity.MO_SUB_CA2: 0,
    Entity.CPS_SUB_CA1: 1,
    Entity.CPS_SUB_CA2: 0,
}
ISSUERS = {
    Entity.CPO_SUB_CA1: Entity.V2G_ROOT,
    Entity.CPO_SUB_CA2: Entity.CPO_SUB_CA1,
    Entity.SECC_LEAF: Entity.CPO_SUB_CA2,
    Entity.CPS_SUB_CA1: Entity.V2G_ROOT,
    Entity.CPS_SUB_CA2: Entity.CPS_SUB_CA1,
    Entity.CPS_LEAF: Entity.CPS_SUB_CA2,
    Entity.OEM_SUB_CA1: Entity.OEM_ROOT,
    Entity.OEM_SUB_CA2: Entity.OEM_SUB_CA1,
    Entity.VEHICLE_LEAF: Entity.OEM_SUB_CA2,
    Entity.OEM_PROV_LEAF: Entity.OEM_SUB_CA2,
    Entity.MO_SUB_CA1: Entity.MO_ROOT,
    Entity.MO_SUB_CA2: Entity.MO_SUB_CA1,
    Entity.CONTRACT_LEAF: Entity.MO_SUB_CA2,
}


def _ext(cert: x509.Certificate, kind: type[E]) -> x509.Extension[E]:
    return cert.extensions.get_extension_for_class(kind)


def _cn(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _attr(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
    return str(cert.subject.get_attributes_for_oid(oid)[0].value)


def test_sixteen_certificates_in_four_chains(test_pki: PkiFixture) -> None:
    assert set(test_pki.pki.issued) == set(Entity)
    assert len(Entity) == 16
    for entity, issuer in ISSUERS.items():
        cert, parent = test_pki.pki[entity].certificate, test_pki.pki[issuer].certificate
        assert cert.issuer == parent.subject
        cert.verify_directly_issued_by(parent)  # raises if the signature does not verify
    for root in (Entity.V2G_ROOT, Entity.OEM_ROOT, Entity.MO_ROOT):
        cert = test_pki.pki[root].certificate
        assert cert.issuer == cert.subject
        cert.verify_directly_issued_by(cert)


def test_ca_extensions(test_pki: PkiFixture) -> None:
    for entity, path_length in CA_PATH_LENGTHS.items():
        cert = test_pki.pki[entity].certificate
        bc = _ext(cert, x509.BasicConstraints)
        assert bc.critical, entity
        assert bc.value.ca is True and bc.value.path_length == path_length, entity
        ku = _ext(cert, x509.KeyUsage)
        assert ku.critical
        assert ku.value.key_cert_sign and ku.value.crl_sign
        assert not ku.value.digital_signature and not ku.value.key_agreement
        assert _ext(cert, x509.SubjectKeyIdentifier).value.digest


def test_leaf_extensions(test_pki: PkiFixture) -> None:
    ec_keys = test_pki.pki.algorithm is KeyAlgorithm.SECP521R1
    expect_agreement = {
        Entity.SECC_LEAF: ec_keys,
        Entity.VEHICLE_LEAF: ec_keys,
        Entity.OEM_PROV_LEAF: ec_keys,
        Entity.CONTRACT_LEAF: False,
        Entity.CPS_LEAF: False,
    }
    for entity, agreement in expect_agreement.items():
        cert = test_pki.pki[entity].certificate
        bc = _ext(cert, x509.BasicConstraints)
        assert bc.critical and bc.value.ca is False, entity
        ku = _ext(cert, x509.KeyUsage)
        assert ku.critical and ku.value.digital_signature, entity
        assert not ku.value.key_cert_sign and not ku.value.crl_sign, entity
        assert ku.value.key_agreement is agreement, entity
        assert ku.value.content_commitment is (entity is Entity.CONTRACT_LEAF), entity
        aki = _ext(cert, x509.AuthorityKeyIdentifier).value
        issuer_ski = _ext(test_pki.pki[ISSUERS[entity]].certificate, x509.SubjectKeyIdentifier).value
        assert aki.key_identifier == issuer_ski.digest


def test_algorithm_and_signature(test_pki: PkiFixture) -> None:
    for issued in test_pki.pki.issued.values():
        cert, key = issued.certificate, issued.key
        if test_pki.pki.algorithm is KeyAlgorithm.SECP521R1:
            assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp521r1"
            assert cert.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA512
        else:
            assert isinstance(key, ed448.Ed448PrivateKey)
            assert cert.signature_algorithm_oid == SignatureAlgorithmOID.ED448
        assert len(cert.public_bytes(serialization.Encoding.DER)) <= 1600
        assert cert.version is x509.Version.v3


def test_subject_names(test_pki: PkiFixture) -> None:
    ids = Identities()
    pki = test_pki.pki
    assert _cn(pki[Entity.SECC_LEAF].certificate) == ids.secc_id
    assert _cn(pki[Entity.VEHICLE_LEAF].certificate) == ids.evccid
    assert _attr(pki[Entity.VEHICLE_LEAF].certificate, NameOID.ORGANIZATION_NAME) == ids.oem
    assert _cn(pki[Entity.OEM_PROV_LEAF].certificate) == ids.pcid
    assert _cn(pki[Entity.CONTRACT_LEAF].certificate) == "DEABCC123ABC560"
    expected_dc = {
        Entity.SECC_LEAF: "CPO",
        Entity.CPS_LEAF: "CPS",
        Entity.V2G_ROOT: "V2G",
        Entity.CPO_SUB_CA2: "V2G",
        Entity.CPS_SUB_CA1: "V2G",
        Entity.OEM_SUB_CA2: "OEM",
        Entity.VEHICLE_LEAF: "OEM",
        Entity.MO_ROOT: "MO",
        Entity.CONTRACT_LEAF: "MO",
    }
    for entity, dc in expected_dc.items():
        assert _attr(pki[entity].certificate, NameOID.DOMAIN_COMPONENT) == dc, entity
        assert _attr(pki[entity].certificate, NameOID.COUNTRY_NAME) == "DE"


def test_validity_nests_and_follows_the_profile(test_pki: PkiFixture, pki_now: dt.datetime) -> None:
    years = {
        Entity.V2G_ROOT: 40,
        Entity.CPO_SUB_CA1: 4,
        Entity.CPO_SUB_CA2: 2,
        Entity.SECC_LEAF: 1,
        Entity.CONTRACT_LEAF: 2,
    }
    for entity, count in years.items():
        cert = test_pki.pki[entity].certificate
        assert cert.not_valid_before_utc == pki_now
        assert cert.not_valid_after_utc == pki_now + dt.timedelta(days=365 * count)
    for entity, issuer in ISSUERS.items():
        assert (
            test_pki.pki[entity].certificate.not_valid_after_utc <= test_pki.pki[issuer].certificate.not_valid_after_utc
        )


def test_every_chain_validates_strictly(test_pki: PkiFixture, pki_now: dt.datetime) -> None:
    roots = [test_pki.pki[e].certificate for e in (Entity.V2G_ROOT, Entity.OEM_ROOT, Entity.MO_ROOT)]
    for leaf, purpose in LEAF_PURPOSES.items():
        result = validate_chain(
            test_pki.pki[leaf].certificate,
            test_pki.pki.chain(leaf),
            roots,
            now=pki_now + dt.timedelta(days=1),
            purpose=purpose,
            policy=STRICT,
        )
        assert [c for c in result.certificates] == [test_pki.pki[e].certificate for e in chain_of(leaf)]
        assert result.algorithm is test_pki.pki.algorithm


def test_files_on_disk(test_pki: PkiFixture) -> None:
    layout = test_pki.layout
    assert verify_pki_layout(layout.directory) == []
    assert load_pki(layout.directory).algorithm is test_pki.pki.algorithm
    assert stat.S_IMODE((layout.directory / "private").stat().st_mode) == 0o700
    for entity, files in layout.entities.items():
        cert = test_pki.pki[entity].certificate
        assert files.cert_der.read_bytes() == cert.public_bytes(serialization.Encoding.DER)
        assert x509.load_pem_x509_certificate(files.cert_pem.read_bytes()) == cert
        for key in (files.key_pem, files.key_der):
            assert stat.S_IMODE(key.stat().st_mode) == 0o600
        if files.chain_pem is not None:
            chain = x509.load_pem_x509_certificates(files.chain_pem.read_bytes())
            assert chain == [test_pki.pki[e].certificate for e in chain_of(entity)[:-1]]
            assert len(chain) == 3
    manifest = json.loads(layout.manifest.read_text())
    assert manifest["algorithm"] == test_pki.pki.algorithm.value
    readme = layout.readme.read_text()
    assert "chains/secc_leaf_chain.pem" in readme and test_pki.pki.algorithm.value in readme


def test_init_refuses_to_overwrite_and_force_keeps_the_old_files(work_dir: Path) -> None:
    directory = work_dir / "pki"
    first = init_pki(directory, algorithm="ed448")
    old_root = first[Entity.V2G_ROOT].cert_der.read_bytes()
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        init_pki(directory)
    assert first[Entity.V2G_ROOT].cert_der.read_bytes() == old_root  # untouched
    (directory / "notes.txt").write_text("mine")
    second = init_pki(directory, force=True)
    assert second.algorithm is KeyAlgorithm.SECP521R1
    assert second[Entity.V2G_ROOT].cert_der.read_bytes() != old_root
    backups = list(directory.glob("replaced-*"))
    assert len(backups) == 1
    assert (backups[0] / "roots" / "v2g_root.der").read_bytes() == old_root
    assert stat.S_IMODE((backups[0] / "private" / "v2g_root.key.pem").stat().st_mode) == 0o600
    assert (directory / "notes.txt").read_text() == "mine"
    assert verify_pki_layout(directory) == []


def test_verify_layout_names_each_problem(work_dir: Path) -> None:
    directory = work_dir / "pki"
    layout = init_pki(directory)
    assert verify_pki_layout(directory) == []
    layout[Entity.SECC_LEAF].key_pem.chmod(0o644)
    layout[Entity.CPS_LEAF].cert_der.unlink()
    layout[Entity.VEHICLE_LEAF].key_pem.write_bytes(layout[Entity.OEM_PROV_LEAF].key_pem.read_bytes())
    problems = verify_pki_layout(directory)
    assert any("secc_leaf" in p and "0644" in p and "owner-only" in p for p in problems)
    assert any("cps_leaf: missing leaf/cps_leaf.der" in p for p in problems)
    assert any("vehicle_leaf" in p and "does not belong" in p for p in problems)
    assert len(problems) == 3


def test_verify_layout_reports_expiry_and_a_missing_manifest(work_dir: Path) -> None:
    directory = work_dir / "pki"
    init_pki(directory, now=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    problems = verify_pki_layout(directory, now=dt.datetime(2022, 6, 1, tzinfo=dt.UTC))
    assert any(p.startswith("secc_leaf:") and "expired" in p for p in problems)
    assert verify_pki_layout(work_dir / "nothing") == [
        f"{work_dir / 'nothing'} is not a v2gstack PKI (no pki.json; create one with `v2g pki init`)"
    ]


def test_identities_are_checked_and_normalised() -> None:
    assert normalize_emaid("DE-ABC-C123ABC56-0") == "DEABCC123ABC560"
    pki = build_pki(identities=Identities(emaid="DE-ABC-C123ABC56-0", secc_id="FR-XYZ-S-" + "A" * 32))
    assert _cn(pki[Entity.CONTRACT_LEAF].certificate) == "DEABCC123ABC560"
    assert _cn(pki[Entity.SECC_LEAF].certificate) == "FRXYZS" + "A" * 32
    for bad, rule in [
        (Identities(emaid="DE-AB"), "eMAID"),
        (Identities(secc_id="DE*ABC"), "SECCID"),
        (Identities(pcid="short"), "PCID"),
        (Identities(evccid="has space"), "EVCCID"),
        (Identities(country="Germany"), "country"),
    ]:
        with pytest.raises(ConfigError, match=rule):
            build_pki(identities=bad)
    with pytest.raises(ConfigError, match="secp521r1 or ed448"):
        build_pki(algorithm="secp256r1")
    with pytest.raises(ConfigError, match=r"not 'rsa'"):
        build_pki(algorithm="rsa")


def test_profile_table_matches_the_chains() -> None:
    for entity, profile in PROFILES.items():
        assert profile.entity is entity
        assert (profile.issuer is None) == (entity in (Entity.V2G_ROOT, Entity.OEM_ROOT, Entity.MO_ROOT))
        assert profile.ca == (entity in CA_PATH_LENGTHS)
    assert chain_of(Entity.CPS_LEAF) == [Entity.CPS_LEAF, Entity.CPS_SUB_CA2, Entity.CPS_SUB_CA1, Entity.V2G_ROOT]


def test_profile_problems_name_each_deviation(test_pkis: dict[str, PkiFixture], pki_now: dt.datetime) -> None:
    pki = test_pkis["secp521r1"].pki
    assert profile_problems(Entity.CPO_SUB_CA1, pki[Entity.CPO_SUB_CA1].certificate, pki.algorithm) == []
    spec = spec_for(Entity.CPO_SUB_CA1, algorithm=pki.algorithm, now=pki_now)
    odd = dataclasses.replace(spec, path_length=3, domain_component="CPO")
    cert = issue_certificate(odd, algorithm=KeyAlgorithm.ED448, issuer=pki[Entity.V2G_ROOT]).certificate
    problems = profile_problems(Entity.CPO_SUB_CA1, cert, pki.algorithm)
    assert problems == [
        "key is ed448, the PKI is secp521r1",
        "pathLen is 3, the profile asks 1",
        "domainComponent is ['CPO'], the profile asks ['V2G']",
    ]
