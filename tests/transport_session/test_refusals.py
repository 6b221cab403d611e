"""What the runtime refuses, and how: TLS failures become clean SecurityErrors on both ends, strict mode refuses
plain TCP [V2G20-1264], and the SECC keeps serving after every refused connection."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import ssl
import time
from pathlib import Path

import pytest

from iso15118.config import EvccConfig
from iso15118.errors import ConfigError, SecurityError
from iso15118.security.certs import ChainValidationError, Defect
from iso15118.security.profiles import Entity
from iso15118.security.tls import TlsMode, evcc_context
from iso15118.session.connection import Role
from iso15118.session.events import EndReason
from iso15118.simple import SimpleEV, SimpleEVSE
from iso15118.transport.evcc_client import EvccClientConfig, run_evcc
from iso15118.transport.policy import Deviation, TransportPolicy
from iso15118.transport.secc_server import ConnectionReport, SeccServer, SeccServerConfig
from iso15118.transport.tcp import connect
from tests.transport_session.helpers import TIMEOUT, TestPki, client_config, run_client, server_config

FAST = EvccConfig(max_loops=2, loop_interval_s=0.0)


async def _still_serves(pki: TestPki, server: SeccServer) -> None:
    """A correct EV still gets a complete session from the same server."""
    run, report = await run_client(pki, server, FAST)
    assert run.ok and report.ok


async def _refused(server: SeccServer) -> ConnectionReport:
    report = await asyncio.wait_for(server.next_report(), TIMEOUT)
    assert report.outcome is None and not report.ok
    assert isinstance(report.error, SecurityError)
    return report


@pytest.mark.asyncio
@pytest.mark.parametrize("defect", [Defect.EXPIRED, Defect.UNKNOWN_ISSUER, Defect.TOO_LARGE])
async def test_evcc_refuses_a_defective_secc_certificate(pki: TestPki, defect: Defect, tmp_path: Path) -> None:
    chain, key = pki.defective(defect, Entity.SECC_LEAF, tmp_path)
    bad = dataclasses.replace(
        server_config(pki), policy=TransportPolicy(tls=pki.secc_tls(certificate_chain=chain, private_key=key))
    )
    async with SeccServer(bad, SimpleEVSE) as server:
        with pytest.raises(ChainValidationError) as caught:
            await run_evcc(client_config(pki, str(server.endpoint)), SimpleEV(), FAST)
        assert caught.value.defect is defect
        if defect is Defect.TOO_LARGE:
            # Our -20 profile check after a completed handshake: the EV just closes, the SECC sees a lost link.
            report = await asyncio.wait_for(server.next_report(), TIMEOUT)
            assert report.outcome is not None and report.outcome.ended.reason is EndReason.CONNECTION_LOST
            assert report.outcome.negotiated == {} and not report.ok
        else:
            # OpenSSL's verdict: the EV's alert reached the SECC, which names it.
            report = await _refused(server)
            expected = {
                Defect.EXPIRED: "says our certificate has expired",
                Defect.UNKNOWN_ISSUER: "does not trust our certificate's issuer",
            }[defect]
            assert expected in str(report.error)


@pytest.mark.asyncio
@pytest.mark.parametrize("defect", [Defect.EXPIRED, Defect.UNKNOWN_ISSUER, Defect.TOO_LARGE])
async def test_secc_refuses_a_defective_vehicle_certificate(pki: TestPki, defect: Defect, tmp_path: Path) -> None:
    chain, key = pki.defective(defect, Entity.VEHICLE_LEAF, tmp_path)
    client = EvccClientConfig(policy=TransportPolicy(tls=pki.evcc_tls(certificate_chain=chain, private_key=key)))
    async with SeccServer(server_config(pki), SimpleEVSE) as server:
        client = dataclasses.replace(client, target=str(server.endpoint))
        if defect is Defect.TOO_LARGE:
            # OpenSSL accepts the chain; our -20 profile check after the handshake refuses it and closes.
            run = await run_evcc(client, SimpleEV(), FAST)
            assert not run.ok and run.outcome.ended.reason is EndReason.CONNECTION_LOST
        else:
            # TLS 1.3: the SECC's alert arrives after the EV's handshake, on its first read.
            with pytest.raises(SecurityError, match="ended the TLS connection"):
                await run_evcc(client, SimpleEV(), FAST)
        report = await _refused(server)
        assert isinstance(report.error, ChainValidationError) and report.error.defect is defect
        await _still_serves(pki, server)


@pytest.mark.asyncio
async def test_secc_refuses_an_ev_without_vehicle_certificate(pki: TestPki) -> None:
    async with SeccServer(server_config(pki), SimpleEVSE) as server:
        client = EvccClientConfig(
            policy=TransportPolicy(tls=pki.evcc_tls(vehicle_certificate=False)), target=str(server.endpoint)
        )
        # TLS 1.3 delivers the refusal after the EV's handshake, on its first read: still a clean error.
        with pytest.raises(SecurityError, match=r"requires a vehicle certificate.*V2G20-1264"):
            await run_evcc(client, SimpleEV(), FAST)
        report = await _refused(server)
        assert "sent no certificate" in str(report.error) and "V2G20-1264" in str(report.error)
        await _still_serves(pki, server)


@pytest.mark.asyncio
async def test_strict_secc_refuses_tls12(pki: TestPki) -> None:
    async with SeccServer(server_config(pki), SimpleEVSE) as server:
        assert server.endpoint is not None
        context = evcc_context(pki.evcc_tls(mode=TlsMode.TOLERANT))
        context.maximum_version = ssl.TLSVersion.TLSv1_2  # a -2 era EV
        with pytest.raises(SecurityError, match=r"TLS 1\.3") as caught:
            await connect(server.endpoint, context, mode=TlsMode.TOLERANT, clock=time.time)
        assert "PROTOCOL_VERSION" in str(caught.value)
        report = await _refused(server)
        assert "-20 needs TLS 1.3" in str(report.error)
        await _still_serves(pki, server)


@pytest.mark.asyncio
async def test_plain_tcp_client_and_silent_client_are_closed_with_a_reason(pki: TestPki) -> None:
    config = dataclasses.replace(server_config(pki), handshake_timeout_s=0.3)
    async with SeccServer(config, SimpleEVSE) as server:
        assert server.endpoint is not None
        loop = asyncio.get_running_loop()
        # 1. A V2GTP frame where a ClientHello belongs.
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as raw:
            raw.setblocking(False)
            await loop.sock_connect(raw, server.endpoint.sockaddr)
            await loop.sock_sendall(raw, bytes.fromhex("01fe8001000000028000"))
            assert await asyncio.wait_for(loop.sock_recv(raw, 100), TIMEOUT) == b""  # closed on us
        report = await _refused(server)
        assert "TLS handshake failed" in str(report.error)
        # 2. Connected, then silent: the handshake times out.
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as raw:
            raw.setblocking(False)
            await loop.sock_connect(raw, server.endpoint.sockaddr)
            report = await _refused(server)
        assert "handshake" in str(report.error)
        assert report.ended - report.started < 3.0
        await _still_serves(pki, server)


@pytest.mark.asyncio
async def test_strict_mode_refuses_plain_tcp_on_both_sides(pki: TestPki) -> None:
    plain = TransportPolicy(tls=None)
    with pytest.raises(ConfigError, match=r"plain TCP.*V2G20-1264.*--tolerant"):
        SeccServer(SeccServerConfig(policy=plain, listen="::1"), SimpleEVSE)
    with pytest.raises(ConfigError, match=r"plain TCP.*V2G20-1264"):
        await run_evcc(EvccClientConfig(policy=plain, target="[::1]:50000"), SimpleEV(), FAST)


def test_strict_secc_refuses_tls_without_the_vehicle_certificate(pki: TestPki) -> None:
    # Mutual authentication is mandatory [V2G20-1264]; only a tolerant SECC may skip the client certificate (J4).
    one_way = dataclasses.replace(pki.secc_tls(), require_client_certificate=False)
    with pytest.raises(ConfigError, match=r"require_client_certificate = false is refused.*V2G20-1264.*--tolerant"):
        SeccServer(SeccServerConfig(policy=TransportPolicy(tls=one_way), listen="::1"), SimpleEVSE)
    lab = TransportPolicy(tls=one_way, tolerant=True, timing_scale=1.0)
    lab.check(Role.SECC)
    assert lab.deviations(Role.SECC) == (Deviation.TLS12, Deviation.NO_CLIENT_CERTIFICATE, Deviation.SCHEMA_DEVIATIONS)
    assert "mutual authentication" in lab.describe(Role.SECC)[1]
    # The flag means nothing to an EVCC: a strict EV with the same TLS settings is not refused for it.
    TransportPolicy(tls=one_way).check(Role.EVCC)
    assert lab.deviations(Role.EVCC) == (Deviation.TLS12, Deviation.SCHEMA_DEVIATIONS)


@pytest.mark.asyncio
async def test_tolerant_plain_tcp_session_logs_its_deviations(pki: TestPki, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING")
    plain = TransportPolicy(tls=None, tolerant=True)
    async with SeccServer(SeccServerConfig(policy=plain, listen="::1"), SimpleEVSE) as server:
        run = await run_evcc(EvccClientConfig(policy=plain, target=str(server.endpoint)), SimpleEV(), FAST)
        report = await asyncio.wait_for(server.next_report(), TIMEOUT)
    assert run.ok and report.ok and run.tls is None and report.tls is None
    deviations = [r.getMessage() for r in caplog.records if "tolerant mode deviation" in r.getMessage()]
    for role in ("SECC", "EVCC"):
        assert any(m.startswith(f"{role}: tolerant mode deviation plain-tcp") and "V2G20-1264" in m for m in deviations)
        assert any(m.startswith(f"{role}: tolerant mode deviation relaxed-timing") and "2" in m for m in deviations)


@pytest.mark.asyncio
async def test_tolerant_secc_accepts_tls12_from_a_lab_peer(pki: TestPki) -> None:
    from iso15118.transport.runner import run_evcc_session

    policy = TransportPolicy(tls=pki.secc_tls(), tolerant=True)
    async with SeccServer(SeccServerConfig(policy=policy, listen="::1"), SimpleEVSE) as server:
        assert server.endpoint is not None
        context = evcc_context(pki.evcc_tls(mode=TlsMode.TOLERANT))
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        link = await connect(server.endpoint, context, mode=TlsMode.TOLERANT, clock=time.time)
        assert link.tls is not None and link.tls.version == "TLSv1.2"
        outcome = await asyncio.wait_for(run_evcc_session(link, SimpleEV(), FAST), TIMEOUT)
        report = await asyncio.wait_for(server.next_report(), TIMEOUT)
    assert outcome.ok and report.ok
    assert report.tls is not None and report.tls.version == "TLSv1.2"


@pytest.mark.asyncio
async def test_strict_evcc_meets_tolerant_secc_on_tls13(pki: TestPki) -> None:
    policy = TransportPolicy(tls=pki.secc_tls(), tolerant=True, timing_scale=1.0)
    async with SeccServer(SeccServerConfig(policy=policy, listen="::1"), SimpleEVSE) as server:
        run = await run_evcc(client_config(pki, str(server.endpoint)), SimpleEV(), FAST)
        report = await asyncio.wait_for(server.next_report(), TIMEOUT)
    assert run.ok and report.ok
    assert run.tls is not None and (run.tls.version, run.tls.cipher) == ("TLSv1.3", "TLS_AES_256_GCM_SHA384")
    assert policy.deviations() == ("tls12", "schema-deviations")


@pytest.mark.asyncio
async def test_stopping_the_server_ends_running_sessions(pki: TestPki) -> None:
    server = SeccServer(server_config(pki), SimpleEVSE)
    await server.start()
    client = client_config(pki, str(server.endpoint))
    running = asyncio.create_task(run_evcc(client, SimpleEV(), EvccConfig(loop_interval_s=0.02)))
    for _ in range(200):
        await asyncio.sleep(0.01)
        if server.active:
            break
    assert server.active == 1
    await asyncio.sleep(0.1)
    await server.stop()
    run = await asyncio.wait_for(running, TIMEOUT)
    assert server.active == 0
    assert run.outcome.ended.reason is EndReason.CONNECTION_LOST and run.outcome.loops > 0
    with pytest.raises(OSError, match="cannot connect"):
        await run_evcc(client, SimpleEV(), FAST)
