"""The veth run's pcapng: decrypted with its key log it holds every session's V2GTP frames, which our codec
decodes, byte for byte the messages the trace recorded; SDP and SLAC are in it too (root and tshark)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from harness.capture import keys_path_for
from harness.pcapng import read_packets, read_secrets
from iso15118.codec import decode_message
from iso15118.session.events import EndReason
from iso15118.slac.mme import ETHERTYPE_HOMEPLUG, MMType, unpack_frame
from tests.support.captures import Direction, Transport, extract_v2gtp_frames, require_tshark

from .conftest import RunSim

pytestmark = [pytest.mark.root, pytest.mark.timeout(180)]


def test_veth_capture_decrypts_to_the_sessions_frames(run_sim: RunSim) -> None:
    require_tshark()
    result = run_sim("rwd-no-v2h", "veth", pcap=True, trace=True)
    assert result.ok
    pcap = result.pcap
    assert pcap is not None and pcap.is_file()
    keys = keys_path_for(pcap)
    assert "CLIENT_TRAFFIC_SECRET_0" in keys.read_text()
    frames = extract_v2gtp_frames(pcap, keys, include_sdp=True)

    tls = [f for f in frames if f.transport is Transport.TLS]
    streams = sorted({f.stream for f in tls})
    assert len(streams) == len(result.sessions) == 2  # one TLS connection per session
    for stream, record in zip(streams, result.sessions, strict=True):
        kinds = Counter(type(decode_message(f.payload, f.payload_type)).__name__ for f in tls if f.stream == stream)
        assert kinds["supportedAppProtocolReq"] == kinds["SessionSetupRes"] == 1
        assert kinds["AC_ChargeLoopRes"] == record.loops
        assert record.evcc is not None
        if record.evcc.ended.reason is EndReason.TIMEOUT:
            # The last request went out; the connector without power never answered it.
            assert kinds["AC_ChargeLoopReq"] == record.loops + 1
            assert kinds["SessionStopReq"] == 0
        else:
            assert kinds["AC_ChargeLoopReq"] == record.loops
            assert kinds["SessionStopReq"] == kinds["SessionStopRes"] == 1

    # The captured payloads are exactly the EXI the two sides sent, in order (from the trace).
    assert result.trace_file is not None
    records = [json.loads(line) for line in result.trace_file.read_text().splitlines()]
    sent = [r for r in records if r["event"] == "message" and r["direction"] == "tx"]
    by_role = {
        Direction.EV_TO_EVSE: [bytes.fromhex(r["exi"]) for r in sent if r["role"] == "evcc"],
        Direction.EVSE_TO_EV: [bytes.fromhex(r["exi"]) for r in sent if r["role"] == "secc"],
    }
    for direction, expected in by_role.items():
        assert [f.payload for f in tls if f.direction is direction] == expected

    sdp = [f for f in frames if f.transport is Transport.UDP]
    assert len([f for f in sdp if f.direction is Direction.EV_TO_EVSE]) >= 2  # one discovery per session
    assert len([f for f in sdp if f.direction is Direction.EVSE_TO_EV]) >= 2

    # The Decryption Secrets Block alone decrypts the same frames.
    assert read_secrets(pcap)
    assert [f.payload for f in extract_v2gtp_frames(pcap) if f.transport is Transport.TLS] == [f.payload for f in tls]


def test_veth_capture_holds_slac_per_session(run_sim: RunSim) -> None:
    result = run_sim("rwd-no-v2h", "veth", pcap=True, trace=True)
    assert result.pcap is not None
    mm: Counter[MMType] = Counter()
    for packet in read_packets(Path(result.pcap)):
        frame = packet.data
        if int.from_bytes(frame[12:14], "big") == ETHERTYPE_HOMEPLUG:
            mm[MMType(unpack_frame(frame)[1].MMTYPE)] += 1
    assert mm[MMType.CM_SLAC_MATCH_CNF] == len(result.sessions) == 2
    assert mm[MMType.CM_MNBC_SOUND_IND] == sum(s.slac.num_sounds for s in result.sessions if s.slac)
