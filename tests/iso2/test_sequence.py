"""Every state of -2 AC and DC sessions against every -2 request kind, on the session core and the SECC decisions.

Recorded AC and DC sessions are replayed into a fresh SECC connection whose responses come from our -2 decisions
(their controller inputs answered by a fixed charger), up to some state; then one request of any -2 kind arrives. A
request the table admits gets the decisions' answer (its own response kind; FAILED codes end the session); any
other is answered with its own response type carrying FAILED_SequenceError and the session ends
[V2G2-538]/[V2G2-539]. A request with another SessionID gets FAILED_UnknownSession. Nothing else escapes.
"""

from __future__ import annotations

import copy
import dataclasses
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iso15118.codec import decode_as, encode_message
from iso15118.controller import (
    AuthorizationDecision,
    DCCommand,
    DCLimits,
    DCOutput,
    EvseCommand,
    EVSELimits,
    IsolationCheck,
    IsolationStatus,
    MeterReading,
)
from iso15118.decisions import Input, Inputs, Need, SeccEnv
from iso15118.envelope.kinds import RESPONSE_OF, Kind
from iso15118.envelope.states import body_of
from iso15118.iso2.logic import Iso2Secc
from iso15118.iso2.profile import ISO2
from iso15118.iso2.secc import HANDLERS
from iso15118.messages.generated import iso2 as m
from iso15118.profiles import PROFILES, session_config
from iso15118.session import events as ev
from iso15118.session.connection import Connection, Role
from iso15118.session.context import CoreState
from iso15118.session.failures import minimal_instance
from iso15118.session.sap import SAP
from iso15118.session.selection import EnergyFamily
from iso15118.simple import SimpleEVSE, SimpleEVSEConfig
from iso15118.v2gtp import Deframer, frame
from tests.iso2.support import SECC, evcc, run
from tests.session.recording import Recorded

T0 = 1_700_000_000.0
_INPUTS: dict[Input, Any] = {
    Input.LIMITS: EVSELimits(max_charge_w=11_000),
    Input.AUTHORIZATION: AuthorizationDecision.ACCEPTED,
    Input.POWER_DELIVERY: True,
    Input.LOOP_COMMAND: EvseCommand(target_power_w=11_000),
    Input.METER: MeterReading(meter_id="METER-1", charged_wh=10),
    Input.PAUSED: None,
    Input.DC_LIMITS: DCLimits(
        max_voltage_v=500, min_voltage_v=150, max_charge_current_a=200, max_charge_power_w=50_000
    ),
    Input.CABLE_CHECK: IsolationCheck(done=True, status=IsolationStatus.VALID),
    Input.PRECHARGE: DCOutput(present_voltage_v=400),
    Input.DC_LOOP: DCCommand(present_voltage_v=400, present_current_a=50),
    Input.WELDING: DCOutput(present_voltage_v=0),
}
REQUESTS = sorted(k for k in ISO2.envelope.kinds if k in RESPONSE_OF)


FAMILIES = [EnergyFamily.AC, EnergyFamily.DC]


@cache
def recording(family: EnergyFamily = EnergyFamily.AC) -> tuple[Recorded, ...]:
    """A recorded -2 session of ``family`` (two loops; the insulation test passes at the first CableCheck, as the
    fixed charger of the replay answers it)."""
    evse = SimpleEVSE(SimpleEVSEConfig(cable_check_requests=0))
    _out, _secc, rec = run(evcc(max_loops=2, energy=family, precharge_interval_s=0.0), evse=evse)
    return tuple(rec.messages)


