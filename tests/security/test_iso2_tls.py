"""ISO 15118-2 TLS: TLS 1.2, server authentication only, TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 on P-256.

The handshakes run over loopback with asyncio streams (the way the transport uses the contexts).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from dataclasses import dataclass

import pytest

from iso15118.errors import ConfigError
from iso15118.security.certs import Purpose
from iso15118.security.profiles import Entity
from iso15118.security.tls import (
    HandshakeInfo,
    TlsConfig,
    TlsMode,
    check_peer,
    describe_handshake,
    evcc_context,
    secc_context,
)

from .conftest import PkiFixture

_DEADLINE = 20.0


def _iso2_secc(pki: PkiFixture) -> TlsConfig:
    files = pki.layout[Entity.SECC_LEAF]
    return TlsConfig(certificate_chain=files.chain_pem, private_key=files.key_pem, mode=TlsMode.ISO2)


def _iso2_evcc(pki: PkiFixture) -> TlsConfig:
    return TlsConfig(trust_roots=tuple(pki.layout.roots(Entity.V2G_ROOT)), mode=TlsMode.ISO2)


@dataclass
class _Outcome:
    server: HandshakeInfo | BaseException | None = None
    client: HandshakeInfo | BaseException | None = None
    echo: bytes = b""


async def _session(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, client_mode: TlsMode) -> _Outcome:
    outcome = _Outcome()
    served = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            outcome.server = describe_handshake(writer.get_extra_info("ssl_object"))
            writer.write(await reader.readexactly(4))
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError) as exc:
            outcome.server = exc
        finally:
            writer.close()
            served.set()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx)
        connection = writer.get_extra_info("ssl_object")
        outcome.client = check_peer(connection, purpose=Purpose.SECC_TLS, now=dt.datetime.now(dt.UTC), mode=client_mode)
        writer.write(b"ping")
        outcome.echo = await reader.readexactly(4)
        writer.close()
        await served.wait()
    except (OSError, asyncio.IncompleteReadError) as exc:  # ssl.SSLError is an OSError
        outcome.client = exc
    finally:
        server.close()
        await server.wait_closed()
    return outcome


def _run(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, mode: TlsMode = TlsMode.ISO2) -> _Outcome:
    async def bounded() -> _Outcome:
        return await asyncio.wait_for(_session(server_ctx, client_ctx, mode), _DEADLINE)

    return asyncio.run(bounded())


def test_an_iso2_handshake_is_tls12_ecdhe_ecdsa_aes128_cbc_sha256_on_p256(iso2_pki: PkiFixture) -> None:
    outcome = _run(secc_context(_iso2_secc(iso2_pki)), evcc_context(_iso2_evcc(iso2_pki)))
    assert isinstance(outcome.client, HandshakeInfo), outcome.client
    assert isinstance(outcome.server, HandshakeInfo), outcome.server
    assert outcome.echo == b"ping"
    for info in (outcome.client, outcome.server):
        assert info.version == "TLSv1.2"
        assert info.cipher == "ECDHE-ECDSA-AES128-SHA256"  # TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256
    assert outcome.client.group in (None, "prime256v1")  # None: the libssl bridge is unavailable
    assert outcome.client.peer_key == "secp256r1"
    assert outcome.client.peer_subject is not None and "DC=CPO" in outcome.client.peer_subject
    assert outcome.server.peer_certificate is None  # -2: the SECC never asks for a vehicle certificate


def test_iso2_contexts_are_tls12_only_and_ask_no_client_certificate(iso2_pki: PkiFixture) -> None:
    server = secc_context(_iso2_secc(iso2_pki))
    client = evcc_context(_iso2_evcc(iso2_pki))
    for context in (server, client):
        assert context.minimum_version is context.maximum_version is ssl.TLSVersion.TLSv1_2
        names = [c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.2"]
        assert names == ["ECDHE-ECDSA-AES128-SHA256"]
    assert server.verify_mode is ssl.CERT_NONE
    assert client.verify_mode is ssl.CERT_REQUIRED


def test_the_strict_20_secc_still_refuses_an_iso2_tls12_client(
    iso2_pki: PkiFixture, test_pkis: dict[str, PkiFixture]
) -> None:
    strict = test_pkis["secp521r1"]
    server = secc_context(strict.secc_config(require_client_certificate=False, trust_roots=()))
    client = evcc_context(_iso2_evcc(iso2_pki))
    outcome = _run(server, client)
    # The strict server aborts the TLS 1.2 handshake (protocol version alert or reset): no session at all.
    assert isinstance(outcome.client, OSError), outcome.client
    assert outcome.server is None and outcome.echo == b""
    assert server.minimum_version is ssl.TLSVersion.TLSv1_3


def test_an_iso2_evcc_refuses_a_server_whose_chain_it_does_not_trust(
    iso2_pki: PkiFixture, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from iso15118.security.pki import init_pki, read_pki

    other_layout = init_pki(tmp_path_factory.mktemp("other-iso2") / "pki", kind="iso2")
    other = PkiFixture(layout=other_layout, pki=read_pki(other_layout))
    outcome = _run(secc_context(_iso2_secc(other)), evcc_context(_iso2_evcc(iso2_pki)))
    assert isinstance(outcome.client, ssl.SSLCertVerificationError), outcome.client


def test_an_iso2_secc_refuses_to_load_a_20_certificate(test_pkis: dict[str, PkiFixture]) -> None:
    files = test_pkis["secp521r1"].layout[Entity.SECC_LEAF]
    config = TlsConfig(certificate_chain=files.chain_pem, private_key=files.key_pem, mode=TlsMode.ISO2)
    with pytest.raises(ConfigError, match="ISO 15118-2 TLS needs a secp256r1 certificate, this one has a secp521r1"):
        secc_context(config)


def test_openssl_3_no_longer_has_the_static_ecdh_suite() -> None:
    # TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256, the other -2 suite: removed in OpenSSL 3.0.
    if ssl.OPENSSL_VERSION_INFO < (3, 0):
        pytest.skip(f"{ssl.OPENSSL_VERSION} may still implement static ECDH")
    with pytest.raises(ssl.SSLError):
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).set_ciphers("ECDH-ECDSA-AES128-SHA256")
