"""TLS 1.3 record keys (RFC 8446 7.1/7.3) against RFC 8448's example handshake, and the key log reader."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import hashes

from iso15118.transport.tls13 import KeyLog, TlsDecryptor, hkdf_expand_label


def test_record_key_and_iv_match_rfc_8448_simple_1rtt() -> None:
    # RFC 8448 section 3, "derive write traffic keys for handshake data" (server, TLS_AES_128_GCM_SHA256).
    secret = bytes.fromhex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
    assert hkdf_expand_label(secret, "key", 16, hashes.SHA256()).hex() == "3fce516009c21727d0f2e4e86ee403bc"
    assert hkdf_expand_label(secret, "iv", 12, hashes.SHA256()).hex() == "5d313eb2671276ee13000b30"


def test_the_key_log_is_reread_when_a_secret_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text("# comment\nnonsense\n")
    keylog = KeyLog(path)
    random = bytes(range(32))
    assert keylog.secret("CLIENT_TRAFFIC_SECRET_0", random) is None
    path.write_text(f"CLIENT_TRAFFIC_SECRET_0 {random.hex()} {'ab' * 48}\n")
    assert keylog.secret("CLIENT_TRAFFIC_SECRET_0", random) == b"\xab" * 48


def test_records_without_their_secret_are_held_then_named() -> None:
    tls = TlsDecryptor(KeyLog())
    hello = bytes([1, 0, 0, 38, 3, 3]) + bytes(range(32))
    tls.feed(bytes([22, 3, 1, 0, len(hello)]) + hello, client=True)
    server_hello = bytes([2, 0, 0, 40, 3, 3]) + bytes(32) + bytes([0]) + b"\x13\x02" + b"\x00"
    tls.feed(bytes([22, 3, 3, 0, len(server_hello)]) + server_hello, client=False)
    assert tls.feed(bytes([23, 3, 3, 0, 20]) + bytes(20), client=False) == []
    (note,) = tls.finish()
    assert note.startswith("1 records stayed encrypted: no SERVER_HANDSHAKE_TRAFFIC_SECRET for client random 0001")
