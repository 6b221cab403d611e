"""Field quirks as data: the table itself, the policy that lists and accepts them, and each quirk refused in
strict mode (with the rule it breaks) and accepted in tolerant mode (with its log line), at its one place."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import importlib
import logging
from pathlib import Path

import pytest

from iso15118.constants import NS_DIN
from iso15118.envelope.kinds import Kind
from iso15118.errors import ConfigError
from iso15118.messages.generated import din as m
from iso15118.quirks import FIELD_NOTES, QUIRKS, Quirk, accepted_line, empty_evccid, refused_line
from iso15118.session.config import Role
from iso15118.session.events import EndReason
from iso15118.simple import SimpleEV, SimpleEVSE
from iso15118.transport.evcc_client import EvccClientConfig, run_evcc
from iso15118.transport.generations import Transport
from iso15118.transport.negotiation import ConnectionTerms
from iso15118.transport.policy import TransportPolicy
from iso15118.transport.secc_server import SeccServer, SeccServerConfig
from iso15118.transport.tcp import connect
from tests.din.support import DIN_SECC, din_config, requests_until, wrap
from tests.negotiation.support import scripted_din
from tests.support.netns import free_port, ipv6_loopback

TIMEOUT = 20.0
STRICT = TransportPolicy(tls=None)
TOLERANT = TransportPolicy(tls=None, tolerant=True, timing_scale=1.0)
ROOT = Path(__file__).resolve().parents[2]


# ---- the table ------------------------------------------------------------------------------------------
def test_every_quirk_says_what_it_breaks_who_accepts_it_and_where() -> None:
    assert set(QUIRKS) == set(Quirk)
    for quirk, info in QUIRKS.items():
        assert info.quirk is quirk and info.role in (Role.SECC, Role.EVCC)
        assert info.generations and set(info.generations) <= {"iso20", "iso2", "din"}
        assert all((info.seen, info.rule, info.accepted, info.source))
        module = info.where.split()[0]  # "iso15118.transport.runner (...)" or "...SeccServer.start (...)"
        while module:
            try:
                importlib.import_module(module)
                break
            except ModuleNotFoundError:
                module = module.rpartition(".")[0]
        assert module.startswith("iso15118."), info.where
    # Each field report that is no quirk names the test that shows why.
    for note in FIELD_NOTES:
        path, _, name = note.test.partition("::")
        assert f"def {name}(" in (ROOT / path).read_text(), note.test


def test_strict_mode_accepts_no_quirk_and_tolerant_mode_lists_them() -> None:
    assert STRICT.accepted_quirks() == () and not STRICT.accepts(Quirk.EMPTY_EVCCID)
    assert TOLERANT.accepted_quirks() == tuple(QUIRKS)
    assert TOLERANT.accepted_quirks(Role.EVCC) == ()  # both quirks are the SECC's to accept
    narrowed = dataclasses.replace(TOLERANT, quirks=frozenset({Quirk.FIXED_TCP_PORT}))
    assert narrowed.accepted_quirks() == (Quirk.FIXED_TCP_PORT,) and not narrowed.accepts(Quirk.EMPTY_EVCCID)
    described = TOLERANT.describe(Role.SECC)
    assert any(line.startswith("empty-evccid (peer quirk, SECC): ") for line in described)
    assert any(line.startswith("fixed-tcp-port (peer quirk, SECC): ") for line in described)
    with pytest.raises(ConfigError, match="tolerant mode only"):
        dataclasses.replace(STRICT, quirks=frozenset({Quirk.EMPTY_EVCCID})).check(protocols=(NS_DIN,))


def test_the_lines_name_the_quirk_and_the_rule() -> None:
    rule = QUIRKS[Quirk.EMPTY_EVCCID].rule
    assert (
        accepted_line(Quirk.EMPTY_EVCCID, "x")
        == f"tolerant mode quirk empty-evccid accepted: x (deviates from: {rule})"
    )
    assert (
        refused_line(Quirk.EMPTY_EVCCID, "x") == f"x: refused, {rule} (tolerant mode accepts it as quirk empty-evccid)"
    )
    assert empty_evccid("SessionSetupReq", m.SessionSetupReq(evcc_id=b"")) is not None
    assert empty_evccid("SessionSetupReq", m.SessionSetupReq(evcc_id=bytes(6))) is None
    assert empty_evccid("ServiceDiscoveryReq", m.SessionSetupReq(evcc_id=b"")) is None


# ---- empty-evccid: the SECC's screen of SessionSetupReq ---------------------------------------------------------
@pytest.fixture
def empty_evccid_session() -> list[object]:
    """Our DIN EV's requests up to ChargeParameterDiscovery, with an empty EVCCID in SessionSetupReq (recorded
    outside the test's event loop)."""
    return [wrap(bytes(8), m.SessionSetupReq(evcc_id=b"")), *requests_until(Kind.ChargeParameterDiscoveryReq)[1:]]


