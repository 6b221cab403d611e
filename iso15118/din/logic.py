"""DIN 70121's SECC and EVCC decisions behind the generic interfaces the runner drives
(:class:`~iso15118.decisions.SeccLogic`, :class:`~iso15118.decisions.EvccLogic`).

These adapters open the V2G_Message, build the DIN views from what the runner knows, look the decision up in
the handler tables and wrap the EV's requests; every protocol rule lives in :mod:`iso15118.din.secc`,
:mod:`iso15118.din.evcc` and the shared DC decisions of :mod:`iso15118.envelope.dc`.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum
from typing import Any, Final

from iso15118.config import EvccConfig, SeccConfig
from iso15118.decisions import Answer, EvccEnv, Need, SeccEnv, Send, Step, Summary
from iso15118.din import evcc as ev
from iso15118.din.evcc.view import EvccContext, EvccView, now_send
from iso15118.din.profile import DIN
from iso15118.din.secc import SeccContext, SeccView, decide
from iso15118.envelope.kinds import Kind
from iso15118.errors import ConfigError
from iso15118.session.profile import Stream

__all__ = ["DinEvcc", "DinSecc", "negotiated"]

_ENV: Final = DIN.envelope
_DIN_EVSE_ID_MAX: Final = 32


def negotiated(service_id: int | None, authorized: bool, energy_transfer: str | None) -> dict[str, Any]:
    """What a DIN session agreed, as outcomes and journals name it: DC energy, the charge service, external
    payment (EIM) once used, and the energy transfer type."""
    out: dict[str, Any] = {"energy_mode": "DC"}
    if service_id is not None:
        out["service_id"] = service_id
    if authorized:
        out["authorization"] = "EIM"
        out["payment_option"] = "ExternalPayment"
    if energy_transfer is not None:
        out["energy_transfer"] = energy_transfer
    return out


def _evse_id(config: SeccConfig) -> bytes:
    if config.din_evse_id is not None:
        return config.din_evse_id
    try:
        found = config.evse_id.encode("ascii")
    except UnicodeEncodeError:
        found = b""
    if not 1 <= len(found) <= _DIN_EVSE_ID_MAX:
        raise ConfigError(
            f"SeccConfig.evse_id {config.evse_id!r} is no DIN 70121 EVSEID (1 to 32 ASCII bytes): set din_evse_id"
        )
    return found


class DinSecc:
    """The DIN 70121 SECC decisions for one configuration."""

    def __init__(self, config: SeccConfig) -> None:
        self.config = config
        self.evse_id = _evse_id(config)

    def initial(self) -> SeccContext:
        return SeccContext()

    def decide(self, kind: StrEnum, request: Any, ctx: Any, env: SeccEnv) -> Answer[Any] | Need:
        view = SeccView(
            now=env.now,
            header=env.header,
            ctx=ctx,
            config=self.config,
            session_id=env.session_id,
            evse_id=self.evse_id,
            inputs=env.inputs,
            entropy=env.entropy,
            stopping=env.stopping,
        )
        return decide(Kind(kind), _ENV.body(request), view)

    def summary(self, ctx: Any) -> Summary:
        c: SeccContext = ctx
        out = negotiated(c.service_id, c.authorized, c.energy_transfer)
        # The EV got no energy because the charger refused it: the charger's summary says so.
        failure = c.refusal if c.dc.loops == 0 else None
        return Summary(negotiated=out, loops=c.dc.loops, meter=c.dc.meter, failure=failure, notes=c.notes)


class DinEvcc:
    """The DIN 70121 EVCC decisions for one configuration."""

    def __init__(self, config: EvccConfig) -> None:
        self.config = config

    def initial(self) -> EvccContext:
        return EvccContext()

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
        return Step(ctx, sends=(now_send(Kind.SessionSetupReq),))

    def after(self, kind: StrEnum, stream: Stream, response: Any, request: Any, ctx: Any, env: EvccEnv) -> Step[Any]:
        return ev.NEXT[Kind(kind)](_ENV.body(response), _ENV.body(request), self._view(ctx, env))

    def due(self, send: Send, ctx: Any, env: EvccEnv) -> Step[Any] | None:
        handler = ev.DUE.get(Kind(send.kind))
        return None if handler is None else handler(self._view(ctx, env))

    def build(self, kind: StrEnum, stream: Stream, ctx: Any, env: EvccEnv) -> Any:
        return _ENV.wrap(env.header, ev.BUILD[Kind(kind)](self._view(ctx, env)))

    def stop(self, ctx: Any, why: str, env: EvccEnv) -> Step[Any]:
        """From the charge loop PowerDelivery(false), welding detection, then SessionStop; before it SessionStop."""
        c: EvccContext = replace(ctx, stopping=True, notes=(*ctx.notes, f"stopped: {why}"))
        if env.selection.loop_started:
            c = replace(c, dc=replace(c.dc, want_power=False))
            return Step(c, sends=(now_send(Kind.PowerDeliveryReq),), stop=why)
        return Step(c, sends=(now_send(Kind.SessionStopReq),), stop=why)

    def summary(self, ctx: Any) -> Summary:
        c: EvccContext = ctx
        out = negotiated(c.service_id, c.authorized, c.energy_transfer)
        return Summary(
            negotiated=out,
            loops=c.dc.loops,
            failure=c.failure,
            substitutions=c.substitutions,
            notes=(*c.notes, *c.dc.notes),
        )
