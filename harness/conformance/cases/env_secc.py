"""SECC under test, ISO 15118-2 (AC and DC) and DIN 70121 (DC), EIM: the tester is the EV.

For each generation: a complete session of each energy family with every response checked; -2's pause and
resumption; every request of the default session sent where the library's table does not admit it
(FAILED_SequenceError, then the SECC closes [V2G2-538]/[V2G2-539], DIN 9.3); wrong and unknown SessionIDs;
requests whose parameters the SECC must refuse; the DC charger's precharge and current; and the timers: the EV
going silent (V2G_SECC_Sequence_Timeout [V2G2-443], [V2G-DC-443]), the DC responses' performance time and the
insulation test Finished within V2G_SECC_Ongoing_Performance_Time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from harness.conformance import env_secc_rules as se
from harness.conformance.cases.env_common import (
    FAMILY_PROFILES,
    closes_at,
    env_case,
    loop_of,
    misplaced,
    path_rules,
    prefix,
    refusal,
    sequence_rule,
)
from harness.conformance.checks import NotApplicable
from harness.conformance.generations import PROTOCOLS
from harness.conformance.model import Case, Category, Need, SutRole
from harness.conformance.path import resumed_at
from harness.conformance.protocol import Generation, Protocol
from harness.conformance.scripts import ev_stop
from harness.conformance.steps import Close, Exchange, Loop, Reconnect, Walk
from iso15118.envelope.physical import physical
from iso15118.session.selection import EnergyFamily
from iso15118.session.timers import Timer

__all__ = ["CASES"]

_WRONG_ID = bytes.fromhex("DEADBEEF00000001")
_AC, _DC = EnergyFamily.AC, EnergyFamily.DC


_BUILDS: Mapping[str, Mapping[str, Any]] = {"ServiceDetailReq": {"as_if": {"details": (1,)}}}
"""What the tester EV needs to build a request the library EV builds only when it has planned it (-2's
ServiceDetailReq asks about the services it chose to learn more of)."""


def _session_checks(protocol: Protocol, family: EnergyFamily) -> Mapping[str, tuple[Any, ...]]:
    """The checks on the responses of a complete session, by request kind."""
    din = protocol.generation is Generation.DIN
    setup_rule = "V2G-DC-993" if din else protocol.profile.session_id_rule()
    loop: tuple[Any, ...] = ()
    if din:
        loop = (se.DIN_NO_NOTIFICATION, se.CURRENT_WITHIN_LIMITS)
    elif family is _DC:
        loop = (se.RECEIPT_NOT_REQUIRED, se.LOOP_SCHEDULE_TUPLE, se.EVSE_ID_IN_LOOP, se.CURRENT_WITHIN_LIMITS)
    else:
        loop = (se.RECEIPT_NOT_REQUIRED, se.LOOP_SCHEDULE_TUPLE, se.EVSE_ID_IN_LOOP, se.MAX_CURRENT_WITHIN_OFFER)
    schedule = se.DIN_SCHEDULE if din else se.SCHEDULE_TUPLE_IDS
    return {
        "SessionSetupReq": (se.fresh_session_id(setup_rule), se.EVSE_ID),
        "ServiceDiscoveryReq": (se.OFFERS_FAMILY, *((se.DIN_EXTERNAL_PAYMENT_ONLY,) if din else ())),
        "ChargeParameterDiscoveryReq": (se.CPD_ELEMENT_MATCHES, se.DC_LIMITS_ORDERED, schedule),
        "PreChargeReq": (se.PRECHARGE_APPROACHES,),
        loop_of(protocol, family): loop,
    }


def _happy(protocol: Protocol, pfx: str) -> list[Case]:
    cases = []
    for index, family in enumerate(protocol.namespaces, start=1):
        cases.append(
            env_case(
                protocol,
                f"{pfx}-HP-{index:02d}",
                f"A complete EIM {family} session, every response checked",
                SutRole.SECC,
                Category.HAPPY,
                Walk(loops=3, checks=_session_checks(protocol, family), preamble=False),
                Close(),
                profile=FAMILY_PROFILES[family],
                negative=False,
                requirements=path_rules(protocol, family),
                stimulus="SupportedAppProtocol ... 3 charge loops ... PowerDelivery(Stop), SessionStop",
                expected="every response OK in time, on the request's payload type, with the session's SessionID; "
                "the content of each follows the session (EVSEID, the offered mode and ExternalPayment, the charge "
                "parameters of the mode asked, the schedule, the loop's limits)",
            )
        )
    if protocol.generation is Generation.ISO2:
        cases.append(_pause_and_resume(protocol, f"{pfx}-HP-{len(cases) + 1:02d}"))
    return cases


def _pause_and_resume(protocol: Protocol, case_id: str) -> Case:
    """-2: charge, pause, resume with the paused SessionID: OK_OldSessionJoined and the session goes on [V2G2-741]."""
    return env_case(
        protocol,
        case_id,
        "Pause and resume an AC session: OK_OldSessionJoined keeps the SessionID",
        SutRole.SECC,
        Category.HAPPY,
        Walk(until=loop_of(protocol, _AC)),
        Loop(count=2),
        *ev_stop("Pause"),
        Reconnect(),
        Exchange(kind="supportedAppProtocolReq", codes=("OK_SuccessfulNegotiation",)),
        Exchange(
            kind="SessionSetupReq",
            fields={"header.session_id": lambda ctx: ctx.paused_session_id},
            codes=("OK_OldSessionJoined",),
            checks=(se.OLD_SESSION_ID,),
        ),
        Walk(start=resumed_at(_AC, protocol), until=loop_of(protocol, _AC), preamble=False),
        Loop(count=2),
        *ev_stop(),
        negative=False,
        needs=frozenset({Need.PAUSE}),
        requirements=("V2G2-741",),
        stimulus="SessionStop(Pause) after two charge loops; a new connection with SessionSetupReq carrying the "
        "paused SessionID",
        expected="OK_OldSessionJoined with the paused SessionID; the resumed session charges again",
    )


def _sequence(protocol: Protocol, pfx: str) -> list[Case]:
    """Every request where the table does not admit it: the families' requests once each (DC first)."""
    cases: list[Case] = []
    seen: set[str] = set()
    for family in sorted(protocol.namespaces, key=lambda f: f is not _DC):
        for kind, place in misplaced(protocol, family):
            if kind in seen:
                continue
            seen.add(kind)
            cases.append(
                refusal(
                    protocol,
                    f"{pfx}-SEQ-{len(cases) + 1:02d}",
                    f"{kind} instead of {place.kind} ({family} session)",
                    kind,
                    after=place.kind,
                    codes=("FAILED_SequenceError",),
                    requirements=(place.requirement,),
                    closes=f"{sequence_rule(protocol)}; ISO 15118-4: closed within 5 s",
                    context=_BUILDS.get(kind, {}),
                    category=Category.SEQUENCE,
                    profile=FAMILY_PROFILES[family],
                )
            )
    return cases


