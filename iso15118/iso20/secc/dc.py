"""SECC decisions of the DC energy modes (DC, DC_BPT): charge parameters, cable check, precharge, the charge
loop and welding detection (ISO 15118-20 DC messages; timing in table 217).

- DC_ChargeParameterDiscovery: the BPT element iff DC_BPT was selected; the EV's voltage window must overlap
  the charger's, and its minimum current and power must fit the charger's maximum, else
  ``FAILED_WrongChargeParameter``.
- DC_CableCheck: the charger runs its insulation test, answering ``Ongoing`` until done; a test that ends in
  ``Fault`` (or no valid result) answers ``FAILED``: -20 has no response code of its own for it, and charging
  on a cable with an insulation fault is never allowed (IEC 61851-23).
- DC_PreCharge: the charger drives its output towards the EV's target voltage with a small current; a target
  outside the charger's voltage window is ``FAILED_WrongChargeParameter``.
- DC_ChargeLoop: the control-mode element must match the selected service and control mode; the response
  carries the charger's present voltage and current, whether a limit is reached, and its limits (Dynamic mode:
  the charger's maximum powers carry its setpoint, since DC Dynamic has no target-power element).
- DC_WeldingDetection: the charger reports its output voltage while the EV checks its contactors.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from iso15118.controller import DCCommand, DCLimits, DCLoopRequest, DCOutput, IsolationCheck, IsolationStatus
from iso15118.dcrules import PRECHARGE_CURRENT_A, voltage_window_refusal
from iso15118.decisions import Answer, Input, Need
from iso15118.iso20.secc.loop import checked_mode, meter_info, metered, status_of
from iso15118.iso20.secc.view import Decision, SeccView, answer, discharge, fail, parameters_answer
from iso15118.iso20.services import DC_BPT, loop_mode_field
from iso15118.messages import iso20 as m
from iso15118.messages.units import rational, value_of
from iso15118.session.selection import EnergyFamily

__all__ = [
    "PRECHARGE_CURRENT_A",
    "cable_check",
    "dc_charge_loop",
    "dc_charge_parameter_discovery",
    "precharge",
    "welding_detection",
]

_R = m.ResponseCode
_DC = EnergyFamily.DC


def _limits(v: SeccView) -> DCLimits | Need:
    if Input.DC_LIMITS not in v.inputs:
        return Need(Input.DC_LIMITS)
    limits: DCLimits = v.inputs.get(Input.DC_LIMITS)
    return limits


def _incompatible(mode: Any, limits: DCLimits) -> str | None:
    window = voltage_window_refusal(value_of(mode.ev_minimum_voltage), value_of(mode.ev_maximum_voltage), limits)
    if window is not None:
        return window
    if value_of(mode.ev_minimum_charge_current) > limits.max_charge_current_a:
        return "the EV's minimum charge current exceeds the charger's maximum"
    if value_of(mode.ev_minimum_charge_power) > limits.max_charge_power_w:
        return "the EV's minimum charge power exceeds the charger's maximum"
    return None


def dc_charge_parameter_discovery(req: m.DC_ChargeParameterDiscoveryReq, v: SeccView) -> Decision:
    """DC_ChargeParameterDiscoveryReq: the charger's DC limits for the selected service."""
    bpt = req.bpt_dc_cpd_req_energy_transfer_mode
    plain = req.dc_cpd_req_energy_transfer_mode
    if (v.ctx.service_id == DC_BPT) != (bpt is not None) or (bpt is None and plain is None):
        return fail(req, _R.FAILED_WrongChargeParameter, v, "the energy transfer mode does not match the service")
    mode = bpt or plain
    limits = _limits(v)
    if isinstance(limits, Need):
        return limits
    why = _incompatible(mode, limits)
    if why is not None:
        return fail(req, _R.FAILED_WrongChargeParameter, v, why)
    fields = {
        "evse_maximum_charge_power": rational(limits.max_charge_power_w),
        "evse_minimum_charge_power": rational(limits.min_charge_power_w),
        "evse_maximum_charge_current": rational(limits.max_charge_current_a),
        "evse_minimum_charge_current": rational(limits.min_charge_current_a),
        "evse_maximum_voltage": rational(limits.max_voltage_v),
        "evse_minimum_voltage": rational(limits.min_voltage_v),
    }
    if limits.power_ramp_limitation_w_per_s is not None:
        fields["evse_power_ramp_limitation"] = rational(limits.power_ramp_limitation_w_per_s)
    if bpt is not None:
        fields |= {
            "evse_maximum_discharge_power": discharge(v, limits.max_discharge_power_w),
            "evse_minimum_discharge_power": discharge(v, limits.min_discharge_power_w),
            "evse_maximum_discharge_current": discharge(v, limits.max_discharge_current_a),
            "evse_minimum_discharge_current": discharge(v, limits.min_discharge_current_a),
        }
    return parameters_answer(v, m.DC_ChargeParameterDiscoveryRes, bpt is not None, _CPD_MODES, fields)


