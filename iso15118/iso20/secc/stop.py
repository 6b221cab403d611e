"""SECC decisions that end or confirm: SessionStop (Terminate, Pause, ServiceRenegotiation) and
MeteringConfirmation.

Terminate discards the session [V2G20-1080]. Pause keeps it, bound to the EVCCID and to the vehicle certificate
that authenticated this connection, until ``pause_expiry_s`` [V2G20-2545]; a charger that does not allow pausing
answers ``FAILED_PauseNotAllowed``. ServiceRenegotiation is only for chargers that announced it
(``FAILED_NoServiceRenegotiationSupported``). MeteringConfirmation is PnC only [V2G20-2704]: the EV signs the
metering data with its contract key (``FAILED_MeteringSignatureNotValid``).
"""

from __future__ import annotations

from dataclasses import replace

from iso15118.controller import SessionReport
from iso15118.decisions import PausedSession, Report, StorePaused
from iso15118.iso20.secc.view import Decision, SeccView, answer, fail
from iso15118.messages import iso20 as m

__all__ = ["metering_confirmation", "session_stop"]

_R = m.ResponseCode


def session_stop(req: m.SessionStopReq, v: SeccView) -> Decision:
    """SessionStopReq: end, pause or renegotiate."""
    how = str(req.charging_session)
    effects: list[Report | StorePaused] = []
    if how == "Pause":
        if not v.config.pause_allowed:
            return fail(req, _R.FAILED_PauseNotAllowed, v, "this charger does not allow pausing")
        kept = replace(v.ctx, contract=None, refusal=None, notes=())
        paused = PausedSession(
            session_id=v.session_id,
            evcc_id=v.ctx.evcc_id,
            fingerprint=v.peer.fingerprint if v.peer else None,
            paused_at=v.now,
            expires_at=v.now + v.config.pause_expiry_s,
            context=kept,
        )
        effects.append(StorePaused(paused))
    elif how == "ServiceRenegotiation" and not v.config.service_renegotiation:
        return fail(req, _R.FAILED_NoServiceRenegotiationSupported, v, "this charger does not renegotiate services")
    effects.append(Report(SessionReport(event="session_stop", detail=how)))
    return answer(m.SessionStopRes(header=v.header, response_code=_R.OK), v.ctx, *effects)


def metering_confirmation(req: m.MeteringConfirmationReq, v: SeccView) -> Decision:
    """MeteringConfirmationReq: the EV's signature over the metering data, checked with its contract chain."""
    contract = v.ctx.contract
    if v.pnc is None or contract is None:
        return fail(req, _R.FAILED_MeteringSignatureNotValid, v, "no contract in this session (PnC only)")
    outcome = v.pnc.verify_metering(req, contract.chain, v.now)
    if outcome.code is not None:
        return fail(req, outcome.code, v, outcome.detail)
    return answer(m.MeteringConfirmationRes(header=v.header, response_code=_R.OK), v.ctx)
