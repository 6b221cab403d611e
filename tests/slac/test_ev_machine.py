"""The EV state machine alone, driven by hand with a fake clock: timers, retries, ignored frames."""

from __future__ import annotations

import itertools

import pytest

from iso15118.errors import ConfigError, SlacError
from iso15118.slac.ev import EvMachine
from iso15118.slac.events import AttemptFailed, FrameIgnored, Matched, MatchingFailed
from iso15118.slac.machine import State
from iso15118.slac.mme import (
    BROADCAST_MAC,
    LOCAL_MODEM_MAC,
    AttenCharInd,
    AttenCharRsp,
    MnbcSoundInd,
    SetKeyCnf,
    SetKeyReq,
    SlacMatchCnf,
    SlacMatchReq,
    SlacParmCnf,
    SlacParmReq,
    StartAttenCharInd,
)
from iso15118.slac.timers import SlacConfig

from .helpers import EV_MAC, EVSE_MAC, Driver, counter_random

CFG = SlacConfig()
NID, NMK = bytes(range(7)), bytes(range(16))
AAG = (22,) * 58


def ev(**config: object) -> Driver:
    return Driver(EvMachine(mac=EV_MAC, config=SlacConfig(**config), random=counter_random()))  # type: ignore[arg-type]


def run_id_of(d: Driver) -> bytes:
    req = [s.msg for s in d.sent if isinstance(s.msg, SlacParmReq)][-1]
    return req.run_id


def to_sounding(d: Driver, *, at: float = 0.05, num_sounds: int = 10) -> bytes:
    """Start, answer CM_SLAC_PARM.REQ; returns the run ID."""
    d.start(0.0)
    run = run_id_of(d)
    d.feed(SlacParmCnf(forwarding_sta=EV_MAC, run_id=run, num_sounds=num_sounds), at, src=EVSE_MAC)
    return run


def to_match_cnf_wait(d: Driver) -> bytes:
    run = to_sounding(d)
    d.advance(0.4)
    d.feed(AttenCharInd(source_address=EV_MAC, run_id=run, num_sounds=10, aag=AAG), 0.45, src=EVSE_MAC)
    return run


def test_parm_req_is_repeated_every_tt_match_response_then_the_attempt_restarts() -> None:
    d = ev()
    d.start(0.0)
    d.advance(CFG.tt_match_response * 3 - 1e-9)
    reqs = d.take()
    assert [s.at for s in reqs] == pytest.approx([0.0, CFG.tt_match_response, 2 * CFG.tt_match_response])
    assert all(isinstance(s.msg, SlacParmReq) and s.header.dst == BROADCAST_MAC for s in reqs)
    assert len({s.msg.run_id for s in reqs}) == 1  # type: ignore[attr-defined]
    d.advance(CFG.tt_match_response * 3)
    (failed,) = d.take_events()
    assert isinstance(failed, AttemptFailed)
    assert failed.step == "CM_SLAC_PARM" and "3 requests" in failed.reason and failed.attempt == 1
    assert d.machine.state is State.PAUSE and d.take() == []
    # [V2G3-A09-124] the next attempt starts TT_matching_rate later, with a fresh run ID.
    d.advance(0.6 + CFG.tt_matching_rate)
    (again,) = d.take()
    assert again.at == pytest.approx(0.6 + CFG.tt_matching_rate)
    assert isinstance(again.msg, SlacParmReq) and again.msg.run_id != reqs[0].msg.run_id  # type: ignore[attr-defined]


