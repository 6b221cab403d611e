"""Encoding errors name the element path and the offending value; decoding errors name bit offset and path."""

from __future__ import annotations

import dataclasses

import pytest

from exi.errors import DecodeError
from iso15118.codec import codec_for, decode_message, encode_message
from iso15118.constants import PayloadType
from iso15118.errors import MessageDecodeError, MessageEncodeError
from iso15118.messages import iso20 as m

HEADER = m.MessageHeader(session_id=bytes(8), time_stamp=1)


def _loop(**mode: object) -> m.AC_ChargeLoopReq:
    return m.AC_ChargeLoopReq(header=HEADER, meter_info_requested=False, **mode)  # type: ignore[arg-type]


def test_value_out_of_range_names_path_and_value() -> None:
    bad = m.RationalNumber(exponent=200, value=1)
    msg = _loop(scheduled_ac_cl_req_control_mode=m.Scheduled_AC_CLReqControlMode(ev_present_active_power=bad))
    with pytest.raises(MessageEncodeError) as info:
        encode_message(msg)
    assert info.value.path == ["AC_ChargeLoopReq", "Scheduled_AC_CLReqControlMode", "EVPresentActivePower", "Exponent"]
    assert info.value.value == 200


def test_wrong_type_and_missing_required_are_named() -> None:
    with pytest.raises(MessageEncodeError, match=r"EVCCID.*expected a str"):
        encode_message(m.SessionSetupReq(header=HEADER, evcc_id=42))  # type: ignore[arg-type]
    with pytest.raises(MessageEncodeError, match=r"Header.*SessionID.*length must be exactly 8"):
        encode_message(m.SessionSetupReq(header=dataclasses.replace(HEADER, session_id=b"x"), evcc_id="a"))
    with pytest.raises(MessageEncodeError, match="required element Header is missing"):
        encode_message(m.SessionSetupReq(header=None, evcc_id="a"))  # type: ignore[arg-type]


def test_choice_rules_are_enforced() -> None:
    with pytest.raises(MessageEncodeError, match="a required element is missing"):
        encode_message(_loop())  # no control mode at all
    two = _loop(
        scheduled_ac_cl_req_control_mode=m.Scheduled_AC_CLReqControlMode(
            ev_present_active_power=m.RationalNumber(exponent=0, value=1)
        ),
        dynamic_ac_cl_req_control_mode=None,
        bpt_scheduled_ac_cl_req_control_mode=m.BPT_Scheduled_AC_CLReqControlMode(
            ev_present_active_power=m.RationalNumber(exponent=0, value=1)
        ),
    )
    with pytest.raises(MessageEncodeError, match="only one of"):
        encode_message(two)


def test_list_bounds_are_enforced() -> None:
    service = m.Service(service_id=1, free_service=True)
    too_many = m.ServiceDiscoveryRes(
        header=HEADER,
        response_code=m.ResponseCode.OK,
        service_renegotiation_supported=False,
        energy_transfer_service_list=m.ServiceList(service=(service,) * 9),
    )
    with pytest.raises(MessageEncodeError, match="at most 8 Service"):
        encode_message(too_many)


def test_decode_errors_carry_bit_offset_and_path() -> None:
    good = encode_message(m.SessionSetupReq(header=HEADER, evcc_id="ABC"))
    with pytest.raises(MessageDecodeError) as info:
        decode_message(good[:10], PayloadType.ISO20_COMMON)
    assert info.value.bit_offset is not None and info.value.bit_offset <= 80
    assert info.value.path[:2] == ["SessionSetupReq", "Header"]
    with pytest.raises(MessageDecodeError, match="EXI header must be 0x80"):
        decode_message(b"\x00" + good[1:], PayloadType.ISO20_COMMON)
    with pytest.raises(MessageDecodeError, match="unexpected byte"):
        decode_message(good + b"\x00", PayloadType.ISO20_COMMON)
    with pytest.raises(MessageDecodeError, match="does not carry an EXI message"):
        decode_message(good, 0x9000)


def test_wrong_grammar_for_a_payload_type_fails_cleanly() -> None:
    loop = encode_message(
        _loop(
            scheduled_ac_cl_req_control_mode=m.Scheduled_AC_CLReqControlMode(
                ev_present_active_power=m.RationalNumber(exponent=0, value=1)
            )
        )
    )
    with pytest.raises(MessageDecodeError):
        decode_message(loop, PayloadType.ISO20_DC)


def test_empty_string_encodings_both_decode() -> None:
    """EXIficient writes an empty EVCCID as escape + second-level EE; libcbv2g as an empty CH. Accept both."""
    codec = codec_for("iso20_common")
    exificient = bytes.fromhex("808c040000000000000000080e2cfaa06280")
    libcbv2g = bytes.fromhex("808c040000000000000000080e2cfaa0620100")
    for data in (exificient, libcbv2g):
        msg = codec.decode(data)
        assert msg.evcc_id == ""
    # We encode as EXIficient does (the EXI specification's choice for an element without characters).
    assert codec.encode(codec.decode(libcbv2g)) == exificient
    assert issubclass(MessageDecodeError, Exception) and issubclass(DecodeError, Exception)
