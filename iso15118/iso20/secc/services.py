"""SECC decisions of service negotiation: ServiceDiscovery, ServiceDetail, ServiceSelection.

A session offers the conductive services of the family its namespace fixed (fact sheet 2.2), among those
configured, and the bidirectional one only when the charger says it can discharge. Details or a selection of a
service that was not offered answer ``FAILED_ServiceIDInvalid``, an undefined parameter set
``FAILED_ServiceSelectionInvalid`` (fact sheet 2.6).
"""

from __future__ import annotations

from dataclasses import replace

from iso15118.config import PRICING
from iso15118.controller import DCLimits, EVSELimits
from iso15118.decisions import Input, Need
from iso15118.iso20.secc.view import Decision, SeccView, answer, fail
from iso15118.iso20.services import FAMILY_SERVICES, parameter_sets
from iso15118.messages import iso20 as m
from iso15118.session.selection import EnergyFamily

__all__ = ["offered_services", "service_detail", "service_discovery", "service_selection"]

_R = m.ResponseCode


def _limits_input(v: SeccView) -> Input:
    return Input.DC_LIMITS if v.selection.family is EnergyFamily.DC else Input.LIMITS


def offered_services(v: SeccView) -> tuple[int, ...] | Need:
    """The service IDs this session offers (Need: the charger's limits first)."""
    family = v.selection.family or EnergyFamily.AC
    if family is EnergyFamily.DC and not v.dc_capable:
        return ()
    what = _limits_input(v)
    if what not in v.inputs:
        return Need(what)
    limits: EVSELimits | DCLimits = v.inputs.get(what)
    plain, bpt = FAMILY_SERVICES[family]
    return tuple(s for s in v.config.services if s == plain or (s == bpt and limits.bidirectional))


def service_discovery(req: m.ServiceDiscoveryReq, v: SeccView) -> Decision:
    """ServiceDiscoveryReq: the energy transfer services of this session."""
    services = offered_services(v)
    if isinstance(services, Need):
        return services
    if not services:
        # No energy service of this family can be offered (e.g. DC without a DC output).
        return fail(req, _R.FAILED_NoEnergyTransferServiceSelected, v, "no energy service of this family is offered")
    res = m.ServiceDiscoveryRes(
        header=v.header,
        response_code=_R.OK,
        service_renegotiation_supported=v.config.service_renegotiation,
        energy_transfer_service_list=m.ServiceList(
            service=tuple(m.Service(service_id=s, free_service=v.config.free_service) for s in services)
        ),
    )
    return answer(res, v.ctx)


def service_detail(req: m.ServiceDetailReq, v: SeccView) -> Decision:
    """ServiceDetailReq: one parameter set per control mode offered."""
    services = offered_services(v)
    if isinstance(services, Need):
        return services
    if req.service_id not in services:
        return fail(req, _R.FAILED_ServiceIDInvalid, v, f"service {req.service_id} was not offered")
    three_phase, nominal = False, 230
    if Input.LIMITS in v.inputs:
        limits: EVSELimits = v.inputs.get(Input.LIMITS)
        three_phase, nominal = limits.three_phase, round(limits.nominal_voltage_v)
    params = parameter_sets(
        req.service_id,
        control_modes=v.config.control_modes,
        three_phase=three_phase,
        nominal_voltage=nominal,
        bpt_channel=v.config.bpt_channel,
        generator_mode=v.config.generator_mode,
        islanding_detection=v.config.islanding_detection,
        pricing=PRICING[v.config.pricing],
    )
    res = m.ServiceDetailRes(
        header=v.header, response_code=_R.OK, service_id=req.service_id, service_parameter_list=params
    )
    return answer(res, v.ctx)


def service_selection(req: m.ServiceSelectionReq, v: SeccView) -> Decision:
    """ServiceSelectionReq: the service and parameter set the EV chose."""
    services = offered_services(v)
    if isinstance(services, Need):
        return services
    sel = req.selected_energy_transfer_service
    if sel.service_id not in services:
        return fail(req, _R.FAILED_ServiceIDInvalid, v, f"service {sel.service_id} was not offered")
    if not 1 <= sel.parameter_set_id <= len(v.config.control_modes):
        return fail(req, _R.FAILED_ServiceSelectionInvalid, v, f"parameter set {sel.parameter_set_id} is not defined")
    ctx = replace(
        v.ctx,
        service_id=sel.service_id,
        parameter_set=sel.parameter_set_id,
        control_mode=v.config.control_modes[sel.parameter_set_id - 1],
    )
    return answer(m.ServiceSelectionRes(header=v.header, response_code=_R.OK), ctx)
