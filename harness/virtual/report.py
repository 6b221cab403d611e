"""What ``v2g sim`` prints: the bench's summary plus the protocol side, as text for people or JSON for machines.

Owns :func:`format_text` and :func:`to_json` over a :class:`~harness.virtual.runner.SimResult`. The text is the
bench summary (energy in and out, state of charge, reserve, outage transfers, money, one line per protocol
session with its verdict) followed by how the run went: the link and each session's set-up, how many
charge-loop exchanges moved the physics, and how fast the simulated clock ran. A scenario without any
protocol session says so. The JSON document is the summary's fields with a ``sim`` object added.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import TYPE_CHECKING, Any

from harness.capture import keys_path_for

if TYPE_CHECKING:
    from harness.virtual.runner import SimResult

__all__ = ["format_text", "sim_dict", "to_json"]


def _duration(seconds: float) -> str:
    return f"{seconds / 3600.0:.2f} h" if seconds >= 3600.0 else f"{seconds:g} s"


def format_text(result: SimResult) -> str:
    """The human-readable report."""
    lines = [result.summary.format_text()]
    if not result.sessions:
        reason = result.no_session_reason or "no session became due (the wall connector never had power)"
        lines.append(f"  protocol: no ISO 15118 session ran: {reason}")
    plan = result.protocols
    if plan is not None:
        lines.append(f"  protocols: {plan.describe()}")
        lines.extend(f"    {note}" for note in plan.notes)
    for record in result.sessions:
        # The SECC knows why it did not choose -20; the EV only sees that it was not chosen.
        downgrades = [o.negotiation.downgrade for o in (record.secc, record.evcc) if o and o.negotiation]
        downgrade = next((d for d in downgrades if d is not None), None)
        if downgrade is not None:
            lines.append(f"    session #{record.index}: not ISO 15118-20: {downgrade}")
    lines.append(f"  link: {result.link_description}")
    if result.csms is not None:
        lines.extend(result.csms.lines())
    for record in result.sessions:
        if record.link != "in memory":
            lines.append(f"    session #{record.index} set-up ({record.setup_real_s:.2f} s): {record.link}")
    pace = f", paced to at most {result.speed:g}x" if result.speed is not None else ""
    steps = f"step {_duration(result.coarse_dt_s)}, {_duration(result.fine_dt_s)} after a grid change"
    dc = f", {result.dc_steps} DC steps ({_duration(result.scenario.run.dc_step_s)} each)" if result.dc_steps else ""
    lines.append(
        f"  clock: {result.protocol_steps} charge-loop exchanges moved the physics ({steps}){dc},"
        f" {result.idle_steps} steps without a session"
    )
    accel = f"{result.acceleration:,.0f}x" if math.isfinite(result.acceleration) else "instant"
    lines.append(
        f"  time: {_duration(result.summary.duration_s)} simulated in {result.wall_s:.2f} s real ({accel}{pace})"
    )
    if result.plot is not None:
        lines.append(f"  plot: {result.plot}")
    if result.pcap is not None:
        lines.append(f"  capture: {result.pcap} (TLS key log embedded and in {keys_path_for(result.pcap)})")
    if result.trace_file is not None:
        lines.append(f"  trace: {result.trace_file} ({result.trace_lines} lines)")
    lines.append("  result: ok" if result.ok else "  result: NOT OK (see the invariants and sessions above)")
    return "\n".join(lines)


def sim_dict(result: SimResult) -> dict[str, Any]:
    """The protocol side of a run as a JSON-ready dict."""
    return {
        "ok": result.ok,
        "link": str(result.link),
        "link_description": result.link_description,
        "sessions": [record.to_dict() for record in result.sessions],
        "no_session_reason": result.no_session_reason,
        "protocol_steps": result.protocol_steps,
        "idle_steps": result.idle_steps,
        "dc_steps": result.dc_steps,
        "coarse_dt_s": result.coarse_dt_s,
        "fine_dt_s": result.fine_dt_s,
        "speed": result.speed,
        "wall_s": result.wall_s,
        "acceleration": result.acceleration if math.isfinite(result.acceleration) else None,
        "plot": str(result.plot) if result.plot is not None else None,
        "pcap": str(result.pcap) if result.pcap is not None else None,
        "keys": str(keys_path_for(result.pcap)) if result.pcap is not None else None,
        "trace": str(result.trace_file) if result.trace_file is not None else None,
        "trace_lines": result.trace_lines,
        "csms": dataclasses.asdict(result.csms) if result.csms is not None else None,
        "protocols": _plan_dict(result),
    }


def _plan_dict(result: SimResult) -> dict[str, Any] | None:
    plan = result.protocols
    if plan is None:
        return None
    return {
        "ev": [str(s) for s in plan.ev],
        "charger": [str(s) for s in plan.charger],
        "expected": str(plan.expected),
        "expected_name": plan.expected_name,
        "transport": str(plan.transport) if plan.transport is not None else None,
        "charge_only": plan.charge_only,
        "notes": list(plan.notes),
        "text": plan.describe(),
    }


def to_json(result: SimResult) -> str:
    """The bench summary's JSON document with the protocol side under ``sim``."""
    data = json.loads(result.summary.to_json())
    data["sim"] = sim_dict(result)
    return json.dumps(data, indent=2, sort_keys=True)
