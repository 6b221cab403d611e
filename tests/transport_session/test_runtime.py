"""Endpoints, listening sockets, the strict/tolerant policy, SDP in front of TLS, and TLS key logs."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from ipaddress import IPv6Address
from pathlib import Path

import pytest

from iso15118.config import EvccConfig
from iso15118.constants import TCP_PORT_RANGE, SdpSecurity
from iso15118.errors import ConfigError, SecurityError
from iso15118.security.tls import TlsConfig, TlsMode
from iso15118.session.connection import SessionConfig
from iso15118.session.timers import DEFAULT_TIMING
from iso15118.simple import SimpleEV, SimpleEVSE
from iso15118.transport.evcc_client import EvccClientConfig, run_evcc
from iso15118.transport.policy import Deviation, TransportPolicy
from iso15118.transport.secc_server import SeccServer, SeccServerConfig
from iso15118.transport.tcp import Endpoint, make_endpoint, open_listener, parse_endpoint
from tests.support.netns import free_port
from tests.transport_session.helpers import TIMEOUT, TestPki, client_config, server_config

FAST = EvccConfig(max_loops=2, loop_interval_s=0.0)
LO = socket.if_nametoindex("lo")


# ---- endpoints ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "address", "port", "scope"),
    [
        ("[::1]:50000", "::1", 50000, 0),
        (" [fe80::1%lo]:65535 ", "fe80::1", 65535, LO),
        ("fe80::1%lo:49152", "fe80::1", 49152, LO),
        ("[2001:db8::5]:1", "2001:db8::5", 1, 0),
    ],
)
def test_parse_endpoint(text: str, address: str, port: int, scope: int) -> None:
    endpoint = parse_endpoint(text)
    assert (endpoint.address, endpoint.port, endpoint.scope_id) == (IPv6Address(address), port, scope)
    assert endpoint.sockaddr == (address, port, 0, scope)
    assert parse_endpoint(str(endpoint)) == endpoint  # printed form reads back


def test_a_bare_link_local_target_takes_the_interface() -> None:
    assert parse_endpoint("[fe80::1]:50000", iface="lo").scope_id == LO
    assert str(make_endpoint("fe80::2", 1, iface="lo")) == "[fe80::2%lo]:1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("::1:50000", r"expected \[ADDRESS%IFACE\]:PORT"),
        ("[::1]", r"expected \[ADDRESS%IFACE\]:PORT"),
        ("[::1]:0", r"port must be a number in 1-65535, got '0'"),
        ("[::1]:70000", r"port must be a number in 1-65535"),
        ("[::1]:http", r"port must be a number"),
        ("[192.0.2.1]:5000", r"not an IPv6 address \(V2G communication is IPv6 only\)"),
        ("[fe80::1]:5000", r"fe80::1 needs an interface: write fe80::1%IFACE"),
        ("[fe80::1%nosuchif0]:5000", r"no network interface named 'nosuchif0'"),
    ],
)
def test_bad_endpoints_are_named(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_endpoint(text)


def test_listener_picks_a_port_in_the_dynamic_range_and_names_a_busy_one() -> None:
    low, high = TCP_PORT_RANGE
    first = open_listener(make_endpoint("::1", 0))
    try:
        port = first.getsockname()[1]
        assert low <= port <= high
        with pytest.raises(OSError, match=rf"cannot listen on \[::1\]:{port}"):
            open_listener(make_endpoint("::1", port))
    finally:
        first.close()
    with pytest.raises(OSError, match=r"cannot listen on \[2001:db8::77\]"):
        open_listener(make_endpoint("2001:db8::77", 50000))  # not an address of this host


# ---- policy ---------------------------------------------------------------------------------------------
def test_policy_deviations_timing_and_tls_mode() -> None:
    tls = TlsConfig(trust_roots=(Path("root.pem"),))
    strict = TransportPolicy(tls=tls)
    strict.check()
    assert strict.deviations() == () and strict.scale == 1.0 and strict.tls_mode is TlsMode.STRICT
    assert strict.session_config() == SessionConfig()
    tolerant = TransportPolicy(tls=tls, tolerant=True)
    assert tolerant.deviations() == (Deviation.TLS12, Deviation.RELAXED_TIMING, Deviation.SCHEMA_DEVIATIONS)
    assert tolerant.tls_config() == dataclasses.replace(tls, mode=TlsMode.TOLERANT)
    assert tolerant.session_config().timing == DEFAULT_TIMING.scaled(2.0)
    assert tolerant.session_config().timing.evcc_msg_timeout_loop == 1.0
    base = SessionConfig(max_payload_length=1000)
    assert tolerant.session_config(base).max_payload_length == 1000
    assert TransportPolicy(tls=None, tolerant=True, timing_scale=1.0).deviations() == (
        Deviation.PLAIN_TCP,
        Deviation.SCHEMA_DEVIATIONS,
    )
    assert tolerant.session_config().tolerant_decoding and not strict.session_config().tolerant_decoding
    described = TransportPolicy(tls=None, tolerant=True, timing_scale=4).describe()
    assert described[0].startswith("plain-tcp:") and "[V2G20-1264]" in described[0]
    assert described[1] == "relaxed-timing: every timer of the standard multiplied by 4"
    for bad, message in (
        (TransportPolicy(tls=None), "V2G20-1264"),
        (TransportPolicy(tls=dataclasses.replace(tls, mode=TlsMode.TOLERANT)), "asks for tolerant TLS"),
        (TransportPolicy(tls=tls, timing_scale=2.0), "tolerant mode only"),
        (TransportPolicy(tls=tls, tolerant=True, timing_scale=0.0), r"timing_scale must be in \(0, 100\]"),
    ):
        with pytest.raises(ConfigError, match=message):
            bad.check()


# ---- SDP in front of TLS, on ::1 (unicast SDP: lo has no multicast) -----------------------------------
@pytest.mark.asyncio
async def test_sdp_then_tls_session_on_loopback(pki: TestPki) -> None:
    sdp_port = free_port(udp=True)
    config = dataclasses.replace(server_config(pki), iface="lo", sdp=True, sdp_port=sdp_port)
    async with SeccServer(config, SimpleEVSE) as server:
        assert server.sdp is not None and server.sdp.serving
        client = dataclasses.replace(
            client_config(pki, ""), target=None, iface="lo", sdp_destination="::1", sdp_port=sdp_port
        )
        run = await run_evcc(client, SimpleEV(), FAST)
        report = await asyncio.wait_for(server.next_report(), TIMEOUT)
        sdp = server.sdp
    assert sdp.answered == 1 and not sdp.serving  # stopped with the server
    assert run.ok and report.ok
    assert run.sdp is not None and run.sdp.tries == 1
    assert run.sdp.response.security is SdpSecurity.TLS
    assert run.endpoint == Endpoint(address=IPv6Address("::1"), port=config_port(server), iface="lo")
    assert run.tls is not None and run.tls.version == "TLSv1.3"


def config_port(server: SeccServer) -> int:
    assert server.endpoint is not None
    return server.endpoint.port


@pytest.mark.asyncio
async def test_sdp_without_tls_is_refused_by_a_strict_ev_and_followed_by_a_tolerant_one(pki: TestPki) -> None:
    sdp_port = free_port(udp=True)
    plain = TransportPolicy(tls=None, tolerant=True)
    config = SeccServerConfig(policy=plain, listen="::1", iface="lo", sdp=True, sdp_port=sdp_port)
    async with SeccServer(config, SimpleEVSE) as server:
        strict = EvccClientConfig(
            policy=TransportPolicy(tls=pki.evcc_tls()), iface="lo", sdp_destination="::1", sdp_port=sdp_port
        )
        with pytest.raises(SecurityError, match=r"announced no transport security.*V2G20-1264"):
            await run_evcc(strict, SimpleEV(), FAST)
        tolerant = dataclasses.replace(strict, policy=TransportPolicy(tls=pki.evcc_tls(), tolerant=True))
        run = await run_evcc(tolerant, SimpleEV(), FAST)
        report = await asyncio.wait_for(server.next_report(), TIMEOUT)
    assert run.ok and report.ok and run.tls is None
    assert run.sdp is not None and run.sdp.response.security is SdpSecurity.NONE


@pytest.mark.asyncio
async def test_sdp_needs_an_interface(pki: TestPki) -> None:
    with pytest.raises(ConfigError, match="SDP needs the interface"):
        await SeccServer(dataclasses.replace(server_config(pki), sdp=True), SimpleEVSE).start()
    with pytest.raises(ConfigError, match=r"needs an interface \(--iface\) or an address"):
        await SeccServer(dataclasses.replace(server_config(pki), listen=None), SimpleEVSE).start()


# ---- key logs -------------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_both_sides_write_tls13_key_logs(pki: TestPki, tmp_path: Path) -> None:
    secc_log, evcc_log = tmp_path / "secc.keys", tmp_path / "evcc.keys"
    config = dataclasses.replace(server_config(pki), policy=TransportPolicy(tls=pki.secc_tls(keylog_filename=secc_log)))
    async with SeccServer(config, SimpleEVSE) as server:
        client = dataclasses.replace(
            client_config(pki, str(server.endpoint)),
            policy=TransportPolicy(tls=pki.evcc_tls(keylog_filename=evcc_log)),
        )
        run = await run_evcc(client, SimpleEV(), FAST)
        await asyncio.wait_for(server.next_report(), TIMEOUT)
    assert run.ok

    def secrets(path: Path) -> dict[str, str]:
        lines = [line.split() for line in path.read_text().splitlines() if line and not line.startswith("#")]
        return {label: f"{random} {secret}" for label, random, secret in lines}

    ours, theirs = secrets(evcc_log), secrets(secc_log)
    labels = {
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
        "EXPORTER_SECRET",
    }
    assert labels <= set(ours)
    assert ours == theirs  # the same session, seen from both ends
