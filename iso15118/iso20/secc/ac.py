"""SECC decisions of the AC energy modes (AC, AC_BPT): AC_ChargeParameterDiscovery and AC_ChargeLoop.

The BPT element comes iff AC_BPT was selected, and the EV's minimum must fit the charger's maximum
(``FAILED_WrongChargeParameter``, fact sheet 2.7). In the loop, the control-mode element must match the
selected service and control mode; the response mirrors it (BPT_Dynamic request -> BPT_Dynamic response), and
carries MeterInfo when asked [V2G20-1081…1083] and the charger's notifications.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from iso15118.controller import EvseCommand, EVSELimits, MeterReading
from iso15118.decisions import Answer, Input, Need
from iso15118.iso20.secc.loop import checked_mode, meter_info, metered, status_of
from iso15118.iso20.secc.view import Decision, SeccView, answer, discharge, fail, parameters_answer
from iso15118.iso20.services import AC_BPT, LOOP_RESPONSE_MODES, loop_mode_field
from iso15118.messages import iso20 as m
from iso15118.messages.units import rational, value_of
from iso15118.session.selection import EnergyFamily

__all__ = ["ac_charge_loop", "ac_charge_parameter_discovery"]

_R = m.ResponseCode
_LOOP_CLASSES: dict[str, type] = {
    loop_mode_field(b, d, response=True): cls
    for (b, d), cls in {
        (False, False): m.Scheduled_AC_CLResControlMode,
        (True, False): m.BPT_Scheduled_AC_CLResControlMode,
        (False, True): m.Dynamic_AC_CLResControlMode,
        (True, True): m.BPT_Dynamic_AC_CLResControlMode,
    }.items()
}
assert set(_LOOP_CLASSES) == set(LOOP_RESPONSE_MODES[EnergyFamily.AC])


def ac_charge_parameter_discovery(req: m.AC_ChargeParameterDiscoveryReq, v: SeccView) -> Decision:
    """AC_ChargeParameterDiscoveryReq: the charger's AC limits for the selected service."""
    bpt = req.bpt_ac_cpd_req_energy_transfer_mode
    plain = req.ac_cpd_req_energy_transfer_mode
    if (v.ctx.service_id == AC_BPT) != (bpt is not None) or (bpt is None and plain is None):
        return fail(req, _R.FAILED_WrongChargeParameter, v, "the energy transfer mode does not match the service")
    mode = bpt or plain
    assert mode is not None
    if Input.LIMITS not in v.inputs:
        return Need(Input.LIMITS)
    limits: EVSELimits = v.inputs.get(Input.LIMITS)
    if value_of(mode.ev_minimum_charge_power) > limits.max_charge_w:
        return fail(
            req, _R.FAILED_WrongChargeParameter, v, "the EV's minimum charge power exceeds the charger's maximum"
        )
    fields = {
        "evse_maximum_charge_power": rational(limits.max_charge_w),
        "evse_minimum_charge_power": rational(limits.min_charge_w),
        "evse_nominal_frequency": rational(limits.nominal_frequency_hz),
    }
    if bpt is not None:
        fields["evse_maximum_discharge_power"] = discharge(v, limits.max_discharge_w)
        fields["evse_minimum_discharge_power"] = discharge(v, limits.min_discharge_w)
    return parameters_answer(v, m.AC_ChargeParameterDiscoveryRes, bpt is not None, _CPD_MODES, fields)


_CPD_MODES: Final = (
    ("ac_cpd_res_energy_transfer_mode", m.AC_CPDResEnergyTransferMode),
    ("bpt_ac_cpd_res_energy_transfer_mode", m.BPT_AC_CPDResEnergyTransferMode),
)


def ac_charge_loop(req: m.AC_ChargeLoopReq, v: SeccView) -> Decision:
    """AC_ChargeLoopReq: the charger's setpoint (Dynamic) or limits, MeterInfo and notifications."""
    found = checked_mode(req, v, AC_BPT)
    if isinstance(found, Answer):
        return found
    bpt, dynamic, element = found
    present = value_of(element.ev_present_active_power)
    if Input.LOOP_COMMAND not in v.inputs:
        ev_state = {"present_power_w": present}
        for name in (
            "ev_target_energy_request",
            "ev_maximum_energy_request",
            "ev_minimum_energy_request",
            "ev_maximum_charge_power",
            "ev_maximum_discharge_power",
        ):
            value = getattr(element, name, None)
            if value is not None:
                ev_state[name] = value_of(value)
        # The meter reading is read-only: gathered with the setpoint, not after another run of this decision.
        meter = (Need(Input.METER),) if req.meter_info_requested else ()
        return Need(Input.LOOP_COMMAND, (present, ev_state), also=meter)
    command: EvseCommand = v.inputs.get(Input.LOOP_COMMAND)
    ctx = replace(v.ctx, loops=v.ctx.loops + 1)
    target = command.target_power_w
    fields: dict[str, Any] = {}
    if dynamic:
        fields["evse_target_active_power"] = rational(target if target is not None else 0.0)
    elif target is not None:
        fields["evse_target_active_power"] = rational(target)
    field_name = loop_mode_field(bpt, dynamic, response=True)
    extra: dict[str, Any] = {field_name: _LOOP_CLASSES[field_name](**fields)}
    if req.meter_info_requested:
        reading: MeterReading = v.inputs.get(Input.METER)
        extra["meter_info"] = meter_info(reading, bpt)
        ctx = metered(ctx, reading, v.now)
    status = status_of(command, v)
    if status is not None:
        extra["evse_status"] = status
    if command.frequency_hz is not None:
        extra["evse_target_frequency"] = rational(command.frequency_hz)
    return answer(m.AC_ChargeLoopRes(header=v.header, response_code=_R.OK, **extra), ctx)
