"""Tolerant decoding: Josev's FAILED responses that deviate from the -20 schemas, refused strictly, read tolerantly.

The vectors (``tests/vectors/exi/josev_failed_responses.json``, see PROVENANCE.md there) are the FAILED responses
Josev's SECC sends, coded by its EXIficient: ServiceDetailRes with an empty ServiceParameterList and
ScheduleExchangeRes with an empty PriceLevelScheduleEntries (one element required: EXIficient writes the
non-strict undeclared EE), CertificateInstallationRes with a 1-byte DHPublicKey (133 required: a facet). Strict
decoding refuses each naming the element path and the bit; tolerant decoding returns the message and the named
deviation; the session core ends the session in strict mode and, tolerant, reports the deviation and goes on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from iso15118.codec import SchemaDeviationError, codec_for, decode_message, encode_message
from iso15118.codec.schemasets import PAYLOAD_SETS
from iso15118.constants import PayloadType
from iso15118.messages.iso20 import ServiceDetailRes
from iso15118.profiles import session_config
from iso15118.session import events as ev
from iso15118.session.config import SessionConfig
from iso15118.session.connection import Connection, Role
from iso15118.session.selection import EnergyMode
from iso15118.transport.policy import TransportPolicy
from iso15118.v2gtp import frame
from tests.session.recording import Recorded, record_session

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "exi" / "josev_failed_responses.json"
T0 = 1_700_000_000.0


def _vectors() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads(VECTORS.read_text())["vectors"]
    return vectors


def _deviating() -> list[dict[str, Any]]:
    return [v for v in _vectors() if v["deviations"]]


def test_the_recorded_vectors_hold_the_three_deviations() -> None:
    named = {v["name"].split()[0]: [d["kind"] for d in v["deviations"]] for v in _deviating()}
    assert named == {
        "CertificateInstallationRes": ["facet"],
        "ServiceDetailRes": ["missing-content"],
        "ScheduleExchangeRes": ["missing-content"],
    }


@pytest.mark.parametrize("vector", _deviating(), ids=lambda v: str(v["name"]))
def test_strict_refuses_with_path_and_bit_tolerant_names_the_deviation(vector: dict[str, Any]) -> None:
    data, payload_type = bytes.fromhex(vector["hex"]), int(vector["payload_type"], 16)
    first = vector["deviations"][0]
    with pytest.raises(SchemaDeviationError) as info:
        decode_message(data, payload_type)
    refused = info.value
    assert "/" + "/".join(refused.path) == first["path"] and refused.bit_offset == first["bit_offset"]
    assert refused.message is not None and type(refused.message).__name__ == vector["name"].split()[0]
    doc = codec_for(PAYLOAD_SETS[PayloadType(payload_type)]).decode_document(data, tolerant=True)
    assert doc.value == refused.message
    got = [{"path": "/" + "/".join(d.path), "bit_offset": d.bit_offset, "kind": str(d.kind)} for d in doc.deviations]
    assert got == vector["deviations"]


def test_tolerant_reading_of_the_empty_parameter_list() -> None:
    vector = next(v for v in _deviating() if v["name"].startswith("ServiceDetailRes"))
    with pytest.raises(SchemaDeviationError) as info:
        decode_message(bytes.fromhex(vector["hex"]), PayloadType.ISO20_COMMON)
    msg = info.value.message
    assert isinstance(msg, ServiceDetailRes)
    assert msg.response_code == "FAILED_SequenceError" and msg.service_parameter_list.parameter_set == ()
    assert msg.header.session_id == bytes.fromhex("3D30D3AD4C3B83DF")


@pytest.mark.parametrize("vector", [v for v in _vectors() if not v["deviations"]], ids=lambda v: str(v["name"]))
def test_josev_failed_responses_without_deviation_decode_and_re_encode_bit_exactly(vector: dict[str, Any]) -> None:
    data = bytes.fromhex(vector["hex"])
    msg = decode_message(data, int(vector["payload_type"], 16))
    assert encode_message(msg) == data


# ---- the session core ------------------------------------------------------------------------------------------


def _with_session_id(data: bytes, session_id: bytes) -> bytes:
    """A -20 message's SessionID replaced: its 8 octets start at bit 25 (exi-codec-guide §6.1)."""
    bits = int.from_bytes(data, "big")
    total = len(data) * 8
    shift = total - 25 - 64
    bits = (bits & ~(((1 << 64) - 1) << shift)) | (int.from_bytes(session_id, "big") << shift)
    return bits.to_bytes(len(data), "big")


