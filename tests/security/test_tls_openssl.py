"""An independent TLS client (the `openssl s_client` command) against our strict SECC context: it can
negotiate what the -20 tables allow and nothing else."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import subprocess
import threading

import pytest

from iso15118.security.profiles import Entity
from iso15118.security.tls import TlsMode, secc_context, tls_failure

from .conftest import PkiFixture
from .tlspair import Side, serve_once

pytestmark = pytest.mark.timeout(60)


def _s_client(test_pki: PkiFixture, *options: str) -> tuple[Side, subprocess.CompletedProcess[str]]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed")
    layout = test_pki.layout
    side = Side()
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as listener:
        listener.bind(("::1", 0))
        listener.listen(1)
        listener.settimeout(20)
        port = listener.getsockname()[1]
        thread = threading.Thread(
            target=serve_once,
            args=(listener, secc_context(test_pki.secc_config()), side),
            kwargs={"mode": TlsMode.STRICT, "now": dt.datetime.now(dt.UTC)},
            daemon=True,
        )
        thread.start()
        argv = [
            openssl,
            "s_client",
            "-connect",
            f"[::1]:{port}",
            "-brief",
            "-verify_return_error",
            "-CAfile",
            str(layout[Entity.V2G_ROOT].cert_pem),
            "-cert",
            str(layout[Entity.VEHICLE_LEAF].cert_pem),
            "-cert_chain",
            str(layout[Entity.VEHICLE_LEAF].chain_pem),
            "-key",
            str(layout[Entity.VEHICLE_LEAF].key_pem),
            *options,
        ]
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        thread.join(25)
    return side, done


def test_s_client_negotiates_x448_and_chacha(test_pkis: dict[str, PkiFixture]) -> None:
    test_pki = test_pkis["secp521r1"]
    side, done = _s_client(test_pki, "-groups", "X448", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256")
    report = done.stdout + done.stderr
    assert "Protocol version: TLSv1.3" in report, report
    assert "Ciphersuite: TLS_CHACHA20_POLY1305_SHA256" in report
    assert "Server Temp Key: X448" in report
    assert "Signature type: ECDSA" in report and "Hash used: SHA512" in report
    assert "Verification: OK" in report
    assert side.info is not None and side.info.group == "X448"
    assert side.info.peer_subject is not None and "V2GSTACKEVCC00001" in side.info.peer_subject


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (("-tls1_2",), "offered no TLS version we accept"),
        (("-groups", "P-256:X25519:P-384"), "no key-exchange group in common"),
        (("-ciphersuites", "TLS_AES_128_GCM_SHA256"), "no cipher suite in common"),
        (("-sigalgs", "ecdsa_secp256r1_sha256:rsa_pss_rsae_sha256"), "no signature algorithm in common"),
    ],
    ids=["tls1.2", "groups", "aes128", "sigalgs"],
)
def test_s_client_outside_the_tables_is_refused(
    test_pkis: dict[str, PkiFixture], options: tuple[str, ...], reason: str
) -> None:
    side, done = _s_client(test_pkis["secp521r1"], *options)
    assert done.returncode != 0
    assert side.info is None
    assert isinstance(side.error, OSError)
    assert reason in str(tls_failure(side.error))  # type: ignore[arg-type]
