"""Shared parts of `v2g secc` and `v2g evcc`: common options, observers (trace, journal), summary lines."""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from iso15118.errors import ConfigError
from iso15118.iso20.services import AC, AC_BPT
from iso15118.transport.driver import Observer, SessionOutcome

__all__ = ["add_common_options", "auth_name", "common_overrides", "observers", "prepare_process", "summary"]

_SERVICE_NAMES = {AC: "AC", AC_BPT: "AC_BPT"}
_CONTROL_MODES = {1: "scheduled", 2: "dynamic"}  # a resumed session's SECC reports the number


def prepare_process() -> None:
    """Load the codecs an AC session needs, then freeze the heap (call once a process is set up).

    The first EV then waits for no imports (~0.2 s), and the garbage collector stops rescanning the codec
    tables: under load its pauses drop from ~50-80 ms to ~10 ms (measured with `v2g bench session`).
    """
    from iso15118.codec import codec_for

    for schema in ("appprotocol", "iso20_common", "iso20_ac", "xmldsig"):
        codec_for(schema)
    gc.collect()
    gc.freeze()


def auth_name(text: str) -> str:
    """``eim``/``pnc`` (any case) -> ``EIM``/``PnC``."""
    names = {"eim": "EIM", "pnc": "PnC"}
    try:
        return names[text.lower()]
    except KeyError:
        raise argparse.ArgumentTypeError(f"expected eim or pnc, got {text!r}") from None


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """Options both roles share: interface, configuration file, PKI, TLS mode, key log, trace, journal."""
    parser.add_argument("--iface", help="network interface, e.g. eth1 (link-local address, SDP; SLAC for evcc)")
    parser.add_argument(
        "--config", type=Path, metavar="FILE.toml", help="persona file; command-line options override its values"
    )
    parser.add_argument(
        "--pki", type=Path, metavar="DIR", help="a `v2g pki init` directory: TLS identities, trusted roots, PnC files"
    )
    parser.add_argument(
        "--keylog",
        type=Path,
        metavar="FILE",
        help="append TLS secrets (NSS key log) for Wireshark; default: $SSLKEYLOGFILE",
    )
    parser.add_argument(
        "--tolerant",
        action="store_true",
        default=None,
        help="lab mode for non-conforming peers: TLS 1.2 and lab curves, relaxed timers, "
        "plain TCP allowed (each deviation is logged)",
    )
    parser.add_argument(
        "--no-tls",
        dest="tls",
        action="store_false",
        default=None,
        help="plain TCP (refused unless --tolerant: -20 mandates TLS 1.3 [V2G20-1264])",
    )
    parser.add_argument(
        "--timing-scale",
        type=float,
        metavar="F",
        help="tolerant mode: multiply every timer of the standard by F (default 2)",
    )
    parser.add_argument("--trace", type=Path, metavar="FILE.jsonl", help="write every message as a JSON line")
    parser.add_argument(
        "--journal",
        type=Path,
        metavar="FILE",
        help="append a crash-safe journal of what each session agreed and metered",
    )


def common_overrides(args: argparse.Namespace) -> dict[str, object]:
    """The [runtime] values of the common options (None where not given)."""
    return {
        "iface": args.iface,
        "pki": args.pki,
        "keylog": args.keylog,
        "tolerant": args.tolerant,
        "tls": args.tls,
        "timing_scale": args.timing_scale,
        "trace": args.trace,
        "journal": args.journal,
    }


def _observer(module: str, cls: str, path: Path, option: str) -> Observer:
    try:
        found = importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"{option} is not available: {module} is missing from this installation") from None
    factory: Any = getattr(found, cls)
    try:
        made: Observer = factory(path)
    except OSError as exc:
        raise ConfigError(f"{option} {path}: {exc.strerror or exc}") from None
    return made


@contextlib.contextmanager
def observers(trace: Path | None, journal: Path | None) -> Iterator[list[Observer]]:
    """The trace writer and journal asked for (imported lazily), closed afterwards."""
    made: list[Observer] = []
    try:
        if trace is not None:
            made.append(_observer("iso15118.records.trace", "TraceWriter", trace, "--trace"))
        if journal is not None:
            made.append(_observer("iso15118.records.journal", "Journal", journal, "--journal"))
        yield made
    finally:
        for obs in made:
            close = getattr(obs, "close", None)
            if close is not None:
                close()


def summary(role: str, peer: str, outcome: SessionOutcome) -> str:
    """One line: session, negotiated service and control mode, loops, meter readings, end reason."""
    neg = outcome.negotiated
    parts = [f"{role} {peer}: session {outcome.session_id.hex() or '-'}"]
    if "service_id" in neg:
        service = _SERVICE_NAMES.get(neg["service_id"], str(neg["service_id"]))
        mode = neg.get("control_mode", "-")
        parts.append(f"{service} {_CONTROL_MODES.get(mode, mode)}")
    if "authorization" in neg:
        parts.append(str(neg["authorization"]))
    if neg.get("resumed"):
        parts.append("resumed")
    if neg.get("bpt_channel"):
        parts.append(f"channel {neg['bpt_channel']}")
    parts.append(f"{outcome.loops} loops")
    if outcome.meter_readings:
        last = outcome.meter_readings[-1]
        parts.append(
            f"{len(outcome.meter_readings)} meter readings (last: charged {last.get('charged_wh', 0)} Wh, "
            f"discharged {last.get('discharged_wh', 0)} Wh)"
        )
    else:
        parts.append("no meter readings")
    notes = neg.get("notifications")
    if notes:
        parts.append("notifications " + "/".join(notes))
    ended = outcome.ended
    code = f" {ended.response_code}" if ended.response_code else ""
    parts.append(f"ended {ended.reason}{code} ({ended.detail})")
    return ", ".join(parts)
