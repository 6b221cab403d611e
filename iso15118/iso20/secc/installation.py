"""SECC decision of CertificateInstallation: the EV's request goes to a certificate provider, its answer back.

The SECC offers the service in AuthorizationSetupRes (``CertificateInstallationService``); an EV may then send
CertificateInstallationReq before AuthorizationReq [V2G20-1970]. A charger that did not offer it answers the
request as out of sequence.

The SECC does not issue certificates. It hands the request, exactly as the EV sent it (its EXI document), to the
certificate provider through the controller interface (:class:`~iso15118.certificates.CertificateProvider`: the
CSMS via Get15118EVCertificate, or the local test CPS) and relays the provider's response:

=====================================  ===================================================================
the provider                           the SECC answers
=====================================  ===================================================================
is still working on it                 OK, EVSEProcessing Ongoing; the EV repeats the identical request
                                       [V2G20-1578]
provided a response                    that response under this session's header, after checking the CPS
                                       chain and signature when it knows the V2G roots: an untrusted chain
                                       WARNING_CertificateValidationError, a signature that does not verify
                                       (a tampered response) FAILED_SignatureError
refused (its response code)            that code: WARNING_CertificateValidationError for a provisioning
                                       certificate that does not validate, FAILED_SignatureError for a request
                                       signature that does not verify, ...
is unreachable or has nothing          WARNING_NoCertificateAvailable, EVSEProcessing Finished; the EV goes on
                                       to AuthorizationReq
=====================================  ===================================================================

The XSD makes the CPS chain and the installation data mandatory even in a refusal: they carry the minimal valid
content and nothing a car could use.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from iso15118.certificates import CertificateAnswer, CertificateRequest, CertificateStatus
from iso15118.codec import decode_as, encode_message
from iso15118.constants import NS_ISO20_COMMON_MESSAGES
from iso15118.controller import SessionReport
from iso15118.decisions import Input, Need, Report
from iso15118.errors import CertificateError, CodecError
from iso15118.iso20.secc.view import Decision, SeccView, answer, fail
from iso15118.messages import iso20 as m
from iso15118.security.identity import certificate_identity
from iso15118.session.failures import minimal_instance

__all__ = ["certificate_installation", "certificate_request"]

_R = m.ResponseCode
_PROVIDER_CODES = frozenset({_R.WARNING_CertificateValidationError, _R.FAILED_SignatureError})
"""The refusals of a provider the SECC passes on; anything else is 'no certificate available' for the EV."""


def certificate_request(req: m.CertificateInstallationReq, evcc_id: str | None) -> CertificateRequest:
    """What the certificate provider gets: the request's EXI document and who asks."""
    try:
        pcid = certificate_identity(req.oem_provisioning_certificate_chain.certificate).common_name
    except CertificateError:
        pcid = None  # the provider validates the chain and says what is wrong with it
    emaids = req.prioritized_emai_ds.emaid if req.prioritized_emai_ds is not None else ()
    return CertificateRequest(
        namespace=NS_ISO20_COMMON_MESSAGES,
        exi=encode_message(req),
        evcc_id=evcc_id,
        pcid=pcid,
        maximum_chains=req.maximum_contract_certificate_chains,
        prioritized_emaids=tuple(emaids),
    )


def _refusal(v: SeccView, code: m.ResponseCode, processing: m.Processing = m.Processing.Finished) -> Any:
    return minimal_instance(
        m.CertificateInstallationRes,
        override={
            "header": v.header,
            "response_code": code,
            "evse_processing": processing,
            "remaining_contract_certificate_chains": 0,
        },
    )


def _code(got: CertificateAnswer) -> m.ResponseCode:
    if got.response_code is not None and got.response_code in _PROVIDER_CODES:
        return m.ResponseCode(got.response_code)
    return _R.WARNING_NoCertificateAvailable


def certificate_installation(req: m.CertificateInstallationReq, v: SeccView) -> Decision:
    """CertificateInstallationReq: the provider's answer relayed (see the module docstring)."""
    if not v.config.certificate_installation:
        return fail(req, _R.FAILED_SequenceError, v, "CertificateInstallation was not offered [V2G20-1970]")
    if Input.CERTIFICATE not in v.inputs:
        return Need(Input.CERTIFICATE, certificate_request(req, v.ctx.evcc_id))
    got: CertificateAnswer = v.inputs.get(Input.CERTIFICATE)
    if got.status is CertificateStatus.PENDING:
        return answer(_refusal(v, _R.OK, m.Processing.Ongoing), v.ctx)  # the EV asks again [V2G20-1578]
    if got.status is not CertificateStatus.PROVIDED or got.exi is None:
        code = _code(got)
        note = Report(SessionReport(event="certificate_installation", detail=f"{code}: {got.detail}".rstrip(": ")))
        if code.startswith("FAILED"):
            return fail(req, code, v, got.detail)
        return answer(_refusal(v, code), replace(v.ctx, notes=(*v.ctx.notes, f"CertificateInstallation: {code}")), note)
    try:
        res = decode_as(got.exi, "iso20_common")
    except CodecError as exc:
        res = None
        why = f"the provider's response does not decode: {exc}"
    else:
        why = f"the provider answered {type(res).__name__}"
    if not isinstance(res, m.CertificateInstallationRes):
        note = Report(SessionReport(event="certificate_installation", detail=why))
        return answer(_refusal(v, _R.WARNING_NoCertificateAvailable), v.ctx, note)
    if v.pnc is not None:
        checked = v.pnc.verify_installation(res, v.now)
        if checked.code is not None:
            note = Report(SessionReport(event="certificate_installation", detail=f"{checked.code}: {checked.detail}"))
            if checked.code.startswith("FAILED"):
                return fail(req, checked.code, v, checked.detail)
            return answer(_refusal(v, checked.code), v.ctx, note)
    # This session's SessionID and time (the header is not signed), with the CPS's detached signature
    # [V2G20-117]; everything the CPS signed is relayed untouched.
    relayed = replace(res, header=replace(v.header, signature=res.header.signature))
    done = Report(SessionReport(event="certificate_installation", detail=f"{res.response_code} from the provider"))
    return answer(relayed, v.ctx, done)