def _evcc_waiting_for_service_detail(tolerant: bool) -> tuple[Connection, bytes]:
    """An EVCC core replayed up to its ServiceDetailReq; returns it and the session's SessionID."""
    recording: list[Recorded] = record_session(True, loops=1, mode=EnergyMode.AC)
    conn = Connection(Role.EVCC, now=T0, config=session_config(SessionConfig(tolerant_decoding=tolerant)))
    for i in range(0, len(recording), 2):
        req, res = recording[i], recording[i + 1]
        conn.send(req.message, T0 + i)
        conn.data_to_send()
        if type(req.message).__name__ == "ServiceDetailReq":
            return conn, res.message.header.session_id
        events = conn.receive_data(frame(res.payload_type, encode_message(res.message)), T0 + i)
        assert any(isinstance(e, ev.ResponseReceived) for e in events), events
    raise AssertionError("the recorded session has no ServiceDetailReq")


def test_strict_session_ends_naming_element_and_bit() -> None:
    conn, session_id = _evcc_waiting_for_service_detail(tolerant=False)
    vector = next(v for v in _deviating() if v["name"].startswith("ServiceDetailRes"))
    data = _with_session_id(bytes.fromhex(vector["hex"]), session_id)
    events = conn.receive_data(frame(PayloadType.ISO20_COMMON, data), T0 + 100)
    ended = [e for e in events if isinstance(e, ev.SessionEnded)]
    assert ended and ended[0].reason is ev.EndReason.DECODE_ERROR
    assert "/ServiceDetailRes/ServiceParameterList" in ended[0].detail and "bit 124" in ended[0].detail
    assert not any(isinstance(e, ev.SchemaDeviationTolerated) for e in events)


def test_tolerant_session_reports_the_deviation_and_reads_the_failed_response() -> None:
    conn, session_id = _evcc_waiting_for_service_detail(tolerant=True)
    vector = next(v for v in _deviating() if v["name"].startswith("ServiceDetailRes"))
    data = _with_session_id(bytes.fromhex(vector["hex"]), session_id)
    events = conn.receive_data(frame(PayloadType.ISO20_COMMON, data), T0 + 100)
    tolerated = [e for e in events if isinstance(e, ev.SchemaDeviationTolerated)]
    assert len(tolerated) == 1
    assert tolerated[0].path == ("ServiceDetailRes", "ServiceParameterList") and tolerated[0].bit_offset == 124
    assert tolerated[0].what.startswith("missing-content") and tolerated[0].payload_type == PayloadType.ISO20_COMMON
    received = [e for e in events if isinstance(e, ev.ResponseReceived)]
    assert received and isinstance(received[0].message, ServiceDetailRes)
    # The response itself says FAILED: the session ends for that reason, not for a decode error.
    ended = [e for e in events if isinstance(e, ev.SessionEnded)]
    assert ended and ended[0].reason is ev.EndReason.FAILED_RECEIVED


def test_tolerant_transport_policy_turns_tolerant_decoding_on() -> None:
    assert TransportPolicy(tls=None, tolerant=True).session_config().tolerant_decoding
    assert not TransportPolicy(tls=None).session_config().tolerant_decoding


def test_the_transport_logs_a_tolerated_deviation(caplog: pytest.LogCaptureFixture) -> None:
    import asyncio

    from iso15118.transport.driver import Pump
    from iso15118.transport.link import memory_pair

    async def emit() -> None:
        link, _other = memory_pair()
        pump = Pump(Connection(Role.EVCC, now=T0, config=session_config()), link)
        deviation = ev.SchemaDeviationTolerated(
            at=T0, path=("ServiceDetailRes", "ServiceParameterList"), bit_offset=124, what="missing-content: x",
            payload_type=PayloadType.ISO20_COMMON,
        )  # fmt: skip
        await pump.emit([deviation])

    caplog.set_level("WARNING")
    asyncio.run(emit())
    logged = [r.getMessage() for r in caplog.records]
    assert any("tolerated schema deviation at bit 124, /ServiceDetailRes/ServiceParameterList" in m for m in logged)
