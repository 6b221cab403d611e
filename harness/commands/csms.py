"""`v2g csms`: the reference CSMS (OCPP 2.0.1 / 2.1) for demos and tests, recording what it receives in SQLite.

Stations connect to ``ws://LISTEN/STATION_ID``. With ``--pki DIR`` (one or two ``v2g pki init`` directories: -20
and/or -2) it answers Get15118EVCertificate from their test CPS and GetCertificateStatus (OCSP) as their CAs;
``--revoke SERIAL`` makes a contract certificate revoked; ``--grid-event 17:00-20:00/8000`` dispatches a daily
grid-support event (UTC) to OCPP 2.1 stations as a discharge TxProfile. It prints one line per station and per
transaction and, on SIGINT/SIGTERM, what it received.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from harness.csms import CsmsRecords, CsmsSettings, OcspResponder, ReferenceCsms, parse_grid_event
from iso15118.errors import ConfigError
from iso15118.security.pki import load_pki, read_pki
from iso15118.security.profiles import Entity
from iso15118.security.provider import LocalCps

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``csms`` command."""
    parser = subparsers.add_parser(
        "csms",
        help="run the reference OCPP 2.0.1 / 2.1 CSMS (records to SQLite)",
        description="A small CSMS on the `ocpp` package with schema validation on: stations connect to "
        "ws://LISTEN/STATION_ID. Exit code 0 after SIGINT/SIGTERM; 2: bad usage.",
    )
    parser.add_argument("--listen", default="[::1]:9000", metavar="[ADDR]:PORT", help="default: [::1]:9000")
    parser.add_argument("--db", type=Path, default=Path("v2g-csms.sqlite"), metavar="FILE", help="the SQLite record")
    parser.add_argument("--pki", type=Path, action="append", default=[], metavar="DIR", help="CPS and OCSP of this PKI")
    parser.add_argument("--revoke", action="append", default=[], metavar="SERIAL", help="revoke (hex serial number)")
    parser.add_argument("--block", action="append", default=[], metavar="IDTOKEN", help="refuse this idToken")
    parser.add_argument(
        "--grid-event", action="append", default=[], metavar="HH:MM-HH:MM/W", help="daily grid-support event (UTC)"
    )
    parser.add_argument(
        "--password", action="append", default=[], metavar="STATION:PASS", help="require Basic auth (profile 1/2)"
    )
    parser.add_argument("--heartbeat", type=int, default=300, metavar="S", help="heartbeat interval (default 300)")
    parser.set_defaults(func=_run)


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"--listen takes [ADDR]:PORT, not {text!r}")
    return host.strip("[]") or "::1", int(port)


def settings_of(args: argparse.Namespace) -> CsmsSettings:
    """The CSMS settings the options describe."""
    host, port = _listen(args.listen)
    pkis = [read_pki(load_pki(d)) for d in args.pki]
    issuers = [p[e] for p in pkis for e in (Entity.MO_SUB_CA2, Entity.MO_SUB_CA1)]
    revoked = [int(s, 16) for s in args.revoke]
    passwords = dict(p.split(":", 1) for p in args.password) if args.password else None
    return CsmsSettings(
        host=host,
        port=port,
        heartbeat_s=args.heartbeat,
        passwords=passwords,
        cps=LocalCps.from_pkis(*pkis) if pkis else None,
        ocsp=OcspResponder(issuers, revoked) if issuers else None,
        blocked_tokens=frozenset(args.block),
        grid_events=tuple(parse_grid_event(e) for e in args.grid_event),
    )


async def _serve(settings: CsmsSettings, db: Path) -> int:
    records = CsmsRecords(db)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with ReferenceCsms(settings, records) as csms:
        print(f"csms listening on {csms.url('STATION_ID')} (recording to {db})", flush=True)
        seen = 0
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            events = records.transaction_events()
            for event in events[seen:]:
                if event["eventType"] in ("Started", "Ended"):
                    info = event["transactionInfo"]
                    offline = " (offline)" if event.get("offline") else ""
                    print(f"csms: transaction {info['transactionId']} {event['eventType']}{offline}", flush=True)
            seen = len(events)
    invalid = records.invalid()
    print(f"csms: {len(records.transaction_events())} transaction events, {len(invalid)} invalid messages", flush=True)
    records.close()
    return 0


def _run(args: argparse.Namespace) -> int:
    code = asyncio.run(_serve(settings_of(args), args.db))
    sys.stdout.flush()
    return code