def test_matching_gives_up_once_tt_matching_repetition_is_used() -> None:
    d = ev()
    d.start(0.0)
    d.advance(60.0)
    events = d.take_events()
    final = events[-1]
    assert isinstance(final, MatchingFailed)
    per_attempt = 3 * CFG.tt_match_response + CFG.tt_matching_rate
    attempts = sum(isinstance(e, AttemptFailed) for e in events)
    # Attempt k starts at k*per_attempt; a restart happens while its start is inside the 10 s window.
    expected = 1 + int(
        (CFG.tt_matching_repetition - CFG.tt_matching_rate - 3 * CFG.tt_match_response) / per_attempt + 1e-9
    )
    assert attempts == expected == final.attempts
    assert final.at < CFG.tt_matching_repetition
    assert "TT_matching_repetition" in final.reason and final.step == "CM_SLAC_PARM"
    assert d.machine.finished and d.machine.next_deadline() is None
    assert sum(isinstance(s.msg, SlacParmReq) for s in d.take()) == 3 * attempts


def test_sounding_sends_three_start_indications_then_the_announced_sounds() -> None:
    d = ev()
    run = to_sounding(d, at=0.05, num_sounds=7)
    d.advance(1.0)
    batch = [s for s in d.take() if not isinstance(s.msg, SlacParmReq)]
    starts = [s for s in batch if isinstance(s.msg, StartAttenCharInd)]
    sounds = [s for s in batch if isinstance(s.msg, MnbcSoundInd)]
    assert len(starts) == CFG.c_ev_start_atten_char_inds and len(sounds) == 7
    assert batch == starts + sounds
    gaps = [b.at - a.at for a, b in itertools.pairwise(batch)]
    assert gaps == pytest.approx([CFG.tp_ev_batch_msg_interval] * (len(batch) - 1))
    assert batch[0].at == pytest.approx(0.05)
    for s in starts:
        assert s.header.dst == BROADCAST_MAC
        assert s.msg == StartAttenCharInd(forwarding_sta=EV_MAC, run_id=run, num_sounds=7, time_out=6)
    assert [s.msg.count for s in sounds] == [6, 5, 4, 3, 2, 1, 0]  # type: ignore[attr-defined]
    assert {s.msg.run_id for s in sounds} == {run}  # type: ignore[attr-defined]


def test_no_atten_char_within_tt_ev_atten_results_fails_the_attempt() -> None:
    d = ev()
    to_sounding(d, at=0.05)
    d.advance(0.05 + CFG.tt_ev_atten_results - 1e-6)
    assert not any(isinstance(e, AttemptFailed) for e in d.take_events())
    d.advance(0.05 + CFG.tt_ev_atten_results)
    (failed,) = [e for e in d.take_events() if isinstance(e, AttemptFailed)]
    assert failed.step == "CM_ATTEN_CHAR" and "TT_EV_atten_results" in failed.reason
    assert failed.at == pytest.approx(0.05 + CFG.tt_ev_atten_results)
    assert d.machine.state is State.PAUSE


def test_wrong_run_id_and_foreign_frames_are_ignored_with_a_reason() -> None:
    d = ev()
    d.start(0.0)
    run = run_id_of(d)
    d.feed(SlacParmCnf(forwarding_sta=EV_MAC, run_id=b"\xee" * 8), 0.01, src=EVSE_MAC)
    d.feed(SlacParmCnf(forwarding_sta=EV_MAC, run_id=run), 0.02, src=EVSE_MAC, dst=bytes.fromhex("020000000099"))
    d.feed(SlacParmCnf(forwarding_sta=EV_MAC, run_id=run, application_type=1), 0.03, src=EVSE_MAC)
    d.feed(SlacMatchCnf(pev_mac=EV_MAC, evse_mac=EVSE_MAC, run_id=run, nid=NID, nmk=NMK), 0.04, src=EVSE_MAC)
    reasons = [e.reason for e in d.take_events() if isinstance(e, FrameIgnored)]
    assert len(reasons) == 4
    assert "RunID eeeeeeeeeeeeeeee is not this run's" in reasons[0]
    assert "addressed to another station" in reasons[1]
    assert "APPLICATION_TYPE" in reasons[2]
    assert reasons[3] == "CM_SLAC_MATCH.CNF ignored: not expected while waiting for CM_SLAC_PARM.CNF"
    assert d.machine.state is State.WAIT_PARM_CNF
    # The run is untouched: the retry timer still fires on schedule.
    d.advance(CFG.tt_match_response)
    assert [s.at for s in d.take()] == pytest.approx([0.0, CFG.tt_match_response])


