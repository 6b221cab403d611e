"""Complete -20 sessions over TCP + TLS 1.3 on ::1 between SeccServer and run_evcc, with the test PKI.

Each test asserts on both ends: the EVCC's run (TLS handshake, outcome) and the SECC's report of the same
connection, and on the messages both sides actually exchanged.
"""

from __future__ import annotations

import pytest

from iso15118.config import EvccConfig, SeccConfig
from iso15118.controller import ChargeDirection, ControlMode, Notification
from iso15118.iso20.services import AC, AC_BPT
from iso15118.messages.units import value_of
from iso15118.security.profiles import Entity
from iso15118.session.events import EndReason
from iso15118.simple import SimpleEV, SimpleEVConfig, SimpleEVSE, SimpleEVSEConfig
from iso15118.transport.secc_server import SeccServer
from tests.transport_session.helpers import Recorder, TestPki, run_client, run_session, server_config

LOOPS = 4


def _evcc(**kw: object) -> EvccConfig:
    values: dict[str, object] = {"max_loops": LOOPS, "loop_interval_s": 0.0}
    values.update(kw)
    return EvccConfig(**values)  # type: ignore[arg-type]


def _tls13_both(run: object) -> None:
    evcc_tls = run.evcc.tls  # type: ignore[attr-defined]
    secc_tls = run.secc.tls  # type: ignore[attr-defined]
    assert evcc_tls is not None and secc_tls is not None
    assert (evcc_tls.version, secc_tls.version) == ("TLSv1.3", "TLSv1.3")
    assert evcc_tls.cipher == secc_tls.cipher == "TLS_AES_256_GCM_SHA384"
    assert evcc_tls.group == "secp521r1"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("direction", "control", "bidirectional"),
    [
        (ChargeDirection.CHARGE, ControlMode.SCHEDULED, False),
        (ChargeDirection.CHARGE, ControlMode.DYNAMIC, False),
        (ChargeDirection.DISCHARGE, ControlMode.SCHEDULED, True),
        (ChargeDirection.DISCHARGE, ControlMode.DYNAMIC, True),
    ],
    ids=["ac-charge-scheduled", "ac-charge-dynamic", "ac_bpt-discharge-scheduled", "ac_bpt-discharge-dynamic"],
)
async def test_full_session_over_tls13(
    pki: TestPki, direction: ChargeDirection, control: ControlMode, bidirectional: bool
) -> None:
    run = await run_session(
        pki,
        _evcc(control_mode=control, bidirectional=bidirectional),
        ev=SimpleEVConfig(direction=direction, bidirectional=bidirectional),
    )
    _tls13_both(run)
    assert run.evcc.tls is not None and run.secc.tls is not None
    # Each side authenticated the other's -20 certificate.
    assert pki.pki.identities.evccid in (run.secc.tls.peer_subject or "")
    assert "CPO" in (run.evcc.tls.peer_subject or "")
    out, served = run.evcc.outcome, run.secc.outcome
    assert served is not None and run.secc.ok and run.evcc.ok
    assert out.ended.reason is served.ended.reason is EndReason.TERMINATED
    assert out.session_id == served.session_id != bytes(8)
    service = AC_BPT if bidirectional else AC
    assert out.negotiated["service_id"] == served.negotiated["service_id"] == service
    assert out.negotiated["control_mode"] == served.negotiated["control_mode"] == control.value
    assert out.loops == served.loops == LOOPS
    assert len(out.meter_readings) == len(served.meter_readings) == LOOPS
    # What travelled: LOOPS charge loops each way, in the selected control mode's element.
    loop_reqs = run.recorder.sent_named("evcc", "AC_ChargeLoopReq")
    assert len(loop_reqs) == LOOPS
    assert loop_reqs == run.recorder.received("secc")[-LOOPS - 2 : -2]
    expected = f"{'bpt_' if bidirectional else ''}{control.value}_ac_cl_req_control_mode"
    assert all(getattr(r, expected) is not None for r in loop_reqs)
    # The EVSE's setpoints, and the EV followed them: negative power flows EV -> EVSE [V2G20-1034/1035].
    res_field = expected.replace("_req_", "_res_")
    targets = [
        value_of(getattr(r, res_field).evse_target_active_power)
        for r in run.recorder.sent_named("secc", "AC_ChargeLoopRes")
    ]
    if bidirectional:
        assert served.negotiated["bpt_channel"] == "Discharge"
        assert targets == [-SimpleEVSEConfig().max_discharge_w] * LOOPS
        assert run.ev.power_w == -SimpleEVConfig().max_discharge_w
    else:
        assert targets == [SimpleEVSEConfig().max_charge_w] * LOOPS
        assert run.ev.power_w == SimpleEVConfig().max_charge_w


