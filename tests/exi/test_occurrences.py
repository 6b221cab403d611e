"""Regression for issue 15: ranged repetitions whose minOccurs is above 1 encode to EXIficient's bytes.

The encoder wrote the event code of every item after the first with the width of the "between minOccurs and
maxOccurs" state (2 bits: SE or the exits), also after the first item, where only the SE may follow (1 bit); the
decoder counted correctly, so our decoder read EXIficient's bytes but not our own. One vector per shape (TxSpecData,
RxSpecData, PulseSequenceOrder; request and response) at minOccurs, minOccurs + 1, maxOccurs - 1 and maxOccurs,
recorded from EXIficient (``tests/vectors/exi/wpt_lf_setup.json``, see PROVENANCE.md there); the live comparison
with the oracle runs when java is available.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from exi.views import to_xml
from iso15118.codec import codec_for
from tests.exi.wpt_shapes import build, shapes
from tests.support.oracle import ExiOracle, Op, OracleRequest

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "exi" / "wpt_lf_setup.json"


def _vectors() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads(VECTORS.read_text())["vectors"]
    return vectors


@pytest.mark.parametrize("vector", _vectors(), ids=lambda v: str(v["name"]))
def test_wpt_lf_setup_encodes_to_exificient_bytes(vector: dict[str, Any]) -> None:
    codec = codec_for("iso20_wpt")
    msg = build(**vector["build"])
    data = bytes.fromhex(vector["hex"])
    assert codec.encode(msg) == data
    assert codec.decode(data) == msg


def test_every_shape_has_a_vector() -> None:
    assert sorted(v["name"] for v in _vectors()) == sorted(label for label, _args in shapes())


def test_wpt_lf_setup_matches_the_oracle_live(exi_oracle: ExiOracle) -> None:
    codec = codec_for("iso20_wpt")
    msgs = [build(**args) for _label, args in shapes()]
    ours = [codec.encode(m) for m in msgs]
    xmls = [etree.tostring(to_xml(m, codec.root_for(m))) for m in msgs]
    theirs = exi_oracle.batch([OracleRequest(op=Op.ENCODE, schema="iso20-wpt", data=x) for x in xmls])
    back = exi_oracle.batch([OracleRequest(op=Op.DECODE, schema="iso20-wpt", data=b) for b in ours])
    for (label, _args), mine, enc, dec in zip(shapes(), ours, theirs, back, strict=True):
        assert enc.unwrap() == mine, label
        assert dec.ok, f"{label}: {dec.error}"
