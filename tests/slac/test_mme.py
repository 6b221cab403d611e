"""The SLAC MME codec: round trips, hand-built reference frames, and clear errors for malformed frames."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iso15118.errors import SlacError
from iso15118.slac.keys import nid_from_nmk, nmk_from_password
from iso15118.slac.mme import (
    AmpMapCnf,
    AmpMapReq,
    AttenCharInd,
    AttenProfileInd,
    Mme,
    MmeError,
    MMType,
    MnbcSoundInd,
    SetKeyReq,
    SlacMatchCnf,
    SlacMatchReq,
    SlacParmCnf,
    SlacParmReq,
    format_mac,
    pack_frame,
    parse_mac,
    unpack_frame,
)

from .strategies import ALL, any_message

SRC = bytes.fromhex("021122334455")
DST = bytes.fromhex("ffffffffffff")
RUN = bytes.fromhex("0102030405060708")


def expected_payload_size(msg: Mme) -> int:
    """Payload sizes from the ISO 15118-3 Annex A tables (independent of the codec's own tables)."""
    sizes = {
        MMType.CM_SET_KEY_REQ: 38,
        MMType.CM_SET_KEY_CNF: 14,
        MMType.CM_START_ATTEN_CHAR_IND: 19,
        MMType.CM_MNBC_SOUND_IND: 52,
        MMType.CM_ATTEN_CHAR_RSP: 51,
        MMType.CM_VALIDATE_REQ: 3,
        MMType.CM_VALIDATE_CNF: 3,
        MMType.CM_SLAC_MATCH_REQ: 66,
        MMType.CM_SLAC_MATCH_CNF: 90,
        MMType.CM_AMP_MAP_CNF: 1,
    }
    if isinstance(msg, SlacParmReq):
        return 10 + (1 + 2 * len(msg.cipher_suites) if msg.security_type == 1 else 0)
    if isinstance(msg, SlacParmCnf):
        return 25 + (2 if msg.security_type == 1 else 0)
    if isinstance(msg, AttenProfileInd):
        return 8 + len(msg.aag)
    if isinstance(msg, AttenCharInd):
        return 52 + len(msg.aag)
    if isinstance(msg, AmpMapReq):
        return 2 + (len(msg.amplitudes) + 1) // 2
    return sizes[msg.MMTYPE]


@pytest.mark.parametrize("cls", list(ALL), ids=lambda c: c.__name__)
def test_every_message_round_trips(cls: type[Mme]) -> None:
    @settings(max_examples=60)
    @given(ALL[cls])
    def check(msg: Mme) -> None:
        frame = pack_frame(msg, SRC, DST)
        size = 19 + expected_payload_size(msg)
        assert len(frame) == max(60, size)
        assert frame[size:] == b"\x00" * (len(frame) - size)
        assert frame[0:6] == DST and frame[6:12] == SRC and frame[12:14] == b"\x88\xe1"
        assert frame[14] == 1 and struct.unpack("<H", frame[15:17])[0] == msg.MMTYPE
        assert frame[17:19] == b"\x00\x00"
        header, back = unpack_frame(frame)
        assert back == msg
        assert (header.dst, header.src) == (DST, SRC)
        # Extra trailing bytes (padding by a NIC or a peer) are ignored.
        assert unpack_frame(frame + b"\x00" * 7)[1] == msg

    check()


def test_slac_parm_req_matches_a_hand_built_frame() -> None:
    frame = pack_frame(SlacParmReq(run_id=RUN), SRC, DST)
    hand = DST + SRC + b"\x88\xe1" + b"\x01" + b"\x64\x60" + b"\x00\x00" + b"\x00\x00" + RUN
    assert frame == hand + b"\x00" * (60 - len(hand))


def test_match_req_writes_mvflength_little_endian() -> None:
    msg = SlacMatchReq(pev_mac=SRC, evse_mac=bytes.fromhex("02aabbccddee"), run_id=RUN)
    frame = pack_frame(msg, SRC, bytes.fromhex("02aabbccddee"))
    hand = (
        b"\x00\x00"
        + b"\x3e\x00"
        + b"\x00" * 17
        + SRC
        + b"\x00" * 17
        + bytes.fromhex("02aabbccddee")
        + RUN
        + b"\x00" * 8
    )
    assert frame[19:] == hand
    assert len(frame) == 85


def test_match_cnf_layout_puts_nid_and_nmk_at_the_end() -> None:
    nid, nmk = bytes(range(7)), bytes(range(16, 32))
    frame = pack_frame(SlacMatchCnf(pev_mac=SRC, evse_mac=SRC, run_id=RUN, nid=nid, nmk=nmk), SRC, DST)
    assert len(frame) == 109
    assert frame[21:23] == b"\x56\x00"
    assert frame[85:92] == nid and frame[92] == 0 and frame[93:109] == nmk


def test_atten_profile_layout_has_a_reserved_byte_before_the_groups() -> None:
    frame = pack_frame(AttenProfileInd(pev_mac=SRC, aag=tuple(range(20, 78))), SRC, DST)
    assert frame[19:25] == SRC and frame[25] == 58 and frame[26] == 0
    assert list(frame[27:85]) == list(range(20, 78))


def test_amp_map_packs_one_nibble_per_carrier_low_nibble_first() -> None:
    frame = pack_frame(AmpMapReq(amplitudes=(1, 2, 3)), SRC, DST)
    assert frame[19:23] == b"\x03\x00\x21\x03"


def test_set_key_req_layout() -> None:
    msg = SetKeyReq(nid=bytes(range(7)), new_key=bytes(range(16)), my_nonce=b"\xaa" * 4)
    payload = pack_frame(msg, SRC, DST)[19:57]
    assert payload == (
        b"\x01"
        + b"\xaa" * 4
        + b"\x00" * 4
        + b"\x04"
        + b"\x00\x00"
        + b"\x00"
        + b"\x00"
        + bytes(range(7))
        + b"\x01"
        + bytes(range(16))
    )


@settings(max_examples=150)
@given(any_message, st.data())
def test_every_truncation_names_the_offset_where_the_frame_ends(msg: Mme, data: st.DataObject) -> None:
    unpadded = pack_frame(msg, SRC, DST)[: 19 + expected_payload_size(msg)]
    cut = data.draw(st.integers(0, len(unpadded) - 1))
    with pytest.raises(MmeError) as info:
        unpack_frame(unpadded[:cut])
    assert info.value.offset == cut
    assert info.value.rule
    assert f"at byte {info.value.offset}" in str(info.value)


def test_short_payload_error_names_message_and_sizes() -> None:
    frame = pack_frame(AttenCharInd(source_address=SRC, run_id=RUN, num_sounds=10, aag=(20,) * 58), SRC, DST)
    with pytest.raises(MmeError) as info:
        unpack_frame(frame[:100])
    assert info.value.offset == 100
    assert "CM_ATTEN_CHAR.IND needs 110 payload bytes (129-byte frame)" in str(info.value)


@pytest.mark.parametrize(
    ("patch", "offset", "words"),
    [
        ((12, b"\x86\xdd"), 12, "ethertype 0x86DD"),
        ((14, b"\x00"), 14, "MMV is 0x00"),
        ((15, b"\x34\x12"), 15, "MMTYPE 0x1234 is not a SLAC message"),
        ((17, b"\x01\x00"), 17, "never fragmented"),
        ((21, b"\x00\x3e"), 21, "MVFLength is 0x3E00"),
    ],
)
def test_malformed_header_fields_name_their_offset(patch: tuple[int, bytes], offset: int, words: str) -> None:
    frame = bytearray(pack_frame(SlacMatchReq(pev_mac=SRC, evse_mac=SRC, run_id=RUN), SRC, DST))
    at, value = patch
    frame[at : at + len(value)] = value
    with pytest.raises(MmeError) as info:
        unpack_frame(bytes(frame))
    assert info.value.offset == offset
    assert words in str(info.value)
    assert isinstance(info.value, SlacError)


@settings(max_examples=300)
@given(st.binary(max_size=140))
def test_arbitrary_bytes_either_parse_or_raise_mme_error(data: bytes) -> None:
    try:
        unpack_frame(data)
    except MmeError as exc:
        assert exc.offset is not None and 0 <= exc.offset <= len(data)


@settings(max_examples=200)
@given(st.sampled_from(list(MMType)), st.binary(max_size=120))
def test_random_payloads_of_every_type_either_parse_or_raise_mme_error(mmtype: MMType, payload: bytes) -> None:
    frame = DST + SRC + b"\x88\xe1\x01" + struct.pack("<H", mmtype) + b"\x00\x00" + payload
    try:
        _, msg = unpack_frame(frame)
    except MmeError as exc:
        assert exc.offset is not None
    else:
        assert msg.MMTYPE is mmtype


@pytest.mark.parametrize(
    ("msg", "words"),
    [
        (SlacParmReq(run_id=b"short"), "cannot pack CM_SLAC_PARM.REQ"),
        (SlacParmReq(run_id=RUN, cipher_suites=(1,)), "only sent with SecurityType 1"),
        (SlacParmCnf(forwarding_sta=SRC, run_id=RUN, cipher_suite=5), "exactly when SecurityType is 1"),
        (AmpMapReq(amplitudes=(16,)), "4-bit values"),
        (MnbcSoundInd(run_id=RUN, count=300), "cannot pack CM_MNBC_SOUND.IND"),
        (AttenProfileInd(pev_mac=SRC, aag=(1,) * 256), "cannot pack CM_ATTEN_PROFILE.IND"),
    ],
)
def test_unpackable_values_raise_mme_error(msg: Mme, words: str) -> None:
    with pytest.raises(MmeError, match=words):
        pack_frame(msg, SRC, DST)


def test_bad_mac_addresses_are_rejected() -> None:
    with pytest.raises(MmeError, match="source MAC must be 6 bytes"):
        pack_frame(AmpMapCnf(), b"\x01", DST)
    with pytest.raises(MmeError, match="destination MAC must be 6 bytes"):
        pack_frame(AmpMapCnf(), SRC, b"\x01" * 7)


def test_mac_text_round_trip() -> None:
    assert format_mac(bytes.fromhex("00b052000001")) == "00:b0:52:00:00:01"
    assert parse_mac("00-B0-52-00-00-01") == bytes.fromhex("00b052000001")
    with pytest.raises(ValueError, match="not a MAC address"):
        parse_mac("00:b0:52")


def test_qualcomm_default_keys() -> None:
    # The "HomePlugAV0123" defaults of Qualcomm's evse.ini / pyslac: NMK from the password, NID from the NMK.
    nmk = nmk_from_password("HomePlugAV0123")
    assert nmk == bytes.fromhex("B59319D7E8157BA001B018669CCEE30D")
    assert nid_from_nmk(nmk) == bytes.fromhex("026BCBA5354E08")


@given(st.binary(min_size=16, max_size=16), st.integers(0, 3))
def test_nid_keeps_52_hash_bits_and_the_security_level(nmk: bytes, level: int) -> None:
    nid = nid_from_nmk(nmk, security_level=level)
    assert len(nid) == 7
    assert nid[:6] == nid_from_nmk(nmk)[:6]
    assert nid[6] >> 4 == level and nid[6] & 0x0F == nid_from_nmk(nmk)[6]


def test_key_helpers_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        nid_from_nmk(b"\x00" * 15)
    with pytest.raises(ValueError, match="2-bit"):
        nid_from_nmk(b"\x00" * 16, security_level=4)
