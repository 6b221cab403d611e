"""Pure rules both roles share: energy services and their parameters, and the control-mode elements.

- Services (V2G20 table 204): 1 = AC, 2 = DC, 5 = AC_BPT, 6 = DC_BPT. A session offers only the services of the
  family its SupportedAppProtocol namespace fixed (fact sheet 2.2).
- Parameters: AC per tables 205/206 (Connector, ControlMode, EVSENominalVoltage, MobilityNeedsMode, Pricing;
  AC_BPT adds BPTChannel, GeneratorMode, GridCodeIslandingDetectionMethod); DC: Connector, ControlMode,
  MobilityNeedsMode, Pricing, and DC_BPT adds BPTChannel and GeneratorMode. All sent as ``intValue``.
- Control modes: which ChargeLoop element belongs to (BPT?, Dynamic?), for AC and DC.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from iso15118.constants import EnergyService
from iso15118.messages import iso20 as m
from iso15118.messages.units import rational, value_of
from iso15118.session.selection import EnergyFamily, EnergyMode

__all__ = [
    "AC",
    "AC_BPT",
    "DC",
    "DC_BPT",
    "FAMILY_SERVICES",
    "ParameterSetSpec",
    "discharge_limit",
    "loop_mode",
    "loop_mode_field",
    "loop_request_mode",
    "loop_response_mode",
    "loop_target_power",
    "mode_of_service",
    "parameter_sets",
    "parse_parameter_set",
    "service_of",
]

# Plain ints: they go on the wire as serviceIDType values.
AC: Final = int(EnergyService.AC)
AC_BPT: Final = int(EnergyService.AC_BPT)
DC: Final = int(EnergyService.DC)
DC_BPT: Final = int(EnergyService.DC_BPT)

FAMILY_SERVICES: Final = {EnergyFamily.AC: (AC, AC_BPT), EnergyFamily.DC: (DC, DC_BPT)}
"""The conductive services of each family: plain, then bidirectional."""
_MODE_OF: Final[dict[int, EnergyMode]] = {
    AC: EnergyMode.AC,
    AC_BPT: EnergyMode.AC_BPT,
    DC: EnergyMode.DC,
    DC_BPT: EnergyMode.DC_BPT,
}


def discharge_limit(value: float, *, negative: bool) -> m.RationalNumber:
    """A discharge limit (power or current) as a magnitude, or as a value <= 0 with ``negative``: implementations
    disagree on the sign (fact sheet 6.1) [V2G20-1034] [V2G20-1035]."""
    return rational(-value if negative else value)


def mode_of_service(service_id: int) -> EnergyMode | None:
    """The energy mode of a conductive service ID (None for WPT, ACDP and unknown IDs)."""
    return _MODE_OF.get(service_id)


def service_of(mode: EnergyMode) -> int:
    """The service ID of an energy mode."""
    return next(sid for sid, known in _MODE_OF.items() if known is mode)


@dataclass(frozen=True, slots=True, kw_only=True)
class ParameterSetSpec:
    """One ServiceDetail parameter set, decoded."""

    set_id: int
    control_mode: int
    """1 = Scheduled, 2 = Dynamic."""
    connector: int = 1
    nominal_voltage: int | None = None
    """AC only: EVSENominalVoltage."""
    mobility_needs_mode: int = 1
    pricing: int = 0
    bpt_channel: int | None = None
    """1 = Unified, 2 = Separated (BPT only)."""
    generator_mode: int | None = None
    """1 = GridFollowing, 2 = GridForming."""
    islanding_detection: int | None = None
    """1 = Active, 2 = Passive (AC_BPT)."""


def parameter_sets(
    service_id: int,
    *,
    control_modes: tuple[int, ...] = (1, 2),
    three_phase: bool = False,
    nominal_voltage: int = 230,
    dc_connector: int = 2,
    bpt_channel: int = 1,
    generator_mode: int = 1,
    islanding_detection: int = 2,
    pricing: int = 0,
) -> m.ServiceParameterList:
    """The parameter sets an SECC offers for a service: one per control mode (IDs 1, 2...).

    ``pricing``: 0 = no price schedule, 1 = absolute prices, 2 = price levels (STD table 205).
    ``dc_connector``: the DC Connector parameter (2 = Extended, what the reference captures show).
    """
    mode = mode_of_service(service_id)
    dc = mode is not None and mode.family is EnergyFamily.DC
    bpt = mode is not None and mode.bidirectional
    sets = []
    for i, control in enumerate(control_modes, start=1):
        params: list[tuple[str, int]] = [("Connector", dc_connector if dc else (2 if three_phase else 1))]
        params.append(("ControlMode", control))
        if not dc:
            params.append(("EVSENominalVoltage", nominal_voltage))
        # MobilityNeedsMode 2 (SECC may set targets) is only allowed with Dynamic [V2G20-2663].
        params += [("MobilityNeedsMode", 1), ("Pricing", pricing)]
        if bpt:
            params += [("BPTChannel", bpt_channel), ("GeneratorMode", generator_mode)]
            if not dc:
                params.append(("GridCodeIslandingDetectionMethod", islanding_detection))
        sets.append(
            m.ParameterSet(parameter_set_id=i, parameter=tuple(m.Parameter(name=n, int_value=v) for n, v in params))
        )
    return m.ServiceParameterList(parameter_set=tuple(sets))


_ALIASES = {
    "DetectionMethodGridCodeIslanding": "GridCodeIslandingDetectionMethod",  # libiso15118's spelling
}


def _int(p: Any) -> int | None:
    for attr in ("int_value", "short_value", "byte_value"):
        v = getattr(p, attr, None)
        if v is not None:
            return int(v)
    if getattr(p, "bool_value", None) is not None:
        return int(p.bool_value)
    return None


def parse_parameter_set(ps: Any) -> ParameterSetSpec:
    """Read a ParameterSet (tolerating libiso15118's spellings and ThreePhase = 3)."""
    values: dict[str, int] = {}
    for p in ps.parameter:
        v = _int(p)
        if v is not None:
            values[_ALIASES.get(p.name, p.name)] = v
    connector = values.get("Connector", 1)
    return ParameterSetSpec(
        set_id=ps.parameter_set_id,
        control_mode=values.get("ControlMode", 1),
        connector=2 if connector == 3 and "EVSENominalVoltage" in values else connector,
        nominal_voltage=values.get("EVSENominalVoltage"),
        mobility_needs_mode=values.get("MobilityNeedsMode", 1),
        pricing=values.get("Pricing", 0),
        bpt_channel=values.get("BPTChannel"),
        generator_mode=values.get("GeneratorMode"),
        islanding_detection=values.get("GridCodeIslandingDetectionMethod"),
    )


# ---- charge-loop control-mode elements ------------------------------------------------------------------------
def loop_mode_field(bpt: bool, dynamic: bool, *, response: bool = False, family: EnergyFamily = EnergyFamily.AC) -> str:
    """The ChargeLoopReq/Res field of a control mode, e.g. ``bpt_dynamic_ac_cl_req_control_mode``."""
    prefix = ("bpt_" if bpt else "") + ("dynamic" if dynamic else "scheduled")
    return f"{prefix}_{family.value.lower()}_cl_{'res' if response else 'req'}_control_mode"


def _fields(family: EnergyFamily, response: bool) -> dict[str, tuple[bool, bool]]:
    return {
        loop_mode_field(b, d, response=response, family=family): (b, d) for b in (False, True) for d in (False, True)
    }


LOOP_REQUEST_MODES: Final = {f: _fields(f, False) for f in EnergyFamily}
LOOP_RESPONSE_MODES: Final = {f: _fields(f, True) for f in EnergyFamily}


def loop_mode(msg: Any, fields: dict[str, tuple[bool, bool]]) -> tuple[bool, bool, Any] | None:
    """(bpt, dynamic, element) of the control-mode element present in ``msg``, among ``fields``."""
    for name, (bpt, dynamic) in fields.items():
        element = getattr(msg, name, None)
        if element is not None:
            return bpt, dynamic, element
    return None


def _family_of(msg: Any) -> EnergyFamily:
    return EnergyFamily.DC if isinstance(msg, (m.DC_ChargeLoopReq, m.DC_ChargeLoopRes)) else EnergyFamily.AC


def loop_request_mode(req: Any) -> tuple[bool, bool, Any] | None:
    """(bpt, dynamic, element) of an AC_/DC_ChargeLoopReq, or None when no concrete mode is present."""
    return loop_mode(req, LOOP_REQUEST_MODES[_family_of(req)])


def loop_response_mode(res: Any) -> tuple[bool, bool, Any] | None:
    """(bpt, dynamic, element) of an AC_/DC_ChargeLoopRes, or None when no concrete mode is present."""
    return loop_mode(res, LOOP_RESPONSE_MODES[_family_of(res)])


def loop_target_power(res: Any) -> float | None:
    """EVSETargetActivePower of an AC_ChargeLoopRes in W (None when absent: optional in Scheduled mode)."""
    found = loop_response_mode(res)
    target = getattr(found[2], "evse_target_active_power", None) if found else None
    return value_of(target) if target is not None else None
