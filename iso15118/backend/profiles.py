"""Charging profiles from the CSMS (SetChargingProfile) and what they allow now: limits, setpoint, discharge. Pure.

OCPP smart charging (2.0.1 and 2.1, functional block K) as far as one charging station's SECC needs it:

* **Purposes.** ``ChargingStationMaxProfile`` caps the whole station; ``TxDefaultProfile`` applies to any
  transaction without a ``TxProfile``; a ``TxProfile`` belongs to one running transaction (its
  ``transactionId``) and is refused without one. ``ChargingStationExternalConstraints`` is the local energy
  manager's, never the CSMS's: refused.
* **Stacking.** Of the valid profiles of a purpose, the highest ``stackLevel`` whose schedule covers the moment
  wins; the transaction's allowance is the Tx (or TxDefault) profile's, capped by the station maximum.
* **Time.** ``Absolute`` schedules start at ``startSchedule``, ``Relative`` ones when the transaction started,
  ``Recurring`` ones every day or week from ``startSchedule``; a schedule with a ``duration`` ends there, and
  ``validFrom``/``validTo`` bound the profile. The period in force is the last one whose ``startPeriod`` has
  passed.
* **Units.** ``W`` as is; ``A`` times the nominal voltage and the period's ``numberPhases`` (3 when absent, as
  OCPP defaults it for AC).
* **OCPP 2.1 V2X.** A period may carry ``dischargeLimit`` (negative: the most the EV may feed back),
  ``setpoint`` (signed: negative discharges) and an ``operationMode``: ``ChargingOnly`` forbids discharge,
  ``CentralSetpoint`` makes the setpoint the EV's target (the SECC's Dynamic-mode ``EVSETargetActivePower``),
  ``Idle`` holds it at 0 W.

:class:`Allowance` is the result for one moment; :class:`ChargingProfiles` keeps the profiles and decides.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["Allowance", "ChargingProfiles", "ProfileRefused", "parse_time"]

_PURPOSES: Final = ("ChargingStationMaxProfile", "TxDefaultProfile", "TxProfile")
_RECURRENCE_S: Final = {"Daily": 86_400.0, "Weekly": 7 * 86_400.0}


class ProfileRefused(Exception):
    """A charging profile the station does not accept; the message says why (the response's reasonCode)."""


def parse_time(text: str) -> float:
    """POSIX seconds of an OCPP dateTime (RFC 3339)."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True, slots=True, kw_only=True)
class Allowance:
    """What the profiles allow at one moment (W; None: no limit from the profiles)."""

    charge_max_w: float | None = None
    discharge_max_w: float | None = None
    """A magnitude: the most the EV may feed back (0: no discharge)."""
    setpoint_w: float | None = None
    """Signed: the power the CSMS wants (negative: discharge)."""
    operation_mode: str | None = None
    profile_id: int | None = None

    def bound(self, power_w: float) -> float:
        """``power_w`` held within the charge and discharge limits."""
        if self.charge_max_w is not None:
            power_w = min(power_w, self.charge_max_w)
        if self.discharge_max_w is not None:
            power_w = max(power_w, -self.discharge_max_w)
        return power_w

    @property
    def restricted(self) -> bool:
        """True when any profile applies."""
        return self.profile_id is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Profile:
    id: int
    evse_id: int
    stack_level: int
    purpose: str
    kind: str
    recurrency: str | None
    valid_from: float | None
    valid_to: float | None
    transaction_id: str | None
    schedules: tuple[dict[str, Any], ...]


def _optional_time(data: dict[str, Any], key: str) -> float | None:
    return parse_time(data[key]) if key in data else None


def _parse(data: dict[str, Any], evse_id: int) -> _Profile:
    purpose = str(data["chargingProfilePurpose"])
    if purpose not in _PURPOSES:
        raise ProfileRefused(f"{purpose} is not set by the CSMS")
    kind = str(data["chargingProfileKind"])
    if kind not in ("Absolute", "Relative", "Recurring"):
        raise ProfileRefused(f"chargingProfileKind {kind} is not supported")
    schedules = data["chargingSchedule"]
    schedules = tuple(schedules if isinstance(schedules, list) else [schedules])
    for schedule in schedules:
        if kind in ("Absolute", "Recurring") and "startSchedule" not in schedule:
            raise ProfileRefused(f"an {kind} schedule needs startSchedule")
        if not schedule["chargingSchedulePeriod"] or schedule["chargingSchedulePeriod"][0]["startPeriod"] != 0:
            raise ProfileRefused("the first chargingSchedulePeriod must start at 0")
    if kind == "Recurring" and data.get("recurrencyKind") not in _RECURRENCE_S:
        raise ProfileRefused("a Recurring profile needs recurrencyKind Daily or Weekly")
    return _Profile(
        id=int(data["id"]),
        evse_id=evse_id,
        stack_level=int(data["stackLevel"]),
        purpose=purpose,
        kind=kind,
        recurrency=data.get("recurrencyKind"),
        valid_from=_optional_time(data, "validFrom"),
        valid_to=_optional_time(data, "validTo"),
        transaction_id=data.get("transactionId"),
        schedules=schedules,
    )


def _watts(value: float, unit: str, period: dict[str, Any], volts: float) -> float:
    if unit == "W":
        return float(value)
    return float(value) * volts * int(period.get("numberPhases", 3))


class ChargingProfiles:
    """The profiles a station holds, and the allowance they give a transaction at a moment."""

    def __init__(self) -> None:
        self._profiles: dict[int, _Profile] = {}
        self.installed = 0
        """Profiles accepted so far."""

    def __len__(self) -> int:
        return len(self._profiles)

    def install(self, data: dict[str, Any], evse_id: int, active_transactions: dict[str, int]) -> None:
        """Install a (schema-valid) ChargingProfileType for ``evse_id``; :class:`ProfileRefused` if not acceptable.

        ``active_transactions`` maps the running transactions to their EVSE.
        """
        profile = _parse(data, evse_id)
        if profile.purpose == "ChargingStationMaxProfile" and evse_id != 0:
            raise ProfileRefused("a ChargingStationMaxProfile applies to evseId 0")
        if profile.purpose == "TxProfile":
            if profile.transaction_id is None:
                raise ProfileRefused("a TxProfile needs the transactionId of a running transaction")
            if active_transactions.get(profile.transaction_id) != evse_id:
                raise ProfileRefused(f"no transaction {profile.transaction_id} runs on EVSE {evse_id}")
        # A profile with the same id replaces the old one; so does one with the same purpose, stack level and EVSE.
        for old in list(self._profiles.values()):
            same_slot = (old.purpose, old.stack_level, old.evse_id) == (profile.purpose, profile.stack_level, evse_id)
            if old.id == profile.id or same_slot:
                del self._profiles[old.id]
        self._profiles[profile.id] = profile
        self.installed += 1

    def clear(
        self,
        *,
        profile_id: int | None = None,
        evse_id: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
    ) -> int:
        """Remove the matching profiles; returns how many."""
        doomed = [
            p.id
            for p in self._profiles.values()
            if (profile_id is None or p.id == profile_id)
            and (evse_id is None or p.evse_id == evse_id)
            and (purpose is None or p.purpose == purpose)
            and (stack_level is None or p.stack_level == stack_level)
        ]
        for pid in doomed:
            del self._profiles[pid]
        return len(doomed)

    def end_transaction(self, transaction_id: str) -> None:
        """A TxProfile ends with its transaction."""
        for p in [p for p in self._profiles.values() if p.transaction_id == transaction_id]:
            del self._profiles[p.id]

    def allowance(
        self, now: float, *, evse_id: int, transaction_id: str | None, started_at: float | None, volts: float
    ) -> Allowance:
        """What applies to ``evse_id`` (running ``transaction_id`` since ``started_at``) at ``now``."""
        tx = self._winner(now, "TxProfile", evse_id, transaction_id, started_at, volts)
        if tx is None:
            tx = self._winner(now, "TxDefaultProfile", evse_id, transaction_id, started_at, volts)
            if tx is None:
                tx = self._winner(now, "TxDefaultProfile", 0, transaction_id, started_at, volts)
        cap = self._winner(now, "ChargingStationMaxProfile", 0, transaction_id, started_at, volts)
        if cap is None:
            return tx or Allowance()
        if tx is None:
            return cap
        charge = [v for v in (tx.charge_max_w, cap.charge_max_w) if v is not None]
        discharge = [v for v in (tx.discharge_max_w, cap.discharge_max_w) if v is not None]
        merged = Allowance(
            charge_max_w=min(charge) if charge else None,
            discharge_max_w=min(discharge) if discharge else None,
            operation_mode=tx.operation_mode,
            profile_id=tx.profile_id,
        )
        setpoint = None if tx.setpoint_w is None else merged.bound(tx.setpoint_w)
        return Allowance(
            charge_max_w=merged.charge_max_w,
            discharge_max_w=merged.discharge_max_w,
            setpoint_w=setpoint,
            operation_mode=merged.operation_mode,
            profile_id=merged.profile_id,
        )

    def _winner(
        self,
        now: float,
        purpose: str,
        evse_id: int,
        transaction_id: str | None,
        started_at: float | None,
        volts: float,
    ) -> Allowance | None:
        candidates = sorted(
            (p for p in self._profiles.values() if p.purpose == purpose and p.evse_id == evse_id),
            key=lambda p: -p.stack_level,
        )
        for profile in candidates:
            if profile.purpose == "TxProfile" and profile.transaction_id != transaction_id:
                continue
            if profile.valid_from is not None and now < profile.valid_from:
                continue
            if profile.valid_to is not None and now >= profile.valid_to:
                continue
            found = self._period(profile, now, started_at, volts)
            if found is not None:
                return found
        return None

    def _period(self, profile: _Profile, now: float, started_at: float | None, volts: float) -> Allowance | None:
        for schedule in profile.schedules:
            if profile.kind == "Relative":
                start = started_at if started_at is not None else now
            else:
                start = parse_time(schedule["startSchedule"])
                if profile.kind == "Recurring" and now >= start:
                    cycle = _RECURRENCE_S[str(profile.recurrency)]
                    start += ((now - start) // cycle) * cycle
            elapsed = now - start
            if elapsed < 0 or ("duration" in schedule and elapsed >= float(schedule["duration"])):
                continue
            periods = [p for p in schedule["chargingSchedulePeriod"] if float(p["startPeriod"]) <= elapsed]
            period = max(periods, key=lambda p: float(p["startPeriod"]))
            return _allowance(profile.id, period, str(schedule["chargingRateUnit"]), volts)
        return None


def _allowance(profile_id: int, period: dict[str, Any], unit: str, volts: float) -> Allowance:
    mode = period.get("operationMode")
    charge = _watts(period["limit"], unit, period, volts) if "limit" in period else None
    discharge = abs(_watts(period["dischargeLimit"], unit, period, volts)) if "dischargeLimit" in period else None
    setpoint = _watts(period["setpoint"], unit, period, volts) if "setpoint" in period else None
    if mode in (None, "ChargingOnly") and discharge is None:
        discharge = 0.0  # without a V2X operation mode the EV only charges
    if mode == "Idle":
        charge, discharge, setpoint = 0.0, 0.0, 0.0
    elif mode != "CentralSetpoint":
        setpoint = None  # the other modes bound the EV's own choice; only CentralSetpoint dictates a target
    limits = Allowance(charge_max_w=charge, discharge_max_w=discharge)
    return Allowance(
        charge_max_w=charge,
        discharge_max_w=discharge,
        setpoint_w=None if setpoint is None else limits.bound(setpoint),
        operation_mode=mode,
        profile_id=profile_id,
    )