def _session_ids(protocol: Protocol, pfx: str) -> list[Case]:
    family = next(iter(protocol.namespaces))
    rule = protocol.profile.session_id_rule()
    fresh = "V2G-DC-993" if protocol.generation is Generation.DIN else rule
    loop = loop_of(protocol, family)
    unknown = {"header.session_id": _WRONG_ID}
    return [
        refusal(
            protocol,
            f"{pfx}-SID-01",
            "Wrong SessionID in ServiceDiscoveryReq",
            "ServiceDiscoveryReq",
            fields=unknown,
            codes=("FAILED_UnknownSession",),
            requirements=(rule,),
            category=Category.SEQUENCE,
            stimulus="ServiceDiscoveryReq whose SessionID is not the one SessionSetupRes assigned",
        ),
        refusal(
            protocol,
            f"{pfx}-SID-02",
            f"Wrong SessionID in {loop}",
            loop,
            after="PowerDeliveryReq",
            loops=2,
            fields=unknown,
            codes=("FAILED_UnknownSession",),
            requirements=(rule,),
            category=Category.SEQUENCE,
            stimulus=f"{loop} whose SessionID is not the session's, after two charge loops",
        ),
        env_case(
            protocol,
            f"{pfx}-SID-03",
            "SessionSetupReq with an unknown SessionID starts a new session with a new SessionID",
            SutRole.SECC,
            Category.SEQUENCE,
            Exchange(kind="supportedAppProtocolReq", codes=("OK_SuccessfulNegotiation",), preamble=True),
            Exchange(
                kind="SessionSetupReq",
                fields={"header.session_id": lambda ctx: ctx.values.setdefault("asked_session_id", _WRONG_ID)},
                codes=("OK_NewSessionEstablished",),
                checks=(se.new_session_id(fresh),),
            ),
            Exchange(kind="ServiceDiscoveryReq"),
            Close(),
            requirements=(fresh, rule),
            stimulus="SessionSetupReq whose SessionID was never assigned (0xDEADBEEF00000001)",
            expected="OK_NewSessionEstablished with a fresh SessionID, not the one the EV sent",
        ),
        env_case(
            protocol,
            f"{pfx}-SID-04",
            "Every session gets its own SessionID",
            SutRole.SECC,
            Category.SEQUENCE,
            Exchange(kind="supportedAppProtocolReq", codes=("OK_SuccessfulNegotiation",), preamble=True),
            Exchange(kind="SessionSetupReq", codes=("OK_NewSessionEstablished",), checks=(se.fresh_session_id(fresh),)),
            Reconnect(),
            Exchange(kind="supportedAppProtocolReq", codes=("OK_SuccessfulNegotiation",), preamble=True),
            Exchange(
                kind="SessionSetupReq",
                codes=("OK_NewSessionEstablished",),
                checks=(se.fresh_session_id(fresh), se.SESSIONS_DIFFER),
            ),
            Close(),
            requirements=(fresh,),
            stimulus="two sessions on two connections",
            expected="two different, non-zero SessionIDs",
        ),
    ]


