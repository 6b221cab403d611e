"""Differential check: frames we put on the wire decode to the same field values in scapy and in tshark.

scapy's ``scapy.contrib.homepluggp`` and Wireshark's homeplug-av dissector were written independently
of this codec. Frames come from a complete match in virtual time (every frame the EV, the EVSE and the
modem stand-in send) plus one frame per message type with unusual values. Integer fields the dissectors
decode from our opaque byte strings are compared in the byte order each dissector uses (scapy reads
nonces and PRN big-endian, Wireshark little-endian). scapy has no layer for CM_VALIDATE and CM_AMP_MAP
and Wireshark none for CM_AMP_MAP's payload: for those only the MME header is compared.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from iso15118.slac.mme import (
    AmpMapCnf,
    AmpMapReq,
    AttenCharInd,
    AttenCharRsp,
    AttenProfileInd,
    Mme,
    MnbcSoundInd,
    SetKeyCnf,
    SetKeyReq,
    SlacMatchCnf,
    SlacMatchReq,
    SlacParmCnf,
    SlacParmReq,
    StartAttenCharInd,
    ValidateCnf,
    ValidateReq,
    format_mac,
    pack_frame,
    unpack_frame,
)

from .sim import make_link
from .strategies import ALL

A = bytes.fromhex("0211223344aa")
B = bytes.fromhex("0211223344bb")
RUN = bytes.fromhex("f1e2d3c4b5a69788")


def be(b: bytes) -> int:
    return int.from_bytes(b, "big")


def le(b: bytes) -> int:
    return int.from_bytes(b, "little")


# --- scapy ------------------------------------------------------------------------------------------------


def _scapy_expectations() -> dict[type[Mme], tuple[str, Callable[[Any], dict[str, object]]]]:
    app = lambda m: {"ApplicationType": m.application_type, "SecurityType": m.security_type}  # noqa: E731
    match = lambda m: {  # noqa: E731
        **app(m),
        "MatchVariableFieldLen": 0x3E if isinstance(m, SlacMatchReq) else 0x56,
        "VariableField.EVID": m.pev_id,
        "VariableField.EVMAC": format_mac(m.pev_mac),
        "VariableField.EVSEID": m.evse_id,
        "VariableField.EVSEMAC": format_mac(m.evse_mac),
        "VariableField.RunID": m.run_id,
        "VariableField.RSVD": bytes(8),
    }
    return {
        SetKeyReq: (
            "CM_SET_KEY_REQ",
            lambda m: {
                "KeyType": m.key_type,
                "MyNonce": be(m.my_nonce),
                "YourNonce": be(m.your_nonce),
                "PID": m.pid,
                "ProtoRunNumber": be(m.prn),
                "ProtoMessNumber": m.pmn,
                "CCoCapability": m.cco_capability,
                "NetworkID": m.nid,
                "NewEncKeySelect": m.new_eks,
                "NewKey": m.new_key,
            },
        ),
        SetKeyCnf: (
            "CM_SET_KEY_CNF",
            lambda m: {
                "Result": m.result,
                "MyNonce": be(m.my_nonce),
                "YourNonce": be(m.your_nonce),
                "PID": m.pid,
                "ProtoRunNumber": be(m.prn),
                "ProtoMessNumber": m.pmn,
                "CCoCapability": m.cco_capability,
            },
        ),
        # scapy has no cipher-suite fields: with SecurityType 1 they stay undecoded after RunID.
        SlacParmReq: ("CM_SLAC_PARM_REQ", lambda m: {**app(m), "RunID": m.run_id}),
        SlacParmCnf: (
            "CM_SLAC_PARM_CNF",
            lambda m: {
                "MSoundTargetMAC": format_mac(m.m_sound_target),
                "NumberMSounds": m.num_sounds,
                "TimeOut": m.time_out,
                "ResponseType": m.resp_type,
                "ForwardingSTA": format_mac(m.forwarding_sta),
                **app(m),
                "RunID": m.run_id,
            },
        ),
        StartAttenCharInd: (
            "CM_START_ATTEN_CHAR_IND",
            lambda m: {
                **app(m),
                "NumberOfSounds": m.num_sounds,
                "TimeOut": m.time_out,
                "ResponseType": m.resp_type,
                "ForwardingSTA": format_mac(m.forwarding_sta),
                "RunID": m.run_id,
            },
        ),
        MnbcSoundInd: (
            "CM_MNBC_SOUND_IND",
            lambda m: {
                **app(m),
                "SenderID": m.sender_id,
                "Countdown": m.count,
                "RunID": m.run_id,
                "RSVD": bytes(8),
                "RandomValue": m.random,
            },
        ),
        AttenProfileInd: (
            "CM_ATTENUATION_CHARACTERISTICS_MME",
            lambda m: {
                "EVMACAddress": format_mac(m.pev_mac),
                "NumberOfGroups": len(m.aag),
                "NumberOfCarrierPerGroupe": 0,
                "Groups": list(m.aag),
            },
        ),
        AttenCharInd: (
            "CM_ATTEN_CHAR_IND",
            lambda m: {
                **app(m),
                "SourceAdress": format_mac(m.source_address),
                "RunID": m.run_id,
                "SourceID": m.source_id,
                "ResponseID": m.resp_id,
                "NumberOfSounds": m.num_sounds,
                "NumberOfGroups": len(m.aag),
                "Groups": list(m.aag),
            },
        ),
        AttenCharRsp: (
            "CM_ATTEN_CHAR_RSP",
            lambda m: {
                **app(m),
                "SourceAdress": format_mac(m.source_address),
                "RunID": m.run_id,
                "SourceID": m.source_id,
                "ResponseID": m.resp_id,
                "Result": m.result,
            },
        ),
        SlacMatchReq: ("CM_SLAC_MATCH_REQ", match),
        SlacMatchCnf: (
            "CM_SLAC_MATCH_CNF",
            lambda m: {
                **match(m),
                "VariableField.NetworkID": m.nid,
                "VariableField.Reserved": 0,
                "VariableField.NMK": m.nmk,
            },
        ),
    }


SCAPY = _scapy_expectations()


def scapy_view(frame: bytes, layer_name: str | None) -> tuple[dict[str, object], dict[str, object]]:
    """(HomePlugAV header fields, payload layer fields) as scapy decodes ``frame``."""
    import scapy.contrib.homepluggp as gp
    from scapy.contrib.homeplugav import HomePlugAV
    from scapy.layers.l2 import Ether

    packet = Ether(frame)
    header = {k: packet[HomePlugAV].getfieldval(k) for k in ("version", "HPtype", "FragmentInfo")}
    header["src"], header["dst"], header["type"] = packet.src, packet.dst, packet.type
    if layer_name is None:
        return header, {}
    layer = packet[getattr(gp, layer_name)]
    fields: dict[str, object] = {}
    for name in layer.fields:
        value = layer.getfieldval(name)
        if name == "Groups":
            fields[name] = [g.group for g in value]
        elif name == "VariableField":
            fields.update({f"VariableField.{k}": value.getfieldval(k) for k in value.fields})
        else:
            fields[name] = value
    return header, fields


def check_with_scapy(frame: bytes) -> None:
    header, msg = unpack_frame(frame)
    layer_name, expect = SCAPY.get(type(msg), (None, None))
    got_header, got = scapy_view(frame, layer_name)
    assert got_header == {
        "version": 1,
        "HPtype": msg.MMTYPE,
        "FragmentInfo": 0,
        "src": format_mac(header.src),
        "dst": format_mac(header.dst),
        "type": 0x88E1,
    }
    if expect is not None:
        assert got == expect(msg)


@pytest.mark.parametrize("cls", list(ALL), ids=lambda c: c.__name__)
def test_scapy_decodes_every_message_to_the_same_values(cls: type[Mme]) -> None:
    pytest.importorskip("scapy.contrib.homepluggp")

    @settings(max_examples=40)
    @given(ALL[cls])
    def check(msg: Mme) -> None:
        check_with_scapy(pack_frame(msg, A, B))

    check()


# --- the frames of a real match ---------------------------------------------------------------------------


def session_frames() -> list[bytes]:
    """Every frame the EV, the EVSE and the modem stand-in send during one match."""
    link = make_link()
    link.start(evse_at=0.0, ev_at=0.1)
    link.run(10.0)
    assert link.ev.state.name == link.evse.state.name == "MATCHED"
    return [frame for _, _, frame in link.wire]


UNUSUAL: list[Mme] = [
    SetKeyReq(
        nid=bytes(range(7)),
        new_key=bytes(range(16)),
        my_nonce=b"\x01\x02\x03\x04",
        prn=b"\x01\x02",
        pmn=7,
        your_nonce=b"\xa0\xb0\xc0\xd0",
    ),
    SetKeyCnf(result=1, my_nonce=b"\x09\x08\x07\x06", your_nonce=b"\x01\x02\x03\x04", prn=b"\xff\x01", pmn=3),
    SlacParmReq(run_id=RUN, security_type=1, cipher_suites=(0x0102, 0xA0B0, 0x0001)),
    SlacParmCnf(forwarding_sta=A, run_id=RUN, security_type=1, cipher_suite=0x1234, num_sounds=7, time_out=9),
    StartAttenCharInd(forwarding_sta=A, run_id=RUN, num_sounds=3, time_out=12, resp_type=0),
    MnbcSoundInd(run_id=RUN, count=5, sender_id=b"WVWZZZ1JZXW000001", random=bytes(range(16))),
    AttenProfileInd(pev_mac=A, aag=tuple(range(1, 59))),
    AttenCharInd(
        source_address=A, run_id=RUN, num_sounds=9, aag=tuple(range(100, 158)), source_id=b"S" * 17, resp_id=b"R" * 17
    ),
    AttenCharRsp(source_address=A, run_id=RUN, result=1, source_id=b"S" * 17, resp_id=b"R" * 17),
    ValidateReq(signal_type=0, timer=7, result=1),
    ValidateCnf(signal_type=0, toggle_num=3, result=2),
    SlacMatchReq(pev_mac=A, evse_mac=B, run_id=RUN, pev_id=b"P" * 17, evse_id=b"E" * 17),
    SlacMatchCnf(pev_mac=A, evse_mac=B, run_id=RUN, nid=bytes(range(7)), nmk=bytes(range(16, 32))),
    AmpMapReq(amplitudes=(1, 2, 3, 4, 5, 15)),
    AmpMapCnf(res_type=1),
]


def all_frames() -> list[bytes]:
    return session_frames() + [pack_frame(m, A, B) for m in UNUSUAL]


def test_scapy_decodes_the_frames_of_a_whole_match() -> None:
    pytest.importorskip("scapy.contrib.homepluggp")
    frames = all_frames()
    assert len(frames) > 40
    for frame in frames:
        check_with_scapy(frame)


# --- tshark -----------------------------------------------------------------------------------------------

G = "homeplug_av.gp."


def _tshark_expectations() -> dict[type[Mme], Callable[[Any], dict[str, object]]]:
    match = lambda m, n: {  # noqa: E731
        G + "cm_slac_match.apptype": m.application_type,
        G + "cm_slac_match.sectype": m.security_type,
        G + "cm_slac_match.length": n,
        G + "cm_slac_match.pev_id": m.pev_id,
        G + "cm_slac_match.pev_mac": m.pev_mac,
        G + "cm_slac_match.evse_id": m.evse_id,
        G + "cm_slac_match.evse_mac": m.evse_mac,
        G + "cm_slac_match.runid": m.run_id,
    }
    key_common = lambda m: {  # noqa: E731
        "homeplug_av.nw_info.my_nonce": le(m.my_nonce),
        "homeplug_av.nw_info.your_nonce": le(m.your_nonce),
        "homeplug_av.nw_info.pid": m.pid,
        "homeplug_av.nw_info.prn": le(m.prn),
        "homeplug_av.nw_info.pmn": m.pmn,
        "homeplug_av.nw_info.cco_cap": m.cco_capability,
    }
    parm = lambda m: {  # noqa: E731
        G + "cm_slac_parm.apptype": m.application_type,
        G + "cm_slac_parm.sectype": m.security_type,
        G + "cm_slac_parm.runid": m.run_id,
    }
    atten = lambda m: {  # noqa: E731
        G + "cm_atten_char.apptype": m.application_type,
        G + "cm_atten_char.sectype": m.security_type,
        G + "cm_atten_char.source_mac": m.source_address,
        G + "cm_atten_char.runid": m.run_id,
        G + "cm_atten_char.source_id": m.source_id,
        G + "cm_atten_char.resp_id": m.resp_id,
    }
    return {
        SetKeyReq: lambda m: {
            **key_common(m),
            "homeplug_av.nw_info.key_type": m.key_type,
            "homeplug_av.nw_info.nid": m.nid,
            "homeplug_av.nw_info.peks": m.new_eks,
            "homeplug_av.cm_set_key_req.nw_key": m.new_key,
        },
        SetKeyCnf: lambda m: {**key_common(m), "homeplug_av.cm_set_key_cnf.result": m.result},
        SlacParmReq: lambda m: {
            **parm(m),
            **(
                {G + "cm_slac_parm.cipher_size": len(m.cipher_suites), G + "cm_slac_parm.cipher": list(m.cipher_suites)}
                if m.security_type == 1
                else {}
            ),
        },
        SlacParmCnf: lambda m: {
            **parm(m),
            G + "cm_slac_parm.sound_target": m.m_sound_target,
            G + "cm_slac_parm.sound_count": m.num_sounds,
            G + "cm_slac_parm.time_out": m.time_out,
            G + "cm_slac_parm.resptype": m.resp_type,
            G + "cm_slac_parm.forwarding_sta": m.forwarding_sta,
            **({G + "cm_slac_parm.cipher": [m.cipher_suite]} if m.security_type == 1 else {}),
        },
        StartAttenCharInd: lambda m: {
            G + "cm_atten_char.apptype": m.application_type,
            G + "cm_atten_char.sectype": m.security_type,
            G + "cm_start_atten_char.sounds_count": m.num_sounds,
            G + "cm_start_atten_char.time_out": m.time_out,
            G + "cm_start_atten_char.resptype": m.resp_type,
            G + "cm_start_atten_char.sound_forwarding_sta": m.forwarding_sta,
            G + "cm_start_atten_char.runid": m.run_id,
        },
        MnbcSoundInd: lambda m: {
            G + "cm_mnbc_sound.apptype": m.application_type,
            G + "cm_mnbc_sound.sectype": m.security_type,
            G + "cm_mnbc_sound.sender_id": m.sender_id,
            G + "cm_mnbc_sound.countdown": m.count,
            G + "cm_mnbc_sound.runid": m.run_id,
            G + "cm_mnbc_sound.rnd": m.random,
        },
        AttenProfileInd: lambda m: {
            G + "cm_atten_profile_ind.pev_mac": m.pev_mac,
            G + "cm_atten_profile_ind.groups_count": len(m.aag),
            G + "cm_atten_profile_ind.aag": list(m.aag),
        },
        AttenCharInd: lambda m: {
            **atten(m),
            G + "cm_atten_char.sounds_count": m.num_sounds,
            G + "cm_atten_char.groups_count": len(m.aag),
            G + "cm_atten_char.aag": list(m.aag),
        },
        AttenCharRsp: lambda m: {**atten(m), G + "cm_atten_char.result": m.result},
        ValidateReq: lambda m: {
            G + "cm_validate.signaltype": m.signal_type,
            G + "cm_validate.timer": m.timer,
            G + "cm_validate.result": m.result,
        },
        ValidateCnf: lambda m: {
            G + "cm_validate.signaltype": m.signal_type,
            G + "cm_validate.togglenum": m.toggle_num,
            G + "cm_validate.result": m.result,
        },
        SlacMatchReq: lambda m: match(m, 0x3E),
        SlacMatchCnf: lambda m: {**match(m, 0x56), G + "cm_slac_match.nid": m.nid, G + "cm_slac_match.nmk": m.nmk},
        AmpMapReq: lambda m: {},
        AmpMapCnf: lambda m: {},
    }


TSHARK = _tshark_expectations()
HEADER_FIELDS = [
    "frame.len",
    "eth.dst",
    "eth.src",
    "eth.type",
    "homeplug_av.mmhdr.mmver",
    "homeplug_av.mmhdr.mmtype",
    "homeplug_av.mmhdr.fmi",
    "_ws.malformed",
    "_ws.expert.message",
]


def write_pcap(path: Path, frames: list[bytes]) -> None:
    """Classic libpcap file, link type Ethernet."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i, frame in enumerate(frames):
        out.append(struct.pack("<IIII", 1_700_000_000 + i, 0, len(frame), len(frame)) + frame)
    path.write_bytes(b"".join(out))


