"""The EVSE state machine alone, driven by hand with a fake clock: timers, retries, ignored frames."""

from __future__ import annotations

import pytest

from iso15118.slac.events import AttemptFailed, FrameIgnored, Matched, MatchingFailed, Noticed
from iso15118.slac.evse import EvseMachine
from iso15118.slac.keys import nid_from_nmk
from iso15118.slac.machine import State
from iso15118.slac.mme import (
    LOCAL_MODEM_MAC,
    AttenCharInd,
    AttenCharRsp,
    AttenProfileInd,
    MnbcSoundInd,
    SetKeyCnf,
    SetKeyReq,
    SlacMatchCnf,
    SlacMatchReq,
    SlacParmCnf,
    SlacParmReq,
    StartAttenCharInd,
    ValidateCnf,
    ValidateReq,
    ValidateResult,
)
from iso15118.slac.timers import SlacConfig

from .helpers import EV_MAC, EVSE_MAC, Driver, counter_random

CFG = SlacConfig()
NMK = bytes.fromhex("00112233445566778899aabbccddeeff")
RUN = bytes.fromhex("a1a2a3a4a5a6a7a8")
MODEM = bytes.fromhex("00b052000042")
OTHER_EV = bytes.fromhex("0200000000aa")


def evse(**config: object) -> Driver:
    cfg = SlacConfig(nmk=NMK, **config)  # type: ignore[arg-type]
    return Driver(EvseMachine(mac=EVSE_MAC, config=cfg, random=counter_random()))


def keyed(d: Driver, at: float = 0.0) -> None:
    d.start(at)
    d.feed(SetKeyCnf(result=0), at + 0.001, src=MODEM)


def to_sounding(d: Driver, start_at: float = 0.1) -> None:
    keyed(d)
    d.feed(SlacParmReq(run_id=RUN), 0.05, src=EV_MAC, dst=b"\xff" * 6)
    d.feed(StartAttenCharInd(forwarding_sta=EV_MAC, run_id=RUN), start_at, src=EV_MAC, dst=b"\xff" * 6)


def sound(d: Driver, at: float, aag: tuple[int, ...], *, count: int = 0) -> None:
    d.feed(MnbcSoundInd(run_id=RUN, count=count), at, src=EV_MAC, dst=b"\xff" * 6)
    d.feed(AttenProfileInd(pev_mac=EV_MAC, aag=aag), at + 0.0005, src=MODEM)


def sound_all(d: Driver) -> None:
    """Up to the end of the sounding: ten sounds of 20 dB, all counted, so CM_ATTEN_CHAR.IND is sent."""
    to_sounding(d)
    for i in range(10):
        sound(d, 0.2 + 0.02 * i, (20,) * 58)


def to_match_wait(d: Driver) -> None:
    sound_all(d)
    d.feed(AttenCharRsp(source_address=EV_MAC, run_id=RUN), 0.45, src=EV_MAC)


def test_the_modem_is_keyed_first_with_the_session_nmk() -> None:
    d = evse()
    d.start(0.0)
    (key,) = d.take()
    assert key.header.dst == LOCAL_MODEM_MAC and isinstance(key.msg, SetKeyReq)
    assert key.msg.new_key == NMK and key.msg.nid == nid_from_nmk(NMK)
    assert (key.msg.key_type, key.msg.pid, key.msg.new_eks) == (1, 4, 1)
    assert d.machine.state is State.WAIT_SET_KEY_CNF


def test_a_random_nmk_is_drawn_per_session_when_none_is_configured() -> None:
    a = EvseMachine(mac=EVSE_MAC, random=counter_random(1))
    b = EvseMachine(mac=EVSE_MAC, random=counter_random(2))
    assert len(a.nmk) == 16 and a.nmk != b.nmk and a.nid == nid_from_nmk(a.nmk)


