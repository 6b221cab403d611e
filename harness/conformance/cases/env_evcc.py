"""EVCC under test, ISO 15118-2 (AC and DC) and DIN 70121 (DC), EIM: the tester is the SECC.

For each generation: a complete session of each energy family served by the library's SECC decisions, every
request checked (the generation's namespace offered, SessionID 0 for a new session, the offered payment option
and energy transfer mode chosen, the charge parameters of that mode, an offered SAScheduleTuple, the precharge
and the loop within the charger's limits); the charger's stop (-2 EVSENotification StopCharging, DIN
EVSE_Shutdown [V2G-DC-500]) followed; FAILED answers, a failed protocol negotiation and a foreign SessionID
ending the session; the EV's message and ongoing timeouts; and the DC cable check and precharge.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from harness.conformance import env_evcc_rules as ev
from harness.conformance.cases.env_common import FAMILY_PROFILES, env_case, loop_of, path_rules, prefix
from harness.conformance.generations import PROTOCOLS
from harness.conformance.model import Case, Category, SutRole
from harness.conformance.protocol import Generation, Protocol
from harness.conformance.scripts import evse_end, evse_finish, evse_session, evse_to_loop
from harness.conformance.steps import CLOSE_GRACE, ExpectClosed, ExpectRequest, Respond, Serve, ServeLoop, Stall
from iso15118.session.selection import EnergyFamily
from iso15118.session.timers import DEFAULT_TIMING, Timer

__all__ = ["CASES"]

_AC, _DC = EnergyFamily.AC, EnergyFamily.DC
_FOREIGN = bytes.fromhex("F0F0F0F0F0F0F0F0")


def _stops_rule(protocol: Protocol) -> str:
    return f"{protocol.label}: the EV stops on a FAILED response code"


def _stop_checks(protocol: Protocol) -> Mapping[str, tuple[Any, ...]]:
    """After the charger's stop: PowerDelivery(Stop), then SessionStop(Terminate)."""
    return {"PowerDeliveryReq": (ev.PD_STOP,), "SessionStopReq": (ev.SESSION_STOP,)}


def _session_checks(protocol: Protocol, family: EnergyFamily) -> Mapping[str, tuple[Any, ...]]:
    din = protocol.generation is Generation.DIN
    # DIN's PowerDeliveryReq names no SAScheduleTupleID (its ChargingProfile would).
    start: tuple[Any, ...] = (ev.PD_START,) if din else (ev.PD_START, ev.PD_SCHEDULE_TUPLE)
    if family is _DC:
        start = (*start, ev.PRECHARGE_MATCHED)
    elif not din:
        start = (*start, ev.PD_PROFILE_WITHIN_PMAX)
    return {
        "supportedAppProtocolReq": (ev.OFFERS_GENERATION,),
        "SessionSetupReq": (ev.NEW_SESSION_ZERO_ID, ev.EVCC_ID),
        ("ServicePaymentSelectionReq" if din else "PaymentServiceSelectionReq"): (ev.SELECTS_OFFERED_PAYMENT,),
        "ChargeParameterDiscoveryReq": (ev.REQUESTS_OFFERED_MODE, ev.CPD_PARAMETER_MATCHES),
        "PreChargeReq": (ev.PRECHARGE_TARGET_IN_WINDOWS,),
        "PowerDeliveryReq": start,
    }


def _happy(protocol: Protocol, pfx: str) -> list[Case]:
    cases = []
    for index, family in enumerate(protocol.namespaces, start=1):
        loop_checks = (ev.TARGETS_WITHIN_EVSE_LIMITS,) if family is _DC else ()
        cases.append(
            env_case(
                protocol,
                f"{pfx}-HP-{index:02d}",
                f"A complete EIM {family} session, every request checked",
                SutRole.EVCC,
                Category.HAPPY,
                *evse_session(
                    family=family,
                    checks=_session_checks(protocol, family),
                    loop_checks=loop_checks,
                    stop_checks=_stop_checks(protocol),
                    protocol=protocol,
                ),
                profile=FAMILY_PROFILES[family],
                negative=False,
                requirements=path_rules(protocol, family),
                stimulus="the tester SECC answers every request; after 3 charge loops it asks the EV to stop",
                expected="every request in sequence with the session's SessionID, its content following what the "
                "SECC offered; PowerDelivery(Stop), SessionStop(Terminate), then the EV closes TCP",
            )
        )
    return cases


