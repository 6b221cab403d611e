"""The main-stream states of DIN 70121 and ISO 15118-2, and the named guards and conditions of their tables.

One set of states serves both generations (DIN simply never enters the -2-only ones): each is named after the
request it waits for. Guards and conditions see the whole ``V2G_Message`` the session core hands them and read
its Body element; conditions look at the finished exchange (``Finished`` processing, the PowerDelivery the EV
asked for, how SessionStop ends the session).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

from iso15118.session.context import CoreState
from iso15118.session.profile import ALWAYS, Condition, Guard
from iso15118.session.selection import EnergyFamily, Selection

__all__ = ["CONDITIONS", "ENDED", "GUARDS", "State", "body_of", "field", "starts_power"]


class State(StrEnum):
    """Where a DIN 70121 or ISO 15118-2 main stream is (what it waits for next)."""

    WAIT_SESSION_SETUP = "wait_session_setup"
    WAIT_SERVICE_DISCOVERY = "wait_service_discovery"
    WAIT_PAYMENT_SELECTION = "wait_payment_selection"
    """-2: ServiceDetail (repeatable) or PaymentServiceSelection; DIN: ServicePaymentSelection."""
    WAIT_PAYMENT_DETAILS = "wait_payment_details"
    """-2 PnC: CertificateInstallation/CertificateUpdate, then PaymentDetails."""
    WAIT_AUTHORIZATION = "wait_authorization"
    WAIT_CHARGE_PARAMETER = "wait_charge_parameter_discovery"
    WAIT_CABLE_CHECK = "wait_cable_check"
    WAIT_PRECHARGE = "wait_precharge"
    WAIT_POWER_DELIVERY = "wait_power_delivery"
    CHARGE_LOOP = "charge_loop"
    """ChargingStatus (AC) or CurrentDemand (DC), MeteringReceipt, and PowerDelivery to leave it."""
    WAIT_WELDING = "wait_welding_detection"
    """After PowerDelivery(Stop) in DC: WeldingDetection (repeatable) or SessionStop."""
    WAIT_SESSION_STOP = "wait_session_stop"


ENDED: Final = CoreState.ENDED


def body_of(message: Any) -> Any:
    """The Body element of a V2G_Message (None for anything else, e.g. a request the table is only asked about)."""
    body = getattr(message, "body", None)
    if body is None:
        return None
    for name in body.__slots__:
        element = getattr(body, name)
        if element is not None:
            return element
    return None


def field(message: Any, name: str) -> str:
    """A Body element's field as text ('' when absent)."""
    value = getattr(body_of(message), name, None)
    return "" if value is None else str(value)


def _family(family: EnergyFamily) -> Guard:
    def guard(selection: Selection, request: Any) -> bool:
        return selection.family is family

    return guard


def starts_power(body: Any) -> bool:
    """Whether a PowerDeliveryReq element asks for energy: DIN's ReadyToChargeState (a boolean), -2's
    ChargeProgress ``Start``."""
    if body is None:
        return False
    if hasattr(body, "ready_to_charge_state"):
        return bool(body.ready_to_charge_state)
    return str(getattr(body, "charge_progress", "")) == "Start"


GUARDS: Final[dict[str, Guard]] = {
    ALWAYS: lambda selection, request: True,
    "AC": _family(EnergyFamily.AC),
    "DC": _family(EnergyFamily.DC),
}

CONDITIONS: Final[dict[str, Condition]] = {
    ALWAYS: lambda s, q, r: True,
    "Finished": lambda s, q, r: field(r, "evse_processing") == "Finished",
    "start": lambda s, q, r: starts_power(body_of(q)),
    "stop": lambda s, q, r: not starts_power(body_of(q)) and field(q, "charge_progress") != "Renegotiate",
    "Renegotiate": lambda s, q, r: field(q, "charge_progress") == "Renegotiate",
}
"""Conditions see the selection as it was *before* the exchange (the profile's ``note`` runs after the table);
a condition on what an exchange selects reads the request, as -2's energy transfer mode does in its table."""
