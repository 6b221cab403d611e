"""SECC decisions of session set-up: SessionSetup (new or resumed), AuthorizationSetup, Authorization
(CertificateInstallation is :mod:`iso15118.iso20.secc.installation`).

Resuming a paused session [V2G20-2545]: the SECC must make sure the EV that resumes is the one that paused. A
paused session is bound to the EVCCID and to the fingerprint of the vehicle certificate that authenticated it
over TLS; it resumes only for the same pair, before it expires, and only when the EVCCID is the CN of the
vehicle certificate presented, as the standard ties them [V2G20-2598]. Anything else — an unknown SessionID,
another car, an expired pause — starts a new session with a fresh SessionID (``OK_NewSessionEstablished``,
[V2G20-2626/2627]), and a mismatch is a security-relevant refusal logged at WARNING with the peer's subject.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from iso15118.controller import AuthorizationDecision, SessionReport
from iso15118.decisions import Input, Need, PausedSession, Report, TakePaused, Warn
from iso15118.iso20.secc.view import Decision, SeccContext, SeccView, answer, fail
from iso15118.messages import iso20 as m
from iso15118.session.context import ZERO_SESSION

__all__ = [
    "authorization",
    "authorization_setup",
    "identity_mismatch",
    "resume_refusal",
    "session_setup",
]

_R = m.ResponseCode


def resume_refusal(paused: PausedSession, evcc_id: str, fingerprint: str | None, now: float) -> str | None:
    """Why ``paused`` may not be resumed by this EV now (None: it may) [V2G20-2545]."""
    if now >= paused.expires_at:
        return f"the pause expired {now - paused.expires_at:.0f} s ago"
    if paused.evcc_id != evcc_id:
        return f"EVCCID {evcc_id!r} is not the EVCCID {paused.evcc_id!r} that paused it"
    if paused.fingerprint != fingerprint:
        if paused.fingerprint is None:
            return "it was paused without a vehicle certificate"
        if fingerprint is None:
            return "the resuming EV presented no vehicle certificate"
        return "the vehicle certificate is not the one that paused it"
    return None


def identity_mismatch(evcc_id: str, v: SeccView) -> str | None:
    """Why the EVCCID does not name the authenticated vehicle: its certificate's CN is the EVCCID [V2G20-2598]."""
    cn = v.peer.common_name if v.peer else None
    if cn is None or cn == evcc_id:
        return None
    return f"EVCCID {evcc_id!r} is not the CN {cn!r} of the vehicle certificate [V2G20-2598]"


def _new_session(req: m.SessionSetupReq, v: SeccView, ctx: SeccContext, *effects: Any) -> Decision:
    # A fresh SessionID from a CSPRNG (64 bits >= the 58 bits of entropy required) [V2G20-2621]; never all zero.
    session_id = v.entropy[:8] if v.entropy[:8] != ZERO_SESSION else bytes([1]) + v.entropy[1:8]
    header = m.MessageHeader(session_id=session_id, time_stamp=int(v.now))
    res = m.SessionSetupRes(header=header, response_code=_R.OK_NewSessionEstablished, evse_id=v.config.evse_id)
    return answer(res, ctx, *effects)


def session_setup(req: m.SessionSetupReq, v: SeccView) -> Decision:
    """SessionSetupReq: a new session, or the resumption of a paused one by the same EV."""
    ctx = replace(v.ctx, evcc_id=req.evcc_id)
    asked = bytes(req.header.session_id)
    mismatch = identity_mismatch(req.evcc_id, v)
    if mismatch is not None:
        # The standard ties the two; a car that breaks the tie gets a session (nothing is resumed for it) and
        # the charger says so.
        ctx = replace(ctx, notes=(*ctx.notes, mismatch))
    if asked == ZERO_SESSION:
        effects = (Warn(mismatch, requirement="V2G20-2598"),) if mismatch else ()
        return _new_session(req, v, ctx, *effects)
    if Input.PAUSED not in v.inputs:
        return Need(Input.PAUSED, asked)
    paused: PausedSession | None = v.inputs.get(Input.PAUSED)
    peer = v.peer
    who = (
        f"peer {peer.address}" + (f" ({peer.subject})" if peer and peer.subject else " (no certificate)")
        if peer
        else "peer"
    )
    if paused is None:
        note = Report(SessionReport(event="resume_unknown", detail=f"SessionID {asked.hex()} is not paused here"))
        return _new_session(req, v, replace(ctx, notes=(*ctx.notes, f"resume of unknown session {asked.hex()}")), note)
    refusal = mismatch or resume_refusal(paused, req.evcc_id, peer.fingerprint if peer else None, v.now)
    if refusal is not None:
        warn = Warn(
            f"refused to resume paused session {asked.hex()} for {who}: {refusal}; a new session starts",
            requirement="V2G20-2545",
        )
        return _new_session(req, v, replace(ctx, notes=(*ctx.notes, f"resume refused: {refusal}")), warn)
    # The same EV resumes [V2G20-2545]: negotiated parameters carry over, counters start afresh.
    resumed = replace(paused.context, evcc_id=req.evcc_id, loops=0, meter=(), resumed=True, refusal=None, notes=())
    header = m.MessageHeader(session_id=asked, time_stamp=int(v.now))
    res = m.SessionSetupRes(header=header, response_code=_R.OK_OldSessionJoined, evse_id=v.config.evse_id)
    return answer(res, resumed, TakePaused(asked))


