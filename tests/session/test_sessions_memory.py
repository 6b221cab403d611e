"""Complete sessions in memory between our EVCC and SECC drivers, for every variant the -20 AC sequence has."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from iso15118.config import EvccConfig, SeccConfig
from iso15118.controller import ChargeDirection, ControlMode, Notification
from iso15118.errors import ConfigError
from iso15118.iso20.pnc import PncVerifier
from iso15118.security.credentials import ContractCredentials
from iso15118.security.pki import Pki, build_pki
from iso15118.security.profiles import Entity
from iso15118.session.events import EndReason, MessageSent
from iso15118.simple import SimpleEV, SimpleEVConfig, SimpleEVSE, SimpleEVSEConfig
from iso15118.transport.store import SessionStore
from tests.session.recording import Recorder, run_pair

FAST = {"loop_interval_s": 0.0, "authorization_retry_s": 0.0}


def _run(evcc: EvccConfig, **kwargs: Any) -> tuple[Any, Any, Recorder]:
    rec = kwargs.pop("recorder", None) or Recorder()
    out, secc = asyncio.run(run_pair(evcc, recorder=rec, **kwargs))
    return out, secc, rec


def _sent(rec: Recorder, role: str) -> list[str]:
    return [type(r.message).__name__ for r in rec.messages if r.sender == role]


@pytest.mark.parametrize("control", [ControlMode.SCHEDULED, ControlMode.DYNAMIC])
def test_ac_charge(control: ControlMode) -> None:
    ev = SimpleEV(SimpleEVConfig(bidirectional=False))
    out, secc, _rec = _run(EvccConfig(control_mode=control, max_loops=4, **FAST), ev=ev)
    assert out.ok and secc.ok and out.ended.reason is EndReason.TERMINATED
    assert out.negotiated["service_id"] == 1 and out.negotiated["control_mode"] == str(control)
    assert out.loops == 4 and secc.loops == 4
    assert len(out.meter_readings) == 4
    assert ev.power_w > 0  # charging


@pytest.mark.parametrize("control", [ControlMode.SCHEDULED, ControlMode.DYNAMIC])
def test_ac_bpt_discharge(control: ControlMode) -> None:
    ev = SimpleEV(SimpleEVConfig(direction=ChargeDirection.DISCHARGE))
    evse = SimpleEVSE()
    out, secc, _ = _run(EvccConfig(control_mode=control, max_loops=4, **FAST), ev=ev, evse=evse)
    assert out.ok and secc.ok
    assert out.negotiated["service_id"] == 5 and secc.negotiated["bpt_channel"] == "Discharge"
    assert ev.power_w < 0 and evse.discharged_wh > 0 and evse.charged_wh == 0  # energy flows EV -> EVSE


def test_dynamic_setpoint_sign_drives_the_ev() -> None:
    ev = SimpleEV(SimpleEVConfig())
    out, _secc, _ = _run(EvccConfig(max_loops=3, **FAST), ev=ev, evse=SimpleEVSE(SimpleEVSEConfig(setpoint_w=-5000)))
    assert out.ok and ev.power_w == -5000  # the EVSE asked for 5 kW of discharge


def test_ev_stops_at_its_reserve() -> None:
    ev = SimpleEV(SimpleEVConfig(soc=20.5, min_soc=20.0, direction=ChargeDirection.DISCHARGE, capacity_wh=100.0))
    out, _secc, _ = _run(EvccConfig(max_loops=None, loop_interval_s=0.05), ev=ev)
    assert out.ok and ev.soc <= 20.5 and ev.soc >= 19.0


@pytest.fixture(scope="module")
def pki() -> Pki:
    return build_pki(algorithm="secp521r1")


def _credentials(pki: Pki) -> ContractCredentials:
    chain = tuple(c.public_bytes(serialization.Encoding.DER) for c in pki.chain(Entity.CONTRACT_LEAF))
    return ContractCredentials(chain=chain, key=pki[Entity.CONTRACT_LEAF].key)


def test_pnc_authorization_and_metering_confirmation(pki: Pki) -> None:
    verifier = PncVerifier([pki[Entity.MO_ROOT].certificate])
    evcc = EvccConfig(
        authorization="PnC", credentials=_credentials(pki), max_loops=4, metering_confirmation_after=2, **FAST
    )
    secc = SeccConfig(authorization=("EIM", "PnC"))
    evse = SimpleEVSEConfig(notifications=((3, Notification.METERING_CONFIRMATION),))
    out, s, _rec = _run(evcc, secc=secc, pnc=verifier, evse=SimpleEVSE(evse))
    assert out.ok and s.ok and out.negotiated["authorization"] == "PnC"
    confirmations = [x for x in out.negotiated.get("side_streams", []) if "MeteringConfirmationRes" in x]
    assert confirmations == ["metering_confirmation:MeteringConfirmationRes:OK"]


def test_pnc_with_an_untrusted_contract_is_refused(pki: Pki) -> None:
    other = build_pki(algorithm="secp521r1")
    verifier = PncVerifier([other[Entity.MO_ROOT].certificate])  # trusts somebody else's MO root
    evcc = EvccConfig(authorization="PnC", credentials=_credentials(pki), max_loops=2, **FAST)
    out, _s, rec = _run(evcc, secc=SeccConfig(authorization=("PnC",)), pnc=verifier)
    # The EV gives up cleanly after the refusals and stops the session; both outcomes say why no energy flowed.
    assert out.ended_regularly and not out.ok
    assert out.failure is not None and "WARNING_CertificateValidationError" in out.failure
    assert _s.failure is not None and "WARNING_CertificateValidationError" in _s.failure
    assert "ServiceDiscoveryReq" not in _sent(rec, "evcc")


def test_eim_ongoing_then_accepted() -> None:
    out, _s, rec = _run(EvccConfig(max_loops=2, **FAST), evse=SimpleEVSE(SimpleEVSEConfig(authorization_delay=3)))
    assert out.ok and _sent(rec, "evcc").count("AuthorizationReq") == 4


def test_eim_rejected_ends_cleanly() -> None:
    out, _s, rec = _run(
        EvccConfig(max_loops=2, authorization_attempts=2, **FAST), evse=SimpleEVSE(SimpleEVSEConfig(reject=True))
    )
    assert out.ended_regularly and _sent(rec, "evcc").count("AuthorizationReq") == 2
    assert not out.ok and out.failure is not None and "WARNING_EIMAuthorizationFailure" in out.failure
    assert _sent(rec, "secc")[-1] == "SessionStopRes"


def test_pause_and_resume() -> None:
    store = SessionStore()
    first, s1, _ = _run(EvccConfig(max_loops=2, stop_with="Pause", **FAST), store=store)
    assert first.ended.reason is EndReason.PAUSED and s1.ended.reason is EndReason.PAUSED and len(store) == 1
    resume = EvccConfig(
        max_loops=2, resume_session_id=first.session_id, resume_service_id=first.negotiated["service_id"], **FAST
    )
    second, s2, rec = _run(resume, store=store)
    assert second.ok and second.negotiated.get("resumed") is True
    assert second.session_id == first.session_id
    # Both sides report the resumed session's parameters and only this connection's loops.
    for side in (second, s2):
        assert side.negotiated["service_id"] == first.negotiated["service_id"]
        assert side.negotiated["control_mode"] == first.negotiated["control_mode"]
        assert side.loops == 2
    assert s2.negotiated["authorization"] == "EIM" and len(s2.meter_readings) == 2
    assert "AuthorizationReq" not in _sent(rec, "evcc")  # resuming skips authorization [V2G20-1032]


def test_resume_with_an_unknown_session_starts_a_new_one() -> None:
    # The SECC starts a new session [V2G20-2626/2627]; the EV asked to resume, so by default it stops and says so.
    out, _s, rec = _run(EvccConfig(max_loops=1, resume_session_id=b"\x42" * 8, **FAST))
    assert out.ended_regularly and not out.ok and out.session_id != b"\x42" * 8
    assert out.failure is not None and "did not resume session 4242424242424242" in out.failure
    assert "AuthorizationSetupReq" not in _sent(rec, "evcc") and _sent(rec, "evcc")[-1] == "SessionStopReq"
    # With --accept-fallback it goes on as a new session and the outcome names the substitution.
    out, _s, rec = _run(EvccConfig(max_loops=1, resume_session_id=b"\x42" * 8, accept_fallback=True, **FAST))
    assert out.ok and "AuthorizationReq" in _sent(rec, "evcc")
    assert out.substitutions and "did not resume" in out.substitutions[0]


def test_ev_initiated_schedule_renegotiation() -> None:
    out, s, _rec = _run(
        EvccConfig(control_mode=ControlMode.SCHEDULED, max_loops=5, renegotiate_schedule_after=2, **FAST)
    )
    assert out.ok and s.ok
    side = out.negotiated["side_streams"]
    assert side == ["schedule_renegotiation:ScheduleExchangeRes:OK", "schedule_renegotiation:PowerDeliveryRes:OK"]


@pytest.mark.parametrize(
    ("note", "expect"),
    [
        (Notification.PAUSE, EndReason.PAUSED),
        (Notification.TERMINATE, EndReason.TERMINATED),
        (Notification.EXIT_STANDBY, EndReason.TERMINATED),
        (Notification.SCHEDULE_RENEGOTIATION, EndReason.TERMINATED),
        (Notification.SERVICE_RENEGOTIATION, EndReason.TERMINATED),
        (Notification.METERING_CONFIRMATION, EndReason.TERMINATED),
    ],
)
def test_secc_notifications(note: Notification, expect: EndReason) -> None:
    evse = SimpleEVSE(SimpleEVSEConfig(notifications=((2, note),)))
    out, s, rec = _run(EvccConfig(max_loops=4, **FAST), evse=evse)
    assert out.ended.reason is expect and s.ended.reason is expect
    assert out.negotiated["notifications"] == [str(note)]
    sent = _sent(rec, "evcc")
    if note in (Notification.PAUSE, Notification.TERMINATE):
        assert out.loops == 2  # the EV stops right after the notification [V2G20-1610]
        assert sent[-2:] == ["PowerDeliveryReq", "SessionStopReq"]
    if note is Notification.SCHEDULE_RENEGOTIATION:
        assert out.negotiated["side_streams"][0] == "schedule_renegotiation:ScheduleExchangeRes:OK"
    if note is Notification.SERVICE_RENEGOTIATION:
        assert out.negotiated["service_renegotiations"] == 1 and sent.count("ServiceDiscoveryReq") == 2
    if note is Notification.METERING_CONFIRMATION:
        assert "MeteringConfirmationReq" not in sent  # EIM: nothing to sign [V2G20-2704]


def _sent_message(rec: Recorder, role: str, kind: str) -> Any:
    return next(r.message for r in rec.messages if r.sender == role and type(r.message).__name__ == kind)


def _pricing_offered(rec: Recorder) -> set[int]:
    detail = _sent_message(rec, "secc", "ServiceDetailRes")
    return {
        p.int_value for ps in detail.service_parameter_list.parameter_set for p in ps.parameter if p.name == "Pricing"
    }


@pytest.mark.parametrize("control", [ControlMode.SCHEDULED, ControlMode.DYNAMIC])
def test_price_levels_offered_and_sent(control: ControlMode) -> None:
    ev = SimpleEV(SimpleEVConfig(direction=ChargeDirection.DISCHARGE))
    secc_config = SeccConfig(pricing="price_levels")
    out, s, rec = _run(EvccConfig(control_mode=control, max_loops=2, **FAST), ev=ev, secc=secc_config)
    assert out.ok and s.ok
    assert _pricing_offered(rec) == {2}  # STD table 205: 2 = price levels
    res = _sent_message(rec, "secc", "ScheduleExchangeRes")
    if control is ControlMode.SCHEDULED:
        [tuple_] = res.scheduled_se_res_control_mode.schedule_tuple
        schedules = [tuple_.charging_schedule, tuple_.discharging_schedule]
        levels = [sch.price_level_schedule for sch in schedules]
        assert all(sch.absolute_price_schedule is None for sch in schedules)
    else:
        levels = [res.dynamic_se_res_control_mode.price_level_schedule]
    for level in levels:
        assert level is not None and level.number_of_price_levels == 1
        [entry] = level.price_level_schedule_entries.price_level_schedule_entry
        assert entry.price_level == 0 and entry.duration == SeccConfig().schedule_duration_s


def test_no_price_schedule_by_default() -> None:
    out, s, rec = _run(EvccConfig(control_mode=ControlMode.SCHEDULED, max_loops=1, **FAST))
    assert out.ok and s.ok and _pricing_offered(rec) == {0}
    [tuple_] = _sent_message(rec, "secc", "ScheduleExchangeRes").scheduled_se_res_control_mode.schedule_tuple
    assert tuple_.charging_schedule.price_level_schedule is None


def test_absolute_pricing_is_refused_as_configuration() -> None:
    with pytest.raises(ConfigError, match="pricing must be one of none, price_levels, got 'absolute'"):
        SeccConfig(pricing="absolute")
    with pytest.raises(ConfigError, match=r"SeccConfig\.authorization must be one of EIM, PnC, got 'RFID'"):
        SeccConfig(authorization=("EIM", "RFID"))


def test_incompatible_charge_parameters_are_refused() -> None:
    ev = SimpleEV(SimpleEVConfig(min_charge_w=20_000, max_charge_w=22_000))
    out, s, _ = _run(EvccConfig(max_loops=2, **FAST), ev=ev, evse=SimpleEVSE(SimpleEVSEConfig(max_charge_w=11_000)))
    assert out.ended.reason is EndReason.FAILED_RECEIVED and out.ended.response_code == "FAILED_WrongChargeParameter"
    assert s.ended.reason is EndReason.FAILED_SENT


def test_chunked_link_delivers_frames_split_over_many_reads() -> None:
    out, s, _ = _run(EvccConfig(max_loops=2, **FAST), chunking=3)
    assert out.ok and s.ok and out.loops == 2


def test_both_controllers_hear_the_session_start_and_end() -> None:
    ev, evse = SimpleEV(), SimpleEVSE()
    out, secc, _ = _run(EvccConfig(max_loops=1, **FAST), ev=ev, evse=evse)
    assert out.ok and secc.ok
    for reports in (ev.reports, evse.reports):
        events = [r.event for r in reports]
        assert events[0] == "session_established" and events[-1] == "session_ended"


def test_a_failing_observer_stops_the_message_it_could_not_record() -> None:
    """An observer (e.g. the journal) that fails on a response means that response is never sent."""

    class FailingJournal:
        async def observe(self, event: Any, *, role: str, peer: str) -> None:
            if role == "secc" and isinstance(event, MessageSent) and type(event.message).__name__ == "AC_ChargeLoopRes":
                raise OSError("disk full")

    async def scenario() -> Any:
        from iso15118.transport.link import memory_pair
        from iso15118.transport.runner import run_evcc_session, serve_secc_session

        a, b = memory_pair()
        rec = Recorder()
        secc = asyncio.create_task(serve_secc_session(b, SimpleEVSE(), observers=[FailingJournal()]))
        out = await run_evcc_session(a, SimpleEV(), EvccConfig(max_loops=3, **FAST), observers=[rec])
        with pytest.raises(OSError, match="disk full"):
            await secc
        return out, rec

    out, rec = asyncio.run(scenario())
    received = [type(e.message).__name__ for r, e in rec.events if type(e).__name__ == "MessageReceived"]
    assert "AC_ChargeLoopRes" not in received  # the unrecorded response never reached the EV
    assert not out.ok
