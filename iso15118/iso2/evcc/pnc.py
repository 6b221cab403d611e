"""EVCC decisions and requests of -2 Plug & Charge: choosing Contract, installing or updating the contract,
PaymentDetails, and the messages signed with the contract key.

The EV pays with Contract when it is configured for PnC (``EvccConfig.authorization``), the charger offers Contract
and the EV has a -2 contract (``credentials`` with a secp256r1 key) or can install one. It installs one
(CertificateInstallationReq, signed with the OEM provisioning key of ``provisioning``) when it has none or when
``install_certificate`` asks, and updates it (CertificateUpdateReq, signed with the old contract key) when it
expires within ``contract_update_before_s``; both only when the charger offers the Certificate service, which
the EV details and selects with the parameter set of what it does (Table 105). The response is checked
completely before the contract is used (:func:`~iso15118.security.iso2_installation.install_contract`: the CPS
chain up to the EV's V2G roots and its signature, the contract chain, the eMAID, the decrypted key) and the new
contract serves the rest of the session: PaymentDetailsReq presents it.

PaymentDetailsRes brings the GenChallenge; the first AuthorizationReq returns it, signed with the contract key;
repeats while the charger answers Ongoing carry neither [V2G2-684]. A MeteringReceiptReq the charger asks for is
signed with the same key.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any, Final

from cryptography import x509

from iso15118.controller import SessionReport
from iso15118.decisions import Report, Step
from iso15118.envelope.kinds import Kind
from iso15118.errors import InstallationError
from iso15118.iso2.evcc.view import EvccContext, EvccView, now_send, stop_step, wrap
from iso15118.iso2.modes import CERTIFICATE_SERVICE_ID
from iso15118.iso2.pnc import install_contract, installation_request, sign_authorization, update_request
from iso15118.messages.generated import iso2 as m
from iso15118.security.credentials import ContractCredentials, ProvisioningCredentials
from iso15118.security.iso2_cps import common_name
from iso15118.security.iso2_credentials import is_iso2_contract, is_iso2_key

__all__ = [
    "INSTALLATION",
    "UPDATE",
    "after_certificate",
    "after_payment_details",
    "build_authorization_signed",
    "build_certificate_installation",
    "build_certificate_update",
    "build_payment_details",
    "contract_plan",
]

INSTALLATION: Final = "Installation"
UPDATE: Final = "Update"
PARAMETER_SET: Final = {INSTALLATION: 1, UPDATE: 2}
"""The Certificate service's parameter set selected for each action (Table 105)."""


def _when(v: EvccView) -> dt.datetime:
    return dt.datetime.fromtimestamp(v.now, tz=dt.UTC)


def _leaf(credentials: ContractCredentials) -> x509.Certificate:
    return x509.load_der_x509_certificate(credentials.chain[0])


def _provisioning(v: EvccView) -> ProvisioningCredentials | None:
    """The EV's -2 OEM provisioning credentials (a -20 one, secp521r1 or Ed448, cannot sign -2 requests)."""
    provisioning = v.config.provisioning
    return provisioning if provisioning is not None and is_iso2_key(provisioning.key) else None


def contract_plan(v: EvccView, ctx: EvccContext, options: list[str], services: tuple[int, ...]) -> EvccContext | str:
    """``ctx`` paying with Contract (and the certificate action, if any), or why PnC cannot be used here."""
    if "Contract" not in options:
        return f"PnC asked, the SECC offers {', '.join(options)}"
    contract = v.config.credentials if is_iso2_contract(v.config.credentials) else None
    provisioning = _provisioning(v)
    offered = CERTIFICATE_SERVICE_ID in services
    remaining = 0.0 if contract is None else (_leaf(contract).not_valid_after_utc - _when(v)).total_seconds()
    action: str | None = None
    # An expired contract cannot sign an update request the CPS would accept: a new one is installed instead.
    install = contract is None or v.config.install_certificate or (remaining <= 0 and provisioning is not None)
    if install:
        why = (
            "no -2 contract (secp256r1)"
            if contract is None
            else "the contract expired"
            if remaining <= 0
            else "a new contract asked for"
        )
        if provisioning is None:
            return f"PnC asked: {why} and no -2 OEM provisioning certificate to install one"
        if not offered:
            return f"PnC asked: {why} and the SECC does not offer the Certificate service to install one"
        action = INSTALLATION
    elif remaining <= v.config.contract_update_before_s:
        if provisioning is not None and offered:
            action = UPDATE
        else:
            # Still valid: it serves this session; the renewal waits for a charger that offers it.
            note = f"contract expires in {remaining / 86400:.1f} days; no update here"
            ctx = replace(ctx, notes=(*ctx.notes, note))
    return replace(ctx, payment="Contract", contract=contract, certificate_action=action)


def selected_certificate_service(ctx: EvccContext) -> tuple[m.SelectedService, ...]:
    """The Certificate service with the parameter set of the action planned (none without one)."""
    if ctx.certificate_action is None:
        return ()
    return (
        m.SelectedService(service_id=CERTIFICATE_SERVICE_ID, parameter_set_id=PARAMETER_SET[ctx.certificate_action]),
    )