def test_set_key_is_repeated_until_a_late_modem_answers() -> None:
    d = evse()
    d.start(0.0)
    d.advance(100.0)
    keys = [s.at for s in d.take() if isinstance(s.msg, SetKeyReq)]
    assert keys == pytest.approx([i * CFG.set_key_timeout for i in range(101)])
    (waiting,) = d.take_events()  # one notice, no failure: the modem may boot late
    assert isinstance(waiting, Noticed) and waiting.step == "CM_SET_KEY" and "waiting (no limit)" in waiting.text
    assert waiting.at == pytest.approx(CFG.set_key_timeout)
    d.feed(SetKeyCnf(), 100.5, src=MODEM)
    assert d.machine.state is State.WAIT_PARM_REQ


def test_modem_wait_bounds_the_wait_for_the_modem() -> None:
    d = evse(modem_wait=3.0)
    d.start(0.0)
    d.advance(10.0)
    keys = [s.at for s in d.take() if isinstance(s.msg, SetKeyReq)]
    assert keys == pytest.approx([0.0, 1.0, 2.0])
    _, final = d.take_events()
    assert (
        isinstance(final, MatchingFailed) and final.step == "CM_SET_KEY" and "within 3 s (3 requests)" in final.reason
    )
    assert final.at == pytest.approx(3.0)


def test_settle_time_delays_readiness() -> None:
    d = evse(settle_time=2.0)
    keyed(d)
    assert d.machine.state is State.SETTLE
    d.feed(SlacParmReq(run_id=RUN), 1.0, src=EV_MAC)
    assert not any(isinstance(s.msg, SlacParmCnf) for s in d.take())
    d.advance(2.001)
    assert d.machine.state is State.WAIT_PARM_REQ


def test_no_parm_req_within_tt_evse_slac_init_fails() -> None:
    d = evse(tt_evse_slac_init=20.0)
    keyed(d)
    d.advance(20.0)
    assert d.machine.state is State.WAIT_PARM_REQ
    d.advance(20.002)
    (final,) = [e for e in d.take_events() if isinstance(e, MatchingFailed)]
    assert "TT_EVSE_SLAC_init (20 s)" in final.reason and final.at == pytest.approx(20.001)


def test_parm_req_is_confirmed_to_the_ev() -> None:
    d = evse()
    keyed(d)
    d.take()
    d.feed(SlacParmReq(run_id=RUN), 0.05, src=EV_MAC, dst=b"\xff" * 6)
    (cnf,) = d.take()
    assert cnf.header.dst == EV_MAC and cnf.at == pytest.approx(0.05)
    assert cnf.msg == SlacParmCnf(forwarding_sta=EV_MAC, run_id=RUN, num_sounds=10, time_out=6, resp_type=1)


def test_no_start_atten_char_within_tt_match_sequence_restarts_matching() -> None:
    d = evse()
    keyed(d)
    d.feed(SlacParmReq(run_id=RUN), 0.05, src=EV_MAC)
    d.advance(0.05 + CFG.tt_match_sequence)
    (failed,) = [e for e in d.take_events() if isinstance(e, AttemptFailed)]
    assert failed.step == "CM_START_ATTEN_CHAR" and failed.at == pytest.approx(0.05 + CFG.tt_match_sequence)
    assert d.machine.state is State.WAIT_PARM_REQ
    d.take()
    new_run = b"\x07" * 8
    d.feed(SlacParmReq(run_id=new_run), 1.0, src=EV_MAC)
    (cnf,) = d.take()
    assert isinstance(cnf.msg, SlacParmCnf) and cnf.msg.run_id == new_run
    # The overall window then ends TT_matching_repetition after the first request.
    d.advance(60.0)
    final = d.take_events()[-1]
    assert isinstance(final, MatchingFailed) and final.attempts == 2
    assert final.at == pytest.approx(0.05 + CFG.tt_matching_repetition)


