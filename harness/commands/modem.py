"""`v2g modem`: manage the host's Qualcomm Green PHY modem (info, reset, status, role) or emulate modems.

``info`` prints the modem's MAC and firmware; ``reset`` resets the chip and waits until it answers again;
``status`` says whether the powerline link is up and lists the networks and peers with their PHY rates;
``role`` prints the role the parameter block configures, and ``role ev|evse`` writes it, stores it in flash,
resets the modem and checks the result. ``emulate`` plays Qualcomm modems on interfaces (a middle network
namespace between an EV and an EVSE) for benches without hardware. ``--json`` prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from harness.commands._argtypes import seconds
from iso15118.slac.emulator import Chip, ModemEmulator, ModemSpec
from iso15118.slac.mme import format_mac
from iso15118.slac.pib import PibRole
from iso15118.slac.vendor import StationRole
from iso15118.transport.modem import ModemClient, ModemStatus
from iso15118.transport.slac_link import run_modem_standin

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``modem`` command."""
    parser = subparsers.add_parser(
        "modem",
        help="manage a Qualcomm Green PHY modem (info, reset, status, role) or emulate modems",
        description="Talk to the modem in front of IFACE with Qualcomm vendor messages (root or CAP_NET_RAW).",
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, text in (
        ("info", "firmware version, device class and MAC of the modem"),
        ("reset", "reset the modem (VS_RS_DEV) and wait until it answers again"),
        ("status", "is the powerline link up; networks, peers and PHY rates"),
        ("role", "read the role the PIB configures, or write it: role ev|evse"),
    ):
        action = sub.add_parser(name, help=text, description=text)
        action.add_argument("--iface", required=True, help="the interface the modem is connected to")
        action.add_argument(
            "--timeout", type=seconds(positive=True), default=1.0, metavar="S", help="wait per request (default 1 s)"
        )
        action.add_argument("--json", action="store_true", help="print one JSON object")
        if name == "role":
            action.add_argument("role", nargs="?", choices=[r.value for r in PibRole], help="the role to write")
        if name in ("reset", "role"):
            action.add_argument(
                "--reset-wait",
                type=seconds(positive=True),
                default=30.0,
                metavar="S",
                help="wait this long for the modem to return",
            )
        action.set_defaults(func=_run)
    emulate = sub.add_parser(
        "emulate",
        help="emulate Qualcomm modems on interfaces (one modem per interface) until interrupted",
        description="Answer management messages and CM_SET_KEY, produce CM_ATTEN_PROFILE.IND for EVSE-role "
        "modems, with a late start, a slow reset and AR7420 behaviour on request.",
    )
    emulate.add_argument("--iface", action="append", required=True, help="an interface (give two or more)")
    emulate.add_argument(
        "--role", action="append", default=[], metavar="IFACE=ev|evse", help="PIB role of a modem (default evse)"
    )
    emulate.add_argument(
        "--chip", action="append", default=[], metavar="IFACE=CHIP", help="qca7000 (default), qca7420 or ar7420"
    )
    emulate.add_argument("--late-start", type=seconds(), default=0.0, metavar="S", help="modems answer after S seconds")
    emulate.add_argument("--reset-time", type=seconds(), default=3.0, metavar="S", help="a reset takes S seconds")
    emulate.add_argument("--forward", action="store_true", help="also bridge the frames (no kernel bridge)")
    emulate.set_defaults(func=_emulate)


def _pairs(items: list[str], option: str, ifaces: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in ifaces:
            raise ValueError(f"{option} expects IFACE=VALUE with one of the --iface names, got {item!r}")
        out[name] = value
    return out


def _emulate(args: argparse.Namespace) -> int:
    ifaces: list[str] = args.iface
    roles = _pairs(args.role, "--role", ifaces)
    chips = _pairs(args.chip, "--chip", ifaces)
    try:
        specs = {
            name: ModemSpec(
                role=PibRole(roles.get(name, "evse")),
                chip=Chip(chips.get(name, "qca7000")),
                start_s=args.late_start,
                reset_s=args.reset_time,
            )
            for name in ifaces
        }
    except ValueError as exc:
        raise ValueError(f"--role/--chip: {exc}") from None

    async def serve() -> None:
        model = ModemEmulator(specs, forward=args.forward, now=asyncio.get_running_loop().time())
        print(f"modem emulator on {', '.join(ifaces)}", flush=True)
        await run_modem_standin(ifaces, modem=model)

    asyncio.run(serve())
    return 0


def _status_json(status: ModemStatus) -> dict[str, Any]:
    return {
        "link_up": status.link_up,
        "networks": [
            {
                "nid": net.nid.hex(),
                "snid": net.snid,
                "tei": net.tei,
                "role": StationRole(net.role).name if net.role in tuple(StationRole) else net.role,
                "cco_mac": format_mac(net.cco_mac),
                "stations": [
                    {"mac": format_mac(s.mac), "tei": s.tei, "tx_mbps": s.avg_tx_mbps, "rx_mbps": s.avg_rx_mbps}
                    for s in net.stations
                ],
            }
            for net in status.networks
        ],
    }


def _status_text(status: ModemStatus) -> str:
    lines = [f"powerline link {'up' if status.link_up else 'down'}"]
    if not status.networks:
        lines.append("  no logical network (no peer)")
    for net in status.networks:
        lines.append(f"  network NID {net.nid.hex()} (CCo {format_mac(net.cco_mac)}), {len(net.stations)} peer(s)")
        lines.extend(
            f"    peer {format_mac(s.mac)} TEI {s.tei}: tx {s.avg_tx_mbps} Mbit/s, rx {s.avg_rx_mbps} Mbit/s"
            for s in net.stations
        )
    return "\n".join(lines)


async def _action(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """The result as JSON-ready data and as a text line (or lines)."""
    where = f"modem on {args.iface}"
    async with ModemClient(args.iface, timeout=args.timeout) as client:
        if args.action == "info":
            info = await client.info()
            mac = format_mac(info.mac)
            text = f"modem {mac} on {args.iface}: {info.version} (device class 0x{info.device_class:02X})"
            return {"mac": mac, "version": info.version, "device_class": info.device_class}, text
        if args.action == "reset":
            report = await client.reset(wait_s=args.reset_wait)
            back = report.back_s or 0.0
            text = f"{where} reset: confirmed after {report.confirmed_s:.3f} s, answering again after {back:.3f} s"
            return {"confirmed_s": round(report.confirmed_s, 3), "back_s": round(back, 3)}, text
        if args.action == "status":
            status = await client.status()
            return _status_json(status), _status_text(status)
        if args.role is None:
            role = await client.role()
            named = "none (the PIB's role bytes name no role)" if role is None else str(role)
            return {"role": None if role is None else str(role)}, f"{where}: role {named}"
        report = await client.set_role(PibRole(args.role), reset_wait_s=args.reset_wait)
        back = report.back_s or 0.0
        text = f"{where} is now {args.role} (PIB written, stored, modem reset and back after {back:.3f} s)"
        return {"role": args.role, "written": True, "back_s": round(back, 3)}, text


def _run(args: argparse.Namespace) -> int:
    result, text = asyncio.run(_action(args))
    print(json.dumps(result) if args.json else text, flush=True)
    return 0