@pytest.mark.parametrize(
    ("frame", "offset", "rule"),
    [
        (bytes(10), 10, "Ethernet header"),
        (EV_MAC + EVSE_MAC + b"\x88\xe1\x01\x65", 16, "MME header MMV/MMTYPE/FMI"),
        (EV_MAC + EVSE_MAC + b"\x88\xe1\x00\xa0\x00" + b"\x00" * 41, 14, "MMV=1"),
        (EV_MAC + EVSE_MAC + b"\x88\xe1\x01\x65\x60\x00\x00" + b"\x00" * 10, 29, "CM_SLAC_PARM.CNF layout"),
    ],
)
def test_malformed_frames_are_reported_with_offset_and_rule(frame: bytes, offset: int, rule: str) -> None:
    d = ev()
    d.start(0.0)
    d.feed_raw(frame, 0.01)
    (event,) = d.take_events()
    assert isinstance(event, FrameIgnored)
    assert (event.offset, event.rule) == (offset, rule)
    assert d.machine.state is State.WAIT_PARM_CNF


def test_happy_path_frames_and_matched_event() -> None:
    d = ev()
    run = to_match_cnf_wait(d)
    after_ind = [s for s in d.take() if s.at >= 0.45]
    rsp, req = after_ind[0], after_ind[1]
    assert rsp.header.dst == EVSE_MAC and rsp.msg == AttenCharRsp(source_address=EV_MAC, run_id=run, result=0)
    assert req.header.dst == EVSE_MAC
    assert req.msg == SlacMatchReq(pev_mac=EV_MAC, evse_mac=EVSE_MAC, run_id=run)
    # the EVSE finished early: no more sounds after its result
    d.advance(1.0)
    assert not any(isinstance(s.msg, MnbcSoundInd) for s in d.take())
    d.feed(SlacMatchCnf(pev_mac=EV_MAC, evse_mac=EVSE_MAC, run_id=run, nid=NID, nmk=NMK), 1.01, src=EVSE_MAC)
    (key,) = d.take()
    assert key.header.dst == LOCAL_MODEM_MAC
    assert isinstance(key.msg, SetKeyReq) and (key.msg.nid, key.msg.new_key) == (NID, NMK)
    d.feed(SetKeyCnf(result=0), 1.02, src=bytes.fromhex("00b052000099"))
    (matched,) = d.take_events()
    assert isinstance(matched, Matched)
    assert (matched.nid, matched.nmk, matched.peer_mac, matched.run_id) == (NID, NMK, EVSE_MAC, run)
    assert matched.attenuation_db == 22 and matched.num_sounds == 10 and matched.attempts == 1
    assert matched.key_result == 0 and d.machine.state is State.MATCHED and d.machine.next_deadline() is None
    names = [s.name for s in matched.steps]
    assert names[:3] == ["CM_SLAC_PARM.REQ sent", "CM_SLAC_PARM.CNF received", "CM_START_ATTEN_CHAR.IND sent"]
    assert names[-3:] == ["CM_SLAC_MATCH.CNF received", "CM_SET_KEY.REQ sent", "CM_SET_KEY.CNF received"]
    assert len(matched.sound_times) == sum(n == "CM_MNBC_SOUND.IND sent" for n in names)


def test_match_req_is_repeated_then_the_attempt_fails() -> None:
    d = ev()
    to_match_cnf_wait(d)
    d.take()
    d.advance(0.45 + 3 * CFG.tt_match_response)
    reqs = [s for s in d.take() if isinstance(s.msg, SlacMatchReq)]
    assert [s.at for s in reqs] == pytest.approx([0.45 + CFG.tt_match_response, 0.45 + 2 * CFG.tt_match_response])
    (failed,) = [e for e in d.take_events() if isinstance(e, AttemptFailed)]
    assert failed.step == "CM_SLAC_MATCH" and "3 requests" in failed.reason