_CPD_MODES: Final = (
    ("dc_cpd_res_energy_transfer_mode", m.DC_CPDResEnergyTransferMode),
    ("bpt_dc_cpd_res_energy_transfer_mode", m.BPT_DC_CPDResEnergyTransferMode),
)


def cable_check(req: m.DC_CableCheckReq, v: SeccView) -> Decision:
    """DC_CableCheckReq: the insulation test, Ongoing until it has a result."""
    if Input.CABLE_CHECK not in v.inputs:
        return Need(Input.CABLE_CHECK)
    check: IsolationCheck = v.inputs.get(Input.CABLE_CHECK)
    if not check.done:
        return answer(
            m.DC_CableCheckRes(header=v.header, response_code=_R.OK, evse_processing=m.Processing.Ongoing), v.ctx
        )
    if check.status not in (IsolationStatus.VALID, IsolationStatus.WARNING):
        return fail(req, _R.FAILED, v, f"the insulation test ended {check.status}")
    res = m.DC_CableCheckRes(header=v.header, response_code=_R.OK, evse_processing=m.Processing.Finished)
    return answer(res, replace(v.ctx, cable_checked=True))


def precharge(req: m.DC_PreChargeReq, v: SeccView) -> Decision:
    """DC_PreChargeReq: drive the output towards the EV's target voltage."""
    target = value_of(req.ev_target_voltage)
    limits = _limits(v)
    if isinstance(limits, Need):
        return limits
    if not limits.min_voltage_v <= target <= limits.max_voltage_v:
        return fail(
            req,
            _R.FAILED_WrongChargeParameter,
            v,
            f"precharge target {target:g} V outside the charger's {limits.min_voltage_v:g}-{limits.max_voltage_v:g} V",
        )
    if Input.PRECHARGE not in v.inputs:
        return Need(Input.PRECHARGE, (target, PRECHARGE_CURRENT_A))
    output: DCOutput = v.inputs.get(Input.PRECHARGE)
    res = m.DC_PreChargeRes(
        header=v.header, response_code=_R.OK, evse_present_voltage=rational(output.present_voltage_v)
    )
    return answer(res, replace(v.ctx, precharge_target_v=target))


def _loop_request(req: m.DC_ChargeLoopReq, element: Any, dynamic: bool, discharge: bool) -> DCLoopRequest:
    def opt(name: str) -> float | None:
        value = getattr(element, name, None)
        return None if value is None else value_of(value)

    return DCLoopRequest(
        present_voltage_v=value_of(req.ev_present_voltage),
        target_voltage_v=opt("ev_target_voltage"),
        target_current_a=opt("ev_target_current"),
        max_charge_power_w=opt("ev_maximum_charge_power"),
        min_charge_power_w=opt("ev_minimum_charge_power"),
        max_charge_current_a=opt("ev_maximum_charge_current"),
        max_voltage_v=opt("ev_maximum_voltage"),
        min_voltage_v=opt("ev_minimum_voltage"),
        max_discharge_power_w=opt("ev_maximum_discharge_power"),
        min_discharge_power_w=opt("ev_minimum_discharge_power"),
        max_discharge_current_a=opt("ev_maximum_discharge_current"),
        discharge=discharge,
        dynamic=dynamic,
    )


