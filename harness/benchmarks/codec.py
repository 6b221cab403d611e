"""`v2g bench codec`: microseconds per encode and per decode over a corpus of real EXI streams.

Corpus: every stream in ../shared/vectors (EVerest, libcbv2g and Josev vectors, signature fragments excluded),
or the built-in corpus when that folder is absent. Each message is timed in batches (after a warm-up); the
figures are the median and 90th percentile of the per-call times, per message and pooled over the corpus
(every message contributes the same number of samples).

Then large messages built from the classes (a PowerDeliveryReq with a long EVPowerProfile, a ScheduleExchangeReq
with a long EVEnergyOffer) at about 1, 16 and 60 KB: the best of a few calls, in ms and in µs per KB, so that
time per byte can be compared across sizes (it should not grow with the size).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from harness.benchmarks.corpus import builtin_corpus, power_delivery_req, schedule_exchange_req
from iso15118.codec import codec_for, decode_message, encode_message, payload_type_of
from iso15118.codec.schemasets import PAYLOAD_SETS
from iso15118.constants import PayloadType

__all__ = ["CodecFigures", "LargeFigures", "MessageFigures", "large_messages", "load_corpus", "run_codec_bench"]

_NAMESPACE_PAYLOAD = {
    "urn:iso:15118:2:2010:AppProtocol": PayloadType.SAP,
    "urn:iso:std:iso:15118:-20:CommonMessages": PayloadType.ISO20_COMMON,
    "urn:iso:std:iso:15118:-20:AC": PayloadType.ISO20_AC,
    "urn:iso:std:iso:15118:-20:DC": PayloadType.ISO20_DC,
}
_NAMESPACE_SCHEMA = {"urn:din:70121:2012:MsgDef": "din", "urn:iso:15118:2:2013:MsgDef": "iso2"}


@dataclass(frozen=True)
class MessageFigures:
    """Timing of one corpus message (µs per call)."""

    name: str
    size: int
    encode_median: float
    encode_p90: float
    decode_median: float
    decode_p90: float


@dataclass(frozen=True)
class LargeFigures:
    """Timing of one large message (best of a few calls); per KB means per 1024 bytes of EXI."""

    name: str
    size: int
    decode_ms: float
    encode_ms: float
    decode_us_per_kb: float
    encode_us_per_kb: float


@dataclass(frozen=True)
class CodecFigures:
    """The whole benchmark."""

    source: str
    messages: list[MessageFigures]
    encode_median: float
    encode_p90: float
    decode_median: float
    decode_p90: float
    large: list[LargeFigures]


def load_corpus(vectors: Path | None) -> tuple[str, list[tuple[str, str, bytes]]]:
    """(description, [(name, schema set, EXI bytes)])."""
    if vectors is None or not vectors.is_dir():
        return "built-in corpus", [(n, PAYLOAD_SETS[PayloadType(t)], d) for n, t, d in builtin_corpus()]
    items: list[tuple[str, str, bytes]] = []
    for fname, hex_key in (
        ("everest_test_vectors.json", "hex"),
        ("cbv2g_generated.json", "hex"),
        ("josev_session_vectors.json", "exi_hex"),
    ):
        path = vectors / fname
        if not path.exists():
            continue
        for v in json.loads(path.read_text())["vectors"]:
            ns = v["namespace"]
            schema = _NAMESPACE_SCHEMA.get(ns) or PAYLOAD_SETS.get(_NAMESPACE_PAYLOAD.get(ns, PayloadType.SDP_REQUEST))
            name = v.get("root_element") or v["name"]
            if schema is None or name in ("SignedInfo", "PnC_AReqAuthorizationMode"):
                continue
            items.append((name, schema, bytes.fromhex(v[hex_key])))
    return f"{len(items)} streams from {vectors}", items


def _samples(fn: Callable[[], Any], batches: int, per_batch: int) -> list[float]:
    for _ in range(per_batch):  # warm-up
        fn()
    out = []
    clock = time.perf_counter_ns
    for _ in range(batches):
        start = clock()
        for _ in range(per_batch):
            fn()
        out.append((clock() - start) / per_batch / 1000.0)
    return out


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def large_messages() -> list[tuple[str, object]]:
    """(label, message) of the large-message figures: two message types at about 1, 16 and 60 KB (the
    PowerDeliveryReq reaches 43 KB at its 2048 entries)."""
    return [
        *((f"PowerDeliveryReq ({n} entries)", power_delivery_req(n)) for n in (47, 762, 2048)),
        *((f"ScheduleExchangeReq ({n}+{n})", schedule_exchange_req(n, n)) for n in (14, 235, 882)),
    ]


def _best_ms(fn: Callable[[], Any], repeats: int) -> float:
    clock = time.perf_counter_ns
    best = None
    for _ in range(repeats):
        start = clock()
        fn()
        elapsed = clock() - start
        best = elapsed if best is None else min(best, elapsed)
    return (best or 0) / 1e6


def run_large_bench(repeats: int = 5) -> list[LargeFigures]:
    """Time encode and decode of :func:`large_messages` (best of ``repeats`` calls each)."""
    out = []
    for label, msg in large_messages():
        data = encode_message(msg)
        payload = payload_type_of(msg)
        dec = _best_ms(partial(decode_message, data, payload), repeats)
        enc = _best_ms(partial(encode_message, msg), repeats)
        kb = len(data) / 1024
        out.append(LargeFigures(label, len(data), dec, enc, dec * 1000 / kb, enc * 1000 / kb))
    return out


def run_codec_bench(
    vectors: Path | None, *, batches: int = 30, per_batch: int = 20, large_repeats: int = 5
) -> CodecFigures:
    """Time every corpus message; returns per-message and pooled figures."""
    source, corpus = load_corpus(vectors)
    results: list[MessageFigures] = []
    all_enc: list[float] = []
    all_dec: list[float] = []
    for name, schema, data in corpus:
        codec = codec_for(schema)
        doc = codec.decode_document(data)
        value, root = doc.value, doc.root
        dec = _samples(partial(codec.decode, data), batches, per_batch)
        enc = _samples(partial(codec.encode, value, root), batches, per_batch)
        all_enc += enc
        all_dec += dec
        results.append(
            MessageFigures(name, len(data), statistics.median(enc), _p90(enc), statistics.median(dec), _p90(dec))
        )
    return CodecFigures(
        source,
        results,
        statistics.median(all_enc),
        _p90(all_enc),
        statistics.median(all_dec),
        _p90(all_dec),
        run_large_bench(large_repeats) if large_repeats else [],
    )


def format_figures(fig: CodecFigures) -> str:
    """The printed report."""
    lines = [f"codec benchmark over {fig.source} (µs per call: median / p90)", ""]
    lines.append(f"{'message':40} {'bytes':>5}  {'encode':>15}  {'decode':>15}")
    for m in fig.messages:
        lines.append(
            f"{m.name[:40]:40} {m.size:5d}  {m.encode_median:6.1f} / {m.encode_p90:6.1f}  "
            f"{m.decode_median:6.1f} / {m.decode_p90:6.1f}"
        )
    lines.append("")
    lines.append(f"overall encode: median {fig.encode_median:.1f} µs, p90 {fig.encode_p90:.1f} µs")
    lines.append(f"overall decode: median {fig.decode_median:.1f} µs, p90 {fig.decode_p90:.1f} µs")
    if fig.large:
        lines += ["", "large messages (ms per call, best of a few; µs per KB of EXI)", ""]
        lines.append(f"{'message':36} {'KB':>5}  {'decode':>22}  {'encode':>22}")
        for g in fig.large:
            lines.append(
                f"{g.name[:36]:36} {g.size / 1024:5.1f}  "
                f"{g.decode_ms:7.2f} ms {g.decode_us_per_kb:6.0f} µs/KB  "
                f"{g.encode_ms:7.2f} ms {g.encode_us_per_kb:6.0f} µs/KB"
            )
    return "\n".join(lines)