@pytest.mark.asyncio
async def test_empty_evccid_is_refused_in_strict_mode(
    caplog: pytest.LogCaptureFixture, empty_evccid_session: list[object]
) -> None:
    caplog.set_level(logging.WARNING)
    terms = ConnectionTerms(transport=Transport.TCP, policy=STRICT)
    answers, outcome = await scripted_din(empty_evccid_session, terms=terms)
    assert len(answers) == 1 and answers[0].body.session_setup_res.response_code is m.ResponseCode.FAILED
    assert outcome.ended.reason is EndReason.FAILED_SENT and not outcome.ok
    assert outcome.failure is not None and outcome.failure.startswith(
        "SessionSetupReq carries an empty EVCCID: refused"
    )
    assert QUIRKS[Quirk.EMPTY_EVCCID].rule in outcome.failure and outcome.quirks == ()
    assert any("tolerant mode accepts it as quirk empty-evccid" in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio
async def test_empty_evccid_is_accepted_and_logged_in_tolerant_mode(
    caplog: pytest.LogCaptureFixture, empty_evccid_session: list[object]
) -> None:
    caplog.set_level(logging.WARNING)
    terms = ConnectionTerms(transport=Transport.TCP, policy=TOLERANT)
    answers, outcome = await scripted_din(empty_evccid_session, terms=terms)
    setup = answers[0].body.session_setup_res
    assert setup.response_code is m.ResponseCode.OK_NewSessionEstablished
    assert len(answers) >= 4  # and the session went on: discovery, payment, authorization...
    assert outcome.failure is None
    assert outcome.quirks == (accepted_line(Quirk.EMPTY_EVCCID, "SessionSetupReq carries an empty EVCCID"),)
    assert any(r.getMessage().endswith(outcome.quirks[0]) for r in caplog.records)


# ---- fixed-tcp-port: the SECC's second listener -----------------------------------------------------------------
@pytest.mark.asyncio
@pytest.mark.skipif(not ipv6_loopback(), reason="needs an IPv6 loopback (::1)")
async def test_fixed_tcp_port_listener_in_tolerant_mode_only(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    port = free_port()
    strict = SeccServerConfig(policy=STRICT, listen="::1", fixed_port=port)
    async with SeccServer(strict, SimpleEVSE, secc=DIN_SECC) as server:
        assert server.fixed_endpoint is None
        target = dataclasses.replace(server.endpoint, port=port)  # type: ignore[arg-type]
        with pytest.raises(OSError) as refused:
            await connect(target, None, clock=lambda: 0.0)
        assert refused.value.errno == errno.ECONNREFUSED  # nobody listens where the EV ignored SDP's port
    tolerant = dataclasses.replace(strict, policy=TOLERANT, fixed_port=0)
    async with SeccServer(tolerant, SimpleEVSE, secc=DIN_SECC) as server:
        assert server.fixed_endpoint is not None and server.endpoint is not None
        assert server.fixed_endpoint.port != server.endpoint.port
        client = EvccClientConfig(policy=STRICT, target=str(server.fixed_endpoint))
        run = await asyncio.wait_for(run_evcc(client, SimpleEV(), din_config()), TIMEOUT)
        report = await asyncio.wait_for(server.next_report(), TIMEOUT)
    assert run.ok and report.ok and report.outcome is not None
    seen = f"connected to port {server.fixed_endpoint.port}, not the announced {server.endpoint.port}"
    assert len(report.outcome.quirks) == 1 and seen in report.outcome.quirks[0]
    assert report.outcome.quirks[0].startswith("tolerant mode quirk fixed-tcp-port accepted: [::1]:")
    assert any(r.getMessage().endswith(report.outcome.quirks[0]) for r in caplog.records)