@cache
def catalogue() -> dict[Kind, tuple[Any, ...]]:
    """Body elements of every -2 request: each distinct one the session sent, a minimal valid one, and the
    variants the table tells apart (PowerDelivery's ChargeProgress, a DC ChargeParameterDiscovery)."""
    out: dict[Kind, list[Any]] = {kind: [] for kind in REQUESTS}
    for r in (*recording(EnergyFamily.AC), *recording(EnergyFamily.DC)):
        kind = ISO2.kind_of(r.message)
        if kind is not None and kind in RESPONSE_OF and body_of(r.message) not in out[Kind(kind)]:
            out[Kind(kind)].append(body_of(r.message))
    for kind in REQUESTS:
        out[kind].append(minimal_instance(ISO2.envelope.class_of[kind]))
    start = out[Kind.PowerDeliveryReq][0]
    out[Kind.PowerDeliveryReq].append(dataclasses.replace(start, charge_progress=m.ChargeProgress.Renegotiate))
    dc = minimal_instance(m.DC_EVChargeParameter)
    out[Kind.ChargeParameterDiscoveryReq].append(
        m.ChargeParameterDiscoveryReq(
            requested_energy_transfer_mode=m.EnergyTransferMode.DC_extended, dc_ev_charge_parameter=dc
        )
    )
    return {kind: tuple(bodies) for kind, bodies in out.items()}


def _wire(msg: Any) -> bytes:
    return frame(0x8001, encode_message(msg) if ISO2.kind_of(msg) is None else encode_message(msg, schema="iso2"))


def _sent(conn: Connection) -> list[Any]:
    return [decode_as(f.payload, "iso2") for f in Deframer().feed(conn.data_to_send())]


class Secc:
    """A sans-I/O SECC: the core, and our -2 decisions answering what it admits."""

    def __init__(self, family: EnergyFamily) -> None:
        self.conn = Connection(Role.SECC, now=T0, config=session_config())
        self.logic = Iso2Secc(SECC)
        self.ctx = self.logic.initial()
        setup = next(r.message for r in recording(family) if ISO2.kind_of(r.message) is Kind.SessionSetupRes)
        self.entropy = bytes(setup.header.session_id) + bytes(24)  # the decisions pick the recorded SessionID

    def answer(self, request: Any, now: float) -> Any:
        kind = ISO2.kind_of(request)
        assert kind is not None
        inputs = Inputs()
        while True:
            env = SeccEnv(
                now=now,
                header=self.conn.header(now),
                session_id=self.conn.session_id,
                selection=self.conn.selection,
                inputs=inputs,
                peer=None,
                entropy=self.entropy,
                dc_capable=True,
            )
            decided = self.logic.decide(kind, request, self.ctx, env)
            if not isinstance(decided, Need):
                self.ctx = decided.ctx
                return decided.response
            assert decided.what not in inputs, f"{kind} asks for {decided.what} twice"
            inputs = inputs.with_value(decided.what, _INPUTS[decided.what])


def replay(exchanges: int, family: EnergyFamily = EnergyFamily.AC) -> Secc:
    """An SECC after ``exchanges`` exchanges of the recorded session (the first is SupportedAppProtocol)."""
    replayed = _replayed(exchanges, family)
    # Profiles and configurations are shared, immutable values: the copy keeps them.
    shared = (replayed.conn.config, replayed.logic, SAP, *PROFILES.values())
    return copy.deepcopy(replayed, memo={id(x): x for x in shared})


@cache
def _replayed(exchanges: int, family: EnergyFamily) -> Secc:
    secc, rec = Secc(family), recording(family)
    for i in range(exchanges):
        request, recorded = rec[2 * i].message, rec[2 * i + 1].message
        events = secc.conn.receive_data(_wire(request), T0 + i)
        assert any(isinstance(e, ev.RequestReceived) for e in events), events
        response = recorded if secc.conn.profile is SAP else secc.answer(request, T0 + i)
        assert type(body_of(response) or response) is type(body_of(recorded) or recorded)
        secc.conn.send(response, T0 + i)
        secc.conn.data_to_send()
    return secc


def _request(secc: Secc, kind: Kind, variant: int = 0) -> Any:
    return ISO2.envelope.wrap(ISO2.envelope.header(secc.conn.session_id), catalogue()[kind][variant])


