"""EV and EVSE machines against each other over the modem stand-in, in virtual time, with injected faults."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iso15118.slac.ev import EvMachine
from iso15118.slac.events import AttemptFailed, FrameIgnored, Matched, MatchingFailed
from iso15118.slac.evse import EvseMachine
from iso15118.slac.machine import State
from iso15118.slac.mme import MMType, pack_frame, unpack_frame
from iso15118.slac.modem import ModemStandIn
from iso15118.slac.timers import SlacConfig

from .helpers import EV_MAC, EVSE_MAC, counter_random
from .sim import make_link
from .strategies import any_message

CFG = SlacConfig()


def mmtype(frame: bytes) -> int:
    return int.from_bytes(frame[15:17], "little")


def drop_nth(kind: MMType, n: int = 1):  # type: ignore[no-untyped-def]
    """A tamper function dropping the n-th frame of one type."""
    seen = itertools.count(1)

    def tamper(direction: str, frame: bytes) -> bytes | None:
        if mmtype(frame) == kind and next(seen) == n:
            return None
        return frame

    return tamper


def matched(events: list[object]) -> Matched:
    (event,) = [e for e in events if isinstance(e, Matched)]
    return event


def test_ev_and_evse_match_and_agree_on_the_network() -> None:
    link = make_link()
    link.start(evse_at=0.0, ev_at=0.5)
    link.run(30.0)
    ev, evse = matched(link.ev_events), matched(link.evse_events)
    assert (ev.nid, ev.nmk, ev.run_id) == (evse.nid, evse.nmk, evse.run_id)
    assert ev.peer_mac == EVSE_MAC and evse.peer_mac == EV_MAC
    assert ev.attempts == evse.attempts == 1 and ev.num_sounds == evse.num_sounds == CFG.c_ev_match_mnbc
    assert 20 <= ev.attenuation_db <= 27 and ev.attenuation_db == evse.attenuation_db
    assert ev.at - 0.5 < 0.5
    # Every sound reached the EVSE inside its sounding window.
    assert evse.sounding_window is not None
    start, end = evse.sounding_window
    assert len(evse.sound_times) == CFG.c_ev_match_mnbc
    assert all(start < t < end for t in evse.sound_times)
    # Both modems were keyed with the same network key.
    assert [(k.port, k.nmk) for k in link.modem.keys] == [("evse", evse.nmk), ("ev", ev.nmk)]
    assert link.modem.sounds_seen == link.modem.profiles_sent == CFG.c_ev_match_mnbc
    assert not [e for e in link.ev_events + link.evse_events if isinstance(e, FrameIgnored | AttemptFailed)]


def test_ev_sounds_are_spaced_by_tp_ev_batch_msg_interval() -> None:
    link = make_link()
    link.start()
    link.run(30.0)
    batch = [t for t, d, f in link.wire if d == "ev->" and mmtype(f) in (0x606A, 0x6076)]
    assert len(batch) == CFG.c_ev_start_atten_char_inds + CFG.c_ev_match_mnbc
    assert all(0.02 - 1e-9 <= b - a <= 0.05 for a, b in itertools.pairwise(batch))


def test_an_early_ev_retries_until_the_evse_is_ready() -> None:
    link = make_link()
    link.start(ev_at=0.0, evse_at=2.5)
    link.run(30.0)
    ev = matched(link.ev_events)
    assert ev.attempts >= 3
    assert sum(isinstance(e, AttemptFailed) for e in link.ev_events) == ev.attempts - 1
    assert matched(link.evse_events).attempts == 1


@pytest.mark.parametrize(
    ("kind", "ev_attempts"),
    [
        (MMType.CM_SLAC_PARM_CNF, 1),  # EV repeats CM_SLAC_PARM.REQ
        (MMType.CM_ATTEN_CHAR_RSP, 1),  # EVSE repeats CM_ATTEN_CHAR.IND, the EV answers again
        (MMType.CM_SLAC_MATCH_CNF, 1),  # EV repeats CM_SLAC_MATCH.REQ, the matched EVSE confirms again
        (MMType.CM_SLAC_MATCH_REQ, 1),  # EV repeats CM_SLAC_MATCH.REQ
        (MMType.CM_ATTEN_CHAR_IND, 1),  # EVSE repeats it before the EV's TT_EV_atten_results ends
    ],
)
def test_one_lost_frame_is_recovered_by_the_retry_rules(kind: MMType, ev_attempts: int) -> None:
    link = make_link(tamper=drop_nth(kind))
    link.start()
    link.run(30.0)
    ev, evse = matched(link.ev_events), matched(link.evse_events)
    assert ev.attempts == ev_attempts and (ev.nmk, ev.nid) == (evse.nmk, evse.nid)


def test_a_corrupted_frame_is_ignored_with_its_offset_and_matching_recovers() -> None:
    hits = itertools.count()

    def corrupt_first_parm_cnf(direction: str, frame: bytes) -> bytes | None:
        if mmtype(frame) == MMType.CM_SLAC_PARM_CNF and next(hits) == 0:
            return frame[:15] + b"\x99\x99" + frame[17:]
        return frame

    link = make_link(tamper=corrupt_first_parm_cnf)
    link.start()
    link.run(30.0)
    (ignored,) = [e for e in link.ev_events if isinstance(e, FrameIgnored)]
    assert ignored.offset == 15 and "MMTYPE 0x9999" in ignored.reason
    assert matched(link.ev_events).attempts == 1


def test_without_attenuation_profiles_both_sides_restart_and_finally_fail() -> None:
    # A link whose modem never reports sounds: every attempt fails at the EVSE's sounding window.
    link = make_link(tamper=lambda d, f: None if mmtype(f) == MMType.CM_ATTEN_PROFILE_IND else f)
    link.modem = ModemStandIn(["ev", "evse"])
    real_receive = link.modem.receive
    link.modem.receive = lambda port, frame, now: [  # type: ignore[method-assign]
        (p, f) for p, f in real_receive(port, frame, now) if mmtype(f) != MMType.CM_ATTEN_PROFILE_IND
    ]
    link.start()
    link.run(60.0)
    for events in (link.ev_events, link.evse_events):
        final = events[-1]
        assert isinstance(final, MatchingFailed) and "TT_matching_repetition" in final.reason
        assert final.attempts > 1
    assert any(e.step == "CM_ATTEN_PROFILE" for e in link.evse_events if isinstance(e, AttemptFailed))
    assert any(e.step == "CM_ATTEN_CHAR" for e in link.ev_events if isinstance(e, AttemptFailed))
    assert link.ev.state is State.FAILED and link.evse.state is State.FAILED
    assert max(link.ev_events[-1].at, link.evse_events[-1].at) < CFG.tt_matching_repetition + 1


@settings(max_examples=120)
@given(st.sets(st.integers(0, 80), max_size=12), st.floats(0.0, 3.0))
def test_random_frame_loss_never_breaks_the_machines(lost: set[int], ev_delay: float) -> None:
    counter = itertools.count()

    def tamper(direction: str, frame: bytes) -> bytes | None:
        return None if next(counter) in lost else frame

    link = make_link(tamper=tamper)
    link.start(ev_at=ev_delay)
    link.run(40.0)
    for machine in (link.ev, link.evse):
        assert machine.finished
        assert machine.next_deadline() is None
    ev_done = [e for e in link.ev_events if isinstance(e, Matched | MatchingFailed)]
    assert len(ev_done) == 1
    if isinstance(ev_done[0], Matched):
        assert link.ev.state is State.MATCHED
        evse = [e for e in link.evse_events if isinstance(e, Matched)]
        # An EV that matched got its key from the EVSE, which then matched too.
        assert len(evse) == 1 and (evse[0].nmk, evse[0].nid) == (ev_done[0].nmk, ev_done[0].nid)


@settings(max_examples=150)
@given(
    st.integers(0, 60), any_message, st.sampled_from([EV_MAC, EVSE_MAC, b"\xff" * 6]), st.sampled_from(["ev", "evse"])
)
def test_any_frame_in_any_state_is_handled_without_exceptions(
    prefix: int, msg: object, dst: bytes, target: str
) -> None:
    # Drive a normal run for `prefix` wire frames, then throw an arbitrary well-formed MME at one side.
    link = make_link()
    link.start()
    for _ in range(500):
        if len(link.wire) >= prefix or (link.ev.finished and link.evse.finished):
            break
        link.run(link.now + 0.01)
    machine = link.ev if target == "ev" else link.evse
    state = machine.state
    machine.receive_frame(pack_frame(msg, bytes.fromhex("02000000ee03"), dst), link.now)  # type: ignore[arg-type]
    events = machine.events()
    for frame in machine.frames_to_send():
        unpack_frame(frame)  # whatever it answers is a valid frame
    assert all(isinstance(e, FrameIgnored | Matched | AttemptFailed | MatchingFailed) for e in events)
    assert machine.state in State
    if state in (State.MATCHED, State.FAILED):
        assert machine.state is state


def test_machines_built_with_defaults_use_os_randomness() -> None:
    a, b = EvMachine(mac=EV_MAC), EvMachine(mac=EV_MAC)
    a.start(0.0)
    b.start(0.0)
    ra, rb = (unpack_frame(m.frames_to_send()[0])[1] for m in (a, b))
    assert ra.run_id != rb.run_id  # type: ignore[attr-defined]
    assert EvseMachine(mac=EVSE_MAC).nmk != EvseMachine(mac=EVSE_MAC).nmk
    assert EvMachine(mac=EV_MAC, random=counter_random()).config == CFG
