"""Pure rules shared by both drivers: protocol negotiation, services and their parameters, control modes.

- SupportedAppProtocol: the SECC keeps the offers it supports and picks the best priority (1 = most
  preferred) [V2G20-169]; a differing minor version is still a success [V2G20-170] and -20 never answers
  ``OK_SuccessfulNegotiationWithMinorDeviation`` [V2G20-1089].
- Services: 1 = AC, 5 = AC_BPT (V2G20 table 204), parameters per tables 205/206, all sent as ``intValue``.
- Control modes: which AC_ChargeLoop / ScheduleExchange element belongs to (BPT?, Dynamic?).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from iso15118.constants import NS_ISO20_AC, NS_ISO20_DC
from iso15118.messages import iso20 as m
from iso15118.messages.units import value_of

__all__ = [
    "AC",
    "AC_BPT",
    "ParameterSetSpec",
    "ac_parameter_sets",
    "loop_mode_field",
    "parse_parameter_set",
    "select_protocol",
]

AC: Final = 1
AC_BPT: Final = 5
#: Namespaces we speak, and the spelling some standard excerpts use for them (accepted on receive).
KNOWN_NAMESPACES: Final = {
    NS_ISO20_AC: NS_ISO20_AC,
    "urn:iso:std:iso:15118:20:AC": NS_ISO20_AC,
    NS_ISO20_DC: NS_ISO20_DC,
    "urn:iso:std:iso:15118:20:DC": NS_ISO20_DC,
}


def select_protocol(offers: Any, supported: tuple[str, ...]) -> tuple[Any, str] | None:
    """The best offer we support as (AppProtocol, our namespace), or None [V2G20-169].

    Only major version 1 is spoken; any minor version is accepted [V2G20-170].
    """
    usable = []
    for offer in offers:
        ns = KNOWN_NAMESPACES.get(offer.protocol_namespace)
        if ns is None or ns not in supported or offer.version_number_major != 1:
            continue
        usable.append((offer.priority, supported.index(ns), offer, ns))
    if not usable:
        return None
    usable.sort(key=lambda u: (u[0], u[1]))
    return usable[0][2], usable[0][3]


@dataclass(frozen=True, slots=True, kw_only=True)
class ParameterSetSpec:
    """One ServiceDetail parameter set, decoded."""

    set_id: int
    control_mode: int
    """1 = Scheduled, 2 = Dynamic."""
    connector: int = 1
    nominal_voltage: int = 230
    mobility_needs_mode: int = 1
    pricing: int = 0
    bpt_channel: int | None = None
    """1 = Unified, 2 = Separated (AC_BPT only)."""
    generator_mode: int | None = None
    """1 = GridFollowing, 2 = GridForming."""
    islanding_detection: int | None = None
    """1 = Active, 2 = Passive."""


def ac_parameter_sets(
    service_id: int,
    *,
    control_modes: tuple[int, ...] = (1, 2),
    three_phase: bool = False,
    nominal_voltage: int = 230,
    bpt_channel: int = 1,
    generator_mode: int = 1,
    islanding_detection: int = 2,
    pricing: int = 0,
) -> m.ServiceParameterList:
    """The parameter sets an SECC offers for AC (1) or AC_BPT (5): one per control mode (IDs 1, 2...).

    ``pricing``: 0 = no price schedule, 1 = absolute prices, 2 = price levels (STD table 205)."""
    sets = []
    for i, mode in enumerate(control_modes, start=1):
        params = [
            ("Connector", 2 if three_phase else 1),
            ("ControlMode", mode),
            ("EVSENominalVoltage", nominal_voltage),
            # MobilityNeedsMode 2 (SECC may set targets) is only allowed with Dynamic [V2G20-2663].
            ("MobilityNeedsMode", 1),
            ("Pricing", pricing),
        ]
        if service_id == AC_BPT:
            params += [
                ("BPTChannel", bpt_channel),
                ("GeneratorMode", generator_mode),
                ("GridCodeIslandingDetectionMethod", islanding_detection),
            ]
        sets.append(
            m.ParameterSet(
                parameter_set_id=i,
                parameter=tuple(m.Parameter(name=n, int_value=v) for n, v in params),
            )
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
        connector=2 if connector == 3 else connector,
        nominal_voltage=values.get("EVSENominalVoltage", 230),
        mobility_needs_mode=values.get("MobilityNeedsMode", 1),
        pricing=values.get("Pricing", 0),
        bpt_channel=values.get("BPTChannel"),
        generator_mode=values.get("GeneratorMode"),
        islanding_detection=values.get("GridCodeIslandingDetectionMethod"),
    )


def loop_mode_field(bpt: bool, dynamic: bool, *, response: bool = False) -> str:
    """The AC_ChargeLoopReq/Res field of a control mode, e.g. ``bpt_dynamic_ac_cl_req_control_mode``."""
    prefix = ("bpt_" if bpt else "") + ("dynamic" if dynamic else "scheduled")
    return f"{prefix}_ac_cl_{'res' if response else 'req'}_control_mode"


LOOP_REQUEST_MODES: Final = {loop_mode_field(b, d): (b, d) for b in (False, True) for d in (False, True)}
LOOP_RESPONSE_MODES: Final = {
    loop_mode_field(b, d, response=True): (b, d) for b in (False, True) for d in (False, True)
}


def _loop_mode(msg: Any, fields: dict[str, tuple[bool, bool]]) -> tuple[bool, bool, Any] | None:
    for name, (bpt, dynamic) in fields.items():
        element = getattr(msg, name, None)
        if element is not None:
            return bpt, dynamic, element
    return None


def loop_request_mode(req: Any) -> tuple[bool, bool, Any] | None:
    """(bpt, dynamic, element) of an AC_ChargeLoopReq, or None when no concrete mode is present."""
    return _loop_mode(req, LOOP_REQUEST_MODES)


def loop_response_mode(res: Any) -> tuple[bool, bool, Any] | None:
    """(bpt, dynamic, element) of an AC_ChargeLoopRes, or None when no concrete mode is present."""
    return _loop_mode(res, LOOP_RESPONSE_MODES)


def loop_target_power(res: Any) -> float | None:
    """EVSETargetActivePower of an AC_ChargeLoopRes in W (None when absent: optional in Scheduled mode)."""
    found = loop_response_mode(res)
    target = getattr(found[2], "evse_target_active_power", None) if found else None
    return value_of(target) if target is not None else None