def _enum(name: str, value: str) -> Any:
    """A field value of the run's generation: ``name`` enum's ``value``."""
    return lambda ctx: getattr(ctx.protocol.module, name)(value)


def _not_offered(name: str) -> Any:
    """A field value of the run's generation: the first AC mode of the ``name`` enum that the SUT's
    ServiceDiscoveryRes did not offer (a charger may offer AC besides DC: Josev's -2 SECC offers
    AC_three_phase_core); inconclusive when it offers them all."""

    def pick(ctx: Any) -> Any:
        enum = getattr(ctx.protocol.module, name)
        offered = set(ctx.values.get("offered_modes", ()))
        for member in enum:
            if str(member).startswith("AC") and str(member) not in offered:
                return member
        raise NotApplicable(f"the SUT offers every AC energy transfer mode ({', '.join(sorted(offered))})")

    return pick


def _volts(path: str, value: float) -> dict[str, Any]:
    """Field overrides that make the PhysicalValue at ``path`` read ``value`` (multiplier 0)."""
    return {f"{path}.value": value, f"{path}.multiplier": 0}


def _PROFILE_500_KW(ctx: Any) -> tuple[Any, ...]:
    """A one-entry -2 ChargingProfile of 500 kW (above any PMax a charger offers)."""
    m = ctx.protocol.module
    power = physical(m, 500_000, "W")
    return (m.ProfileEntry(charging_profile_entry_start=0, charging_profile_entry_max_power=power),)


