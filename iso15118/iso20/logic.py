"""ISO 15118-20's SECC and EVCC decisions behind the generic interfaces the runner drives
(:class:`~iso15118.decisions.SeccLogic`, :class:`~iso15118.decisions.EvccLogic`).

These adapters only build the -20 views from what the runner knows and look the decision up in the handler
tables; every protocol rule lives in :mod:`iso15118.iso20.secc` and :mod:`iso15118.iso20.evcc`.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum
from typing import Any

from iso15118.config import EvccConfig, SeccConfig
from iso15118.controller import ControlMode
from iso15118.decisions import Answer, EvccEnv, Need, SeccEnv, Send, Step, Summary
from iso15118.iso20 import evcc as ev
from iso15118.iso20.evcc.view import EvccContext, EvccView, now_send
from iso15118.iso20.kinds import Kind
from iso15118.iso20.pnc import PncVerifier
from iso15118.iso20.secc import SeccContext, SeccView, decide
from iso15118.iso20.services import mode_of_service
from iso15118.iso20.states import State
from iso15118.session.profile import Stream

__all__ = ["Iso20Evcc", "Iso20Secc", "negotiated"]


def negotiated(
    service_id: int | None, parameter_set: int | None, dynamic: bool | None, authorization: str | None
) -> dict[str, Any]:
    """The negotiated parameters as outcomes and journals name them."""
    out: dict[str, Any] = {}
    if service_id is not None:
        out["service_id"] = service_id
        mode = mode_of_service(service_id)
        if mode is not None:
            out["energy_mode"] = str(mode)
    if parameter_set is not None:
        out["parameter_set"] = parameter_set
    if dynamic is not None and service_id is not None:
        out["control_mode"] = "dynamic" if dynamic else "scheduled"
    if authorization is not None:
        out["authorization"] = authorization
    return out


class Iso20Secc:
    """The -20 SECC decisions for one configuration."""

    def __init__(self, config: SeccConfig, pnc: PncVerifier | None = None) -> None:
        self.config = config
        self.pnc = pnc

    def initial(self) -> SeccContext:
        return SeccContext()

    def decide(self, kind: StrEnum, request: Any, ctx: Any, env: SeccEnv) -> Answer[Any] | Need:
        view = SeccView(
            now=env.now,
            header=env.header,
            ctx=ctx,
            config=self.config,
            selection=env.selection,
            session_id=env.session_id,
            inputs=env.inputs,
            peer=env.peer,
            pnc=self.pnc,
            entropy=env.entropy,
            dc_capable=env.dc_capable,
            stopping=env.stopping,
        )
        return decide(Kind(kind), request, view)

    def summary(self, ctx: Any) -> Summary:
        c: SeccContext = ctx
        out = negotiated(c.service_id, c.parameter_set, c.dynamic if c.control_mode else None, c.authorization)
        if c.bpt_channel is not None:
            out["bpt_channel"] = c.bpt_channel
        if c.resumed:
            out["resumed"] = True
        # The EV got no energy because the charger refused it: the charger's summary says so.
        failure = c.refusal if c.loops == 0 else None
        return Summary(negotiated=out, loops=c.loops, meter=c.meter, failure=failure, notes=c.notes)


class Iso20Evcc:
    """The -20 EVCC decisions for one configuration."""

    def __init__(self, config: EvccConfig) -> None:
        self.config = config

    def initial(self) -> EvccContext:
        return EvccContext(
            dynamic=self.config.control_mode is ControlMode.DYNAMIC, authorization=self.config.authorization
        )

    def _view(self, ctx: Any, env: EvccEnv) -> EvccView:
        return EvccView(
            now=env.now,
            ctx=ctx,
            config=self.config,
            ev=env.ev,
            header=env.header,
            session_id=env.session_id,
            selection=env.selection,
        )

    def first(self, ctx: Any, env: EvccEnv) -> Step[Any]:
        return ev.after_sap(None, None, self._view(ctx, env))

    def after(self, kind: StrEnum, stream: Stream, response: Any, request: Any, ctx: Any, env: EvccEnv) -> Step[Any]:
        k = Kind(kind)
        if stream is not Stream.MAIN:
            ctx = replace(ctx, side_streams=(*ctx.side_streams, f"{stream}:{k}:{response.response_code}"))
        handler = ev.NEXT_SIDE.get((stream, k)) or ev.NEXT[k]
        return handler(response, request, self._view(ctx, env))

    def due(self, send: Send, ctx: Any, env: EvccEnv) -> Step[Any] | None:
        handler = ev.DUE.get(Kind(send.kind)) if send.stream is Stream.MAIN else None
        return None if handler is None else handler(self._view(ctx, env))

    def build(self, kind: StrEnum, stream: Stream, ctx: Any, env: EvccEnv) -> Any:
        return ev.build(Kind(kind), self._view(ctx, env), stream)

    def stop(self, ctx: Any, why: str, env: EvccEnv) -> Step[Any]:
        """From the charge loop: PowerDelivery(Stop) then SessionStop [V2G20-1610]; before it, SessionStop
        [V2G20-2645]; after PowerDelivery(Stop), SessionStop straight away."""
        c: EvccContext = replace(ctx, stopping="Terminate", notes=(*ctx.notes, f"stopped: {why}"))
        # Between PowerDelivery(Start) and the first loop exchange the table admits no SessionStop either.
        if env.selection.loop_started or env.state is State.CHARGE_LOOP:
            return Step(c, sends=(now_send(Kind.PowerDeliveryReq),), stop=why)
        return Step(c, sends=(now_send(Kind.SessionStopReq),), stop=why)

    def summary(self, ctx: Any) -> Summary:
        c: EvccContext = ctx
        # A resumed session did not authorize on this connection.
        out = negotiated(c.service_id, c.parameter_set, c.dynamic, None if c.resumed else c.authorization)
        if c.bpt_channel is not None:
            out["bpt_channel"] = c.bpt_channel
        if c.resumed:
            out["resumed"] = True
        if c.service_renegotiations:
            out["service_renegotiations"] = c.service_renegotiations
        if c.side_streams:
            out["side_streams"] = list(c.side_streams)
        out["notifications"] = list(c.notifications)
        return Summary(
            negotiated=out,
            loops=c.loops,
            meter=c.meter,
            failure=c.failure,
            substitutions=c.substitutions,
            notes=c.notes,
        )
