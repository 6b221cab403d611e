"""`v2g decode`, `v2g encode`, `v2g schemas compile --check` and `v2g bench codec` from the command line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from harness.cli import main

AC_LOOP = "8008041e9869d6a61dc1ef895b9b4a8062832418640096"  # libcbv2g tests/iso20/ac_charge_loop.cpp


def test_decode_xml_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", AC_LOOP]) == 0
    out = capsys.readouterr().out
    # The schemas' conventional prefixes, declared once on the root, as in the standard's own examples.
    assert out.startswith('<v2gci_ac:AC_ChargeLoopReq xmlns:v2gci_ac="urn:iso:std:iso:15118:-20:AC" ')
    assert 'xmlns:v2gci_ct="urn:iso:std:iso:15118:-20:CommonTypes"' in out.splitlines()[0]
    assert "<v2gci_ct:Value>200</v2gci_ct:Value>" in out and "ns0:" not in out
    assert main(["decode", "--format", "json", "--schema", "iso20-ac", AC_LOOP]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["AC_ChargeLoopReq"]["BPT_Scheduled_AC_CLReqControlMode"]["EVPresentActivePower"] == {
        "Exponent": 3,
        "Value": 200,
    }


def test_decode_v2gtp_frame_uses_payload_type(capsys: pytest.CaptureFixture[str]) -> None:
    frame = "01fe8003" + f"{len(AC_LOOP) // 2:08x}" + AC_LOOP
    assert main(["decode", "--format", "json", frame]) == 0
    assert "AC_ChargeLoopReq" in capsys.readouterr().out


def test_decode_failure_names_offset_and_path(capsys: pytest.CaptureFixture[str]) -> None:
    truncated = AC_LOOP[:-6]
    assert main(["decode", "--schema", "iso20-ac", truncated]) == 1
    err = capsys.readouterr().err
    assert truncated in err
    assert "at bit" in err and "/AC_ChargeLoopReq/BPT_Scheduled_AC_CLReqControlMode/EVPresentActivePower" in err
    assert "Traceback" not in err


def test_decode_bad_hex_is_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "xyz"]) == 1
    assert "not a hex string" in capsys.readouterr().err


def test_encode_xml_and_json_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", AC_LOOP]) == 0
    xml = tmp_path / "loop.xml"
    xml.write_text(capsys.readouterr().out)
    assert main(["decode", "--format", "json", AC_LOOP]) == 0
    js = tmp_path / "loop.json"
    js.write_text(capsys.readouterr().out)
    assert main(["encode", str(xml), str(js)]) == 0  # schema from the XML namespace / the JSON root
    assert capsys.readouterr().out.split() == [AC_LOOP, AC_LOOP]


def test_encode_reports_the_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"SessionSetupReq": {"Header": {"SessionID": "0000000000000000", "TimeStamp": -1}, "EVCCID": "x"}}')
    missing = tmp_path / "missing.xml"
    assert main(["encode", str(bad), str(missing)]) == 1
    err = capsys.readouterr().err
    assert "bad.json" in err and "TimeStamp" in err and "-1" in err
    assert "missing.xml" in err
    assert "Traceback" not in err


def test_schemas_compile_check_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.support.shared import shared_path

    xsd = shared_path("schemas")
    assert main(["schemas", "compile", "--check", "--xsd-dir", str(xsd)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_bench_codec_prints_figures(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # The built-in corpus (no vectors folder): quick, and proves the fallback works.
    assert main(["bench", "codec", "--vectors", str(tmp_path / "none"), "--batches", "2", "--per-batch", "2"]) == 0
    out = capsys.readouterr().out
    assert "built-in corpus" in out and "overall encode: median" in out and "overall decode: median" in out


JOSEV_SERVICE_DETAIL_FAILED = "8078041e9869d6a61dc1ef801244000800"  # tests/vectors/exi/josev_failed_responses.json


def test_decode_refuses_a_schema_deviation_and_tolerant_reads_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", JOSEV_SERVICE_DETAIL_FAILED]) == 1
    err = capsys.readouterr().err
    assert "deviates from schema set iso20-common (--tolerant decodes it)" in err
    assert "at bit 124" in err and "/ServiceDetailRes/ServiceParameterList" in err
    assert main(["decode", "--tolerant", JOSEV_SERVICE_DETAIL_FAILED]) == 0
    captured = capsys.readouterr()
    assert "<v2gci_cm:ServiceParameterList/>" in captured.out
    assert "schema deviation missing-content at bit 124, element /ServiceDetailRes/ServiceParameterList" in captured.err


DC_LOOP = "8034041ea65fc99ba76c4d8cdbfe1b6062810012006464000a02002400ca"  # EVerest dc_charge_loop_req


def _frame(payload_hex: str, payload_type: str = "8004", version: str = "01fe") -> str:
    return version + payload_type + f"{len(payload_hex) // 2:08x}" + payload_hex


def test_a_truncated_stream_is_blamed_on_the_set_whose_structure_it_follows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Without --schema every set is tried; the -20 DC set reads into the header's leaves before the stream ends,
    # the others fail near the root (SupportedAppProtocol and -2 reach further in bits, not in structure).
    assert main(["decode", DC_LOOP[:30]]) == 1
    err = capsys.readouterr().err
    assert "furthest with iso20-dc" in err and "/DC_ChargeLoopReq/Header/TimeStamp" in err
    assert "unexpected end of stream" in err


def test_offsets_say_whether_they_count_in_the_stream_or_the_frame(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", _frame(DC_LOOP[:30])]) == 1
    err = capsys.readouterr().err
    assert "at bit 91 (byte 11) of the EXI stream (byte 19 of the V2GTP frame)" in err
    assert main(["decode", "--schema", "iso20-dc", DC_LOOP[:30]]) == 1
    err = capsys.readouterr().err
    assert "at bit 91 (byte 11) of the EXI stream," in err and "V2GTP frame" not in err


@pytest.mark.parametrize(("version", "what"), [("03fc", "protocol version is 0x03"), ("01fd", "inverse protocol")])
def test_a_frame_with_a_bad_version_is_refused_as_a_frame(
    capsys: pytest.CaptureFixture[str], version: str, what: str
) -> None:
    # Not read as a raw EXI stream (which would blame some schema's element at bit 0).
    assert main(["decode", _frame(DC_LOOP, version=version)]) == 1
    err = capsys.readouterr().err
    assert "V2GTP header" in err and what in err and "the frame is not decoded" in err
    assert "element /" not in err and "Traceback" not in err


def test_encode_reads_standard_input(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", DC_LOOP]) == 0
    xml = capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO(xml))
    assert main(["encode", "-"]) == 0
    assert capsys.readouterr().out.split() == [DC_LOOP]
