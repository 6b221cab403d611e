"""The ISO 15118-20 main-stream states, named after what may come next, and the conditions between them.

The states are shared by every -20 energy mode; which request a state admits for AC, AC_BPT, DC or DC_BPT is the
sequence table's business (:mod:`~iso15118.iso20.table`). Guards look at the session's selection (and at the
request: -20 forbids PowerDelivery(ScheduleRenegotiation) on the main stream [V2G20-2018]); conditions look at
the finished exchange. Both are named so the generated diagrams can show them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

from iso15118.session.context import CoreState
from iso15118.session.profile import ALWAYS, Condition, Guard
from iso15118.session.selection import EnergyFamily, Selection

__all__ = ["CONDITIONS", "ENDED", "GUARDS", "State"]


class State(StrEnum):
    """Where the -20 main stream is."""

    WAIT_SESSION_SETUP = "wait_session_setup"
    WAIT_AUTHORIZATION_SETUP = "wait_authorization_setup"
    WAIT_AUTHORIZATION = "wait_authorization"
    WAIT_SERVICE_DISCOVERY = "wait_service_discovery"
    WAIT_SERVICE_DETAIL = "wait_service_detail"
    WAIT_SERVICE_SELECTION = "wait_service_selection"
    WAIT_CHARGE_PARAMETER = "wait_charge_parameter_discovery"
    WAIT_SCHEDULE = "wait_schedule_exchange"
    WAIT_CABLE_CHECK = "wait_cable_check"
    WAIT_PRECHARGE = "wait_precharge"
    WAIT_POWER_DELIVERY = "wait_power_delivery"
    CHARGE_LOOP = "charge_loop"
    WAIT_SESSION_STOP = "wait_session_stop"


ENDED: Final = CoreState.ENDED


def _value(obj: Any, name: str) -> str:
    return str(getattr(obj, name, "") or "")


def _code(response: Any) -> str:
    return _value(response, "response_code")


def _family(family: EnergyFamily) -> Guard:
    def guard(selection: Selection, request: Any) -> bool:
        return selection.family is family

    return guard


def _not_renegotiation(selection: Selection, request: Any) -> bool:
    # Schedule renegotiation happens on its side stream, never on the main stream [V2G20-2018].
    return request is None or _value(request, "charge_progress") != "ScheduleRenegotiation"


GUARDS: Final[dict[str, Guard]] = {
    ALWAYS: lambda selection, request: True,
    "AC": _family(EnergyFamily.AC),
    "DC": _family(EnergyFamily.DC),
    "not ScheduleRenegotiation": _not_renegotiation,
}

CONDITIONS: Final[dict[str, Condition]] = {
    ALWAYS: lambda s, q, r: True,
    "OK_OldSessionJoined": lambda s, q, r: _code(r) == "OK_OldSessionJoined",
    "Finished and OK": lambda s, q, r: _value(r, "evse_processing") == "Finished" and _code(r).startswith("OK"),
    "Finished": lambda s, q, r: _value(r, "evse_processing") == "Finished",
    "EVProcessing Ongoing": lambda s, q, r: _value(q, "ev_processing") == "Ongoing",
    "EVProcessing Finished": lambda s, q, r: _value(q, "ev_processing") == "Finished",
    "ChargeProgress Stop": lambda s, q, r: _value(q, "charge_progress") == "Stop",
    "ServiceRenegotiation": lambda s, q, r: _value(q, "charging_session") == "ServiceRenegotiation",
}
