"""DIN 70121 and ISO 15118-2 as the harness speaks them: the parts of
:class:`~harness.conformance.protocol.Protocol` that read ``V2G_Message`` documents.

Both generations carry a message's fields in the Body element of a ``V2G_Message`` (the header beside it), share
payload type 0x8001 with SupportedAppProtocol and the envelope's message kinds (:mod:`iso15118.envelope`). What
differs is small and handled here: -2 serves AC and DC under one namespace and stops the loop with
EVSENotification ``StopCharging``, DIN is DC only and stops it with DC_EVSEStatusCode ``EVSE_Shutdown``
[V2G-DC-500]; the tester EV starts with the profile's energy transfer mode and external payment chosen (so that a
request sent out of order can still be built). The tester's own view of the session is learnt here too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Final

from harness.conformance.context import Context
from harness.conformance.protocol import Generation, Protocol
from iso15118.constants import NS_DIN, NS_ISO2
from iso15118.decisions import Step
from iso15118.din import evcc as din_evcc
from iso15118.din.evcc.view import EvccContext as DinEvContext
from iso15118.din.profile import DIN
from iso15118.envelope.kinds import Kind
from iso15118.envelope.physical import value_of
from iso15118.envelope.profile import EnvelopeProfile
from iso15118.iso2 import evcc as iso2_evcc
from iso15118.iso2.evcc.view import EvccContext as Iso2EvContext
from iso15118.iso2.profile import ISO2
from iso15118.session.failures import minimal_instance
from iso15118.session.profile import Stream
from iso15118.session.selection import EnergyFamily

__all__ = ["DIN_PROTOCOL", "ISO2_PROTOCOL", "EnvelopeProtocol", "dc_limits", "offered"]

_DEFAULT_MODE: Final = {EnergyFamily.AC: "AC_three_phase_core", EnergyFamily.DC: "DC_extended"}
"""The -2 energy transfer mode the tester EV starts with (the library EV picks again from the SUT's offer)."""


def dc_limits(parameter: Any) -> dict[str, float]:
    """The limits of a DC_EVSEChargeParameter (or a CurrentDemandRes) as magnitudes, those it has."""
    names = {
        "max_charge_a": "evse_maximum_current_limit",
        "min_charge_a": "evse_minimum_current_limit",
        "max_voltage_v": "evse_maximum_voltage_limit",
        "min_voltage_v": "evse_minimum_voltage_limit",
        "max_charge_w": "evse_maximum_power_limit",
    }
    found = {key: getattr(parameter, name, None) for key, name in names.items()}
    return {key: abs(value_of(v)) for key, v in found.items() if v is not None}


def offered(res: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(energy transfer modes, payment options) of a ServiceDiscoveryRes element of either generation."""
    service = res.charge_service
    if hasattr(service, "supported_energy_transfer_mode"):  # -2
        modes = tuple(str(x) for x in service.supported_energy_transfer_mode.energy_transfer_mode)
        return modes, tuple(str(o) for o in res.payment_option_list.payment_option)
    return (str(service.energy_transfer_type),), tuple(str(o) for o in res.payment_options.payment_option)


class EnvelopeProtocol(Protocol):
    """DIN 70121 or ISO 15118-2."""

    kinds = Kind
    stays_by_plan = True

    def __init__(
        self,
        generation: Generation,
        profile: EnvelopeProfile,
        namespaces: Mapping[EnergyFamily, str],
        *,
        build: Mapping[Kind, Any],
        decide: Mapping[Kind, Any],
        avoided: frozenset[str] = frozenset(),
    ) -> None:
        self.generation = generation
        self.profile = self.envelope_profile = profile
        self.label = profile.name
        self.namespaces = namespaces
        self.avoided = avoided
        self.ongoing = profile.generation.module.EVSEProcessing.Ongoing
        self._build = frozenset(str(k) for k in build)
        self._decide = frozenset(str(k) for k in decide)
        self._envelope = profile.envelope

    @property
    def module(self) -> Any:
        """The generated message classes."""
        return self.envelope_profile.generation.module

    # ---- messages ---------------------------------------------------------------------------------------------
    def body(self, message: Any) -> Any:
        element = self._envelope.body(message)
        return message if element is None else element

    def with_body(self, message: Any, element: Any) -> Any:
        return message if element is message else self._envelope.wrap(message.header, element)

    def header(self, session_id: bytes) -> Any:
        return self._envelope.header(session_id)

    def minimal(self, kind: str, session_id: bytes) -> Any:
        return self._envelope.wrap(self.header(session_id), minimal_instance(self._envelope.class_of[Kind(kind)]))

    def builds(self, kind: str) -> bool:
        return kind in self._build

    def ev_decides(self, kind: str, stream: Stream) -> bool:
        return kind in self._decide

    # ---- the tester EV ----------------------------------------------------------------------------------------
    def ev_start(self, ctx: Context) -> Any:
        if self.generation is Generation.DIN:
            return DinEvContext(service_id=1, energy_transfer="DC_extended")
        mode = _DEFAULT_MODE[ctx.profile.family]
        return Iso2EvContext(energy_mode=mode, phases=3 if mode == "AC_three_phase_core" else 1)

    def ev_stopping(self, ev: Any, how: str) -> Any:
        if self.generation is Generation.DIN:
            return dataclasses.replace(ev, stopping=True, dc=dataclasses.replace(ev.dc, want_power=False))
        return dataclasses.replace(ev, stopping=how, progress="Stop")

    def ev_unmet(self, ctx: Context, kind: str, response: Any, step: Step[Any]) -> str | None:
        if step.stop is None:
            return None
        if kind == Kind.ServiceDiscoveryRes:
            modes, payment = offered(self.body(response))
            return f"needs {ctx.profile.family} with ExternalPayment: the SUT offers {', '.join(modes + payment)}"
        return step.stop

    def learn_response(self, ctx: Context, request: Any, response: Any) -> None:
        ctx.last_response = response
        found = self.profile.kind_of(response)
        if found is None or self.profile.is_failed(self.profile.response_code(response)):
            return
        res, req = self.body(response), self.body(request)
        if found is Kind.SessionSetupRes:
            ctx.remember_session(bytes(response.header.session_id))
            ctx.evse_id = res.evse_id if isinstance(res.evse_id, str) else bytes(res.evse_id).hex()
        elif found is Kind.ServiceDiscoveryRes:
            ctx.values["offered_modes"], ctx.values["offered_payment"] = offered(res)
        elif found is Kind.ChargeParameterDiscoveryRes and str(res.evse_processing) == "Finished":
            _learn_parameters(ctx, res)
        elif found in (Kind.ChargingStatusRes, Kind.CurrentDemandRes):
            info = getattr(res, "meter_info", None)
            if info is not None and info.meter_reading is not None:
                ctx.meter = {"charged_wh": int(info.meter_reading), "discharged_wh": 0}
        elif found is Kind.PowerDeliveryRes and str(getattr(req, "charge_progress", "")) == "Start":
            ctx.values["selected_tuple"] = req.sa_schedule_tuple_id
        elif found is Kind.SessionStopRes and str(getattr(req, "charging_session", "")) == "Pause":
            ctx.paused_session_id = ctx.session_id

    # ---- the tester SECC --------------------------------------------------------------------------------------
    def learn_request(self, ctx: Context, stream: str, request: Any) -> None:
        ctx.last_request = request
        kind = self.kind_of(request)
        ctx.requests.append((stream, str(kind)))
        req = self.body(request)
        if kind == Kind.ChargeParameterDiscoveryReq:
            parameter = req.dc_ev_charge_parameter
            if parameter is not None:
                ctx.ev_limits = {
                    "max_voltage_v": value_of(parameter.ev_maximum_voltage_limit),
                    "max_charge_a": value_of(parameter.ev_maximum_current_limit),
                }
        elif kind == Kind.PreChargeReq:
            ctx.values["precharge_target_v"] = value_of(req.ev_target_voltage)
            if "precharge_sent_v" in ctx.values:
                ctx.values["precharge_seen_v"] = ctx.values["precharge_sent_v"]
        elif kind == Kind.SessionStopReq and str(getattr(req, "charging_session", "")) == "Pause":
            ctx.paused_session_id = ctx.session_id

    def remember(self, ctx: Context, kind: str, request: Any, response: Any) -> None:
        res = self.body(response)
        failed = self.profile.is_failed(self.profile.response_code(response))
        if kind == Kind.SessionSetupReq:
            ctx.remember_session(bytes(response.header.session_id))
        elif kind == Kind.ServiceDiscoveryReq and not failed:
            ctx.values["offered_modes"], ctx.values["offered_payment"] = offered(res)
        elif kind == Kind.ChargeParameterDiscoveryReq and not failed:
            _learn_parameters(ctx, res)
        elif kind == Kind.PreChargeReq and not failed:
            ctx.values["precharge_sent_v"] = value_of(res.evse_present_voltage)
        elif kind == Kind.WeldingDetectionReq:
            ctx.values["welding_responses"] = ctx.values.get("welding_responses", 0) + 1

    def notify(self, response: Any, notification: str) -> Any:
        """-2 notifies StopCharging for Terminate and Pause alike (a -2 charger cannot ask for a pause; the EV
        decides how it ends) and ReNegotiation for ``Renegotiate``; DIN's charger stops the loop with
        DC_EVSEStatusCode EVSE_Shutdown and no notification [V2G-DC-500]."""
        m, res = self.module, self.body(response)
        if self.generation is Generation.DIN:
            status = dataclasses.replace(res.dc_evse_status, evse_status_code=m.DC_EVSEStatusCode.EVSE_Shutdown)
            return self.with_body(response, dataclasses.replace(res, dc_evse_status=status))
        value = m.EVSENotification("ReNegotiation" if notification == "Renegotiate" else "StopCharging")
        name = "dc_evse_status" if getattr(res, "dc_evse_status", None) is not None else "ac_evse_status"
        status = dataclasses.replace(getattr(res, name), evse_notification=value, notification_max_delay=0)
        return self.with_body(response, dataclasses.replace(res, **{name: status}))

    def declined(self, ctx: Context, last: str) -> str | None:
        if last != Kind.ServiceDiscoveryReq:
            return None
        modes = ", ".join(ctx.values.get("offered_modes", ()))
        return f"needs {ctx.profile.family}: the EV ended the session when offered {modes or 'no mode'}"


def _watts(value: Any) -> float:
    return float(value) if isinstance(value, int) else value_of(value)


def _learn_parameters(ctx: Context, res: Any) -> None:
    """Schedule tuples and the charger's limits of a ChargeParameterDiscoveryRes element."""
    schedules = res.sa_schedule_list.sa_schedule_tuple if res.sa_schedule_list is not None else ()
    ctx.schedule_ids = tuple(t.sa_schedule_tuple_id for t in schedules)
    # The highest PMax offered (-2: a PhysicalValue, DIN: watts), the bound of the EV's ChargingProfile.
    peaks = [_watts(e.p_max) for t in schedules for e in t.p_max_schedule.p_max_schedule_entry]
    if peaks:
        ctx.values["pmax_w"] = max(peaks)
    if res.dc_evse_charge_parameter is not None:
        ctx.evse_limits = dc_limits(res.dc_evse_charge_parameter)
    elif res.ac_evse_charge_parameter is not None:
        ctx.evse_limits = {"max_current_a": value_of(res.ac_evse_charge_parameter.evse_max_current)}


ISO2_PROTOCOL: Final = EnvelopeProtocol(
    Generation.ISO2,
    ISO2,
    {EnergyFamily.AC: NS_ISO2, EnergyFamily.DC: NS_ISO2},
    build=iso2_evcc.BUILD,
    decide=iso2_evcc.NEXT,
    # The default session pays with ExternalPayment (EIM): -2 Plug & Charge is not in the library's decisions yet.
    avoided=frozenset({"Contract"}),
)
"""ISO 15118-2, AC and DC."""

DIN_PROTOCOL: Final = EnvelopeProtocol(
    Generation.DIN, DIN, {EnergyFamily.DC: NS_DIN}, build=din_evcc.BUILD, decide=din_evcc.NEXT
)
"""DIN 70121 (DC only)."""
