"""EVCC decisions of CertificateInstallation: ask for a contract certificate, install it, use it.

After an AuthorizationSetupRes that offers the service, an EV configured to install a contract
(``install_certificate`` with provisioning credentials) sends CertificateInstallationReq, signed with its OEM
provisioning key [V2G20-2342]; while the SECC answers Ongoing it repeats the identical request [V2G20-1578].
A response with a contract is checked and its key decrypted
(:func:`~iso15118.security.iso20_installation.install_contract`); the contract then serves PnC from the
AuthorizationReq of this very session on, and is reported (``contract_installed``, with the credentials in its
values) so the application keeps it for the next sessions. A response the EV cannot trust -- a CPS signature
that does not verify, a key that does not decrypt -- ends the session with the reason. Without a certificate
(WARNING_NoCertificateAvailable) the EV goes on with what it has.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from iso15118.controller import SessionReport
from iso15118.decisions import Report, Send, Step
from iso15118.errors import InstallationError
from iso15118.iso20.evcc.setup import choose_authorization
from iso15118.iso20.evcc.view import EvccContext, EvccView, stop_step
from iso15118.iso20.kinds import Kind
from iso15118.messages import iso20 as m
from iso15118.security.identity import certificate_identity
from iso15118.security.iso20_installation import install_contract, installation_request

__all__ = ["after_certificate_installation", "build_certificate_installation"]


def build_certificate_installation(v: EvccView) -> m.CertificateInstallationReq:
    """The signed request (the same one again while the SECC answers Ongoing [V2G20-1578])."""
    if v.ctx.installation is not None:
        sent: m.CertificateInstallationReq = v.ctx.installation
        return sent
    creds = v.config.provisioning
    assert creds is not None  # checked before the request was chosen
    return installation_request(
        v.header, creds.certificates(creds.chain), creds.key, creds.certificates(creds.v2g_roots)
    )


def after_certificate_installation(res: m.CertificateInstallationRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """Install the contract, or go on without one; Ongoing repeats the request."""
    ctx = replace(v.ctx, installation=req)
    if str(res.evse_processing) == "Ongoing" and str(res.response_code).startswith("OK"):
        return Step(ctx, sends=(Send(Kind.CertificateInstallationReq, at=v.now + v.config.authorization_retry_s),))
    ctx = replace(ctx, installation=None)
    code = str(res.response_code)
    if not code.startswith("OK"):
        ctx = replace(ctx, notes=(*ctx.notes, f"no contract certificate installed: {code}"))
        return choose_authorization(replace(v, ctx=ctx))
    creds = v.config.provisioning
    assert creds is not None
    try:
        contract = install_contract(
            res,
            creds.key,
            creds.certificates(creds.chain)[0],
            v2g_roots=creds.certificates(creds.v2g_roots),
            contract_roots=creds.certificates(creds.contract_roots),
            now=dt.datetime.fromtimestamp(v.now, tz=dt.UTC),
        )
    except InstallationError as exc:
        return stop_step(replace(v, ctx=ctx), f"CertificateInstallationRes refused: {exc.reason}")
    emaid = certificate_identity(contract.chain[0]).common_name or ""
    ctx = replace(ctx, contract=contract, notes=(*ctx.notes, f"contract certificate installed for {emaid}"))
    step = choose_authorization(replace(v, ctx=ctx))
    report = Report(SessionReport(event="contract_installed", detail=emaid, values={"credentials": contract}))
    return replace(step, effects=(report, *step.effects))