def authorization_setup(req: m.AuthorizationSetupReq, v: SeccView) -> Decision:
    """AuthorizationSetupReq: the authorization services offered, and a GenChallenge for PnC."""
    services = tuple(m.Authorization(a) for a in v.config.authorization)
    ctx = v.ctx
    mode: dict[str, Any]
    if "PnC" in v.config.authorization:
        # 16 bytes from a CSPRNG [V2G20-697/698]; checked again in AuthorizationReq.
        challenge = v.entropy[8:24]
        ctx = replace(ctx, gen_challenge=challenge)
        mode = {"pnc_as_res_authorization_mode": m.PnC_ASResAuthorizationMode(gen_challenge=challenge)}
    else:
        mode = {"eim_as_res_authorization_mode": m.EIM_ASResAuthorizationMode()}
    res = m.AuthorizationSetupRes(
        header=v.header,
        response_code=_R.OK,
        authorization_services=services,
        certificate_installation_service=v.config.certificate_installation,
        **mode,
    )
    return answer(res, ctx)


def _auth_res(
    v: SeccView, code: m.ResponseCode, processing: m.Processing = m.Processing.Finished
) -> m.AuthorizationRes:
    return m.AuthorizationRes(header=v.header, response_code=code, evse_processing=processing)


def _pnc_verdict(req: m.AuthorizationReq, v: SeccView) -> tuple[m.ResponseCode | None, SeccContext]:
    """(None, ctx with the contract) when the PnC authorization verifies; else (the code to answer, ctx)."""
    mode = req.pnc_a_req_authorization_mode
    if mode is None or v.ctx.gen_challenge is None or v.pnc is None:
        return _R.WARNING_GeneralPnCAuthorizationError, v.ctx
    if mode.gen_challenge != v.ctx.gen_challenge:
        return _R.WARNING_ChallengeInvalid, v.ctx
    outcome = v.pnc.verify_authorization(req, v.now)
    if outcome.code is not None:
        return outcome.code, v.ctx
    return None, replace(v.ctx, contract=outcome)


def authorization(req: m.AuthorizationReq, v: SeccView) -> Decision:
    """AuthorizationReq: EIM or PnC; WARNING codes let the EV try again [V2G20-2219/2230]."""
    selected = str(req.selected_authorization_service)
    if selected not in v.config.authorization:
        return answer(_auth_res(v, _R.WARNING_AuthorizationSelectionInvalid), v.ctx)
    ctx = v.ctx
    emaid: str | None = None
    if selected == "PnC":
        code, ctx = _pnc_verdict(req, v)
        if code is not None:
            refused = replace(ctx, refusal=ctx.refusal or f"{code}: the PnC authorization did not verify")
            if code.startswith("FAILED"):
                return fail(req, code, replace(v, ctx=refused))
            return answer(_auth_res(v, code), refused)
        emaid = ctx.contract.emaid if ctx.contract else None
    if Input.AUTHORIZATION not in v.inputs:
        return Need(Input.AUTHORIZATION, (ctx.evcc_id, emaid))
    decision: AuthorizationDecision = v.inputs.get(Input.AUTHORIZATION)
    ctx = replace(ctx, authorization=selected)
    if decision is AuthorizationDecision.PENDING:
        return answer(_auth_res(v, _R.OK, m.Processing.Ongoing), ctx)
    if decision is AuthorizationDecision.REVOKED and selected == "PnC":
        # An OCSP answer says the contract certificate is revoked: the EV may try another contract.
        code = _R.WARNING_CertificateRevoked
        return answer(_auth_res(v, code), replace(ctx, refusal=f"{code}: the contract certificate is revoked"))
    if decision in (AuthorizationDecision.REJECTED, AuthorizationDecision.REVOKED):
        # The EV may try again [V2G20-2219/2230].
        code = _R.WARNING_EIMAuthorizationFailure if selected == "EIM" else _R.WARNING_GeneralPnCAuthorizationError
        return answer(_auth_res(v, code), replace(ctx, refusal=f"{code}: the charger refused the authorization"))
    return answer(_auth_res(v, _R.OK), replace(ctx, authorized=True, refusal=None))