def test_all_sounds_counted_ends_the_window_early_with_rounded_averages() -> None:
    d = evse()
    to_sounding(d, start_at=0.1)
    d.take()
    for i in range(10):
        sound(d, 0.2 + 0.02 * i, (20,) * 29 + (21,) * 29 if i % 2 else (21,) * 29 + (20,) * 29, count=9 - i)
    (ind,) = d.take()
    assert ind.at == pytest.approx(0.2 + 0.02 * 9 + 0.0005)
    assert ind.header.dst == EV_MAC and isinstance(ind.msg, AttenCharInd)
    assert ind.msg.num_sounds == 10 and ind.msg.run_id == RUN and ind.msg.source_address == EV_MAC
    assert ind.msg.aag == (21,) * 58  # 20.5 rounds half up
    assert d.machine.state is State.WAIT_ATTEN_CHAR_RSP


def test_the_window_closes_after_time_out_with_the_sounds_so_far() -> None:
    d = evse()
    to_sounding(d, start_at=0.1)
    d.take()
    for i, level in enumerate((10, 20, 30, 41)):
        sound(d, 0.2 + 0.02 * i, (level,) * 58)
    d.advance(0.1 + CFG.tt_evse_match_mnbc - 1e-6)
    assert d.take() == []
    d.advance(0.1 + CFG.tt_evse_match_mnbc)
    (ind,) = d.take()
    assert isinstance(ind.msg, AttenCharInd) and ind.msg.num_sounds == 4 and ind.msg.aag == (25,) * 58


def test_a_window_without_profiles_fails_and_points_at_the_modem() -> None:
    d = evse()
    to_sounding(d)
    d.feed(MnbcSoundInd(run_id=RUN, count=9), 0.2, src=EV_MAC, dst=b"\xff" * 6)
    d.advance(2.0)
    (failed,) = [e for e in d.take_events() if isinstance(e, AttemptFailed)]
    assert failed.step == "CM_ATTEN_PROFILE"
    assert "1 CM_MNBC_SOUND.IND seen" in failed.reason and "modem" in failed.reason


def test_frames_that_do_not_belong_to_the_run_are_ignored() -> None:
    d = evse()
    to_sounding(d)
    d.take_events()
    d.feed(StartAttenCharInd(forwarding_sta=EV_MAC, run_id=RUN), 0.12, src=EV_MAC)  # a repetition: fine
    d.feed(MnbcSoundInd(run_id=b"\x00" * 8, count=1), 0.13, src=EV_MAC)
    d.feed(MnbcSoundInd(run_id=RUN, count=1), 0.14, src=OTHER_EV)
    d.feed(AttenProfileInd(pev_mac=OTHER_EV, aag=(20,) * 58), 0.15, src=MODEM)
    d.feed(SlacParmReq(run_id=b"\x01" * 8), 0.16, src=OTHER_EV)
    reasons = [e.reason for e in d.take_events() if isinstance(e, FrameIgnored)]
    assert len(reasons) == 4
    assert "RunID 0000000000000000" in reasons[0]
    assert "another station" in reasons[1]
    assert "PEV_MAC is not the matching EV" in reasons[2]
    assert "matching with another EV is in progress" in reasons[3]
    assert d.machine.state is State.SOUNDING


def test_start_atten_char_with_resp_type_0_is_ignored() -> None:
    d = evse()
    keyed(d)
    d.feed(SlacParmReq(run_id=RUN), 0.05, src=EV_MAC)
    d.feed(StartAttenCharInd(forwarding_sta=EV_MAC, run_id=RUN, resp_type=0), 0.1, src=EV_MAC)
    (ignored,) = [e for e in d.take_events() if isinstance(e, FrameIgnored)]
    assert "RESP_TYPE must be 1" in ignored.reason and d.machine.state is State.WAIT_START_ATTEN_CHAR