def _convert(text: str, like: object) -> object:
    if isinstance(like, list):
        return [_convert(part, like[0] if like else 0) for part in text.split("|")] if text else []
    if isinstance(like, bytes):
        return bytes.fromhex(text.replace(":", ""))
    return int(text, 0)


def test_tshark_decodes_our_frames_to_the_same_values(tmp_path: Path) -> None:
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark is not installed (scripts/install-test-prereqs installs it when run as root)")
    frames = all_frames()
    expectations = [(unpack_frame(f), TSHARK[type(unpack_frame(f)[1])](unpack_frame(f)[1])) for f in frames]
    columns = HEADER_FIELDS + sorted({k for _, e in expectations for k in e})
    pcap = tmp_path / "slac.pcap"
    write_pcap(pcap, frames)
    args = [
        tshark,
        "-n",
        "-r",
        str(pcap),
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=|",
        "-E",
        "separator=/t",
    ]
    for column in columns:
        args += ["-e", column]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert len(rows) == len(frames)
    for frame, ((header, msg), expect), row in zip(frames, expectations, rows, strict=True):
        got = dict(zip(columns, row, strict=True))
        assert got["_ws.malformed"] == "" and got["_ws.expert.message"] == "", (msg, got)
        assert int(got["frame.len"]) == len(frame) >= 60
        assert (got["eth.dst"], got["eth.src"]) == (format_mac(header.dst), format_mac(header.src))
        assert int(got["eth.type"], 0) == 0x88E1
        assert int(got["homeplug_av.mmhdr.mmver"], 0) == 1
        assert int(got["homeplug_av.mmhdr.mmtype"], 0) == msg.MMTYPE
        assert int(got["homeplug_av.mmhdr.fmi"], 0) == 0
        decoded = {k: _convert(got[k], v) for k, v in expect.items()}
        assert decoded == expect, msg