def _charger_stops(protocol: Protocol, pfx: str) -> list[Case]:
    """The charger asks to stop in the loop: -2's EVSENotification StopCharging, DIN's EVSE_Shutdown."""
    din = protocol.generation is Generation.DIN
    how = "DC_EVSEStatusCode EVSE_Shutdown" if din else "EVSENotification StopCharging"
    rule = "V2G-DC-500" if din else f"{protocol.label} EVSENotification StopCharging"
    cases: list[Case] = []
    for family in protocol.namespaces:
        loop = loop_of(protocol, family)
        cases.append(
            env_case(
                protocol,
                f"{pfx}-SEQ-{len(cases) + 1:02d}",
                f"The charger asks to stop ({how}, {family}): the EV leaves the loop",
                SutRole.EVCC,
                Category.SEQUENCE,
                *evse_to_loop(family=family, protocol=protocol),
                ServeLoop(count=1, notify_last="Terminate"),
                ExpectRequest(kind="PowerDeliveryReq", checks=(ev.PD_STOP,)),
                Respond(),
                *evse_finish(family=family, checks=_stop_checks(protocol), protocol=protocol),
                profile=FAMILY_PROFILES[family],
                requirements=(rule,),
                stimulus=f"{protocol.response_kind(loop)} with {how} after one charge loop",
                expected="PowerDelivery(Stop) instead of another charge loop, then SessionStop(Terminate) and the EV "
                "closes TCP",
            )
        )
    return cases


def _failures(protocol: Protocol, pfx: str, start: int) -> list[Case]:
    """FAILED answers, no common protocol and a foreign SessionID: the EV stops."""
    family = next(iter(protocol.namespaces))
    loop = loop_of(protocol, family)
    stops = ExpectClosed(within=5.0, requirement=_stops_rule(protocol), what="the EV closes after a FAILED response")
    rows: list[tuple[str, str, str, tuple[Any, ...]]] = [
        (
            "FAILED SessionSetupRes: the EV stops",
            "SessionSetupRes with ResponseCode FAILED",
            _stops_rule(protocol),
            (Serve(until="SessionSetupReq"), Respond(code="FAILED"), stops),
        ),
        (
            f"FAILED {protocol.response_kind(loop)}: the EV stops",
            f"{protocol.response_kind(loop)} with ResponseCode FAILED after one charge loop",
            _stops_rule(protocol),
            (
                *evse_to_loop(family=family, protocol=protocol),
                ExpectRequest(kind=loop),
                Respond(code="FAILED"),
                stops,
            ),
        ),
        (
            "No common protocol in SupportedAppProtocol: the EV stops",
            "supportedAppProtocolRes Failed_NoNegotiation",
            "SupportedAppProtocol (Failed_NoNegotiation ends the communication)",
            (
                Serve(until="supportedAppProtocolReq"),
                Respond(code="Failed_NoNegotiation", fields={"schema_id": None}),
                stops,
            ),
        ),
        (
            "A response with a foreign SessionID: the EV does not go on",
            "ServiceDiscoveryRes whose SessionID is not the one SessionSetupRes assigned",
            protocol.profile.session_id_rule(),
            (
                Serve(until="ServiceDiscoveryReq"),
                Respond(fields={"header.session_id": _FOREIGN}),
                ExpectClosed(
                    timeout_of="ServiceDiscoveryReq",
                    grace=CLOSE_GRACE,
                    requirement=protocol.profile.timer_requirement(Timer.EVCC_MESSAGE),
                    what="the EV gives up",
                ),
            ),
        ),
    ]
    return [
        env_case(
            protocol,
            f"{pfx}-SEQ-{index:02d}",
            title,
            SutRole.EVCC,
            Category.SEQUENCE,
            *steps,
            requirements=(rule,),
            stimulus=stimulus,
            expected="no further request; the EV closes the connection (at once, or when its message timeout expires)",
        )
        for index, (title, stimulus, rule, steps) in enumerate(rows, start=start)
    ]