def _parameters(protocol: Protocol, pfx: str) -> list[Case]:
    """Requests the SECC must refuse for their content (FAILED_..., then closed), in a DC session."""
    din = protocol.generation is Generation.DIN
    selection = "ServicePaymentSelectionReq" if din else "PaymentServiceSelectionReq"
    mode = "ev_requested_energy_transfer_type" if din else "requested_energy_transfer_mode"
    cpd = "ChargeParameterDiscoveryReq"
    # (title, request, field overrides, codes, the request the session is walked up to)
    rows: list[tuple[str, str, dict[str, Any], str, str | None]] = [
        (
            f"{selection} with Contract: only ExternalPayment was offered",
            selection,
            {"selected_payment_option": _enum("PaymentOption", "Contract")},
            "FAILED_PaymentSelectionInvalid",
            None,
        ),
        (
            f"{cpd} with the EV's maximum voltage below the charger's minimum",
            cpd,
            # 10 V: below the output of any DC charger (Josev's simulator announces 40-40 V; 50 V overlapped it).
            _volts("dc_ev_charge_parameter.ev_maximum_voltage_limit", 10),
            "FAILED_WrongChargeParameter",
            None,
        ),
        (
            "PreChargeReq asking for 900 V, above the charger's maximum voltage",
            "PreChargeReq",
            _volts("ev_target_voltage", 900),
            "FAILED_WrongChargeParameter",
            None,
        ),
    ]
    if din:
        rows.append(
            (
                f"{cpd} asking for an AC energy transfer type",
                cpd,
                {mode: _not_offered("EVRequestedEnergyTransfer")},
                "FAILED_WrongEnergyTransferType",
                None,
            )
        )
    else:
        rows += [
            (
                f"{cpd} asking for an energy transfer mode not offered",
                cpd,
                {mode: _not_offered("EnergyTransferMode")},
                "FAILED_WrongEnergyTransferMode",
                None,
            ),
            (
                "ServiceDetailReq for a ServiceID ServiceDiscoveryRes did not list",
                "ServiceDetailReq",
                {"service_id": 99},
                "FAILED_ServiceIDInvalid",
                "PaymentServiceSelectionReq",
            ),
            (
                "PowerDeliveryReq(Start) selecting a SAScheduleTupleID not offered",
                "PowerDeliveryReq",
                {"sa_schedule_tuple_id": 77},
                "FAILED_TariffSelectionInvalid",
                None,
            ),
            (
                "PowerDeliveryReq(Start) with a ChargingProfile above the schedule's PMax",
                "PowerDeliveryReq",
                {"charging_profile.profile_entry": _PROFILE_500_KW},
                "FAILED_ChargingProfileInvalid",
                None,
            ),
        ]
    cases = [
        refusal(
            protocol,
            f"{pfx}-PAR-{index:02d}",
            title,
            kind,
            fields=fields,
            context=_BUILDS.get(kind, {}),
            codes=(code,),
            after=after,
            requirements=("V2G2-225",) if code == "FAILED_ChargingProfileInvalid" else _parameter_rules(protocol, kind),
            category=Category.PARAMETERS,
            profile=FAMILY_PROFILES[_DC],
        )
        for index, (title, kind, fields, code, after) in enumerate(rows, start=1)
    ]
    return [*cases, *_dc_output(protocol, pfx, len(cases) + 1)]


def _parameter_rules(protocol: Protocol, kind: str) -> tuple[str, ...]:
    label = protocol.label
    if kind == "ServiceDetailReq":
        return ("V2G2-425",) if protocol.generation is Generation.ISO2 else (f"{label} {kind}",)
    if kind == "ChargeParameterDiscoveryReq" and protocol.generation is Generation.ISO2:
        return ("V2G2-477", f"{label} ChargeParameterDiscoveryReq")
    return (f"{label} {kind}",)


def _dc_output(protocol: Protocol, pfx: str, start: int) -> list[Case]:
    """The DC charger's output: its precharge approaches the EV's target; the loop's current stays within the
    EV's target and its own maximum."""
    loop = loop_of(protocol, _DC)
    return [
        env_case(
            protocol,
            f"{pfx}-PAR-{start:02d}",
            "The output approaches the EV's precharge target",
            SutRole.SECC,
            Category.PARAMETERS,
            Walk(until="PowerDeliveryReq", checks={"PreChargeReq": (se.PRECHARGE_APPROACHES,)}, preamble=False),
            Close(),
            profile=FAMILY_PROFILES[_DC],
            requirements=(f"{protocol.label} PreChargeRes EVSEPresentVoltage",),
            stimulus="PreChargeReq repeated while the EV's precharge is Ongoing",
            expected="every PreChargeRes's EVSEPresentVoltage closer to EVTargetVoltage than the one before, until "
            "they match",
        ),
        env_case(
            protocol,
            f"{pfx}-PAR-{start + 1:02d}",
            f"EVSEPresentCurrent within the EV's target and the charger's maximum in {loop}",
            SutRole.SECC,
            Category.PARAMETERS,
            Walk(until=loop, preamble=True),
            Loop(count=3, checks=(se.CURRENT_WITHIN_LIMITS,)),
            *ev_stop(),
            profile=FAMILY_PROFILES[_DC],
            requirements=(f"{protocol.label} {protocol.response_kind(loop)} (limits)",),
            stimulus=f"three {loop} exchanges",
            expected="EVSEPresentCurrent never above EVTargetCurrent nor the announced EVSEMaximumCurrentLimit",
        ),
    ]


