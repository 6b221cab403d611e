"""The ISO 15118-20 sequence table: common rows, then the rows each energy family adds.

Theory of operation
-------------------
The main stream is a strict request/response exchange. A row says which request may come in a state; the SECC
reads it as "what may I accept", the EVCC as "what may I send" (this module does not know which role it plays).
A pair with no row whose guard holds is a sequence error: the SECC answers FAILED_SequenceError and ends.

The common rows carry the set-up, authorization, service negotiation, PowerDelivery and SessionStop. The AC
rows (guard ``AC``: the session negotiated the -20 AC namespace) add AC_ChargeParameterDiscovery and
AC_ChargeLoop, and send ScheduleExchange on to PowerDelivery; the DC rows (guard ``DC``) add
DC_ChargeParameterDiscovery, DC_CableCheck, DC_PreCharge, DC_ChargeLoop and DC_WeldingDetection, and send
ScheduleExchange on to the cable check. AC_BPT and DC_BPT are the same rows: bidirectional power is a service
and a control-mode element, not another sequence.

Side streams (schedule renegotiation 0x8101, metering confirmation 0x8102) run beside the charge loop with
their own small sequences [V2G20-1040…1050].
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from iso15118.iso20.kinds import Kind
from iso15118.iso20.states import CONDITIONS, ENDED, GUARDS, State
from iso15118.session.profile import ALWAYS, Rule, SideRule, Stream, Table, Transition

__all__ = ["AC_ROWS", "COMMON_ROWS", "DC_ROWS", "SIDE_ROWS", "TABLE"]

_S, _K, _T = State, Kind, Transition
Rows = dict[tuple[StrEnum, StrEnum], tuple[Rule, ...]]


def _go(target: StrEnum | None, requirement: str, condition: str = ALWAYS) -> Transition:
    return _T(condition, target, requirement)


# Session set-up may be stopped from here until PowerDelivery(Start) [V2G20-2645].
_STOPPABLE: Final = (
    _S.WAIT_AUTHORIZATION_SETUP,
    _S.WAIT_AUTHORIZATION,
    _S.WAIT_SERVICE_DISCOVERY,
    _S.WAIT_SERVICE_DETAIL,
    _S.WAIT_SERVICE_SELECTION,
    _S.WAIT_CHARGE_PARAMETER,
    _S.WAIT_SCHEDULE,
    _S.WAIT_CABLE_CHECK,
    _S.WAIT_PRECHARGE,
    _S.WAIT_POWER_DELIVERY,
)

_STOP: Final = (
    _go(_S.WAIT_SERVICE_DISCOVERY, "V2G20-1643", "ServiceRenegotiation"),
    _go(ENDED, "V2G20-1080"),
)
# PowerDelivery: Ongoing repeats it [V2G20-1436]; Stop ends the loop [V2G20-1623]; Start/Standby loop.
_POWER_DELIVERY: Final = (
    _go(None, "V2G20-1436", "EVProcessing Ongoing"),
    _go(_S.WAIT_SESSION_STOP, "V2G20-1623", "ChargeProgress Stop"),
    _go(_S.CHARGE_LOOP, "V2G20-1437"),
)

COMMON_ROWS: Final[Rows] = {
    # Resuming a paused session skips authorization and service negotiation [V2G20-1032].
    (_S.WAIT_SESSION_SETUP, _K.SessionSetupReq): (
        Rule(
            "V2G20-1484",
            (
                _go(_S.WAIT_CHARGE_PARAMETER, "V2G20-1032", "OK_OldSessionJoined"),
                _go(_S.WAIT_AUTHORIZATION_SETUP, "V2G20-1486"),
            ),
        ),
    ),
    (_S.WAIT_AUTHORIZATION_SETUP, _K.AuthorizationSetupReq): (
        Rule("V2G20-1486", (_go(_S.WAIT_AUTHORIZATION, "V2G20-1970"),)),
    ),
    # Ongoing, or a WARNING such as an EIM authorization failure, repeats the request [V2G20-1582].
    (_S.WAIT_AUTHORIZATION, _K.AuthorizationReq): (
        Rule(
            "V2G20-1582",
            (_go(_S.WAIT_SERVICE_DISCOVERY, "V2G20-2221", "Finished and OK"), _go(None, "V2G20-1582")),
        ),
    ),
    (_S.WAIT_AUTHORIZATION, _K.CertificateInstallationReq): (Rule("V2G20-1970", (_go(None, "V2G20-1578"),)),),
    (_S.WAIT_SERVICE_DISCOVERY, _K.ServiceDiscoveryReq): (
        Rule("V2G20-2221", (_go(_S.WAIT_SERVICE_DETAIL, "V2G20-1584"),)),
    ),
    (_S.WAIT_SERVICE_DETAIL, _K.ServiceDetailReq): (
        Rule("V2G20-1584", (_go(_S.WAIT_SERVICE_SELECTION, "V2G20-1586"),)),
    ),
    (_S.WAIT_SERVICE_SELECTION, _K.ServiceDetailReq): (Rule("V2G20-1586", (_go(None, "V2G20-1586"),)),),
    (_S.WAIT_SERVICE_SELECTION, _K.ServiceSelectionReq): (
        Rule("V2G20-1587", (_go(_S.WAIT_CHARGE_PARAMETER, "V2G20-1590"),)),
    ),
    (_S.WAIT_POWER_DELIVERY, _K.PowerDeliveryReq): (
        Rule("V2G20-1596", _POWER_DELIVERY, guard="not ScheduleRenegotiation"),
    ),
    (_S.CHARGE_LOOP, _K.PowerDeliveryReq): (Rule("V2G20-2012", _POWER_DELIVERY, guard="not ScheduleRenegotiation"),),
    (_S.WAIT_SESSION_STOP, _K.SessionStopReq): (Rule("V2G20-1623", _STOP),),
    **{(state, _K.SessionStopReq): (Rule("V2G20-2645", _STOP),) for state in _STOPPABLE},
}

# The EV repeats ScheduleExchangeReq while the SECC answers Ongoing [V2G20-1593].
AC_ROWS: Final[Rows] = {
    (_S.WAIT_CHARGE_PARAMETER, _K.AC_ChargeParameterDiscoveryReq): (
        Rule("V2G20-1590", (_go(_S.WAIT_SCHEDULE, "V2G20-2658"),), guard="AC"),
    ),
    (_S.WAIT_SCHEDULE, _K.ScheduleExchangeReq): (
        Rule(
            "V2G20-2658",
            (_go(_S.WAIT_POWER_DELIVERY, "V2G20-1596", "Finished"), _go(None, "V2G20-1593")),
            guard="AC",
        ),
    ),
    (_S.CHARGE_LOOP, _K.AC_ChargeLoopReq): (Rule("V2G20-1437", (_go(None, "V2G20-2012"),), guard="AC"),),
}

# DC: after the schedule comes the isolation test (repeated while Ongoing), then the precharge (repeated by the
# EV until its EVProcessing is Finished), then PowerDelivery(Start); after PowerDelivery(Stop) the EV may run
# the welding detection before SessionStop (V2G20 DC sequence; DC timing in table 217).
DC_ROWS: Final[Rows] = {
    (_S.WAIT_CHARGE_PARAMETER, _K.DC_ChargeParameterDiscoveryReq): (
        Rule("V2G20-1590", (_go(_S.WAIT_SCHEDULE, "V2G20-2658"),), guard="DC"),
    ),
    (_S.WAIT_SCHEDULE, _K.ScheduleExchangeReq): (
        Rule(
            "V2G20-2658",
            (_go(_S.WAIT_CABLE_CHECK, "V2G20 DC sequence", "Finished"), _go(None, "V2G20-1593")),
            guard="DC",
        ),
    ),
    (_S.WAIT_CABLE_CHECK, _K.DC_CableCheckReq): (
        Rule(
            "V2G20 DC sequence",
            (_go(_S.WAIT_PRECHARGE, "V2G20 DC sequence", "Finished"), _go(None, "V2G20 DC sequence")),
            guard="DC",
        ),
    ),
    (_S.WAIT_PRECHARGE, _K.DC_PreChargeReq): (
        Rule(
            "V2G20 DC sequence",
            (_go(_S.WAIT_POWER_DELIVERY, "V2G20 DC sequence", "EVProcessing Finished"), _go(None, "V2G20 DC sequence")),
            guard="DC",
        ),
    ),
    (_S.CHARGE_LOOP, _K.DC_ChargeLoopReq): (Rule("V2G20-1437", (_go(None, "V2G20-2012"),), guard="DC"),),
    (_S.WAIT_SESSION_STOP, _K.DC_WeldingDetectionReq): (
        Rule("V2G20 DC sequence", (_go(None, "V2G20 DC sequence"),), guard="DC"),
    ),
}

#: Side-stream rows: (stream, side state, request). Side state "idle" accepts the stream's first request; the
#: schedule renegotiation stream then expects PowerDeliveryReq.
SIDE_ROWS: Final[dict[tuple[Stream, str, StrEnum], SideRule]] = {
    (Stream.METERING_CONFIRMATION, "idle", _K.MeteringConfirmationReq): SideRule("V2G20-2704"),
    (Stream.SCHEDULE_RENEGOTIATION, "idle", _K.ScheduleExchangeReq): SideRule("V2G20-1045", next="schedule"),
    (Stream.SCHEDULE_RENEGOTIATION, "schedule", _K.ScheduleExchangeReq): SideRule("V2G20-1046", next="schedule"),
    (Stream.SCHEDULE_RENEGOTIATION, "schedule", _K.PowerDeliveryReq): SideRule("V2G20-2317"),
}


def merge(*parts: Rows) -> Rows:
    """Rows of several parts under one table: rows for the same (state, kind) are kept side by side."""
    merged: Rows = {}
    for part in parts:
        for key, rules in part.items():
            merged[key] = merged.get(key, ()) + rules
    return merged


TABLE: Final = Table(rows=merge(COMMON_ROWS, AC_ROWS, DC_ROWS), guards=GUARDS, conditions=CONDITIONS, side=SIDE_ROWS)
"""The -20 sequence for every energy mode."""


DIAGRAM_NOTE: Final = (
    "SessionStopReq is also accepted in every state from here to WAIT_POWER_DELIVERY (V2G20-2645);\n"
    "any FAILED response code ends the session."
)
"""What the generated diagram says once instead of drawing every set-up state's SessionStop edge."""