def _silent(protocol: Protocol, case_id: str, request: str, *before: Any, family: EnergyFamily) -> Case:
    """The tester never answers ``request``: the EV gives up at its message timeout for it, not before."""
    timing = protocol.timing(request, DEFAULT_TIMING)
    rule = protocol.profile.timer_requirement(Timer.EVCC_MESSAGE)
    return env_case(
        protocol,
        case_id,
        f"No {protocol.response_kind(request)}: the EV gives up after {timing.evcc_timeout:g} s",
        SutRole.EVCC,
        Category.TIMING,
        *before,
        Serve(until=request, preamble=not before),
        ExpectClosed(
            timeout_of=request,
            grace=CLOSE_GRACE,
            lower=True,
            requirement=rule,
            what=f"V2G_EVCC_Msg_Timeout ({request})",
        ),
        profile=FAMILY_PROFILES[family],
        requirements=(rule,),
        stimulus=f"the tester never answers {request}",
        expected=f"the EV waits V2G_EVCC_Msg_Timeout ({timing.evcc_timeout:g} s), sends nothing more and closes the "
        "connection within 5 s (ISO 15118-4)",
    )


def _timing(protocol: Protocol, pfx: str) -> list[Case]:
    ongoing = protocol.profile.timer_requirement(Timer.EVCC_ONGOING)
    cases = [_silent(protocol, f"{pfx}-TIM-01", "SessionSetupReq", family=next(iter(protocol.namespaces)))]
    for family in protocol.namespaces:
        loop = loop_of(protocol, family)
        cases.append(
            _silent(
                protocol,
                f"{pfx}-TIM-{len(cases) + 1:02d}",
                loop,
                *evse_to_loop(family=family, protocol=protocol),
                ServeLoop(count=1),
                family=family,
            )
        )
    # The authorization: the cable check has a shorter timer of its own (V2G_EVCC_CableCheck_Timeout, 40 s).
    auth = "ContractAuthenticationReq" if protocol.generation is Generation.DIN else "AuthorizationReq"
    cases.append(
        env_case(
            protocol,
            f"{pfx}-TIM-{len(cases) + 1:02d}",
            "An authorization that never ends: the EV gives up at V2G_EVCC_Ongoing_Timeout",
            SutRole.EVCC,
            Category.TIMING,
            Serve(until=auth),
            Stall(kind=auth, requirement=ongoing),
            requirements=(ongoing,),
            stimulus=f"every {protocol.response_kind(auth)} says EVSEProcessing Ongoing",
            expected=f"the EV repeats {auth} until V2G_EVCC_Ongoing_Timeout (60 s) expires, not longer, then ends "
            "the session (SessionStopReq or closing the connection)",
        )
    )
    return cases


