"""Grid-support events as the reference CSMS dispatches them: a daily window and the power to export in it.

When a transaction starts on an OCPP 2.1 station, the CSMS sends it a TxProfile for the next occurrence of each
window (an ``Absolute`` schedule in the station's own time, taken from the TransactionEvent's timestamp): one
period in ``CentralSetpoint`` operation with ``setpoint`` and ``dischargeLimit`` at minus the export power.
Outside the window no profile applies and the station charges as it would anyway. OCPP 2.0.1 has no discharge,
so 2.0.1 stations get nothing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from iso15118.backend.transactions import timestamp
from iso15118.errors import ConfigError

__all__ = ["GridDispatch", "parse_grid_event"]

_DAY = 86_400.0
_FORM = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})/(\d+(?:\.\d+)?)")


@dataclass(frozen=True, slots=True, kw_only=True)
class GridDispatch:
    """A daily window [start, end) in seconds after 00:00 UTC, and the power (W) the CSMS asks to export."""

    start_s: float
    end_s: float
    export_w: float

    def window_after(self, t: float) -> tuple[float, float]:
        """The first occurrence (POSIX start, end) of the window that has not ended at ``t``."""
        day = math.floor(t / _DAY) * _DAY
        start = day + self.start_s
        end = day + self.end_s + (_DAY if self.end_s <= self.start_s else 0.0)
        if end <= t:
            start, end = start + _DAY, end + _DAY
        return start, end

    def profile(self, started_at: float, transaction_id: str, profile_id: int) -> dict[str, Any]:
        """The OCPP 2.1 ChargingProfileType for a transaction that started at ``started_at`` (station time)."""
        start, end = self.window_after(started_at)
        period = {
            "startPeriod": 0,
            "operationMode": "CentralSetpoint",
            "setpoint": -self.export_w,
            "dischargeLimit": -self.export_w,
        }
        schedule = {
            "id": profile_id,
            "startSchedule": timestamp(start),
            "duration": int(end - start),
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [period],
        }
        return {
            "id": profile_id,
            "stackLevel": 1,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Absolute",
            "transactionId": transaction_id,
            "chargingSchedule": [schedule],
        }


def parse_grid_event(text: str) -> GridDispatch:
    """``HH:MM-HH:MM/WATTS`` (UTC) -> GridDispatch; ConfigError naming what is wrong."""
    found = _FORM.fullmatch(text.strip())
    if found is None:
        raise ConfigError(f"a grid event is HH:MM-HH:MM/WATTS (UTC), e.g. 17:00-20:00/8000, not {text!r}")
    h1, m1, h2, m2 = (int(found.group(i)) for i in range(1, 5))
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59:
        raise ConfigError(f"{text!r}: not a time of day")
    watts = float(found.group(5))
    if watts <= 0:
        raise ConfigError(f"{text!r}: the export power must be > 0 W")
    return GridDispatch(start_s=h1 * 3600.0 + m1 * 60.0, end_s=h2 * 3600.0 + m2 * 60.0, export_w=watts)
