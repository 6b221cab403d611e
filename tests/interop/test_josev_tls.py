"""TLS against Josev's own SSL contexts: strict mode refuses them, tolerant mode talks to them (no root needed).

Josev 0.31.2 builds its contexts in ``iso15118.shared.security.get_ssl_context``: TLS 1.2 only unless
``ENABLE_TLS_1_3=True``; ``set_ecdh_curve("prime256v1")``, which leaves P-256 as its only key-exchange group
even for TLS 1.3; prime256v1/SHA-256 certificates; over TLS 1.3 its EVCC presents the OEM provisioning
certificate and its SECC requires one chaining to the OEM root. ``josev_tls_peer.py`` runs those contexts in
Josev's virtual environment, on ``[::1]``, and reports its side of the handshake; our side is the real
runtime (:func:`~iso15118.transport.tcp.connect`, :class:`~iso15118.transport.secc_server.SeccServer`).
Strict -20 TLS (TLS 1.3, P-521/X448, secp521r1 or Ed448 certificates [V2G20-1264] [V2G20-1634]) shares no
version or group with Josev, so every strict handshake must fail with a reason naming that; tolerant mode
(:class:`~iso15118.transport.policy.TransportPolicy` deviation ``tls12``) must succeed with both Josev modes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from iso15118.errors import SecurityError
from iso15118.security.pki import PkiLayout, init_pki
from iso15118.security.profiles import Entity
from iso15118.security.tls import TlsConfig, TlsMode, evcc_context
from iso15118.simple import SimpleEVSE
from iso15118.transport.policy import TransportPolicy
from iso15118.transport.secc_server import ConnectionReport, SeccServer, SeccServerConfig
from iso15118.transport.tcp import connect, make_endpoint
from tests.interop.josev import HERE, JosevPki

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

PEER = HERE / "josev_tls_peer.py"
VERSIONS = {"tls12": False, "tls13": True}


@pytest.fixture(scope="module")
def our_pki(tmp_path_factory: pytest.TempPathFactory) -> PkiLayout:
    """Our -20 PKI (secp521r1): the only identity a strict SECC accepts to present."""
    now = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).replace(microsecond=0)
    return init_pki(tmp_path_factory.mktemp("ours") / "pki", now=now)


class _Peer:
    """josev_tls_peer.py in Josev's venv, as an asyncio subprocess."""

    def __init__(self, python: Path, pki: JosevPki, tls13: bool, workdir: Path) -> None:
        self.python = python
        self.env = {"PATH": os.environ.get("PATH", ""), "PKI_PATH": pki.pki_path, "ENABLE_TLS_1_3": str(tls13)}
        self.workdir = workdir
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, *args: str) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            str(self.python),
            "-I",
            str(PEER),
            *args,
            cwd=self.workdir,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    async def line(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), 30)
        if not raw:
            err = await self.proc.stderr.read() if self.proc.stderr else b""
            raise AssertionError(f"Josev's TLS peer ended without a report: {err.decode()[-2000:]}")
        result: dict[str, Any] = json.loads(raw)
        return result

    async def finish(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


# ---- our EVCC against Josev's SECC context -----------------------------------------------------------------
async def _evcc_handshake(
    josev_python: Path, josev_pki: JosevPki, tmp_path: Path, *, tls13: bool, tls: TlsConfig, mode: TlsMode
) -> tuple[dict[str, Any], Any]:
    peer = _Peer(josev_python, josev_pki, tls13, tmp_path)
    await peer.start("server")
    try:
        port = (await peer.line())["port"]
        endpoint = make_endpoint("::1", port)
        ours: Any
        try:
            link = await connect(endpoint, evcc_context(tls), mode=mode, timeout=10, clock=time.time)
        except SecurityError as exc:
            ours = exc
        else:
            ours = link.tls
            await link.close()
        return await peer.line(), ours
    finally:
        await peer.finish()


@pytest.mark.asyncio
@pytest.mark.parametrize("version", sorted(VERSIONS))
async def test_strict_evcc_refuses_josev_secc(
    version: str, josev_python: Path, josev_pki: JosevPki, tmp_path: Path
) -> None:
    strict = TlsConfig(trust_roots=(josev_pki.v2g_root,))
    theirs, ours = await _evcc_handshake(
        josev_python, josev_pki, tmp_path, tls13=VERSIONS[version], tls=strict, mode=TlsMode.STRICT
    )
    assert isinstance(ours, SecurityError), ours
    assert "peer aborted the handshake" in str(ours), str(ours)
    # Josev's side says why: its TLS 1.2-only context finds none of our TLS 1.3 suites; over TLS 1.3 its only
    # group is P-256, and we offer P-521 and X448 only.
    why = {"tls12": "NO_SHARED_CIPHER", "tls13": "NO_SUITABLE_KEY_SHARE"}[version]
    assert theirs["ok"] is False and why in theirs["error"], theirs


@pytest.mark.asyncio
@pytest.mark.parametrize("version", sorted(VERSIONS))
async def test_tolerant_evcc_talks_to_josev_secc(
    version: str, josev_python: Path, josev_pki: JosevPki, tmp_path: Path
) -> None:
    policy = TransportPolicy(
        tls=TlsConfig(
            trust_roots=(josev_pki.v2g_root,), certificate_chain=josev_pki.oem_chain, private_key=josev_pki.oem_key
        ),
        tolerant=True,
    )
    policy.check()
    tls = policy.tls_config()
    assert tls is not None and tls.mode is TlsMode.TOLERANT
    theirs, ours = await _evcc_handshake(
        josev_python, josev_pki, tmp_path, tls13=VERSIONS[version], tls=tls, mode=policy.tls_mode
    )
    assert not isinstance(ours, Exception), ours
    expected = "TLSv1.3" if VERSIONS[version] else "TLSv1.2"
    assert ours.version == expected and theirs["ok"] is True and theirs["version"] == expected, (ours, theirs)
    assert ours.group == "prime256v1"  # Josev's only group
    assert ours.peer_subject is not None and "SECCCert" in ours.peer_subject
    # Over TLS 1.3 Josev's SECC asks for a client certificate and accepts the OEM provisioning certificate.
    assert theirs["peer"] == ("DC=OEM,C=UK,O=Switch,CN=OEMProvCert" if VERSIONS[version] else None), theirs


# ---- Josev's EVCC context against our SECC ------------------------------------------------------------------
async def _secc_handshake(
    josev_python: Path, josev_pki: JosevPki, tmp_path: Path, *, tls13: bool, policy: TransportPolicy
) -> tuple[dict[str, Any], ConnectionReport]:
    config = SeccServerConfig(policy=policy, listen="::1", handshake_timeout_s=10)
    async with SeccServer(config, SimpleEVSE) as server:
        assert server.endpoint is not None
        peer = _Peer(josev_python, josev_pki, tls13, tmp_path)
        await peer.start("client", str(server.endpoint.port))
        try:
            theirs = await peer.line()
        finally:
            await peer.finish()
        report = await asyncio.wait_for(server.next_report(), 30)
    return theirs, report


@pytest.mark.asyncio
@pytest.mark.parametrize("version", sorted(VERSIONS))
async def test_strict_secc_refuses_josev_evcc(
    version: str, josev_python: Path, josev_pki: JosevPki, our_pki: PkiLayout, tmp_path: Path
) -> None:
    leaf = our_pki[Entity.SECC_LEAF]
    policy = TransportPolicy(
        tls=TlsConfig(
            certificate_chain=leaf.chain_pem,
            private_key=leaf.key_pem,
            trust_roots=(josev_pki.oem_root, *our_pki.roots(Entity.OEM_ROOT, Entity.V2G_ROOT)),
        )
    )
    theirs, report = await _secc_handshake(josev_python, josev_pki, tmp_path, tls13=VERSIONS[version], policy=policy)
    assert report.outcome is None and isinstance(report.error, SecurityError), report
    why = {
        "tls12": "no TLS version we accept (-20 needs TLS 1.3)",
        "tls13": "no key-exchange group in common (-20: secp521r1, x448)",
    }[version]
    assert why in str(report.error), str(report.error)
    assert theirs["ok"] is False, theirs


@pytest.mark.asyncio
@pytest.mark.parametrize("version", sorted(VERSIONS))
async def test_tolerant_secc_talks_to_josev_evcc(
    version: str, josev_python: Path, josev_pki: JosevPki, tmp_path: Path
) -> None:
    tls13 = VERSIONS[version]
    policy = TransportPolicy(
        tls=TlsConfig(
            certificate_chain=josev_pki.cpo_chain,
            private_key=josev_pki.secc_key,
            trust_roots=(josev_pki.oem_root,),
            # Josev's TLS 1.2 client context loads no certificate at all.
            require_client_certificate=tls13,
        ),
        tolerant=True,
    )
    theirs, report = await _secc_handshake(josev_python, josev_pki, tmp_path, tls13=tls13, policy=policy)
    assert theirs["ok"] is True, theirs
    assert report.tls is not None, report
    expected = "TLSv1.3" if tls13 else "TLSv1.2"
    assert report.tls.version == expected == theirs["version"]
    assert report.tls.group == "prime256v1"
    assert report.tls.peer_subject == ("DC=OEM,C=UK,O=Switch,CN=OEMProvCert" if tls13 else None)
    # The session itself found nothing to read: Josev's peer closed after the handshake.
    assert report.outcome is not None and report.outcome.loops == 0
