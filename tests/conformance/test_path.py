"""The tester's sequence knowledge comes from the library's table, and its messages from the library's builders."""

from __future__ import annotations

import asyncio

import pytest

from harness.conformance.context import Context, RunConfig
from harness.conformance.model import Profile, dc_profile
from harness.conformance.path import (
    kind_of,
    path_requirements,
    response_kind,
    resumed_at,
    segment,
    session_path,
    side_kinds,
)
from harness.conformance.proto_iso20 import ISO20_PROTOCOL
from harness.conformance.requests import build_request
from harness.conformance.responses import build_response
from iso15118.iso20.kinds import Kind
from iso15118.messages import iso20 as m
from iso15118.session.profile import Stream
from iso15118.session.selection import EnergyFamily

_AC, _DC = EnergyFamily.AC, EnergyFamily.DC


def test_the_dc_session_is_the_ac_one_with_the_dc_steps() -> None:
    ac = [hop.kind for hop in session_path(_AC)]
    dc = [hop.kind for hop in session_path(_DC)]
    added = {"DC_CableCheckReq", "DC_PreChargeReq", "DC_WeldingDetectionReq"}
    assert [k for k in dc if k not in added] == [k.replace("AC_", "DC_") for k in ac]
    assert dc.index("DC_CableCheckReq") == dc.index("ScheduleExchangeReq") + 1
    assert dc.index("DC_PreChargeReq") == dc.index("DC_CableCheckReq") + 1
    assert dc[dc.index("DC_PreChargeReq") + 1] == "PowerDeliveryReq"
    assert dc[-2:] == ["DC_WeldingDetectionReq", "SessionStopReq"] and ac[-1] == "SessionStopReq"
    assert ac[0] == dc[0] == "supportedAppProtocolReq"


def test_hops_know_the_loop_its_end_and_what_is_optional() -> None:
    path = session_path(_DC)
    loop = [hop for hop in path if hop.loop]
    assert [hop.kind for hop in loop] == ["DC_ChargeLoopReq"]
    stop = path[path.index(loop[0]) + 1]
    assert stop.kind == "PowerDeliveryReq" and stop.ends_loop and stop.requirement == "V2G20-2012"
    assert [hop.kind for hop in path if hop.optional] == ["DC_WeldingDetectionReq"]
    assert "V2G20-1484" in path_requirements(_DC) and "V2G20 DC sequence" in path_requirements(_DC)


def test_segments_before_and_after_the_loop() -> None:
    start = segment(_DC, until="PowerDeliveryReq")
    assert start[-1].kind == "DC_PreChargeReq"
    past = segment(_DC, until="PowerDeliveryReq", past_loop=True)
    assert past[-1].kind == "DC_ChargeLoopReq"
    ending = segment(_DC, start="PowerDeliveryReq", past_loop=True)
    assert [hop.kind for hop in ending] == ["PowerDeliveryReq", "DC_WeldingDetectionReq", "SessionStopReq"]
    with pytest.raises(KeyError, match="not in the default session"):
        segment(_AC, until="DC_CableCheckReq")


def test_kinds_from_the_profiles() -> None:
    assert resumed_at(_AC) == "AC_ChargeParameterDiscoveryReq"
    assert resumed_at(_DC) == "DC_ChargeParameterDiscoveryReq"
    assert response_kind("supportedAppProtocolReq") == "supportedAppProtocolRes"
    assert response_kind("DC_PreChargeReq") == "DC_PreChargeRes"
    assert side_kinds(Stream.SCHEDULE_RENEGOTIATION) == {"ScheduleExchangeReq", "PowerDeliveryReq"}
    assert side_kinds(Stream.METERING_CONFIRMATION) == {"MeteringConfirmationReq"}


def test_the_tester_ev_builds_with_the_library() -> None:
    ctx = Context(profile=dc_profile(), config=RunConfig(), protocol=ISO20_PROTOCOL)
    cpd = build_request("DC_ChargeParameterDiscoveryReq", ctx, {})
    assert cpd.bpt_dc_cpd_req_energy_transfer_mode is not None  # DC_BPT selected by the profile
    ctx.values["as_if"] = {"service_id": 2}
    plain = build_request("DC_ChargeParameterDiscoveryReq", ctx, {})
    assert plain.dc_cpd_req_energy_transfer_mode is not None and "as_if" not in ctx.values
    # A request of the other family is built as one (a stimulus: AC in a DC session).
    assert kind_of(build_request("AC_ChargeLoopReq", ctx, {})) == Kind.AC_ChargeLoopReq
    precharge = build_request("DC_PreChargeReq", ctx, {"ev_processing": m.Processing.Finished})
    assert str(precharge.ev_processing) == "Finished" and precharge.ev_target_voltage is not None


def test_the_tester_secc_answers_with_the_library() -> None:
    ctx = Context(profile=Profile(), config=RunConfig(), protocol=ISO20_PROTOCOL)
    sap = build_request("supportedAppProtocolReq", ctx, {})
    answered = asyncio.run(build_response(sap, ctx))
    assert str(answered.response_code) == "OK_SuccessfulNegotiation" and ctx.state is not None
    setup = build_request("SessionSetupReq", ctx, {})
    res = asyncio.run(build_response(setup, ctx))
    assert str(res.response_code) == "OK_NewSessionEstablished" and ctx.session_id == res.header.session_id
    failed = asyncio.run(build_response(build_request("AuthorizationSetupReq", ctx, {}), ctx, code="FAILED"))
    assert str(failed.response_code) == "FAILED" and kind_of(failed) == Kind.AuthorizationSetupRes
