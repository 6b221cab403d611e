"""The charging station as the CSMS sees it: EVSEs, transactions, charging profiles, what to send. Sans-I/O.

Theory of operation
-------------------
Every ISO 15118 session on the SECC is one OCPP *transaction* on one EVSE. The session's adapters
(:mod:`iso15118.backend.controller`, :mod:`iso15118.backend.observer`) tell the :class:`Station` what happens --
an EV connected, it was authorized, power started or stopped, a meter reading, the session ended -- and the
station turns that into OCPP messages:

* **TransactionEvents** go into the durable :class:`~iso15118.backend.outbox.Outbox` with their seqNo before
  anything sends them, flagged ``offline`` when the CSMS was unreachable as they were generated;
* **status and information messages** (StatusNotification, NotifyEVChargingNeeds) go into
  :attr:`Station.notices`, sent when the CSMS is reachable and dropped otherwise (the statuses are sent anew
  after every (re)connection, :meth:`Station.status_notices`).

The link (:mod:`iso15118.transport.ocpp_link`) drains both and feeds the CSMS's own requests to
:meth:`Station.handle_call` (:mod:`iso15118.backend.requests`). Nothing here awaits, sleeps or reads a clock:
every call takes ``now``.

After a crash the outbox still holds the transactions that never ended; :meth:`Station.recover` ends them
(stoppedReason ``PowerLoss``) with their last meter reading and the next seqNo, so the CSMS sees each
transaction from Started to Ended with no gap.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from iso15118.backend.outbox import Outbox
from iso15118.backend.profiles import Allowance, ChargingProfiles
from iso15118.backend.rpc import OcppVersion
from iso15118.backend.transactions import MeterSample, StopReason, TxEvent, timestamp, transaction_event

__all__ = ["Station", "StationConfig", "Transaction"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StationConfig:
    """Who the station is and how it behaves towards the CSMS."""

    version: OcppVersion = OcppVersion.V201
    vendor: str = "v2gstack"
    model: str = "v2gstack SECC"
    serial_number: str | None = None
    firmware_version: str | None = None
    evses: int = 1
    """EVSEs announced at boot (one connector each); more concurrent sessions take further EVSE ids."""
    sample_interval_s: float = 60.0
    """Seconds between periodic meter values of a transaction (OCPP's SampledDataTxUpdatedInterval)."""
    offline_authorization: bool = True
    """Accept an EV the SECC itself verified (PnC) or any EIM request while the CSMS is unreachable."""
    answer_within_s: float = 1.5
    """How long a decision waits for the CSMS before the SECC answers the EV ``Ongoing`` (it asks again)."""
    eim_card: str | None = None
    """The idToken of EIM sessions (a card the station read); None: the EV's EVCCID as a MacAddress token."""


@dataclass
class Transaction:
    """One session's transaction, while it runs."""

    key: str
    """The ISO 15118 SessionID (hex) that ties the session's adapters together."""
    evse_id: int
    transaction_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: bool = False
    started_at: float | None = None
    evcc_id: str = ""
    id_token: dict[str, Any] | None = None
    contract: tuple[bytes, ...] = ()
    """PnC: the contract chain the EV presented (DER, leaf first)."""
    charging_since: float | None = None
    charged_s: float = 0.0
    last_sample_at: float | None = None
    meter: MeterSample | None = None
    soc: float | None = None
    power_w: float | None = None
    stop: StopReason | None = None
    """Set when the station (CSMS, reset) wants the session to end; the charge loop then notifies Terminate."""
    remote_start_id: int | None = None
    resumed_token: dict[str, Any] | None = None
    """The idToken of the paused session this one resumes (-20 skips authorization when resuming)."""
    needs: dict[str, Any] = field(default_factory=dict)
    """What the EV told about its needs (charge parameters), for NotifyEVChargingNeeds."""
    dc: bool = False
    bidirectional: bool = False
    volts: float = 230.0
    """The charger's nominal voltage (per phase on AC): turns ampere limits into watts."""
    phases: int = 1

    def sample(self) -> MeterSample | None:
        """The last meter reading with the power and SoC known now."""
        if self.meter is None:
            return None
        return MeterSample(
            imported_wh=self.meter.imported_wh,
            exported_wh=self.meter.exported_wh,
            power_w=self.power_w,
            soc=self.soc,
        )

    def spent_charging(self, now: float) -> float:
        """Seconds with power flowing so far."""
        running = now - self.charging_since if self.charging_since is not None else 0.0
        return self.charged_s + max(0.0, running)


class Station:
    """The station's OCPP state: transactions by session, profiles, the outbox and the notices to send."""

    def __init__(self, config: StationConfig, outbox: Outbox, *, wake: Callable[[], None] | None = None) -> None:
        self.config = config
        self.outbox = outbox
        self.profiles = ChargingProfiles()
        self.online = False
        """True while the CSMS is connected and has accepted the BootNotification."""
        self.transactions: dict[str, Transaction] = {}
        self.notices: deque[tuple[str, dict[str, Any]]] = deque(maxlen=256)
        self.remote_starts: dict[int, tuple[dict[str, Any], int]] = {}
        """EVSE id -> (idToken, remoteStartId) of a RequestStartTransaction waiting for its EV."""
        self.paused: dict[str, dict[str, Any]] = {}
        """SessionID -> the idToken of a session that paused (its resumption starts a transaction with it)."""
        self.reset: str | None = None
        """A Reset the CSMS asked for (Immediate or OnIdle); the link reboots once no session runs."""
        self._wake = wake or (lambda: None)

    # ---- what the link needs ------------------------------------------------------------------------
    def set_wake(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` whenever something new waits to be sent."""
        self._wake = wake

    def boot_request(self, reason: str = "PowerUp") -> dict[str, Any]:
        """The BootNotificationRequest payload."""
        c = self.config
        station: dict[str, Any] = {"model": c.model[:20], "vendorName": c.vendor[:50]}
        if c.serial_number:
            station["serialNumber"] = c.serial_number[:25]
        if c.firmware_version:
            station["firmwareVersion"] = c.firmware_version[:50]
        return {"chargingStation": station, "reason": reason}

    def status_notices(self, now: float) -> list[tuple[str, dict[str, Any]]]:
        """A StatusNotification for every EVSE known now (after a (re)connection)."""
        busy = {tx.evse_id for tx in self.transactions.values()}
        ids = sorted(set(range(1, self.config.evses + 1)) | busy)
        return [self._status(evse, "Occupied" if evse in busy else "Available", now) for evse in ids]

    def _status(self, evse_id: int, status: str, now: float) -> tuple[str, dict[str, Any]]:
        payload = {"timestamp": timestamp(now), "connectorStatus": status, "evseId": evse_id, "connectorId": 1}
        return "StatusNotification", payload

    def _notice(self, action: str, payload: dict[str, Any]) -> None:
        if self.online:
            self.notices.append((action, payload))
            self._wake()

    @property
    def idle(self) -> bool:
        """True when no session runs."""
        return not self.transactions

    # ---- sessions -----------------------------------------------------------------------------------
    def attach(self, key: str, now: float) -> Transaction:
        """An EV connected and its session was established: it takes a free EVSE (status Occupied)."""
        existing = self.transactions.get(key)
        if existing is not None:
            return existing
        busy = {tx.evse_id for tx in self.transactions.values()}
        evse = next(i for i in range(1, len(busy) + 2) if i not in busy)
        tx = Transaction(key=key, evse_id=evse, resumed_token=self.paused.pop(key, None))
        self.transactions[key] = tx
        self._notice(*self._status(evse, "Occupied", now))
        return tx

    def _event(self, tx: Transaction, event: TxEvent, *, ended: bool = False) -> None:
        data = {"evse_id": tx.evse_id, "meter": tx.meter.to_data() if tx.meter else None, "key": tx.key}
        self.outbox.transaction_event(
            tx.transaction_id,
            lambda seq: transaction_event(tx.transaction_id, seq, event),
            event.at,
            data=data,
            ended=ended,
        )
        self._wake()

    def start(self, tx: Transaction, id_token: dict[str, Any], now: float) -> None:
        """The EV is authorized: the transaction starts (TransactionEvent Started)."""
        if tx.started:
            return
        remote = self.remote_starts.pop(tx.evse_id, None)
        tx.started, tx.started_at, tx.id_token = True, now, id_token
        tx.remote_start_id = remote[1] if remote is not None else None
        event = TxEvent(
            event_type="Started",
            trigger="RemoteStart" if remote is not None else "Authorized",
            at=now,
            evse_id=tx.evse_id,
            offline=not self.online,
            charging_state="EVConnected",
            sample=tx.sample(),
            context="Transaction.Begin",
            id_token=id_token,
            remote_start_id=tx.remote_start_id,
        )
        self._event(tx, event)
        tx.last_sample_at = now

    def charging(self, tx: Transaction, on: bool, now: float, *, discharge: bool = False) -> None:
        """Power started (PowerDelivery Start) or stopped: TransactionEvent Updated, ChargingStateChanged."""
        if not tx.started:
            return
        if on and tx.charging_since is None:
            tx.charging_since = now
        elif not on and tx.charging_since is not None:
            tx.charged_s += max(0.0, now - tx.charging_since)
            tx.charging_since = None
        event = TxEvent(
            event_type="Updated",
            trigger="ChargingStateChanged",
            at=now,
            evse_id=tx.evse_id,
            offline=not self.online,
            charging_state="Charging" if on else "EVConnected",
            sample=tx.sample(),
            context="Trigger",
            time_spent_charging_s=tx.spent_charging(now),
        )
        self._event(tx, event)

    def metered(self, tx: Transaction, sample: MeterSample, now: float) -> None:
        """A meter reading (and the power flowing); a periodic Updated when the sample interval has passed."""
        tx.meter = MeterSample(imported_wh=sample.imported_wh, exported_wh=sample.exported_wh)
        if sample.power_w is not None:
            tx.power_w = sample.power_w
        if not tx.started or tx.last_sample_at is None:
            return
        if now <= tx.last_sample_at or now - tx.last_sample_at < self.config.sample_interval_s:
            return  # one sample per interval (and never two for one moment)
        tx.last_sample_at = now
        event = TxEvent(
            event_type="Updated",
            trigger="MeterValuePeriodic",
            at=now,
            evse_id=tx.evse_id,
            offline=not self.online,
            charging_state="Charging" if tx.charging_since is not None else "EVConnected",
            sample=tx.sample(),
            context="Sample.Periodic",
            time_spent_charging_s=tx.spent_charging(now),
        )
        self._event(tx, event)

    def end(self, tx: Transaction, reason: StopReason, now: float, *, paused: bool = False) -> None:
        """The session is over: TransactionEvent Ended (if it started), the EVSE is Available again. A paused
        session's idToken is kept: resuming it (same SessionID) starts the next transaction without Authorize."""
        self.transactions.pop(tx.key, None)
        if paused and tx.id_token is not None:
            self.paused[tx.key] = tx.id_token
        self.profiles.end_transaction(tx.transaction_id)
        if tx.started:
            stop = tx.stop or reason
            stopped, trigger = stop.ocpp
            if tx.charging_since is not None:
                tx.charged_s += max(0.0, now - tx.charging_since)
                tx.charging_since = None
            event = TxEvent(
                event_type="Ended",
                trigger=trigger,
                at=now,
                evse_id=tx.evse_id,
                offline=not self.online,
                charging_state="Idle",
                sample=tx.sample(),
                context="Transaction.End",
                stopped_reason=stopped,
                time_spent_charging_s=tx.charged_s,
            )
            self._event(tx, event, ended=True)
        self._notice(*self._status(tx.evse_id, "Available", now))

    def recover(self, now: float) -> int:
        """End the transactions a crash left open (stoppedReason PowerLoss); returns how many."""
        recovered = self.outbox.open_transactions()
        for open_tx in recovered:
            meter = open_tx.data.get("meter")
            sample = MeterSample.from_data(meter) if meter else None
            event = TxEvent(
                event_type="Ended",
                trigger="AbnormalCondition",
                at=now,
                evse_id=int(open_tx.data.get("evse_id", 1)),
                offline=not self.online,
                charging_state="Idle",
                sample=sample,
                context="Transaction.End",
                stopped_reason="PowerLoss",
            )
            data = {**open_tx.data, "recovered": True}
            tid = open_tx.transaction_id

            def build(seq: int, tid: str = tid, event: TxEvent = event) -> dict[str, Any]:
                return transaction_event(tid, seq, event)

            self.outbox.transaction_event(tid, build, now, data=data, ended=True)
        if recovered:
            self._wake()
        return len(recovered)

    def needs(self, tx: Transaction, payload: dict[str, Any]) -> None:
        """NotifyEVChargingNeeds, while the CSMS is reachable."""
        self._notice("NotifyEVChargingNeeds", payload)

    def allowance(self, tx: Transaction, now: float, volts: float) -> Allowance:
        """What the CSMS's charging profiles allow ``tx`` now."""
        return self.profiles.allowance(
            now,
            evse_id=tx.evse_id,
            transaction_id=tx.transaction_id if tx.started else None,
            started_at=tx.started_at,
            volts=volts,
        )

    def by_transaction(self, transaction_id: str) -> Transaction | None:
        """The running transaction with this id."""
        return next((t for t in self.transactions.values() if t.transaction_id == transaction_id), None)

    def active(self) -> dict[str, int]:
        """Running transactions: transactionId -> EVSE id."""
        return {t.transaction_id: t.evse_id for t in self.transactions.values() if t.started}