def test_atten_char_ind_is_repeated_without_a_response() -> None:
    d = evse()
    sound_all(d)
    sent_at = d.now
    d.take()
    d.advance(sent_at + 3 * CFG.tt_match_response)
    inds = [s.at for s in d.take() if isinstance(s.msg, AttenCharInd)]
    assert inds == pytest.approx([sent_at + CFG.tt_match_response, sent_at + 2 * CFG.tt_match_response])
    (failed,) = [e for e in d.take_events() if isinstance(e, AttemptFailed)]
    assert failed.step == "CM_ATTEN_CHAR" and "CM_ATTEN_CHAR.RSP" in failed.reason


def test_a_negative_atten_char_rsp_fails_the_attempt() -> None:
    d = evse()
    sound_all(d)
    d.feed(AttenCharRsp(source_address=EV_MAC, run_id=RUN, result=1), 0.45, src=EV_MAC)
    (failed,) = [e for e in d.take_events() if isinstance(e, AttemptFailed)]
    assert "Result 1" in failed.reason and d.machine.state is State.WAIT_PARM_REQ


def test_validate_is_answered_not_required() -> None:
    d = evse()
    to_match_wait(d)
    d.take()
    d.feed(ValidateReq(timer=0, result=ValidateResult.READY), 0.5, src=EV_MAC)
    (cnf,) = d.take()
    assert cnf.header.dst == EV_MAC and cnf.msg == ValidateCnf(result=ValidateResult.NOT_REQUIRED)
    assert d.machine.state is State.WAIT_MATCH_REQ


def test_match_req_gets_the_network_key_and_repeats_are_answered_again() -> None:
    d = evse()
    to_match_wait(d)
    d.take()
    d.take_events()
    req = SlacMatchReq(pev_mac=EV_MAC, evse_mac=EVSE_MAC, run_id=RUN, pev_id=b"V" * 17)
    d.feed(req, 0.5, src=EV_MAC)
    (cnf,) = d.take()
    assert cnf.header.dst == EV_MAC
    assert cnf.msg == SlacMatchCnf(
        pev_mac=EV_MAC, evse_mac=EVSE_MAC, run_id=RUN, nid=nid_from_nmk(NMK), nmk=NMK, pev_id=b"V" * 17
    )
    (matched,) = d.take_events()
    assert isinstance(matched, Matched)
    assert (matched.peer_mac, matched.nmk, matched.num_sounds, matched.attenuation_db) == (EV_MAC, NMK, 10, 20)
    assert matched.sounding_window == pytest.approx((0.1, 0.1 + CFG.tt_evse_match_mnbc))
    assert matched.sound_times == pytest.approx([0.2 + 0.02 * i for i in range(10)])
    assert matched.key_result == 0
    d.feed(req, 0.7, src=EV_MAC)
    (again,) = d.take()
    assert again.msg == cnf.msg and d.take_events() == []


def test_match_req_naming_other_stations_is_ignored_and_the_session_times_out() -> None:
    d = evse()
    to_match_wait(d)
    d.take_events()
    d.feed(SlacMatchReq(pev_mac=OTHER_EV, evse_mac=EVSE_MAC, run_id=RUN), 0.5, src=EV_MAC)
    d.feed(SlacMatchReq(pev_mac=EV_MAC, evse_mac=OTHER_EV, run_id=RUN), 0.51, src=EV_MAC)
    assert [isinstance(e, FrameIgnored) for e in d.take_events()] == [True, True]
    d.advance(0.45 + CFG.tt_evse_match_session)
    (failed,) = [e for e in d.take_events() if isinstance(e, AttemptFailed)]
    assert failed.step == "CM_SLAC_MATCH" and "TT_EVSE_match_session" in failed.reason


def test_a_new_parm_req_from_the_same_ev_restarts_matching() -> None:
    d = evse()
    to_match_wait(d)
    d.take()
    d.feed(SlacParmReq(run_id=b"\x09" * 8), 0.6, src=EV_MAC)
    (cnf,) = d.take()
    assert isinstance(cnf.msg, SlacParmCnf) and cnf.msg.run_id == b"\x09" * 8
    assert d.machine.state is State.WAIT_START_ATTEN_CHAR