STATES = [(family, n) for family in FAMILIES for n in range(1, len(recording(family)) // 2)]
"""(family, exchanges replayed): every state the recorded AC and DC sessions pass through."""


def _check(exchanges: int, kind: Kind, variant: int = 0, family: EnergyFamily = EnergyFamily.AC) -> str:
    """Send a ``kind`` after ``exchanges``; check the answer and the end; returns the response code."""
    secc = replay(exchanges, family)
    conn, state = secc.conn, secc.conn.state
    request = _request(secc, kind, variant)
    admitted = conn.profile.table.rule(state, kind, conn.selection, request) is not None
    events = conn.receive_data(_wire(request), T0 + 100)
    if admitted:
        assert any(isinstance(e, ev.RequestReceived) for e in events), (state, kind, events)
        response = secc.answer(request, T0 + 100)
        events = conn.send(response, T0 + 100)
        (answer,) = _sent(conn)
        code = str(body_of(answer).response_code)
        assert ISO2.kind_of(answer) is RESPONSE_OF[kind] and code.startswith(("OK", "FAILED")), (state, kind, code)
        if code.startswith("FAILED"):
            ended = [e for e in events if isinstance(e, ev.SessionEnded)]
            assert ended and ended[0].reason is ev.EndReason.FAILED_SENT, (state, kind, events)
        return code
    ended = [e for e in events if isinstance(e, ev.SessionEnded)]
    assert ended and ended[0].reason is ev.EndReason.PROTOCOL_ERROR, (state, kind, events)
    assert any(isinstance(e, ev.CloseRequested) for e in events)
    (answer,) = _sent(conn)
    assert ISO2.kind_of(answer) is RESPONSE_OF[kind]
    assert str(body_of(answer).response_code) == "FAILED_SequenceError"
    assert conn.state is CoreState.ENDED
    assert conn.receive_data(_wire(request), T0 + 101) == []  # nothing more is processed
    return "FAILED_SequenceError"


def test_every_state_against_every_request_kind() -> None:
    @settings(max_examples=250, deadline=None, database=None)
    @given(st.sampled_from(STATES), st.sampled_from(REQUESTS), st.integers(0, 4))
    def check(state: tuple[EnergyFamily, int], kind: Kind, variant: int) -> None:
        family, exchanges = state
        _check(exchanges, kind, variant % len(catalogue()[kind]), family)

    check()


@pytest.mark.parametrize(("family", "exchanges"), STATES)
def test_each_state_refuses_exactly_what_its_rows_do_not_admit(family: EnergyFamily, exchanges: int) -> None:
    secc = replay(exchanges, family)
    table, state, selection = secc.conn.profile.table, secc.conn.state, secc.conn.selection
    refused = [
        (kind, i)
        for kind in REQUESTS
        for i in range(len(catalogue()[kind]))
        if table.rule(state, kind, selection, _request(secc, kind, i)) is None
    ]
    assert refused
    for kind, variant in refused:
        assert _check(exchanges, kind, variant, family) == "FAILED_SequenceError", (state, kind, variant)


@pytest.mark.parametrize("family", FAMILIES)
def test_another_session_id_is_refused(family: EnergyFamily) -> None:
    rec = recording(family)
    for exchanges in range(2, len(rec) // 2):  # past SessionSetup
        secc = replay(exchanges, family)
        request = dataclasses.replace(rec[2 * exchanges].message, header=ISO2.envelope.header(b"\xee" * 8))
        events = secc.conn.receive_data(_wire(request), T0 + 100)
        ended = [e for e in events if isinstance(e, ev.SessionEnded)]
        assert ended and ended[0].response_code == "FAILED_UnknownSession"
        assert ended[0].requirement == "ISO 15118-2 MessageHeader SessionID"
        (answer,) = _sent(secc.conn)
        assert str(body_of(answer).response_code) == "FAILED_UnknownSession"


def test_every_request_kind_the_table_admits_has_a_decision() -> None:
    admitted = {kind for (_state, kind) in ISO2.table.rows}
    assert admitted <= set(HANDLERS)
    assert {k for k in REQUESTS if k in ISO2.envelope.kinds} == admitted  # and every -2 request has a row