@pytest.mark.asyncio
async def test_pnc_authorization_with_contract_from_the_test_pki(pki: TestPki) -> None:
    run = await run_session(
        pki,
        _evcc(authorization="PnC", credentials=pki.contract()),
        secc=SeccConfig(authorization=("EIM", "PnC")),
        pnc=True,
    )
    assert run.evcc.ok and run.secc.ok
    assert run.evcc.outcome.negotiated["authorization"] == "PnC"
    assert run.secc.outcome is not None and run.secc.outcome.negotiated["authorization"] == "PnC"
    # The SECC verified the contract chain up to the MO root and passed the eMAID on to the controller.
    contract_cn = pki.pki[Entity.CONTRACT_LEAF].certificate.subject.rfc4514_string()
    [(evcc_id, emaid)] = run.evse.authorized
    assert evcc_id == EvccConfig().evcc_id
    assert emaid is not None and emaid in contract_cn
    [req] = run.recorder.sent_named("evcc", "AuthorizationReq")
    assert req.pnc_a_req_authorization_mode is not None and req.header.signature is not None


@pytest.mark.asyncio
async def test_pnc_contract_from_an_untrusted_mo_is_not_authorized(pki: TestPki) -> None:
    # The EV signs with its real contract, but this SECC trusts the MO root of no one (the V2G root only).
    from iso15118.iso20.pnc import PncVerifier

    rec = Recorder()
    evse = SimpleEVSE()
    verifier = PncVerifier([pki.pki[Entity.V2G_ROOT].certificate])
    server = SeccServer(
        server_config(pki), lambda: evse, secc=SeccConfig(authorization=("PnC",)), pnc=verifier, observers=[rec]
    )
    async with server:
        run, report = await run_client(
            pki, server, _evcc(authorization="PnC", credentials=pki.contract(), authorization_retry_s=0.0), recorder=rec
        )
    answers = [str(r.response_code) for r in rec.sent_named("secc", "AuthorizationRes")]
    # A chain problem is a WARNING the EV may retry after; it gives up after its attempts and stops.
    assert answers == ["WARNING_CertificateValidationError"] * EvccConfig().authorization_attempts
    assert evse.auth_calls == 0  # never reached the controller
    assert rec.sent_named("evcc", "PowerDeliveryReq") == []
    assert [str(r.charging_session) for r in rec.sent_named("evcc", "SessionStopReq")] == ["Terminate"]
    assert run.outcome.loops == 0 and report.outcome is not None and report.outcome.loops == 0


@pytest.mark.asyncio
async def test_pause_then_resume_on_a_second_connection(pki: TestPki) -> None:
    rec = Recorder()
    evse = SimpleEVSE()
    server = SeccServer(server_config(pki), lambda: evse, observers=[rec])
    async with server:
        first, first_report = await run_client(pki, server, _evcc(stop_with="Pause"), recorder=rec)
        assert first.outcome.ended.reason is EndReason.PAUSED
        assert first_report.outcome is not None and first_report.outcome.ended.reason is EndReason.PAUSED
        assert len(server.store) == 1
        paused_id = first.outcome.session_id
        service = first.outcome.negotiated["service_id"]
        resume = _evcc(resume_session_id=paused_id, resume_service_id=service)
        second, second_report = await run_client(pki, server, resume, recorder=rec)
    assert first.ok and first_report.ok and second.ok and second_report.ok
    # The same SessionID, joined again: OK_OldSessionJoined [V2G20-2545].
    assert second.outcome.session_id == paused_id
    assert second.outcome.negotiated.get("resumed") is True
    assert second_report.outcome is not None and second_report.outcome.negotiated.get("resumed") is True
    setups = rec.sent_named("secc", "SessionSetupRes")
    assert [str(r.response_code) for r in setups] == ["OK_NewSessionEstablished", "OK_OldSessionJoined"]
    assert setups[1].header.session_id == paused_id
    # The resumed session skipped authorization and service selection and went on charging.
    assert len(rec.sent_named("evcc", "AuthorizationReq")) == 1
    assert second.outcome.loops == LOOPS
    assert len(server.store) == 0


@pytest.mark.asyncio
async def test_schedule_renegotiation_on_the_side_stream(pki: TestPki) -> None:
    run = await run_session(pki, _evcc(control_mode=ControlMode.SCHEDULED, renegotiate_schedule_after=2))
    assert run.evcc.ok and run.secc.ok
    assert run.evcc.outcome.negotiated["side_streams"] == [
        "schedule_renegotiation:ScheduleExchangeRes:OK",
        "schedule_renegotiation:PowerDeliveryRes:OK",
    ]
    assert len(run.recorder.sent_named("secc", "ScheduleExchangeRes")) == 2
    deliveries = run.recorder.sent_named("evcc", "PowerDeliveryReq")
    [renegotiation] = [r for r in deliveries if str(r.charge_progress) == "ScheduleRenegotiation"]
    assert renegotiation.ev_power_profile is not None
    assert run.evcc.outcome.loops == LOOPS


