"""EVCC decisions and requests of session set-up: SupportedAppProtocol, SessionSetup (new or resuming),
AuthorizationSetup and Authorization (EIM, or PnC with a signed contract authorization).

What the EV asked for and what the SECC offers may differ: PnC asked but only EIM offered, or a resume the SECC
answers with a new session. By default the EV stops and says why; with ``accept_fallback`` it goes on with what
is offered and records the substitution.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from iso15118.decisions import Send, Step
from iso15118.iso20.contract import signed_authorization
from iso15118.iso20.evcc.view import EvccContext, EvccView, charge_parameter_kind, now_send, stop_step
from iso15118.iso20.kinds import Kind
from iso15118.messages import iso20 as m
from iso15118.security.credentials import ContractCredentials

__all__ = [
    "after_authorization",
    "after_authorization_setup",
    "after_session_setup",
    "build_authorization",
    "build_authorization_setup",
    "build_session_setup",
    "choose_authorization",
]


def build_session_setup(v: EvccView) -> m.SessionSetupReq:
    """SessionSetupReq: a new session (zero SessionID) or the paused one to resume."""
    session_id = v.config.resume_session_id or bytes(8)
    return m.SessionSetupReq(
        header=m.MessageHeader(session_id=session_id, time_stamp=int(v.now)), evcc_id=v.config.evcc_id
    )


def after_session_setup(res: m.SessionSetupRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """A new session goes on to authorization; a resumed one straight to the charge parameters [V2G20-1032]."""
    if str(res.response_code) == "OK_OldSessionJoined":
        # Resumed with the service and control mode the paused session had negotiated [V2G20-2539].
        ctx = replace(v.ctx, resumed=True, service_id=v.config.resume_service_id or v.ctx.service_id)
        return Step(ctx, sends=(now_send(charge_parameter_kind(v)),))
    ctx = v.ctx
    if v.config.resume_session_id is not None:
        why = f"the SECC did not resume session {v.config.resume_session_id.hex()} ({res.response_code}, a new session)"
        if not v.config.accept_fallback:
            return stop_step(replace(v, ctx=ctx), why)
        ctx = replace(ctx, substitutions=(*ctx.substitutions, why))
    return Step(ctx, sends=(now_send(Kind.AuthorizationSetupReq),))


def build_authorization_setup(v: EvccView) -> m.AuthorizationSetupReq:
    """AuthorizationSetupReq (no content)."""
    return m.AuthorizationSetupReq(header=v.header)


def after_authorization_setup(res: m.AuthorizationSetupRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """Install a contract certificate first when asked and offered [V2G20-1970]; then choose EIM or PnC."""
    offered = tuple(sorted(str(a) for a in res.authorization_services))
    ctx = replace(
        v.ctx,
        offered_authorization=offered,
        pnc_offered="PnC" in offered and res.pnc_as_res_authorization_mode is not None,
    )
    if res.pnc_as_res_authorization_mode is not None:
        ctx = replace(ctx, gen_challenge=res.pnc_as_res_authorization_mode.gen_challenge)
    if v.config.install_certificate and v.config.provisioning is not None:
        if res.certificate_installation_service:
            return Step(ctx, sends=(now_send(Kind.CertificateInstallationReq),))
        ctx = replace(ctx, notes=(*ctx.notes, "the SECC does not offer CertificateInstallation"))
    return choose_authorization(replace(v, ctx=ctx))


def _contract(v: EvccView) -> ContractCredentials | None:
    installed: ContractCredentials | None = v.ctx.contract
    return installed if installed is not None else v.config.credentials


def choose_authorization(v: EvccView) -> Step[EvccContext]:
    """Choose EIM or PnC from what the SECC offered (PnC needs a contract: configured or installed now)."""
    offered = set(v.ctx.offered_authorization)
    have_contract = _contract(v) is not None
    usable = {a for a in offered if a != "PnC" or (v.ctx.pnc_offered and have_contract)}
    want = v.config.authorization
    ctx = v.ctx
    if want not in usable:
        why = _authorization_mismatch(want, offered, have_contract)
        if not v.config.accept_fallback or not usable:
            return stop_step(replace(v, ctx=ctx), why)
        chosen = "EIM" if "EIM" in usable else sorted(usable)[0]
        ctx = replace(ctx, substitutions=(*ctx.substitutions, f"{why}; {chosen} used instead"))
        want = chosen
    return Step(replace(ctx, authorization=want), sends=(now_send(Kind.AuthorizationReq),))


def _authorization_mismatch(want: str, offered: set[str], have_contract: bool) -> str:
    offers = ", ".join(sorted(offered)) or "nothing"
    if want == "PnC" and "PnC" in offered and not have_contract:
        return "PnC asked without contract credentials"
    if want == "EIM" and offered == {"PnC"} and not have_contract:
        return f"the SECC offers {offers} only, and PnC needs contract credentials (--auth pnc with a PKI)"
    return f"{want} asked, the SECC offers {offers}"


def build_authorization(v: EvccView) -> m.AuthorizationReq:
    """AuthorizationReq: EIM, or PnC signed with the contract key [V2G20-1063]."""
    if v.ctx.authorization == "PnC":
        contract = _contract(v)
        assert contract is not None and v.ctx.gen_challenge is not None  # checked when choosing
        return signed_authorization(v.header, v.ctx.gen_challenge, contract)
    return m.AuthorizationReq(
        header=v.header,
        selected_authorization_service=m.Authorization.EIM,
        eim_a_req_authorization_mode=m.EIM_AReqAuthorizationMode(),
    )


def after_authorization(res: m.AuthorizationRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """Finished and OK goes on; Ongoing or a WARNING repeats [V2G20-1582/2230], up to the configured attempts."""
    code = str(res.response_code)
    ctx = v.ctx
    if code.startswith("WARNING"):
        ctx = replace(ctx, refusals=ctx.refusals + 1)
        if ctx.refusals >= v.config.authorization_attempts:
            why = f"authorization refused {ctx.refusals} times: AuthorizationRes {code} [V2G20-2219/2230]"
            return stop_step(replace(v, ctx=ctx), why)
    if str(res.evse_processing) != "Finished" or not code.startswith("OK"):
        # Ongoing, or a WARNING the EV may retry after; the ongoing timer bounds this.
        return Step(ctx, sends=(Send(Kind.AuthorizationReq, at=v.now + v.config.authorization_retry_s),))
    return Step(ctx, sends=(now_send(Kind.ServiceDiscoveryReq),))
