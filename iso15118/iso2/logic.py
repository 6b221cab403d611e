"""ISO 15118-2's SECC and EVCC decisions behind the generic interfaces the runner drives
(:class:`~iso15118.decisions.SeccLogic`, :class:`~iso15118.decisions.EvccLogic`).

These adapters only build the -2 views from what the runner knows, open the ``V2G_Message`` envelope and look
the decision up in the handler tables; every protocol rule lives in :mod:`iso15118.iso2.secc` and
:mod:`iso15118.iso2.evcc`.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum
from typing import Any, Final

from iso15118.config import EvccConfig, SeccConfig
from iso15118.decisions import Answer, EvccEnv, Need, SeccEnv, Send, Step, Summary
from iso15118.envelope.kinds import Kind
from iso15118.envelope.states import body_of
from iso15118.errors import ConfigError
from iso15118.iso2 import evcc as ev
from iso15118.iso2.evcc.view import EvccContext, EvccView, now_send
from iso15118.iso2.modes import CHARGE_SERVICE_ID, family_of
from iso15118.iso2.pnc import Iso2Pnc
from iso15118.iso2.secc import SeccContext, SeccView, decide
from iso15118.session.profile import Stream

__all__ = ["Iso2Evcc", "Iso2Secc", "negotiated"]

_EVCCID_BYTES: Final = 6
"""SessionSetupReq's EVCCID: hexBinary of at most 6 bytes in the -2 schema."""


def negotiated(
    energy_mode: str | None, payment: str | None, schedule_tuple_id: int | None, renegotiations: int, resumed: bool
) -> dict[str, Any]:
    """The negotiated parameters as outcomes and journals name them."""
    out: dict[str, Any] = {}
    if energy_mode is not None:
        out["service_id"] = CHARGE_SERVICE_ID
        out["energy_mode"] = str(family_of(energy_mode))
        out["energy_transfer_mode"] = energy_mode
    if payment is not None:
        out["payment_option"] = payment
        out["authorization"] = "PnC" if payment == "Contract" else "EIM"
    if schedule_tuple_id is not None:
        out["sa_schedule_tuple_id"] = schedule_tuple_id
    if renegotiations:
        out["renegotiations"] = renegotiations
    if resumed:
        out["resumed"] = True
    return out


class Iso2Secc:
    """The -2 SECC decisions for one configuration."""

    def __init__(self, config: SeccConfig, pnc: Iso2Pnc | None = None) -> None:
        self.config = config
        self.pnc = pnc

    def initial(self) -> SeccContext:
        return SeccContext()

    def decide(self, kind: StrEnum, request: Any, ctx: Any, env: SeccEnv) -> Answer[Any] | Need:
        view = SeccView(
            now=env.now,
            request=request,
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
        return decide(Kind(kind), view)

    def summary(self, ctx: Any) -> Summary:
        c: SeccContext = ctx
        out = negotiated(c.energy_mode, c.payment, c.schedule_tuple_id, c.renegotiations, c.resumed)
        # The EV got no energy because the charger refused it: the charger's summary says so.
        failure = c.refusal if c.loops == 0 else None
        return Summary(negotiated=out, loops=c.loops, meter=c.meter, failure=failure, notes=c.notes)


class Iso2Evcc:
    """The -2 EVCC decisions for one configuration."""

    def __init__(self, config: EvccConfig) -> None:
        if not 1 <= len(config.evcc_mac) <= _EVCCID_BYTES:
            raise ConfigError(f"ISO 15118-2's EVCCID is 1 to 6 bytes (a MAC address), got {len(config.evcc_mac)}")
        self.config = config

    def initial(self) -> EvccContext:
        return EvccContext()

    def _view(self, ctx: Any, env: EvccEnv, response: Any = None) -> EvccView:
        return EvccView(
            now=env.now,
            ctx=ctx,
            config=self.config,
            ev=env.ev,
            header=env.header,
            session_id=env.session_id,
            selection=env.selection,
            response=response,
        )

    def first(self, ctx: Any, env: EvccEnv) -> Step[Any]:
        return Step(ctx, sends=(now_send(Kind.SessionSetupReq),))

    def after(self, kind: StrEnum, stream: Stream, response: Any, request: Any, ctx: Any, env: EvccEnv) -> Step[Any]:
        return ev.NEXT[Kind(kind)](body_of(response), body_of(request), self._view(ctx, env, response))

    def due(self, send: Send, ctx: Any, env: EvccEnv) -> Step[Any] | None:
        handler = ev.DUE.get(Kind(send.kind))
        return None if handler is None else handler(self._view(ctx, env))

    def build(self, kind: StrEnum, stream: Stream, ctx: Any, env: EvccEnv) -> Any:
        return ev.BUILD[Kind(kind)](self._view(ctx, env))

    def stop(self, ctx: Any, why: str, env: EvccEnv) -> Step[Any]:
        """From the charge loop: PowerDelivery(Stop) then SessionStop; before it, SessionStop at once."""
        c: EvccContext = replace(ctx, stopping="Terminate", notes=(*ctx.notes, f"stopped: {why}"))
        if env.selection.loop_started:
            return Step(replace(c, progress="Stop"), sends=(now_send(Kind.PowerDeliveryReq),), stop=why)
        return Step(c, sends=(now_send(Kind.SessionStopReq),), stop=why)

    def summary(self, ctx: Any) -> Summary:
        c: EvccContext = ctx
        out = negotiated(c.energy_mode, c.payment, c.schedule_tuple_id, c.renegotiations, c.resumed)
        if c.receipts:
            out["metering_receipts"] = c.receipts
        if c.installed is not None:
            out["contract_installed"] = c.installed
        out["notifications"] = list(c.notifications)
        return Summary(
            negotiated=out,
            loops=c.loops,
            meter=c.meter,
            failure=c.failure,
            substitutions=c.substitutions,
            notes=(*c.notes, *c.dc.notes),
        )
