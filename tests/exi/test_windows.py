"""Decoding through moving windows and encoding with spilled accumulators give exactly what one big int gives.

:mod:`exi.bitstream` keeps coding linear: a decoder reads a window of the stream that moves on at checkpoints,
an encoder's loops spill old octets aside. Here the window is made to move at nearly every checkpoint and the
encoder to spill at nearly every loop iteration, and every outcome — the decoded value, or the error's reason,
bit offset and element path — must equal that of a single window / no spilling. Large messages with integers,
strings (also non-ASCII), binaries and xmldsig content are decoded intact and after mutations that make long
integers, truncate values or corrupt codes anywhere, including across windows.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from exi import bitstream, runtime
from exi.document import Codec
from exi.errors import DecodeError, ExiError
from harness.benchmarks.corpus import power_delivery_req, schedule_exchange_req
from iso15118.codec import codec_for, encode_message, schema_of
from iso15118.codec.schemasets import SET_NAMES
from iso15118.messages import iso20 as m
from iso15118.messages import xmldsig as ds
from tests.support.shared import SHARED

MUTANTS = 60


def _service_detail() -> m.ServiceDetailRes:
    """Strings everywhere, some non-ASCII (decoded code point by code point): about 50 KB."""
    sets = tuple(
        m.ParameterSet(
            parameter_set_id=i,
            parameter=tuple(
                m.Parameter(name=f"Größe-{i}-{j}-" + "ä" * (j % 7) + "x" * 40, finite_string=f"wert {i}.{j} " * 5)
                for j in range(32)
            ),
        )
        for i in range(16)
    )
    return m.ServiceDetailRes(
        header=m.MessageHeader(session_id=bytes(8), time_stamp=1_700_000_000),
        response_code=m.ResponseCode.OK,
        service_id=1,
        service_parameter_list=m.ServiceParameterList(parameter_set=sets),
    )


def _certificate_installation() -> m.CertificateInstallationReq:
    """Values longer than a window: certificates, a 3000-octet signature value, 600-bit serial numbers (xs:integer),
    long non-ASCII strings, in structured and in generic (xmldsig, table-driven) types: about 15 KB."""
    rng = random.Random("certificates")
    signature = ds.Signature(
        signed_info=ds.SignedInfo(
            canonicalization_method=ds.CanonicalizationMethod(algorithm="http://www.w3.org/2006/12/xml-c14n11"),
            signature_method=ds.SignatureMethod(algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"),
            reference=tuple(
                ds.Reference(
                    uri=f"#id{i}",
                    digest_method=ds.DigestMethod(algorithm="http://www.w3.org/2001/04/xmlenc#sha512"),
                    digest_value=rng.randbytes(64),
                )
                for i in range(4)
            ),
        ),
        signature_value=ds.SignatureValue(value=rng.randbytes(3000)),
        key_info=ds.KeyInfo(
            content=(
                ("KeyName", "Schlüssel-" * 120),
                ("X509Data", ds.X509Data(content=(("X509Certificate", rng.randbytes(2000)),))),
            )
        ),
    )
    return m.CertificateInstallationReq(
        header=m.MessageHeader(session_id=bytes(8), time_stamp=1_700_000_000, signature=signature),
        oem_provisioning_certificate_chain=m.SignedCertificateChain(
            id="chain",
            certificate=rng.randbytes(1600),
            sub_certificates=m.SubCertificates(certificate=tuple(rng.randbytes(1600) for _ in range(3))),
        ),
        list_of_root_certificate_i_ds=m.ListOfRootCertificateIDs(
            root_certificate_id=tuple(
                ds.X509IssuerSerial(
                    x509_issuer_name="CN=Wurzel Ä " * 30, x509_serial_number=rng.getrandbits(600) - (1 << 599)
                )
                for _ in range(20)
            )
        ),
        maximum_contract_certificate_chains=3,
    )


def _streams() -> list[tuple[str, str, bytes]]:
    """(label, schema set, EXI) of the large streams under test."""
    msgs: list[tuple[str, object]] = [
        ("PowerDeliveryReq", power_delivery_req(300)),
        ("ScheduleExchangeReq", schedule_exchange_req(60, 60)),
        ("ServiceDetailRes", _service_detail()),
        ("CertificateInstallationReq", _certificate_installation()),
    ]
    out = [(label, schema_of(msg), encode_message(msg)) for label, msg in msgs]
    josev = SHARED / "vectors" / "josev_session_vectors.json"
    if josev.exists():  # a PnC AuthorizationReq: signed header (xmldsig), certificate chain, challenge
        for v in json.loads(josev.read_text())["vectors"]:
            data = bytes.fromhex(v["exi_hex"])
            if v.get("root_element") == "AuthorizationReq" and len(data) > 1024:
                out.append(("AuthorizationReq (Josev)", "iso20_common", data))
    return out


STREAMS = _streams()


def _outcome(codec: Codec, data: bytes) -> tuple[Any, ...]:
    try:
        doc = codec.decode_document(data)
    except DecodeError as exc:
        return ("error", exc.reason, exc.bit_offset, tuple(exc.path))
    return ("ok", doc.root, doc.value)


def _mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    i = rng.randrange(1, len(b))
    kind = rng.randrange(5)
    if kind == 0:  # flip a bit
        b[i] ^= 0x80 >> rng.randrange(8)
    elif kind == 1:  # truncate
        del b[i:]
    elif kind == 2:  # a long run of continuation octets: integers (or lengths) far longer than a window read
        b[i:i] = bytes([rng.choice((0x80, 0xFF, 0x81))]) * rng.randint(8, 3000)
    elif kind == 3:  # delete a slice
        del b[i : i + rng.randint(1, 64)]
    else:  # overwrite with random octets
        b[i : i + 8] = rng.randbytes(8)
    return bytes(b)


@pytest.mark.parametrize(("label", "schema", "data"), STREAMS, ids=[s[0] for s in STREAMS])
def test_moving_windows_decode_like_one_window(
    label: str, schema: str, data: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    codec = codec_for(schema)
    rng = random.Random(f"windows-{label}")
    streams = [data, *(_mutate(rng, data) for _ in range(MUTANTS))]
    monkeypatch.setattr(bitstream, "WINDOW_STEP", 1 << 40)  # the whole stream is one window
    expected = [_outcome(codec, s) for s in streams]
    assert expected[0][0] == "ok"
    assert len(data) > bitstream.WINDOW_MARGIN + 8, "the stream must not fit in one window"
    for step in (1, 7, 64):
        monkeypatch.setattr(bitstream, "WINDOW_STEP", step)
        for stream, want in zip(streams, expected, strict=True):
            assert _outcome(codec, stream) == want, f"step {step}: {stream.hex()[:80]}..."
    assert any(e[0] == "error" for e in expected) and any(e[0] == "ok" for e in expected[1:])


@pytest.mark.parametrize(("label", "schema", "data"), STREAMS, ids=[s[0] for s in STREAMS])
def test_spilling_encodes_like_one_accumulator(
    label: str, schema: str, data: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    codec = codec_for(schema)
    doc = codec.decode_document(data)
    modules = [runtime, *(codec_for(name).module for name in SET_NAMES)]
    encodings = []
    for limit in (1 << 1_000_000, 1 << 9, 1):
        for module in modules:
            monkeypatch.setattr(module, "SPILL_LIMIT", limit)
        encodings.append(codec.encode(doc.value, doc.root))
    assert encodings[0] == data
    assert encodings[1] == data and encodings[2] == data


def test_padded_integers_across_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """An in-range value with thousands of zero continuation groups (valid EXI) crosses windows; decoding goes on
    after it exactly as with one window."""
    module = codec_for("iso20_common").module
    msg = power_delivery_req(100)
    padded = {entry.duration for entry in msg.ev_power_profile.ev_power_profile_entries.ev_power_profile_entry[::7]}

    def w_el_uint_padded(acc: int, n: int, v: int) -> tuple[int, int]:
        if v not in padded:
            return runtime.w_el_uint_raw(acc, n, v)
        groups = [0x80 | ((v >> s) & 0x7F) for s in range(0, v.bit_length(), 7)] + [0x80] * 2000 + [0]
        acc = (acc << 1) | 0  # CH
        for g in groups:
            acc = (acc << 8) | g
        return acc << 1, n + 2 + 8 * len(groups)  # EE

    monkeypatch.setattr(module, "w_el_uint_raw", w_el_uint_padded)
    data = encode_message(msg)
    monkeypatch.undo()
    codec = codec_for("iso20_common")
    assert len(data) > 15 * 2000
    # Cut inside padded runs and elsewhere: the stream then ends inside an integer or after it.
    streams = [data, *(data[:cut] for cut in range(1000, len(data), 1777))]
    monkeypatch.setattr(bitstream, "WINDOW_STEP", 1 << 40)
    expected = [_outcome(codec, s) for s in streams]
    assert expected[0] == ("ok", ("urn:iso:std:iso:15118:-20:CommonMessages", "PowerDeliveryReq"), msg)
    assert all(e[0] == "error" and e[1].startswith("unexpected end of stream") for e in expected[1:])
    for step in (1, 100):
        monkeypatch.setattr(bitstream, "WINDOW_STEP", step)
        assert [_outcome(codec, s) for s in streams] == expected


def _reference_uint(bits: str, p: int) -> tuple[int, int] | None:
    """Unsigned Integer at bit ``p`` of a bit string, group by group (None if the stream ends inside it)."""
    value = shift = 0
    while p + 8 <= len(bits):
        group = int(bits[p : p + 8], 2)
        p += 8
        value |= (group & 0x7F) << shift
        shift += 7
        if group < 128:
            return value, p
    return None


@pytest.mark.parametrize("seed", range(40))
def test_long_unsigned_integers_read_like_the_reference(seed: int) -> None:
    """Up to 10 groups come from the window, the rest from the octets in chunks: any length, any alignment."""
    rng = random.Random(seed)
    groups = [rng.randrange(128, 256) for _ in range(rng.choice((0, 3, 9, 10, 11, 70, 200, 1500)))]
    if rng.random() < 0.8:
        groups.append(rng.randrange(128))  # the last group; without it the stream ends inside the integer
    prefix = "".join(rng.choice("01") for _ in range(rng.randrange(20)))
    suffix = "".join(rng.choice("01") for _ in range(rng.randrange(20))) if groups[-1:] < [128] else ""
    bits = prefix + "".join(f"{g:08b}" for g in groups) + suffix
    bits += "0" * (-len(bits) % 8)
    data = int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b""
    start = len(prefix)
    want = _reference_uint(bits, start)
    D, T, _ = bitstream.window(data, start)
    if want is None:
        with pytest.raises(ValueError, match="negative shift count"):
            runtime.r_uint(D, T, start, data)
    else:
        assert runtime.r_uint(D, T, start, data) == want


def test_generated_reads_are_all_counted_by_the_run_bound() -> None:
    """Every inline read of a generated decoder has a literal width (what the bound sums up) and every set's
    bound is within the window margin."""
    for name in SET_NAMES:
        module = codec_for(name).module
        source = Path(module.__file__).read_text()
        reads = re.findall(r"T - p - ([^)]*)\)", source)
        assert reads and all(w.isdigit() for w in reads), {w for w in reads if not w.isdigit()}
        assert 0 < module.RUN_BITS <= bitstream.WINDOW_MARGIN * 8


def test_a_codec_whose_runs_exceed_the_margin_is_refused() -> None:
    module = SimpleNamespace(
        NAME="toy", NAMESPACES=(), DOCUMENT=(), FRAGMENT=(), RUN_BITS=bitstream.WINDOW_MARGIN * 8 + 1
    )
    with pytest.raises(ExiError, match="regenerate"):
        Codec(module)  # type: ignore[arg-type]


def test_large_fragment_and_what_follows_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fragment (what signatures are computed over) spanning many windows: its ED is read in the last one,
    and octets after it are reported."""
    codec = codec_for("iso20_common")
    signed_info = ds.SignedInfo(
        canonicalization_method=ds.CanonicalizationMethod(algorithm="http://www.w3.org/2006/12/xml-c14n11"),
        signature_method=ds.SignatureMethod(algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"),
        reference=tuple(
            ds.Reference(
                uri=f"#id{i}",
                digest_method=ds.DigestMethod(algorithm="http://www.w3.org/2001/04/xmlenc#sha512"),
                digest_value=bytes([i]) * 64,
            )
            for i in range(100)
        ),
    )
    data = codec.encode_fragment(signed_info, "SignedInfo")
    assert len(data) > 10 * (bitstream.WINDOW_STEP + bitstream.WINDOW_MARGIN)
    for step in (1 << 40, 1, 512):
        monkeypatch.setattr(bitstream, "WINDOW_STEP", step)
        assert codec.decode_fragment(data).value == signed_info
        with pytest.raises(DecodeError, match="2 unexpected byte") as info:
            codec.decode_fragment(data + b"\x00\x00")
        assert info.value.bit_offset is not None and info.value.bit_offset > (len(data) - 1) * 8