def _timing(protocol: Protocol, pfx: str) -> list[Case]:
    sequence = protocol.profile.timer_requirement(Timer.SECC_SEQUENCE)
    ongoing = protocol.profile.timer_requirement(Timer.SECC_ONGOING)
    performance = protocol.profile.timer_requirement(Timer.SECC_PERFORMANCE)
    family = next(iter(protocol.namespaces))
    loop = loop_of(protocol, family)
    silence = "V2G_SECC_Sequence_Timeout"
    return [
        env_case(
            protocol,
            f"{pfx}-TIM-01",
            "The EV goes silent after SessionSetup: the SECC ends the session at V2G_SECC_Sequence_Timeout",
            SutRole.SECC,
            Category.TIMING,
            Walk(until="ServiceDiscoveryReq"),
            closes_at("secc_sequence_timeout", sequence, f"{silence} (after SessionSetupRes)"),
            requirements=(sequence,),
            stimulus="after SessionSetupRes the tester sends nothing",
            expected=f"the SECC closes the connection when {silence} (60 s) expires, not before",
        ),
        env_case(
            protocol,
            f"{pfx}-TIM-02",
            f"The EV goes silent in the charge loop: the SECC ends the session at {silence}",
            SutRole.SECC,
            Category.TIMING,
            Walk(until=loop),
            Loop(count=2),
            closes_at("secc_sequence_timeout", sequence, f"{silence} ({loop})"),
            requirements=(sequence,),
            stimulus=f"after two {protocol.response_kind(loop)} the tester sends nothing",
            expected=f"the SECC closes the connection when {silence} (60 s, the loop's too) expires, not before",
        ),
        env_case(
            protocol,
            f"{pfx}-TIM-03",
            "CableCheckRes and PreChargeRes within their performance time",
            SutRole.SECC,
            Category.TIMING,
            Walk(until="PowerDeliveryReq", preamble=False),
            Close(),
            profile=FAMILY_PROFILES[_DC],
            strict_performance=True,
            requirements=(performance,),
            stimulus="the DC session up to PowerDelivery(Start): the cable check and the precharge, each repeated "
            "while a side says Ongoing",
            expected="every response, CableCheckRes and PreChargeRes too, within V2G_SECC_Msg_Performance_Time (1.5 s)",
        ),
        env_case(
            protocol,
            f"{pfx}-TIM-04",
            "The insulation test reaches Finished within V2G_SECC_Ongoing_Performance_Time",
            SutRole.SECC,
            Category.TIMING,
            Walk(until="CableCheckReq"),
            Exchange(kind="CableCheckReq"),
            Close(),
            profile=FAMILY_PROFILES[_DC],
            strict_performance=True,
            requirements=(ongoing, *(("V2G2-584", "V2G2-621") if protocol.generation is Generation.ISO2 else ())),
            stimulus="CableCheckReq repeated while the SECC answers Ongoing",
            expected="CableCheckRes Finished within V2G_SECC_Ongoing_Performance_Time (55 s) of the first request",
        ),
    ]


def _cases(generation: Generation) -> tuple[Case, ...]:
    protocol = PROTOCOLS[generation]
    pfx = prefix(SutRole.SECC, protocol)
    found = [
        *_happy(protocol, pfx),
        *_sequence(protocol, pfx),
        *_session_ids(protocol, pfx),
        *_parameters(protocol, pfx),
        *_timing(protocol, pfx),
    ]
    # Every case of this module speaks its generation only, whatever the profile's defaults.
    return tuple(dataclasses.replace(c, protocols=frozenset({generation})) for c in found)


CASES: tuple[Case, ...] = (*_cases(Generation.ISO2), *_cases(Generation.DIN))