def after_payment_selection_contract(v: EvccView) -> Step[EvccContext]:
    """Contract: install or update the contract first, else present it."""
    following = {INSTALLATION: Kind.CertificateInstallationReq, UPDATE: Kind.CertificateUpdateReq}
    return Step(v.ctx, sends=(now_send(following.get(v.ctx.certificate_action or "", Kind.PaymentDetailsReq)),))


def _checked_provisioning(v: EvccView) -> ProvisioningCredentials:
    provisioning = _provisioning(v)
    assert provisioning is not None, "a certificate action is only planned with -2 provisioning credentials"
    return provisioning


def build_certificate_installation(v: EvccView) -> Any:
    """CertificateInstallationReq: the OEM provisioning certificate and the V2G roots the EV trusts, signed with the
    provisioning key."""
    provisioning = _checked_provisioning(v)
    leaf = provisioning.certificates(provisioning.chain)[0]
    roots = provisioning.certificates(provisioning.v2g_roots)
    return installation_request(v.session_id, leaf, provisioning.key, roots)


def build_certificate_update(v: EvccView) -> Any:
    """CertificateUpdateReq: the old contract chain and eMAID and the V2G roots, signed with the old contract key."""
    provisioning, contract = _checked_provisioning(v), v.ctx.contract
    assert contract is not None, "an update is only planned with a contract"
    return update_request(v.session_id, contract, provisioning.certificates(provisioning.v2g_roots))


def after_certificate(res: Any, req: Any, v: EvccView) -> Step[EvccContext]:
    """A CertificateInstallationRes / CertificateUpdateRes: checked and decrypted, the new contract is used from
    PaymentDetailsReq on. A response that does not check out stops the EV (an update with ``accept_fallback``
    goes on with the old contract, which is still valid)."""
    update = isinstance(res, m.CertificateUpdateRes)
    provisioning, old = _checked_provisioning(v), v.ctx.contract
    name = "CertificateUpdateRes" if update else "CertificateInstallationRes"
    try:
        key = old.key if update and old is not None else provisioning.key
        contract = install_contract(
            v.response,
            key,
            v2g_roots=provisioning.certificates(provisioning.v2g_roots),
            contract_roots=provisioning.certificates(provisioning.contract_roots),
            now=_when(v),
            expected_emaid=common_name(_leaf(old)) if update and old is not None else None,
        )
    except InstallationError as exc:
        why = f"the {name} is refused: {exc.reason}"
        if update and v.config.accept_fallback:
            ctx = replace(v.ctx, certificate_action=None, substitutions=(*v.ctx.substitutions, f"{why}; old contract"))
            return Step(ctx, sends=(now_send(Kind.PaymentDetailsReq),))
        return stop_step(v, why)
    emaid = common_name(_leaf(contract))
    ctx = replace(v.ctx, contract=contract, installed=emaid, certificate_action=None)
    ctx = replace(ctx, notes=(*ctx.notes, f"contract {emaid} {'updated' if update else 'installed'}"))
    # The credentials travel in the report so the application keeps them for the next sessions (as for -20).
    report = Report(SessionReport(event="contract_installed", detail=emaid, values={"credentials": contract}))
    return Step(ctx, sends=(now_send(Kind.PaymentDetailsReq),), effects=(report,))


def build_payment_details(v: EvccView) -> Any:
    """PaymentDetailsReq: the contract's eMAID and its chain (leaf and MO Sub-CAs)."""
    contract = v.ctx.contract
    assert contract is not None, "PaymentDetails is only sent with a contract"
    subs = contract.chain[1:]
    chain = m.CertificateChain(
        certificate=contract.chain[0], sub_certificates=m.SubCertificates(certificate=subs) if subs else None
    )
    element = m.PaymentDetailsReq(emaid=common_name(_leaf(contract)), contract_signature_cert_chain=chain)
    return wrap(v, element)


def after_payment_details(res: m.PaymentDetailsRes, req: Any, v: EvccView) -> Step[EvccContext]:
    """Keep the GenChallenge; on to the signed AuthorizationReq."""
    ctx = replace(v.ctx, gen_challenge=res.gen_challenge, authorization_sent=False)
    if str(res.response_code) == "OK_CertificateExpiresSoon":
        ctx = replace(ctx, notes=(*ctx.notes, "the SECC says the contract certificate expires soon"))
    return Step(ctx, sends=(now_send(Kind.AuthorizationReq),))


def build_authorization_signed(v: EvccView) -> Any:
    """The first AuthorizationReq of a Contract session: the GenChallenge, signed with the contract key."""
    assert v.ctx.contract is not None and v.ctx.gen_challenge is not None, "PaymentDetails comes first"
    element = m.AuthorizationReq(id="ID1", gen_challenge=v.ctx.gen_challenge)
    return sign_authorization(wrap(v, element), v.ctx.contract)
