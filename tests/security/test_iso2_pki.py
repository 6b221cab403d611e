"""The ISO 15118-2 test PKI: `v2g pki init --profile iso2`, its profile rules, and the -20 default untouched."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, SignatureAlgorithmOID

from harness.cli import main
from iso15118.errors import ConfigError
from iso15118.security.certs import ISO2, STRICT, ChainValidationError, Defect, validate_chain
from iso15118.security.iso2_profiles import ISO2_PROFILES
from iso15118.security.issuing import HashName, KeyAlgorithm, KeyUsage, issue_certificate
from iso15118.security.pki import LEAF_PURPOSES, build_pki, init_pki, load_pki, verify_pki_layout
from iso15118.security.pkicheck import profile_problems
from iso15118.security.pkikinds import ISO2_PKI
from iso15118.security.profiles import Entity, spec_for

from .conftest import PkiFixture

_LEAFS = (Entity.SECC_LEAF, Entity.CPS_LEAF, Entity.OEM_PROV_LEAF, Entity.CONTRACT_LEAF)


def test_the_iso2_pki_is_p256_sha256_within_800_bytes_and_has_no_vehicle_leaf(iso2_pki: PkiFixture) -> None:
    pki = iso2_pki.pki
    assert pki.kind is ISO2_PKI and pki.algorithm is KeyAlgorithm.SECP256R1
    assert set(pki.issued) == set(ISO2_PROFILES) == set(Entity) - {Entity.VEHICLE_LEAF}
    for entity, issued in pki.issued.items():
        cert = issued.certificate
        assert cert.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256, entity
        assert len(cert.public_bytes(serialization.Encoding.DER)) <= 800, entity
        assert profile_problems(entity, cert, pki.algorithm, ISO2_PKI) == [], entity


def test_iso2_chains_validate_with_the_iso2_policy_and_not_with_the_iso20_one(
    iso2_pki: PkiFixture, pki_now: dt.datetime
) -> None:
    pki = iso2_pki.pki
    now = pki_now + dt.timedelta(minutes=1)
    for leaf in _LEAFS:
        chain = validate_chain(
            pki[leaf].certificate, pki.chain(leaf), pki.roots(), now=now, purpose=LEAF_PURPOSES[leaf], policy=ISO2
        )
        assert chain.algorithm is KeyAlgorithm.SECP256R1
        with pytest.raises(ChainValidationError, match="ISO 15118-20 allows ed448, secp521r1") as refused:
            validate_chain(pki[leaf].certificate, pki.chain(leaf), pki.roots(), now=now, policy=STRICT)
        assert refused.value.defect is Defect.WRONG_ALGORITHM


def test_the_iso2_policy_refuses_iso20_certificates(test_pkis: dict[str, PkiFixture], pki_now: dt.datetime) -> None:
    pki = test_pkis["secp521r1"].pki
    with pytest.raises(ChainValidationError, match="ISO 15118-2 allows secp256r1"):
        validate_chain(
            pki[Entity.SECC_LEAF].certificate, pki.chain(Entity.SECC_LEAF), pki.roots(), now=pki_now, policy=ISO2
        )


def test_leaf_profiles_carry_the_iso2_key_usages(iso2_pki: PkiFixture) -> None:
    def usage(entity: Entity) -> x509.KeyUsage:
        return iso2_pki.pki[entity].certificate.extensions.get_extension_for_class(x509.KeyUsage).value

    contract = usage(Entity.CONTRACT_LEAF)
    assert contract.digital_signature and contract.content_commitment and contract.key_agreement
    assert contract.key_encipherment
    assert usage(Entity.OEM_PROV_LEAF).key_agreement and usage(Entity.SECC_LEAF).key_agreement
    assert not usage(Entity.CPS_LEAF).key_agreement
    ca = iso2_pki.pki[Entity.MO_SUB_CA2].certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert ca.critical and ca.value.ca and ca.value.path_length == 0


def _variant(iso2_pki: PkiFixture, entity: Entity, **changes: object) -> x509.Certificate:
    pki = iso2_pki.pki
    spec = spec_for(
        entity,
        algorithm=pki.algorithm,
        now=pki.created,
        identities=pki.identities,
        profiles=ISO2_PROFILES,
        hash_name=HashName.SHA256,
    )
    issuer = ISO2_PROFILES[entity].issuer
    assert issuer is not None
    return issue_certificate(
        dataclasses.replace(spec, **changes),  # type: ignore[arg-type]
        algorithm=pki.algorithm,
        issuer=pki[issuer],
    ).certificate


@pytest.mark.parametrize(
    ("entity", "changes", "problem"),
    [
        (Entity.CONTRACT_LEAF, {"hash_name": HashName.SHA512}, "signed with ecdsa-with-SHA512"),
        (Entity.SECC_LEAF, {"extended_key_usage": (ExtendedKeyUsageOID.SERVER_AUTH,)}, "extendedKeyUsage"),
        (Entity.CONTRACT_LEAF, {"key_usage": frozenset({KeyUsage.DIGITAL_SIGNATURE})}, "keyUsage"),
        (Entity.CPS_LEAF, {"domain_component": "CPO"}, "domainComponent"),
        (Entity.MO_SUB_CA2, {"path_length": 1}, "pathLen"),
    ],
)
def test_profile_rules_name_what_differs(
    iso2_pki: PkiFixture, entity: Entity, changes: dict[str, object], problem: str
) -> None:
    cert = _variant(iso2_pki, entity, **changes)
    problems = profile_problems(entity, cert, KeyAlgorithm.SECP256R1, ISO2_PKI)
    assert any(problem in p for p in problems), problems


def test_a_certificate_valid_longer_than_its_profile_is_a_problem(iso2_pki: PkiFixture) -> None:
    start = iso2_pki.pki.created
    cert = _variant(iso2_pki, Entity.SECC_LEAF, not_after=start + dt.timedelta(days=365))
    problems = profile_problems(Entity.SECC_LEAF, cert, KeyAlgorithm.SECP256R1, ISO2_PKI)
    assert problems == ["valid for 365 days, the profile allows at most 60"]


def test_init_writes_the_iso2_layout_and_manifest(tmp_path: Path) -> None:
    layout = init_pki(tmp_path / "pki2", kind="iso2")
    assert layout.kind is ISO2_PKI and Entity.VEHICLE_LEAF not in layout.entities
    assert json.loads(layout.manifest.read_text())["profile"] == "iso2"
    assert "# ISO 15118-2 test PKI" in layout.readme.read_text()
    assert load_pki(layout.directory).kind is ISO2_PKI
    assert verify_pki_layout(layout.directory) == []
    with pytest.raises(ConfigError, match="ISO 15118-2 PKI uses secp256r1, not 'secp521r1'"):
        build_pki(kind="iso2", algorithm="secp521r1")
    with pytest.raises(ConfigError, match="unknown PKI profile 'iso3'"):
        build_pki(kind="iso3")


def test_verify_layout_reports_a_tampered_iso2_certificate(tmp_path: Path, iso2_pki: PkiFixture) -> None:
    layout = init_pki(tmp_path / "pki2", kind="iso2")
    files = layout[Entity.CPS_LEAF]
    intruder = iso2_pki.pki[Entity.CPS_LEAF].certificate  # another PKI's CPS leaf: wrong key, wrong issuer
    files.cert_pem.write_bytes(intruder.public_bytes(serialization.Encoding.PEM))
    problems = verify_pki_layout(layout.directory)
    assert "cps_leaf: the .pem and .der certificates differ" in problems
    assert "cps_leaf: the private key does not belong to the certificate" in problems


def test_the_iso20_default_is_unchanged(tmp_path: Path) -> None:
    layout = init_pki(tmp_path / "pki20")
    manifest = json.loads(layout.manifest.read_text())
    assert manifest["profile"] == "iso20" and manifest["algorithm"] == "secp521r1"
    assert len(layout.entities) == 16 and Entity.VEHICLE_LEAF in layout.entities
    del manifest["profile"]  # a manifest written before -2 existed
    layout.manifest.write_text(json.dumps(manifest))
    assert load_pki(layout.directory).kind.name == "iso20"
    assert verify_pki_layout(layout.directory) == []


def test_cli_init_and_verify_an_iso2_pki(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "pki2"
    assert main(["pki", "init", str(directory), "--profile", "iso2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"wrote a secp256r1 ISO 15118-2 test PKI to {directory} (15 certificates")
    assert main(["pki", "verify", str(directory)]) == 0
    assert capsys.readouterr().out == f"OK: {directory} is a complete, valid ISO 15118-2 test PKI\n"
    chain = str(directory / "chains" / "contract_leaf_chain.pem")
    roots = str(directory / "roots")
    assert main(["pki", "verify", chain, "--roots", roots, "--profile", "iso2", "--as", "contract"]) == 0
    assert "is valid as a contract certificate (purpose contract), secp256r1" in capsys.readouterr().out
    assert main(["pki", "verify", chain, "--roots", roots, "--as", "contract"]) == 1
    assert "wrong algorithm: key is secp256r1; ISO 15118-20 allows" in capsys.readouterr().out
    assert main(["pki", "verify", chain, "--roots", roots, "--profile", "iso2", "--as", "secc"]) == 1
    assert "wrong role" in capsys.readouterr().out
    assert main(["pki", "init", str(tmp_path / "x"), "--profile", "iso2", "--algorithm", "ed448"]) != 0
    assert "the ISO 15118-2 PKI uses secp256r1, not 'ed448'" in capsys.readouterr().err
