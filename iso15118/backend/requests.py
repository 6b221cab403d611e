"""What the station answers when the CSMS asks something of it (CSMS-initiated OCPP requests). Pure.

=========================  =====================================================================================
request                    what happens
=========================  =====================================================================================
SetChargingProfile         installed (:mod:`iso15118.backend.profiles`), or Rejected with the reason; the
                           session's limits and Dynamic-mode setpoint follow it from the next charge-loop step
ClearChargingProfile       the matching profiles go (Unknown when none matched)
RequestStartTransaction    the next EV on the EVSE is authorized with the given idToken (Started: RemoteStart)
RequestStopTransaction     the session's next charge-loop response notifies the EV Terminate; the transaction
                           ends with stoppedReason Remote; Rejected for a transaction that does not run
Reset                      Immediate: every session is asked to terminate, then the station reconnects and boots
                           again; OnIdle: the same once no session runs (Scheduled meanwhile)
=========================  =====================================================================================

Any other action of the OCPP version is answered with the CALLERROR ``NotSupported`` (the link answers
``NotImplemented`` for an action the version does not define, and validates every payload both ways).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from iso15118.backend.profiles import ProfileRefused
from iso15118.backend.rpc import ErrorCode
from iso15118.backend.station import Station
from iso15118.backend.transactions import StopReason
from iso15118.errors import RpcError

__all__ = ["HANDLED", "handle_call"]


def _status(status: str, reason: str | None = None, detail: str = "") -> dict[str, Any]:
    payload: dict[str, Any] = {"status": status}
    if reason is not None:
        payload["statusInfo"] = (
            {"reasonCode": reason[:20], "additionalInfo": detail[:512]} if detail else {"reasonCode": reason[:20]}
        )
    return payload


def _set_profile(station: Station, payload: dict[str, Any], now: float) -> dict[str, Any]:
    evse_id = int(payload["evseId"])
    try:
        station.profiles.install(payload["chargingProfile"], evse_id, station.active())
    except ProfileRefused as exc:
        return _status("Rejected", "InvalidProfile", str(exc))
    return _status("Accepted")


def _clear_profile(station: Station, payload: dict[str, Any], now: float) -> dict[str, Any]:
    criteria = payload.get("chargingProfileCriteria", {})
    removed = station.profiles.clear(
        profile_id=payload.get("chargingProfileId"),
        evse_id=criteria.get("evseId"),
        purpose=criteria.get("chargingProfilePurpose"),
        stack_level=criteria.get("stackLevel"),
    )
    return _status("Accepted" if removed else "Unknown")


def _request_start(station: Station, payload: dict[str, Any], now: float) -> dict[str, Any]:
    evse_id = int(payload.get("evseId", 1))
    if evse_id < 1:
        return _status("Rejected", "UnknownEvse", f"no EVSE {evse_id}")
    if "chargingProfile" in payload and payload["chargingProfile"].get("chargingProfilePurpose") != "TxProfile":
        return _status("Rejected", "InvalidProfile", "a RequestStartTransaction profile must be a TxProfile")
    running = next((t for t in station.transactions.values() if t.evse_id == evse_id and t.started), None)
    if running is not None:
        response = _status("Rejected", "TxInProgress", "a transaction runs on this EVSE")
        response["transactionId"] = running.transaction_id
        return response
    # The EV on this EVSE (now, or the next one to connect) is authorized with this idToken.
    station.remote_starts[evse_id] = (payload["idToken"], int(payload["remoteStartId"]))
    return _status("Accepted")


def _request_stop(station: Station, payload: dict[str, Any], now: float) -> dict[str, Any]:
    tx = station.by_transaction(str(payload["transactionId"]))
    if tx is None:
        return _status("Rejected", "TxNotFound", f"no transaction {payload['transactionId']} runs here")
    tx.stop = tx.stop or StopReason.REMOTE
    return _status("Accepted")


def _reset(station: Station, payload: dict[str, Any], now: float) -> dict[str, Any]:
    if payload.get("evseId") is not None:
        return _status("Rejected", "UnsupportedRequest", "this station resets as a whole, not per EVSE")
    kind = str(payload["type"])
    station.reset = kind
    if kind == "Immediate":
        for tx in station.transactions.values():
            tx.stop = tx.stop or StopReason.RESET
        return _status("Accepted")
    return _status("Accepted" if station.idle else "Scheduled")


HANDLED: dict[str, Callable[[Station, dict[str, Any], float], dict[str, Any]]] = {
    "SetChargingProfile": _set_profile,
    "ClearChargingProfile": _clear_profile,
    "RequestStartTransaction": _request_start,
    "RequestStopTransaction": _request_stop,
    "Reset": _reset,
}
"""The CSMS requests this station acts on."""


def handle_call(station: Station, action: str, payload: dict[str, Any], now: float) -> dict[str, Any]:
    """The CALLRESULT payload for a (schema-valid) CSMS request; RpcError ``NotSupported`` for the others."""
    handler = HANDLED.get(action)
    if handler is None:
        raise RpcError(ErrorCode.NOT_SUPPORTED, f"this charging station does not support {action}")
    return handler(station, payload, now)
