"""Shared parts of `v2g secc` and `v2g evcc`: common options, observers (trace, journal), summary lines."""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final

from harness.protocols import family_of
from iso15118.constants import NS_DIN, NS_ISO2, NS_ISO20_AC, NS_ISO20_DC
from iso15118.errors import ConfigError
from iso15118.iso20.services import mode_of_service
from iso15118.transport.driver import Observer, SessionOutcome
from iso15118.transport.policy import Deviation

__all__ = [
    "add_common_options",
    "auth_name",
    "common_overrides",
    "loops_text",
    "observers",
    "prepare_process",
    "summary",
]

_CONTROL_MODES = {1: "scheduled", 2: "dynamic"}  # a resumed session's SECC reports the number
_CODECS: Final = {
    NS_ISO20_AC: ("iso20_common", "iso20_ac"),
    NS_ISO20_DC: ("iso20_common", "iso20_dc"),
    NS_ISO2: ("iso2",),
    NS_DIN: ("din",),
}


def prepare_process(protocols: Iterable[str] = tuple(_CODECS)) -> None:
    """Load the codecs the sessions of ``protocols`` (namespaces) need, then freeze the heap (call once a process
    is set up).

    The first EV then waits for no imports (~0.2 s for -20; each -2 and DIN codec takes ~0.5 s to load), and
    the garbage collector stops rescanning the codec tables: under load its pauses drop from ~50-80 ms to
    ~10 ms (measured with `v2g bench session`).
    """
    from iso15118.codec import codec_for

    schemas = [schema for ns in protocols for schema in _CODECS.get(ns, ())]
    for schema in dict.fromkeys(("appprotocol", *schemas, "xmldsig")):
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
        "--pki",
        type=Path,
        action="append",
        metavar="DIR",
        help="a `v2g pki init` directory: TLS identities, trusted roots, PnC files. Once per generation: a -20 PKI "
        "(TLS 1.3, -20 PnC) and/or a -2 one (`--profile iso2`: TLS 1.2, -2 PnC); each says which it is",
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
        help="lab mode for non-conforming peers; strict ISO 15118-20 is the default. Allows these deviations, "
        "each logged when in effect: "
        f"{Deviation.TLS12} (TLS 1.2 and lab curves next to TLS 1.3), "
        f"{Deviation.RELAXED_TIMING} (every timer x --timing-scale, default 2), "
        f"{Deviation.PLAIN_TCP} (with --no-tls), "
        f"{Deviation.NO_CLIENT_CERTIFICATE} (secc: [tls] require_client_certificate = false)",
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


def loops_text(count: int) -> str:
    """``1 loop``, ``3 loops``."""
    return f"{count} loop" if count == 1 else f"{count} loops"


def summary(role: str, peer: str, outcome: SessionOutcome, *, hint: str | None = None) -> str:
    """One line: session, protocol, energy mode and control mode, loops, meter readings, end reason, then why
    ISO 15118-20 was not used although it came first (never silently), what the session did not do as asked
    (failure), what the peer gave instead (substitutions), notes, the signal that interrupted it and ``hint``
    (what probably happened, e.g. the peer's timeout), when there are any."""
    neg = outcome.negotiated
    parts = [f"{role} {peer}: session {outcome.session_id.hex() or '-'}"]
    chosen = neg.get("protocol_name") or (outcome.negotiation.chosen_name if outcome.negotiation else None)
    if chosen:
        parts.append(str(chosen))
    if "service_id" in neg:
        mode = neg.get("control_mode")
        control = "" if mode is None else f" {_CONTROL_MODES.get(mode, mode)}"
        parts.append(f"{_energy_mode(neg)}{control}")
    elif "protocol" in neg:
        family = family_of(str(neg["protocol"]))
        parts.append(f"{family} (no service selected)" if family else "no service selected")
    if "authorization" in neg:
        parts.append(str(neg["authorization"]))
    if neg.get("resumed"):
        parts.append("resumed")
    if neg.get("bpt_channel"):
        parts.append(f"channel {neg['bpt_channel']}")
    parts.append(loops_text(outcome.loops))
    if outcome.meter_readings:
        last = outcome.meter_readings[-1]
        count = len(outcome.meter_readings)
        parts.append(
            f"{count} meter reading{'' if count == 1 else 's'} (last: charged {last.get('charged_wh', 0)} Wh, "
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
    if outcome.negotiation is not None and outcome.negotiation.downgrade is not None:
        parts.append(f"not ISO 15118-20: {outcome.negotiation.downgrade}")
    if outcome.substitutions:
        parts.append("substituted: " + "; ".join(outcome.substitutions))
    if outcome.notes:
        parts.append("notes: " + "; ".join(outcome.notes))
    if outcome.interrupted is not None:
        parts.append(f"interrupted: {outcome.interrupted}")
    if outcome.failure is not None:
        parts.append(f"not done: {outcome.failure}")
    if hint is not None:
        parts.append(f"probably: {hint}")
    return ", ".join(parts)


def _energy_mode(negotiated: dict[str, Any]) -> str:
    """AC, AC_BPT, DC or DC_BPT; a service ID without an energy mode (a resumed session's) by its number."""
    if "energy_mode" in negotiated:
        return str(negotiated["energy_mode"])
    service = negotiated["service_id"]
    return str(mode_of_service(service) or service) if isinstance(service, int) else str(service)
