"""The EV side of SLAC matching (ISO 15118-3 clause 9 / Annex A), sans-I/O.

Sequence per attempt: CM_SLAC_PARM.REQ (broadcast, repeated every TT_match_response, C_EV_match_retry
times) -> CM_SLAC_PARM.CNF from an EVSE -> C_EV_start_atten_char_inds x CM_START_ATTEN_CHAR.IND then
NUM_SOUNDS x CM_MNBC_SOUND.IND, TP_EV_batch_msg_interval apart -> CM_ATTEN_CHAR.IND (within
TT_EV_atten_results of the first CM_START_ATTEN_CHAR.IND) answered by CM_ATTEN_CHAR.RSP ->
CM_SLAC_MATCH.REQ (repeated like the PARM request) -> CM_SLAC_MATCH.CNF with NID and NMK ->
CM_SET_KEY.REQ to the local modem -> CM_SET_KEY.CNF -> :class:`~iso15118.slac.events.Matched`.
CM_VALIDATE is optional for the EVSE [V2G3-A09-51] and is not used by this EV.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from iso15118.slac.machine import Role, SlacMachine, State
from iso15118.slac.mme import (
    BROADCAST_MAC,
    AttenCharInd,
    AttenCharRsp,
    EthernetHeader,
    Mme,
    MMType,
    MnbcSoundInd,
    SecurityType,
    SetKeyCnf,
    SlacMatchCnf,
    SlacMatchReq,
    SlacParmCnf,
    SlacParmReq,
    StartAttenCharInd,
)
from iso15118.slac.timers import SlacConfig

__all__ = ["EvMachine"]


class EvMachine(SlacMachine):
    """SLAC for the EV: finds the EVSE on the cable, learns its NMK and NID, and keys the EV's modem."""

    ROLE = Role.EV

    def __init__(
        self, *, mac: bytes, config: SlacConfig | None = None, random: Callable[[int], bytes] = os.urandom
    ) -> None:
        super().__init__(mac=mac, config=config, random=random)
        self._evse_mac = b""
        self._batch: list[Mme] = []
        self._sound_times: list[float] = []
        self._atten_deadline = 0.0
        self._attenuation = 0.0
        self._num_sounds = 0
        self._nid = self._nmk = b""

    def _on_start(self, now: float) -> None:
        self._begin_attempt(now)

    def _restart(self, now: float) -> None:
        # [V2G3-A09-124] wait TT_matching_rate before the next attempt.
        self._goto(State.PAUSE, now + self.config.tt_matching_rate)

    def _begin_attempt(self, now: float) -> None:
        self._attempt += 1
        self._run_id = self._random(8)
        self._evse_mac = b""
        self._batch = []
        self._sound_times = []
        self._tries = 0
        self._send_parm_req(now)

    def _send_parm_req(self, now: float) -> None:
        self._send(SlacParmReq(run_id=self._run_id), BROADCAST_MAC, now)
        self._goto(State.WAIT_PARM_CNF, now + self.config.tt_match_response)

    def _on_pause_over(self, now: float) -> None:
        self._begin_attempt(now)

    def _on_parm_timeout(self, now: float) -> None:
        if self._retry():
            self._send_parm_req(now)
            return
        self._fail_attempt(
            now, "CM_SLAC_PARM", f"no CM_SLAC_PARM.CNF within TT_match_response after {self._tries + 1} requests"
        )

    def _on_parm_cnf(self, header: EthernetHeader, msg: SlacParmCnf, now: float) -> None:
        if not self._of_this_run(msg, now):
            return
        if msg.application_type != 0 or msg.security_type != SecurityType.NONE:
            self._ignore(now, msg, "only APPLICATION_TYPE 0 with SECURITY_TYPE 0 is supported")
            return
        if msg.num_sounds == 0 or msg.time_out == 0:
            self._ignore(now, msg, "NUM_SOUNDS and Time_Out must not be 0")
            return
        self._received(msg, now)
        self._evse_mac = header.src
        start = StartAttenCharInd(
            forwarding_sta=self.mac,
            run_id=self._run_id,
            num_sounds=msg.num_sounds,
            time_out=msg.time_out,
            resp_type=msg.resp_type,
        )
        self._batch = [start] * self.config.c_ev_start_atten_char_inds + [
            MnbcSoundInd(run_id=self._run_id, count=msg.num_sounds - 1 - i, random=self._random(16))
            for i in range(msg.num_sounds)
        ]
        # [V2G3-A09-30] TT_EV_atten_results runs from the first CM_START_ATTEN_CHAR.IND.
        self._atten_deadline = now + self.config.tt_ev_atten_results
        self._state = State.SOUNDING
        self._send_batch_frame(now)

    def _send_batch_frame(self, now: float) -> None:
        msg = self._batch.pop(0)
        self._send(msg, BROADCAST_MAC, now)
        if isinstance(msg, MnbcSoundInd):
            self._sound_times.append(now)
        if self._batch:
            # TP_EV_batch_msg_interval between consecutive frames, measured from the actual send.
            next_frame = now + self.config.tp_ev_batch_msg_interval
            self._goto(State.SOUNDING, min(next_frame, self._atten_deadline))
        else:
            self._goto(State.WAIT_ATTEN_CHAR, self._atten_deadline)

    def _on_sounding_timer(self, now: float) -> None:
        if now >= self._atten_deadline:
            self._on_atten_timeout(now)
        else:
            self._send_batch_frame(now)

    def _on_atten_timeout(self, now: float) -> None:
        self._fail_attempt(
            now,
            "CM_ATTEN_CHAR",
            f"no CM_ATTEN_CHAR.IND within TT_EV_atten_results ({self.config.tt_ev_atten_results:g} s)",
        )

    def _check_atten_char(self, header: EthernetHeader, msg: AttenCharInd, now: float) -> bool:
        if not self._of_this_run(msg, now):
            return False
        if header.src != self._evse_mac:
            self._ignore(now, msg, "sent by another EVSE than the one that confirmed CM_SLAC_PARM")
        elif msg.source_address != self.mac:
            self._ignore(now, msg, "SOURCE_ADDRESS is not this EV's MAC")
        elif not msg.aag:
            self._ignore(now, msg, "it carries no attenuation groups")
        else:
            return True
        return False

    def _on_atten_char(self, header: EthernetHeader, msg: AttenCharInd, now: float) -> None:
        if not self._check_atten_char(header, msg, now):
            return
        self._received(msg, now)
        self._batch = []  # the EVSE has its result: no more sounds
        self._attenuation = sum(msg.aag) / len(msg.aag)
        self._num_sounds = msg.num_sounds
        low, high = self.config.plausible_attenuation_db
        if any(not low <= v <= high for v in msg.aag):
            self._notice(
                now,
                "CM_ATTEN_CHAR",
                f"implausible attenuation {min(msg.aag)}-{max(msg.aag)} dB from the EVSE (plausible: {low}-{high} dB)",
            )
        limit = self.config.attenuation_threshold_db
        if limit is not None and self._attenuation > limit:
            reason = f"average attenuation {self._attenuation:.1f} dB is above the {limit:g} dB threshold"
            self._fail_attempt(now, "CM_ATTEN_CHAR", reason)
            return
        self._send(AttenCharRsp(source_address=self.mac, run_id=self._run_id), self._evse_mac, now)
        self._tries = 0
        self._send_match_req(now)

    def _on_atten_char_repeat(self, header: EthernetHeader, msg: AttenCharInd, now: float) -> None:
        # The EVSE repeats CM_ATTEN_CHAR.IND when our RSP was lost: answer again, keep waiting.
        if self._check_atten_char(header, msg, now):
            self._received(msg, now)
            self._send(AttenCharRsp(source_address=self.mac, run_id=self._run_id), self._evse_mac, now)

    def _send_match_req(self, now: float) -> None:
        req = SlacMatchReq(pev_mac=self.mac, evse_mac=self._evse_mac, run_id=self._run_id, pev_id=self.config.pev_id)
        self._send(req, self._evse_mac, now)
        self._goto(State.WAIT_MATCH_CNF, now + self.config.tt_match_response)

    def _on_match_timeout(self, now: float) -> None:
        if self._retry():
            self._send_match_req(now)
            return
        self._fail_attempt(
            now, "CM_SLAC_MATCH", f"no CM_SLAC_MATCH.CNF within TT_match_response after {self._tries + 1} requests"
        )

    def _on_match_cnf(self, header: EthernetHeader, msg: SlacMatchCnf, now: float) -> None:
        if not self._of_this_run(msg, now):
            return
        if header.src != self._evse_mac or msg.pev_mac != self.mac:
            self._ignore(now, msg, "it is not from the matched EVSE or not for this EV")
            return
        self._received(msg, now)
        self._nid, self._nmk = msg.nid, msg.nmk
        self._tries = 0
        self._send_set_key(now)

    def _network_key(self) -> tuple[bytes, bytes]:
        return self._nid, self._nmk

    def _on_set_key_cnf(self, header: EthernetHeader, msg: SetKeyCnf, now: float) -> None:
        self._received(msg, now)
        self._match(
            now,
            peer_mac=self._evse_mac,
            attenuation_db=self._attenuation,
            num_sounds=self._num_sounds,
            sound_times=self._sound_times,
            key_result=msg.result,
        )


_M = EvMachine
EvMachine._FRAMES = {
    (State.WAIT_PARM_CNF, MMType.CM_SLAC_PARM_CNF): _M._on_parm_cnf,
    (State.SOUNDING, MMType.CM_ATTEN_CHAR_IND): _M._on_atten_char,
    (State.WAIT_ATTEN_CHAR, MMType.CM_ATTEN_CHAR_IND): _M._on_atten_char,
    (State.WAIT_MATCH_CNF, MMType.CM_ATTEN_CHAR_IND): _M._on_atten_char_repeat,
    (State.WAIT_MATCH_CNF, MMType.CM_SLAC_MATCH_CNF): _M._on_match_cnf,
    (State.WAIT_SET_KEY_CNF, MMType.CM_SET_KEY_CNF): _M._on_set_key_cnf,
}
EvMachine._TIMERS = {
    State.PAUSE: _M._on_pause_over,
    State.WAIT_PARM_CNF: _M._on_parm_timeout,
    State.SOUNDING: _M._on_sounding_timer,
    State.WAIT_ATTEN_CHAR: _M._on_atten_timeout,
    State.WAIT_MATCH_CNF: _M._on_match_timeout,
    State.WAIT_SET_KEY_CNF: _M._on_set_key_timeout,
}
