"""OCPP security profiles 1 and 2: HTTP Basic authentication over ws://, and over wss:// with the CSMS's server
certificate checked. A wrong password or an untrusted CSMS certificate keeps the station offline."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness.csms import CsmsSettings, ReferenceCsms
from iso15118.backend.outbox import Outbox
from iso15118.backend.station import Station, StationConfig
from iso15118.transport.ocpp_link import CsmsConfig, OcppLink
from tests.backend.support import until


def _server_tls(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A self-signed CSMS certificate for ::1 and the CA file a station trusts it with."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CSMS")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("::1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "csms.pem", directory / "csms.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    return server, cert_file


async def _link(url: str, auth: tuple[str, str], tls: ssl.SSLContext | None = None) -> OcppLink:
    station = Station(StationConfig(), Outbox())
    link = OcppLink(CsmsConfig(url=url, basic_auth=auth, ssl_context=tls, reconnect_min_s=0.05), station)
    await link.start()
    return link


def test_profile_1_basic_auth_refuses_a_wrong_password_and_accepts_the_right_one() -> None:
    async def main() -> None:
        async with ReferenceCsms(CsmsSettings(passwords={"CS1": "s3cret"})) as csms:
            wrong = await _link(csms.url("CS1"), ("CS1", "guess"))
            await until(lambda: wrong.attempts >= 2, "two refused attempts")
            assert not wrong.online and "401" in (wrong.last_error or "")
            await wrong.stop()
            right = await _link(csms.url("CS1"), ("CS1", "s3cret"))
            await right.wait_online(20)
            await right.stop()

    asyncio.run(main())


def test_profile_2_wss_checks_the_csms_certificate(tmp_path: Path) -> None:
    async def main() -> None:
        server, ca = _server_tls(tmp_path)
        settings = CsmsSettings(passwords={"CS2": "pw"}, ssl_context=server)
        async with ReferenceCsms(settings) as csms:
            assert csms.url("CS2").startswith("wss://")
            untrusting = await _link(csms.url("CS2"), ("CS2", "pw"), ssl.create_default_context())
            await until(lambda: untrusting.attempts >= 2, "two failed handshakes")
            assert not untrusting.online and "certificate" in (untrusting.last_error or "").lower()
            await untrusting.stop()
            trusting = await _link(csms.url("CS2"), ("CS2", "pw"), ssl.create_default_context(cafile=str(ca)))
            await trusting.wait_online(20)
            assert csms.records.actions("CS2")[0] == "BootNotification"
            await trusting.stop()

    asyncio.run(main())
