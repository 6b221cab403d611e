"""SLAC timing and retry parameters (ISO 15118-3 Table A.1) and the configuration of a matching run.

The constants keep Table A.1's names; values are the ones the independent implementations use (seconds).
:class:`SlacConfig` carries them into the state machines, so tests and the harness can shorten or stretch a
timer without touching the protocol code; its checks reject values outside the standard's ranges.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from iso15118.errors import ConfigError

__all__ = [
    "C_EV_MATCH_MNBC",
    "C_EV_MATCH_RETRY",
    "C_EV_START_ATTEN_CHAR_INDS",
    "C_SEQU_RETRY",
    "TP_EV_BATCH_MSG_INTERVAL",
    "TT_EVSE_MATCH_MNBC",
    "TT_EVSE_MATCH_SESSION",
    "TT_EVSE_SLAC_INIT",
    "TT_EV_ATTEN_RESULTS",
    "TT_MATCHING_RATE",
    "TT_MATCHING_REPETITION",
    "TT_MATCH_JOIN",
    "TT_MATCH_RESPONSE",
    "TT_MATCH_SEQUENCE",
    "T_STEP_EF",
    "SlacConfig",
]

#: EVSE: wait for the first CM_SLAC_PARM.REQ (20-50 s).
TT_EVSE_SLAC_INIT: Final = 50.0
#: EVSE: wait from CM_SLAC_PARM.CNF to CM_START_ATTEN_CHAR.IND.
TT_MATCH_SEQUENCE: Final = 0.4
#: EV: wait for a confirmation (CM_SLAC_PARM.CNF, CM_SLAC_MATCH.CNF) before repeating the request.
TT_MATCH_RESPONSE: Final = 0.2
#: EVSE: the sounding window after CM_START_ATTEN_CHAR.IND (sent as Time_Out = 6, units of 100 ms).
TT_EVSE_MATCH_MNBC: Final = 0.6
#: EV: wait for CM_ATTEN_CHAR.IND after the first CM_START_ATTEN_CHAR.IND (at most 1200 ms).
TT_EV_ATTEN_RESULTS: Final = 1.2
#: EV: gap between consecutive CM_START_ATTEN_CHAR.IND / CM_MNBC_SOUND.IND frames (20-50 ms).
TP_EV_BATCH_MSG_INTERVAL: Final = 0.02
#: EVSE: wait for CM_SLAC_MATCH.REQ (or CM_VALIDATE.REQ) after CM_ATTEN_CHAR.RSP.
TT_EVSE_MATCH_SESSION: Final = 10.0
#: Overall window within which failed matching attempts are retried.
TT_MATCHING_REPETITION: Final = 10.0
#: Pause after a failed attempt before the next one.
TT_MATCHING_RATE: Final = 0.4
#: After CM_SLAC_MATCH.CNF until the AVLN is up (informational: the link layer below us forms it).
TT_MATCH_JOIN: Final = 12.0
#: Number of sounds the EVSE asks for in CM_SLAC_PARM.CNF.
C_EV_MATCH_MNBC: Final = 10
#: How often the EV sends CM_START_ATTEN_CHAR.IND.
C_EV_START_ATTEN_CHAR_INDS: Final = 3
#: How often a request is repeated after TT_match_response expired without a confirmation.
C_EV_MATCH_RETRY: Final = 2
#: AC 5 % mode: how often the EVSE restarts matching with a CP state E/F pulse after a failed match.
C_SEQU_RETRY: Final = 2
#: AC 5 % mode: how long the CP stays in state E/F to restart matching (at least 4 s).
T_STEP_EF: Final = 4.0


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise ConfigError(f"SLAC configuration: {what}")


@dataclass(frozen=True, slots=True, kw_only=True)
class SlacConfig:
    """Everything a SLAC state machine needs besides its own MAC address and the clock.

    Timers are in seconds and named after Table A.1. ``set_key_timeout`` (how long to wait for the local
    modem's CM_SET_KEY.CNF) and ``settle_time`` (pause after it, Qualcomm's reference waits 10 s) are not
    ISO timers. ``nmk`` fixes the EVSE's network key (random per session when None);
    ``attenuation_threshold_db`` makes the EV refuse an EVSE whose average attenuation is higher.

    Field settings (EVerest's EvseSlac options, which exist because of real cars and modems); each default
    is the standard's behaviour:

    - ``modem_wait``: the EVSE repeats CM_SET_KEY.REQ every ``set_key_timeout`` until its modem answers, for
      at most this many seconds (None: as long as it takes -- a modem that boots late is waited for); the EV
      repeats it ``c_ev_match_retry`` times;
    - ``reset_instead_of_fail``: when TT_matching_repetition is used up, the EVSE waits for a new
      CM_SLAC_PARM.REQ (TT_EVSE_SLAC_init again) instead of failing, because some cars restart at once;
    - ``sequence_retries`` / ``t_step_ef``: AC 5 % mode retries (C_sequ_retry, T_step_EF): after a failed
      match the EVSE pulses the CP to E/F and matches again (0: off; EVerest recommends it for DC as well);
    - ``chip_reset``: reset the modem (VS_RS_DEV) before matching again after an unplug or a failed match;
    - ``link_status_check``: after a match, wait up to TT_match_join for the modem to report the link up;
    - ``no_profile_fallback_db``: the "AR7420" fallback -- an EVSE modem that never produces
      CM_ATTEN_PROFILE.IND makes the EVSE report this attenuation for the sounds it saw (None: fail instead);
    - ``plausible_attenuation_db``: values outside are reported (a Noticed event), never waited on.
    """

    tt_evse_slac_init: float = TT_EVSE_SLAC_INIT
    tt_match_sequence: float = TT_MATCH_SEQUENCE
    tt_match_response: float = TT_MATCH_RESPONSE
    tt_evse_match_mnbc: float = TT_EVSE_MATCH_MNBC
    tt_ev_atten_results: float = TT_EV_ATTEN_RESULTS
    tp_ev_batch_msg_interval: float = TP_EV_BATCH_MSG_INTERVAL
    tt_evse_match_session: float = TT_EVSE_MATCH_SESSION
    tt_matching_repetition: float = TT_MATCHING_REPETITION
    tt_matching_rate: float = TT_MATCHING_RATE
    c_ev_match_mnbc: int = C_EV_MATCH_MNBC
    c_ev_start_atten_char_inds: int = C_EV_START_ATTEN_CHAR_INDS
    c_ev_match_retry: int = C_EV_MATCH_RETRY
    set_key_timeout: float = 1.0
    settle_time: float = 0.0
    nmk: bytes | None = None
    pev_id: bytes = b"\x00" * 17
    evse_id: bytes = b"\x00" * 17
    attenuation_threshold_db: float | None = None
    modem_wait: float | None = None
    reset_instead_of_fail: bool = False
    sequence_retries: int = 0
    t_step_ef: float = T_STEP_EF
    chip_reset: bool = False
    link_status_check: bool = False
    tt_match_join: float = TT_MATCH_JOIN
    no_profile_fallback_db: int | None = None
    plausible_attenuation_db: tuple[int, int] = (1, 90)

    def __post_init__(self) -> None:
        _check(0.02 <= self.tp_ev_batch_msg_interval <= 0.05, "TP_EV_batch_msg_interval must be 20-50 ms")
        _check(
            0.1 <= self.tt_evse_match_mnbc <= 25.5 and round(self.tt_evse_match_mnbc * 10, 6).is_integer(),
            "TT_EVSE_match_MNBC is sent in units of 100 ms (0.1-25.5 s)",
        )
        _check(self.tt_ev_atten_results > 0, "TT_EV_atten_results must be positive")
        _check(1 <= self.c_ev_match_mnbc <= 255, "C_EV_match_MNBC (NUM_SOUNDS) must be 1-255")
        _check(1 <= self.c_ev_start_atten_char_inds <= 255, "C_EV_start_atten_char_inds must be 1-255")
        _check(self.c_ev_match_retry >= 0, "C_EV_match_retry must not be negative")
        for name in (
            "tt_evse_slac_init",
            "tt_match_sequence",
            "tt_match_response",
            "tt_evse_match_session",
            "tt_matching_repetition",
            "set_key_timeout",
        ):
            _check(getattr(self, name) > 0, f"{name} must be positive")
        _check(self.tt_matching_rate >= 0 and self.settle_time >= 0, "pauses must not be negative")
        _check(self.nmk is None or len(self.nmk) == 16, "an NMK has 16 bytes")
        _check(len(self.pev_id) == 17 and len(self.evse_id) == 17, "PEV_ID and EVSE_ID have 17 bytes")
        _check(self.modem_wait is None or self.modem_wait > 0, "modem_wait must be positive (or None: no limit)")
        _check(self.sequence_retries >= 0, "sequence_retries (C_sequ_retry) must not be negative")
        _check(self.t_step_ef >= T_STEP_EF, "T_step_EF is at least 4 s")
        _check(self.tt_match_join > 0, "TT_match_join must be positive")
        _check(
            self.no_profile_fallback_db is None or 0 <= self.no_profile_fallback_db <= 255,
            "the no-profile fallback attenuation is 0-255 dB",
        )
        low, high = self.plausible_attenuation_db
        _check(0 <= low <= high <= 255, "the plausible attenuation range lies within 0-255 dB")

    @property
    def time_out_units(self) -> int:
        """TT_EVSE_match_MNBC as the Time_Out field of CM_SLAC_PARM.CNF (units of 100 ms)."""
        return round(self.tt_evse_match_mnbc * 10)
