"""EVCC decisions and requests of service negotiation: ServiceDiscovery, ServiceDetail, ServiceSelection.

The EV picks the bidirectional service of its family when it wants to discharge (or is bidirectional and the
charger offers it), and the parameter set with the control mode it asked for. When the charger does not offer
what was asked — discharge without a BPT service, Dynamic control when only Scheduled is offered — the EV stops
and says what was offered instead, unless ``accept_fallback`` lets it go on with the substitution recorded.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from iso15118.controller import ChargeDirection, ControlMode
from iso15118.decisions import Step
from iso15118.iso20.evcc.view import EvccContext, EvccView, charge_parameter_kind, now_send, stop_step
from iso15118.iso20.kinds import Kind
from iso15118.iso20.services import FAMILY_SERVICES, mode_of_service, parse_parameter_set
from iso15118.messages import iso20 as m
from iso15118.session.selection import EnergyFamily

__all__ = [
    "after_service_detail",
    "after_service_discovery",
    "after_service_selection",
    "build_service_detail",
    "build_service_discovery",
    "build_service_selection",
]


def build_service_discovery(v: EvccView) -> m.ServiceDiscoveryReq:
    """ServiceDiscoveryReq (no filter)."""
    return m.ServiceDiscoveryReq(header=v.header)


def _names(services: tuple[int, ...]) -> str:
    return ", ".join(str(mode_of_service(s) or s) for s in services) or "no service"


def after_service_discovery(res: m.ServiceDiscoveryRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """Choose the service of the session's family: BPT when the EV discharges or is bidirectional."""
    offered = tuple(s.service_id for s in res.energy_transfer_service_list.service)
    family = v.selection.family or EnergyFamily.AC
    plain, bpt = FAMILY_SERVICES[family]
    discharge = v.ev.direction is ChargeDirection.DISCHARGE
    wants_bpt = v.config.bidirectional and v.ev.limits.bidirectional
    ctx = replace(v.ctx, offered=offered)
    if wants_bpt and bpt in offered:
        service = bpt
    elif plain in offered and not discharge:
        service = plain
    elif discharge and v.config.accept_fallback and plain in offered:
        service = plain
        ctx = replace(
            ctx, substitutions=(*ctx.substitutions, f"discharge asked, the SECC offers {_names(offered)}: charging")
        )
    elif discharge:
        why = f"discharge needs {mode_of_service(bpt)}; the SECC offers {_names(offered)}"
        if not v.ev.limits.bidirectional or not v.config.bidirectional:
            why = f"discharge asked, but this EV is not bidirectional (the SECC offers {_names(offered)})"
        return stop_step(replace(v, ctx=ctx), why)
    else:
        return stop_step(replace(v, ctx=ctx), f"no {family} service offered (the SECC offers {_names(offered)})")
    return Step(replace(ctx, service_id=service), sends=(now_send(Kind.ServiceDetailReq),))


def build_service_detail(v: EvccView) -> m.ServiceDetailReq:
    """ServiceDetailReq for the chosen service."""
    assert v.ctx.service_id is not None
    return m.ServiceDetailReq(header=v.header, service_id=v.ctx.service_id)


def after_service_detail(res: m.ServiceDetailRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """Pick the parameter set with the asked control mode."""
    sets = [parse_parameter_set(ps) for ps in res.service_parameter_list.parameter_set]
    wanted = 2 if v.config.control_mode is ControlMode.DYNAMIC else 1
    chosen = next((s for s in sets if s.control_mode == wanted), None)
    ctx = v.ctx
    if chosen is None:
        offered = ", ".join(sorted({"Dynamic" if s.control_mode == 2 else "Scheduled" for s in sets})) or "none"
        why = f"{v.config.control_mode} control asked, the SECC offers {offered}"
        if not v.config.accept_fallback or not sets:
            return stop_step(v, why)
        chosen = sets[0]
        ctx = replace(ctx, substitutions=(*ctx.substitutions, f"{why}: {offered} used"))
    ctx = replace(ctx, parameter_set=chosen.set_id, dynamic=chosen.control_mode == 2)
    return Step(ctx, sends=(now_send(Kind.ServiceSelectionReq),))


def build_service_selection(v: EvccView) -> m.ServiceSelectionReq:
    """ServiceSelectionReq: the chosen service and parameter set."""
    assert v.ctx.service_id is not None and v.ctx.parameter_set is not None
    sel = m.SelectedService(service_id=v.ctx.service_id, parameter_set_id=v.ctx.parameter_set)
    return m.ServiceSelectionReq(header=v.header, selected_energy_transfer_service=sel)


def after_service_selection(res: Any, req: Any, v: EvccView) -> Step[EvccContext]:
    """On to the charge parameters of the session's family."""
    return Step(v.ctx, sends=(now_send(charge_parameter_kind(v)),))