def _dc(protocol: Protocol, pfx: str) -> list[Case]:
    """The DC set-up: the cable check repeated while Ongoing, the precharge target and its end, the loop's
    targets within the charger's maxima."""
    dc = FAMILY_PROFILES[_DC]
    loop = loop_of(protocol, _DC)
    rows: list[tuple[str, str, str, str, tuple[Any, ...], Any]] = [
        (
            "The EV repeats CableCheckReq while the insulation test is Ongoing",
            "CableCheckRes with EVSEProcessing Ongoing three times, then Finished",
            "CableCheckReq again after each Ongoing, PreChargeReq only after Finished",
            f"{protocol.label} CableCheck (repeated until Finished)",
            (
                Serve(until="CableCheckReq"),
                *(step for _ in range(3) for step in (Respond(), ExpectRequest(kind="CableCheckReq"))),
                Respond(),
                ExpectRequest(kind="PreChargeReq"),
                Respond(),
                *evse_to_loop(family=_DC, preamble=False, protocol=protocol),
                *evse_end(1, family=_DC, stop_checks=_stop_checks(protocol), protocol=protocol),
            ),
            dataclasses.replace(dc, cable_check_ongoing=3),
        ),
        (
            "The precharge target lies within the EV's and the charger's voltage windows",
            "the EV announced its maximum voltage in ChargeParameterDiscoveryReq, the tester its window",
            "PreChargeReq's EVTargetVoltage within both windows",
            f"{protocol.label} PreChargeReq EVTargetVoltage",
            (
                Serve(until="PreChargeReq", checks=(ev.PRECHARGE_TARGET_IN_WINDOWS,), preamble=False),
                Respond(),
                *evse_to_loop(family=_DC, preamble=False, protocol=protocol),
                *evse_end(1, family=_DC, stop_checks=_stop_checks(protocol), protocol=protocol),
            ),
            dc,
        ),
        (
            "The EV precharges until the output matches its target before PowerDelivery(Start)",
            "the tester's output moves towards the EV's target with every PreChargeRes",
            "PreChargeReq repeated until EVSEPresentVoltage is within 20 V of EVTargetVoltage, then "
            "PowerDeliveryReq(Start)",
            f"{protocol.label} PreCharge before PowerDelivery",
            evse_session(
                family=_DC,
                loops=1,
                checks={"PowerDeliveryReq": (ev.PD_START, ev.PRECHARGE_MATCHED)},
                stop_checks=_stop_checks(protocol),
                protocol=protocol,
            ),
            dc,
        ),
        (
            f"{loop}: EVTargetVoltage and EVTargetCurrent within the charger's announced maxima",
            "the tester announces its maximum voltage and current in ChargeParameterDiscoveryRes",
            f"no {loop} asks for more",
            f"{protocol.label} {loop} (EVSE limits)",
            (
                *evse_to_loop(family=_DC, protocol=protocol),
                *evse_end(4, family=_DC, checks=(ev.TARGETS_WITHIN_EVSE_LIMITS,), protocol=protocol),
            ),
            dataclasses.replace(dc, evse_max_current_a=60.0),
        ),
    ]
    if protocol.generation is Generation.ISO2:
        rows.append(
            (
                "The ChargingProfile of PowerDeliveryReq(Start) stays within the schedule's PMax",
                "the tester offers one SAScheduleTuple whose PMaxSchedule is its maximum power",
                "no ChargingProfile entry above the PMax",
                "V2G2-225",
                evse_session(
                    family=_AC,
                    loops=1,
                    checks={"PowerDeliveryReq": (ev.PD_START, ev.PD_PROFILE_WITHIN_PMAX)},
                    stop_checks=_stop_checks(protocol),
                    protocol=protocol,
                ),
                FAMILY_PROFILES[_AC],
            )
        )
    return [
        env_case(
            protocol,
            f"{pfx}-PAR-{index:02d}",
            title,
            SutRole.EVCC,
            Category.PARAMETERS,
            *steps,
            profile=profile,
            requirements=(rule,),
            stimulus=stimulus,
            expected=expected,
        )
        for index, (title, stimulus, expected, rule, steps, profile) in enumerate(rows, start=1)
    ]


def _cases(generation: Generation) -> tuple[Case, ...]:
    protocol = PROTOCOLS[generation]
    pfx = prefix(SutRole.EVCC, protocol)
    stops = _charger_stops(protocol, pfx)
    found = [
        *_happy(protocol, pfx),
        *stops,
        *_failures(protocol, pfx, len(stops) + 1),
        *_timing(protocol, pfx),
        *_dc(protocol, pfx),
    ]
    return tuple(dataclasses.replace(c, protocols=frozenset({generation})) for c in found)


CASES: tuple[Case, ...] = (*_cases(Generation.ISO2), *_cases(Generation.DIN))