def _response_mode(bpt: bool, dynamic: bool, limits: DCLimits, command: DCCommand, v: SeccView) -> Any:
    charge_w, discharge_w = limits.max_charge_power_w, limits.max_discharge_power_w
    if dynamic and command.target_power_w is not None:
        # DC Dynamic has no target-power element: the setpoint is the power the charger allows in each direction.
        target = command.target_power_w
        charge_w = min(charge_w, max(target, 0.0))
        discharge_w = min(discharge_w, max(-target, 0.0))
    fields: dict[str, Any] = {
        "evse_maximum_charge_power": rational(charge_w),
        "evse_minimum_charge_power": rational(limits.min_charge_power_w),
        "evse_maximum_charge_current": rational(limits.max_charge_current_a),
        "evse_maximum_voltage": rational(limits.max_voltage_v),
    }
    if bpt:
        fields |= {
            "evse_maximum_discharge_power": discharge(v, discharge_w),
            "evse_minimum_discharge_power": discharge(v, limits.min_discharge_power_w),
            "evse_maximum_discharge_current": discharge(v, limits.max_discharge_current_a),
            "evse_minimum_voltage": rational(limits.min_voltage_v),
        }
    cls = {
        (False, False): m.Scheduled_DC_CLResControlMode,
        (True, False): m.BPT_Scheduled_DC_CLResControlMode,
        (False, True): m.Dynamic_DC_CLResControlMode,
        (True, True): m.BPT_Dynamic_DC_CLResControlMode,
    }[(bpt, dynamic)]
    return cls(**fields)


def dc_charge_loop(req: m.DC_ChargeLoopReq, v: SeccView) -> Decision:
    """DC_ChargeLoopReq: the charger's output, its limits and notifications."""
    found = checked_mode(req, v, DC_BPT)
    if isinstance(found, Answer):
        return found
    bpt, dynamic, element = found
    limits = _limits(v)
    if isinstance(limits, Need):
        return limits
    if Input.DC_LOOP not in v.inputs:
        meter = (Need(Input.METER),) if req.meter_info_requested else ()  # read-only: gathered with the command
        return Need(Input.DC_LOOP, _loop_request(req, element, dynamic, v.ctx.discharge), also=meter)
    command: DCCommand = v.inputs.get(Input.DC_LOOP)
    ctx = replace(v.ctx, loops=v.ctx.loops + 1)
    field_name = loop_mode_field(bpt, dynamic, response=True, family=_DC)
    extra: dict[str, Any] = {field_name: _response_mode(bpt, dynamic, limits, command, v)}
    if req.meter_info_requested:
        reading = v.inputs.get(Input.METER)
        extra["meter_info"] = meter_info(reading, bpt)
        ctx = metered(ctx, reading, v.now)
    status = status_of(command, v)
    if status is not None:
        extra["evse_status"] = status
    res = m.DC_ChargeLoopRes(
        header=v.header,
        response_code=_R.OK,
        evse_present_current=rational(command.present_current_a),
        evse_present_voltage=rational(command.present_voltage_v),
        evse_power_limit_achieved=command.power_limit_achieved,
        evse_current_limit_achieved=command.current_limit_achieved,
        evse_voltage_limit_achieved=command.voltage_limit_achieved,
        **extra,
    )
    return answer(res, ctx)


def welding_detection(req: m.DC_WeldingDetectionReq, v: SeccView) -> Decision:
    """DC_WeldingDetectionReq: the output voltage while the EV checks its contactors."""
    if Input.WELDING not in v.inputs:
        return Need(Input.WELDING)
    output: DCOutput = v.inputs.get(Input.WELDING)
    res = m.DC_WeldingDetectionRes(
        header=v.header, response_code=_R.OK, evse_present_voltage=rational(output.present_voltage_v)
    )
    return answer(res, v.ctx)
