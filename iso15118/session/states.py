"""The ISO 15118-20 AC message sequence as data: one table serves both roles.

Theory of operation
-------------------
The main stream is a strict request/response exchange. :data:`SEQUENCE` says which request may come in
each state — the SECC reads it as "what may I accept", the EVCC as "what may I send" (h11's rule: this
module does not know which role it plays). A pair missing from the table is a sequence error: the SECC
answers the request with ``FAILED_SequenceError`` and ends the session.

After each exchange the next state depends on the request and on what the response said (``Ongoing``
repeats a request, ``OK_OldSessionJoined`` skips authorization and service negotiation, a ``FAILED*``
response code ends the session...). :data:`TRANSITIONS` holds those rules as data — ordered (condition,
next state, requirement) per request — and the README's state diagram is generated from the two tables.

Side streams (schedule renegotiation 0x8101, metering confirmation 0x8102) run beside the charge loop with
their own small sequences (:data:`SIDE_SEQUENCE`).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, Final

__all__ = [
    "ACTIVE_STATES",
    "CONDITIONS",
    "SEQUENCE",
    "SIDE_SEQUENCE",
    "TRANSITIONS",
    "State",
    "Stream",
    "is_failed",
    "next_side_state",
    "next_state",
]


class State(StrEnum):
    """Where the main stream is: named after what may come next."""

    WAIT_SAP = "wait_supported_app_protocol"
    WAIT_SESSION_SETUP = "wait_session_setup"
    WAIT_AUTHORIZATION_SETUP = "wait_authorization_setup"
    WAIT_AUTHORIZATION = "wait_authorization"
    WAIT_SERVICE_DISCOVERY = "wait_service_discovery"
    WAIT_SERVICE_DETAIL = "wait_service_detail"
    WAIT_SERVICE_SELECTION = "wait_service_selection"
    WAIT_CHARGE_PARAMETER = "wait_charge_parameter_discovery"
    WAIT_SCHEDULE = "wait_schedule_exchange"
    WAIT_POWER_DELIVERY = "wait_power_delivery"
    CHARGE_LOOP = "charge_loop"
    WAIT_SESSION_STOP = "wait_session_stop"
    ENDED = "ended"


class Stream(StrEnum):
    """The main stream and the -20 side streams [V2G20-1040/1041/1042]."""

    MAIN = "main"
    SCHEDULE_RENEGOTIATION = "schedule_renegotiation"
    METERING_CONFIRMATION = "metering_confirmation"


_S = State
_BEFORE_POWER_DELIVERY = (
    _S.WAIT_AUTHORIZATION_SETUP,
    _S.WAIT_AUTHORIZATION,
    _S.WAIT_SERVICE_DISCOVERY,
    _S.WAIT_SERVICE_DETAIL,
    _S.WAIT_SERVICE_SELECTION,
    _S.WAIT_CHARGE_PARAMETER,
    _S.WAIT_SCHEDULE,
    _S.WAIT_POWER_DELIVERY,
)

#: (state, request) -> the requirement that allows the request there.
SEQUENCE: Final[dict[tuple[State, str], str]] = {
    (_S.WAIT_SAP, "supportedAppProtocolReq"): "V2G20-1483",
    (_S.WAIT_SESSION_SETUP, "SessionSetupReq"): "V2G20-1484",
    (_S.WAIT_AUTHORIZATION_SETUP, "AuthorizationSetupReq"): "V2G20-1486",
    (_S.WAIT_AUTHORIZATION, "AuthorizationReq"): "V2G20-1582",
    (_S.WAIT_AUTHORIZATION, "CertificateInstallationReq"): "V2G20-1970",
    (_S.WAIT_SERVICE_DISCOVERY, "ServiceDiscoveryReq"): "V2G20-2221",
    (_S.WAIT_SERVICE_DETAIL, "ServiceDetailReq"): "V2G20-1584",
    (_S.WAIT_SERVICE_SELECTION, "ServiceDetailReq"): "V2G20-1586",
    (_S.WAIT_SERVICE_SELECTION, "ServiceSelectionReq"): "V2G20-1587",
    (_S.WAIT_CHARGE_PARAMETER, "AC_ChargeParameterDiscoveryReq"): "V2G20-1590",
    (_S.WAIT_SCHEDULE, "ScheduleExchangeReq"): "V2G20-2658",
    (_S.WAIT_POWER_DELIVERY, "PowerDeliveryReq"): "V2G20-1596",
    (_S.CHARGE_LOOP, "AC_ChargeLoopReq"): "V2G20-1437",
    (_S.CHARGE_LOOP, "PowerDeliveryReq"): "V2G20-2012",
    (_S.WAIT_SESSION_STOP, "SessionStopReq"): "V2G20-1623",
    # SessionStopReq is also accepted in any state after SessionSetupRes and before PowerDelivery(Start).
    **{(state, "SessionStopReq"): "V2G20-2645" for state in _BEFORE_POWER_DELIVERY},
}

#: Side-stream sequences: (stream, side state, request) -> requirement. Side state "idle" accepts the
#: stream's first request; the schedule renegotiation stream then expects PowerDeliveryReq.
SIDE_SEQUENCE: Final[dict[tuple[Stream, str, str], str]] = {
    (Stream.METERING_CONFIRMATION, "idle", "MeteringConfirmationReq"): "V2G20-2704",
    (Stream.SCHEDULE_RENEGOTIATION, "idle", "ScheduleExchangeReq"): "V2G20-1045",
    (Stream.SCHEDULE_RENEGOTIATION, "schedule", "ScheduleExchangeReq"): "V2G20-1046",
    (Stream.SCHEDULE_RENEGOTIATION, "schedule", "PowerDeliveryReq"): "V2G20-2317",
}

#: States in which the main stream is past session set-up and not yet over.
ACTIVE_STATES: Final = frozenset(_S) - {_S.WAIT_SAP, _S.WAIT_SESSION_SETUP, _S.ENDED}


def is_failed(code: object) -> bool:
    """True for any FAILED response code (-20 ``FAILED*`` or SupportedAppProtocol ``Failed_NoNegotiation``)."""
    return str(code).upper().startswith("FAILED")


def _value(obj: Any, name: str) -> str:
    return str(getattr(obj, name, "") or "")


def _code(response: Any) -> str:
    return _value(response, "response_code")


Condition = Callable[[Any, Any], bool]

#: Named conditions on a (request, response) pair, used by :data:`TRANSITIONS`.
CONDITIONS: Final[dict[str, Condition]] = {
    "any": lambda q, r: True,
    "OK_OldSessionJoined": lambda q, r: _code(r) == "OK_OldSessionJoined",
    "Finished and OK": lambda q, r: _value(r, "evse_processing") == "Finished" and _code(r).startswith("OK"),
    "Finished": lambda q, r: _value(r, "evse_processing") == "Finished",
    "EVProcessing Ongoing": lambda q, r: _value(q, "ev_processing") == "Ongoing",
    "ChargeProgress Stop": lambda q, r: _value(q, "charge_progress") == "Stop",
    "ServiceRenegotiation": lambda q, r: _value(q, "charging_session") == "ServiceRenegotiation",
}

#: After an exchange on the main stream: request -> ordered (condition, next state); the first condition that
#: holds wins; ``None`` keeps the state. Any FAILED response code ends the session before these apply.
TRANSITIONS: Final[dict[str, tuple[tuple[str, State | None, str], ...]]] = {
    "supportedAppProtocolReq": (("any", _S.WAIT_SESSION_SETUP, "V2G20-1484"),),
    # Resuming a paused session skips authorization and service negotiation.
    "SessionSetupReq": (
        ("OK_OldSessionJoined", _S.WAIT_CHARGE_PARAMETER, "V2G20-1032"),
        ("any", _S.WAIT_AUTHORIZATION_SETUP, "V2G20-1486"),
    ),
    "AuthorizationSetupReq": (("any", _S.WAIT_AUTHORIZATION, "V2G20-1970"),),
    "CertificateInstallationReq": (("any", _S.WAIT_AUTHORIZATION, "V2G20-1970"),),
    # Ongoing, or a WARNING such as an EIM authorization failure, repeats the request.
    "AuthorizationReq": (
        ("Finished and OK", _S.WAIT_SERVICE_DISCOVERY, "V2G20-2221"),
        ("any", _S.WAIT_AUTHORIZATION, "V2G20-1582"),
    ),
    "ServiceDiscoveryReq": (("any", _S.WAIT_SERVICE_DETAIL, "V2G20-1584"),),
    "ServiceDetailReq": (("any", _S.WAIT_SERVICE_SELECTION, "V2G20-1586"),),
    "ServiceSelectionReq": (("any", _S.WAIT_CHARGE_PARAMETER, "V2G20-1590"),),
    "AC_ChargeParameterDiscoveryReq": (("any", _S.WAIT_SCHEDULE, "V2G20-2658"),),
    # The EV repeats ScheduleExchangeReq while the SECC answers Ongoing.
    "ScheduleExchangeReq": (
        ("Finished", _S.WAIT_POWER_DELIVERY, "V2G20-1596"),
        ("any", _S.WAIT_SCHEDULE, "V2G20-1593"),
    ),
    "PowerDeliveryReq": (
        ("EVProcessing Ongoing", None, "V2G20-1436"),
        ("ChargeProgress Stop", _S.WAIT_SESSION_STOP, "V2G20-1623"),
        ("any", _S.CHARGE_LOOP, "V2G20-1437"),
    ),
    "AC_ChargeLoopReq": (("any", _S.CHARGE_LOOP, "V2G20-2012"),),
    "SessionStopReq": (
        ("ServiceRenegotiation", _S.WAIT_SERVICE_DISCOVERY, "V2G20-1643"),
        ("any", _S.ENDED, "V2G20-1080"),
    ),
}


def next_state(state: State, request: Any, response: Any) -> State:
    """The main stream's state after ``request`` was answered by ``response`` (from :data:`TRANSITIONS`)."""
    if is_failed(_code(response)):
        return _S.ENDED  # any FAILED response code ends the session (-20 §8.6)
    for condition, target, _requirement in TRANSITIONS.get(type(request).__name__, ()):
        if CONDITIONS[condition](request, response):
            return state if target is None else target
    return state


def next_side_state(stream: Stream, side: str, request: Any, response: Any) -> str:
    """A side stream's state after an exchange ("idle" when its sequence is complete)."""
    if is_failed(_value(response, "response_code")):
        return "idle"
    if stream is Stream.SCHEDULE_RENEGOTIATION and type(request).__name__ == "ScheduleExchangeReq":
        return "schedule"
    return "idle"
