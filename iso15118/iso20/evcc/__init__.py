"""The ISO 15118-20 EVCC as pure decisions: what follows each response (:data:`NEXT`), how each request is
built when it is due (:data:`BUILD`), and the requests whose sending depends on the EV at that moment
(:data:`DUE`: the charge loop, which may turn into PowerDelivery(Stop)).

The session core's sequence table checks every request before it leaves; these tables only choose among the
requests it admits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final

from iso15118.decisions import Step
from iso15118.iso20.evcc.charge import (
    after_charge_parameters,
    after_power_delivery,
    after_renegotiated_schedule,
    after_schedule_exchange,
    build_ac_charge_parameters,
    build_dc_charge_parameters,
    build_power_delivery,
    build_schedule_exchange,
)
from iso15118.iso20.evcc.dc import (
    after_cable_check,
    after_precharge,
    after_welding_detection,
    build_cable_check,
    build_precharge,
    build_welding_detection,
)
from iso15118.iso20.evcc.installation import after_certificate_installation, build_certificate_installation
from iso15118.iso20.evcc.loop import (
    after_ac_loop,
    after_dc_loop,
    after_metering_confirmation,
    build_loop,
    build_metering_confirmation,
    loop_due,
)
from iso15118.iso20.evcc.services import (
    after_service_detail,
    after_service_discovery,
    after_service_selection,
    build_service_detail,
    build_service_discovery,
    build_service_selection,
)
from iso15118.iso20.evcc.setup import (
    after_authorization,
    after_authorization_setup,
    after_session_setup,
    build_authorization,
    build_authorization_setup,
    build_session_setup,
)
from iso15118.iso20.evcc.stop import after_session_stop, build_session_stop
from iso15118.iso20.evcc.view import EvccContext, EvccView, now_send
from iso15118.iso20.kinds import Kind
from iso15118.session.profile import Stream

__all__ = ["BUILD", "DUE", "NEXT", "NEXT_SIDE", "EvccContext", "EvccView", "after_sap", "build"]

After = Callable[[Any, Any, EvccView], Step[EvccContext]]
Builder = Callable[[EvccView, Stream], Any]


def _main(fn: Callable[[EvccView], Any]) -> Builder:
    return lambda v, stream: fn(v)


def after_sap(res: Any, req: Any, v: EvccView) -> Step[EvccContext]:
    """The protocol is agreed: SessionSetup."""
    return Step(v.ctx, sends=(now_send(Kind.SessionSetupReq),))


NEXT: Final[dict[Kind, After]] = {
    Kind.SessionSetupRes: after_session_setup,
    Kind.AuthorizationSetupRes: after_authorization_setup,
    Kind.CertificateInstallationRes: after_certificate_installation,
    Kind.AuthorizationRes: after_authorization,
    Kind.ServiceDiscoveryRes: after_service_discovery,
    Kind.ServiceDetailRes: after_service_detail,
    Kind.ServiceSelectionRes: after_service_selection,
    Kind.AC_ChargeParameterDiscoveryRes: after_charge_parameters,
    Kind.DC_ChargeParameterDiscoveryRes: after_charge_parameters,
    Kind.ScheduleExchangeRes: after_schedule_exchange,
    Kind.DC_CableCheckRes: after_cable_check,
    Kind.DC_PreChargeRes: after_precharge,
    Kind.PowerDeliveryRes: after_power_delivery,
    Kind.AC_ChargeLoopRes: after_ac_loop,
    Kind.DC_ChargeLoopRes: after_dc_loop,
    Kind.DC_WeldingDetectionRes: after_welding_detection,
    Kind.MeteringConfirmationRes: after_metering_confirmation,
    Kind.SessionStopRes: after_session_stop,
}
"""Main-stream (and default side-stream) responses -> what comes next."""

NEXT_SIDE: Final[dict[tuple[Stream, Kind], After]] = {
    (Stream.SCHEDULE_RENEGOTIATION, Kind.ScheduleExchangeRes): after_renegotiated_schedule,
}
"""Side-stream responses whose consequence differs from the main stream's."""

BUILD: Final[dict[Kind, Builder]] = {
    Kind.SessionSetupReq: _main(build_session_setup),
    Kind.AuthorizationSetupReq: _main(build_authorization_setup),
    Kind.AuthorizationReq: _main(build_authorization),
    Kind.CertificateInstallationReq: _main(build_certificate_installation),
    Kind.ServiceDiscoveryReq: _main(build_service_discovery),
    Kind.ServiceDetailReq: _main(build_service_detail),
    Kind.ServiceSelectionReq: _main(build_service_selection),
    Kind.AC_ChargeParameterDiscoveryReq: _main(build_ac_charge_parameters),
    Kind.DC_ChargeParameterDiscoveryReq: _main(build_dc_charge_parameters),
    Kind.ScheduleExchangeReq: _main(build_schedule_exchange),
    Kind.DC_CableCheckReq: _main(build_cable_check),
    Kind.DC_PreChargeReq: _main(build_precharge),
    Kind.PowerDeliveryReq: build_power_delivery,
    Kind.AC_ChargeLoopReq: _main(build_loop),
    Kind.DC_ChargeLoopReq: _main(build_loop),
    Kind.DC_WeldingDetectionReq: _main(build_welding_detection),
    Kind.MeteringConfirmationReq: _main(build_metering_confirmation),
    Kind.SessionStopReq: _main(build_session_stop),
}
"""Request kind -> how the EV builds it when it is due."""

DUE: Final[dict[Kind, Callable[[EvccView], Step[EvccContext]]]] = {
    Kind.AC_ChargeLoopReq: loop_due,
    Kind.DC_ChargeLoopReq: loop_due,
}
"""Requests whose sending is decided again when they are due (the EV may be done by then)."""


def build(kind: Kind, v: EvccView, stream: Stream = Stream.MAIN) -> Any:
    """Build a due request of ``kind``."""
    return BUILD[kind](v, stream)


def stopped(v: EvccView, why: str) -> EvccContext:
    """The context of an EV that stops because of ``why`` (used when the runner is asked to stop)."""
    return replace(v.ctx, stopping=v.ctx.stopping or "Terminate", failure=v.ctx.failure or why)
