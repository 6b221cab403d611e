"""The EVSE side of SLAC matching (ISO 15118-3 clause 9 / Annex A), sans-I/O.

On start the EVSE keys its own modem with the session's NMK (CM_SET_KEY.REQ to the local modem address,
as pyslac and EVerest do), optionally waits a settle time, then serves matching attempts: CM_SLAC_PARM.REQ
(within TT_EVSE_SLAC_init) -> CM_SLAC_PARM.CNF -> CM_START_ATTEN_CHAR.IND (within TT_match_sequence) ->
the sounding window TT_EVSE_match_MNBC, in which the EVSE's modem reports one CM_ATTEN_PROFILE.IND per
CM_MNBC_SOUND.IND -> CM_ATTEN_CHAR.IND with the averaged attenuation -> CM_ATTEN_CHAR.RSP -> optional
CM_VALIDATE (answered "not required") -> CM_SLAC_MATCH.REQ (within TT_EVSE_match_session) ->
CM_SLAC_MATCH.CNF carrying NID and NMK -> :class:`~iso15118.slac.events.Matched`.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from iso15118.slac.keys import nid_from_nmk
from iso15118.slac.machine import Role, SlacMachine, State
from iso15118.slac.mme import (
    AttenCharInd,
    AttenCharRsp,
    AttenProfileInd,
    EthernetHeader,
    MMType,
    MnbcSoundInd,
    ResponseType,
    SecurityType,
    SetKeyCnf,
    SlacMatchCnf,
    SlacMatchReq,
    SlacParmCnf,
    SlacParmReq,
    StartAttenCharInd,
    ValidateCnf,
    ValidateReq,
    ValidateResult,
)
from iso15118.slac.modem import NUM_GROUPS
from iso15118.slac.timers import SlacConfig

__all__ = ["EvseMachine"]

#: States in which a new CM_SLAC_PARM.REQ of the same EV restarts matching (some EVs restart at once).
_RESTARTABLE = (State.WAIT_START_ATTEN_CHAR, State.SOUNDING, State.WAIT_ATTEN_CHAR_RSP, State.WAIT_MATCH_REQ)


class EvseMachine(SlacMachine):
    """SLAC for the EVSE: answers one EV's matching request and hands it the network's NMK and NID."""

    ROLE = Role.EVSE

    def __init__(
        self, *, mac: bytes, config: SlacConfig | None = None, random: Callable[[int], bytes] = os.urandom
    ) -> None:
        super().__init__(mac=mac, config=config, random=random)
        self.nmk = self.config.nmk or self._random(16)
        self.nid = nid_from_nmk(self.nmk)
        self._key_result: int | None = None
        self._ev_mac = b""
        self._expected_sounds = 0
        self._window: tuple[float, float] | None = None
        self._sound_times: list[float] = []
        self._aag_sum: list[int] = []
        self._profiles = 0
        self._aag: tuple[int, ...] = ()
        self._initial_wait = True
        self._implausible = False

    # --- keying the local modem ------------------------------------------------------------------------

    def _on_start(self, now: float) -> None:
        self._send_set_key(now)

    def _network_key(self) -> tuple[bytes, bytes]:
        return self.nid, self.nmk

    def _on_set_key_timeout(self, now: float) -> None:
        # A charger's modem may boot after the charger's software: wait for it (modem_wait bounds the wait).
        wait = self.config.modem_wait
        if wait is None or now - self._key_started + self.config.set_key_timeout <= wait:
            if self._tries == 0:
                limit = "no limit" if wait is None else f"at most {wait:g} s"
                self._notice(
                    now, "CM_SET_KEY", f"the local modem has not answered CM_SET_KEY.REQ yet; waiting ({limit})"
                )
            self._tries += 1
            self._send_set_key(now)
            return
        self._fail(
            now,
            "CM_SET_KEY",
            f"the local modem did not answer CM_SET_KEY.REQ within {wait:g} s ({self._tries + 1} requests): "
            "is it powered and connected, and is it a Qualcomm-compatible Green PHY modem?",
        )

    def _exhausted(self, now: float, step: str, reason: str) -> None:
        if not self.config.reset_instead_of_fail:
            self._fail(now, step, reason)
            return
        # EVerest's reset_instead_of_fail: some cars restart SLAC at once, so wait for them again.
        self._notice(now, step, f"{reason}; waiting for a new CM_SLAC_PARM.REQ instead of failing")
        self._initial_wait = True
        self._window_start = None
        self._wait_parm(now)

    def _on_set_key_cnf(self, header: EthernetHeader, msg: SetKeyCnf, now: float) -> None:
        # pyslac's lesson: some QCA firmware reports success as failure, so Result is recorded, not judged.
        self._received(msg, now)
        self._key_result = msg.result
        if self.config.settle_time > 0:
            self._goto(State.SETTLE, now + self.config.settle_time)
        else:
            self._wait_parm(now)

    def _wait_parm(self, now: float) -> None:
        self._tries = 0
        if self._initial_wait:
            self._goto(State.WAIT_PARM_REQ, now + self.config.tt_evse_slac_init)
        else:
            start = now if self._window_start is None else self._window_start
            self._goto(State.WAIT_PARM_REQ, max(now, start + self.config.tt_matching_repetition))

    def _restart(self, now: float) -> None:
        self._wait_parm(now)

    def _on_parm_wait_over(self, now: float) -> None:
        if self._initial_wait:
            self._fail(
                now,
                "CM_SLAC_PARM",
                f"no CM_SLAC_PARM.REQ within TT_EVSE_SLAC_init ({self.config.tt_evse_slac_init:g} s)",
            )
        else:
            window = self.config.tt_matching_repetition
            self._exhausted(
                now,
                "CM_SLAC_PARM",
                f"no new CM_SLAC_PARM.REQ within TT_matching_repetition ({window:g} s) after a failed attempt",
            )

    # --- matching --------------------------------------------------------------------------------------

    def _on_parm_req(self, header: EthernetHeader, msg: SlacParmReq, now: float) -> None:
        if self._state in _RESTARTABLE and header.src != self._ev_mac:
            self._ignore(now, msg, "matching with another EV is in progress")
            return
        if msg.application_type != 0 or msg.security_type != SecurityType.NONE:
            self._ignore(now, msg, "only APPLICATION_TYPE 0 with SECURITY_TYPE 0 is supported")
            return
        self._received(msg, now)
        if self._initial_wait:
            self._initial_wait = False
            self._window_start = now
        self._attempt += 1
        self._ev_mac, self._run_id = header.src, msg.run_id
        cnf = SlacParmCnf(
            forwarding_sta=self._ev_mac,
            run_id=self._run_id,
            num_sounds=self.config.c_ev_match_mnbc,
            time_out=self.config.time_out_units,
        )
        self._send(cnf, self._ev_mac, now)
        self._goto(State.WAIT_START_ATTEN_CHAR, now + self.config.tt_match_sequence)

    def _on_start_timeout(self, now: float) -> None:
        self._fail_attempt(
            now,
            "CM_START_ATTEN_CHAR",
            f"no CM_START_ATTEN_CHAR.IND within TT_match_sequence ({self.config.tt_match_sequence:g} s)",
        )

    def _is_this_run(
        self, header: EthernetHeader, msg: StartAttenCharInd | MnbcSoundInd | AttenCharRsp | SlacMatchReq, now: float
    ) -> bool:
        if header.src != self._ev_mac:
            self._ignore(now, msg, "sent by another station than the matching EV")
            return False
        return self._of_this_run(msg, now)

    def _on_start_atten_char(self, header: EthernetHeader, msg: StartAttenCharInd, now: float) -> None:
        if not self._is_this_run(header, msg, now):
            return
        if msg.resp_type != ResponseType.OTHER_GP_STATION:
            self._ignore(now, msg, "RESP_TYPE must be 1 (other GP station)")
            return
        if msg.num_sounds == 0 or msg.time_out == 0:
            self._ignore(now, msg, "NUM_SOUNDS and Time_Out must not be 0")
            return
        self._received(msg, now)
        self._expected_sounds = msg.num_sounds
        # TT_EVSE_match_MNBC: the EV repeats the Time_Out of our CM_SLAC_PARM.CNF (units of 100 ms).
        self._window = (now, now + msg.time_out / 10)
        self._sound_times, self._aag_sum, self._profiles = [], [], 0
        self._implausible = False
        self._goto(State.SOUNDING, self._window[1])

    def _on_start_repeat(self, header: EthernetHeader, msg: StartAttenCharInd, now: float) -> None:
        if self._is_this_run(header, msg, now):
            self._received(msg, now)  # C_EV_start_atten_char_inds repetitions of the same run

    def _on_sound(self, header: EthernetHeader, msg: MnbcSoundInd, now: float) -> None:
        if self._is_this_run(header, msg, now):
            self._received(msg, now)
            self._sound_times.append(now)

    def _on_profile(self, header: EthernetHeader, msg: AttenProfileInd, now: float) -> None:
        if msg.pev_mac != self._ev_mac:
            self._ignore(now, msg, "PEV_MAC is not the matching EV")
            return
        if not msg.aag or (self._aag_sum and len(msg.aag) != len(self._aag_sum)):
            self._ignore(now, msg, "NumGroups is 0 or differs from the earlier profiles")
            return
        self._received(msg, now)
        low, high = self.config.plausible_attenuation_db
        if not self._implausible and any(not low <= v <= high for v in msg.aag):
            # pyPLC saw such values stall SLAC: report them, keep counting.
            self._implausible = True
            self._notice(
                now,
                "CM_ATTEN_PROFILE",
                f"implausible attenuation {min(msg.aag)}-{max(msg.aag)} dB (plausible: {low}-{high} dB), counted",
            )
        self._aag_sum = [a + b for a, b in zip(self._aag_sum or [0] * len(msg.aag), msg.aag, strict=True)]
        self._profiles += 1
        if self._profiles >= self._expected_sounds:
            self._finish_sounding(now)

    def _on_window_over(self, now: float) -> None:
        sounds = len(self._sound_times)
        fallback = self.config.no_profile_fallback_db
        if self._profiles == 0 and sounds and fallback is not None:
            # The AR7420 fallback: its modem never measures, so report the configured attenuation per sound seen.
            self._notice(
                now,
                "CM_ATTEN_PROFILE",
                f"no CM_ATTEN_PROFILE.IND for {sounds} sounds (an AR7420 modem?): "
                f"no-profile fallback reports {fallback} dB",
            )
            self._aag_sum, self._profiles = [fallback * sounds] * NUM_GROUPS, sounds
        if self._profiles == 0:
            hint = (
                "the modem measured nothing: an AR7420 never does (enable the no-profile fallback), "
                "and a modem whose PIB is not set to EVSE does not either (v2g modem role evse)"
                if sounds
                else "is a modem or a modem stand-in on the link?"
            )
            self._fail_attempt(
                now,
                "CM_ATTEN_PROFILE",
                f"no CM_ATTEN_PROFILE.IND in the sounding window ({sounds} CM_MNBC_SOUND.IND seen): {hint}",
            )
            return
        self._finish_sounding(now)

    def _finish_sounding(self, now: float) -> None:
        # Average per group over the sounds actually counted, rounding halves up.
        self._aag = tuple(int(total / self._profiles + 0.5) for total in self._aag_sum)
        self._tries = 0
        self._send_atten_char(now)

    def _send_atten_char(self, now: float) -> None:
        ind = AttenCharInd(source_address=self._ev_mac, run_id=self._run_id, num_sounds=self._profiles, aag=self._aag)
        self._send(ind, self._ev_mac, now)
        self._goto(State.WAIT_ATTEN_CHAR_RSP, now + self.config.tt_match_response)

    def _on_atten_rsp_timeout(self, now: float) -> None:
        if self._retry():
            self._send_atten_char(now)
            return
        self._fail_attempt(
            now, "CM_ATTEN_CHAR", f"no CM_ATTEN_CHAR.RSP within TT_match_response after {self._tries + 1} indications"
        )

    def _on_atten_rsp(self, header: EthernetHeader, msg: AttenCharRsp, now: float) -> None:
        if not self._is_this_run(header, msg, now):
            return
        self._received(msg, now)
        if msg.result != 0:
            reason = f"the EV answered CM_ATTEN_CHAR.RSP with Result {msg.result}"
            self._fail_attempt(now, "CM_ATTEN_CHAR", reason)
            return
        self._goto(State.WAIT_MATCH_REQ, now + self.config.tt_evse_match_session)

    def _on_match_timeout(self, now: float) -> None:
        self._fail_attempt(
            now,
            "CM_SLAC_MATCH",
            f"no CM_SLAC_MATCH.REQ within TT_EVSE_match_session ({self.config.tt_evse_match_session:g} s)",
        )

    def _on_validate(self, header: EthernetHeader, msg: ValidateReq, now: float) -> None:
        if header.src != self._ev_mac:
            self._ignore(now, msg, "sent by another station than the matching EV")
            return
        # [V2G3-A09-51] the EVSE may skip validation: this one has no CP toggle detection.
        self._received(msg, now)
        cnf = ValidateCnf(signal_type=msg.signal_type, result=ValidateResult.NOT_REQUIRED)
        self._send(cnf, self._ev_mac, now)
        self._goto(State.WAIT_MATCH_REQ, now + self.config.tt_evse_match_session)

    def _on_match_req(self, header: EthernetHeader, msg: SlacMatchReq, now: float) -> None:
        if not self._is_this_run(header, msg, now):
            return
        if msg.pev_mac != self._ev_mac or msg.evse_mac != self.mac:
            self._ignore(now, msg, "PEV_MAC/EVSE_MAC do not name this EV and this EVSE")
            return
        self._received(msg, now)
        cnf = SlacMatchCnf(
            pev_mac=self._ev_mac,
            evse_mac=self.mac,
            run_id=self._run_id,
            nid=self.nid,
            nmk=self.nmk,
            pev_id=msg.pev_id,
            evse_id=self.config.evse_id,
        )
        self._send(cnf, self._ev_mac, now)
        if self._state is State.MATCHED:
            return  # the EV repeated its request: our confirmation was lost
        self._match(
            now,
            peer_mac=self._ev_mac,
            attenuation_db=sum(self._aag) / len(self._aag),
            num_sounds=self._profiles,
            sound_times=self._sound_times,
            sounding_window=self._window,
            key_result=self._key_result,
        )

    def _on_settled(self, now: float) -> None:
        self._wait_parm(now)


_M = EvseMachine
_QUIET_AFTER_SOUNDING = {  # stragglers of the current run once the window is closed
    (s, t): _M._on_start_repeat if t is MMType.CM_START_ATTEN_CHAR_IND else _M._on_sound
    for s in (State.WAIT_ATTEN_CHAR_RSP, State.WAIT_MATCH_REQ)
    for t in (MMType.CM_START_ATTEN_CHAR_IND, MMType.CM_MNBC_SOUND_IND)
}
EvseMachine._FRAMES = {
    (State.WAIT_SET_KEY_CNF, MMType.CM_SET_KEY_CNF): _M._on_set_key_cnf,
    (State.WAIT_PARM_REQ, MMType.CM_SLAC_PARM_REQ): _M._on_parm_req,
    **{(s, MMType.CM_SLAC_PARM_REQ): _M._on_parm_req for s in _RESTARTABLE},
    (State.WAIT_START_ATTEN_CHAR, MMType.CM_START_ATTEN_CHAR_IND): _M._on_start_atten_char,
    (State.SOUNDING, MMType.CM_START_ATTEN_CHAR_IND): _M._on_start_repeat,
    (State.SOUNDING, MMType.CM_MNBC_SOUND_IND): _M._on_sound,
    (State.SOUNDING, MMType.CM_ATTEN_PROFILE_IND): _M._on_profile,
    **_QUIET_AFTER_SOUNDING,
    (State.WAIT_ATTEN_CHAR_RSP, MMType.CM_ATTEN_CHAR_RSP): _M._on_atten_rsp,
    (State.WAIT_MATCH_REQ, MMType.CM_VALIDATE_REQ): _M._on_validate,
    (State.WAIT_MATCH_REQ, MMType.CM_SLAC_MATCH_REQ): _M._on_match_req,
    (State.MATCHED, MMType.CM_SLAC_MATCH_REQ): _M._on_match_req,
}
EvseMachine._TIMERS = {
    State.WAIT_SET_KEY_CNF: _M._on_set_key_timeout,  # the EVSE's own: it waits for a late modem
    State.SETTLE: _M._on_settled,
    State.WAIT_PARM_REQ: _M._on_parm_wait_over,
    State.WAIT_START_ATTEN_CHAR: _M._on_start_timeout,
    State.SOUNDING: _M._on_window_over,
    State.WAIT_ATTEN_CHAR_RSP: _M._on_atten_rsp_timeout,
    State.WAIT_MATCH_REQ: _M._on_match_timeout,
}
