"""`v2g pki init|show|verify` through harness.cli.main: output, exit codes, one-line errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from harness.cli import main
from iso15118.security.badcerts import defective_leaf
from iso15118.security.certs import Defect
from iso15118.security.pki import load_pki, write_identity
from iso15118.security.profiles import Entity

from .conftest import PkiFixture


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_init_show_verify_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "pki"
    code, out, err = _run(
        capsys,
        "pki",
        "init",
        str(directory),
        "--algorithm",
        "ed448",
        "--emaid",
        "DE-ABC-C123ABC56-0",
        "--evccid",
        "MYCAR0001",
    )
    assert code == 0 and err == ""
    assert out.startswith(f"wrote a ed448 ISO 15118-20 test PKI to {directory} (16 certificates")
    assert load_pki(directory).algorithm.value == "ed448"

    code, out, err = _run(capsys, "pki", "show", str(directory))
    assert code == 0 and err == ""
    assert out.count("    issuer   self-signed") == 3  # three roots
    assert out.count("key      ed448, signed ed448") == 16
    assert "DC=OEM,C=DE,O=v2gstack test OEM,CN=MYCAR0001  [leaf/vehicle_leaf.pem]" in out
    assert "CN=DEABCC123ABC560" in out
    assert "usage    CA pathLen=0; key_cert_sign, crl_sign" in out
    # the tree: the SECC leaf is indented three levels below the V2G root
    assert "            DC=CPO,C=DE,O=v2gstack test CPO,CN=DEV2GS" in out

    code, out, err = _run(
        capsys,
        "pki",
        "verify",
        str(directory / "chains" / "secc_leaf_chain.pem"),
        "--roots",
        str(directory),
        "--purpose",
        "secc-tls",
    )
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("OK: DC=CPO,C=DE,O=v2gstack test CPO,CN=DEV2GS")
    assert "is valid as an SECC (CPO) certificate (purpose secc-tls), ed448" in lines[0]
    assert lines[-1].strip() == "└─ DC=V2G,C=DE,O=v2gstack test V2G,CN=V2GRootCA"
    assert len(lines) == 5


def test_init_refuses_an_existing_pki_without_force(
    test_pkis: dict[str, PkiFixture], capsys: pytest.CaptureFixture[str]
) -> None:
    directory = test_pkis["secp521r1"].layout.directory
    before = (directory / "roots" / "v2g_root.der").read_bytes()
    code, out, err = _run(capsys, "pki", "init", str(directory))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "refusing to overwrite" in err and "Traceback" not in err
    assert (directory / "roots" / "v2g_root.der").read_bytes() == before


def test_init_force_moves_the_old_pki_aside(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "pki"
    assert _run(capsys, "pki", "init", str(directory))[0] == 0
    old = (directory / "private" / "secc_leaf.key.pem").read_bytes()
    code, _, err = _run(capsys, "pki", "init", str(directory), "--force", "--algorithm", "ed448")
    assert code == 0 and err == ""
    (backup,) = directory.glob("replaced-*")
    assert (backup / "private" / "secc_leaf.key.pem").read_bytes() == old
    # `show` ignores the moved-aside copy
    code, out, _ = _run(capsys, "pki", "show", str(directory))
    assert code == 0 and "replaced-" not in out and "secp521r1" not in out


@pytest.mark.parametrize(
    "defect",
    [Defect.EXPIRED, Defect.UNKNOWN_ISSUER, Defect.WRONG_KEY_USAGE, Defect.PATH_TOO_LONG, Defect.WRONG_ALGORITHM],
    ids=lambda d: d.name,
)
def test_verify_prints_the_reason_and_fails(
    test_pkis: dict[str, PkiFixture], tmp_path: Path, defect: Defect, capsys: pytest.CaptureFixture[str]
) -> None:
    test_pki = test_pkis["secp521r1"]
    bad = defective_leaf(test_pki.pki, defect)
    chain, _ = write_identity(tmp_path, "bad", bad.issued, list(bad.intermediates))
    code, out, err = _run(capsys, "pki", "verify", str(chain), "--roots", str(test_pki.layout.directory))
    assert code == 1 and err == ""
    assert out.startswith(f"FAILED: {chain}: ") and f": {defect.value}: " in out
    assert out.count("\n") == 1


def test_verify_tolerant_and_at(
    test_pkis: dict[str, PkiFixture], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    test_pki = test_pkis["secp521r1"]
    bad = defective_leaf(test_pki.pki, Defect.WRONG_ALGORITHM)
    chain, _ = write_identity(tmp_path, "p256", bad.issued, list(bad.intermediates))
    roots = str(test_pki.layout.directory)
    assert _run(capsys, "pki", "verify", str(chain), "--roots", roots, "--tolerant")[0] == 0
    leaf = test_pki.layout[Entity.CONTRACT_LEAF].cert_der
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3 * 365)).strftime("%Y-%m-%dT%H:%M:%S")
    code, out, _ = _run(capsys, "pki", "verify", str(leaf), "--roots", roots, "--at", later)
    assert code == 1 and "expired" in out
    code, out, _ = _run(capsys, "pki", "verify", str(test_pki.layout[Entity.CPO_SUB_CA2].cert_pem), "--roots", roots)
    assert code == 0 and "is a valid certificate" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["pki", "verify", "{tmp}/missing.pem", "--roots", "{tmp}"], "No such file or directory"),
        (["pki", "verify", "{tmp}/junk.pem", "--roots", "{tmp}"], "malformed: "),
        (["pki", "verify", "{pki}/leaf/secc_leaf.pem", "--roots", "{tmp}/empty"], "no certificates found"),
        (["pki", "verify", "{pki}/leaf/secc_leaf.pem", "--roots", "{pki}/ca"], "no self-signed root"),
        (["pki", "show", "{tmp}/nowhere"], "neither a directory nor a file"),
        (["pki", "init", "{tmp}/x", "--emaid", "nonsense"], "eMAID 'nonsense' is not"),
        (["pki", "init", "{tmp}/junk.pem"], "exists and is not a directory"),
    ],
    ids=["missing-file", "junk", "no-certs", "no-roots", "show-nowhere", "bad-emaid", "init-onto-file"],
)
def test_bad_input_is_one_clean_line(
    test_pkis: dict[str, PkiFixture], tmp_path: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "junk.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    (tmp_path / "empty").mkdir()
    pki = test_pkis["ed448"].layout.directory
    code, out, err = _run(capsys, *(a.format(tmp=tmp_path, pki=pki) for a in argv))
    assert code == 1 and out == ""
    assert err.startswith("v2g pki: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_bad_arguments_exit_with_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["pki", "init", "x", "--algorithm", "rsa"])
    assert exited.value.code == 2
    assert "invalid choice: 'rsa'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["pki", "verify", "cert.pem", "--roots", "r", "--at", "yesterday"])
    assert "not an ISO 8601 time" in capsys.readouterr().err


ROLE_CERTS = {
    "vehicle": (Entity.VEHICLE_LEAF, "a vehicle certificate", "vehicle-tls"),
    "secc": (Entity.SECC_LEAF, "an SECC (CPO) certificate", "secc-tls"),
    "cps": (Entity.CPS_LEAF, "a CPS certificate", "cps"),
    "contract": (Entity.CONTRACT_LEAF, "a contract certificate", "contract"),
}


@pytest.mark.parametrize("role", list(ROLE_CERTS))
@pytest.mark.parametrize("holder", list(ROLE_CERTS))
def test_verify_as_a_role_accepts_its_own_certificate_and_says_why_not_another(
    test_pkis: dict[str, PkiFixture], holder: str, role: str, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = test_pkis["secp521r1"].layout
    entity = ROLE_CERTS[holder][0]
    chain = layout[entity].chain_pem
    assert chain is not None
    code, out, err = _run(capsys, "pki", "verify", str(chain), "--roots", str(layout.directory), "--as", role)
    assert err == ""
    _, name, purpose = ROLE_CERTS[role]
    if holder == role:
        assert code == 0 and out.startswith("OK: ") and f" is valid as {name} (purpose {purpose}), secp521r1" in out
        return
    assert code == 1 and out.count("\n") == 1
    subject = test_pkis["secp521r1"].pki[entity].certificate.subject.rfc4514_string()
    assert out.startswith(f"FAILED: {chain}: {subject}: wrong role: not {name}: its domainComponent ")
    assert f", while {name} has " in out


def test_verify_purpose_secc_tls_refuses_a_vehicle_certificate(
    test_pkis: dict[str, PkiFixture], capsys: pytest.CaptureFixture[str]
) -> None:
    layout = test_pkis["ed448"].layout
    vehicle = str(layout[Entity.VEHICLE_LEAF].cert_pem)
    code, out, _ = _run(capsys, "pki", "verify", vehicle, "--roots", str(layout.directory), "--purpose", "secc-tls")
    assert code == 1
    assert "wrong role: not an SECC (CPO) certificate: its domainComponent OEM marks a vehicle" in out
    assert "its extendedKeyUsage clientAuth marks a TLS client (vehicle) certificate" in out
    assert "its chain ends at DC=OEM,C=DE,O=v2gstack test OEM,CN=OEMRootCA, which is not a V2G root" in out
    code, out, _ = _run(capsys, "pki", "verify", vehicle, "--roots", str(layout.directory), "--purpose", "vehicle-tls")
    assert code == 0 and "is valid as a vehicle certificate (purpose vehicle-tls)" in out


def test_verify_as_a_role_also_judges_a_chain_refused_for_another_reason(
    test_pkis: dict[str, PkiFixture], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    test_pki = test_pkis["secp521r1"]
    bad = defective_leaf(test_pki.pki, Defect.EXPIRED)  # an expired SECC leaf
    chain, _ = write_identity(tmp_path, "old", bad.issued, list(bad.intermediates))
    code, out, _ = _run(
        capsys, "pki", "verify", str(chain), "--roots", str(test_pki.layout.directory), "--as", "vehicle"
    )
    first, second = out.splitlines()
    assert code == 1 and ": expired: not valid after" in first
    assert second.startswith("  role: not a vehicle certificate: its domainComponent CPO marks an SECC (CPO)")
    with pytest.raises(SystemExit) as exited:
        main(["pki", "verify", str(chain), "--roots", "x", "--as", "vehicle", "--purpose", "any"])
    assert exited.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
