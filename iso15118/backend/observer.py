"""What the EV tells the charger that the CSMS should hear: charging needs, state of charge, the contract chain.

:class:`BackendObserver` is a session observer (:class:`~iso15118.transport.driver.EventWatcher`) on the SECC:
it reads the ISO 15118-20 requests the EV sends and notes on the session's transaction what the controller
interface does not carry --

* the contract chain of a PnC AuthorizationReq (for Authorize's certificate hash data and the OCSP check);
* the EV's power limits from the charge-parameter discovery and its energy requests and departure time from
  ScheduleExchangeReq, which become **NotifyEVChargingNeeds** (:func:`charging_needs`);
* the state of charge the EV displays in its charge-loop requests (the ``SoC`` of the meter values).

Sessions are told apart by peer address; a session's transaction is found by its SessionID, which the
controller's ``session_established`` report also names. Messages of other generations are not read yet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from iso15118.backend.rpc import OcppVersion
from iso15118.backend.station import Station, Transaction
from iso15118.backend.transactions import timestamp
from iso15118.messages.units import value_of
from iso15118.session.events import Event, MessageReceived, SessionEnded, SessionEstablished

__all__ = ["BackendObserver", "charging_needs"]

_POWERS = (
    ("ev_maximum_charge_power", "maxChargePower"),
    ("ev_minimum_charge_power", "minChargePower"),
    ("ev_maximum_discharge_power", "maxDischargePower"),
    ("ev_minimum_discharge_power", "minDischargePower"),
)
_MODES = {
    False: ("ac_cpd_req_energy_transfer_mode", "bpt_ac_cpd_req_energy_transfer_mode"),
    True: ("dc_cpd_req_energy_transfer_mode", "bpt_dc_cpd_req_energy_transfer_mode"),
}
_ENERGIES = (
    ("ev_target_energy_request", "evTargetEnergyRequest"),
    ("ev_maximum_energy_request", "evMaxEnergyRequest"),
    ("ev_minimum_energy_request", "evMinEnergyRequest"),
    ("ev_maximum_v2x_energy_request", "evMaxV2XEnergyRequest"),
    ("ev_minimum_v2x_energy_request", "evMinV2XEnergyRequest"),
)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    return float(value) if isinstance(value, int | float) else float(value_of(value))


def charging_needs(version: OcppVersion, tx: Transaction, now: float) -> dict[str, Any]:
    """The NotifyEVChargingNeedsRequest payload from what the EV told (``tx.needs``)."""
    n = tx.needs
    volts, phases = tx.volts, tx.phases
    needs: dict[str, Any] = {}
    v21 = version is OcppVersion.V21
    if tx.dc:
        needs["requestedEnergyTransfer"] = "DC_BPT" if v21 and tx.bidirectional else "DC"
    elif v21 and tx.bidirectional:
        needs["requestedEnergyTransfer"] = "AC_BPT"
    else:
        needs["requestedEnergyTransfer"] = "AC_three_phase" if phases == 3 else "AC_single_phase"
    if n.get("departure_time") is not None:
        needs["departureTime"] = timestamp(now + float(n["departure_time"]))
    energy = n.get("ev_target_energy_request") or n.get("ev_maximum_energy_request") or 0.0
    max_w = float(n.get("ev_maximum_charge_power") or 0.0)
    if tx.dc:
        volts_dc = float(n.get("ev_maximum_voltage") or volts)
        current = float(n.get("ev_maximum_charge_current") or (max_w / volts_dc if volts_dc else 0.0))
        dc: dict[str, Any] = {"evMaxCurrent": round(current), "evMaxVoltage": round(volts_dc)}
        if energy:
            dc["energyAmount"] = round(float(energy))
        if max_w:
            dc["evMaxPower"] = round(max_w)
        if tx.soc is not None:
            dc["stateOfCharge"] = round(tx.soc)
        needs["dcChargingParameters"] = dc
    else:
        per_amp = volts * phases
        needs["acChargingParameters"] = {
            "energyAmount": round(float(energy)),
            "evMinCurrent": round(float(n.get("ev_minimum_charge_power") or 0.0) / per_amp),
            "evMaxCurrent": round(max_w / per_amp),
            "evMaxVoltage": round(volts),
        }
    payload: dict[str, Any] = {"chargingNeeds": needs, "evseId": tx.evse_id}
    if v21:
        needs["controlMode"] = "DynamicControl" if n.get("dynamic") else "ScheduledControl"
        needs["mobilityNeedsMode"] = "EVCC"
        v2x = {key: abs(n[name]) for name, key in _POWERS if n.get(name) is not None}
        v2x |= {key: n[name] for name, key in _ENERGIES if n.get(name) is not None}
        if n.get("target_soc") is not None:
            v2x["targetSoC"] = int(n["target_soc"])
        if v2x:
            needs["v2xChargingParameters"] = v2x
        payload["timestamp"] = timestamp(now)
    return payload


class BackendObserver:
    """Reads the EV's requests on behalf of the station (an EventWatcher for the SECC's sessions)."""

    def __init__(self, station: Station, clock: Callable[[], float]) -> None:
        self.station = station
        self.clock = clock
        self._peers: dict[str, str] = {}

    async def observe(self, event: Event, *, role: str, peer: str) -> None:
        """Note what ``event`` tells about the EV."""
        if role != "secc":
            return
        if isinstance(event, SessionEstablished):
            self._peers[peer] = event.session_id.hex()
            return
        if isinstance(event, SessionEnded):
            self._peers.pop(peer, None)
            return
        if not isinstance(event, MessageReceived):
            return
        key = self._peers.get(peer)
        tx = self.station.transactions.get(key) if key is not None else None
        if tx is not None:
            self.read(tx, event.message)

    def read(self, tx: Transaction, message: Any) -> None:
        """Note what one EV request tells."""
        name = type(message).__name__
        if name == "AuthorizationReq" and getattr(message, "pnc_a_req_authorization_mode", None) is not None:
            chain = message.pnc_a_req_authorization_mode.contract_certificate_chain
            subs = chain.sub_certificates.certificate if chain.sub_certificates is not None else ()
            tx.contract = (chain.certificate, *subs)
        elif name.endswith("ChargeParameterDiscoveryReq"):
            self._parameters(tx, message, dc=name.startswith("DC"))
        elif name == "ScheduleExchangeReq":
            self._schedule_exchange(tx, message)
        elif name.endswith("ChargeLoopReq"):
            display = getattr(message, "display_parameters", None)
            if display is not None and display.present_soc is not None:
                tx.soc = float(display.present_soc)

    def _parameters(self, tx: Transaction, message: Any, *, dc: bool) -> None:
        tx.dc = dc
        bpt = getattr(message, _MODES[dc][1], None)
        tx.bidirectional = bpt is not None
        mode = bpt if bpt is not None else getattr(message, _MODES[dc][0], None)
        if mode is None:
            return
        for name in (*(p for p, _ in _POWERS), "ev_maximum_charge_current", "ev_maximum_voltage", "target_soc"):
            value = _number(getattr(mode, name, None))
            if value is not None:
                tx.needs[name] = value

    def _schedule_exchange(self, tx: Transaction, message: Any) -> None:
        mode = message.dynamic_se_req_control_mode or message.scheduled_se_req_control_mode
        tx.needs["dynamic"] = message.dynamic_se_req_control_mode is not None
        if mode is None:
            return
        tx.needs["departure_time"] = getattr(mode, "departure_time", None)
        for name, _ in _ENERGIES:
            value = _number(getattr(mode, name, None))
            if value is not None:
                tx.needs[name] = value
        if getattr(mode, "target_soc", None) is not None:
            tx.needs["target_soc"] = mode.target_soc
        if tx.started:
            self.station.needs(tx, charging_needs(self.station.config.version, tx, self.clock()))
