"""EVCC decisions and requests of SessionStop: Terminate, Pause, or ServiceRenegotiation (which starts over at
ServiceDiscovery [V2G20-1643])."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from iso15118.decisions import Step
from iso15118.iso20.evcc.view import EvccContext, EvccView, now_send
from iso15118.iso20.kinds import Kind
from iso15118.messages import iso20 as m

__all__ = ["after_session_stop", "build_session_stop"]


def build_session_stop(v: EvccView) -> m.SessionStopReq:
    """SessionStopReq of the kind the EV decided on (Terminate unless it chose to pause or renegotiate)."""
    return m.SessionStopReq(header=v.header, charging_session=m.ChargingSession(v.ctx.stopping or "Terminate"))


def after_session_stop(res: Any, req: m.SessionStopReq, v: EvccView) -> Step[EvccContext]:
    """ServiceRenegotiation starts over at ServiceDiscovery; Terminate and Pause end the session (the core)."""
    if str(req.charging_session) == "ServiceRenegotiation":
        ctx = replace(v.ctx, service_renegotiations=v.ctx.service_renegotiations + 1, stopping=None)
        return Step(ctx, sends=(now_send(Kind.ServiceDiscoveryReq),))
    return Step(v.ctx)
