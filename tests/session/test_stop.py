"""A clean stop asked of either side mid-loop ends the session the standard's way (issue "field tester", item 3).

EVCC: PowerDelivery(Stop), then SessionStop(Terminate) [V2G20-1610]. SECC: the next charge-loop response carries
EVSENotification Terminate with no delay, and the EV ends the session itself. Both outcomes say who stopped it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from iso15118.codec import encode_message
from iso15118.config import EvccConfig, SeccConfig
from iso15118.iso20.profile import OFFERS
from iso15118.session.events import EndReason
from iso15118.session.sap import sap_request
from iso15118.session.selection import EnergyFamily
from iso15118.simple import SimpleEV, SimpleEVSE
from iso15118.transport.link import memory_pair
from iso15118.transport.runner import run_evcc_session, serve_secc_session
from iso15118.v2gtp import frame
from tests.session.recording import Recorder


async def _session(stop_side: str, energy: EnergyFamily) -> tuple[Any, Any, Recorder]:
    rec = Recorder()
    handles: dict[str, Any] = {}
    a, b = memory_pair()
    secc = asyncio.create_task(
        serve_secc_session(b, SimpleEVSE(), SeccConfig(), observers=[rec], on_start=lambda h: handles.update(secc=h))
    )
    config = EvccConfig(energy=energy, max_loops=None, loop_interval_s=0.01, precharge_interval_s=0.0)
    evcc = asyncio.create_task(
        run_evcc_session(a, SimpleEV(), config, observers=[rec], on_start=lambda h: handles.update(evcc=h))
    )
    # Wait until the charge loop runs (readiness, not time), then ask one side to stop.
    while sum(1 for r in rec.messages if r.sender == "secc" and "ChargeLoopRes" in type(r.message).__name__) < 3:
        await asyncio.sleep(0.005)
    await handles[stop_side].request_stop("SIGTERM")
    out, secc_out = await asyncio.wait_for(asyncio.gather(evcc, secc), 10)
    return out, secc_out, rec


@pytest.mark.parametrize("energy", [EnergyFamily.AC, EnergyFamily.DC])
def test_the_ev_stops_with_power_delivery_stop_and_session_stop(energy: EnergyFamily) -> None:
    out, secc, rec = asyncio.run(_session("evcc", energy))
    sent = [type(r.message).__name__ for r in rec.messages if r.sender == "evcc"]
    stop_at = len(sent) - 1 - sent[::-1].index("PowerDeliveryReq")
    tail = sent[stop_at:]
    expected = (
        ["PowerDeliveryReq", "DC_WeldingDetectionReq", "SessionStopReq"]
        if energy is EnergyFamily.DC
        else ["PowerDeliveryReq", "SessionStopReq"]
    )
    assert [k for i, k in enumerate(tail) if i == 0 or k != tail[i - 1]][: len(expected)] == expected
    assert out.ended.reason is EndReason.TERMINATED and secc.ended.reason is EndReason.TERMINATED
    assert out.interrupted == "SIGTERM" and not out.ok and secc.ok


@pytest.mark.parametrize("energy", [EnergyFamily.AC, EnergyFamily.DC])
def test_the_charger_asks_the_ev_to_terminate(energy: EnergyFamily) -> None:
    out, secc, rec = asyncio.run(_session("secc", energy))
    notes = [
        r.message.evse_status.evse_notification
        for r in rec.messages
        if r.sender == "secc" and "ChargeLoopRes" in type(r.message).__name__ and r.message.evse_status is not None
    ]
    assert [str(n) for n in notes] == ["Terminate"]
    assert out.ended.reason is EndReason.TERMINATED and secc.ended.reason is EndReason.TERMINATED
    assert out.negotiated["notifications"] == ["Terminate"]
    assert secc.interrupted == "SIGTERM" and not secc.ok
    # The EV ended it itself: PowerDelivery(Stop) (and welding detection in DC), then SessionStop(Terminate).
    last = [r.message for r in rec.messages if r.sender == "evcc"][-1]
    assert type(last).__name__ == "SessionStopReq" and str(last.charging_session) == "Terminate"


def test_a_session_the_ev_does_not_end_in_time_is_aborted_with_its_record() -> None:
    """An operator's stop before the charge loop has no response to carry the notification: after the grace the
    charger aborts the session -- the outcome, the observers (the journal) and the link all see the end."""

    async def run() -> tuple[Any, Recorder, bytes]:
        rec = Recorder()
        handles: dict[str, Any] = {}
        a, b = memory_pair()
        secc = asyncio.create_task(
            serve_secc_session(b, SimpleEVSE(), SeccConfig(), observers=[rec], on_start=lambda h: handles.update(h=h))
        )
        await a.send(frame(0x8001, encode_message(sap_request(list(OFFERS.values())))))
        answer = await a.receive()  # the SAP answer: the session runs, then the EV goes quiet
        await handles["h"].request_stop("SIGTERM")
        handles["h"].abort("SIGTERM; the EV did not end the session within 0 s")
        outcome = await asyncio.wait_for(secc, 10)
        closed = await asyncio.wait_for(a.receive(), 10)
        return outcome, rec, answer + closed

    outcome, rec, _wire = asyncio.run(run())
    assert outcome.ended.reason is EndReason.ABORTED and outcome.interrupted == "SIGTERM"
    assert "did not end the session" in outcome.ended.detail and not outcome.ok
    assert any(getattr(e, "reason", None) is EndReason.ABORTED for _role, e in rec.events)


def test_a_stop_between_power_delivery_start_and_the_first_loop_begins_with_power_delivery() -> None:
    """The -20 table admits no SessionStop in the charge loop, even before its first exchange [V2G20-2645]."""
    from iso15118.controller import EVLimits, EVState
    from iso15118.decisions import EvccEnv
    from iso15118.iso20.kinds import Kind
    from iso15118.iso20.logic import Iso20Evcc
    from iso15118.iso20.states import State
    from iso15118.session.selection import Selection

    logic = Iso20Evcc(EvccConfig())
    ev = EVState(
        soc=50, present_power_w=0, target_energy_wh=1, max_energy_wh=1, min_energy_wh=0, limits=EVLimits(max_charge_w=1)
    )
    before_loop = EvccEnv(now=0.0, header=None, session_id=b"", selection=Selection(), ev=ev, state=State.CHARGE_LOOP)
    step = logic.stop(logic.initial(), "SIGTERM", before_loop)
    assert [s.kind for s in step.sends] == [Kind.PowerDeliveryReq]
    in_setup = EvccEnv(
        now=0.0, header=None, session_id=b"", selection=Selection(), ev=ev, state=State.WAIT_SERVICE_DISCOVERY
    )
    assert [s.kind for s in logic.stop(logic.initial(), "SIGTERM", in_setup).sends] == [Kind.SessionStopReq]
