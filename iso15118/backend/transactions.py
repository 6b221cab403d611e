"""What an ISO 15118 session looks like to the CSMS: OCPP TransactionEvent and meter-value payloads. Pure.

One charging session is one OCPP transaction. This module only shapes the payloads (camelCase JSON, as the
OCPP 2.0.1 / 2.1 schemas define them); *when* each is sent is the station's business
(:mod:`iso15118.backend.station`):

============================  =================  ================================  =====================
session                       eventType          triggerReason                     meter value context
============================  =================  ================================  =====================
authorization accepted        Started            Authorized (RemoteStart)          Transaction.Begin
PowerDelivery Start / Stop    Updated            ChargingStateChanged              Trigger
every sample interval         Updated            MeterValuePeriodic                Sample.Periodic
session over                  Ended              by the stop (table below)         Transaction.End
============================  =================  ================================  =====================

How a transaction ends (``stoppedReason`` / ``triggerReason``): the EV terminates -- StoppedByEV / StopAuthorized;
the CSMS asks (RequestStopTransaction) -- Remote / RemoteStop; the communication is lost or times out --
EVDisconnected / EVCommunicationLost; a reset -- ImmediateReset / ResetCommand; the station crashed while it ran
and ends it after its restart -- PowerLoss / AbnormalCondition.

Energy travels as the meter's registers (``Energy.Active.Import.Register``: delivered to the EV,
``Energy.Active.Export.Register``: fed back by it, in Wh), so the energy of a transaction is the register at its
end less the register at its start, whatever was lost in between. Power (``Power.Active.Import`` /
``Power.Active.Export``) and the EV's state of charge (``SoC``, when the EV reports it) come with the samples.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "MeterSample",
    "StopReason",
    "TxEvent",
    "meter_value",
    "timestamp",
    "transaction_event",
]


def timestamp(t: float) -> str:
    """An OCPP dateTime (RFC 3339, UTC, milliseconds) for POSIX time ``t``."""
    moment = dt.datetime.fromtimestamp(t, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class StopReason(StrEnum):
    """Why a transaction ended: each maps to OCPP's (stoppedReason, triggerReason)."""

    EV = "ev"
    REMOTE = "remote"
    COMMUNICATION_LOST = "communication_lost"
    RESET = "reset"
    POWER_LOSS = "power_loss"
    LOCAL = "local"

    @property
    def ocpp(self) -> tuple[str, str]:
        """(stoppedReason, triggerReason)."""
        return _STOP[self]


_STOP: dict[StopReason, tuple[str, str]] = {
    StopReason.EV: ("StoppedByEV", "StopAuthorized"),
    StopReason.REMOTE: ("Remote", "RemoteStop"),
    StopReason.COMMUNICATION_LOST: ("EVDisconnected", "EVCommunicationLost"),
    StopReason.RESET: ("ImmediateReset", "ResetCommand"),
    StopReason.POWER_LOSS: ("PowerLoss", "AbnormalCondition"),
    StopReason.LOCAL: ("Local", "StopAuthorized"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterSample:
    """A meter reading with what else a sample carries: power now (W, negative: from the EV) and the EV's SoC."""

    imported_wh: float
    exported_wh: float = 0.0
    power_w: float | None = None
    soc: float | None = None

    def to_data(self) -> dict[str, Any]:
        """As JSON data (kept with a transaction in the outbox)."""
        return {"imported_wh": self.imported_wh, "exported_wh": self.exported_wh, "soc": self.soc}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> MeterSample:
        """Back from :meth:`to_data`."""
        return cls(
            imported_wh=float(data.get("imported_wh", 0.0)),
            exported_wh=float(data.get("exported_wh", 0.0)),
            soc=data.get("soc"),
        )


def _value(v: float) -> float | int:
    return int(v) if float(v).is_integer() else round(v, 3)


def meter_value(at: float, sample: MeterSample, context: str) -> dict[str, Any]:
    """One MeterValue: both energy registers, the power if known, the SoC if the EV reported it."""

    def sampled(value: float, measurand: str, unit: str, **extra: str) -> dict[str, Any]:
        return {
            "value": _value(value),
            "context": context,
            "measurand": measurand,
            "unitOfMeasure": {"unit": unit},
            **extra,
        }

    values = [
        sampled(sample.imported_wh, "Energy.Active.Import.Register", "Wh"),
        sampled(sample.exported_wh, "Energy.Active.Export.Register", "Wh"),
    ]
    if sample.power_w is not None:
        values.append(sampled(max(sample.power_w, 0.0), "Power.Active.Import", "W"))
        values.append(sampled(max(-sample.power_w, 0.0), "Power.Active.Export", "W"))
    if sample.soc is not None:
        values.append(sampled(sample.soc, "SoC", "Percent", location="EV"))
    return {"timestamp": timestamp(at), "sampledValue": values}


@dataclass(frozen=True, slots=True, kw_only=True)
class TxEvent:
    """One TransactionEvent to send (everything but the seqNo, which the outbox allocates)."""

    event_type: str
    """Started, Updated or Ended."""
    trigger: str
    at: float
    evse_id: int
    offline: bool = False
    charging_state: str | None = None
    """Charging, EVConnected, SuspendedEV, SuspendedEVSE or Idle."""
    sample: MeterSample | None = None
    context: str = "Sample.Periodic"
    id_token: dict[str, Any] | None = None
    stopped_reason: str | None = None
    remote_start_id: int | None = None
    time_spent_charging_s: float | None = None


def transaction_event(transaction_id: str, seq_no: int, event: TxEvent) -> dict[str, Any]:
    """The TransactionEventRequest payload."""
    info: dict[str, Any] = {"transactionId": transaction_id}
    if event.charging_state is not None:
        info["chargingState"] = event.charging_state
    if event.time_spent_charging_s is not None:
        info["timeSpentCharging"] = int(event.time_spent_charging_s)
    if event.stopped_reason is not None:
        info["stoppedReason"] = event.stopped_reason
    if event.remote_start_id is not None:
        info["remoteStartId"] = event.remote_start_id
    payload: dict[str, Any] = {
        "eventType": event.event_type,
        "timestamp": timestamp(event.at),
        "triggerReason": event.trigger,
        "seqNo": seq_no,
        "transactionInfo": info,
        "evse": {"id": event.evse_id, "connectorId": 1},
    }
    if event.offline:
        payload["offline"] = True  # generated while the CSMS was unreachable
    if event.id_token is not None:
        payload["idToken"] = event.id_token
    if event.sample is not None:
        payload["meterValue"] = [meter_value(event.at, event.sample, event.context)]
    return payload
