"""`v2g listen`: watch SLAC, SDP and V2GTP between two other devices and decode every message it can.

Captures every frame on an interface (a PLC modem's Ethernet side next to a real car and charger, or a port of
the bridge between our virtual EV and charger), decodes it with :class:`~iso15118.transport.listen.Dissector`
(TLS 1.3 decrypted when ``--keylog`` names the NSS key log of one of the two ends), and prints a live trace
(``--json``: one JSON object per line). ``--pcap OUT`` writes the capture as pcapng with the key log embedded
(a Decryption Secrets Block, so Wireshark decrypts it as is); ``--jsonl FILE`` writes the JSON lines to a file.
It runs until SIGINT/SIGTERM, ``--duration`` or ``--count`` messages. A readiness line goes to stderr once
the capture socket is open.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from harness.capture import Sniffer
from harness.commands._argtypes import seconds, whole
from harness.pcapng import PcapngWriter
from iso15118.transport.listen import Dissector, Record
from iso15118.transport.tls13 import KeyLog

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``listen`` command."""
    parser = subparsers.add_parser(
        "listen",
        help="watch and decode SLAC, SDP and V2GTP (TLS with a key log) between two other devices",
        description="Capture on IFACE (root or CAP_NET_RAW) and decode SLAC, SDP and V2GTP messages as they pass; "
        "TLS 1.3 is decrypted with the NSS key log of either end (--keylog).",
    )
    parser.add_argument("--iface", required=True, help="the interface to listen on")
    parser.add_argument("--keylog", type=Path, metavar="FILE", help="NSS key log (SSLKEYLOGFILE) to decrypt TLS 1.3")
    parser.add_argument("--pcap", type=Path, metavar="OUT.pcapng", help="write the capture (with the key log)")
    parser.add_argument("--jsonl", type=Path, metavar="FILE", help="write every record as a JSON line")
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of the text trace")
    parser.add_argument("--duration", type=seconds(positive=True), metavar="S", help="stop after S seconds")
    parser.add_argument("--count", type=whole(1), metavar="N", help="stop after N decoded records")
    parser.set_defaults(func=_run)


def _text(record: Record) -> str:
    route = f"{record.src} -> {record.dst}" if record.src else ""
    return f"{record.at:17.6f}  {record.proto:6}  {record.summary}  {route}".rstrip()


class _Output:
    """Writes records to stdout and the JSON-lines file; counts them."""

    def __init__(self, as_json: bool, jsonl: TextIO | None) -> None:
        self.as_json, self.jsonl = as_json, jsonl
        self.count = 0

    def write(self, record: Record) -> None:
        line = json.dumps(record.as_json(), default=str)
        print(line if self.as_json else _text(record), flush=True)
        if self.jsonl is not None:
            self.jsonl.write(line + "\n")
            self.jsonl.flush()
        self.count += 1


def _run(args: argparse.Namespace) -> int:
    keylog = KeyLog(args.keylog) if args.keylog is not None else None
    dissector = Dissector(keylog)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    sniffer = Sniffer(args.iface)
    link_type = sniffer.open()
    with contextlib.ExitStack() as stack:
        jsonl = stack.enter_context(args.jsonl.open("w", encoding="utf-8")) if args.jsonl else None
        writer = stack.enter_context(PcapngWriter(args.pcap)) if args.pcap else None
        iface_id = writer.add_interface(link_type, name=args.iface, nanoseconds=True) if writer else 0
        out = _Output(args.json, jsonl)
        lock = threading.Lock()

        def sink(frame: bytes, stamp_ns: int) -> None:
            if writer is not None:
                writer.write_packet(frame, interface=iface_id, timestamp_ns=stamp_ns)
            with lock:
                for record in dissector.feed(frame, stamp_ns / 1e9):
                    out.write(record)
                    if args.count is not None and out.count >= args.count:
                        stop.set()

        sniffer.start(sink)
        print(f"v2g listen: listening on {args.iface}", file=sys.stderr, flush=True)
        try:
            stop.wait(args.duration)
        finally:
            sniffer.stop()
            with lock:
                for record in dissector.finish(time.time()):
                    out.write(record)
            if writer is not None and args.keylog is not None and args.keylog.is_file():
                # The key log goes into the capture (a DSB) so Wireshark decrypts it without more files.
                writer.add_tls_keylog(args.keylog.read_text(encoding="ascii", errors="replace"))
    print(f"v2g listen: {out.count} records, {sniffer.packets} frames", file=sys.stderr, flush=True)
    return 0
