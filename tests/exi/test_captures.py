"""Every EXI payload in the real captures (../shared/captures, DS5366 tester vs Josev) decodes and re-encodes
bit-exactly: the AC BPT session over plain TCP, and the two DC sessions over TLS 1.3 (decrypted with their key logs).
"""

from __future__ import annotations

from collections import Counter

import pytest

from iso15118.codec import decode_message, encode_message, payload_type_of
from tests.support.captures import extract_v2gtp_frames, require_tshark
from tests.support.shared import shared_path

CAPTURES = {
    "ISO-20_BPT_AC_DS5366_Josev": False,
    "ISO-20_TLS13_DC_DS5366_Josev": True,
    "ISO-20_mTLS_DC_DS5366_Josev": True,
}


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_capture_payloads_round_trip(name: str) -> None:
    pcap = shared_path("captures", f"{name}.pcapng")
    keylog = shared_path("captures", f"{name}.keys") if CAPTURES[name] else None
    if CAPTURES[name]:
        require_tshark()
    frames = extract_v2gtp_frames(pcap, keylog)
    assert frames, "the capture yields no V2GTP frames"
    kinds: Counter[str] = Counter()
    for frame in frames:
        msg = decode_message(frame.payload, frame.payload_type)
        assert encode_message(msg) == frame.payload, f"frame {frame.frame_number} does not re-encode bit-exactly"
        assert payload_type_of(msg) == frame.payload_type
        kinds[type(msg).__name__] += 1
    # A whole session: the handshake, a session set-up, a charge loop and the session stop are all there.
    for expected in ("supportedAppProtocolReq", "SessionSetupReq", "PowerDeliveryReq", "SessionStopRes"):
        assert kinds[expected] >= 1, f"{expected} missing from {sorted(kinds)}"
