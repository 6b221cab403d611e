"""The field settings of SlacConfig (EVerest's EvseSlac options): each changes one behaviour, defaults are ISO's."""

from __future__ import annotations

import pytest

from iso15118.errors import ConfigError
from iso15118.slac.ev import EvMachine
from iso15118.slac.events import AttemptFailed, MatchingFailed, Noticed
from iso15118.slac.machine import State
from iso15118.slac.mme import AttenCharInd, MnbcSoundInd, SlacParmCnf, SlacParmReq
from iso15118.slac.timers import SlacConfig

from .helpers import EV_MAC, EVSE_MAC, Driver, counter_random
from .test_evse_machine import CFG, RUN, evse, keyed, sound, to_sounding

BCAST = b"\xff" * 6


def test_the_defaults_are_the_standards_behaviour() -> None:
    cfg = SlacConfig()
    assert (cfg.reset_instead_of_fail, cfg.sequence_retries, cfg.chip_reset, cfg.link_status_check) == (
        False,
        0,
        False,
        False,
    )
    assert cfg.no_profile_fallback_db is None and cfg.t_step_ef == 4.0 and cfg.tt_match_join == 12.0


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"t_step_ef": 1.0}, "T_step_EF is at least 4 s"),
        ({"sequence_retries": -1}, "C_sequ_retry"),
        ({"modem_wait": 0.0}, "modem_wait must be positive"),
        ({"no_profile_fallback_db": 300}, "0-255 dB"),
        ({"plausible_attenuation_db": (50, 10)}, "plausible attenuation"),
    ],
)
def test_bad_field_settings_are_refused_by_name(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        SlacConfig(**kwargs)  # type: ignore[arg-type]


def test_reset_instead_of_fail_waits_for_a_new_parm_req_and_matches_it() -> None:
    d = evse(reset_instead_of_fail=True)
    keyed(d)
    d.feed(SlacParmReq(run_id=RUN), 0.05, src=EV_MAC, dst=BCAST)
    d.advance(0.05 + CFG.tt_matching_repetition + 1.0)  # the EV went silent: every attempt timed out
    events = d.take_events()
    assert not any(isinstance(e, MatchingFailed) for e in events)
    (reset,) = [e for e in events if isinstance(e, Noticed)]
    assert reset.step == "CM_SLAC_PARM" and "waiting for a new CM_SLAC_PARM.REQ instead of failing" in reset.text
    assert d.machine.state is State.WAIT_PARM_REQ
    # The car restarts SLAC: a new run is served from the start.
    new_run = bytes.fromhex("0102030405060708")
    d.take()
    d.feed(SlacParmReq(run_id=new_run), 12.0, src=EV_MAC, dst=BCAST)
    (cnf,) = d.take()
    assert isinstance(cnf.msg, SlacParmCnf) and cnf.msg.run_id == new_run
    # Without a new request within TT_EVSE_SLAC_init it fails in the end, as without the setting.


def test_without_reset_instead_of_fail_the_same_silence_fails() -> None:
    d = evse()
    keyed(d)
    d.feed(SlacParmReq(run_id=RUN), 0.05, src=EV_MAC, dst=BCAST)
    d.advance(0.05 + CFG.tt_matching_repetition + 1.0)
    assert any(isinstance(e, MatchingFailed) for e in d.take_events())


def test_the_ar7420_fallback_reports_the_configured_attenuation_for_the_sounds_seen() -> None:
    d = evse(no_profile_fallback_db=30)
    to_sounding(d)
    for i in range(10):
        d.feed(MnbcSoundInd(run_id=RUN, count=9 - i), 0.2 + 0.02 * i, src=EV_MAC, dst=BCAST)
    d.take()
    d.advance(0.1 + 0.6 + 0.001)
    (notice,) = [e for e in d.take_events() if isinstance(e, Noticed)]
    assert notice.step == "CM_ATTEN_PROFILE" and "AR7420" in notice.text and "30 dB" in notice.text
    (ind,) = d.take()
    assert isinstance(ind.msg, AttenCharInd) and ind.msg.num_sounds == 10 and ind.msg.aag == (30,) * 58


def test_without_the_fallback_a_silent_modem_is_named_with_the_remedy() -> None:
    d = evse()
    to_sounding(d)
    d.feed(MnbcSoundInd(run_id=RUN, count=9), 0.2, src=EV_MAC, dst=BCAST)
    d.advance(1.0)
    (failed,) = [e for e in d.take_events() if isinstance(e, AttemptFailed)]
    assert "AR7420" in failed.reason and "no-profile fallback" in failed.reason and "role evse" in failed.reason


def test_implausible_profiles_are_reported_once_and_still_counted() -> None:
    d = evse()
    to_sounding(d)
    for i in range(10):
        sound(d, 0.2 + 0.02 * i, (0,) * 29 + (200,) * 29)
    notices = [e for e in d.take_events() if isinstance(e, Noticed)]
    assert len(notices) == 1 and "implausible attenuation 0-200 dB" in notices[0].text
    ind = [s for s in d.take() if isinstance(s.msg, AttenCharInd)]
    assert len(ind) == 1 and ind[0].msg.num_sounds == 10  # type: ignore[attr-defined]


def test_the_ev_reports_implausible_attenuation_and_goes_on() -> None:
    d = Driver(EvMachine(mac=EV_MAC, config=SlacConfig(), random=counter_random()))
    d.start(0.0)
    (req,) = d.take()
    run = req.msg.run_id  # type: ignore[attr-defined]
    d.feed(SlacParmCnf(forwarding_sta=EV_MAC, run_id=run), 0.01, src=EVSE_MAC)
    d.advance(0.5)
    d.feed(AttenCharInd(source_address=EV_MAC, run_id=run, num_sounds=10, aag=(250,) * 58), 0.6, src=EVSE_MAC)
    (notice,) = [e for e in d.take_events() if isinstance(e, Noticed)]
    assert notice.step == "CM_ATTEN_CHAR" and "250-250 dB" in notice.text
    assert d.machine.state is State.WAIT_MATCH_CNF
