"""The two real DC sessions in ../shared/captures (a dSPACE DS5366 charger and Josev's EV, -20 DC over TLS 1.3
and mutual TLS, decrypted with their key logs) replayed against our SECC and our EVCC, in memory.

Our SECC: every captured request, sent in order by a test client (with our SECC's SessionID in its header), is
answered with a response of the same kind, ResponseCode and EVSEProcessing. Our SECC's offer is configured like
the captured one where the EV's choices depend on it: the captured EV selects ServiceID 2 with ParameterSetID 1
and runs Dynamic mode, so ``control_modes=(2, 1)`` makes set 1 Dynamic; the EVSEID is the captured one. Its DC
controller (:class:`CapturedCharger`) reports what the captured charger reported (limits, insulation test
Ongoing 21 or 20 times, precharge voltages, loop output, welding voltage), so beyond the codes every value of
every response is the captured one -- except the third parameter set of ServiceDetailRes, which the captured
charger offers (a second Dynamic set) and our two control modes do not.

Our EVCC: answered with the captured responses (a scripted peer, each request answered with the next captured
response of its kind), it sends the captured sequence of request kinds, repetitions included:

* DC_CableCheckReq repeats while the charger answers Ongoing: our rule, from the captured values (22 / 21).
* The other counts are the captured EV's own choices, not consequences of the captured values, so they are
  configured: 4 DC_PreChargeReq (the captured EV says Finished once the charger reports 150 V / 159 V against
  its 460 V target -- a fixed count in Josev's simulator; our rule ends precharge within
  ``precharge_tolerance_v`` of the target, so 320 V puts the cut between the 2nd and 3rd response of both
  captures), 5 DC_WeldingDetectionReq (every captured welding response reports 0.2-0.3 V, already safe at the
  first; ``welding_attempts=4`` with ``welding_safe_voltage_v=0`` repeats it as often), 11 DC_ChargeLoopReq
  (``max_loops``; the captured EV stops at its simulated 100 % SoC).
* The mutual-TLS capture's EV sends PowerDeliveryReq(Start) twice, the first with EVProcessing=Ongoing and no
  power profile (allowed, [V2G20-1436]; random in Josev's simulator). Our EV computes its profile at once and
  sends one: that request is the one difference, and the test pins it.

Without the captured EV's Finished DC_PreChargeReq, its PowerDeliveryReq comes out of sequence: our SECC refuses
it (FAILED_SequenceError).
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from iso15118.config import EvccConfig, SeccConfig
from iso15118.messages.iso20 import RationalNumber
from iso15118.messages.units import value_of
from iso15118.session.selection import EnergyFamily
from iso15118.transport.link import memory_pair
from iso15118.transport.runner import run_evcc_session, serve_secc_session
from tests.support.capture_replay import (
    Exchange,
    Replayed,
    answer_from_capture,
    captured_exchanges,
    kind,
    replay_requests,
)
from tests.support.captured_peers import CapturedCharger, CapturedEV, messages_of
from tests.support.captures import extract_v2gtp_frames, require_tshark
from tests.support.shared import shared_path

CAPTURES = ["ISO-20_TLS13_DC_DS5366_Josev", "ISO-20_mTLS_DC_DS5366_Josev"]
TIMEOUT = 60.0


def _captured_ev_config(loops: int) -> EvccConfig:
    """Our EV with the captured EV's own counts (see the module docstring): precharge ends within 320 V of its
    460 V target, welding detection runs 4 + 1 times whatever the voltage, ``loops`` charge loops; no pauses
    between repeated requests in memory."""
    return EvccConfig(
        energy=EnergyFamily.DC,
        bidirectional=False,
        max_loops=loops,
        precharge_tolerance_v=320.0,
        welding_safe_voltage_v=0.0,
        welding_attempts=4,
        authorization_retry_s=0.0,
        precharge_interval_s=0.0,
        loop_interval_s=0.0,
    )


@pytest.fixture(params=CAPTURES)
def exchanges(request: pytest.FixtureRequest) -> list[Exchange]:
    require_tshark()
    name = request.param
    pcap: Path = shared_path("captures", f"{name}.pcapng")
    keys: Path = shared_path("captures", f"{name}.keys")
    return captured_exchanges(extract_v2gtp_frames(pcap, keys))


def _code(msg: Any) -> tuple[str, str | None, str | None]:
    processing = getattr(msg, "evse_processing", None)
    return kind(msg), str(getattr(msg, "response_code", None)), None if processing is None else str(processing)


def _values(obj: Any, path: str = "") -> dict[str, Any]:
    """Every leaf of a message by path, RationalNumbers as numbers (their scaling may differ), header left out."""
    if isinstance(obj, RationalNumber):
        return {path: value_of(obj)}
    if dataclasses.is_dataclass(obj):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            if f.name != "header":
                out |= _values(getattr(obj, f.name), f"{path}.{f.name}" if path else f.name)
        return out
    if isinstance(obj, tuple):
        return {k: v for i, item in enumerate(obj) for k, v in _values(item, f"{path}[{i}]").items()}
    return {path: obj}


def _differences(ours: Any, captured: Any) -> dict[str, tuple[Any, Any]]:
    a, b = _values(ours), _values(captured)
    return {k: (a.get(k), b.get(k)) for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)}


async def _replay_against_our_secc(exchanges: list[Exchange], charger: CapturedCharger) -> tuple[list[Replayed], Any]:
    evse_id = messages_of(exchanges, "SessionSetupRes")[0].evse_id
    ev_link, secc_link = memory_pair()
    secc = asyncio.create_task(
        serve_secc_session(secc_link, charger, SeccConfig(control_modes=(2, 1), evse_id=evse_id))
    )
    replayed = await replay_requests(ev_link, exchanges, timeout=TIMEOUT)
    return replayed, await asyncio.wait_for(secc, TIMEOUT)


def test_our_secc_answers_every_captured_request_alike(exchanges: list[Exchange]) -> None:
    charger = CapturedCharger.from_exchanges(exchanges)
    replayed, outcome = asyncio.run(_replay_against_our_secc(exchanges, charger))

    assert len(replayed) == len(exchanges) and all(r.answer is not None for r in replayed), replayed[-1]
    ours = [_code(r.answer) for r in replayed]
    captured = [_code(e.response.message) for e in exchanges]
    assert ours == captured
    assert outcome.ok, outcome
    assert outcome.negotiated["service_id"] == 2 and outcome.negotiated["control_mode"] == "dynamic"
    assert outcome.loops == len(messages_of(exchanges, "DC_ChargeLoopReq"))
    # Every later request carried our SessionID, and our answers carry it too.
    assert {r.sent.header.session_id for r in replayed[2:]} == {outcome.session_id}
    assert {r.answer.header.session_id for r in replayed[2:]} == {outcome.session_id}

    # Beyond the codes: with the captured charger's outputs, every value is the captured one but one.
    different = {}
    for r in replayed:
        diff = _differences(r.answer, r.exchange.response.message)
        if diff:
            different[kind(r.answer)] = diff
    assert set(different) == {"ServiceDetailRes"}, different
    detail = messages_of(exchanges, "ServiceDetailRes")[0].service_parameter_list.parameter_set
    [our_detail] = [r.answer for r in replayed if kind(r.answer) == "ServiceDetailRes"]
    assert our_detail.service_parameter_list.parameter_set == detail[:2]  # Dynamic, Scheduled
    assert [p.parameter_set_id for p in detail] == [1, 2, 3]  # the captured third set: Dynamic again


async def _our_evcc_against_capture(exchanges: list[Exchange], config: EvccConfig) -> tuple[Any, Any, CapturedEV]:
    ev = CapturedEV.from_exchanges(exchanges)
    ev_link, secc_link = memory_pair()
    peer = asyncio.create_task(answer_from_capture(secc_link, exchanges, timeout=TIMEOUT))
    outcome = await asyncio.wait_for(run_evcc_session(ev_link, ev, config), TIMEOUT)
    return outcome, await asyncio.wait_for(peer, TIMEOUT), ev


def test_our_evcc_sends_the_captured_request_sequence(exchanges: list[Exchange]) -> None:
    loops = len(messages_of(exchanges, "DC_ChargeLoopReq"))
    config = _captured_ev_config(loops)
    outcome, peer, _ev = asyncio.run(_our_evcc_against_capture(exchanges, config))

    assert peer.unanswered is None, f"the capture has no response left for our {peer.unanswered}"
    assert outcome.ok and outcome.loops == loops, outcome
    ours = [kind(m) for m in peer.requests]
    # The captured EV's PowerDeliveryReq with EVProcessing=Ongoing (mutual-TLS capture only) is the one request
    # our EV does not send: it has its power profile at once.
    ongoing = [e.request.message for e in exchanges if _ongoing_power_delivery(e.request.message)]
    captured = [kind(e.request.message) for e in exchanges if not _ongoing_power_delivery(e.request.message)]
    assert ours == captured
    assert len(ongoing) <= 1 and all(m.ev_power_profile is None for m in ongoing)
    assert not any(_ongoing_power_delivery(m) for m in peer.requests)
    # Our EV took the SessionID of the captured SessionSetupRes and selected what the captured EV selected.
    session_id = messages_of(exchanges, "SessionSetupRes")[0].header.session_id
    assert {m.header.session_id for m in peer.requests[2:]} == {session_id}
    [selection] = [m for m in peer.requests if kind(m) == "ServiceSelectionReq"]
    assert selection.selected_energy_transfer_service == (
        messages_of(exchanges, "ServiceSelectionReq")[0].selected_energy_transfer_service
    )
    precharge = [str(m.ev_processing) for m in peer.requests if kind(m) == "DC_PreChargeReq"]
    welding = [str(m.ev_processing) for m in peer.requests if kind(m) == "DC_WeldingDetectionReq"]
    assert precharge == [str(m.ev_processing) for m in messages_of(exchanges, "DC_PreChargeReq")]
    assert welding == [str(m.ev_processing) for m in messages_of(exchanges, "DC_WeldingDetectionReq")]


def _ongoing_power_delivery(msg: Any) -> bool:
    return kind(msg) == "PowerDeliveryReq" and str(msg.ev_processing) == "Ongoing"


def test_with_its_own_rules_our_evcc_keeps_precharging_where_the_captured_ev_stopped(
    exchanges: list[Exchange],
) -> None:
    """Without the configured counts, our EV's precharge rule (within 10 V of its 460 V target) does not accept
    the captured charger's 213-225 V: it asks once more than the capture can answer."""
    config = dataclasses.replace(_captured_ev_config(1), precharge_tolerance_v=EvccConfig().precharge_tolerance_v)
    outcome, peer, ev = asyncio.run(_our_evcc_against_capture(exchanges, config))
    captured = messages_of(exchanges, "DC_PreChargeRes")
    assert peer.unanswered == "DC_PreChargeReq"
    assert [kind(m) for m in peer.requests].count("DC_PreChargeReq") == len(captured) + 1
    last_v = value_of(captured[-1].evse_present_voltage)
    assert ev.state.target_voltage_v is not None and ev.state.target_voltage_v - last_v > 200
    assert not outcome.ok and outcome.loops == 0


def test_our_secc_refuses_power_delivery_after_an_unfinished_precharge(exchanges: list[Exchange]) -> None:
    """The captured EV without its Finished DC_PreChargeReq: PowerDeliveryReq then comes out of sequence (an EV
    bug other stacks accepted, ../shared/reference users.md A11), and our SECC refuses it and ends."""
    cut = [e for e in exchanges if not (kind(e.request.message) == "DC_PreChargeReq" and _finished(e.request.message))]
    assert len(cut) == len(exchanges) - 1
    replayed, outcome = asyncio.run(_replay_against_our_secc(cut, CapturedCharger.from_exchanges(exchanges)))
    refused = next(i for i, r in enumerate(replayed) if kind(r.sent) == "PowerDeliveryReq")
    assert all(str(r.answer.response_code).startswith("OK") for r in replayed[:refused])
    answer = replayed[refused].answer
    assert kind(answer) == "PowerDeliveryRes" and str(answer.response_code) == "FAILED_SequenceError", answer
    assert replayed[refused + 1 :] == [] or replayed[refused + 1].answer is None
    assert not outcome.ok and outcome.loops == 0


def _finished(msg: Any) -> bool:
    return str(msg.ev_processing) == "Finished"