def test_a_repeated_atten_char_ind_is_answered_again() -> None:
    d = ev()
    run = to_match_cnf_wait(d)
    d.take()
    d.feed(AttenCharInd(source_address=EV_MAC, run_id=run, num_sounds=10, aag=AAG), 0.5, src=EVSE_MAC)
    (rsp,) = d.take()
    assert isinstance(rsp.msg, AttenCharRsp) and d.machine.state is State.WAIT_MATCH_CNF


def test_atten_char_from_another_evse_or_for_another_ev_is_ignored() -> None:
    d = ev()
    run = to_sounding(d)
    other = bytes.fromhex("0200000000aa")
    d.feed(AttenCharInd(source_address=EV_MAC, run_id=run, num_sounds=10, aag=AAG), 0.3, src=other)
    d.feed(AttenCharInd(source_address=other, run_id=run, num_sounds=10, aag=AAG), 0.31, src=EVSE_MAC)
    d.feed(AttenCharInd(source_address=EV_MAC, run_id=run, num_sounds=10, aag=()), 0.32, src=EVSE_MAC)
    ignored = [e for e in d.take_events() if isinstance(e, FrameIgnored)]
    assert [
        "another EVSE" in ignored[0].reason,
        "SOURCE_ADDRESS" in ignored[1].reason,
        "no attenuation groups" in ignored[2].reason,
    ] == [True, True, True]
    assert d.machine.state in (State.SOUNDING, State.WAIT_ATTEN_CHAR)


def test_attenuation_above_the_threshold_fails_the_attempt() -> None:
    d = ev(attenuation_threshold_db=20)
    run = to_sounding(d)
    d.feed(AttenCharInd(source_address=EV_MAC, run_id=run, num_sounds=10, aag=AAG), 0.4, src=EVSE_MAC)
    (failed,) = [e for e in d.take_events() if isinstance(e, AttemptFailed)]
    assert "22.0 dB is above the 20 dB threshold" in failed.reason
    assert not any(isinstance(s.msg, SlacMatchReq) for s in d.take())


def test_an_unanswered_set_key_ends_matching_for_good() -> None:
    d = ev()
    run = to_match_cnf_wait(d)
    d.feed(SlacMatchCnf(pev_mac=EV_MAC, evse_mac=EVSE_MAC, run_id=run, nid=NID, nmk=NMK), 0.5, src=EVSE_MAC)
    d.take()
    d.advance(10.0)
    keys = [s for s in d.take() if isinstance(s.msg, SetKeyReq)]
    assert [s.at for s in keys] == pytest.approx([0.5 + CFG.set_key_timeout, 0.5 + 2 * CFG.set_key_timeout])
    (final,) = [e for e in d.take_events() if isinstance(e, MatchingFailed)]
    assert final.step == "CM_SET_KEY" and "local modem did not answer" in final.reason
    assert d.machine.state is State.FAILED


def test_starting_twice_is_an_error_and_bad_config_is_rejected() -> None:
    d = ev()
    d.start(0.0)
    with pytest.raises(SlacError, match="already started"):
        d.machine.start(1.0)
    with pytest.raises(SlacError, match="6 bytes"):
        EvMachine(mac=b"\x01")
    with pytest.raises(ConfigError, match="20-50 ms"):
        SlacConfig(tp_ev_batch_msg_interval=0.01)
    with pytest.raises(ConfigError, match="units of 100 ms"):
        SlacConfig(tt_evse_match_mnbc=0.65)
    with pytest.raises(ConfigError, match="NMK has 16 bytes"):
        SlacConfig(nmk=b"\x00")


def test_handle_timer_before_the_deadline_does_nothing() -> None:
    d = ev()
    d.start(0.0)
    d.take()
    d.machine.handle_timer(0.1)
    assert d.machine.frames_to_send() == [] and d.machine.events() == []
    assert d.machine.next_deadline() == pytest.approx(CFG.tt_match_response)
