"""Run pyslac 0.8.3's EVSE SLAC session handler on one interface and print the outcome as JSON lines.

Executed by the interop test with the Python of pyslac's own virtual environment, inside the EVSE's
network namespace; it imports nothing from this project. It keys the (stand-in) modem with
``SlacEvseSession.evse_set_key`` (printing ``{"event": "ready"}`` after it), lets
``SlacSessionController.process_cp_state(session, "B")`` start pyslac's matching task as a charger would
on CP state B, and prints ``{"event": "result", ...}`` once the session is matched, the task ended, or
``--timeout`` passed. ``pyslac.session.SLAC_SETTLE_TIME`` (10 s) is patched to ``--settle`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys


def _emit(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


async def _run(args: argparse.Namespace) -> int:
    import pyslac.session as pyslac_session
    from pyslac.environment import Config

    pyslac_session.SLAC_SETTLE_TIME = args.settle
    config = Config(slac_init_timeout=args.init_timeout, slac_atten_results_timeout=None, log_level="DEBUG")
    session = pyslac_session.SlacEvseSession("DE*V2G*E0001", args.iface, config)
    await session.evse_set_key()
    _emit(event="ready", nid=session.nid.hex(), nmk=session.nmk.hex())
    controller = pyslac_session.SlacSessionController()
    await controller.process_cp_state(session, "B")
    task = session.matching_process_task
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.timeout
    while session.state != pyslac_session.STATE_MATCHED and loop.time() < deadline and not task.done():
        await asyncio.sleep(0.02)
    matched = session.state == pyslac_session.STATE_MATCHED
    _emit(
        event="result",
        matched=matched,
        nid=session.nid.hex(),
        nmk=session.nmk.hex(),
        pev_mac=session.pev_mac.hex(),
        evse_mac=session.evse_mac.hex(),
        run_id=session.run_id.hex(),
        sounds_counted=session.num_total_sounds,
        num_groups=session.num_groups,
        aag=list(session.aag) if isinstance(session.aag, list) else None,
    )
    task.cancel()
    try:
        await task
    except BaseException:  # the cancelled matching task; its outcome was reported above
        pass
    return 0 if matched else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iface", required=True)
    parser.add_argument("--settle", type=float, default=0.5, help="replaces SLAC_SETTLE_TIME (10 s)")
    parser.add_argument("--init-timeout", type=float, default=20.0, help="wait for CM_SLAC_PARM.REQ")
    parser.add_argument("--timeout", type=float, default=30.0, help="give up after this many seconds")
    return asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
