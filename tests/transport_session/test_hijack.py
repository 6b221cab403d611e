"""A paused session cannot be taken over by another car (issue "SECC hardening", defect 3).

Car A pauses a strict TLS 1.3 session. Car B, with a vehicle certificate of its own from the same OEM (so the
TLS handshake succeeds), presents A's SessionID: once with A's EVCCID, once with its own. Each time the SECC
answers the way the standard prescribes for a resume it cannot honour — a new session with a fresh SessionID
[V2G20-2626/2627] — and logs a WARNING naming B's certificate subject. Car B's EV, asked to resume, stops and
says why. A's pause survives both attempts: A resumes afterwards.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from pathlib import Path

import pytest

from iso15118.config import EvccConfig
from iso15118.security.issuing import issue_certificate
from iso15118.security.pki import write_identity
from iso15118.security.profiles import PROFILES, Entity, spec_for
from iso15118.session.events import EndReason
from iso15118.simple import SimpleEVSE
from iso15118.transport.secc_server import SeccServer
from tests.transport_session.helpers import TestPki, run_client, server_config

LOOPS = 2


def _evcc(**overrides: object) -> EvccConfig:
    values: dict[str, object] = {"max_loops": LOOPS, "loop_interval_s": 0.05}
    values.update(overrides)
    return EvccConfig(**values)  # type: ignore[arg-type]


def _second_car(pki: TestPki, directory: Path) -> tuple[Path, Path, str]:
    """Another vehicle certificate from the same OEM Sub-CA: a real car of the same make, not car A."""
    spec = spec_for(
        Entity.VEHICLE_LEAF, algorithm=pki.pki.algorithm, now=dt.datetime.now(dt.UTC), identities=pki.pki.identities
    )
    spec = dataclasses.replace(spec, common_name="OTHERCAR00002")
    issuer_entity = PROFILES[Entity.VEHICLE_LEAF].issuer
    assert issuer_entity is not None
    issued = issue_certificate(spec, algorithm=pki.pki.algorithm, issuer=pki.pki[issuer_entity])
    subs = [c for c in pki.pki.chain(Entity.VEHICLE_LEAF)[1:] if c != pki.pki[Entity.OEM_ROOT].certificate]
    chain, key = write_identity(directory, "other_car", issued, subs)
    return chain, key, "OTHERCAR00002"


@pytest.mark.asyncio
async def test_another_car_cannot_resume_a_paused_session(
    pki: TestPki, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    chain, key, other_cn = _second_car(pki, tmp_path)
    other_tls = {
        "policy": dataclasses.replace(
            server_config(pki).policy, tls=pki.evcc_tls(certificate_chain=chain, private_key=key)
        )
    }
    evse = SimpleEVSE()
    server = SeccServer(server_config(pki), lambda: evse)
    caplog.set_level(logging.WARNING)
    async with server:
        first, _ = await run_client(pki, server, _evcc(stop_with="Pause"))
        assert first.outcome.ended.reason is EndReason.PAUSED and len(server.store) == 1
        victim = first.outcome.session_id
        service = first.outcome.negotiated["service_id"]
        a_evccid = EvccConfig().evcc_id
        for claimed in (a_evccid, other_cn):
            hijack = _evcc(evcc_id=claimed, resume_session_id=victim, resume_service_id=service)
            run, report = await run_client(pki, server, hijack, client=other_tls)
            assert run.outcome.session_id != victim and run.outcome.negotiated.get("resumed") is None
            assert report.outcome is not None and report.outcome.session_id != victim
            # Car B asked to resume and did not: it stops and says why.
            assert not run.ok and run.outcome.failure is not None and "did not resume" in run.outcome.failure
        # Both attempts are in the log at WARNING, naming car B's certificate.
        warnings = [
            r.getMessage()
            for r in caplog.records
            if r.levelno == logging.WARNING and "refused to resume" in r.getMessage()
        ]
        assert len(warnings) == 2 and all(other_cn in w and victim.hex() in w for w in warnings), warnings
        assert "V2G20-2598" in warnings[0] and "that paused it" in warnings[1]
        # The pause survived: car A resumes.
        again, _ = await run_client(pki, server, _evcc(resume_session_id=victim, resume_service_id=service))
        assert again.ok and again.outcome.session_id == victim and again.outcome.negotiated.get("resumed") is True
