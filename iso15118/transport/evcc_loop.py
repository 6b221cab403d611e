"""The EV's AC_ChargeLoopReq content: its control-mode element for AC and AC_BPT, Dynamic and Scheduled."""

from __future__ import annotations

from typing import Any

from iso15118.controller import EVState
from iso15118.messages import iso20 as m
from iso15118.messages.units import rational

__all__ = ["discharge_limit", "loop_control_mode"]


def discharge_limit(value_w: float, *, negative: bool) -> m.RationalNumber:
    """A discharge power limit as a magnitude, or as a power <= 0 with ``negative`` [V2G20-1034] [V2G20-1035]."""
    return rational(-value_w if negative else value_w)


def loop_control_mode(state: EVState, *, bpt: bool, dynamic: bool, negative: bool) -> Any:
    """The control-mode element of an AC_ChargeLoopReq for ``state`` (AC or AC_BPT, Dynamic or Scheduled).

    ``negative``: send discharge limits as powers <= 0 (fact sheet 6.1: implementations disagree on the sign).
    """
    lim = state.limits
    fields: dict[str, Any] = {"ev_present_active_power": rational(state.present_power_w)}
    energy = {
        "ev_target_energy_request": rational(state.target_energy_wh),
        "ev_maximum_energy_request": rational(state.max_energy_wh),
        "ev_minimum_energy_request": rational(state.min_energy_wh),
    }
    if dynamic:
        fields |= energy
        fields |= {
            "ev_maximum_charge_power": rational(lim.max_charge_w),
            "ev_minimum_charge_power": rational(lim.min_charge_w),
            "ev_present_reactive_power": rational(0),
        }
        if state.departure_s:
            fields["departure_time"] = state.departure_s
        if bpt:
            fields |= {
                "ev_maximum_discharge_power": discharge_limit(lim.max_discharge_w, negative=negative),
                "ev_minimum_discharge_power": discharge_limit(lim.min_discharge_w, negative=negative),
            }
            if state.max_v2x_energy_wh is not None and state.min_v2x_energy_wh is not None:
                fields |= {
                    "ev_maximum_v2x_energy_request": rational(state.max_v2x_energy_wh),
                    "ev_minimum_v2x_energy_request": rational(state.min_v2x_energy_wh),
                }
        cls: type = m.BPT_Dynamic_AC_CLReqControlMode if bpt else m.Dynamic_AC_CLReqControlMode
    else:
        fields |= energy | {"ev_maximum_charge_power": rational(lim.max_charge_w)}
        if bpt:
            fields["ev_maximum_discharge_power"] = discharge_limit(lim.max_discharge_w, negative=negative)
        cls = m.BPT_Scheduled_AC_CLReqControlMode if bpt else m.Scheduled_AC_CLReqControlMode
    return cls(**fields)