@pytest.mark.asyncio
async def test_metering_confirmation_signed_with_the_contract_key(pki: TestPki) -> None:
    run = await run_session(
        pki,
        _evcc(authorization="PnC", credentials=pki.contract(), metering_confirmation_after=2),
        secc=SeccConfig(authorization=("PnC",)),
        pnc=True,
    )
    assert run.evcc.ok and run.secc.ok
    assert run.evcc.outcome.negotiated["side_streams"] == ["metering_confirmation:MeteringConfirmationRes:OK"]
    [req] = run.recorder.sent_named("evcc", "MeteringConfirmationReq")
    assert req.header.signature is not None
    [res] = run.recorder.sent_named("secc", "MeteringConfirmationRes")
    assert str(res.response_code) == "OK"


_NOTES = [
    (Notification.PAUSE, EndReason.PAUSED, 2),
    (Notification.EXIT_STANDBY, EndReason.TERMINATED, LOOPS),
    (Notification.TERMINATE, EndReason.TERMINATED, 2),
    (Notification.SCHEDULE_RENEGOTIATION, EndReason.TERMINATED, LOOPS),
    (Notification.SERVICE_RENEGOTIATION, EndReason.TERMINATED, 2 * LOOPS),
    (Notification.METERING_CONFIRMATION, EndReason.TERMINATED, LOOPS),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("note", "end", "loops"), _NOTES, ids=[n.value for n, _, _ in _NOTES])
async def test_secc_initiated_notification(pki: TestPki, note: Notification, end: EndReason, loops: int) -> None:
    pnc = note is Notification.METERING_CONFIRMATION  # the EV confirms metering with its contract key only
    run = await run_session(
        pki,
        _evcc(authorization="PnC", credentials=pki.contract()) if pnc else _evcc(),
        evse=SimpleEVSEConfig(notifications=((2, note),)),
        secc=SeccConfig(authorization=("PnC",)) if pnc else None,
        pnc=pnc,
    )
    out, served = run.evcc.outcome, run.secc.outcome
    assert served is not None and run.evcc.ok and run.secc.ok
    assert out.ended.reason is served.ended.reason is end
    assert out.loops == served.loops == loops
    assert out.negotiated["notifications"] == [note.value]
    # The SECC put the notification into exactly one AC_ChargeLoopRes, the second.
    statuses = [r.evse_status for r in run.recorder.sent_named("secc", "AC_ChargeLoopRes")]
    assert [str(s.evse_notification) for s in statuses if s is not None] == [note.value]
    assert statuses[1] is not None
    stops = [str(r.charging_session) for r in run.recorder.sent_named("evcc", "SessionStopReq")]
    side = out.negotiated.get("side_streams", [])
    if note is Notification.PAUSE:
        assert stops == ["Pause"]
    elif note is Notification.SERVICE_RENEGOTIATION:
        assert stops == ["ServiceRenegotiation", "Terminate"]
        assert len(run.recorder.sent_named("evcc", "ServiceSelectionReq")) == 2
    else:
        assert stops == ["Terminate"]
    if note is Notification.SCHEDULE_RENEGOTIATION:
        assert side == ["schedule_renegotiation:ScheduleExchangeRes:OK", "schedule_renegotiation:PowerDeliveryRes:OK"]
    elif note is Notification.METERING_CONFIRMATION:
        assert side == ["metering_confirmation:MeteringConfirmationRes:OK"]
    else:
        assert side == []


@pytest.mark.asyncio
async def test_many_concurrent_sessions_share_one_server(pki: TestPki) -> None:
    import asyncio

    from iso15118.transport.evcc_client import run_evcc
    from tests.transport_session.helpers import client_config

    count = 12
    server = SeccServer(server_config(pki), SimpleEVSE)
    async with server:
        assert server.endpoint is not None
        target = str(server.endpoint)
        runs = await asyncio.gather(
            *(run_evcc(client_config(pki, target), SimpleEV(), _evcc(loop_interval_s=0.02)) for _ in range(count))
        )
        reports = [await server.next_report() for _ in range(count)]
    assert all(r.ok for r in runs) and all(r.ok for r in reports)
    ids = {r.outcome.session_id for r in runs}
    assert len(ids) == count
    assert {r.outcome.session_id for r in reports if r.outcome is not None} == ids
    assert server.connections == count and server.active == 0
