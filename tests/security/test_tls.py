"""TLS 1.3 between an EVCC and an SECC context over ::1: what is negotiated, what is enforced, what is refused."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from iso15118.errors import ConfigError, SecurityError
from iso15118.security import libssl
from iso15118.security.badcerts import defective_leaf
from iso15118.security.certs import ChainValidationError, Defect
from iso15118.security.issuing import KeyAlgorithm
from iso15118.security.pki import write_identity
from iso15118.security.profiles import Entity, Identities
from iso15118.security.tls import (
    TlsConfig,
    TlsMode,
    describe_handshake,
    evcc_context,
    keylog_from_environment,
    secc_context,
    tls_failure,
)

from .conftest import PkiFixture
from .tlspair import Side, run_pair

pytestmark = pytest.mark.timeout(60)

SIGNATURE = {KeyAlgorithm.SECP521R1: "ECDSA+SHA512", KeyAlgorithm.ED448: "ED448"}
SECC_SUBJECT = f"DC=CPO,C=DE,O=v2gstack test CPO,CN={Identities().secc_id}"
VEHICLE_SUBJECT = f"DC=OEM,C=DE,O=v2gstack test OEM,CN={Identities().evccid}"
FRAME = b"\x01\xfe\x80\x02\x00\x00\x00\x03abc"


def _failure(side: Side) -> SecurityError:
    assert isinstance(side.error, ssl.SSLError), f"expected an ssl.SSLError, got {side.error!r}"
    return tls_failure(side.error)


def _bad_secc(test_pki: PkiFixture, defect: Defect, directory: Path, **overrides: object) -> TlsConfig:
    bad = defective_leaf(test_pki.pki, defect)
    chain, key = write_identity(directory, defect.name.lower(), bad.issued, list(bad.intermediates))
    return test_pki.secc_config(certificate_chain=chain, private_key=key, **overrides)


def test_the_libssl_bridge_works_here() -> None:
    assert libssl.available() == (True, "")


@pytest.mark.parametrize("mutual", [True, False], ids=["mutual", "server-only"])
def test_handshake_negotiates_the_20_parameters(test_pki: PkiFixture, mutual: bool) -> None:
    server_config = test_pki.secc_config(require_client_certificate=mutual)
    server, client = run_pair(
        secc_context(server_config), evcc_context(test_pki.evcc_config(vehicle_certificate=mutual)), frames=[FRAME]
    )
    assert server.error is None and client.error is None
    assert server.received == FRAME and client.received == FRAME
    signature = SIGNATURE[test_pki.pki.algorithm]
    for side in (server, client):
        assert side.info is not None
        assert side.info.version == "TLSv1.3"
        assert side.info.cipher == "TLS_AES_256_GCM_SHA384"
        assert side.info.group == "secp521r1"
    assert client.info is not None and server.info is not None
    assert client.info.peer_subject == SECC_SUBJECT
    assert client.info.peer_key == test_pki.pki.algorithm.value
    assert client.info.peer_signature == signature
    if mutual:
        assert server.info.peer_subject == VEHICLE_SUBJECT
        assert server.info.peer_signature == signature
    else:
        assert server.info.peer_subject is None and server.info.peer_certificate is None
    assert "TLSv1.3 TLS_AES_256_GCM_SHA384 group secp521r1" in client.info.summary()


def test_optional_client_auth_still_verifies_a_presented_certificate(test_pki: PkiFixture) -> None:
    context = secc_context(test_pki.secc_config(require_client_certificate=False))
    assert context.verify_mode is ssl.CERT_OPTIONAL
    server, client = run_pair(context, evcc_context(test_pki.evcc_config()))
    assert server.error is None and client.error is None
    assert server.info is not None and server.info.peer_subject == VEHICLE_SUBJECT


def test_context_settings(test_pki: PkiFixture) -> None:
    server = secc_context(test_pki.secc_config())
    client = evcc_context(test_pki.evcc_config())
    for context in (server, client):
        assert context.minimum_version is ssl.TLSVersion.TLSv1_3
        assert context.maximum_version is ssl.TLSVersion.TLSv1_3
        tls13 = [c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.3"]
        assert tls13 == ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]
        assert context.verify_flags & ssl.VERIFY_X509_STRICT
    assert server.verify_mode is ssl.CERT_REQUIRED
    assert client.verify_mode is ssl.CERT_REQUIRED and client.check_hostname is False
    no_roots = secc_context(test_pki.secc_config(trust_roots=(), require_client_certificate=False))
    assert no_roots.verify_mode is ssl.CERT_NONE


@pytest.mark.parametrize(
    ("setter", "value", "cipher", "group"),
    [
        (libssl.set_groups, "X448", "TLS_AES_256_GCM_SHA384", "X448"),
        (libssl.set_ciphersuites, "TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256", "secp521r1"),
    ],
    ids=["x448", "chacha20"],
)
def test_the_other_allowed_parameters_are_accepted(
    test_pkis: dict[str, PkiFixture], setter: object, value: str, cipher: str, group: str
) -> None:
    test_pki = test_pkis["secp521r1"]
    client_context = evcc_context(test_pki.evcc_config())
    setter(client_context, value)  # type: ignore[operator]
    server, client = run_pair(secc_context(test_pki.secc_config()), client_context)
    assert server.error is None and client.error is None
    assert server.info is not None and server.info.cipher == cipher and server.info.group == group


@pytest.mark.parametrize(
    ("setter", "value", "reason"),
    [
        (libssl.set_groups, "P-256:X25519", "no key-exchange group in common"),
        (libssl.set_ciphersuites, "TLS_AES_128_GCM_SHA256", "no cipher suite in common"),
        (libssl.set_sigalgs, "ecdsa_secp256r1_sha256:ecdsa_secp384r1_sha384", "no signature algorithm in common"),
    ],
    ids=["p256-x25519-groups", "aes128-suite", "p256-sigalgs"],
)
def test_the_secc_refuses_parameters_outside_the_tables(
    test_pkis: dict[str, PkiFixture], setter: object, value: str, reason: str
) -> None:
    test_pki = test_pkis["secp521r1"]
    client_context = evcc_context(test_pki.evcc_config(mode=TlsMode.TOLERANT))
    setter(client_context, value)  # type: ignore[operator]
    server, client = run_pair(secc_context(test_pki.secc_config()), client_context)
    assert reason in str(_failure(server))
    assert "the peer aborted the handshake" in str(_failure(client))


def test_the_evcc_refuses_a_server_without_the_20_groups(test_pkis: dict[str, PkiFixture]) -> None:
    test_pki = test_pkis["secp521r1"]
    server_context = secc_context(test_pki.secc_config(mode=TlsMode.TOLERANT))
    libssl.set_groups(server_context, "P-256")
    server, client = run_pair(server_context, evcc_context(test_pki.evcc_config()))
    assert server.info is None and client.info is None
    assert client.error is not None and server.error is not None


def test_refuses_a_client_offering_only_tls12(test_pki: PkiFixture) -> None:
    client_context = evcc_context(test_pki.evcc_config(mode=TlsMode.TOLERANT))
    client_context.maximum_version = ssl.TLSVersion.TLSv1_2
    server, client = run_pair(secc_context(test_pki.secc_config()), client_context)
    assert "offered no TLS version we accept (-20 needs TLS 1.3)" in str(_failure(server))
    assert "refused our TLS version" in str(_failure(client))


def test_refuses_a_missing_vehicle_certificate_when_mutual_auth_is_required(test_pki: PkiFixture) -> None:
    server, client = run_pair(
        secc_context(test_pki.secc_config()), evcc_context(test_pki.evcc_config(vehicle_certificate=False)), frames=()
    )
    assert "the vehicle sent no certificate, but mutual authentication is required" in str(_failure(server))
    assert "requires a vehicle certificate and we sent none" in str(_failure(client))


# Server certificate defects the EVCC's OpenSSL verification reports, and how.
SERVER_DEFECTS = {
    Defect.EXPIRED: (Defect.EXPIRED, "certificate has expired"),
    Defect.NOT_YET_VALID: (Defect.NOT_YET_VALID, "certificate is not yet valid"),
    Defect.UNKNOWN_ISSUER: (Defect.UNKNOWN_ISSUER, "unable to get local issuer certificate"),
    # The impostor's authorityKeyIdentifier names no key OpenSSL knows, so it reports an unknown issuer.
    Defect.BAD_SIGNATURE: (Defect.UNKNOWN_ISSUER, "unable to get local issuer certificate"),
    Defect.WRONG_KEY_USAGE: (Defect.WRONG_KEY_USAGE, "unsuitable certificate purpose"),
    Defect.PATH_TOO_LONG: (Defect.PATH_TOO_LONG, "path length constraint exceeded"),
    Defect.NOT_A_CA: (Defect.NOT_A_CA, "invalid CA certificate"),
    Defect.UNSUPPORTED_EXTENSION: (Defect.UNSUPPORTED_EXTENSION, "unhandled critical extension"),
}


@pytest.mark.parametrize("defect", list(SERVER_DEFECTS), ids=lambda d: d.name)
def test_evcc_refuses_a_defective_secc_certificate(test_pki: PkiFixture, defect: Defect, tmp_path: Path) -> None:
    server, client = run_pair(secc_context(_bad_secc(test_pki, defect, tmp_path)), evcc_context(test_pki.evcc_config()))
    failure = _failure(client)
    expected_defect, message = SERVER_DEFECTS[defect]
    assert isinstance(failure, ChainValidationError) and failure.defect is expected_defect
    assert message in str(failure)
    assert server.error is not None and server.info is None


@pytest.mark.parametrize("defect", [Defect.NOT_END_ENTITY, Defect.TOO_LARGE], ids=lambda d: d.name)
def test_profile_checks_after_the_handshake(test_pki: PkiFixture, defect: Defect, tmp_path: Path) -> None:
    """OpenSSL accepts these; check_peer refuses them for the -20 profile."""
    _, client = run_pair(secc_context(_bad_secc(test_pki, defect, tmp_path)), evcc_context(test_pki.evcc_config()))
    assert isinstance(client.error, ChainValidationError) and client.error.defect is defect
    assert client.info is None


@pytest.mark.parametrize(
    "defect", [Defect.EXPIRED, Defect.UNKNOWN_ISSUER, Defect.WRONG_KEY_USAGE], ids=lambda d: d.name
)
def test_secc_refuses_a_defective_vehicle_certificate(test_pki: PkiFixture, defect: Defect, tmp_path: Path) -> None:
    bad = defective_leaf(test_pki.pki, defect, entity=Entity.VEHICLE_LEAF)
    chain, key = write_identity(tmp_path, "vehicle", bad.issued, list(bad.intermediates))
    server, client = run_pair(
        secc_context(test_pki.secc_config()),
        evcc_context(test_pki.evcc_config(certificate_chain=chain, private_key=key)),
        frames=(),
    )
    failure = _failure(server)
    assert isinstance(failure, ChainValidationError) and failure.defect is defect
    assert client.error is not None


def test_wrong_algorithm_strict_refuses_to_configure_and_the_evcc_refuses_to_talk(
    test_pkis: dict[str, PkiFixture], tmp_path: Path
) -> None:
    test_pki = test_pkis["secp521r1"]
    with pytest.raises(ConfigError, match=r"needs a secp521r1 or Ed448 certificate .* secp256r1 key"):
        secc_context(_bad_secc(test_pki, Defect.WRONG_ALGORITHM, tmp_path))
    lab = _bad_secc(test_pki, Defect.WRONG_ALGORITHM, tmp_path / "lab", mode=TlsMode.TOLERANT)
    server, client = run_pair(secc_context(lab), evcc_context(test_pki.evcc_config()))
    failure = _failure(server)
    assert isinstance(failure, ChainValidationError) and failure.defect is Defect.WRONG_ALGORITHM
    assert client.error is not None


def test_tolerant_mode_talks_to_a_tls12_p256_lab_peer(test_pkis: dict[str, PkiFixture], tmp_path: Path) -> None:
    test_pki = test_pkis["secp521r1"]
    lab = _bad_secc(test_pki, Defect.WRONG_ALGORITHM, tmp_path, mode=TlsMode.TOLERANT, require_client_certificate=False)
    client_context = evcc_context(test_pki.evcc_config(vehicle_certificate=False, mode=TlsMode.TOLERANT))
    client_context.maximum_version = ssl.TLSVersion.TLSv1_2
    libssl.set_groups(client_context, "P-256")
    server, client = run_pair(secc_context(lab), client_context, mode=TlsMode.TOLERANT)
    assert server.error is None and client.error is None
    assert client.info is not None and client.info.version == "TLSv1.2"
    assert client.info.group == "prime256v1" and client.info.peer_key == "secp256r1"
    # The same lab peer is refused by the strict default.
    _, strict_client = run_pair(secc_context(lab), evcc_context(test_pki.evcc_config()))
    assert strict_client.error is not None and strict_client.info is None


def test_key_log_has_the_tls13_secrets(test_pki: PkiFixture, tmp_path: Path) -> None:
    server_log, client_log = tmp_path / "server.keys", tmp_path / "client.keys"
    server, client = run_pair(
        secc_context(test_pki.secc_config(keylog_filename=server_log)),
        evcc_context(test_pki.evcc_config(keylog_filename=client_log)),
    )
    assert server.error is None and client.error is None
    labels = {
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
        "EXPORTER_SECRET",
    }
    for path in (server_log, client_log):
        lines = [line.split() for line in path.read_text().splitlines() if not line.startswith("#")]
        assert {parts[0] for parts in lines} == labels
        assert all(len(parts) == 3 and len(bytes.fromhex(parts[1])) == 32 for parts in lines)
    assert sorted(server_log.read_text().splitlines()[1:]) == sorted(client_log.read_text().splitlines()[1:])


def test_sslkeylogfile_is_honoured_through_the_environment(tmp_path: Path) -> None:
    assert keylog_from_environment({"SSLKEYLOGFILE": str(tmp_path / "k.log")}) == tmp_path / "k.log"
    assert keylog_from_environment({"SSLKEYLOGFILE": "  "}) is None
    assert keylog_from_environment({}) is None
    config = TlsConfig().with_keylog_from({"SSLKEYLOGFILE": "/tmp/a.log"})
    assert config.keylog_filename == Path("/tmp/a.log")
    explicit = TlsConfig(keylog_filename=Path("/tmp/b.log")).with_keylog_from({"SSLKEYLOGFILE": "/tmp/a.log"})
    assert explicit.keylog_filename == Path("/tmp/b.log")


def test_configuration_errors_are_clear(test_pkis: dict[str, PkiFixture], tmp_path: Path) -> None:
    test_pki = test_pkis["ed448"]
    with pytest.raises(ConfigError, match="needs both certificate_chain and private_key"):
        secc_context(TlsConfig(trust_roots=test_pki.secc_config().trust_roots))
    with pytest.raises(ConfigError, match="mutual authentication needs trust_roots"):
        secc_context(test_pki.secc_config(trust_roots=()))
    with pytest.raises(ConfigError, match="the EVCC needs trust_roots"):
        evcc_context(TlsConfig())
    with pytest.raises(ConfigError, match=r"cannot read .*missing\.pem"):
        secc_context(test_pki.secc_config(certificate_chain=tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match=r"cannot load trusted root .*nowhere\.pem"):
        evcc_context(TlsConfig(trust_roots=(tmp_path / "nowhere.pem",)))
    other_key = test_pkis["secp521r1"].secc_config().private_key
    with pytest.raises(ConfigError, match="cannot load TLS identity"):
        secc_context(test_pki.secc_config(private_key=other_key))


def test_unknown_failures_still_read_well() -> None:
    error = ssl.SSLError(1, "[SSL: SOMETHING_NEW] something new")
    error.reason = "SOMETHING_NEW"
    assert str(tls_failure(error)) == "TLS handshake failed: SOMETHING_NEW"


@pytest.mark.asyncio
async def test_asyncio_streams_and_ssl_object_reports(test_pkis: dict[str, PkiFixture]) -> None:
    test_pki = test_pkis["ed448"]
    reports = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        reports.append(describe_handshake(writer.get_extra_info("ssl_object")))
        writer.write(await reader.readexactly(len(FRAME)))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "::1", 0, ssl=secc_context(test_pki.secc_config()))
    port = server.sockets[0].getsockname()[1]
    async with server:
        reader, writer = await asyncio.open_connection(
            "::1", port, ssl=evcc_context(test_pki.evcc_config()), server_hostname=""
        )
        writer.write(FRAME)
        assert await reader.readexactly(len(FRAME)) == FRAME
        client_report = describe_handshake(writer.get_extra_info("ssl_object"))
        writer.close()
        await writer.wait_closed()
    assert client_report.group == "secp521r1" and client_report.peer_signature == "ED448"
    assert reports[0].peer_subject == VEHICLE_SUBJECT and reports[0].version == "TLSv1.3"
    assert reports[0].group == "secp521r1" and reports[0].cipher == "TLS_AES_256_GCM_SHA384"
